import { Subject } from 'rxjs';
import {
  type Actor,
  type AnyActorRef,
  createActor,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import type { BudgetLogic } from '../../machines/budget.logic.js';
import type { ConcurrencyContext, ConcurrencyLogic } from '../../machines/concurrency.logic.js';
import type { RateLimitLogic } from '../../machines/rate-limit.logic.js';
import { type SupervisorEvent, supervisorMachine } from '../../machines/supervisor.machine.js';
import type { AttemptOutcome, HistoryEntry } from '../../machines/task.machine.js';
import { isTerminalStatus, type Priority } from '../../machines/task-status.js';
import {
  type AdjustableSettings,
  type EngineSettings,
  type EngineSettingsInput,
  EngineSettingsSchema,
  TaskConfigSchema,
} from '../config/engine-options.js';
import {
  BudgetExceededError,
  QueueFullError,
  QueueStoppedError,
  reviveError,
  type SerializedError,
  serializeError,
  TaskCancelledError,
  TaskNotFoundError,
  type TaskQueueError,
  TaskTimeoutError,
  ValidationError,
} from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import { BudgetBook } from '../limits/budget-book.js';
import { costMicros, type ModelPrice, worstCaseCostMicros } from '../limits/cost.js';
import { microsToDollars, resolvePrice } from '../limits/prices.js';
import { RateLimiter } from '../limits/rate-limiter.js';
import type { AIClient } from '../providers/types.js';
import { MemoryTaskStore } from '../stores/memory.js';
import type { ResolvedTaskConfig, TaskRecord, TaskStore } from '../stores/types.js';
import { TaskTypeDefinitionSchema } from '../task-types/definition-schema.js';
import type { AnyTaskTypeDefinition, TaskEnvironment } from '../task-types/types.js';
import { type Clock, type RandomSource, systemClock, systemRandom } from '../time/clock.js';
import { type AdmissionView, aboveBudget } from './admission.js';
import { AdmissionLoop, type HeadWait } from './admission-loop.js';
import { type AttemptDeps, AttemptHandle, type AttemptMeter, runAttempt } from './attempt.js';
import { ChildTasks } from './child-tasks.js';
import type { EngineEvent } from './events.js';
import { type IntakeContext, prepareTask, type SubmitInput } from './intake.js';
import { ResourceTakes } from './resources.js';
import { Retention } from './retention.js';
import { adjustedSettings, budgetLimitsOf, pricesOf, rateSettingsOf } from './settings.js';
import { type RunningTask, Settlement } from './settlement.js';
import { TaskActors } from './task-actors.js';
import { TaskWaiters } from './waiters.js';
import { WaitingLine } from './waiting-line.js';

export type { WaitReason } from '../../machines/wait-reason.js';
export type { HeadWait } from './admission-loop.js';
export type { SubmitInput } from './intake.js';

/** What `estimateCost` returns; money in US dollars. */
export interface CostEstimate {
  model: string;
  promptTokens: number;
  maxTokens: number;
  /** The prompt alone: the least a call can cost. `undefined` when the model has no price. */
  promptCost: number | undefined;
  /** Prompt × input price + `max_tokens` × output price: what admission holds. */
  worstCaseCost: number | undefined;
}

/** Everything the engine needs besides its settings. */
export interface EngineDeps {
  client: AIClient;
  clock?: Clock;
  random?: RandomSource;
  store?: TaskStore;
  taskTypes?: readonly AnyTaskTypeDefinition[];
  /**
   * Called synchronously when a task reaches its terminal state, before retention may remove it
   * (the manager's `onComplete` / `onError` callbacks).
   */
  onFinished?: (record: TaskRecord) => void;
  /** Attached to the root actor: sees every actor of the system (opt-in). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * Replacements for the resource actors' logic, supplied with `.provide({ actors })`, for tests
   * that prove the property tests catch a broken limiter.
   * @internal
   */
  overrides?: {
    concurrency?: ConcurrencyLogic;
    rateLimit?: RateLimitLogic;
    budget?: BudgetLogic;
  };
}

/**
 * The queue's engine: the supervisor actor and its limiter children, the waiting line, the live
 * task actors, and the attempts they run. The public facade (`AITaskManager`) wraps it; this class
 * validates its own input and throws only errors of the library's tree.
 */
export class Engine {
  readonly events$ = new Subject<EngineEvent>();
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly store: TaskStore;
  /**
   * The root actor: every submission that may start, every wave of settled attempts and every
   * wake-up reaches it as an event, watched or not.
   */
  readonly supervisor: Actor<typeof supervisorMachine>;
  /** The supervisor's `rateLimit` and `budget` children, whose snapshots are the limits' state. */
  private readonly rateLimitActor: AnyActorRef;
  private readonly budgetActor: AnyActorRef;

  private settings: EngineSettings;
  private readonly client: AIClient;
  private readonly taskTypes = new Map<string, AnyTaskTypeDefinition>();
  private readonly line = new WaitingLine();
  private readonly running = new Map<string, RunningTask>();
  /** Task actors: made at admission, kept while a task waits to retry. */
  private readonly taskActors: TaskActors;
  /** Waiting records of paused tasks (out of the line). */
  private readonly paused = new Map<string, TaskRecord>();
  /**
   * Waiting records set aside by `stop()`: they stay queued (in the store, for a later run) but
   * are no longer admitted. Only the children of running composite tasks stay in the line.
   */
  private readonly parked = new Map<string, TaskRecord>();
  private readonly waiters = new TaskWaiters();
  /** The child tasks of running composite tasks. */
  private readonly childTasks: ChildTasks;
  /** What happens when an attempt ends, and when a task ends. */
  private readonly settlement: Settlement;
  private prices: Record<string, ModelPrice> = {};
  private seq = 0;
  private state: 'created' | 'running' | 'stopping' | 'stopped' = 'created';
  private stopWaiters: Array<() => void> = [];
  private readonly effects: Array<() => void> = [];
  /** The supervisor's `admit` and `scheduleWake` actions as effects, made once. */
  private readonly admitEffect = () => this.admission.admit();
  private readonly scheduleWakeEffect = () => this.admission.scheduleWake();
  /** Finished tasks in the order they ended, removed by `keepCompleted` / `keepFailed`. */
  private readonly retention: Retention;
  /** The slots, reservations and holds that running tasks took. */
  private readonly resources: ResourceTakes;
  private draining = false;
  /** `pause()` came before `start()`: the supervisor starts paused. */
  private startPaused = false;
  private idleWaiters: Array<() => void> = [];
  private readonly startedAt: number;
  /** What task intake reads of the engine (settings, task types, prices, windows). */
  private readonly intake: IntakeContext;
  /** What admission reads of the resource actors (one object, read-only). */
  private readonly admissionView: AdmissionView;
  /** The supervisor's admission loop and wake-ups. */
  private readonly admission: AdmissionLoop;
  /** What every attempt needs from the engine (one object, not one per attempt). */
  private readonly attemptDeps: AttemptDeps;
  /** The resolved default task config, shared by every task submitted without overrides. */
  private readonly defaultConfig: ResolvedTaskConfig;

  constructor(settings: EngineSettingsInput, deps: EngineDeps) {
    this.settings = parseOrThrow(EngineSettingsSchema, settings, 'options');
    this.client = deps.client;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom;
    this.store = deps.store ?? new MemoryTaskStore();
    for (const definition of deps.taskTypes ?? []) this.registerTaskType(definition);
    this.prices = pricesOf(this.settings);
    this.startedAt = this.clock.now();
    this.attemptDeps = {
      clock: this.clock,
      random: this.random,
      client: this.client,
      environment: (record) => this.environment(record.config),
      priceOf: (model) => this.priceOf(model),
      maxServerWaitMs: () => this.settings.maxServerWait * 1000,
      onHints: (model, hints) =>
        this.supervisor.system
          .get('rateLimit')
          ?.send({ type: 'rate.hints', at: this.clock.now(), model, hints }),
      onSuspectUsage: (record, attempt, report) =>
        this.emit({
          type: 'usage.suspect',
          taskId: record.id,
          taskType: record.type,
          priority: record.priority,
          at: this.clock.now(),
          attempt,
          ...report,
        }),
      onProgress: (record, progress, current, total) =>
        this.emit({
          type: 'task.progress',
          taskId: record.id,
          taskType: record.type,
          priority: record.priority,
          at: this.clock.now(),
          progress,
          current,
          total,
        }),
      runChildren: (record, specs, onSettled) => this.childTasks.run(record, specs, onSettled),
    };
    this.defaultConfig = Object.freeze(
      parseOrThrow(TaskConfigSchema, this.settings.taskDefaults, 'options.taskDefaults'),
    );
    const engine = this;
    this.intake = {
      get settings() {
        return engine.settings;
      },
      defaultConfig: this.defaultConfig,
      taskType: (name) => this.taskTypes.get(name),
      taskTypeNames: () => this.taskTypeNames,
      environment: (config) => this.environment(config),
      priceOf: (model) => this.priceOf(model),
      hasBudget: () => this.hasBudget(),
      canEverFit: (model, requests, tokens) => this.rateLimiter.canEverFit(model, requests, tokens),
    };
    this.resources = new ResourceTakes({
      actor: (systemId) => this.supervisor.system.get(systemId) as AnyActorRef | undefined,
      rateLimited: () => this.rateLimiter.active,
      budgeted: () => this.hasBudget(),
    });
    this.taskActors = new TaskActors(() => this.supervisor.system.get('tasks') as AnyActorRef);
    this.settlement = new Settlement({
      now: () => this.clock.now(),
      emit: (event) => this.emit(event),
      persist: (record) => this.persist(record),
      resources: this.resources,
      taskActors: this.taskActors,
      childTasks: () => this.childTasks,
      retention: () => this.retention,
      waiters: this.waiters,
      errorOf: (record) => this.errorOf(record),
      onFinished: deps.onFinished,
      enqueue: (record, notBefore) => this.enqueue(record, notBefore),
      settled: (id) => this.admission.settled(id),
    });
    this.childTasks = new ChildTasks({
      submitMany: (inputs, onAccepted) => this.submitMany(inputs, onAccepted),
      cancel: (id) => this.cancelNow(id),
    });
    this.retention = new Retention({
      store: this.store,
      now: () => this.clock.now(),
      emit: (event) => this.emit(event),
      isRunning: (id) => this.running.has(id),
      policy: (completed) => (completed ? this.settings.keepCompleted : this.settings.keepFailed),
    });
    this.admissionView = {
      get stopping() {
        return engine.state === 'stopping';
      },
      get slots() {
        return engine.concurrency;
      },
      get rate() {
        return engine.rateLimiter;
      },
      budget: {
        check: (now, amount) => this.budget.check(now, amount),
        canEverFit: (amount) => this.budget.ledger.canEverFit(amount),
        held: () => this.budget.ledger.held(),
      },
      get maxServerWaitMs() {
        return engine.settings.maxServerWait * 1000;
      },
    };
    this.admission = new AdmissionLoop({
      clock: this.clock,
      line: this.line,
      view: this.admissionView,
      phase: () => this.state,
      startPaused: () => this.startPaused,
      drainsWith: (record) => this.drainsWith(record),
      expire: (record, now) => this.expire(record, now),
      park: (record) => this.parked.set(record.id, record),
      fail: (record, now, error) => this.failWaiting(record, now, error),
      start: (record, now, limited) => {
        if (limited) this.resources.take(record, now);
        this.startTask(record, now, limited);
      },
      settleIdle: () => this.settleIdle(),
      dispatch: (event) => this.dispatch(event),
    });

    const overrides = deps.overrides ?? {};
    const machine = supervisorMachine.provide({
      actors: {
        ...(overrides.concurrency ? { concurrency: overrides.concurrency } : {}),
        ...(overrides.rateLimit ? { rateLimit: overrides.rateLimit } : {}),
        ...(overrides.budget ? { budget: overrides.budget } : {}),
      },
      actions: {
        admit: () => this.defer(this.admitEffect),
        scheduleWake: () => this.defer(this.scheduleWakeEffect),
        cancelTask: ({ event }) => {
          if (event.type === 'task.cancel') this.defer(() => this.cancelNow(event.taskId));
        },
        pauseTask: ({ event }) => {
          if (event.type === 'task.pause') this.defer(() => this.pauseNow(event.taskId));
        },
        resumeTask: ({ event }) => {
          if (event.type === 'task.resume') this.defer(() => this.resumeNow(event.taskId));
        },
        abortRunning: () =>
          this.defer(() => {
            for (const task of this.running.values()) this.cancelNow(task.record.id);
          }),
        finish: () => this.defer(() => this.finishStop()),
      },
      guards: {
        isIdle: () => this.running.size === 0,
      },
    });
    this.supervisor = createActor(machine, {
      clock: this.clock,
      systemId: 'supervisor',
      input: {
        maxConcurrent: this.settings.maxConcurrent,
        limiter: RateLimiter.of(rateSettingsOf(this.settings)),
        ledger: BudgetBook.of(budgetLimitsOf(this.settings), this.settings.budgetTimeZone),
      },
      ...(deps.inspect === undefined ? {} : { inspect: deps.inspect }),
    });
    // Made with the root (before it starts) and kept: after a stop the system forgets them, and
    // the spending and windows stay readable.
    this.rateLimitActor = this.supervisor.system.get('rateLimit') as AnyActorRef;
    this.budgetActor = this.supervisor.system.get('budget') as AnyActorRef;
  }

  /** The rate limits' state: the `rateLimit` actor's snapshot (an immutable value). */
  get rateLimiter(): RateLimiter {
    return this.rateLimitActor.getSnapshot().context.limiter as RateLimiter;
  }

  /** The budgets' state: the `budget` actor's snapshot (an immutable value). */
  get budget(): BudgetBook {
    return this.budgetActor.getSnapshot().context.ledger as BudgetBook;
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Starts admitting. Idempotent while running; a stopped engine cannot start again. */
  start(): void {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new QueueStoppedError('the queue was stopped; create a new one to run again');
    }
    if (this.state !== 'created') return;
    this.state = 'running';
    this.supervisor.start();
    if (this.startPaused) {
      this.dispatch({ type: 'queue.pause' });
      this.startPaused = false;
    }
    this.drain();
  }

  /**
   * Sends an event to the supervisor, then carries out the effects its actions asked for.
   *
   * The supervisor's actions only queue their effects (admit, cancel, …); they run here, right
   * after the supervisor's step, in the same tick. So effects that start task actors or send
   * to the limiter actors never run inside another actor's transition.
   */
  private dispatch(event: SupervisorEvent): void {
    this.supervisor.send(event);
    this.drain();
  }

  private defer(effect: () => void): void {
    this.effects.push(effect);
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let i = 0; i < this.effects.length; i++) (this.effects[i] as () => void)();
    } finally {
      this.effects.length = 0;
      this.draining = false;
    }
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** `stop()` was called and running calls are finishing. */
  get isStopping(): boolean {
    return this.state === 'stopping';
  }

  /** `stop()` was called (the stop may still be finishing). */
  get stopRequested(): boolean {
    return this.state === 'stopping' || this.state === 'stopped';
  }

  get isPaused(): boolean {
    if (this.state === 'created') return this.startPaused;
    return this.supervisor.getSnapshot().value === 'paused';
  }

  /**
   * Stops admitting; resolves when running calls have finished (or were aborted with `force`).
   * Waiting tasks stay queued. A running composite task is running work: its children are still
   * admitted (within every limit) until it ends, unless `force` cancels it; a child of it held
   * with `pauseTask` is cancelled, since the parent could never end otherwise.
   */
  stop(options: { force?: boolean } = {}): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    if (this.state === 'stopping') {
      if (options.force === true) this.dispatch({ type: 'queue.stop', force: true });
      return done;
    }
    if (this.state === 'created') {
      this.state = 'stopped';
      this.finishStop();
      return done;
    }
    this.state = 'stopping';
    this.parkWaiting();
    // A child held with pauseTask would never run, and its running parent would never end, so
    // the stop would wait forever: it is cancelled (not paid for) and its parent hears of it.
    for (const record of [...this.paused.values()]) {
      if (this.drainsWith(record)) this.cancelNow(record.id);
    }
    this.dispatch({ type: 'queue.stop', force: options.force === true });
    return done;
  }

  /** Sets aside every waiting task that is not a child of a running composite task. */
  private parkWaiting(): void {
    for (const record of [...this.line.records()]) {
      if (this.drainsWith(record)) continue;
      this.line.remove(record.id);
      this.parked.set(record.id, record);
    }
  }

  /** Whether a waiting task still runs while the queue stops: a child of a running task. */
  private drainsWith(record: TaskRecord): boolean {
    return record.parentId !== undefined && this.parentRunning(record.parentId);
  }

  /** The task is running and not cancelled (a cancelled call stays in `running` until it settles). */
  private parentRunning(id: string): boolean {
    return this.running.get(id)?.record.status === 'running';
  }

  /** Puts a task (back) in line, or, while stopping, aside unless it drains with its parent. */
  private enqueue(record: TaskRecord, notBefore = 0): void {
    if (this.state !== 'running' && this.state !== 'created' && !this.drainsWith(record)) {
      this.parked.set(record.id, record);
      return;
    }
    this.line.push(record, notBefore);
  }

  /** Holds admission; running calls go on. Before `start()`, the queue will start paused. */
  pause(): void {
    if (this.isPaused) return;
    if (this.state === 'created') {
      this.startPaused = true;
      this.emit({ type: 'queue.paused', at: this.clock.now() });
      return;
    }
    if (this.state !== 'running') return;
    this.dispatch({ type: 'queue.pause' });
    this.emit({ type: 'queue.paused', at: this.clock.now() });
  }

  resume(): void {
    if (!this.isPaused) return;
    if (this.state === 'created') {
      this.startPaused = false;
      this.emit({ type: 'queue.resumed', at: this.clock.now() });
      return;
    }
    this.dispatch({ type: 'queue.resume' });
    this.emit({ type: 'queue.resumed', at: this.clock.now() });
  }

  /**
   * Resolves when nothing is waiting or running (paused tasks excepted), or when the queue has
   * stopped (nothing will run any more).
   */
  onIdle(): Promise<void> {
    if (this.isIdle() || this.state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ─── task types ────────────────────────────────────────────────────────────────────────────

  registerTaskType(definition: AnyTaskTypeDefinition): void {
    parseOrThrow(TaskTypeDefinitionSchema, definition, 'taskType');
    this.taskTypes.set(definition.name, definition);
  }

  taskType(name: string): AnyTaskTypeDefinition | undefined {
    return this.taskTypes.get(name);
  }

  get taskTypeNames(): string[] {
    return [...this.taskTypes.keys()];
  }

  // ─── submit ────────────────────────────────────────────────────────────────────────────────

  /** Validates and enqueues one task. */
  async submit(input: SubmitInput): Promise<string> {
    const [id] = await this.submitMany([input]);
    return id as string;
  }

  /**
   * Validates every task first; enqueues all of them or none. `onAccepted` runs once the tasks are
   * stored and just before they join the line, in the same tick: whatever must be in place when a
   * task ends (callbacks, listeners) is set there, since a task can end before this promise
   * resolves. If it throws, the tasks are removed from the store and `submitMany` rejects with
   * its error.
   */
  async submitMany(
    inputs: readonly SubmitInput[],
    onAccepted?: (ids: readonly string[]) => void,
  ): Promise<string[]> {
    if (this.state === 'stopped') throw new QueueStoppedError();
    if (
      this.state === 'stopping' &&
      !inputs.every((input) => input?.parentId !== undefined && this.parentRunning(input.parentId))
    ) {
      throw new QueueStoppedError();
    }
    const now = this.clock.now();
    const records = inputs.map((input, index) =>
      this.prepare(input, now, inputs.length > 1 ? `tasks[${index}]` : ''),
    );
    const seen = records.length > 1 ? new Set<string>() : undefined;
    let topLevel = 0;
    for (const record of records) {
      if (seen?.has(record.id) || this.line.has(record.id) || this.parked.has(record.id)) {
        throw new ValidationError(`invalid id: a task with id '${record.id}' exists already`, [
          { path: 'id', message: 'duplicate', received: record.id },
        ]);
      }
      seen?.add(record.id);
      if (record.parentId === undefined) topLevel++;
    }
    if (topLevel > 0 && this.waitingCount + topLevel > this.settings.maxQueueSize) {
      throw new QueueFullError(
        `the queue holds ${this.waitingCount} waiting tasks of at most ${this.settings.maxQueueSize} (maxQueueSize); ${topLevel} more do not fit`,
      );
    }
    for (const record of records) this.checkBudgetAtSubmit(record, now);
    for (const record of records) record.seq = ++this.seq;
    await this.store.insert(records);
    const ids = records.map((r) => r.id);
    try {
      onAccepted?.(ids);
    } catch (error) {
      // Nothing of the submission stays: the caller gets the error and no id.
      await this.store.remove(ids).catch(() => 0);
      throw error;
    }
    for (const record of records) {
      this.enqueue(record);
      this.emit({
        type: 'task.submitted',
        taskId: record.id,
        taskType: record.type,
        priority: record.priority,
        at: now,
        parentId: record.parentId,
      });
    }
    // A child whose parent ended (or was cancelled) while it was being stored never runs.
    for (const record of records) {
      if (record.parentId !== undefined && !this.parentRunning(record.parentId)) {
        this.cancelNow(record.id);
      }
    }
    // Only a new head can change what admission decides (the line is strict: nothing behind the
    // head is admitted before it), and only if it could start now. Otherwise the supervisor is
    // not woken: a settling task or an armed wake-up will look at the line again.
    const head = this.line.peek();
    const newHead = head !== undefined && records.includes(head) && this.headMayStart(head);
    const expiry = this.line.nextExpiryAt();
    const wakeAt = this.admission.wakeAt;
    const sooner = expiry !== undefined && (wakeAt === undefined || expiry < wakeAt);
    if (newHead || sooner) this.submitted(ids);
    return ids;
  }

  /** Tells the supervisor that tasks joined the line and the first of them may start now. */
  private submitted(taskIds: string[]): void {
    this.dispatch({ type: 'task.submitted', taskIds });
  }

  private prepare(input: SubmitInput, now: number, prefix: string): TaskRecord {
    return prepareTask(input, now, prefix, this.intake);
  }

  /** The refusal of a worst case that a budget can never hold, on its own (whatever is spent). */
  private aboveBudget(record: TaskRecord): BudgetExceededError | undefined {
    const amount = record.reservation.worstCaseMicros;
    return aboveBudget(amount, this.budget.ledger.canEverFit(amount));
  }

  private checkBudgetAtSubmit(record: TaskRecord, now: number): void {
    const amount = record.reservation.worstCaseMicros;
    if (amount === 0) return;
    const never = this.aboveBudget(record);
    if (never !== undefined) throw never;
    const verdict = this.budget.check(now, amount);
    if (!verdict.ok && verdict.period === 'total') {
      const remaining = this.budget.ledger.remaining(now).total;
      throw new BudgetExceededError(
        `task's worst-case cost $${(amount / 1e6).toFixed(6)} exceeds the remaining total budget $${((remaining ?? 0) / 1e6).toFixed(6)}`,
      );
    }
  }

  /**
   * What a task would reserve and could cost, without submitting it: its model, prompt tokens
   * (counted as the provider counts them), `max_tokens`, the cost of the prompt alone and the
   * worst case (prompt × input price + `max_tokens` × output price), in US dollars. Costs are
   * `undefined` when the model has no price. Validates like `submit`.
   */
  estimateCost(input: SubmitInput): CostEstimate {
    const record = this.prepare(input, this.clock.now(), '');
    // Refused as at submit whatever has been spent: a worst case no budget could ever hold.
    const never = this.aboveBudget(record);
    if (never !== undefined) throw never;
    const { model, promptTokens, maxTokens } = record.reservation;
    const price = this.priceOf(model);
    if (price === undefined || !record.reservation.limited) {
      return { model, promptTokens, maxTokens, promptCost: undefined, worstCaseCost: undefined };
    }
    return {
      model,
      promptTokens,
      maxTokens,
      promptCost: microsToDollars(costMicros(price, promptTokens, 0)),
      worstCaseCost: microsToDollars(worstCaseCostMicros(price, promptTokens, maxTokens)),
    };
  }

  // ─── control of single tasks ───────────────────────────────────────────────────────────────

  /**
   * Cancels a waiting or running task. False when it is unknown or already finished. After
   * `stop()`, a task left waiting can still be cancelled (so a later run does not pick it up).
   */
  async cancel(id: string): Promise<boolean> {
    const record = await this.store.get(id);
    if (record === undefined || isTerminalStatus(record.status)) return false;
    // A store that hands out copies may answer with one read before the task ended: the engine's
    // own state decides (and a task this engine does not run cannot be cancelled by it).
    if (!this.holdsLive(id)) return false;
    if (this.state === 'stopped') {
      // Only what the stop left waiting can still end.
      this.cancelNow(id);
      return true;
    }
    if (this.state === 'created') {
      // The supervisor has not started: an event would wait in its mailbox until after the
      // admission its start runs, and the task would start first.
      this.cancelNow(id);
      return true;
    }
    this.dispatch({ type: 'task.cancel', taskId: id });
    return true;
  }

  /** Holds a waiting task (queued or retrying). False when it is not waiting. */
  pauseTask(id: string): boolean {
    this.assertNotStopped('pauseTask');
    if (!this.line.has(id) && !this.parked.has(id)) return false;
    // Before start, at once (see `cancel`); after, through the supervisor.
    if (this.state === 'created') this.pauseNow(id);
    else this.dispatch({ type: 'task.pause', taskId: id });
    return true;
  }

  /** Puts a paused task back in line. False when it is not paused. */
  resumeTask(id: string): boolean {
    this.assertNotStopped('resumeTask');
    if (!this.paused.has(id)) return false;
    if (this.state === 'created') this.resumeNow(id);
    else this.dispatch({ type: 'task.resume', taskId: id });
    return true;
  }

  private assertNotStopped(method: string): void {
    if (this.state === 'stopped') {
      throw new QueueStoppedError(`${method}: the queue is stopped`);
    }
  }

  /** Changes limits and budgets at run time. Lowering a limit never interrupts a running call. */
  adjustSettings(changes: AdjustableSettings): void {
    const { next, changed, events } = adjustedSettings(this.settings, changes);
    this.settings = next;
    const system = this.supervisor.system;
    for (const { to, event } of events) system.get(to)?.send(event);
    this.emit({ type: 'settings.changed', at: this.clock.now(), changed });
    this.dispatch({ type: 'queue.settings' });
  }

  /** Sets the total spent back to zero (the seed's `cost_controller.reset_total_cost()`). */
  resetTotalCost(): void {
    this.supervisor.system.get('budget')?.send({ type: 'budget.resetTotal' });
    this.dispatch({ type: 'queue.settings' });
  }

  get currentSettings(): Readonly<EngineSettings> {
    return this.settings;
  }

  // ─── reads ─────────────────────────────────────────────────────────────────────────────────

  async getTask(id: string): Promise<TaskRecord | undefined> {
    return this.store.get(id);
  }

  /** The live history of a task (from its actor while it has one). */
  historyOf(record: TaskRecord): HistoryEntry[] {
    const actor = this.running.get(record.id)?.actor ?? this.taskActors.retrying(record.id);
    if (actor) return actor.getSnapshot().context.history;
    return record.history ?? [{ status: 'queued', at: record.createdAt }];
  }

  /** Position in line (0 = next), when waiting and due. */
  positionOf(id: string): number | undefined {
    return this.line.positionOf(id);
  }

  /**
   * Why the head of the line waits, if it does. When no task is due, the first retry to fall
   * due: it waits for its backoff, or for the wait its server asked for.
   */
  headWait(): HeadWait | undefined {
    const first = this.line.peek();
    if (this.isPaused) {
      return first === undefined ? undefined : { taskId: first.id, waitingFor: 'paused' };
    }
    if (first === undefined) {
      const retry = this.line.nextDue();
      if (retry === undefined) return this.admission.head;
      const waitingFor = retry.record.error?.retryAfterMs === undefined ? 'retryDelay' : 'server';
      return { taskId: retry.record.id, waitingFor, until: retry.notBefore };
    }
    if (this.admission.head?.taskId === first.id) return this.admission.head;
    // A head that arrived while no slot was free did not wake the supervisor (nothing could
    // change): it waits for a slot.
    const { used, max } = this.concurrency;
    if (first.reservation.limited && used >= max) {
      return { taskId: first.id, waitingFor: 'concurrency' };
    }
    return this.admission.head;
  }

  get waitingCount(): number {
    return this.line.size + this.paused.size + this.parked.size;
  }

  get runningCount(): number {
    return this.resources.slotsInUse;
  }

  get liveActorCount(): number {
    return this.running.size + this.taskActors.retryingCount;
  }

  waitingByPriority(): Record<Priority, number> {
    const counts = this.line.countByPriority();
    for (const record of this.paused.values()) counts[record.priority]++;
    for (const record of this.parked.values()) counts[record.priority]++;
    return counts;
  }

  get concurrency(): ConcurrencyContext {
    const ref = this.supervisor.system.get('concurrency') as AnyActorRef | undefined;
    return ref
      ? (ref.getSnapshot().context as ConcurrencyContext)
      : { max: this.settings.maxConcurrent, used: 0 };
  }

  /** When the supervisor will next look at the line by itself (ms), if a wake-up is armed. */
  get nextWakeAt(): number | undefined {
    return this.admission.wakeAt;
  }

  get uptimeMs(): number {
    return this.clock.now() - this.startedAt;
  }

  /**
   * Resolves with the task's result; rejects with its error, or `TaskCancelledError`. Aborting
   * `signal` stops waiting (rejects with the signal's reason) and leaves the task alone.
   */
  async waitFor(id: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    const { signal } = options;
    // A task this engine holds is waited for at once, before any store read: with a store that
    // hands out copies, a copy read while the task ends would say it still runs.
    if (this.state !== 'stopped' && this.holdsLive(id)) {
      signal?.throwIfAborted();
      return this.waiters.add(id, signal);
    }
    const record = await this.store.get(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (record.status === 'completed') return record.result;
    if (record.status === 'failed' || record.status === 'cancelled') {
      throw this.errorOf(record);
    }
    signal?.throwIfAborted();
    if (this.state === 'stopped') {
      throw new QueueStoppedError(`the queue stopped before task '${id}' ended`);
    }
    return this.waiters.add(id, signal);
  }

  /**
   * Whether the task is this engine's and has not ended: in line (retries included), held,
   * set aside by a stop, or running (a cancelled call still settling has ended).
   */
  private holdsLive(id: string): boolean {
    if (this.line.has(id) || this.paused.has(id) || this.parked.has(id)) return true;
    const running = this.running.get(id);
    return running !== undefined && !isTerminalStatus(running.record.status);
  }

  errorOf(record: TaskRecord): TaskQueueError {
    if (record.status === 'cancelled') return new TaskCancelledError(record.id);
    return reviveError(
      record.error ?? { name: 'Error', code: 'INTERNAL', message: 'failed', retryable: false },
      record.id,
    );
  }

  // ─── admission (supervisor actions) ────────────────────────────────────────────────────────

  /** Whether admission could start this head task now, as far as a slot is concerned. */
  private headMayStart(head: TaskRecord): boolean {
    if (this.state === 'created' || this.state === 'stopped' || this.isPaused) return false;
    if (!head.reservation.limited) return true;
    const { max, used } = this.concurrency;
    return used < max;
  }

  // ─── running ───────────────────────────────────────────────────────────────────────────────

  private startTask(record: TaskRecord, now: number, limited: boolean): void {
    const actor = this.taskActors.admitted(record, now);
    const attempt = actor.getSnapshot().context.attempts;
    const handle = new AttemptHandle();
    this.running.set(record.id, { record, actor, handle, limited });
    const firstStart = record.startedAt === undefined;
    record.status = 'running';
    record.attempts = attempt;
    record.notBefore = undefined;
    if (firstStart) record.startedAt = now;
    this.persist(record);
    this.emit({
      type: 'task.admitted',
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      attempt,
      limited,
    });
    this.emit({
      type: 'task.started',
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      attempt,
      queueTimeMs: now - record.createdAt,
    });
    const definition = this.taskTypes.get(record.type) as AnyTaskTypeDefinition;
    const deadline = record.config.deadline;
    let timeoutMs: number | undefined = limited ? record.config.timeout * 1000 : undefined;
    if (deadline !== undefined) {
      const left = record.createdAt + deadline * 1000 - now;
      timeoutMs = timeoutMs === undefined ? left : Math.min(timeoutMs, left);
    }
    void runAttempt(definition, record, attempt, handle, timeoutMs, this.attemptDeps).then(
      ({ outcome, meter, result }) => this.finishAttempt(record.id, outcome, meter, result),
    );
  }

  private finishAttempt(
    id: string,
    outcome: AttemptOutcome,
    meter: AttemptMeter,
    result: unknown,
  ): void {
    const task = this.running.get(id);
    if (task === undefined) return;
    this.running.delete(id);
    this.settlement.attemptEnded(task, outcome, meter, result);
  }

  /**
   * Removes every finished task (completed, failed, cancelled) that ended before `before` (ms),
   * including ones a durable store kept from earlier runs; resolves with how many went.
   */
  cleanupFinished(before: number): Promise<number> {
    return this.retention.cleanup(before);
  }

  private expire(record: TaskRecord, now: number): void {
    const error = serializeError(
      new TaskTimeoutError(
        `task '${record.id}' passed its deadline of ${record.config.deadline} s`,
        false,
      ),
    );
    this.failWaiting(record, now, error);
  }

  private failWaiting(record: TaskRecord, now: number, error: SerializedError): void {
    const history = this.taskActors.send(record, { type: 'task.expire', at: now, error });
    this.settlement.finalize(record, history, now);
  }

  private cancelNow(id: string): void {
    const now = this.clock.now();
    const running = this.running.get(id);
    if (running) {
      if (running.record.status === 'cancelled') return;
      running.actor.send({ type: 'task.cancel', at: now });
      running.record.status = 'cancelled';
      running.handle.abort(new TaskCancelledError(id));
      // Whoever waits for it (waitFor, its parent, onFinished) is told once the aborted attempt
      // has settled (in this tick: the abort settles it at once), so they see the prompt charge
      // of the calls it cut off. The slot, reservation and hold come back then too.
      this.settlement.finalize(
        running.record,
        running.actor.getSnapshot().context.history,
        now,
        true,
      );
      return;
    }
    const record = this.line.get(id) ?? this.paused.get(id) ?? this.parked.get(id);
    if (record === undefined) return;
    this.line.remove(id);
    this.paused.delete(id);
    this.parked.delete(id);
    const history = this.taskActors.send(record, { type: 'task.cancel', at: now });
    this.settlement.finalize(record, history, now);
    // It may have been the last one waiting.
    this.settleIdle();
  }

  private pauseNow(id: string): void {
    const record = this.line.get(id) ?? this.parked.get(id);
    if (record === undefined) return;
    const now = this.clock.now();
    this.line.remove(id);
    this.parked.delete(id);
    this.taskActors.send(record, { type: 'task.pause', at: now });
    this.paused.set(id, record);
    this.persist(record);
    this.emit({
      type: 'task.paused',
      taskId: id,
      taskType: record.type,
      priority: record.priority,
      at: now,
    });
    // A paused task does not count as waiting: it may have been the last one.
    this.settleIdle();
  }

  private resumeNow(id: string): void {
    const record = this.paused.get(id);
    if (record === undefined) return;
    const now = this.clock.now();
    this.paused.delete(id);
    this.taskActors.send(record, { type: 'task.resume', at: now });
    const notBefore = record.status === 'retrying' ? (record.notBefore ?? 0) : 0;
    this.enqueue(record, notBefore > now ? notBefore : 0);
    this.persist(record);
    this.emit({
      type: 'task.resumed',
      taskId: id,
      taskType: record.type,
      priority: record.priority,
      at: now,
    });
  }

  // ─── helpers ───────────────────────────────────────────────────────────────────────────────

  private isIdle(): boolean {
    return this.line.size === 0 && this.running.size === 0;
  }

  private settleIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private finishStop(): void {
    this.state = 'stopped';
    // Tasks left waiting to retry keep their machine state (retries used, when the next attempt
    // is due) only in their live actor: it goes into the record, written back for a later run.
    this.taskActors.releaseRetrying(
      (id) => this.line.get(id) ?? this.paused.get(id) ?? this.parked.get(id),
      (record) => this.persist(record),
    );
    this.admission.stop();
    this.waiters.rejectAll(
      (id) => new QueueStoppedError(`the queue stopped before task '${id}' ended`),
    );
    this.emit({ type: 'queue.stopped', at: this.clock.now() });
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const resolve of waiters) resolve();
    // Nothing will run any more: whoever waits for idle stops waiting.
    const idle = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of idle) resolve();
  }

  /** Writes a task back to the store; a failed write is reported as a `store.error` event. */
  private persist(record: TaskRecord): void {
    if (this.store.holdsRecordsByReference === true) return;
    this.store.update(record).catch((error: unknown) => {
      this.emit({
        type: 'store.error',
        at: this.clock.now(),
        taskId: record.id,
        error: serializeError(error),
      });
    });
  }

  private emit(event: EngineEvent): void {
    this.events$.next(event);
  }

  private environment(config: ResolvedTaskConfig): TaskEnvironment {
    return {
      model: config.model ?? this.settings.model,
      embeddingModel: this.settings.embeddingModel,
      maxTokens: config.maxTokens ?? this.settings.maxTokens,
    };
  }

  priceOf(model: string): ModelPrice | undefined {
    return resolvePrice(model, this.prices);
  }

  private hasBudget(): boolean {
    const s = this.settings;
    return s.budgetLimit !== undefined || s.dailyLimit !== undefined || s.hourlyLimit !== undefined;
  }

  /** Every task still waiting (for statistics and listings). */
  waitingRecords(): TaskRecord[] {
    return [...this.line.records(), ...this.paused.values(), ...this.parked.values()];
  }
}
