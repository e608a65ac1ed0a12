import type { Observable, Subscription } from 'rxjs';
import type { EngineEvent } from '../runtime/events.js';

/** Counts in fixed time buckets (a ring): the sum over the last `buckets × bucketMs`. */
export class RollingCounter {
  private readonly counts: Float64Array;
  private readonly stamps: Float64Array;

  constructor(
    private readonly bucketMs: number,
    buckets: number,
  ) {
    this.counts = new Float64Array(buckets);
    this.stamps = new Float64Array(buckets).fill(-1);
  }

  add(at: number, amount: number): void {
    const slot = Math.floor(at / this.bucketMs);
    const i = slot % this.counts.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] as number) + amount;
  }

  /** The sum over the buckets that overlap the last span ending at `now`. */
  sum(now: number): number {
    const current = Math.floor(now / this.bucketMs);
    const oldest = current - this.counts.length + 1;
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const stamp = this.stamps[i] as number;
      if (stamp >= oldest && stamp <= current) total += this.counts[i] as number;
    }
    return total;
  }
}

/** Average over everything seen, and percentiles over the most recent `capacity` samples. */
export class SampleWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;
  private seen = 0;
  private sorted: Float64Array | undefined;

  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total += value;
    this.seen++;
    this.sorted = undefined;
  }

  get count(): number {
    return this.seen;
  }

  get average(): number {
    return this.seen === 0 ? 0 : this.total / this.seen;
  }

  /** Nearest-rank percentile (0–100) of the retained samples; 0 when there are none. */
  percentile(p: number): number {
    if (this.filled === 0) return 0;
    this.sorted ??= this.samples.slice(0, this.filled).sort();
    const rank = Math.max(1, Math.ceil((p / 100) * this.filled));
    return this.sorted[rank - 1] as number;
  }
}

/** How many of the latest samples the percentiles are computed over. */
export const PERCENTILE_SAMPLES = 10_000;

/**
 * What the statistics learn from the event stream alone: totals since start, time percentiles,
 * tokens, and rolling per-minute and per-hour counts. Memory is bounded whatever the run's size.
 */
export class StatsCollector {
  totalSucceeded = 0;
  totalFailed = 0;
  totalCancelled = 0;
  totalRetries = 0;
  promptTokens = 0;
  completionTokens = 0;
  estimatedAttempts = 0;
  costMicros = 0;
  /** Tasks in the store by type: submitted, less what retention and cleanups removed. */
  readonly byType: Record<string, number> = {};
  readonly queueTimes = new SampleWindow(PERCENTILE_SAMPLES);
  readonly executionTimes = new SampleWindow(PERCENTILE_SAMPLES);
  /** Finished tasks per second over the last minute. */
  readonly finishedPerMinute = new RollingCounter(1_000, 60);
  /** Calls and tokens reported per second over the last minute, per minute over the last hour. */
  readonly requestsPerMinute = new RollingCounter(1_000, 60);
  readonly tokensPerMinute = new RollingCounter(1_000, 60);
  readonly requestsPerHour = new RollingCounter(60_000, 60);
  private subscription: Subscription | undefined;

  /** Starts counting what `events$` reports. */
  attach(events$: Observable<EngineEvent>): void {
    this.subscription = events$.subscribe((event) => this.apply(event));
  }

  detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  get totalProcessed(): number {
    return this.totalSucceeded + this.totalFailed + this.totalCancelled;
  }

  apply(event: EngineEvent): void {
    switch (event.type) {
      case 'task.submitted':
        this.byType[event.taskType] = (this.byType[event.taskType] ?? 0) + 1;
        return;
      case 'task.retrying':
        this.totalRetries++;
        return;
      case 'task.usage': {
        const tokens = event.promptTokens + event.completionTokens;
        this.promptTokens += event.promptTokens;
        this.completionTokens += event.completionTokens;
        this.costMicros += event.costMicros;
        if (event.estimated) this.estimatedAttempts++;
        this.requestsPerMinute.add(event.at, event.calls);
        this.requestsPerHour.add(event.at, event.calls);
        this.tokensPerMinute.add(event.at, tokens);
        return;
      }
      case 'task.completed':
      case 'task.failed':
      case 'task.cancelled':
        if (event.type === 'task.completed') this.totalSucceeded++;
        else if (event.type === 'task.failed') this.totalFailed++;
        else this.totalCancelled++;
        if (event.queueTimeMs !== undefined) this.queueTimes.add(event.queueTimeMs / 1000);
        if (event.executionTimeMs !== undefined) {
          this.executionTimes.add(event.executionTimeMs / 1000);
        }
        this.finishedPerMinute.add(event.at, 1);
        return;
      case 'tasks.removed':
        for (const [type, count] of Object.entries(event.byType)) {
          const left = (this.byType[type] ?? 0) - count;
          if (left > 0) this.byType[type] = left;
          else delete this.byType[type];
        }
        return;
      default:
        return;
    }
  }
}
