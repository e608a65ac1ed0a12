/**
 * The simulator's own rate limits: one sliding window of requests and tokens, counted at request
 * time like OpenAI does (1 request; prompt tokens + the tokens reserved for the answer), at the
 * request's arrival stamp. A request taken at `t` counts while `now < t + windowMs`. Refused
 * requests are not recorded. Only `check` and `take`, at arrival stamps, forget what has left the
 * window; `snapshot` at a later time (an answer's headers) reads it without forgetting, so a
 * request that arrived earlier and is decided later still finds what was counted then.
 */

import type { SimulatorLimits } from './options.js';

/** Which limit refused a request. */
export type LimitKind = 'requests' | 'tokens';

/** Whether a request fits in the window now. */
export type LimitVerdict =
  | { ok: true }
  | {
      ok: false;
      kind: LimitKind;
      /** The limit that refused it. */
      limit: number;
      /** Already counted in the window. */
      used: number;
      /** What the request asked for (1, or its tokens). */
      requested: number;
      /** How long until it would fit; `Infinity` when it never can (more tokens than the limit). */
      retryAfterMs: number;
    };

/** The state of the window, as the `x-ratelimit-*` headers report it (durations in ms). */
export interface LimitSnapshot {
  requests?: { limit: number; remaining: number; resetMs: number };
  tokens?: { limit: number; remaining: number; resetMs: number };
}

/** Sliding-window request and token counter. Amortised O(1) per request. */
export class SimulatorRateLimits {
  private readonly at: number[] = [];
  private readonly tokens: number[] = [];
  private head = 0;
  private tokenSum = 0;

  constructor(private readonly limits: Omit<SimulatorLimits, 'perModel'>) {}

  /**
   * Whether one request of `tokens` tokens fits at `now`. When it does not, the verdict names the
   * limit that holds it back longest and waits until **both** would let it through (a client that
   * obeys `retry-after` gets no second 429 from the other limit); a request with more tokens than
   * the limit is refused as one that never fits, whatever the request count says.
   */
  check(tokens: number, now: number): LimitVerdict {
    this.prune(now);
    // Only what arrived by `now` counts: a request that arrived later but was decided first
    // (a shorter body, a quicker answer) is not in this one's window.
    let end = this.at.length;
    let sum = this.tokenSum;
    while (end > this.head && (this.at[end - 1] ?? 0) > now) {
      end--;
      sum -= this.tokens[end] ?? 0;
    }
    const byRequests = this.requestVerdict(now, end);
    const byTokens = this.tokenVerdict(tokens, now, end, sum);
    if (byTokens !== undefined && !Number.isFinite(byTokens.retryAfterMs)) return byTokens;
    if (byRequests !== undefined && byTokens !== undefined) {
      return byTokens.retryAfterMs > byRequests.retryAfterMs ? byTokens : byRequests;
    }
    return byRequests ?? byTokens ?? { ok: true };
  }

  private requestVerdict(
    now: number,
    end: number,
  ): Extract<LimitVerdict, { ok: false }> | undefined {
    const { requests: requestLimit, windowMs } = this.limits;
    const count = end - this.head;
    if (requestLimit === undefined || count + 1 <= requestLimit) return undefined;
    // The request fits once `count - requestLimit + 1` of the oldest entries have expired.
    const decisive = this.at[this.head + count - requestLimit] ?? now;
    return {
      ok: false,
      kind: 'requests',
      limit: requestLimit,
      used: count,
      requested: 1,
      retryAfterMs: Math.max(1, decisive + windowMs - now),
    };
  }

  private tokenVerdict(
    tokens: number,
    now: number,
    end: number,
    sum: number,
  ): Extract<LimitVerdict, { ok: false }> | undefined {
    const { tokens: tokenLimit, windowMs } = this.limits;
    if (tokenLimit === undefined || sum + tokens <= tokenLimit) return undefined;
    let retryAfterMs = Number.POSITIVE_INFINITY;
    if (tokens <= tokenLimit) {
      let freed = 0;
      const needed = sum + tokens - tokenLimit;
      for (let i = this.head; i < end; i++) {
        freed += this.tokens[i] ?? 0;
        if (freed >= needed) {
          retryAfterMs = Math.max(1, (this.at[i] ?? now) + windowMs - now);
          break;
        }
      }
    }
    return {
      ok: false,
      kind: 'tokens',
      limit: tokenLimit,
      used: sum,
      requested: tokens,
      retryAfterMs,
    };
  }

  /**
   * Records one request of `tokens` tokens that arrived at `now` (check first). A request whose
   * body took longer to read than a later one's is recorded in its place, so the log stays in
   * arrival order.
   */
  take(tokens: number, now: number): void {
    this.prune(now);
    let index = this.at.length;
    while (index > this.head && (this.at[index - 1] ?? 0) > now) index--;
    if (index === this.at.length) {
      this.at.push(now);
      this.tokens.push(tokens);
    } else {
      this.at.splice(index, 0, now);
      this.tokens.splice(index, 0, tokens);
    }
    this.tokenSum += tokens;
  }

  /**
   * The headers' view at `now`: per configured limit, the limit, what remains, and how long
   * until the window is back to its initial state (every counted request expired).
   */
  snapshot(now: number): LimitSnapshot {
    const { requests, tokens, windowMs } = this.limits;
    // What has left the window by `now`, read without forgetting it (see the class comment).
    let first = this.head;
    let tokenSum = this.tokenSum;
    while (first < this.at.length && now >= (this.at[first] ?? 0) + windowMs) {
      tokenSum -= this.tokens[first] ?? 0;
      first++;
    }
    const newest = this.at[this.at.length - 1];
    const count = this.at.length - first;
    const resetMs = count === 0 || newest === undefined ? 0 : Math.max(0, newest + windowMs - now);
    const snapshot: LimitSnapshot = {};
    if (requests !== undefined) {
      snapshot.requests = { limit: requests, remaining: Math.max(0, requests - count), resetMs };
    }
    if (tokens !== undefined) {
      const remaining = Math.max(0, tokens - tokenSum);
      snapshot.tokens = { limit: tokens, remaining, resetMs: tokenSum === 0 ? 0 : resetMs };
    }
    return snapshot;
  }

  /** Forgets every counted request. */
  clear(): void {
    this.at.length = 0;
    this.tokens.length = 0;
    this.head = 0;
    this.tokenSum = 0;
  }

  private prune(now: number): void {
    const { windowMs } = this.limits;
    while (this.head < this.at.length && now >= (this.at[this.head] ?? 0) + windowMs) {
      this.tokenSum -= this.tokens[this.head] ?? 0;
      this.head++;
    }
    if (this.head === this.at.length) {
      this.clear();
    } else if (this.head > 1024 && this.head * 2 > this.at.length) {
      this.at.splice(0, this.head);
      this.tokens.splice(0, this.head);
      this.head = 0;
    }
  }
}
