import type { TaskStatus } from '../../machines/task-status.js';
import type { EngineSettings } from '../config/engine-options.js';
import type { BudgetAmounts, BudgetRemaining } from '../limits/budget.js';
import { dollarsToMicros, microsToDollars } from '../limits/prices.js';
import type { WindowUsage } from '../limits/rate-limiter.js';
import type { SharedSpending } from '../limits/shared.js';
import type { Engine } from '../runtime/engine.js';
import type { SharedQueueStatistics } from '../runtime/transport.js';
import { monotonicNow } from '../time/clock.js';
import type { StatsCollector } from './collector.js';
import type {
  BudgetStatistics,
  Gauge,
  SharedCostStatistics,
  Statistics,
  WindowStatistics,
} from './types.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

function budget(
  spent: number,
  limitDollars: number | undefined,
  remaining: number | undefined,
): BudgetStatistics {
  const cost = microsToDollars(spent);
  if (limitDollars === undefined) return { cost, limit: null, remaining: null, percentage: null };
  return {
    cost,
    limit: limitDollars,
    remaining: microsToDollars(Math.max(0, remaining ?? 0)),
    percentage: Math.min(100, (cost / limitDollars) * 100),
  };
}

/** The shared budgets: what every process spent, and what is left once what they hold ends. */
function sharedCost(shared: SharedSpending, settings: EngineSettings): SharedCostStatistics {
  const left = (limit: number | undefined, spent: number) =>
    limit === undefined ? undefined : dollarsToMicros(limit) - spent - shared.held;
  return {
    total: budget(shared.total, settings.budgetLimit, left(settings.budgetLimit, shared.total)),
    daily: budget(shared.daily, settings.dailyLimit, left(settings.dailyLimit, shared.daily)),
    hourly: budget(shared.hourly, settings.hourlyLimit, left(settings.hourlyLimit, shared.hourly)),
    held: microsToDollars(shared.held),
  };
}

function windowStatistics(usage: WindowUsage): WindowStatistics {
  return {
    model: usage.model ?? null,
    windowMs: usage.window.windowMs,
    paced: usage.window.paced === true,
    requests: { current: usage.requests, limit: usage.window.requests ?? null },
    tokens: { current: usage.tokens, limit: usage.window.tokens ?? null },
  };
}

/** The global window of `windowMs` with a limit on `kind`, as a gauge; else what was counted. */
function gauge(
  windows: readonly WindowStatistics[],
  windowMs: number,
  kind: 'requests' | 'tokens',
  counted: number,
): Gauge {
  const configured = windows.find(
    (w) => w.model === null && w.windowMs === windowMs && w[kind].limit !== null,
  );
  return configured ? configured[kind] : { current: counted, limit: null };
}

/** What other processes share with this one, read from Redis for the statistics. */
export interface SharedFigures {
  /** What every process given the same shared limits spent and holds. */
  spending?: SharedSpending | undefined;
  /** The whole shared queue this process works for. */
  queue?: SharedQueueStatistics | undefined;
}

/**
 * The statistics at this instant, from the engine's live state (line, slots, windows, ledger),
 * the store's counts and what the collector learnt from the event stream.
 */
export function buildStatistics(
  engine: Engine,
  collector: StatsCollector,
  byStatus: Record<TaskStatus, number>,
  shared: SharedFigures = {},
): Statistics {
  const now = engine.clock.now();
  const settings = engine.currentSettings;
  const head = engine.headWait();
  const { max, used } = engine.concurrency;
  const windows = engine.rateLimiter.usage(monotonicNow(engine.clock)).map(windowStatistics);
  const ledger = engine.budget.ledger;
  const spent: BudgetAmounts = ledger.spent(now);
  const remaining: BudgetRemaining = ledger.remaining(now);
  const succeeded = collector.totalSucceeded;
  const failed = collector.totalFailed;
  const ended = succeeded + failed;
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return {
    at: new Date(now),
    status: {
      running: engine.isRunning,
      paused: engine.isPaused,
      stopping: engine.isStopping,
      uptimeSeconds: engine.uptimeMs / 1000,
    },
    queue: {
      size: engine.waitingCount,
      maxSize: settings.maxQueueSize,
      byPriority: engine.waitingByPriority(),
      waitingFor: head?.waitingFor ?? null,
      waitingUntil: head?.until === undefined ? null : new Date(head.until),
      heldModels: Array.from(engine.heldModels(), ([model, wait]) => ({
        model,
        taskId: wait.taskId,
        waitingFor: wait.waitingFor,
        waitingUntil: wait.until === undefined ? null : new Date(wait.until),
      })),
    },
    // After maxConcurrent is lowered under what runs, none is free (not a negative number).
    concurrency: {
      runningTasks: engine.runningCount,
      maxConcurrent: max,
      available: Math.max(0, max - used),
    },
    rateLimit: {
      requestsPerMinute: gauge(
        windows,
        MINUTE_MS,
        'requests',
        collector.requestsPerMinute.sum(now),
      ),
      requestsPerHour: gauge(windows, HOUR_MS, 'requests', collector.requestsPerHour.sum(now)),
      tokensPerMinute: gauge(windows, MINUTE_MS, 'tokens', collector.tokensPerMinute.sum(now)),
      windows,
    },
    cost: {
      total: budget(spent.total, settings.budgetLimit, remaining.total),
      daily: budget(spent.daily, settings.dailyLimit, remaining.daily),
      hourly: budget(spent.hourly, settings.hourlyLimit, remaining.hourly),
      held: microsToDollars(ledger.held()),
      shared: shared.spending === undefined ? null : sharedCost(shared.spending, settings),
    },
    tasks: { total, byStatus, byType: { ...collector.byType }, shared: shared.queue ?? null },
    performance: {
      totalProcessed: collector.totalProcessed,
      totalSucceeded: succeeded,
      totalFailed: failed,
      totalCancelled: collector.totalCancelled,
      totalRetries: collector.totalRetries,
      successRate: ended === 0 ? 100 : (succeeded / ended) * 100,
      averageQueueTime: collector.queueTimes.average,
      p95QueueTime: collector.queueTimes.percentile(95),
      averageExecutionTime: collector.executionTimes.average,
      p95ExecutionTime: collector.executionTimes.percentile(95),
      throughputPerMinute: collector.finishedPerMinute.sum(now),
    },
    tokens: {
      prompt: collector.promptTokens,
      completion: collector.completionTokens,
      total: collector.promptTokens + collector.completionTokens,
      estimatedAttempts: collector.estimatedAttempts,
    },
  };
}
