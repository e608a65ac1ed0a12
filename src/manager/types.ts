/**
 * The manager's public types: the tasks its methods take, typed by the registry of task types its
 * type knows (`SubmitTaskInput`, `BatchTaskInput`), the ids that carry their task type's name
 * (`TaskId`, `TaskResultFor`), the registry `createAITaskManager` infers (`ManagerTaskTypes`),
 * the shapes of what its reads return (`QueueStatus`, `TaskInfoPage`, `CostController`), and an
 * `on` listener's type (`EventListener`).
 */

import type { z } from 'zod';
import type { Priority } from '../../machines/task-status.js';
import type { AITaskManagerOptions } from '../config/manager-options.js';
import type { CostEstimate } from '../runtime/engine.js';
import type { EngineEventType, EventOf } from '../runtime/events.js';
import type { TaskInfo } from '../runtime/task-info.js';
import type { BudgetStatistics } from '../stats/types.js';
import type { BuiltinTaskTypes } from '../task-types/builtin/index.js';
import type {
  AnyTaskTypeDefinition,
  TaskDataOf,
  TaskResultOf,
  TaskTypeMap,
  TaskTypeName,
  TaskTypeRegistry,
  UntypedTaskTypes,
} from '../task-types/types.js';
import type { SubmitTaskSchema } from './input-schemas.js';

/** `submitTask`'s fields besides the three a typed manager checks. */
type SubmitTaskFields = Omit<z.input<typeof SubmitTaskSchema>, 'taskType' | 'data' | 'priority'>;

/**
 * What `submitTask` takes, for a task type `K` of the registry `R`: `data` is that task type's
 * input (`TaskDataOf`), `priority` one of `Priority`. For a union of names, a union of tasks, one
 * per name. Without type arguments (`UntypedTaskTypes`): any `taskType`, `data: unknown`.
 */
export type SubmitTaskInput<
  R extends TaskTypeRegistry = UntypedTaskTypes,
  K extends TaskTypeName<R> = TaskTypeName<R>,
> = K extends unknown ? TaskFor<R, K, SubmitTaskFields> : never;

/** One task of the task type `K`: the fields of `Fields`, `taskType`, `data` and `priority`. */
type TaskFor<R extends TaskTypeRegistry, K extends TaskTypeName<R>, Fields> = Fields & {
  taskType: K;
  data: TaskDataOf<R[K]>;
  priority?: Priority | undefined;
};

declare const taskTypeOfId: unique symbol;

/**
 * A task's id (a string at run time) that carries its task type's name, so that `waitForTask`
 * and `getTaskResult` know the result's type. `submitTask` and `submitBatch` return it; a plain
 * `string` id is accepted everywhere too (its result is `unknown`).
 */
export type TaskId<K extends string = string> = string & { readonly [taskTypeOfId]: K };

/** The result of the task `Id` on a manager of the registry `R`: `unknown` for a plain string. */
export type TaskResultFor<R extends TaskTypeRegistry, Id extends string> =
  Id extends TaskId<infer K> ? (K extends keyof R ? TaskResultOf<R[K]> : unknown) : unknown;

/**
 * The registry `createAITaskManager` infers from its `taskTypes` (`T`) and `builtinTaskTypes`
 * (`B`): the built-in types (when on) and those of `T` (which replace built-in ones of the same
 * name), or `UntypedTaskTypes` when it cannot be known at compile time: a task type with a plain
 * `string` name, `builtinTaskTypes` neither `true` nor `false`, or no task type given at all with
 * the built-in ones off.
 */
export type ManagerTaskTypes<
  T extends readonly AnyTaskTypeDefinition[] = [],
  B extends boolean = true,
> = string extends T[number]['name']
  ? UntypedTaskTypes
  : boolean extends B
    ? UntypedTaskTypes
    : B extends true
      ? WithBuiltins<TaskTypeMap<T>>
      : T[number] extends never
        ? UntypedTaskTypes
        : AsRegistry<TaskTypeMap<T>>;

/** The built-in task types and those of `Own`, which replace built-in ones of the same name. */
type WithBuiltins<Own> = keyof Own extends never
  ? BuiltinTaskTypes
  : Extract<keyof Own, keyof BuiltinTaskTypes> extends never
    ? AsRegistry<BuiltinTaskTypes & Own>
    : AsRegistry<Omit<BuiltinTaskTypes, keyof Own> & Own>;

/** `X` when it is a registry. */
type AsRegistry<X> = X extends TaskTypeRegistry ? X : never;

/** `createAITaskManager`'s options, with `taskTypes` and `builtinTaskTypes` kept as given. */
export type TypedManagerOptions<
  T extends readonly AnyTaskTypeDefinition[] = [],
  B extends boolean = true,
> = Omit<AITaskManagerOptions, 'taskTypes' | 'builtinTaskTypes'> & {
  /** Task types to register besides the built-in ones. */
  taskTypes?: T | undefined;
  /** Register the seed's five task types (default true). */
  builtinTaskTypes?: B | undefined;
};

/** One task of `submitBatch`: `SubmitTaskInput` without `signal` (the batch has one). */
export type BatchTaskInput<
  R extends TaskTypeRegistry = UntypedTaskTypes,
  K extends TaskTypeName<R> = TaskTypeName<R>,
> = K extends unknown ? TaskFor<R, K, Omit<SubmitTaskFields, 'signal'>> : never;

/** What `getQueueStatus` returns. `totalSize` counts queued, paused and retrying tasks. */
export interface QueueStatus {
  totalSize: number;
  maxSize: number;
  isFull: boolean;
  isEmpty: boolean;
  byPriority: Record<Priority, number>;
  running: number;
}

/** A page of `getTasks`. */
export interface TaskInfoPage {
  items: TaskInfo[];
  /** Pass back as `cursor` for the next page; `null` on the last page. */
  nextCursor: string | null;
}

/** The seed's `cost_controller`. */
export interface CostController<R extends TaskTypeRegistry = UntypedTaskTypes> {
  /** Sets the total spent back to zero; daily and hourly periods keep counting. */
  resetTotalCost(): void;
  /** Total, daily and hourly spend against their limits. */
  getCosts(): { total: BudgetStatistics; daily: BudgetStatistics; hourly: BudgetStatistics };
  /** What a task would reserve and could cost, without submitting it. */
  estimateCost<K extends TaskTypeName<R>>(task: SubmitTaskInput<R, K>): CostEstimate;
}

/** `on(type, fn)`'s listener: the event of that type. */
export type EventListener<K extends EngineEventType> = (event: EventOf<K>) => void;
