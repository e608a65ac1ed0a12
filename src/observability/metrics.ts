import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import { TASK_STATUSES } from '../../machines/task-status.js';
import type { EngineEvent } from '../runtime/events.js';
import type { Statistics } from '../stats/types.js';

/** What the metrics read from a manager: its event stream and its statistics. */
export interface MetricsSource {
  readonly events$: Observable<EngineEvent>;
  getStatistics(): Promise<Statistics>;
}

export interface QueueMetricsOptions {
  /** Where the metrics are registered; default a new registry of their own (one per manager). */
  registry?: Registry;
  /** Prefix of every metric name. @default 'aitq_' */
  prefix?: string;
}

/** Prometheus metrics of one manager (see docs/observability.md for every metric). */
export interface QueueMetrics {
  readonly registry: Registry;
  /** The Prometheus text exposition format's content type. */
  readonly contentType: string;
  /** Every metric in the Prometheus text format, the gauges read from `getStatistics()` now. */
  metrics(): Promise<string>;
  /** Stops counting events (the registry keeps what it counted). */
  stop(): void;
}

/** Seconds: LLM calls take from tens of milliseconds to minutes, and tasks may wait for hours. */
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

/**
 * Counts what a manager does for Prometheus: counters and histograms fed from `events$` (from the
 * moment this is called), gauges read from `getStatistics()` at each scrape. Serve `metrics()`
 * at `/metrics` (the dashboard does), or register into your own registry.
 *
 * @example
 * const metrics = createMetrics(manager);
 * http.createServer(async (_, res) => {
 *   res.setHeader('Content-Type', metrics.contentType);
 *   res.end(await metrics.metrics());
 * }).listen(9464);
 */
export function createMetrics(
  source: MetricsSource,
  options: QueueMetricsOptions = {},
): QueueMetrics {
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? 'aitq_';
  const registers = [registry];

  const submitted = new Counter({
    name: `${p}tasks_submitted_total`,
    help: 'Tasks accepted into the line.',
    labelNames: ['type', 'priority'] as const,
    registers,
  });
  const finished = {
    completed: new Counter({
      name: `${p}tasks_completed_total`,
      help: 'Tasks that completed.',
      labelNames: ['type', 'priority'] as const,
      registers,
    }),
    failed: new Counter({
      name: `${p}tasks_failed_total`,
      help: 'Tasks that failed, by error code.',
      labelNames: ['type', 'priority', 'code'] as const,
      registers,
    }),
    cancelled: new Counter({
      name: `${p}tasks_cancelled_total`,
      help: 'Tasks that were cancelled.',
      labelNames: ['type', 'priority'] as const,
      registers,
    }),
  };
  const retries = new Counter({
    name: `${p}task_retries_total`,
    help: 'Attempts that failed and put their task back in line to retry, by error code.',
    labelNames: ['type', 'code'] as const,
    registers,
  });
  const attempts = new Counter({
    name: `${p}attempts_started_total`,
    help: 'Attempts started, by the model their limits were taken for.',
    labelNames: ['type', 'model'] as const,
    registers,
  });
  const tokens = new Counter({
    name: `${p}tokens_total`,
    help: 'Tokens the calls used, as reported (or counted when a call reported none).',
    labelNames: ['type', 'kind'] as const,
    registers,
  });
  const cost = new Counter({
    name: `${p}cost_usd_total`,
    help: 'What the calls cost, US dollars.',
    labelNames: ['type'] as const,
    registers,
  });
  const calls = new Counter({
    name: `${p}calls_total`,
    help: 'Model calls made.',
    labelNames: ['type'] as const,
    registers,
  });
  const wait = new Histogram({
    name: `${p}task_wait_seconds`,
    help: 'From submission to the first start of a task.',
    labelNames: ['type'] as const,
    buckets: WAIT_BUCKETS,
    registers,
  });
  const run = new Histogram({
    name: `${p}task_run_seconds`,
    help: 'From the first start to the end of a task that completed or failed.',
    labelNames: ['type', 'status'] as const,
    buckets: RUN_BUCKETS,
    registers,
  });

  // Gauges: read at each scrape from one `getStatistics()`, shared by every gauge of that scrape.
  let pending: Promise<Statistics> | undefined;
  const statistics = (): Promise<Statistics> => {
    if (pending === undefined) {
      pending = source.getStatistics().finally(() => {
        pending = undefined;
      });
    }
    return pending;
  };
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (s: Statistics, set: (labels: Partial<Record<L, string>>, value: number) => void) => void,
  ) =>
    new Gauge<L>({
      name: `${p}${name}`,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await statistics();
        this.reset();
        read(s, (labels, value) => this.set(labels, value));
      },
    });

  gauge(
    'queue_depth',
    'Waiting tasks (queued, paused, retrying) by priority.',
    ['priority'],
    (s, set) => {
      for (const [priority, n] of Object.entries(s.queue.byPriority)) set({ priority }, n);
    },
  );
  gauge('tasks', 'Tasks in the store by state.', ['state'], (s, set) => {
    for (const state of TASK_STATUSES) set({ state }, s.tasks.byStatus[state]);
  });
  gauge('running_tasks', 'Attempts running now.', [], (s, set) =>
    set({}, s.concurrency.runningTasks),
  );
  gauge('max_concurrent', 'The concurrency limit.', [], (s, set) =>
    set({}, s.concurrency.maxConcurrent),
  );
  gauge('paused', '1 while the queue is paused.', [], (s, set) => set({}, s.status.paused ? 1 : 0));
  gauge(
    'rate_window_used',
    'What each rate window holds now, by model ("" for the global windows) and dimension.',
    ['model', 'window_seconds', 'dimension'],
    (s, set) => {
      for (const w of s.rateLimit.windows) {
        const labels = { model: w.model ?? '', window_seconds: String(w.windowMs / 1000) };
        if (w.requests.limit !== null)
          set({ ...labels, dimension: 'requests' }, w.requests.current);
        if (w.tokens.limit !== null) set({ ...labels, dimension: 'tokens' }, w.tokens.current);
      }
    },
  );
  gauge(
    'rate_window_limit',
    'Each rate window limit, by model ("" for the global windows) and dimension.',
    ['model', 'window_seconds', 'dimension'],
    (s, set) => {
      for (const w of s.rateLimit.windows) {
        const labels = { model: w.model ?? '', window_seconds: String(w.windowMs / 1000) };
        if (w.requests.limit !== null) set({ ...labels, dimension: 'requests' }, w.requests.limit);
        if (w.tokens.limit !== null) set({ ...labels, dimension: 'tokens' }, w.tokens.limit);
      }
    },
  );
  gauge('spend_usd', 'Spent in each budget period, US dollars.', ['period'], (s, set) => {
    set({ period: 'total' }, s.cost.total.cost);
    set({ period: 'daily' }, s.cost.daily.cost);
    set({ period: 'hourly' }, s.cost.hourly.cost);
  });
  gauge('budget_usd', 'Each budget limit that is set, US dollars.', ['period'], (s, set) => {
    for (const period of ['total', 'daily', 'hourly'] as const) {
      const limit = s.cost[period].limit;
      if (limit !== null) set({ period }, limit);
    }
  });
  gauge('budget_held_usd', 'Worst cases held for running calls, US dollars.', [], (s, set) =>
    set({}, s.cost.held),
  );

  const subscription: Subscription = source.events$.subscribe((event) => {
    switch (event.type) {
      case 'task.submitted':
        submitted.inc({ type: event.taskType, priority: event.priority });
        break;
      case 'task.started':
        attempts.inc({ type: event.taskType, model: event.model });
        if (event.attempt === 1) wait.observe({ type: event.taskType }, event.queueTimeMs / 1000);
        break;
      case 'task.retrying':
        retries.inc({ type: event.taskType, code: event.error.code });
        break;
      case 'task.usage':
        tokens.inc({ type: event.taskType, kind: 'prompt' }, event.promptTokens);
        tokens.inc({ type: event.taskType, kind: 'completion' }, event.completionTokens);
        cost.inc({ type: event.taskType }, event.costMicros / 1e6);
        calls.inc({ type: event.taskType }, event.calls);
        break;
      case 'task.completed':
      case 'task.cancelled':
        finished[event.status].inc({ type: event.taskType, priority: event.priority });
        if (event.status === 'completed' && event.executionTimeMs !== undefined) {
          run.observe({ type: event.taskType, status: event.status }, event.executionTimeMs / 1000);
        }
        break;
      case 'task.failed':
        finished.failed.inc({
          type: event.taskType,
          priority: event.priority,
          code: event.error?.code ?? 'UNKNOWN',
        });
        if (event.executionTimeMs !== undefined) {
          run.observe({ type: event.taskType, status: 'failed' }, event.executionTimeMs / 1000);
        }
        break;
      default:
        break;
    }
  });

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    stop: () => subscription.unsubscribe(),
  };
}
