/**
 * Settlement: what happens when an attempt ends (the slot, reservation and hold come back settled
 * with the real usage; the task retries or ends) and when a task ends (its event, its children,
 * its waiters, retention). This is where a durable store will commit a result before the task
 * counts as completed.
 */

import type { Actor } from 'xstate';
import type { AttemptOutcome, HistoryEntry, taskMachine } from '../../machines/task.machine.js';
import type { TaskStatus } from '../../machines/task-status.js';
import type { SerializedError, TaskQueueError } from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { AttemptHandle, AttemptMeter } from './attempt.js';
import type { ChildTasks } from './child-tasks.js';
import type { EngineEvent } from './events.js';
import { addUsage } from './intake.js';
import type { ResourceTakes } from './resources.js';
import type { Retention } from './retention.js';
import type { SharedTakes } from './shared-limits.js';
import type { TaskActors } from './task-actors.js';
import type { TaskWaiters } from './waiters.js';

/** A task whose attempt runs. */
export interface RunningTask {
  record: TaskRecord;
  actor: Actor<typeof taskMachine>;
  handle: AttemptHandle;
  /** Whether it holds a slot, a rate reservation and a budget hold. */
  limited: boolean;
  /** When its attempt's latest call was handed to the HTTP client (on the windows' clock). */
  sentAt?: number | undefined;
  /**
   * Its attempt's first call may have waited for a new connection (see warm-calls.ts): a
   * learned window counts it from its answer.
   */
  cold?: boolean | undefined;
  /**
   * Its request was seen written to its socket (`CallOptions.onWrite`: the adapter tells with
   * Node's `fetch`), after any new connection was made: it reached the server right after, so it
   * is not counted from its answer, cold or not.
   */
  written?: boolean | undefined;
}

/** Whether a learned window counts task `task`'s call from its answer (see `RunningTask.cold`). */
export function countsFromAnswer(task: RunningTask): boolean {
  return task.cold === true && task.written !== true;
}

/** What settlement needs from the engine. */
export interface SettlementDeps {
  clock: Clock;
  emit(event: EngineEvent): void;
  persist(record: TaskRecord): void;
  resources: ResourceTakes;
  taskActors: TaskActors;
  childTasks: ChildTasks;
  retention: Retention;
  waiters: TaskWaiters;
  errorOf(record: TaskRecord): TaskQueueError;
  /** Called synchronously when a task reaches its terminal state (the manager's callbacks). */
  onFinished: ((record: TaskRecord) => void) | undefined;
  /** Puts a task back in line (a retry, not before `notBefore`). */
  enqueue(record: TaskRecord, notBefore: number): void;
  /** Tells the supervisor an attempt ended, when that can matter. */
  settled(id: string): void;
  /** Whether the store outlives the process. */
  durable: boolean;
  /** The takes of the limits shared with other processes, if there are some. */
  shared?: SharedTakes | undefined;
  /**
   * A task of a shared queue that is to retry goes back to it (true), and this engine forgets it
   * (see transport.ts); false for a task of this process's own.
   */
  handOff(record: TaskRecord, notBefore: number): boolean;
  /** Drops a task from the store and the line (one handed back to its shared queue). */
  forget(id: string): void;
}

export class Settlement {
  constructor(private readonly deps: SettlementDeps) {}

  /**
   * An attempt of a running task ended (it has left the running tasks): gives back what it held,
   * settled with what it used, and adds its usage to the task. `advance` moves it on.
   */
  giveBack(task: RunningTask, meter: AttemptMeter): void {
    const { deps } = this;
    const { record, limited } = task;
    const id = record.id;
    const now = deps.clock.now();
    deps.resources.giveBack(id, limited, meter, now, countsFromAnswer(task));
    deps.shared?.settle(id, record.reservation.model, meter.costMicros, now);
    addUsage(record, meter);
    record.costMicros += meter.costMicros;
    if (meter.calls > 0 || meter.costMicros > 0) {
      deps.emit({
        type: 'task.usage',
        taskId: id,
        taskType: record.type,
        priority: record.priority,
        at: now,
        attempt: record.attempts,
        calls: meter.calls,
        costMicros: meter.costMicros,
        promptTokens: meter.promptTokens,
        completionTokens: meter.completionTokens,
        estimated: meter.estimated,
      });
    }
  }

  /**
   * What the store is to hold once a successful attempt's result is kept: the record exactly as
   * `advance` will make it when the task completes at `at` (a copy; `advance(…, true)` then
   * writes nothing more).
   */
  completedCopy(task: RunningTask, at: number, result: unknown): TaskRecord {
    const history = task.actor.getSnapshot().context.history;
    // `Object.assign`, not a spread with keys after it: V8 gives each object a spread makes a map
    // of its own, so every key the copy adds (result, completedAt) builds a new map: ~8 µs a
    // task in a profile of the SQLite line, against under 1 µs this way.
    return Object.assign({}, task.record, {
      status: 'completed' as const,
      result,
      error: undefined,
      completedAt: at,
      notBefore: undefined,
      snapshot: undefined,
      history: [...history, { status: 'completed' as const, at }],
    });
  }

  /**
   * Moves a task on after its attempt was given back: it retries or ends. `written`: the
   * completed record (`completedCopy`) is in the store already.
   */
  advance(task: RunningTask, outcome: AttemptOutcome, result: unknown, written = false): void {
    const { deps } = this;
    const { record, actor } = task;
    const id = record.id;
    const now = deps.clock.now();
    if (record.status === 'cancelled') {
      // Cancelled while its call was in flight: the actor has ended already; now that its usage
      // is in, whoever waits for it is told.
      deps.persist(record);
      this.notifyEnded(record);
      deps.settled(id);
      return;
    }
    actor.send({ type: 'task.outcome', outcome });
    const snapshot = actor.getSnapshot();
    const status = snapshot.value as TaskStatus;
    record.status = status;
    record.error = snapshot.context.error ?? undefined;
    if (status === 'retrying') {
      // The children of the attempt that failed are of no use to the next one, which submits
      // its own: they are cancelled, not left running (and charging) beside them.
      deps.childTasks.cancelChildrenOf(id);
      const notBefore = snapshot.context.notBefore ?? now;
      record.notBefore = notBefore;
      if (deps.durable) {
        // A durable store (or a shared queue) keeps the machine (retries used, when the next
        // attempt is due), and the actor goes: a backlog of retries costs records, not live
        // actors. The next admission restores it from the snapshot.
        record.snapshot = actor.getPersistedSnapshot();
        record.history = snapshot.context.history;
        deps.taskActors.release(actor);
      } else {
        deps.taskActors.waitToRetry(id, actor);
      }
      if (deps.handOff(record, notBefore)) {
        deps.forget(id);
      } else {
        deps.enqueue(record, Math.max(notBefore, 1));
        deps.persist(record);
      }
      deps.emit({
        type: 'task.retrying',
        taskId: id,
        taskType: record.type,
        priority: record.priority,
        at: now,
        attempt: record.attempts,
        notBefore,
        error: record.error as SerializedError,
      });
    } else {
      if (status === 'completed') record.result = result;
      const ok = written && status === 'completed';
      // Written ahead: it ended when its outcome came, as the store has it.
      this.finalize(record, snapshot.context.history, ok ? outcome.at : now, false, ok);
    }
    deps.settled(id);
  }

  /**
   * Records the end of a task, emits its event, cancels its children and applies retention. Who
   * waits for it is told here too, unless `settling`: a running task cancelled mid-call is told
   * about once its attempt has settled (`attemptEnded`).
   */
  finalize(
    record: TaskRecord,
    history: HistoryEntry[],
    now: number,
    settling = false,
    written = false,
  ): void {
    record.completedAt = now;
    record.history = history;
    record.snapshot = undefined;
    record.notBefore = undefined;
    if (!written) this.deps.persist(record);
    const status = record.status as 'completed' | 'failed' | 'cancelled';
    this.deps.emit({
      type: `task.${status}`,
      status,
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      attempts: record.attempts,
      error: record.error,
      queueTimeMs: record.startedAt === undefined ? undefined : record.startedAt - record.createdAt,
      executionTimeMs: record.startedAt === undefined ? undefined : now - record.startedAt,
    });
    if (!settling) this.notifyEnded(record);
    this.deps.childTasks.cancelChildrenOf(record.id);
    this.deps.retention.retain(record, now);
  }

  /** Tells whoever waits for an ended task: `waitFor` callers, its parent, `onFinished`. */
  notifyEnded(record: TaskRecord): void {
    this.deps.waiters.settle(record.id, record.status === 'completed', record.result, () =>
      this.deps.errorOf(record),
    );
    this.deps.childTasks.ended(record);
    this.deps.onFinished?.(record);
  }
}
