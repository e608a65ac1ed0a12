/**
 * Reads what an OpenAI-compatible server says about its limits in its response headers:
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` and `retry-after-ms` / `retry-after`.
 * Pure: the clock is a parameter, never read here. Only well-formed, finite values come out: a
 * header that is not one (or one that would put a wait past any date) is ignored.
 */

import { parseResetDuration } from './simulator/durations.js';
import type { RateLimitHints } from './types.js';

const NON_NEGATIVE_INTEGER = /^\d+$/;
const NON_NEGATIVE_DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
/**
 * The start of an HTTP date in any of its three forms (RFC 9110 §5.6.7): IMF-fixdate
 * `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
 * `Sun Nov  6 08:49:37 1994`. Guards `Date.parse`, which also accepts strings such as `-5`.
 */
const HTTP_DATE_START = /^[A-Za-z]{3,9},?\s/;
/** RFC 9110's obsolete asctime date form, which carries no zone. */
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * The longest duration a header can state: 100 years (of 365.25 days). A longer one is not a
 * wait but a malformed value, and is ignored. Below it every duration is passed on as stated
 * (a year is long but well formed): bounding a server's wait is the engine's `maxServerWait`.
 */
export const MAX_HEADER_DURATION_MS = 100 * 365.25 * 24 * 3_600_000;

/** The statuses whose `retry-after` / `retry-after-ms` is read (RFC 9110, RFC 6585). */
export const RETRY_AFTER_STATUSES: readonly number[] = [429, 503];

/**
 * `ms` when it is a duration a header may state: finite, not negative, at most
 * {@link MAX_HEADER_DURATION_MS}, and, when the clock is known, ending at a valid `Date`.
 */
function durationOrUndefined(ms: number | undefined, now: number | undefined): number | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_HEADER_DURATION_MS) {
    return undefined;
  }
  if (now !== undefined && Number.isFinite(now) && Number.isNaN(new Date(now + ms).getTime())) {
    return undefined;
  }
  return ms;
}

/** A count header (`x-ratelimit-limit-requests: 500`), or `undefined` when absent or malformed. */
function readCount(headers: Headers, name: string): number | undefined {
  const value = headers.get(name)?.trim();
  if (value === undefined || !NON_NEGATIVE_INTEGER.test(value)) return undefined;
  const count = Number(value);
  return Number.isSafeInteger(count) ? count : undefined;
}

/** A reset header in Go's duration notation (`6m0s`, `20ms`), in milliseconds. */
function readReset(headers: Headers, name: string, now: number | undefined): number | undefined {
  const value = headers.get(name);
  return value === null ? undefined : durationOrUndefined(parseResetDuration(value), now);
}

/** `retry-after-ms`: a non-negative number of milliseconds. */
function readRetryAfterMs(headers: Headers, now: number | undefined): number | undefined {
  const value = headers.get('retry-after-ms')?.trim();
  if (value === undefined || !NON_NEGATIVE_DECIMAL.test(value)) return undefined;
  return durationOrUndefined(Number(value), now);
}

/**
 * `retry-after`: seconds, or an HTTP date resolved against `now` (a date in the past means 0).
 * Without `now` the date form cannot be resolved and is ignored.
 */
function readRetryAfter(headers: Headers, now: number | undefined): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (NON_NEGATIVE_DECIMAL.test(value)) return durationOrUndefined(Number(value) * 1_000, now);
  if (now === undefined || !Number.isFinite(now) || !HTTP_DATE_START.test(value)) return undefined;
  // HTTP dates are GMT; the asctime form (`Sun Nov  6 08:49:37 1994`) does not say so, and
  // `Date.parse` would read it in the host's time zone.
  const at = Date.parse(ASCTIME.test(value) ? `${value} GMT` : value);
  return Number.isNaN(at) ? undefined : durationOrUndefined(Math.max(0, at - now), now);
}

/**
 * Reads a response's rate-limit headers into {@link RateLimitHints}, durations in milliseconds.
 *
 * - `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`, and the `-tokens` pair:
 *   non-negative integers;
 * - `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`: durations as OpenAI writes them
 *   (`1s`, `6m0s`, `20ms`), read by `parseResetDuration`;
 * - `retryAfterMs`: from `retry-after-ms` when it is valid, else from `retry-after` (seconds,
 *   or an HTTP date taken relative to `now`); only on a 429 or a 503 when `status` is given
 *   (a successful response's `retry-after` says nothing about waiting).
 *
 * Only the fields whose header is present and well formed are set: a malformed value is
 * ignored, never guessed, and the result has no `undefined` keys. A duration is well formed when
 * it is finite, not negative, at most {@link MAX_HEADER_DURATION_MS} (100 years), and `now` plus
 * it is a valid `Date`.
 *
 * @param headers the response's headers (also an SDK error's `headers`)
 * @param now the current time in epoch milliseconds, used for an HTTP-date `retry-after` and to
 * check that a wait ends at a valid date; when omitted, the date form is ignored
 * @param status the response's HTTP status; when given, `retry-after-ms` / `retry-after` are
 * read only if it is one of {@link RETRY_AFTER_STATUSES}
 * @example
 * parseRateLimitHeaders(new Headers({ 'x-ratelimit-reset-requests': '6m0s' }), 0)
 * // { resetRequestsMs: 360000 }
 */
export function parseRateLimitHeaders(
  headers: Headers,
  now?: number,
  status?: number,
): RateLimitHints {
  const hints: RateLimitHints = {};
  if (status === undefined || RETRY_AFTER_STATUSES.includes(status)) {
    const retryAfterMs = readRetryAfterMs(headers, now) ?? readRetryAfter(headers, now);
    if (retryAfterMs !== undefined) hints.retryAfterMs = retryAfterMs;
  }
  const limitRequests = readCount(headers, 'x-ratelimit-limit-requests');
  if (limitRequests !== undefined) hints.limitRequests = limitRequests;
  const remainingRequests = readCount(headers, 'x-ratelimit-remaining-requests');
  if (remainingRequests !== undefined) hints.remainingRequests = remainingRequests;
  const resetRequestsMs = readReset(headers, 'x-ratelimit-reset-requests', now);
  if (resetRequestsMs !== undefined) hints.resetRequestsMs = resetRequestsMs;
  const limitTokens = readCount(headers, 'x-ratelimit-limit-tokens');
  if (limitTokens !== undefined) hints.limitTokens = limitTokens;
  const remainingTokens = readCount(headers, 'x-ratelimit-remaining-tokens');
  if (remainingTokens !== undefined) hints.remainingTokens = remainingTokens;
  const resetTokensMs = readReset(headers, 'x-ratelimit-reset-tokens', now);
  if (resetTokensMs !== undefined) hints.resetTokensMs = resetTokensMs;
  return hints;
}
