/**
 * Waiting in real time for a condition, in the end-to-end tests (real processes, sockets,
 * Redis): what a test waits for, polled, with a clear failure naming it after `ms`.
 */

/** Resolves once `check` holds (polled every 10 ms); rejects naming `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
