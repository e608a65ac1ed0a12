import { Subject } from 'rxjs';
import type { Actor, AnyActorRef, InspectionEvent, Observer } from 'xstate';
import type { ConcurrencyContext } from '../../machines/concurrency.logic.js';
import type { supervisorMachine } from '../../machines/supervisor.machine.js';
import type { HistoryEntry } from '../../machines/task.machine.js';
import type { Priority } from '../../machines/task-status.js';
import {
  type AdjustableSettings,
  defaultMaxQueueSize,
  type EngineSettings,
  type EngineSettingsInput,
  EngineSettingsSchema,
} from '../config/engine-options.js';
import type { TaskQueueError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import type { BudgetBook } from '../limits/budget-book.js';
import type { ModelPrice } from '../limits/cost.js';
import { resolvePrice } from '../limits/prices.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { SharedLimits } from '../limits/shared.js';
import type { AIClient } from '../providers/types.js';
import { MemoryTaskStore } from '../stores/memory.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import { TaskTypeDefinitionSchema } from '../task-types/definition-schema.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import { type Clock, type RandomSource, systemClock, systemRandom } from '../time/clock.js';
import type { AdmissionLoop, HeadWait } from './admission-loop.js';
import { SupervisorEffects } from './effects.js';
import { assembleParts } from './engine-parts.js';
import type { EngineEvent } from './events.js';
import type { SubmitInput } from './intake.js';
import type { Journal } from './journal.js';
import type { Lifecycle } from './lifecycle.js';
import type { RecoveryCounts } from './recovery.js';
import type { ResourceTakes } from './resources.js';
import type { Retention } from './retention.js';
import type { TaskRunner } from './running.js';
import { adjustedSettings, pricesOf } from './settings.js';
import type { StoreOpening } from './store-opening.js';
import type { CostEstimate, Submission } from './submission.js';
import { createSupervisor, type ResourceLogicOverrides } from './supervisor-actor.js';
import type { TaskActors } from './task-actors.js';
import type { TaskControl } from './task-control.js';
import type { TaskTransport, TransportHost, TransportLink } from './transport.js';
import { errorOf, type TaskWaiters } from './waiters.js';
import { WaitingTasks } from './waiting-tasks.js';

export type { WaitReason } from '../../machines/wait-reason.js';
export type { HeadWait } from './admission-loop.js';
export type { SubmitInput } from './intake.js';
export type { CostEstimate } from './submission.js';

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
   * Rate windows and budgets shared with the other processes of the queue
   * (`openSharedLimits` of `ai-task-queue/redis`); asked last for every limited task.
   */
  sharedLimits?: SharedLimits;
  /**
   * A shared queue this engine works for (`openSharedQueue` of `ai-task-queue/redis`): once
   * started, it takes the queue's tasks when it has room to run them (see transport.ts).
   */
  transport?: TaskTransport;
  /**
   * Replacements for the resource actors' logic, supplied with `.provide({ actors })`, for tests
   * that prove the property tests catch a broken limiter.
   * @internal
   */
  overrides?: ResourceLogicOverrides;
}

/**
 * The queue's engine: the supervisor actor and its limiter children, the waiting line, the live
 * task actors, and the attempts they run. The public facade (`AITaskManager`) wraps it; this class
 * validates its own input and throws only errors of the library's tree. It wires the parts of
 * `src/runtime/` together (see docs/architecture.md, "The engine in parts") and answers the reads.
 */
export class Engine {
  readonly events$ = new Subject<EngineEvent>();
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly store: TaskStore;
  /** The limits shared with the other processes of the queue, if it was given some. */
  readonly sharedLimits: SharedLimits | undefined;
  /**
   * The root actor: every submission that may start, every wave of settled attempts and every
   * wake-up reaches it as an event, watched or not.
   */
  readonly supervisor: Actor<typeof supervisorMachine>;
  /** The supervisor's `rateLimit` and `budget` children, whose snapshots are the limits' state. */
  private readonly rateLimitActor: AnyActorRef;
  private readonly budgetActor: AnyActorRef;

  private settings: EngineSettings;
  private readonly taskTypes = new Map<string, AnyTaskTypeDefinition>();
  private prices: Record<string, ModelPrice> = {};
  private readonly startedAt: number;
  /** What the supervisor's actions ask for, carried out right after its step. */
  private readonly effects = new SupervisorEffects((event) => this.supervisor.send(event));

  /** The slots, reservations and holds that running tasks took. */
  private readonly resources: ResourceTakes;
  // The other parts: each module's header says what it is for.
  private readonly waiting = new WaitingTasks();
  private readonly waiters: TaskWaiters;
  private readonly taskActors: TaskActors;
  private readonly retention: Retention;
  private readonly runner: TaskRunner;
  private readonly lifecycle: Lifecycle;
  private readonly control: TaskControl;
  private readonly admission: AdmissionLoop;
  private readonly submission: Submission;
  /** Every write after submission: changed tasks, removals, the ledger (see journal.ts). */
  private readonly journal: Journal;
  /** Opening the store, and bringing back what an earlier process left (see store-opening.ts). */
  private readonly opening: StoreOpening;
  /** The shared queue this engine works for, if any, and its link once connected. */
  /** The shared queue this engine works for, if any. */
  readonly transport: TaskTransport | undefined;
  private link: TransportLink | undefined;

  constructor(settings: EngineSettingsInput, deps: EngineDeps) {
    const parsed = parseOrThrow(EngineSettingsSchema, settings, 'options');
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom;
    this.store = deps.store ?? new MemoryTaskStore();
    this.sharedLimits = deps.sharedLimits;
    this.transport = deps.transport;
    this.settings = {
      ...parsed,
      maxQueueSize: parsed.maxQueueSize ?? defaultMaxQueueSize(this.store.durable),
    };
    for (const definition of deps.taskTypes ?? []) this.registerTaskType(definition);
    this.prices = pricesOf(this.settings);
    this.startedAt = this.clock.now();
    const parts = assembleParts({
      clock: this.clock,
      random: this.random,
      store: this.store,
      client: deps.client,
      waiting: this.waiting,
      effects: this.effects,
      taskTypes: this.taskTypes,
      onFinished: deps.onFinished,
      sharedLimits: deps.sharedLimits,
      transported: deps.transport !== undefined,
      link: () => this.link,
      emit: this.emit,
      settings: () => this.settings,
      priceOf: (model) => this.priceOf(model),
      hasBudget: () => this.hasBudget(),
      rateLimiter: () => this.rateLimiter,
      budget: () => this.budget,
      concurrency: () => this.concurrency,
      supervisor: () => this.supervisor,
      sendToRateLimit: (event) => this.rateLimitActor.send(event),
    });
    this.journal = parts.journal;
    this.resources = parts.resources;
    this.taskActors = parts.taskActors;
    this.waiters = parts.waiters;
    this.retention = parts.retention;
    this.runner = parts.runner;
    this.lifecycle = parts.lifecycle;
    this.control = parts.control;
    this.admission = parts.admission;
    this.submission = parts.submission;
    this.opening = parts.opening;
    const { admission, control, runner, lifecycle } = parts;

    this.supervisor = createSupervisor({
      clock: this.clock,
      settings: this.settings,
      actions: this.effects.actions({ admission, control, runner, lifecycle }),
      isIdle: () => runner.busy === 0,
      overrides: deps.overrides,
      inspect: deps.inspect,
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

  // ─── lifecycle (documented in lifecycle.ts) ────────────────────────────────────────────────

  start(): void {
    this.lifecycle.start();
    if (this.transport !== undefined && this.link === undefined && this.lifecycle.isRunning) {
      this.link = this.transport.connect(this.transportHost());
    }
  }

  /**
   * Opens the store: with a durable one, brings back what an earlier process left before anything
   * is submitted or admitted (see store-opening.ts). Once; later calls share the first.
   */
  open(): Promise<RecoveryCounts | undefined> {
    return this.opening.open();
  }

  get isRunning(): boolean {
    return this.lifecycle.isRunning;
  }

  get isStopping(): boolean {
    return this.lifecycle.isStopping;
  }

  get stopRequested(): boolean {
    return this.lifecycle.stopRequested;
  }

  get isPaused(): boolean {
    return this.lifecycle.isPaused;
  }

  /** Stops (see lifecycle.ts); resolves once the last writes are in the store too. */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    // A shared queue's link stops taking tasks and gives back those that wait here; it is done
    // once the running ones it took have ended and been reported.
    // It stays connected until then: a running task that is to retry still goes back to it.
    const link = this.link;
    const closed = link?.close();
    await this.lifecycle.stop(options);
    await closed;
    if (this.link === link) this.link = undefined;
    await this.journal.settled();
  }

  pause(): void {
    this.lifecycle.pause();
  }

  /** Resumes admission; a provider or model refused (`ProviderRefusedError`) may be tried again. */
  resume(): void {
    this.rateLimitActor.send({ type: 'rate.clearRefusals' });
    this.lifecycle.resume();
  }

  onIdle(): Promise<void> {
    return this.lifecycle.onIdle();
  }

  // ─── task types and settings ───────────────────────────────────────────────────────────────

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

  // ─── submission, control of single tasks (documented in submission.ts, task-control.ts) ────

  /** Validates and enqueues one task. */
  async submit(input: SubmitInput): Promise<string> {
    const [id] = await this.submitMany([input]);
    return id as string;
  }

  /**
   * Validates and enqueues tasks, all or none, once the store is open; `onAccepted` gets the ids
   * (in input order) and those returned for a known idempotency key.
   */
  async submitMany(
    inputs: readonly SubmitInput[],
    onAccepted?: (ids: readonly string[], reused: ReadonlySet<string>) => void,
  ): Promise<string[]> {
    await this.open();
    return this.submission.submitMany(inputs, onAccepted);
  }

  estimateCost(input: SubmitInput): CostEstimate {
    return this.submission.estimateCost(input);
  }

  cancel(id: string): Promise<boolean> {
    return this.control.cancel(id);
  }

  pauseTask(id: string): boolean {
    return this.control.pauseTask(id);
  }

  resumeTask(id: string): boolean {
    return this.control.resumeTask(id);
  }

  /** Changes limits and budgets at run time. Lowering a limit never interrupts a running call. */
  adjustSettings(changes: AdjustableSettings): void {
    const { next, changed, events } = adjustedSettings(this.settings, changes);
    this.settings = next;
    const system = this.supervisor.system;
    for (const { to, event } of events) system.get(to)?.send(event);
    this.rateLimitActor.send({ type: 'rate.clearRefusals' });
    this.emit({ type: 'settings.changed', at: this.clock.now(), changed });
    this.effects.dispatch({ type: 'queue.settings' });
  }

  /** Sets the total spent back to zero (the seed's `cost_controller.reset_total_cost()`). */
  resetTotalCost(): void {
    this.resources.resetTotal(this.clock.now());
    this.effects.dispatch({ type: 'queue.settings' });
  }

  get currentSettings(): Readonly<EngineSettings> {
    return this.settings;
  }

  // ─── reads (those that delegate are documented in their module) ────────────────────────────

  /** The task as stored, once the changes made before this call are (read your writes). */
  async getTask(id: string): Promise<TaskRecord | undefined> {
    await this.journal.settled();
    return this.store.get(id);
  }

  /** Resolves once the changes made so far are in the store (or their write failed). */
  written(): Promise<void> {
    return this.journal.settled();
  }

  historyOf(record: TaskRecord): HistoryEntry[] {
    return this.runner.historyOf(record);
  }

  /** Position in line (0 = next), when waiting and due. */
  positionOf(id: string): number | undefined {
    return this.waiting.line.positionOf(id);
  }

  headWait(): HeadWait | undefined {
    return this.admission.whyHeadWaits(this.isPaused);
  }

  /** The models whose own limits hold their first waiting task, and what each waits for. */
  heldModels(): ReadonlyMap<string, HeadWait> {
    return this.admission.heldModels();
  }

  get waitingCount(): number {
    return this.waiting.size;
  }

  get runningCount(): number {
    return this.resources.slotsInUse;
  }

  get liveActorCount(): number {
    return this.runner.running.size + this.taskActors.retryingCount;
  }

  waitingByPriority(): Record<Priority, number> {
    return this.waiting.countByPriority();
  }

  waitingRecords(): TaskRecord[] {
    return this.waiting.records();
  }

  get concurrency(): ConcurrencyContext {
    const ref = this.supervisor.system.get('concurrency') as AnyActorRef | undefined;
    return ref
      ? (ref.getSnapshot().context as ConcurrencyContext)
      : { max: this.settings.maxConcurrent, used: 0 };
  }

  get nextWakeAt(): number | undefined {
    return this.admission.wakeAt;
  }

  get uptimeMs(): number {
    return this.clock.now() - this.startedAt;
  }

  waitFor(id: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    return this.waiters.waitFor(id, options);
  }

  errorOf(record: TaskRecord): TaskQueueError {
    return errorOf(record);
  }

  async cleanupFinished(before: number): Promise<number> {
    await this.open();
    return this.retention.cleanup(before);
  }

  priceOf(model: string): ModelPrice | undefined {
    return resolvePrice(model, this.prices);
  }

  // ─── helpers ───────────────────────────────────────────────────────────────────────────────

  /** What a shared queue may do with this engine (see transport.ts). */
  private transportHost(): TransportHost {
    return {
      clock: this.clock,
      events$: this.events$,
      room: () => {
        const { lifecycle } = this;
        if (!lifecycle.isRunning || lifecycle.isPaused || lifecycle.stopRequested) return 0;
        const { max, used } = this.concurrency;
        const free = max - used - this.waiting.size;
        if (free <= 0) return 0;
        // A task here waits for a limit: the next one taken would wait too (not while the
        // shared limits are only answering: the next take follows at once).
        const held = this.headWait() !== undefined && !this.admission.askingShared;
        return this.waiting.size > 0 && held ? 0 : free;
      },
      prepare: (input, id, createdAt) => this.submission.prepareTaken(input, id, createdAt),
      adopt: (record) =>
        this.submission.adopt(record, (r) =>
          this.taskActors.send(r, { type: 'task.interrupt', at: this.clock.now() }),
        ),
      get: (id) => this.getTask(id),
      forget: (id) => {
        // A task cancelled mid-call goes too: its attempt settles into a record no longer kept.
        this.waiting.remove(id);
        this.journal.remove([id]).catch(() => undefined);
      },
      cancel: (id) => this.cancel(id),
      pause: () => this.pause(),
      resume: () => this.resume(),
    };
  }

  private readonly emit = (event: EngineEvent): void => {
    this.events$.next(event);
  };

  private hasBudget(): boolean {
    const s = this.settings;
    return s.budgetLimit !== undefined || s.dailyLimit !== undefined || s.hourlyLimit !== undefined;
  }
}
