/**
 * `AITaskManager`, the queue as users meet it, and `createAITaskManager`. Its parts are in
 * `manager/`: the checks of its input, its public types, the reading of its options, its hooks.
 */

import type { Observable } from 'rxjs';
import type { Actor } from 'xstate';
import type { z } from 'zod';
import type { supervisorMachine } from '../machines/supervisor.machine.js';
import type { Priority } from '../machines/task-status.js';
import type { AdjustableSettings } from './config/engine-options.js';
import type {
  AITaskManagerOptions,
  Logger,
  ResolvedManagerOptions,
} from './config/manager-options.js';
import { WaitTimeoutError } from './errors.js';
import type { DurationString } from './internal/duration.js';
import { parseOrThrow } from './internal/validate.js';
import type { SharedSpending } from './limits/shared.js';
import { preloadEncoding } from './limits/tokens.js';
import { waitWithin } from './manager/bounded-wait.js';
import { costControllerOf, queueStatusOf, StatsFeed } from './manager/figures.js';
import {
  CleanupSchema,
  EventTypeSchema,
  type GetTasksQuery,
  ListenerSchema,
  type ManagerTaskConfigSchema,
  parseBatch,
  parseTask,
  parseTaskQuery,
  SizeSchema,
  StopSchema,
  TaskIdSchema,
  TaskIdsSchema,
  toEngineInput,
  WaitOptionsSchema,
} from './manager/input-schemas.js';
import { resolveManagerOptions } from './manager/resolve-options.js';
import { SizeWaiters } from './manager/size-waiters.js';
import { TaskHooks } from './manager/task-hooks.js';
import type {
  BatchTaskInput,
  CostController,
  EventListener,
  ManagerTaskTypes,
  QueueStatus,
  SubmitTaskInput,
  TaskId,
  TaskInfoPage,
  TaskResultFor,
  TypedManagerOptions,
} from './manager/types.js';
import { type CostEstimate, Engine, type SubmitInput } from './runtime/engine.js';
import type { EngineEvent, EngineEventType } from './runtime/events.js';
import { KeepAlive } from './runtime/keep-alive.js';
import { type TaskInfo, toTaskInfo } from './runtime/task-info.js';
import type { SharedQueueStatistics } from './runtime/transport.js';
import { StatsCollector } from './stats/collector.js';
import { buildStatistics } from './stats/statistics.js';
import type { Statistics } from './stats/types.js';
import type {
  AnyTaskTypeDefinition,
  TaskTypeName,
  TaskTypeRegistry,
  UntypedTaskTypes,
} from './task-types/types.js';
import { type Clock, systemClock } from './time/clock.js';

export type {
  GetTasksQuery,
  ProgressCallback,
  TaskCallback,
  TaskConfig,
} from './manager/input-schemas.js';
export type * from './manager/types.js';

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
  private readonly hooks: TaskHooks;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly keepAlive: KeepAlive;
  /** The built-in task types are registered: they count tokens at submit. */
  private readonly countsTokens: boolean;
  private readonly sizeWaiters = new SizeWaiters();
  private readonly statsFeed: StatsFeed;
  private stopTold = false;

  constructor(options: AITaskManagerOptions = {}) {
    const { settings, deps, shown, logger, builtinTaskTypes, statsIntervalMs } =
      resolveManagerOptions(options);
    this.clock = deps.clock;
    this.logger = logger;
    this.options = Object.freeze(shown);
    this.hooks = new TaskHooks(
      this.logger,
      (id) => this.engine.cancel(id),
      (record) => toTaskInfo(this.engine, record),
    );
    this.engine = new Engine(settings, {
      ...deps,
      onFinished: (record) => this.hooks.finished(record),
    });
    this.keepAlive = new KeepAlive(this.clock === systemClock);
    this.countsTokens = builtinTaskTypes;
    this.events$ = this.engine.events$.asObservable();
    this.collector.attach(this.engine.events$);
    this.engine.events$.subscribe((event) => this.observe(event));

    this.statsFeed = new StatsFeed(this.engine.events$, statsIntervalMs, this.clock, () =>
      this.getStatistics(),
    );
    this.stats$ = this.statsFeed.stats$;
    this.costController = costControllerOf(this.engine, this.collector, (task) =>
      this.estimateCost(task),
    );
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
    this.statsFeed.tick();
  }

  /**
   * Stops admitting. Running calls finish (or, with `force`, are aborted and end `cancelled`);
   * waiting tasks stay in the store as they are. Resolves when no call is running.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    const { force } = parseOrThrow(StopSchema, options, 'options');
    const stopped = this.engine.stop(force === undefined ? {} : { force });
    // Nothing more is admitted: the line will not shrink by itself.
    this.sizeWaiters.releaseAll();
    await stopped;
    this.keepAlive.release();
    if (this.stopTold) return;
    this.stopTold = true;
    this.logger.info?.('ai-task-queue stopped', { force: force === true });
    this.statsFeed.stopped();
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
    return this.sizeWaiters.wait(below);
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
    const parsed = parseTask(task);
    parsed.signal?.throwIfAborted();
    const [id] = await this.enqueue([toEngineInput(parsed)], [parsed.config], parsed.signal);
    return id as TaskId<K>;
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
    const { inputs, configs, signal } = parseBatch(tasks, options);
    signal?.throwIfAborted();
    return this.enqueue(inputs, configs, signal) as Promise<TaskId<K>[]>;
  }

  /** What a task would reserve and could cost, without submitting it. */
  estimateCost<K extends TaskTypeName<R>>(task: SubmitTaskInput<R, K>): CostEstimate {
    return this.engine.estimateCost(toEngineInput(parseTask(task)));
  }

  private async enqueue(
    inputs: readonly SubmitInput[],
    configs: ReadonlyArray<z.output<typeof ManagerTaskConfigSchema> | undefined>,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    // Set up before the tasks join the line: one may end before `submitMany` resolves.
    // A task returned for its idempotency key keeps the callbacks and signal it was given.
    return this.engine.submitMany(inputs, (all, reused) => {
      this.hooks.track(all, reused, configs, signal);
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
    const parsed = parseTaskQuery(query, this.engine);
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
    return waitWithin((aborted) => this.engine.waitFor(id, { signal: aborted }), {
      clock: this.clock,
      timeout,
      signal,
      timedOut: (seconds) => new WaitTimeoutError(id, seconds),
    }) as Promise<TaskResultFor<R, Id>>;
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
    const [spending, queue] = await Promise.all([this.sharedSpending(), this.sharedQueue()]);
    return buildStatistics(this.engine, this.collector, byStatus, { spending, queue });
  }

  /** The whole shared queue this manager works for, over every worker, if it can be read. */
  private async sharedQueue(): Promise<SharedQueueStatistics | undefined> {
    const queue = this.engine.transport;
    if (queue?.getStatistics === undefined) return undefined;
    try {
      return await queue.getStatistics();
    } catch (error) {
      this.logger.warn?.('shared queue: could not read its statistics', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /** What every process given the same shared limits spent and holds, if it can be read. */
  private async sharedSpending(): Promise<SharedSpending | undefined> {
    const shared = this.engine.sharedLimits;
    if (shared?.spending === undefined) return undefined;
    try {
      return await shared.spending(this.clock.now(), this.engine.currentSettings.budgetTimeZone);
    } catch (error) {
      this.logger.warn?.('shared limits: could not read what the processes spent', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /** The waiting line's size and shape. */
  async getQueueStatus(): Promise<QueueStatus> {
    return queueStatusOf(this.engine);
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
    return this.hooks.listen(this.engine.events$, eventType, fn);
  }

  /** The root actor (the supervisor): inspect it, or read its children by `systemId`. */
  get supervisor(): Actor<typeof supervisorMachine> {
    return this.engine.supervisor;
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────────

  private observe(event: EngineEvent): void {
    if (event.type === 'task.progress') this.hooks.progress(event);
    else if (event.type === 'store.error') {
      this.logger.warn?.('store write failed', { taskId: event.taskId, error: event.error });
    }
    if (this.sizeWaiters.pending) this.sizeWaiters.release(this.engine.waitingCount);
    // Held while there is work, released when there is none: a failed attempt passes through
    // "nothing running, nothing waiting" (its usage is reported before it goes back in line to
    // retry), so the hold is taken again as soon as the retry waits.
    if (this.engine.waitingCount === 0 && this.engine.runningCount === 0) {
      this.keepAlive.release();
    } else if (!this.engine.stopRequested) {
      this.keepAlive.hold();
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
