import type { Observable, Subscription } from 'rxjs';
import type { Priority } from '../../machines/task-status.js';
import type { SerializedError } from '../errors.js';
import type { EngineEvent, EngineEventType } from '../runtime/events.js';

/** One second of the run: what finished, started and was spent in it. */
export interface SeriesPoint {
  /** The second's start, ms on the manager's clock. */
  t: number;
  started: number;
  completed: number;
  failed: number;
  retried: number;
  costUsd: number;
}

/** A task that failed, as the dashboard lists it. */
export interface RecentFailure {
  taskId: string;
  taskType: string;
  priority: Priority;
  /** ms on the manager's clock. */
  at: number;
  attempts: number;
  error: SerializedError | null;
}

/** What changed since the last `take()`. */
export interface FeedChanges {
  points: SeriesPoint[];
  failures: RecentFailure[];
  counts: Partial<Record<EngineEventType, number>>;
}

export interface FeedLimits {
  /** Seconds of history kept. @default 600 */
  points: number;
  /** Failures kept. @default 50 */
  failures: number;
}

const STEP_MS = 1000;

/**
 * What the dashboard keeps from `events$`, in O(1) per event: a per-second series of the last
 * `points` seconds, the last `failures` failures, and the count of each event type since the last
 * `take()`. Times are the events' own (`at`, the manager's clock).
 */
export class DashboardFeed {
  static readonly stepMs = STEP_MS;
  readonly #limits: FeedLimits;
  readonly #points: SeriesPoint[] = [];
  readonly #failures: RecentFailure[] = [];
  #changedPoints = new Set<SeriesPoint>();
  #newFailures: RecentFailure[] = [];
  #counts: Partial<Record<EngineEventType, number>> = {};
  #changed = false;
  readonly #subscription: Subscription;

  constructor(events$: Observable<EngineEvent>, limits: FeedLimits) {
    this.#limits = limits;
    this.#subscription = events$.subscribe((event) => this.#note(event));
  }

  /** Something happened since the last `take()`. */
  get changed(): boolean {
    return this.#changed;
  }

  /** The series, oldest first. */
  series(): SeriesPoint[] {
    return this.#points.map((p) => ({ ...p }));
  }

  /** The failures kept, newest first. */
  failures(): RecentFailure[] {
    return [...this.#failures];
  }

  /** What changed since the last call, and forgets it. */
  take(): FeedChanges {
    const points = [...this.#changedPoints].sort((a, b) => a.t - b.t).map((p) => ({ ...p }));
    const changes = { points, failures: this.#newFailures, counts: this.#counts };
    this.#changedPoints = new Set();
    this.#newFailures = [];
    this.#counts = {};
    this.#changed = false;
    return changes;
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }

  #note(event: EngineEvent): void {
    this.#changed = true;
    this.#counts[event.type] = (this.#counts[event.type] ?? 0) + 1;
    switch (event.type) {
      case 'task.started':
        this.#point(event.at).started++;
        break;
      case 'task.completed':
        this.#point(event.at).completed++;
        break;
      case 'task.failed': {
        this.#point(event.at).failed++;
        const failure: RecentFailure = {
          taskId: event.taskId,
          taskType: event.taskType,
          priority: event.priority,
          at: event.at,
          attempts: event.attempts,
          error: event.error ?? null,
        };
        this.#failures.unshift(failure);
        if (this.#failures.length > this.#limits.failures) this.#failures.pop();
        this.#newFailures.unshift(failure);
        if (this.#newFailures.length > this.#limits.failures) this.#newFailures.pop();
        break;
      }
      case 'task.retrying':
        this.#point(event.at).retried++;
        break;
      case 'task.usage':
        if (event.costMicros !== 0) this.#point(event.at).costUsd += event.costMicros / 1e6;
        break;
      default:
        break;
    }
  }

  /** The point of the second `at` falls in (a late event goes to the newest point). */
  #point(at: number): SeriesPoint {
    const t = Math.floor(at / STEP_MS) * STEP_MS;
    let last = this.#points[this.#points.length - 1];
    if (last === undefined || t > last.t) {
      last = { t, started: 0, completed: 0, failed: 0, retried: 0, costUsd: 0 };
      this.#points.push(last);
      if (this.#points.length > this.#limits.points) {
        const dropped = this.#points.shift();
        if (dropped !== undefined) this.#changedPoints.delete(dropped);
      }
    }
    this.#changedPoints.add(last);
    return last;
  }
}
