/**
 * What a rate window is and how the public options spell it: the {@link WindowLimit} definition,
 * the shorthands (`requestsPerMinute`, `requestsPerHour`, `tokensPerMinute`, `windows`) and their
 * resolution into windows with a pacing mode ({@link resolveWindows}), and the validation of
 * windows and amounts that `SlidingWindows` (`./rate-window.ts`) applies. Pure.
 */

import { AUTO_PACING_MIN_WINDOW_MS } from './pacing.js';

/**
 * One window: at most `requests` requests and `tokens` tokens in any span of `windowMs`. A
 * `paced` window also spreads its takes evenly over the window (see `./pacing.ts`): in each
 * limited dimension, one unit every `windowMs / limit` ms after a burst of
 * `max(1, ⌊0.05 × limit⌋)` units, on top of (never instead of) the sliding-window limit.
 */
export interface WindowLimit {
  /** Most requests in any `windowMs` span; `undefined` = no request limit. */
  requests?: number | undefined;
  /** Most tokens in any `windowMs` span; `undefined` = no token limit. */
  tokens?: number | undefined;
  /** Length of the window, in milliseconds (> 0). */
  windowMs: number;
  /** Spread takes evenly over the window; `undefined` = not paced. */
  paced?: boolean | undefined;
}

/** The usual ways of writing rate limits, as the public options spell them. */
export interface RateLimitShorthands {
  /** Requests per 60 s. */
  requestsPerMinute?: number | undefined;
  /** Requests per 3600 s. */
  requestsPerHour?: number | undefined;
  /** Tokens per 60 s. */
  tokensPerMinute?: number | undefined;
  /** Further windows of any length. */
  windows?: readonly WindowLimit[] | undefined;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * Which windows {@link resolveWindows} paces: `'auto'` those of at least a minute
 * ({@link AUTO_PACING_MIN_WINDOW_MS}), `true` all, `false` none.
 */
export type PacingMode = 'auto' | boolean;

/** Options of {@link resolveWindows}. */
export interface ResolveWindowsOptions {
  /** Which windows to pace (default `'auto'`); a window with its own `paced` keeps it. */
  pacing?: PacingMode | undefined;
}

/**
 * The windows the shorthands stand for: requests and tokens per minute share one 60 s window,
 * requests per hour make a 3600 s window, and explicit `windows` follow as given. Windows are
 * marked `paced: true` as `options.pacing` says (by default those of a minute or more), except
 * an explicit window with its own `paced`, which keeps it; an unpaced window gets no `paced`.
 */
export function resolveWindows(
  s: RateLimitShorthands,
  options: ResolveWindowsOptions = {},
): WindowLimit[] {
  const mode = options.pacing ?? 'auto';
  const pace = (w: WindowLimit): WindowLimit => {
    if (w.paced !== undefined) return w;
    const paced = mode === 'auto' ? w.windowMs >= AUTO_PACING_MIN_WINDOW_MS : mode;
    if (paced) w.paced = true;
    return w;
  };
  const out: WindowLimit[] = [];
  if (s.requestsPerMinute !== undefined || s.tokensPerMinute !== undefined) {
    const minute: WindowLimit = { windowMs: MINUTE_MS };
    if (s.requestsPerMinute !== undefined) minute.requests = s.requestsPerMinute;
    if (s.tokensPerMinute !== undefined) minute.tokens = s.tokensPerMinute;
    out.push(pace(minute));
  }
  if (s.requestsPerHour !== undefined) {
    out.push(pace({ requests: s.requestsPerHour, windowMs: HOUR_MS }));
  }
  for (const w of s.windows ?? []) out.push(pace({ ...w }));
  return out;
}

/** Throws a `RangeError` unless `value` (named `name` in the message) is a finite number ≥ 0. */
export function assertAmount(name: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
}

/**
 * A frozen copy of `w` with only the fields it sets; throws a `RangeError` when its length is not
 * a finite number > 0 or a limit is not a finite number ≥ 0.
 */
export function normalizeWindow(w: WindowLimit): WindowLimit {
  if (!(w.windowMs > 0) || !Number.isFinite(w.windowMs)) {
    throw new RangeError(`windowMs must be a finite number > 0, got ${w.windowMs}`);
  }
  const out: WindowLimit = { windowMs: w.windowMs };
  if (w.paced !== undefined) out.paced = w.paced;
  if (w.requests !== undefined) {
    assertAmount('requests limit', w.requests);
    out.requests = w.requests;
  }
  if (w.tokens !== undefined) {
    assertAmount('tokens limit', w.tokens);
    out.tokens = w.tokens;
  }
  return Object.freeze(out);
}

/** Whether `a` and `b` limit the same amounts over the same length (pacing aside). */
export function sameLimits(a: WindowLimit, b: WindowLimit): boolean {
  return a.windowMs === b.windowMs && a.requests === b.requests && a.tokens === b.tokens;
}
