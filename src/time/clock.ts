/**
 * The one source of time for the whole queue. Every machine, limiter and statistic reads time
 * from an injected `Clock`; nothing calls `Date.now()` or `setTimeout` directly.
 *
 * XState's `SimulatedClock` satisfies this interface, so tests run on virtual time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (or since an arbitrary origin, for a simulated clock). */
  now(): number;
  /**
   * Milliseconds on a clock that never jumps (sub-millisecond where the platform has it), on the
   * same scale as `now()` but not the same origin once the wall clock was set. The rate windows
   * run on it; a clock without one (XState's `SimulatedClock`) is read through `now()`
   * (see {@link monotonicNow}).
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A source of uniformly distributed numbers in [0, 1). Injected so that jitter is reproducible. */
export type RandomSource = () => number;

/** Node's longest timer delay (2^31 − 1 ms, ~24.8 days); a longer one would fire after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A timer longer than Node's longest, run as a chain of the longest. */
class LongTimer {
  timer: NodeJS.Timeout | undefined;
  constructor(fn: () => void, ms: number) {
    this.arm(fn, ms);
  }
  private arm(fn: () => void, left: number): void {
    const step = Math.min(left, MAX_TIMER_MS);
    this.timer = setTimeout(() => (left > step ? this.arm(fn, left - step) : fn()), step);
    this.timer.unref?.();
  }
}

/** The monotonic reading of `clock`, or its `now()` when it has none. */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic === undefined ? clock.now() : clock.monotonic();
}

/** The wall time (`clock.now()` scale) of a monotonic reading `mono` taken on `clock`. */
export function wallOfMonotonic(clock: Clock, mono: number): number {
  return mono + (clock.now() - monotonicNow(clock));
}

/** The monotonic reading on `clock` of a wall time `wall` (a stored time read back). */
export function monotonicOfWall(clock: Clock, wall: number): number {
  return wall - (clock.now() - monotonicNow(clock));
}

/**
 * The real clock: wall time, a monotonic reading (`performance.timeOrigin + performance.now()`:
 * the wall time at process start plus a sub-millisecond elapsed time that never jumps) and
 * Node's timers (which run on elapsed time too). The only place the library reads real time.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => {
    if (ms > MAX_TIMER_MS) return new LongTimer(fn, ms);
    const handle = setTimeout(fn, ms);
    // A pending wake-up must never keep the process alive on its own.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) =>
    clearTimeout(handle instanceof LongTimer ? handle.timer : (handle as NodeJS.Timeout)),
};

/** The real random source. */
export const systemRandom: RandomSource = Math.random;

/**
 * A deterministic random source (mulberry32) for tests, simulations and benchmarks.
 * @example const random = seededRandom(42);
 */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
