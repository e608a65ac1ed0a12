import type { Priority, TaskStatus } from '../../machines/task-status.js';
import type { SerializedError } from '../errors.js';
import type { RecoveryCounts } from './recovery.js';

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
  /** Passed admission: took a slot, a rate reservation and a budget hold (`limited`), or none (a composite parent). */
  | (TaskEventBase & { type: 'task.admitted'; attempt: number; limited: boolean })
  /** An attempt began, right after admission; `model` is the model its limits were taken for. */
  | (TaskEventBase & {
      type: 'task.started';
      attempt: number;
      model: string;
      queueTimeMs: number;
    })
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
  /**
   * A call's reported usage was above what its request allowed (completion above `max_tokens`,
   * or a prompt far above the one counted): it was charged `charged` (what the request allowed),
   * its result kept.
   */
  | (TaskEventBase & {
      type: 'usage.suspect';
      attempt: number;
      model: string;
      reported: { promptTokens: number; completionTokens: number };
      charged: { promptTokens: number; completionTokens: number };
      maxTokens: number;
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
  /** Finished tasks left the store: retention (`keepCompleted` / `keepFailed`) or a cleanup. */
  | {
      type: 'tasks.removed';
      at: number;
      reason: 'retention' | 'cleanup';
      taskIds: string[];
      byType: Record<string, number>;
    }
  /**
   * A durable store written by an earlier process was opened: its unfinished tasks are back (see
   * `RecoveryCounts`), and the open holds were charged at their worst case.
   */
  | ({ type: 'queue.recovered'; at: number } & RecoveryCounts)
  /** A write to the store failed; the task goes on in memory. */
  | { type: 'store.error'; at: number; taskId: string; error: SerializedError };

export type EngineEventType = EngineEvent['type'];

/** The event (or events) of one type: `EventOf<'task.completed'>`. */
export type EventOf<K extends EngineEventType> = EngineEvent extends infer E
  ? E extends { type: infer T }
    ? K extends T
      ? E & { type: K }
      : never
    : never
  : never;

/** Every event type, for validating `on(type, fn)`. The compiler checks none is missing. */
export const ENGINE_EVENT_TYPES = [
  'task.submitted',
  'task.admitted',
  'task.started',
  'task.progress',
  'task.retrying',
  'task.usage',
  'usage.suspect',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.paused',
  'task.resumed',
  'queue.paused',
  'queue.resumed',
  'queue.stopped',
  'settings.changed',
  'tasks.removed',
  'queue.recovered',
  'store.error',
] as const satisfies readonly EngineEventType[];

const everyEventTypeListed: [
  Exclude<EngineEventType, (typeof ENGINE_EVENT_TYPES)[number]>,
] extends [never]
  ? true
  : false = true;
void everyEventTypeListed;
