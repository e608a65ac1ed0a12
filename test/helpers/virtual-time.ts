import { SimulatedClock } from 'xstate';

/** Lets pending promise callbacks run (no time passes). */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A simulated clock that starts at a fixed date (2026-01-01T00:00:00Z) rather than 0. */
export function createClock(start = Date.UTC(2026, 0, 1)): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(start);
  return clock;
}

/**
 * Moves virtual time forward by `ms`, one millisecond-step at a time where timers are due, and
 * lets promise callbacks run after each step, so chains of timers and promises unfold in order.
 */
export async function advance(clock: SimulatedClock, ms: number, stepMs = 1): Promise<void> {
  const end = clock.now() + ms;
  await flush();
  while (clock.now() < end) {
    clock.increment(Math.min(stepMs, end - clock.now()));
    await flush();
  }
}

/** Advances time in steps until `done()` holds or `maxMs` passed. */
export async function advanceUntil(
  clock: SimulatedClock,
  done: () => boolean,
  maxMs = 600_000,
  stepMs = 10,
): Promise<void> {
  const end = clock.now() + maxMs;
  await flush();
  while (!done() && clock.now() < end) {
    clock.increment(stepMs);
    await flush();
  }
}
