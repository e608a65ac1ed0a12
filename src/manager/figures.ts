/**
 * The manager's figures besides `getStatistics`: `stats$` (the statistics read at most once per
 * interval while something happens, throttled on the manager's clock, and once more, at once,
 * when a `stop()` has finished), the cost controller's, and the waiting line's status.
 */

import {
  concatMap,
  filter,
  from,
  merge,
  type Observable,
  type SchedulerLike,
  Subject,
  share,
  takeUntil,
  throttleTime,
} from 'rxjs';
import { zeroStatusCounts } from '../../machines/task-status.js';
import type { Engine } from '../runtime/engine.js';
import type { EngineEvent } from '../runtime/events.js';
import type { StatsCollector } from '../stats/collector.js';
import { buildStatistics } from '../stats/statistics.js';
import type { Statistics } from '../stats/types.js';
import type { TaskTypeRegistry } from '../task-types/types.js';
import type { Clock } from '../time/clock.js';
import { clockScheduler } from '../time/scheduler.js';
import type { CostController, QueueStatus } from './types.js';

/** `stats$`, and what drives it besides the events: the start, and the end of a `stop()`. */
export class StatsFeed {
  /** The statistics, at most once per `intervalMs`, while something happens. */
  readonly stats$: Observable<Statistics>;
  private readonly ticks = new Subject<void>();
  /** Emits once, when a `stop()` has finished: `stats$` then gives its last figures. */
  private readonly stops = new Subject<void>();

  /** @param read reads the statistics (`getStatistics`) */
  constructor(
    events$: Observable<EngineEvent>,
    intervalMs: number,
    clock: Clock,
    read: () => Promise<Statistics>,
  ) {
    const scheduler: SchedulerLike = clockScheduler(clock);
    // Events and the start are throttled; the stop is told at once, outside the throttle (told
    // through it, it could come `statsIntervalMs` late, on a timer that does not hold the process
    // open), and nothing throttled follows the stop's figures.
    const throttled = merge(
      events$.pipe(filter((event) => event.type !== 'queue.stopped')),
      this.ticks,
    ).pipe(
      throttleTime(intervalMs, scheduler, { leading: true, trailing: true }),
      takeUntil(this.stops),
    );
    this.stats$ = merge(throttled, this.stops).pipe(
      concatMap(() => from(read())),
      share(),
    );
  }

  /** The figures changed without an event (the start). */
  tick(): void {
    this.ticks.next();
  }

  /** A `stop()` has finished. */
  stopped(): void {
    this.stops.next();
  }
}

/** The seed's `cost_controller` of a manager; `estimateCost` is the manager's. */
export function costControllerOf<R extends TaskTypeRegistry>(
  engine: Engine,
  collector: StatsCollector,
  estimateCost: CostController<R>['estimateCost'],
): CostController<R> {
  return {
    resetTotalCost: () => engine.resetTotalCost(),
    getCosts: () => {
      const { total, daily, hourly } = buildStatistics(engine, collector, zeroStatusCounts()).cost;
      return { total, daily, hourly };
    },
    estimateCost,
  };
}

/** What `getQueueStatus` returns: the waiting line's size and shape. */
export function queueStatusOf(engine: Engine): QueueStatus {
  const totalSize = engine.waitingCount;
  const maxSize = engine.currentSettings.maxQueueSize;
  return {
    totalSize,
    maxSize,
    isFull: totalSize >= maxSize,
    isEmpty: totalSize === 0,
    byPriority: engine.waitingByPriority(),
    running: engine.runningCount,
  };
}
