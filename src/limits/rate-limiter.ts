import {
  ServerHints,
  SlidingWindowLimiter,
  type WindowEntry,
  type WindowLimit,
} from './rate-window.js';
import type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
} from './types.js';

/** Why a request must wait, and until when (ms; `Infinity` = it can never fit). */
export type RateVerdict =
  | { ok: true }
  | { ok: false; retryAt: number; reason: 'window' | 'server'; window?: WindowLimit };

/** What one window holds now, for statistics. */
export interface WindowUsage {
  /** `undefined` for the global windows. */
  model: string | undefined;
  window: WindowLimit;
  requests: number;
  tokens: number;
}

/**
 * The state owned by the `rateLimit` actor: the global windows, each model's windows, and each
 * model's server hints, with every task's reservation so it can be reconciled with real usage.
 */
export class RateLimiter implements RateLimiterState {
  private global: SlidingWindowLimiter;
  private readonly models = new Map<string, SlidingWindowLimiter>();
  private readonly hints = new Map<string, ServerHints>();
  private readonly reservations = new Map<string, WindowEntry[]>();

  constructor(settings: RateLimitSettings) {
    this.global = new SlidingWindowLimiter(settings.windows);
    this.configure(settings);
  }

  /** True when any window or server hint could hold a request back. */
  get active(): boolean {
    return this.global.windows.length > 0 || this.models.size > 0 || this.hints.size > 0;
  }

  configure(settings: RateLimitSettings): void {
    this.global.setWindows(settings.windows);
    for (const [model, windows] of Object.entries(settings.models)) {
      const existing = this.models.get(model);
      if (existing) existing.setWindows(windows);
      else this.models.set(model, new SlidingWindowLimiter(windows));
    }
    for (const [model, limiter] of this.models) {
      if (!(model in settings.models)) limiter.setWindows([]);
    }
  }

  /** Whether `requests` and `tokens` for `model` fit every window and hint in force at `now`. */
  check(now: number, model: string, requests: number, tokens: number): RateVerdict {
    let verdict: RateVerdict = { ok: true };
    const consider = (next: RateVerdict): void => {
      if (next.ok) return;
      if (verdict.ok || next.retryAt > verdict.retryAt) verdict = next;
    };
    const g = this.global.check(now, requests, tokens);
    if (!g.ok) consider({ ok: false, retryAt: g.retryAt, reason: 'window', window: g.window });
    const m = this.models.get(model)?.check(now, requests, tokens);
    if (m && !m.ok) consider({ ok: false, retryAt: m.retryAt, reason: 'window', window: m.window });
    const h = this.hints.get(model)?.check(now, requests, tokens);
    if (h && !h.ok) consider({ ok: false, retryAt: h.retryAt, reason: 'server' });
    return verdict;
  }

  /** The window a request of this size can never fit, if any. */
  canEverFit(model: string, requests: number, tokens: number): WindowLimit | undefined {
    return (
      this.global.canEverFit(requests, tokens) ??
      this.models.get(model)?.canEverFit(requests, tokens)
    );
  }

  /** Running tasks whose reservation is not reconciled yet (0 once every call has ended). */
  get openReservations(): number {
    return this.reservations.size;
  }

  reserve(at: number, request: RateRequest): void {
    const entries = [this.global.take(at, request.requests, request.tokens)];
    const model = this.models.get(request.model);
    if (model) entries.push(model.take(at, request.requests, request.tokens));
    this.hints.get(request.model)?.take(request.requests, request.tokens);
    this.reservations.set(request.taskId, entries);
  }

  reconcile(taskId: string, actualTokens: number): void {
    const entries = this.reservations.get(taskId);
    if (entries === undefined) return;
    this.reservations.delete(taskId);
    const limiters = [this.global, ...this.models.values()];
    for (const entry of entries) {
      for (const limiter of limiters) limiter.reconcile(entry, actualTokens);
    }
  }

  applyHints(at: number, model: string, hints: RateLimitHintsData): void {
    let server = this.hints.get(model);
    if (server === undefined) {
      server = new ServerHints();
      this.hints.set(model, server);
    }
    server.apply(at, hints);
  }

  /** Every window's current load. */
  usage(now: number): WindowUsage[] {
    const out: WindowUsage[] = this.global
      .usage(now)
      .map((u) => ({ model: undefined, window: u.window, requests: u.requests, tokens: u.tokens }));
    for (const [model, limiter] of this.models) {
      for (const u of limiter.usage(now)) {
        out.push({ model, window: u.window, requests: u.requests, tokens: u.tokens });
      }
    }
    return out;
  }
}
