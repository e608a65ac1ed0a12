/**
 * Turns what ioredis throws into the library's {@link StoreError}: the `reason` says what went
 * wrong (the server cannot be reached, it is out of memory, it is a read-only replica…) and the
 * message what to do about it.
 */

import { StoreError, type StoreErrorReason, TaskQueueError } from '../errors.js';

/** The server as errors name it: the URL without its password, and the key prefix. */
export function describeLocation(url: string, prefix: string): string {
  let shown = url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    shown = parsed.toString().replace(/\/$/, '');
  } catch {
    // Not a URL: the text as given (the options check rejects it before any connection).
  }
  return `${shown} (prefix '${prefix}')`;
}

const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|EPIPE|Connection is closed|connect ETIMEDOUT|max retries per request|Stream isn't writeable|enableOfflineQueue|Command timed out/i;

/**
 * The {@link StoreError} for `error`, thrown while the store at `location` did `action` (`open`,
 * `commit`…). Errors of the library's tree (a `ValidationError` of a write) pass through.
 */
export function toRedisStoreError(
  error: unknown,
  location: string,
  action: string,
  what: RedisUse = 'task store',
): TaskQueueError {
  if (error instanceof TaskQueueError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const where = `the Redis ${what} at ${location}`;
  const make = (reason: StoreErrorReason, message: string) =>
    new StoreError(`${message} (${action}: ${detail})`, reason, location, { cause: error });
  if (/^(NOAUTH|WRONGPASS|NOPERM)/.test(detail)) {
    return make(
      'unreachable',
      `${where} refused the credentials: check the URL's user and password`,
    );
  }
  if (/^OOM/.test(detail)) {
    return make('full', `${where} is out of memory (maxmemory reached); nothing was written`);
  }
  if (/^READONLY/.test(detail)) {
    return make('read-only', `${where} is a read-only replica: connect to the primary`);
  }
  if (UNREACHABLE.test(detail)) {
    return make('unreachable', `${where} cannot be reached: is the server running?`);
  }
  return make('io', `${where} failed to ${action}`);
}

/** What a connection is for, as errors name it. */
export type RedisUse = 'task store' | 'shared limits' | 'shared queue';

/** The error of every call made after `close()`. */
export function closedError(
  location: string,
  operation: string,
  what: RedisUse = 'task store',
): StoreError {
  return new StoreError(
    `the Redis ${what} at ${location} is closed; cannot ${operation}`,
    'closed',
    location,
  );
}

/** The error of a write refused because another process holds the store now. */
export function leaseLostError(location: string, operation: string): StoreError {
  return new StoreError(
    `the Redis task store at ${location} is held by another process now (this one's lease ran out, a stall longer than leaseMs?); cannot ${operation}, nothing was written`,
    'locked',
    location,
  );
}
