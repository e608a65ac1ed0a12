/**
 * `waitForTask`'s bounds: a wait that ends early when its time runs out (on the manager's clock)
 * or when the caller's signal aborts. The task itself goes on either way.
 */

import type { Clock } from '../time/clock.js';

/** When a wait gives up. */
export interface WaitBounds {
  clock: Clock;
  /** Seconds; omitted: no time limit. */
  timeout?: number | undefined;
  /** Aborting it ends the wait with its reason. */
  signal?: AbortSignal | undefined;
  /** What the wait rejects with once `timeout` seconds have passed. */
  timedOut: (seconds: number) => Error;
}

/** Runs `wait` with a signal that aborts when the bounds are reached; cleans up after. */
export async function waitWithin<T>(
  wait: (signal: AbortSignal) => Promise<T>,
  { clock, timeout, signal, timedOut }: WaitBounds,
): Promise<T> {
  const controller = new AbortController();
  const timer =
    timeout === undefined
      ? undefined
      : clock.setTimeout(() => controller.abort(timedOut(timeout)), timeout * 1000);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await wait(controller.signal);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
