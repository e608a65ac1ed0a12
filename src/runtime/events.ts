import type { Priority, TaskStatus } from '../../machines/task-status.js';
import type { SerializedError } from '../errors.js';

interface TaskEventBase {
  taskId: string;
  taskType: string;
  priority: Priority;
  /** ms on the injected clock */
  at: number;
}

/**
 * Everything the engine reports, one typed stream (`events$`). Statistics, the dashboard and
 * the CLI's progress display are all built from it.
 */
export type EngineEvent =
  | (TaskEventBase & { type: 'task.submitted'; parentId?: string | undefined })
  | (TaskEventBase & { type: 'task.started'; attempt: number; queueTimeMs: number })
  | (TaskEventBase & { type: 'task.progress'; progress: number; current: number; total: number })
  | (TaskEventBase & {
      type: 'task.retrying';
      attempt: number;
      notBefore: number;
      error: SerializedError;
    })
  /** One attempt ended: what its calls used and cost (sum these for totals). */
  | (TaskEventBase & {
      type: 'task.usage';
      attempt: number;
      calls: number;
      costMicros: number;
      promptTokens: number;
      completionTokens: number;
      estimated: boolean;
    })
  | (TaskEventBase & {
      type: 'task.completed' | 'task.failed' | 'task.cancelled';
      status: Extract<TaskStatus, 'completed' | 'failed' | 'cancelled'>;
      attempts: number;
      error?: SerializedError | undefined;
      /** ms from submission to the first start; undefined if it never started. */
      queueTimeMs?: number | undefined;
      /** ms from the first start to the end. */
      executionTimeMs?: number | undefined;
    })
  | (TaskEventBase & { type: 'task.paused' | 'task.resumed' })
  | { type: 'queue.paused' | 'queue.resumed' | 'queue.stopped'; at: number }
  | { type: 'settings.changed'; at: number; changed: string[] }
  /** A write to the store failed; the task goes on in memory. */
  | { type: 'store.error'; at: number; taskId: string; error: SerializedError };

export type EngineEventType = EngineEvent['type'];
