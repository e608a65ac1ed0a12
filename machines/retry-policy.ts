/**
 * Pure retry arithmetic of the task machine (and of anyone who wants its delays).
 * No imports, no clock: the caller passes the jitter sample drawn from the injected random source.
 */

/** Retry settings of one task, in the units of the public API (seconds). */
export interface RetrySettings {
  /** Retries after the first attempt for timeouts, 5xx, connection errors and invalid answers. */
  maxRetries: number;
  /** Times a 429 may put the task back without using up a retry. */
  maxRateLimitRetries: number;
  /** Base delay in seconds: attempt n waits up to `retryDelay × 2^(n−1)`. */
  retryDelay: number;
  /** Cap of the exponential delay, in seconds. */
  maxRetryDelay: number;
}

/**
 * Full-jitter exponential backoff: `jitter × min(maxRetryDelay, retryDelay × 2^(attempt−1))`
 * seconds, in milliseconds. A server's `retryAfterMs` wins when given.
 * @param attempt the attempt that just failed, from 1
 * @param jitter a sample in [0, 1)
 */
export function retryDelayMs(
  settings: Pick<RetrySettings, 'retryDelay' | 'maxRetryDelay'>,
  attempt: number,
  jitter: number,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.ceil(retryAfterMs);
  }
  return Math.floor(clampUnit(jitter) * backoffCeilingSeconds(settings, attempt) * 1000);
}

/** Largest exponent worth computing: 2^1023 is the largest finite power of two. */
const MAX_EXPONENT = 1023;

/** The most attempt `attempt` may wait, in seconds: `min(maxRetryDelay, retryDelay × 2^(n−1))`. */
export function backoffCeilingSeconds(
  settings: Pick<RetrySettings, 'retryDelay' | 'maxRetryDelay'>,
  attempt: number,
): number {
  const exponent = Math.min(MAX_EXPONENT, Math.max(0, Math.floor(attempt) - 1));
  const base = Math.max(0, settings.retryDelay);
  const cap = Math.max(0, settings.maxRetryDelay);
  return Math.min(cap, base * 2 ** exponent);
}

/** A jitter sample outside [0, 1] (or NaN) is clamped into it. */
function clampUnit(sample: number): number {
  if (!(sample > 0)) return 0;
  return Math.min(sample, 1);
}
