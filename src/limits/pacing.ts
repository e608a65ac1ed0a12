/**
 * Pacing for sliding windows: a window marked `paced` spreads its takes evenly over the window
 * instead of letting its whole limit go at once. Each limited dimension (requests, tokens) of a
 * paced window is a GCRA bucket (virtual scheduling): one unit is worth an emission interval of
 * `windowMs / limit` milliseconds, and a small burst of {@link burstAllowance} units may go
 * back to back. Pure and clock-free, like the windows: times are in milliseconds and may be
 * fractional.
 */

import type { WindowLimit } from './window-limits.js';

/** Share of a paced window's limit that may go back to back (see {@link burstAllowance}). */
export const PACING_BURST_FRACTION = 0.05;

/** `resolveWindows` in `'auto'` mode paces the windows at least this long (one minute). */
export const AUTO_PACING_MIN_WINDOW_MS = 60_000;

/**
 * The units of a paced dimension that may go back to back: `max(1, ⌊0.05 × limit⌋)`, so a paced
 * `--rpm 120` lets 6 requests go at once, then one every 500 ms.
 */
export function burstAllowance(limit: number): number {
  return Math.max(1, Math.floor(PACING_BURST_FRACTION * limit));
}

/**
 * One dimension of a paced window, as an immutable value. `tat` is the theoretical arrival time:
 * the backlog at `t` is `max(0, tat − t)`; a take of `cost` units may go when the backlog is at
 * most `max(0, burst − cost) × interval` (so a take larger than the burst goes once the backlog
 * is 0), and moves `tat` to `max(tat, t) + cost × interval`.
 */
export interface PaceBucket {
  /** Milliseconds one unit is worth: `windowMs / limit`. */
  readonly interval: number;
  /** Units that may go back to back: {@link burstAllowance} of the limit. */
  readonly burst: number;
  /** Theoretical arrival time (ms); `-Infinity` before the first take. */
  readonly tat: number;
}

/**
 * An empty bucket for `limit` units per `windowMs`, or `undefined` when the dimension has no
 * limit, or a limit of 0 (nothing above 0 ever fits it: the sliding window refuses it forever).
 */
export function paceBucket(limit: number | undefined, windowMs: number): PaceBucket | undefined {
  if (limit === undefined || !(limit > 0)) return undefined;
  return Object.freeze({
    interval: windowMs / limit,
    burst: burstAllowance(limit),
    tat: Number.NEGATIVE_INFINITY,
  });
}

/**
 * The earliest time a take of `cost` units may go: `tat − max(0, burst − cost) × interval`.
 * A take that costs nothing in this dimension is not held back by it (`-Infinity`). A take may go
 * at `t` exactly when `t ≥` this time; `check` and its `retryAt` both use this one value, so a
 * take refused until `retryAt` is allowed at `retryAt` whatever the rounding.
 */
export function paceReadyAt(bucket: PaceBucket | undefined, cost: number): number {
  if (bucket === undefined || !(cost > 0)) return Number.NEGATIVE_INFINITY;
  return bucket.tat - Math.max(0, bucket.burst - cost) * bucket.interval;
}

/** The bucket after a take of `cost` units at `t`: `tat = max(tat, t) + cost × interval`. */
export function paceTake(bucket: PaceBucket, t: number, cost: number): PaceBucket {
  if (!(cost > 0)) return bucket;
  return Object.freeze({
    interval: bucket.interval,
    burst: bucket.burst,
    tat: Math.max(bucket.tat, t) + cost * bucket.interval,
  });
}

/** The bucket with `tat` moved to `tat` (the same value when it does not move). */
export function paceWithTat(bucket: PaceBucket, tat: number): PaceBucket {
  return tat === bucket.tat
    ? bucket
    : Object.freeze({ interval: bucket.interval, burst: bucket.burst, tat });
}

/** The cost of one task in each dimension, for {@link pacedWindowMinimumMs}. */
export interface TaskCost {
  requests: number;
  tokens: number;
}

/**
 * How long `n` equal takes of `costPerTask` (default: one request, no tokens) need under one
 * window: the time from the first start to the last, when each goes as soon as the window allows
 * (what the CLI's ETA counts). For each limited dimension with a cost `c > 0` and a limit `L`
 * over `W` ms:
 *
 * - unpaced: `⌊(n − 1) / ⌊L / c⌋⌋ × W` (⌊L / c⌋ takes at the start of each window); for unit
 *   requests, `⌊(n − 1) / R⌋ × W`;
 * - paced: `(n × c − max(B, c)) / L × W` with the burst `B` ({@link burstAllowance}): the burst
 *   goes at once, then one take every `c` emission intervals; and never less than the unpaced
 *   figure (the sliding window still holds). For unit requests, `(n − B) / R × W`.
 *
 * The larger of the two dimensions decides; `0` for `n ≤ 1`, and `Infinity` when one take costs
 * more than a limit (it never fits). A lower bound of the makespan's start part: no admission
 * can start the last take sooner. (Issue 15's makespan target, `(n − 1) / R × W`, is above it.)
 */
export function pacedWindowMinimumMs(
  n: number,
  window: WindowLimit,
  costPerTask: TaskCost = { requests: 1, tokens: 0 },
): number {
  if (!(n > 1)) return 0;
  const dimension = (limit: number | undefined, cost: number): number => {
    if (limit === undefined || !(cost > 0)) return 0;
    if (cost > limit) return Number.POSITIVE_INFINITY;
    const windowed = Math.floor((n - 1) / Math.floor(limit / cost)) * window.windowMs;
    if (window.paced !== true) return windowed;
    const paced =
      (Math.max(0, n * cost - Math.max(burstAllowance(limit), cost)) * window.windowMs) / limit;
    return Math.max(windowed, paced);
  };
  return Math.max(
    dimension(window.requests, costPerTask.requests),
    dimension(window.tokens, costPerTask.tokens),
  );
}
