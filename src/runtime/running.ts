/**
 * Running tasks: starting an admitted task's attempt (its live actor, its record, its events, its
 * timeout) and handing the attempt's end to settlement. One `AttemptDeps` serves every attempt.
 */

import type { AttemptOutcome, HistoryEntry } from '../../machines/task.machine.js';
import type { EngineSettings } from '../config/engine-options.js';
import { refusalScope } from '../errors.js';
import type { RefusalData, SentRequest, SentSince } from '../limits/types.js';
import type { TaskRecord } from '../stores/types.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import { monotonicNow } from '../time/clock.js';
import { type AttemptDeps, AttemptHandle, type AttemptMeter, runAttempt } from './attempt.js';
import type { EngineEvent } from './events.js';
import { environmentOf } from './settings.js';
import { countsFromAnswer, type RunningTask, type Settlement } from './settlement.js';
import type { TaskActors } from './task-actors.js';
import { WarmCalls } from './warm-calls.js';

const WRITTEN: Promise<void> = Promise.resolve();

/** What running tasks need from the engine. */
export interface TaskRunnerDeps
  extends Pick<
    AttemptDeps,
    'clock' | 'random' | 'client' | 'priceOf' | 'onHints' | 'onSend' | 'runChildren'
  > {
  taskTypes: ReadonlyMap<string, AnyTaskTypeDefinition>;
  taskActors: TaskActors;
  settlement: Settlement;
  settings(): EngineSettings;
  /** A refusal no wait cures, for the `rateLimit` actor (`rate.refused`). */
  refused(refusal: RefusalData): void;
  persist(record: TaskRecord): void;
  emit(event: EngineEvent): void;
  /** The journal's write-ahead promise (see journal.ts). */
  written(): Promise<void>;
  /** What an attempt of task `id` waits for before its first call (see `AttemptDeps.written`). */
  startWritten(id: string): Promise<void>;
  /** Whether the store outlives the process (then snapshots and results are written ahead). */
  durable: boolean;
  /**
   * An attempt ended and gave its slot back while its result is still being written ahead: the
   * supervisor may admit into the slot now (`task.settled`), not only once the write lands.
   */
  slotReturned(id: string): void;
}

export class TaskRunner {
  /** The tasks whose attempt runs (a cancelled one stays until its attempt has settled). */
  readonly running = new Map<string, RunningTask>();
  /** Which calls may need a new connection (cold): see warm-calls.ts. */
  readonly warm = new WarmCalls();
  /**
   * Attempts that ended with a result a durable store is writing: their task completes once the
   * write lands, so the queue is not idle (and a stop does not finish) before.
   */
  private settling = 0;
  /** What every attempt needs from the engine (one object, not one per attempt). */
  private readonly attemptDeps: AttemptDeps;

  constructor(private readonly deps: TaskRunnerDeps) {
    const { clock, emit } = deps;
    this.attemptDeps = {
      clock,
      random: deps.random,
      client: deps.client,
      environment: (record) => environmentOf(deps.settings(), record.config),
      priceOf: deps.priceOf,
      maxServerWaitMs: () => deps.settings().maxServerWait * 1000,
      // Only a durable store's writes are waited for: another store's failed write is a
      // `store.error` event, and the task goes on in memory.
      written: deps.durable ? deps.startWritten : () => WRITTEN,
      onHints: deps.onHints,
      onSend: deps.onSend,
      onRefused: (model, error) => {
        // Every task it stops fails with it; none of them made this call (no request id).
        const { requestId: _, ...shared } = error;
        const scope = refusalScope(error.status, error.providerCode) ?? 'model';
        deps.refused({ model: scope === 'model' ? model : undefined, error: shared });
      },
      onSuspectUsage: (record, attempt, report) =>
        emit({
          type: 'usage.suspect',
          taskId: record.id,
          taskType: record.type,
          priority: record.priority,
          at: clock.now(),
          attempt,
          ...report,
        }),
      onProgress: (record, progress, current, total) =>
        emit({
          type: 'task.progress',
          taskId: record.id,
          taskType: record.type,
          priority: record.priority,
          at: clock.now(),
          progress,
          current,
          total,
        }),
      runChildren: deps.runChildren,
    };
  }

  /** The live history of a task (from its actor while it has one). */
  historyOf(record: TaskRecord): HistoryEntry[] {
    const actor = this.running.get(record.id)?.actor ?? this.deps.taskActors.retrying(record.id);
    if (actor) return actor.getSnapshot().context.history;
    return record.history ?? [{ status: 'queued', at: record.createdAt }];
  }

  /**
   * What the running attempts of `model` started after task `taskId`'s hold (one request each,
   * and their token reservations): the server may not have counted them when it answered that
   * task's call. `running` keeps the order attempts started in.
   */
  sentAfter(taskId: string, model: string): SentSince {
    const sent = { requests: 0, tokens: 0 };
    let after = false;
    for (const [id, task] of this.running) {
      if (id === taskId) {
        after = true;
        continue;
      }
      const { reservation } = task.record;
      if (!after || reservation.model !== model || !task.limited) continue;
      sent.requests += 1;
      sent.tokens += reservation.promptTokens + reservation.maxTokens;
    }
    return sent;
  }

  /**
   * The calls of `model` in flight at `now`: the running attempts, each with its send time, the
   * tokens it reserved, its task and whether it left cold. An attempt that has not sent its call
   * yet (waiting for its turn, or in the SDK) counts as sent `now`: the server will count it, and
   * a window learned now must hold it before its send (which then moves its take later).
   */
  sendsOf(model: string, now: number): SentRequest[] {
    const sends: SentRequest[] = [];
    for (const [taskId, task] of this.running) {
      const { reservation } = task.record;
      if (reservation.model !== model) continue;
      sends.push({
        at: task.sentAt ?? now,
        tokens: reservation.promptTokens + reservation.maxTokens,
        taskId,
        ...(countsFromAnswer(task) ? { cold: true } : {}),
      });
    }
    return sends;
  }

  /** Attempts running, or ended and waiting for their result to be written: 0 when idle. */
  get busy(): number {
    return this.running.size + this.settling;
  }

  /** The task runs and was not cancelled (a cancelled call stays running until it settles). */
  isRunning(id: string): boolean {
    return this.running.get(id)?.record.status === 'running';
  }

  /** Starts the attempt of a task admission took from the line (its limits already taken). */
  start(record: TaskRecord, now: number, limited: boolean): void {
    const { deps } = this;
    // A durable store keeps the running machine, so a restart knows the attempt it interrupted.
    const actor = deps.taskActors.admitted(record, now, deps.durable);
    const attempt = actor.getSnapshot().context.attempts;
    const handle = new AttemptHandle();
    this.running.set(record.id, { record, actor, handle, limited });
    const firstStart = record.startedAt === undefined;
    record.status = 'running';
    record.attempts = attempt;
    record.notBefore = undefined;
    if (firstStart) record.startedAt = now;
    deps.persist(record);
    deps.emit({
      type: 'task.admitted',
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      attempt,
      limited,
    });
    deps.emit({
      type: 'task.started',
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      attempt,
      model: record.reservation.model,
      queueTimeMs: now - record.createdAt,
    });
    const definition = deps.taskTypes.get(record.type) as AnyTaskTypeDefinition;
    const deadline = record.config.deadline;
    let timeoutMs: number | undefined = limited ? record.config.timeout * 1000 : undefined;
    if (deadline !== undefined) {
      const left = record.createdAt + deadline * 1000 - now;
      timeoutMs = timeoutMs === undefined ? left : Math.min(timeoutMs, left);
    }
    void runAttempt(definition, record, attempt, handle, timeoutMs, this.attemptDeps).then(
      ({ outcome, meter, result }) => this.attemptEnded(record.id, outcome, meter, result),
    );
  }

  /**
   * An attempt ended: the task leaves the running ones, gives back what it held, and settlement
   * moves it on. With a durable store a result is written ahead: the task counts as completed
   * (its waiters hear of it) only once the store has the result, the usage and the settled hold.
   */
  private attemptEnded(
    id: string,
    outcome: AttemptOutcome,
    meter: AttemptMeter,
    result: unknown,
  ): void {
    const task = this.running.get(id);
    if (task === undefined) return;
    this.running.delete(id);
    if (task.sentAt !== undefined) {
      const { model } = task.record.reservation;
      this.warm.ended(model, monotonicNow(this.deps.clock), task.cold === true);
    }
    const { settlement } = this.deps;
    settlement.giveBack(task, meter);
    if (!this.deps.durable || !outcome.ok || task.record.status === 'cancelled') {
      settlement.advance(task, outcome, result);
      return;
    }
    // Settling from here on (the queue is not idle, a stop does not finish), whatever the
    // recording below sets off.
    this.settling += 1;
    this.deps.persist(settlement.completedCopy(task, outcome.at, result));
    // The slot is free already: the next task's `running` record can go in the commit that
    // carries this result. Written or not, the task goes on: a failed write is a `store.error`
    // event (the result then lives in this process only, and a restart runs the task again).
    this.deps.slotReturned(id);
    this.deps.written().then(
      () => {
        this.settling -= 1;
        settlement.advance(task, outcome, result, true);
      },
      () => {
        this.settling -= 1;
        settlement.advance(task, outcome, result);
      },
    );
  }
}
