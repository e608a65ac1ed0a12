/**
 * The engine's parts, made and wired together: the journal, the resource takes, task actors,
 * waiters, retention, settlement, the runner and the provider's signals, the lifecycle, control of
 * single tasks, the admission loop, submission and the store's opening. Each part is told only
 * what its own deps interface names; what it needs of the engine (its settings, its resource
 * actors' snapshots, the supervisor's system) it reads through {@link PartsHost}, late, because
 * the supervisor is made after its parts.
 */

import type { Actor, AnyActorRef } from 'xstate';
import type { ConcurrencyContext } from '../../machines/concurrency.logic.js';
import type { RateLimitEvent } from '../../machines/rate-limit.logic.js';
import type { supervisorMachine } from '../../machines/supervisor.machine.js';
import { type EngineSettings, TaskConfigSchema } from '../config/engine-options.js';
import { serializeError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import type { BudgetBook } from '../limits/budget-book.js';
import type { ModelPrice } from '../limits/cost.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { SharedLimits } from '../limits/shared.js';
import type { AIClient } from '../providers/types.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import {
  type Clock,
  monotonicNow,
  monotonicOfWall,
  type RandomSource,
  wallOfMonotonic,
} from '../time/clock.js';
import type { AdmissionView } from './admission.js';
import { AdmissionLoop } from './admission-loop.js';
import { ChildTasks } from './child-tasks.js';
import type { SupervisorEffects } from './effects.js';
import type { EngineEvent } from './events.js';
import type { IntakeContext } from './intake.js';
import { Journal } from './journal.js';
import { Lifecycle } from './lifecycle.js';
import { ProviderSignals } from './provider-signals.js';
import { ResourceTakes } from './resources.js';
import { Retention } from './retention.js';
import { TaskRunner } from './running.js';
import { environmentOf } from './settings.js';
import { Settlement } from './settlement.js';
import { SharedTakes } from './shared-limits.js';
import { StoreOpening } from './store-opening.js';
import { Submission } from './submission.js';
import { TaskActors } from './task-actors.js';
import { TaskControl } from './task-control.js';
import type { TransportLink } from './transport.js';
import { errorOf, TaskWaiters } from './waiters.js';
import type { WaitingTasks } from './waiting-tasks.js';

/** What the parts read of the engine that holds them; read late, never copied. */
export interface PartsHost {
  clock: Clock;
  random: RandomSource;
  store: TaskStore;
  client: AIClient;
  waiting: WaitingTasks;
  effects: SupervisorEffects;
  taskTypes: ReadonlyMap<string, AnyTaskTypeDefinition>;
  onFinished: ((record: TaskRecord) => void) | undefined;
  /** Limits shared with the other processes of the queue, if any. */
  sharedLimits: SharedLimits | undefined;
  /** Whether the engine works for a shared queue (see transport.ts). */
  transported: boolean;
  /** The shared queue's link, once the engine has started and connected to it. */
  link(): TransportLink | undefined;
  emit(event: EngineEvent): void;
  settings(): EngineSettings;
  priceOf(model: string): ModelPrice | undefined;
  hasBudget(): boolean;
  /** The `rateLimit` actor's snapshot. */
  rateLimiter(): RateLimiter;
  /** The `budget` actor's snapshot. */
  budget(): BudgetBook;
  /** The `concurrency` actor's snapshot. */
  concurrency(): ConcurrencyContext;
  /** The root actor (made after the parts). */
  supervisor(): Actor<typeof supervisorMachine>;
  sendToRateLimit(event: RateLimitEvent): void;
}

/** The parts the engine keeps, to delegate to and to answer reads from. */
export interface EngineParts {
  journal: Journal;
  resources: ResourceTakes;
  taskActors: TaskActors;
  waiters: TaskWaiters;
  retention: Retention;
  runner: TaskRunner;
  lifecycle: Lifecycle;
  control: TaskControl;
  admission: AdmissionLoop;
  submission: Submission;
  opening: StoreOpening;
}

/** Makes the engine's parts and wires each to the others it needs. */
export function assembleParts(host: PartsHost): EngineParts {
  const { clock, store, waiting, emit } = host;
  const { dispatch } = host.effects;
  // Parts made further down are reached through these closures, only once all exist.
  let opening: StoreOpening;
  let submission: Submission;
  let control: TaskControl;
  let lifecycle: Lifecycle;
  let admission: AdmissionLoop;
  let runner: TaskRunner;

  const journal = new Journal({
    store,
    clock,
    emit,
    compact: () => {
      opening.compact().catch(() => undefined);
    },
    beforeCommit: () => admission.flushSettled(),
  });
  /** Writes a task back to the store with the journal's next commit (failures: `store.error`). */
  const persist = (record: TaskRecord): void => journal.persist(record);
  // Snapshots are kept when an attempt starts and when it is to retry: for a durable store, and
  // for a shared queue, which carries them to whichever process takes the task next.
  const keepsSnapshots = journal.durable || host.transported;
  const settings = host.settings();
  const sharedTakes =
    host.sharedLimits === undefined
      ? undefined
      : new SharedTakes(
          host.sharedLimits,
          () => host.settings(),
          (taskId, error) => {
            emit({ type: 'store.error', at: clock.now(), taskId, error: serializeError(error) });
          },
          clock,
        );
  /** What task intake reads of the engine (settings, task types, prices, windows). */
  const intake: IntakeContext = {
    get settings() {
      return host.settings();
    },
    // The resolved default task config, shared by every task submitted without overrides.
    defaultConfig: Object.freeze(
      parseOrThrow(TaskConfigSchema, settings.taskDefaults, 'options.taskDefaults'),
    ),
    taskType: (name) => host.taskTypes.get(name),
    taskTypeNames: () => [...host.taskTypes.keys()],
    environment: (config) => environmentOf(host.settings(), config),
    priceOf: (model) => host.priceOf(model),
    hasBudget: () => host.hasBudget(),
    canEverFit: (model, requests, tokens) => host.rateLimiter().canEverFit(model, requests, tokens),
  };
  const resources = new ResourceTakes({
    rateNow: () => monotonicNow(clock),
    wallOf: (mono) => wallOfMonotonic(clock, mono),
    monotonicOf: (wall) => monotonicOfWall(clock, wall),
    actor: (systemId) => host.supervisor().system.get(systemId) as AnyActorRef | undefined,
    rateLimited: () => host.rateLimiter().active,
    budgeted: () => host.hasBudget(),
    ledger: (entry) => journal.ledger(entry),
  });
  const taskActors = new TaskActors(() => host.supervisor().system.get('tasks') as AnyActorRef);
  const waiters = new TaskWaiters({
    store,
    stopped: () => lifecycle.phase === 'stopped',
    holdsLive: (id) => control.holdsLive(id),
  });
  // What most parts are given (each takes what its own deps interface names).
  const shared = { clock, store, emit, persist, dispatch, waiting, waiters, taskActors };
  const childTasks = new ChildTasks({
    submitMany: (inputs, onAccepted) => submission.submitMany(inputs, onAccepted),
    cancel: (id) => control.cancelNow(id),
  });
  const retention = new Retention({
    ...shared,
    remove: (ids) => journal.remove(ids),
    isRunning: (id) => runner.running.has(id),
    policy: (completed) => (completed ? host.settings().keepCompleted : host.settings().keepFailed),
  });
  const settlement = new Settlement({
    ...shared,
    resources,
    childTasks,
    retention,
    errorOf,
    onFinished: host.onFinished,
    shared: sharedTakes,
    enqueue: (record, notBefore) => lifecycle.enqueue(record, notBefore),
    settled: (id) => admission.settled(id),
    durable: keepsSnapshots,
    handOff: (record, notBefore) => host.link()?.handOff(record, notBefore) ?? false,
    forget: (id) => {
      waiting.remove(id);
      journal.remove([id]).catch(() => undefined);
    },
  });
  runner = new TaskRunner({
    ...shared,
    written: () => journal.written(),
    startWritten: (id) => {
      const recorded = host.link()?.written?.(id);
      return recorded === undefined
        ? journal.written()
        : Promise.all([journal.written(), recorded]).then(() => undefined);
    },
    durable: keepsSnapshots,
    slotReturned: (id) => admission.settled(id),
    settlement,
    random: host.random,
    client: host.client,
    taskTypes: host.taskTypes,
    settings: () => host.settings(),
    priceOf: (model) => host.priceOf(model),
    refused: (refusal) => host.sendToRateLimit({ type: 'rate.refused', refusal }),
    onHints: (model, hints, taskId) => signals.hints(model, hints, taskId),
    onSend: (taskId, written) => signals.sent(taskId, written),
    runChildren: (record, specs, onSettled) => childTasks.run(record, specs, onSettled),
  });
  const signals = new ProviderSignals({
    clock,
    runner,
    resources,
    rateLimiter: () => host.rateLimiter(),
    sendToRateLimit: (event) => host.sendToRateLimit(event),
    shared: sharedTakes,
  });
  lifecycle = new Lifecycle({
    ...shared,
    runner,
    supervisor: () => host.supervisor(),
    runEffects: () => host.effects.run(),
    stopAdmission: () => admission.stop(),
    cancel: (id) => control.cancelNow(id),
  });
  control = new TaskControl({ ...shared, runner, lifecycle, settlement });
  const view: AdmissionView = {
    get stopping() {
      return lifecycle.isStopping;
    },
    get slots() {
      return host.concurrency();
    },
    get rate() {
      return host.rateLimiter();
    },
    budget: {
      check: (now, amount) => host.budget().check(now, amount),
      canEverFit: (amount) => host.budget().ledger.canEverFit(amount),
      held: () => host.budget().ledger.held(),
    },
    get maxServerWaitMs() {
      return host.settings().maxServerWait * 1000;
    },
  };
  admission = new AdmissionLoop({
    ...shared,
    line: waiting.line,
    view,
    lifecycle,
    control,
    park: (record) => waiting.park(record),
    shared: sharedTakes,
    start: (record, now, limited, sharedTake) => {
      if (limited) resources.take(record, now);
      if (sharedTake !== undefined) sharedTakes?.keep(record.id, sharedTake);
      runner.start(record, now, limited);
    },
  });
  submission = new Submission({
    ...shared,
    intake,
    runner,
    lifecycle,
    control,
    admission,
    budget: () => host.budget(),
    concurrency: () => host.concurrency(),
  });
  opening = new StoreOpening({
    ...shared,
    settings: () => host.settings(),
    journal,
    lifecycle,
    submission,
    resources,
  });
  return {
    journal,
    resources,
    taskActors,
    waiters,
    retention,
    runner,
    lifecycle,
    control,
    admission,
    submission,
    opening,
  };
}
