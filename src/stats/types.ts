import type { Priority, TaskStatus } from '../../machines/task-status.js';
import type { WaitReason } from '../../machines/wait-reason.js';
import type { SharedQueueStatistics } from '../runtime/transport.js';

export type { TaskWaitReason, WaitReason } from '../../machines/wait-reason.js';

/** A count against its limit; `limit` is `null` where no limit is set. */
export interface Gauge {
  current: number;
  limit: number | null;
}

/** One rate-limit window and what it holds now. */
export interface WindowStatistics {
  /** `null` for the global windows, else the model the window applies to. */
  model: string | null;
  windowMs: number;
  /** The window spreads its requests and tokens evenly (see docs/limits.md, "Pacing"). */
  paced: boolean;
  requests: Gauge;
  tokens: Gauge;
}

/** Money in one budget period, US dollars. `limit`, `remaining` and `percentage` are `null` without a limit. */
export interface BudgetStatistics {
  cost: number;
  limit: number | null;
  remaining: number | null;
  /** 0–100. */
  percentage: number | null;
}

/** The budgets kept together by every process given the same shared limits. */
export interface SharedCostStatistics {
  total: BudgetStatistics;
  daily: BudgetStatistics;
  hourly: BudgetStatistics;
  /** Worst-case amounts every process holds for its running calls. */
  held: number;
}

/** A model whose own limits hold its first waiting task (see `Statistics.queue.heldModels`). */
export interface HeldModel {
  model: string;
  /** The task at the head of that model's line. */
  taskId: string;
  waitingFor: WaitReason;
  waitingUntil: Date | null;
}

/**
 * The seed's `get_statistics()` sections in camelCase, plus what a dashboard needs. Durations in
 * seconds, money in US dollars, percentages 0–100, timestamps as `Date`.
 */
export interface Statistics {
  /** When these figures were taken (the injected clock). */
  at: Date;
  status: {
    running: boolean;
    paused: boolean;
    /** `stop()` was called and running calls are finishing. */
    stopping: boolean;
    uptimeSeconds: number;
  };
  queue: {
    /** Waiting tasks: queued, paused and retrying. */
    size: number;
    maxSize: number;
    byPriority: Record<Priority, number>;
    /** Why the first waiting task is not running (`null` when nothing waits or it is about to start). */
    waitingFor: WaitReason | null;
    /** When that may change, if known. */
    waitingUntil: Date | null;
    /**
     * The models whose own limits (their windows, or their server's hints) hold their first
     * waiting task, and what each waits for: tasks of other models start meanwhile.
     */
    heldModels: HeldModel[];
  };
  concurrency: {
    runningTasks: number;
    maxConcurrent: number;
    available: number;
  };
  rateLimit: {
    /** Requests in the last minute against `requestsPerMinute`. */
    requestsPerMinute: Gauge;
    requestsPerHour: Gauge;
    tokensPerMinute: Gauge;
    /** Every configured window (shorthands included), global and per model. */
    windows: WindowStatistics[];
  };
  cost: {
    total: BudgetStatistics;
    daily: BudgetStatistics;
    hourly: BudgetStatistics;
    /** Worst-case amounts held for running calls. */
    held: number;
    /**
     * With `sharedLimits`: what every process given them has spent and holds, against the same
     * limits (the budgets they keep together); `null` without, or when Redis did not answer.
     */
    shared: SharedCostStatistics | null;
  };
  tasks: {
    /** Tasks in the store (finished ones until retention or `cleanupOldTasks` removes them). */
    total: number;
    byStatus: Record<TaskStatus, number>;
    byType: Record<string, number>;
    /**
     * With `sharedQueue`: the whole queue over every worker (tasks by status, workers alive, what
     * the ended tasks used and cost); the figures above are this process's own. `null` without,
     * or when Redis did not answer.
     */
    shared: SharedQueueStatistics | null;
  };
  performance: {
    /** Tasks that reached a terminal state since start. */
    totalProcessed: number;
    totalSucceeded: number;
    totalFailed: number;
    totalCancelled: number;
    totalRetries: number;
    /** Succeeded ÷ (succeeded + failed) × 100; 100 before anything finished. */
    successRate: number;
    averageQueueTime: number;
    p95QueueTime: number;
    averageExecutionTime: number;
    p95ExecutionTime: number;
    /** Finished tasks per minute over the last minute. */
    throughputPerMinute: number;
  };
  tokens: {
    prompt: number;
    completion: number;
    total: number;
    /** Attempts with a call whose usage the server did not report (the tokenizer counted it). */
    estimatedAttempts: number;
  };
}
