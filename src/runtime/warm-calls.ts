/**
 * Which calls may reach the server late: a call that needs a new connection (the process's first
 * calls of a model, more calls at once than the model had connections for, or the first calls
 * after the pooled connections idled out) waits for the connection before its request leaves, so
 * it can arrive long after its send plus the window margin. Such a call is *cold*: a window
 * learned from the provider's headers counts it from its answer, the one time its arrival is
 * known to have come before (see `RateLimiter.reconcile`). A guess from outside the HTTP client,
 * which does not show its pool: per model, the most calls in flight at once since its last
 * answer-free pause of {@link KEEP_ALIVE_MS} (the connections they opened stay in the pool; after
 * such a pause only those still in use are). Per model, though the pool is per origin: a model
 * whose calls could reuse another's connections is taken as cold, which only counts more.
 * A call sent while a cold one is still in flight is cold too: the server may still be busy with
 * that burst (a process's first requests, its own cold start), and counts what arrives meanwhile
 * late.
 */

/** How long a pooled connection is taken to stay open without a call (undici's default). */
export const KEEP_ALIVE_MS = 4_000;

interface ModelCalls {
  /** Calls in flight (sent, not ended). */
  inFlight: number;
  /** The most in flight at once since the last pause: connections the pool may hold. */
  peak: number;
  /** Cold calls in flight. */
  cold: number;
  /** When a call last ended (its connection went back to the pool); on the windows' clock. */
  lastEndedAt: number;
}

export class WarmCalls {
  private readonly models = new Map<string, ModelCalls>();

  /** Whether a call of `model` has ended in this process. */
  answered(model: string): boolean {
    return Number.isFinite(this.models.get(model)?.lastEndedAt ?? Number.NaN);
  }

  /** A call of `model` leaves at `now`; true when it is cold (see the module's comment). */
  sent(model: string, now: number): boolean {
    let calls = this.models.get(model);
    if (calls === undefined) {
      calls = { inFlight: 0, peak: 0, cold: 0, lastEndedAt: Number.NEGATIVE_INFINITY };
      this.models.set(model, calls);
    }
    // No call ended for longer than a connection stays open idle: only those in use are left.
    if (now - calls.lastEndedAt > KEEP_ALIVE_MS) calls.peak = calls.inFlight;
    const cold = calls.inFlight >= calls.peak || calls.cold > 0;
    calls.inFlight += 1;
    if (calls.inFlight > calls.peak) calls.peak = calls.inFlight;
    if (cold) calls.cold += 1;
    return cold;
  }

  /**
   * A call of `model` sent earlier ended at `now` (answered, failed or given up on); `cold`: what
   * `sent` said of it.
   */
  ended(model: string, now: number, cold: boolean): void {
    const calls = this.models.get(model);
    if (calls === undefined) return;
    calls.inFlight = Math.max(0, calls.inFlight - 1);
    if (cold) calls.cold = Math.max(0, calls.cold - 1);
    calls.lastEndedAt = now;
  }
}
