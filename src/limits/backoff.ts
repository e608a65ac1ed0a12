/**
 * Retry delays: exponential backoff with full jitter, unless the server said when to come back.
 * Pure arithmetic; the random source is injected so delays are reproducible in tests. The formula
 * itself lives in `machines/retry-policy.ts`, where the task machine uses it: these are its
 * forms for callers that hold a random source rather than a sample.
 */
import {
  backoffCeilingSeconds,
  retryDelayMs as retryDelayFor,
} from '../../machines/retry-policy.js';

/**
 * Full-jitter exponential backoff, in milliseconds:
 * `floor(random() × min(maxRetryDelay, retryDelay × 2^(attempt−1)) × 1000)`.
 *
 * The result always lies in `[0, min(maxRetryDelay, retryDelay × 2^(attempt−1)) × 1000]`: a
 * sample outside `[0, 1]` (or `NaN`) is clamped into it.
 *
 * @param attempt the attempt that just failed, from 1 (values below 1 count as 1)
 * @param retryDelaySeconds base delay, in seconds
 * @param maxRetryDelaySeconds cap of the exponential delay, in seconds
 * @param random uniform source in [0, 1)
 */
export function backoffDelayMs(
  attempt: number,
  retryDelaySeconds: number,
  maxRetryDelaySeconds: number,
  random: () => number,
): number {
  const settings = { retryDelay: retryDelaySeconds, maxRetryDelay: maxRetryDelaySeconds };
  return retryDelayFor(settings, attempt, random());
}

/** What {@link retryDelayMs} needs to know about one retry. */
export interface RetryDelayOptions {
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** Base delay, in seconds. */
  retryDelay: number;
  /** Cap of the exponential delay, in seconds. */
  maxRetryDelay: number;
  /** What the server asked for (`Retry-After`, `retry-after-ms`), in milliseconds. */
  retryAfterMs?: number | undefined;
  /** Uniform source in [0, 1), for the jitter. */
  random: () => number;
}

/**
 * How long to wait before the next attempt, in milliseconds. A server's `retryAfterMs` wins when
 * it is given (a finite number ≥ 0, rounded up to a whole millisecond) and is not capped by
 * `maxRetryDelay`: the server knows when it will accept the call. Otherwise
 * {@link backoffDelayMs}. `random` is only drawn from when the backoff is used.
 */
export function retryDelayMs(opts: RetryDelayOptions): number {
  const { retryAfterMs } = opts;
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.ceil(retryAfterMs);
  }
  return backoffDelayMs(opts.attempt, opts.retryDelay, opts.maxRetryDelay, opts.random);
}

export { backoffCeilingSeconds };
