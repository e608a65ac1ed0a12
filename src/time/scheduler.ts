import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';
import type { Clock } from './clock.js';

/** One scheduled piece of work, re-schedulable as RxJS operators expect. */
class ClockAction<T> extends Subscription implements SchedulerAction<T> {
  private handle: unknown;
  private pending = false;

  constructor(
    private readonly clock: Clock,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => this.cancel());
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.cancel();
    this.pending = true;
    this.handle = this.clock.setTimeout(() => {
      this.pending = false;
      this.handle = undefined;
      if (!this.closed) this.work.call(this, state);
    }, delay);
    return this;
  }

  private cancel(): void {
    if (!this.pending) return;
    this.clock.clearTimeout(this.handle);
    this.pending = false;
    this.handle = undefined;
  }
}

/**
 * An RxJS scheduler on the injected clock: `throttleTime`, `interval` and friends then run on the
 * same time as the limits (virtual time in tests, with no extra wiring).
 */
export function clockScheduler(clock: Clock): SchedulerLike {
  return {
    now: () => clock.now(),
    schedule<T>(
      work: (this: SchedulerAction<T>, state?: T) => void,
      delay = 0,
      state?: T,
    ): Subscription {
      return new ClockAction(clock, work).schedule(state, delay);
    },
  };
}
