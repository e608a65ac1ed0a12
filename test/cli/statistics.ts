import type { Statistics } from '../../src/stats/types.js';

const START = new Date('2025-05-01T12:00:00.000Z');

/** A `Statistics` value by hand: an idle queue at START, with the sections given replaced. */
export function statistics(
  changes: { [K in keyof Statistics]?: Partial<Statistics[K]> } = {},
): Statistics {
  const base: Statistics = {
    at: START,
    status: { running: true, paused: false, stopping: false, uptimeSeconds: 0 },
    queue: {
      size: 0,
      maxSize: 10_000,
      byPriority: { LOW: 0, MEDIUM: 0, HIGH: 0, URGENT: 0 },
      waitingFor: null,
      waitingUntil: null,
      heldModels: [],
    },
    concurrency: { runningTasks: 0, maxConcurrent: 5, available: 5 },
    rateLimit: {
      requestsPerMinute: { current: 0, limit: null },
      requestsPerHour: { current: 0, limit: null },
      tokensPerMinute: { current: 0, limit: null },
      windows: [],
    },
    cost: {
      total: { cost: 0, limit: null, remaining: null, percentage: null },
      daily: { cost: 0, limit: null, remaining: null, percentage: null },
      hourly: { cost: 0, limit: null, remaining: null, percentage: null },
      held: 0,
      shared: null,
    },
    tasks: {
      total: 0,
      byStatus: {
        queued: 0,
        paused: 0,
        running: 0,
        retrying: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
      },
      byType: {},
      shared: null,
    },
    performance: {
      totalProcessed: 0,
      totalSucceeded: 0,
      totalFailed: 0,
      totalCancelled: 0,
      totalRetries: 0,
      successRate: 100,
      averageQueueTime: 0,
      p95QueueTime: 0,
      averageExecutionTime: 0,
      p95ExecutionTime: 0,
      throughputPerMinute: 0,
    },
    tokens: { prompt: 0, completion: 0, total: 0, estimatedAttempts: 0 },
  };
  const out = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(changes)) {
    const section = base[key as keyof Statistics];
    out[key] =
      section instanceof Date || typeof section !== 'object' ? value : { ...section, ...value };
  }
  return out as unknown as Statistics;
}

export const STARTED = START;
/** `seconds` after START. */
export const after = (seconds: number): Date => new Date(START.getTime() + seconds * 1000);
