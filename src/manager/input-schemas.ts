/**
 * What each method of `AITaskManager` takes, as zod schemas: `submitTask`'s task and its settings
 * (the callbacks included), `submitBatch`'s tasks and options, `waitForTask`'s options, task ids,
 * `getTasks`'s query and the rest; the checks of the tasks and the query that need more than a
 * schema, and what a checked task becomes for the engine.
 */

import { z } from 'zod';
import { type Priority, TASK_STATUSES } from '../../machines/task-status.js';
import { PrioritySchema, TaskConfigOverridesSchema } from '../config/engine-options.js';
import { ValidationError } from '../errors.js';
import { DurationHoursSchema, DurationSecondsSchema } from '../internal/duration.js';
import { functionOf, OwnKeysRecordSchema, parseOrThrow } from '../internal/validate.js';
import type { Engine, SubmitInput } from '../runtime/engine.js';
import { ENGINE_EVENT_TYPES, type EngineEvent } from '../runtime/events.js';
import type { TaskInfo } from '../runtime/task-info.js';
import { MAX_LIST_LIMIT } from '../stores/memory.js';

/** `onProgress(progress, current, total)`: progress in [0, 1]. */
export type ProgressCallback = (progress: number, current: number, total: number) => void;
/** `onComplete(task)` / `onError(task)`: the task as `getTaskStatus` shows it, result included. */
export type TaskCallback = (task: TaskInfo) => void | Promise<void>;

/**
 * A task's settings (the seed's `TaskConfig`): durations in seconds. The callbacks are the seed's
 * `callback`, `error_callback` and `progress_callback`.
 */
export const ManagerTaskConfigSchema = TaskConfigOverridesSchema.extend({
  onComplete: functionOf<TaskCallback>('a function (task) => void').optional(),
  onError: functionOf<TaskCallback>('a function (task) => void').optional(),
  onProgress: functionOf<ProgressCallback>(
    'a function (progress, current, total) => void',
  ).optional(),
}).strict();

export type TaskConfig = z.input<typeof ManagerTaskConfigSchema>;

const MetadataSchema = OwnKeysRecordSchema;
const SignalSchema = z.custom<AbortSignal>(
  (value) => value instanceof AbortSignal,
  'expected an AbortSignal',
);

/** The Python seed's names of `submit_task`'s arguments, and what replaces each here. */
const SEED_TASK_NAMES = {
  task_type: 'taskType',
  callback: 'config.onComplete',
  error_callback: 'config.onError',
  progress_callback: 'config.onProgress',
};

/** What `submitTask` takes. */
export const SubmitTaskSchema = z
  .object({
    taskType: z.string({ error: 'expected a task type name' }).min(1),
    data: z.unknown(),
    priority: PrioritySchema.optional(),
    config: ManagerTaskConfigSchema.optional(),
    metadata: MetadataSchema.optional(),
    signal: SignalSchema.optional(),
    /** Your own id for the task (unique); default a time-ordered UUID (version 7). */
    id: z.string().min(1).optional(),
    /**
     * Submitting a key the store already holds returns that task's id and adds nothing (a
     * re-run after a crash submits the same keys; a durable store remembers them across runs).
     */
    idempotencyKey: z.string().min(1).max(512).optional(),
  })
  .strict();

/** One task of `submitBatch`: a task of `submitTask` without `signal` (the batch has one). */
const BatchItemSchema = SubmitTaskSchema.omit({ signal: true });
const SubmitBatchSchema = z.array(BatchItemSchema).min(1, 'expected at least one task');
const BatchOptionsSchema = z
  .object({ priority: PrioritySchema.optional(), signal: SignalSchema.optional() })
  .strict();
export const WaitOptionsSchema = z
  .object({
    /** Seconds, or a string with units (`'90s'`); omitted: wait as long as it takes. */
    timeout: DurationSecondsSchema.pipe(z.number().positive()).optional(),
    signal: SignalSchema.optional(),
  })
  .strict();
export const TaskIdSchema = z.string({ error: 'expected a task id string' }).min(1);
export const TaskIdsSchema = z.array(TaskIdSchema);
const StatusFilterSchema = z.enum(TASK_STATUSES as unknown as [string, ...string[]]);
const TaskQuerySchema = z
  .object({
    status: z.union([StatusFilterSchema, z.array(StatusFilterSchema)]).optional(),
    taskType: z.string().optional(),
    priority: PrioritySchema.optional(),
    cursor: z.string().optional(),
    limit: z.number().int().positive().max(MAX_LIST_LIMIT).optional(),
  })
  .strict();
export type GetTasksQuery = z.input<typeof TaskQuerySchema>;
/** `olderThanHours`: hours, or a string with units (`'1d'`, `'90m'`). */
export const CleanupSchema = z.object({ olderThanHours: DurationHoursSchema }).strict();
export const StopSchema = z.object({ force: z.boolean().optional() }).strict();
export const SizeSchema = z.number().int().positive();
export const EventTypeSchema = z.enum(ENGINE_EVENT_TYPES);
export const ListenerSchema = functionOf<(event: EngineEvent) => void>(
  'a function (event) => void',
);

/** `submitTask`'s and `estimateCost`'s task, checked; a seed's argument name is told its new one. */
export function parseTask(task: unknown): z.output<typeof SubmitTaskSchema> {
  return parseOrThrow(SubmitTaskSchema, task, 'task', {
    pathPrefix: '',
    renamed: SEED_TASK_NAMES,
  });
}

/**
 * `submitBatch`'s tasks and options, checked: what the engine is given for each task (the batch's
 * `priority` for a task without its own), the settings of each, and the batch's `signal`.
 */
export function parseBatch(
  tasks: unknown,
  options: unknown,
): {
  inputs: SubmitInput[];
  configs: Array<z.output<typeof ManagerTaskConfigSchema> | undefined>;
  signal: AbortSignal | undefined;
} {
  const parsed = parseOrThrow(SubmitBatchSchema, tasks, 'tasks', { renamed: SEED_TASK_NAMES });
  const { priority, signal } = parseOrThrow(BatchOptionsSchema, options, 'options');
  return {
    inputs: parsed.map((t) => toEngineInput({ ...t, priority: t.priority ?? priority })),
    configs: parsed.map((t) => t.config),
    signal,
  };
}

/** `getTasks`'s query, checked: its `taskType`, when given, is one the engine has registered. */
export function parseTaskQuery(
  query: unknown,
  engine: Pick<Engine, 'taskType' | 'taskTypeNames'>,
): z.output<typeof TaskQuerySchema> {
  const parsed = parseOrThrow(TaskQuerySchema, query, 'query');
  if (parsed.taskType !== undefined && engine.taskType(parsed.taskType) === undefined) {
    throw new ValidationError(
      `invalid query: taskType: unknown task type (received ${JSON.stringify(parsed.taskType)}; registered: ${engine.taskTypeNames.join(', ')})`,
      [{ path: 'query.taskType', message: 'unknown task type', received: parsed.taskType }],
    );
  }
  return parsed;
}

/** What the engine is given for a checked task: its fields without the callbacks. */
export function toEngineInput(task: z.output<typeof BatchItemSchema>): SubmitInput {
  const { onComplete: _c, onError: _e, onProgress: _p, ...config } = task.config ?? {};
  return {
    taskType: task.taskType,
    data: task.data,
    priority: task.priority as Priority | undefined,
    config: task.config === undefined ? undefined : config,
    metadata: task.metadata,
    id: task.id,
    idempotencyKey: task.idempotencyKey,
  };
}
