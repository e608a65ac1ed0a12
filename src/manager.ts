import {
  concatMap,
  filter,
  from,
  merge,
  type Observable,
  type SchedulerLike,
  Subject,
  share,
  takeUntil,
  throttleTime,
} from 'rxjs';
import type { Actor } from 'xstate';
import { z } from 'zod';
import type { supervisorMachine } from '../machines/supervisor.machine.js';
import { type Priority, TASK_STATUSES, zeroStatusCounts } from '../machines/task-status.js';
import {
  type AdjustableSettings,
  PrioritySchema,
  TaskConfigOverridesSchema,
} from './config/engine-options.js';
import {
  type AITaskManagerOptions,
  type Logger,
  ManagerOptionsSchema,
  type ResolvedManagerOptions,
  SECRET_OPTIONS,
} from './config/manager-options.js';
import { describeThrown, UNSHOWABLE_MESSAGE, ValidationError, WaitTimeoutError } from './errors.js';
import {
  DurationHoursSchema,
  DurationSecondsSchema,
  type DurationString,
} from './internal/duration.js';
import { functionOf, OwnKeysRecordSchema, parseOrThrow, REDACTED } from './internal/validate.js';
import { preloadEncoding } from './limits/tokens.js';
import { OpenAICompatibleClient } from './providers/openai.js';
import type { AIClient } from './providers/types.js';
import { type CostEstimate, Engine, type SubmitInput } from './runtime/engine.js';
import {
  ENGINE_EVENT_TYPES,
  type EngineEvent,
  type EngineEventType,
  type EventOf,
} from './runtime/events.js';
import { KeepAlive } from './runtime/keep-alive.js';
import { type TaskInfo, toTaskInfo } from './runtime/task-info.js';
import { StatsCollector } from './stats/collector.js';
import { buildStatistics } from './stats/statistics.js';
import type { BudgetStatistics, Statistics } from './stats/types.js';
import { MAX_LIST_LIMIT } from './stores/memory.js';
import type { TaskRecord } from './stores/types.js';
import { BUILTIN_TASK_TYPES, type BuiltinTaskTypes } from './task-types/builtin/index.js';
import type {
  AnyTaskTypeDefinition,
  TaskDataOf,
  TaskResultOf,
  TaskTypeMap,
  TaskTypeName,
  TaskTypeRegistry,
  UntypedTaskTypes,
} from './task-types/types.js';
import { type Clock, systemClock } from './time/clock.js';
import { clockScheduler } from './time/scheduler.js';

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
    /** Your own id for the task (unique); default a random UUID. */
    id: z.string().min(1).optional(),
    /**
     * Submitting a key the store already holds returns that task's id and adds nothing (a
     * re-run after a crash submits the same keys; a durable store remembers them across runs).
     */
    idempotencyKey: z.string().min(1).max(512).optional(),
  })
  .strict();

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

const BatchItemSchema = SubmitTaskSchema.omit({ signal: true });
const SubmitBatchSchema = z.array(BatchItemSchema).min(1, 'expected at least one task');
const BatchOptionsSchema = z
  .object({ priority: PrioritySchema.optional(), signal: SignalSchema.optional() })
  .strict();
const WaitOptionsSchema = z
  .object({
    /** Seconds, or a string with units (`'90s'`); omitted: wait as long as it takes. */
    timeout: DurationSecondsSchema.pipe(z.number().positive()).optional(),
    signal: SignalSchema.optional(),
  })
  .strict();
const TaskIdSchema = z.string({ error: 'expected a task id string' }).min(1);
const TaskIdsSchema = z.array(TaskIdSchema);
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
/** `olderThanHours`: hours, or a string with units (`'1d'`, `'90m'`). */
const CleanupSchema = z.object({ olderThanHours: DurationHoursSchema }).strict();
const StopSchema = z.object({ force: z.boolean().optional() }).strict();
const SizeSchema = z.number().int().positive();
const EventTypeSchema = z.enum(ENGINE_EVENT_TYPES);
const ListenerSchema = functionOf<(event: EngineEvent) => void>('a function (event) => void');

/** One task of `submitBatch`: `SubmitTaskInput` without `signal` (the batch has one). */
export type BatchTaskInput<
  R extends TaskTypeRegistry = UntypedTaskTypes,
  K extends TaskTypeName<R> = TaskTypeName<R>,
> = K extends unknown ? TaskFor<R, K, Omit<SubmitTaskFields, 'signal'>> : never;
export type GetTasksQuery = z.input<typeof TaskQuerySchema>;

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

interface Callbacks {
  onComplete?: TaskCallback | undefined;
  onError?: TaskCallback | undefined;
  onProgress?: ProgressCallback | undefined;
}

const HOUR_MS = 3_600_000;

/**
 * The queue as users meet it: the seed's `AITaskManager` in TypeScript. Every public method
 * validates its input (a `ValidationError` names the field and the value; the queue is untouched),
 * reads are async so every store fits, and all errors come from the library's tree.
 *
 * `R` is the registry of task types its type knows (`TaskTypeRegistry`): `submitTask` checks
 * `taskType`, `data` and `priority` against it, and `waitForTask` / `getTaskResult` give the
 * task type's result for an id that `submitTask` returned. `createAITaskManager` infers it from
 * `taskTypes` and `builtinTaskTypes`; `new AITaskManager(...)` is untyped (`UntypedTaskTypes`:
 * any `taskType`, `unknown` data and results) unless given one, `new AITaskManager<R>(...)`.
 *
 * @example
 * const manager = await createAITaskManager({ apiKey: process.env.OPENAI_API_KEY, maxConcurrent: 5, budgetLimit: 100 });
 * const id = await manager.submitTask({ taskType: TaskType.TEXT_CLASSIFICATION, data: { text, categories } });
 * const result = await manager.waitForTask(id, { timeout: 60 }); // TextClassification
 * await manager.stop();
 */
export class AITaskManager<R extends TaskTypeRegistry = UntypedTaskTypes> {
  /** Every event of the queue, typed (see `docs/statistics.md` for the list). */
  readonly events$: Observable<EngineEvent>;
  /** The statistics, at most once per `statsIntervalMs`, while something happens. */
  readonly stats$: Observable<Statistics>;
  /** The seed's `cost_controller`. */
  readonly costController: CostController<R>;
  /**
   * The options in force, defaults applied. The API key is not kept here, and `defaultHeaders`
   * shows each header's name with the value `[redacted]`.
   */
  readonly options: Readonly<Omit<ResolvedManagerOptions, 'apiKey'>>;

  private readonly engine: Engine;
  private readonly collector = new StatsCollector();
  private readonly callbacks = new Map<string, Callbacks>();
  /** Removes the `abort` listener a task's `signal` (or its batch's) was given. */
  private readonly signalCleanups = new Map<string, () => void>();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly keepAlive: KeepAlive;
  /** The built-in task types are registered: they count tokens at submit. */
  private readonly countsTokens: boolean;
  private readonly sizeWaiters: Array<{ below: number; resolve: () => void }> = [];
  private readonly statsTick = new Subject<void>();
  /** Emits once, when a `stop()` has finished: `stats$` then gives its last figures. */
  private readonly stopTick = new Subject<void>();
  private stopTold = false;

  constructor(options: AITaskManagerOptions = {}) {
    const parsed = parseOrThrow(ManagerOptionsSchema, options, 'options', {
      redact: SECRET_OPTIONS,
    });
    const {
      apiKey,
      baseURL,
      timeout,
      rateLimit,
      organization,
      defaultHeaders,
      aiClient,
      store,
      clock,
      random,
      inspect,
      logger,
      taskTypes,
      builtinTaskTypes,
      statsIntervalMs,
      ...settings
    } = parsed;
    // The seed's `rateLimit`, or the one a given OpenAICompatibleClient was configured with.
    const clientRateLimit =
      aiClient instanceof OpenAICompatibleClient ? aiClient.config.rateLimit : undefined;
    const providerRpm = rateLimit ?? clientRateLimit;
    if (settings.requestsPerMinute === undefined && providerRpm !== undefined) {
      if (providerRpm >= 1) settings.requestsPerMinute = Math.floor(providerRpm);
      else {
        // Under one a minute (a client's rate may be fractional): one request per 1/rate minutes.
        const window = { requests: 1, windowMs: Math.ceil(60_000 / providerRpm) };
        settings.windows = [...(settings.windows ?? []), window];
      }
    }
    const client: AIClient =
      aiClient ??
      new OpenAICompatibleClient({
        ...(apiKey === undefined ? {} : { apiKey }),
        ...(baseURL === undefined ? {} : { baseURL }),
        ...(timeout === undefined ? {} : { timeout }),
        ...(organization === undefined ? {} : { organization }),
        ...(defaultHeaders === undefined ? {} : { defaultHeaders }),
        model: settings.model,
        embeddingModel: settings.embeddingModel,
      });
    this.clock = clock ?? systemClock;
    this.logger = logger ?? {};
    const { apiKey: _secret, ...shown } = parsed;
    // Header values can carry a key too (Azure's `api-key`): only their names are shown.
    if (shown.defaultHeaders !== undefined) {
      shown.defaultHeaders = Object.fromEntries(
        Object.keys(shown.defaultHeaders).map((name) => [name, REDACTED]),
      );
    }
    this.options = Object.freeze(shown);
    const types: AnyTaskTypeDefinition[] = [
      ...(builtinTaskTypes ? BUILTIN_TASK_TYPES : []),
      // The definitions as given (the schema checked them; its output is a copy), so that a
      // definition's own methods and fields stay as the user made them.
      ...((options.taskTypes as readonly AnyTaskTypeDefinition[] | undefined) ?? taskTypes),
    ];
    this.engine = new Engine(settings, {
      client,
      clock: this.clock,
      ...(random === undefined ? {} : { random }),
      ...(store === undefined ? {} : { store }),
      ...(inspect === undefined ? {} : { inspect }),
      taskTypes: types,
      onFinished: (record) => this.finished(record),
    });
    this.keepAlive = new KeepAlive(this.clock === systemClock);
    this.countsTokens = builtinTaskTypes;
    this.events$ = this.engine.events$.asObservable();
    this.collector.attach(this.engine.events$);
    this.engine.events$.subscribe((event) => this.observe(event));

    const scheduler: SchedulerLike = clockScheduler(this.clock);
    // Events and the start are throttled; the stop is told at once, outside the throttle (told
    // through it, it could come `statsIntervalMs` late, on a timer that does not hold the process
    // open), and nothing throttled follows the stop's figures.
    const throttled = merge(
      this.engine.events$.pipe(filter((event) => event.type !== 'queue.stopped')),
      this.statsTick,
    ).pipe(
      throttleTime(statsIntervalMs, scheduler, { leading: true, trailing: true }),
      takeUntil(this.stopTick),
    );
    this.stats$ = merge(throttled, this.stopTick).pipe(
      concatMap(() => from(this.getStatistics())),
      share(),
    );
    this.costController = {
      resetTotalCost: () => this.engine.resetTotalCost(),
      getCosts: () => {
        const { total, daily, hourly } = buildStatistics(
          this.engine,
          this.collector,
          zeroStatusCounts(),
        ).cost;
        return { total, daily, hourly };
      },
      estimateCost: (task) => this.estimateCost(task),
    };
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Starts admitting tasks (tasks submitted before wait in line). */
  async start(): Promise<void> {
    await this.engine.open();
    const wasRunning = this.engine.isRunning;
    this.engine.start();
    if (wasRunning) return;
    if (this.countsTokens) {
      // The built-in task types count tokens at submit: their tables load now, not at the first
      // submission (where they would stall the event loop for a quarter of a second).
      const { encoding, ms } = preloadEncoding(this.engine.currentSettings.model);
      if (ms > 0) this.logger.info?.('tokenizer loaded', { encoding, ms: Math.round(ms) });
    }
    this.logger.info?.('ai-task-queue started', {
      maxConcurrent: this.engine.currentSettings.maxConcurrent,
    });
    this.statsTick.next();
  }

  /**
   * Stops admitting. Running calls finish (or, with `force`, are aborted and end `cancelled`);
   * waiting tasks stay in the store as they are. Resolves when no call is running.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    const { force } = parseOrThrow(StopSchema, options, 'options');
    const stopped = this.engine.stop(force === undefined ? {} : { force });
    // Nothing more is admitted: the line will not shrink by itself.
    for (const waiter of this.sizeWaiters.splice(0)) waiter.resolve();
    await stopped;
    this.keepAlive.release();
    if (this.stopTold) return;
    this.stopTold = true;
    this.logger.info?.('ai-task-queue stopped', { force: force === true });
    this.stopTick.next();
  }

  /** Holds every waiting task; running calls finish. Before `start()`, the queue starts paused. */
  pause(): void {
    this.engine.pause();
  }

  resume(): void {
    this.engine.resume();
  }

  isPaused(): boolean {
    return this.engine.isPaused;
  }

  /** Started and not stopped. */
  isRunning(): boolean {
    return this.engine.isRunning;
  }

  /**
   * Resolves when nothing is waiting or running (paused tasks excepted), or once the queue has
   * stopped.
   */
  onIdle(): Promise<void> {
    return this.engine.onIdle();
  }

  /**
   * Resolves as soon as fewer than `size` tasks wait (p-queue's `onSizeLessThan`), or once
   * `stop()` is called: a stopping queue admits nothing more, so its line would not shrink.
   */
  onSizeLessThan(size: number): Promise<void> {
    const below = parseOrThrow(SizeSchema, size, 'size');
    if (this.engine.waitingCount < below || this.engine.stopRequested) return Promise.resolve();
    return new Promise((resolve) => this.sizeWaiters.push({ below, resolve }));
  }

  // ─── task types ─────────────────────────────────────────────────────────────────────────────

  /**
   * Adds a task type (or replaces one of the same name). At run time only: the manager's type
   * does not learn it, so on a typed manager give it in `createAITaskManager`'s `taskTypes`.
   * @throws ValidationError the definition lacks a name, zod `input`/`output`, `estimate` or `run`
   */
  registerTaskType(definition: AnyTaskTypeDefinition): void {
    this.engine.registerTaskType(definition);
  }

  /** The registered task types' names. */
  get taskTypes(): string[] {
    return this.engine.taskTypeNames;
  }

  // ─── submit ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Validates and enqueues a task; resolves with its id.
   * @throws ValidationError a field is wrong (unknown task type, data not matching its schema…)
   * @throws QueueFullError `maxQueueSize` tasks wait already
   * @throws BudgetExceededError its worst case does not fit the remaining total budget
   * @throws QueueStoppedError after `stop()`
   */
  async submitTask<K extends TaskTypeName<R>>(task: SubmitTaskInput<R, K>): Promise<TaskId<K>> {
    const parsed = parseOrThrow(SubmitTaskSchema, task, 'task', {
      pathPrefix: '',
      renamed: SEED_TASK_NAMES,
    });
    parsed.signal?.throwIfAborted();
    const [id] = await this.enqueue([this.toEngineInput(parsed)], [parsed.config], parsed.signal);
    return id as TaskId<K>;
  }

  /** Aborting `signal` cancels the tasks; the listener goes when the last of them ends. */
  private cancelOnAbort(signal: AbortSignal, ids: readonly string[]): void {
    let open = ids.length;
    const onAbort = () => {
      for (const id of ids) void this.engine.cancel(id).catch(() => false);
    };
    if (signal.aborted) {
      // Aborted while the tasks were being stored: cancel them once they are in line.
      queueMicrotask(onAbort);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      open--;
      if (open === 0) signal.removeEventListener('abort', onAbort);
    };
    for (const id of ids) this.signalCleanups.set(id, settle);
  }

  /**
   * Validates every task first and enqueues all of them or none (the seed's `submit_batch`).
   * `priority` applies to tasks that do not set their own; aborting `signal` cancels every task
   * of the batch that has not ended. Resolves with the ids in the tasks' order.
   */
  async submitBatch<K extends TaskTypeName<R>>(
    tasks: readonly BatchTaskInput<R, K>[],
    options: { priority?: Priority; signal?: AbortSignal } = {},
  ): Promise<TaskId<K>[]> {
    const parsed = parseOrThrow(SubmitBatchSchema, tasks, 'tasks', { renamed: SEED_TASK_NAMES });
    const { priority, signal } = parseOrThrow(BatchOptionsSchema, options, 'options');
    signal?.throwIfAborted();
    const inputs = parsed.map((t) =>
      this.toEngineInput({ ...t, priority: t.priority ?? priority }),
    );
    return this.enqueue(
      inputs,
      parsed.map((t) => t.config),
      signal,
    ) as Promise<TaskId<K>[]>;
  }

  /** What a task would reserve and could cost, without submitting it. */
  estimateCost<K extends TaskTypeName<R>>(task: SubmitTaskInput<R, K>): CostEstimate {
    const parsed = parseOrThrow(SubmitTaskSchema, task, 'task', {
      pathPrefix: '',
      renamed: SEED_TASK_NAMES,
    });
    return this.engine.estimateCost(this.toEngineInput(parsed));
  }

  private toEngineInput(task: z.output<typeof BatchItemSchema>): SubmitInput {
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

  private async enqueue(
    inputs: readonly SubmitInput[],
    configs: ReadonlyArray<z.output<typeof ManagerTaskConfigSchema> | undefined>,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    // Set up before the tasks join the line: one may end before `submitMany` resolves.
    // A task returned for its idempotency key keeps the callbacks and signal it was given.
    return this.engine.submitMany(inputs, (all, reused) => {
      const ids = reused.size === 0 ? all : all.filter((id) => !reused.has(id));
      all.forEach((id, i) => {
        if (reused.has(id)) return;
        const config = configs[i];
        if (config?.onComplete || config?.onError || config?.onProgress) {
          this.callbacks.set(id, {
            onComplete: config.onComplete,
            onError: config.onError,
            onProgress: config.onProgress,
          });
        }
      });
      if (signal !== undefined) this.cancelOnAbort(signal, ids);
      if (!this.engine.stopRequested) this.keepAlive.hold();
    });
  }

  // ─── reads ──────────────────────────────────────────────────────────────────────────────────

  /** The task's status, metrics and history; `null` when unknown (or removed by retention). */
  async getTaskStatus(taskId: string): Promise<TaskInfo | null> {
    const id = parseOrThrow(TaskIdSchema, taskId, 'taskId');
    const record = await this.engine.getTask(id);
    return record === undefined ? null : toTaskInfo(this.engine, record);
  }

  /**
   * The result of a completed task; `null` when it is unknown or not completed. For an id that
   * `submitTask` returned, typed as its task type's result.
   */
  async getTaskResult<Id extends string>(taskId: Id): Promise<TaskResultFor<R, Id> | null> {
    const id = parseOrThrow(TaskIdSchema, taskId, 'taskId');
    const record = await this.engine.getTask(id);
    return record?.status === 'completed'
      ? ((record.result ?? null) as TaskResultFor<R, Id> | null)
      : null;
  }

  /** Tasks in submission order, filtered, one page at a time. */
  async getTasks(query: GetTasksQuery = {}): Promise<TaskInfoPage> {
    const parsed = parseOrThrow(TaskQuerySchema, query, 'query');
    if (parsed.taskType !== undefined && this.engine.taskType(parsed.taskType) === undefined) {
      throw new ValidationError(
        `invalid query: taskType: unknown task type (received ${JSON.stringify(parsed.taskType)}; registered: ${this.engine.taskTypeNames.join(', ')})`,
        [{ path: 'query.taskType', message: 'unknown task type', received: parsed.taskType }],
      );
    }
    await this.engine.written();
    const page = await this.engine.store.list(parsed as Parameters<Engine['store']['list']>[0]);
    return {
      items: page.items.map((r) => toTaskInfo(this.engine, r)),
      nextCursor: page.nextCursor,
    };
  }

  /**
   * Resolves with the task's result; rejects with its error (failed), `TaskCancelledError`,
   * `TaskNotFoundError`, or `WaitTimeoutError` after `timeout` seconds (or a string with units,
   * `'90s'`; the task goes on). For an id that `submitTask` returned, the result is typed as its
   * task type's (`TaskResultFor`); for a plain string, `unknown`.
   */
  async waitForTask<Id extends string>(
    taskId: Id,
    options: { timeout?: number | DurationString; signal?: AbortSignal } = {},
  ): Promise<TaskResultFor<R, Id>> {
    const id = parseOrThrow(TaskIdSchema, taskId, 'taskId');
    const { timeout, signal } = parseOrThrow(WaitOptionsSchema, options, 'options');
    signal?.throwIfAborted();
    if (timeout === undefined && signal === undefined) {
      return this.engine.waitFor(id) as Promise<TaskResultFor<R, Id>>;
    }
    const controller = new AbortController();
    const timer =
      timeout === undefined
        ? undefined
        : this.clock.setTimeout(
            () => controller.abort(new WaitTimeoutError(id, timeout)),
            timeout * 1000,
          );
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return (await this.engine.waitFor(id, { signal: controller.signal })) as TaskResultFor<R, Id>;
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Cancels a waiting or running task (a running call is aborted). False when unknown or finished. */
  async cancelTask(taskId: string): Promise<boolean> {
    const id = parseOrThrow(TaskIdSchema, taskId, 'taskId');
    return this.engine.cancel(id);
  }

  /** Cancels each task; `{ [id]: cancelled? }`. */
  async cancelBatch(taskIds: readonly string[]): Promise<Record<string, boolean>> {
    const ids = [...new Set(parseOrThrow(TaskIdsSchema, taskIds, 'taskIds'))];
    const records = await Promise.all(ids.map((id) => this.engine.getTask(id)));
    // Waiting tasks first: a slot freed by a cancelled running call never goes to a task of
    // the same batch.
    const order = ids
      .map((id, i) => ({ id, running: records[i]?.status === 'running' }))
      .sort((a, b) => Number(a.running) - Number(b.running));
    const out: Record<string, boolean> = {};
    for (const id of ids) out[id] = false;
    for (const { id } of order) out[id] = await this.engine.cancel(id);
    return out;
  }

  /** Holds one waiting task (queued or retrying) out of line. False when it is not waiting. */
  pauseTask(taskId: string): boolean {
    return this.engine.pauseTask(parseOrThrow(TaskIdSchema, taskId, 'taskId'));
  }

  /** Puts a paused task back in line, in its old place. False when it is not paused. */
  resumeTask(taskId: string): boolean {
    return this.engine.resumeTask(parseOrThrow(TaskIdSchema, taskId, 'taskId'));
  }

  /** Every figure of the queue: the seed's sections in camelCase (see `Statistics`). */
  async getStatistics(): Promise<Statistics> {
    await this.engine.written();
    const byStatus = await this.engine.store.countByStatus();
    return buildStatistics(this.engine, this.collector, byStatus);
  }

  /** The waiting line's size and shape. */
  async getQueueStatus(): Promise<QueueStatus> {
    const totalSize = this.engine.waitingCount;
    const maxSize = this.engine.currentSettings.maxQueueSize;
    return {
      totalSize,
      maxSize,
      isFull: totalSize >= maxSize,
      isEmpty: totalSize === 0,
      byPriority: this.engine.waitingByPriority(),
      running: this.engine.runningCount,
    };
  }

  // ─── settings and maintenance ───────────────────────────────────────────────────────────────

  /**
   * Changes limits and budgets while running (`maxConcurrent`, `maxQueueSize`, `requestsPerMinute`,
   * `requestsPerHour`, `tokensPerMinute`, `windows`, `modelLimits`, `budgetLimit`, `dailyLimit`,
   * `hourlyLimit`). Lowering one never interrupts a running call.
   */
  adjustSettings(changes: AdjustableSettings): void {
    this.engine.adjustSettings(changes);
    this.logger.info?.('settings changed', { changed: Object.keys(changes) });
  }

  /**
   * Removes finished tasks that ended more than `olderThanHours` ago (hours, or a string with
   * units: `'1d'`, `'90m'`); resolves with how many.
   */
  async cleanupOldTasks(options: { olderThanHours: number | DurationString }): Promise<number> {
    const { olderThanHours } = parseOrThrow(CleanupSchema, options, 'options');
    return this.engine.cleanupFinished(this.clock.now() - olderThanHours * HOUR_MS);
  }

  /**
   * Listens to one event type; returns the function that stops listening. What the listener
   * throws is logged (`logger.error`), never thrown into the queue.
   */
  on<K extends EngineEventType>(type: K, listener: EventListener<K>): () => void {
    const eventType = parseOrThrow(EventTypeSchema, type, 'type');
    const fn = parseOrThrow(ListenerSchema, listener, 'listener') as EventListener<K>;
    const subscription = this.engine.events$.subscribe((event) => {
      if (event.type !== eventType) return;
      const taskId = 'taskId' in event ? event.taskId : undefined;
      this.invoke(`'${eventType}' listener`, taskId, () => fn(event as EventOf<K>));
    });
    return () => subscription.unsubscribe();
  }

  /** The root actor (the supervisor): inspect it, or read its children by `systemId`. */
  get supervisor(): Actor<typeof supervisorMachine> {
    return this.engine.supervisor;
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────────

  private observe(event: EngineEvent): void {
    switch (event.type) {
      case 'task.progress':
        this.call(event.taskId, 'onProgress', (cb) =>
          (cb as ProgressCallback)(event.progress, event.current, event.total),
        );
        break;
      case 'store.error':
        this.logger.warn?.('store write failed', { taskId: event.taskId, error: event.error });
        break;
      default:
        break;
    }
    if (this.sizeWaiters.length > 0) this.releaseSizeWaiters();
    // Held while there is work, released when there is none: a failed attempt passes through
    // "nothing running, nothing waiting" (its usage is reported before it goes back in line to
    // retry), so the hold is taken again as soon as the retry waits.
    if (this.engine.waitingCount === 0 && this.engine.runningCount === 0) {
      this.keepAlive.release();
    } else if (!this.engine.stopRequested) {
      this.keepAlive.hold();
    }
  }

  private releaseSizeWaiters(): void {
    const size = this.engine.waitingCount;
    for (let i = this.sizeWaiters.length - 1; i >= 0; i--) {
      const waiter = this.sizeWaiters[i] as { below: number; resolve: () => void };
      if (size < waiter.below) {
        this.sizeWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** The engine's synchronous hook: the task is terminal and still in the store. */
  private finished(record: TaskRecord): void {
    const cleanup = this.signalCleanups.get(record.id);
    if (cleanup !== undefined) {
      this.signalCleanups.delete(record.id);
      cleanup();
    }
    const callbacks = this.callbacks.get(record.id);
    if (callbacks === undefined) return;
    this.callbacks.delete(record.id);
    const hook = record.status === 'completed' ? callbacks.onComplete : callbacks.onError;
    if (hook === undefined) return;
    const info = toTaskInfo(this.engine, record);
    const name = record.status === 'completed' ? 'onComplete' : 'onError';
    this.invoke(`${name} callback`, record.id, () => hook(info));
  }

  private call(
    id: string,
    name: keyof Callbacks,
    fn: (cb: NonNullable<Callbacks[keyof Callbacks]>) => unknown,
  ): void {
    const cb = this.callbacks.get(id)?.[name];
    if (cb !== undefined) this.invoke(`${name} callback`, id, () => fn(cb));
  }

  /** Runs user code; what it throws (or rejects with) is logged, never thrown into the queue. */
  private invoke(what: string, taskId: string | undefined, fn: () => unknown): void {
    const report = (error: unknown) => {
      try {
        this.logger.error?.(
          taskId === undefined ? `${what} failed` : `${what} of task '${taskId}' failed`,
          {
            ...(taskId === undefined ? {} : { taskId }),
            error: describeThrown(error) ?? UNSHOWABLE_MESSAGE,
          },
        );
      } catch {
        // A logger that throws has nowhere else to report to; the queue goes on.
      }
    };
    try {
      const out = fn();
      if (out instanceof Promise) out.catch(report);
    } catch (error) {
      report(error);
    }
  }
}

/**
 * Creates a manager and starts it (the seed's `create_ai_task_manager`). Its type knows the task
 * types given (`ManagerTaskTypes`): the built-in ones unless `builtinTaskTypes: false`, and those
 * of `taskTypes` whose names are literal (`defineTaskType`).
 *
 * @example
 * const manager = await createAITaskManager({ taskTypes: [sentiment] }); // + the built-in types
 * const id = await manager.submitTask({ taskType: 'SENTIMENT', data: { review } }); // TaskId<'SENTIMENT'>
 * const { label } = await manager.waitForTask(id); // the output schema's type
 */
export async function createAITaskManager<
  const T extends readonly AnyTaskTypeDefinition[] = [],
  B extends boolean = true,
>(options: TypedManagerOptions<T, B> = {}): Promise<AITaskManager<ManagerTaskTypes<T, B>>> {
  const manager = new AITaskManager<ManagerTaskTypes<T, B>>(options as AITaskManagerOptions);
  await manager.start();
  return manager;
}
