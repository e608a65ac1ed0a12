/**
 * Windows learned from a provider's headers, for a model the queue has no limit configured for
 * (or a lower one than the provider's): `x-ratelimit-limit-requests` / `-tokens` give the limit,
 * and the `x-ratelimit-reset-*` times give the window's length: the longest reset seen, rounded
 * up to a whole second. A reset is read after the answer's trip back, so it under-states the
 * window by that much; rounding up covers a trip of under a second (a 1 s window read as 950 ms
 * is learned as 1 s, a minute read as 59.9 s as 60 s), where the raw reset would let a burst
 * through just before the server's window frees. A wait a learned window imposes is the
 * provider's (`waitingFor: 'server'`), bounded by `maxServerWait` like any other server wait.
 * They only ever add a constraint, so they can only
 * lower what the configured windows allow, and they are forgotten after
 * {@link LEARNED_WINDOW_LIFETIMES} window lengths without a header that states them. An
 * immutable value, like the rest of the `rateLimit` actor's state.
 */

import { SlidingWindows, type WindowVerdict } from './rate-window.js';
import type { RateLimitHintsData, SentRequest } from './types.js';
import type { WindowLimit } from './window-limits.js';

/** A learned window is forgotten after this many of its lengths without a header stating it. */
export const LEARNED_WINDOW_LIFETIMES = 10;

/** A window length for a reset of `resetMs`: rounded up to a whole second, at least 1 s. */
export function windowLengthFor(resetMs: number): number {
  return Math.max(1_000, Math.ceil(resetMs / 1_000) * 1_000);
}

interface Learned {
  readonly limit: number;
  readonly windowMs: number;
  /** When a header last stated it (ms). */
  readonly seenAt: number;
  /** When it was first learned (ms): the log holds every take since. */
  readonly since: number;
}

function learn(
  previous: Learned | undefined,
  at: number,
  limit: number | undefined,
  resetMs: number | undefined,
): Learned | undefined {
  const live = previous !== undefined && !expired(previous, at) ? previous : undefined;
  if (limit === undefined || resetMs === undefined) return live;
  if (!Number.isFinite(limit) || limit < 1 || !Number.isFinite(resetMs) || resetMs < 0) return live;
  const windowMs = Math.max(live?.windowMs ?? 0, windowLengthFor(resetMs));
  return Object.freeze({
    limit: Math.floor(limit),
    windowMs,
    seenAt: at,
    since: live?.since ?? at,
  });
}

function expired(learned: Learned, now: number): boolean {
  return now > learned.seenAt + LEARNED_WINDOW_LIFETIMES * learned.windowMs;
}

export class LearnedWindows {
  static readonly NONE = new LearnedWindows(undefined, undefined, SlidingWindows.of([]));

  private constructor(
    private readonly requests: Learned | undefined,
    private readonly tokens: Learned | undefined,
    /** The takes since the first header, in the learned windows. */
    private readonly log: SlidingWindows,
  ) {}

  /** The windows in force (for statistics and tests). */
  get windows(): readonly WindowLimit[] {
    return this.log.windows;
  }

  /** Sequence number the next take gets. */
  get nextSeq(): number {
    return this.log.nextSeq;
  }

  /** What the headers of an answer at `at` teach; the same value when they teach nothing new. */
  learn(at: number, hints: RateLimitHintsData): LearnedWindows {
    const requests = learn(this.requests, at, hints.limitRequests, hints.resetRequestsMs);
    const tokens = learn(this.tokens, at, hints.limitTokens, hints.resetTokensMs);
    if (requests === this.requests && tokens === this.tokens) return this;
    const windows: WindowLimit[] = [];
    if (requests !== undefined)
      windows.push({ requests: requests.limit, windowMs: requests.windowMs });
    if (tokens !== undefined) windows.push({ tokens: tokens.limit, windowMs: tokens.windowMs });
    const same =
      windows.length === this.log.windows.length &&
      windows.every(
        (w, i) =>
          w.requests === this.log.windows[i]?.requests &&
          w.tokens === this.log.windows[i]?.tokens &&
          w.windowMs === this.log.windows[i]?.windowMs,
      );
    return new LearnedWindows(requests, tokens, same ? this.log : this.log.withWindows(windows));
  }

  /**
   * Whether a request fits the learned windows still in force at `now`. A request larger than a
   * learned token limit is checked as if it were that limit: a learned window is a guess, and
   * only the server can say that a request never fits.
   */
  check(now: number, requests: number, tokens: number): WindowVerdict {
    if (!this.inForce(now)) return { ok: true };
    const capped = this.tokens === undefined ? tokens : Math.min(tokens, this.tokens.limit);
    return this.log.check(now, requests, capped);
  }

  /** Whether a learned window is in force at `now`. */
  inForce(now: number): boolean {
    const live = (l: Learned | undefined) => l !== undefined && !expired(l, now);
    return live(this.requests) || live(this.tokens);
  }

  /**
   * The same windows with the calls in `sends` taken, in the order they were sent, each counting
   * from its send plus `marginMs`: the calls in flight when a window is first learned went out
   * before it, and the server counts them. `taken(send, seq)` hears which take each got.
   */
  seed(
    sends: readonly SentRequest[],
    marginMs: number,
    taken?: (send: SentRequest, seq: number) => void,
  ): LearnedWindows {
    let windows: LearnedWindows = this;
    for (const sent of [...sends].sort((a, b) => a.at - b.at)) {
      taken?.(sent, windows.nextSeq);
      windows = windows.sent(sent.at, sent.tokens, marginMs);
    }
    return windows;
  }

  /**
   * The same windows with their log known to hold every call the process has sent the model:
   * learned from its first answer, with every call then in flight taken. `sentIn` then counts
   * from the start instead of after a whole window length.
   */
  complete(): LearnedWindows {
    const whole = (l: Learned | undefined) =>
      l === undefined ? l : Object.freeze({ ...l, since: Number.NEGATIVE_INFINITY });
    return new LearnedWindows(whole(this.requests), whole(this.tokens), this.log);
  }

  /**
   * The same windows with a call sent at `at` taken, counting from `at + marginMs`: taken at `at`
   * and moved later (`restamp`), so the log's latest time never runs ahead of the clock (a check
   * reads the windows at the latest time it has seen).
   */
  sent(at: number, tokens: number, marginMs: number): LearnedWindows {
    return this.take(at, 1, tokens).restamp(this.nextSeq, at + marginMs);
  }

  /** The same windows with a request taken at `at` (numbered {@link nextSeq}). */
  take(at: number, requests: number, tokens: number): LearnedWindows {
    return new LearnedWindows(this.requests, this.tokens, this.log.take(at, requests, tokens));
  }

  /** Take `seq` counts from `at` on, if that is later than it counted from. */
  restamp(seq: number, at: number): LearnedWindows {
    const log = this.log.restamp(seq, at);
    return log === this.log ? this : new LearnedWindows(this.requests, this.tokens, log);
  }

  /**
   * What this process sent in each learned window at `now` (requests in the request window,
   * tokens in the token window); `undefined` for a dimension with no learned window, or one
   * learned less than a window ago (the log holds only the takes since it was learned, and the
   * server's window may still hold older ones).
   */
  sentIn(now: number): { requests: number | undefined; tokens: number | undefined } {
    const whole = (l: Learned | undefined) => l !== undefined && now >= l.since + l.windowMs;
    let requests: number | undefined;
    let tokens: number | undefined;
    for (const load of this.log.usage(now)) {
      if (load.window.requests !== undefined && whole(this.requests)) requests = load.requests;
      if (load.window.tokens !== undefined && whole(this.tokens)) tokens = load.tokens;
    }
    return { requests, tokens };
  }

  /** The same windows with take `seq` reconciled to the tokens it really used. */

  reconcile(seq: number, actualTokens: number): LearnedWindows {
    // A provider's window counts what the request asked for (OpenAI: the prompt and `max_tokens`)
    // for the whole window, so a learned one gives back nothing; it counts more if more was used.
    const log = this.log.reconcileUp(seq, actualTokens);
    return log === this.log ? this : new LearnedWindows(this.requests, this.tokens, log);
  }
}
