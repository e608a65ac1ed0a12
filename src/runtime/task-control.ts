/**
 * Control of single tasks: `cancel`, `pauseTask` and `resumeTask` take effect at once before
 * `start()` (and a cancel after a stop); otherwise they go through the supervisor, whose
 * `cancelTask`, `pauseTask` and `resumeTask` actions carry them out (`cancelNow`, `pauseNow`,
 * `resumeNow`). A waiting task that may not run (its deadline passed, or admission refused it for
 * good) ends here too.
 */

import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import { isTerminalStatus } from '../../machines/task-status.js';
import {
  QueueStoppedError,
  type SerializedError,
  serializeError,
  TaskCancelledError,
  TaskTimeoutError,
} from '../errors.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { Lifecycle } from './lifecycle.js';
import type { TaskRunner } from './running.js';
import type { Settlement } from './settlement.js';
import type { TaskActors } from './task-actors.js';
import type { WaitingTasks } from './waiting-tasks.js';

/** What the control of single tasks needs from the engine. */
export interface TaskControlDeps {
  clock: Clock;
  store: TaskStore;
  waiting: WaitingTasks;
  runner: TaskRunner;
  lifecycle: Lifecycle;
  taskActors: TaskActors;
  settlement: Settlement;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
  persist(record: TaskRecord): void;
  emit(event: EngineEvent): void;
}

export class TaskControl {
  constructor(private readonly deps: TaskControlDeps) {}

  /**
   * Cancels a waiting or running task. False when it is unknown or already finished. After
   * `stop()`, a task left waiting can still be cancelled (so a later run does not pick it up).
   * A task this engine holds is cancelled before the call returns (no store read first), so a
   * `stop()` right after it finds the task cancelled, not waiting.
   */
  async cancel(id: string): Promise<boolean> {
    if (this.holdsLive(id)) return this.cancelHeld(id);
    const record = await this.deps.store.get(id);
    if (record === undefined || isTerminalStatus(record.status)) return false;
    // A store that hands out copies may answer with one read before the task ended: the engine's
    // own state decides (and a task this engine does not run cannot be cancelled by it). One in
    // the line's backlog (in the store only) is taken from it first.
    if (!this.holdsLive(id) && !this.takeFromBacklog(record)) return false;
    return this.cancelHeld(id);
  }

  /** Cancels a task this engine holds (`holdsLive`), now or through the supervisor. */
  private cancelHeld(id: string): boolean {
    const phase = this.deps.lifecycle.phase;
    if (phase === 'stopped') {
      // Only what the stop left waiting can still end.
      this.cancelNow(id);
      return true;
    }
    if (phase === 'created') {
      // The supervisor has not started: an event would wait in its mailbox until after the
      // admission its start runs, and the task would start first.
      this.cancelNow(id);
      return true;
    }
    this.deps.dispatch({ type: 'task.cancel', taskId: id });
    return true;
  }

  /**
   * A task of the line's backlog (in the store only, with a durable store's paging) leaves it to
   * be cancelled: set aside in memory, where `cancelNow` finds it. False when it is not one.
   */
  private takeFromBacklog(record: TaskRecord): boolean {
    const { waiting } = this.deps;
    if (waiting.line.backlogSize === 0) return false;
    if (record.status !== 'queued' && record.status !== 'retrying') return false;
    if (this.deps.runner.running.has(record.id)) return false;
    waiting.line.leaveBacklog(record);
    waiting.parked.set(record.id, record);
    return true;
  }

  /** Holds a waiting task (queued or retrying). False when it is not waiting. */
  pauseTask(id: string): boolean {
    this.assertNotStopped('pauseTask');
    const { waiting } = this.deps;
    if (!waiting.line.has(id) && !waiting.parked.has(id)) return false;
    // Before start, at once (see `cancel`); after, through the supervisor.
    if (this.deps.lifecycle.phase === 'created') this.pauseNow(id);
    else this.deps.dispatch({ type: 'task.pause', taskId: id });
    return true;
  }

  /** Puts a paused task back in line. False when it is not paused. */
  resumeTask(id: string): boolean {
    this.assertNotStopped('resumeTask');
    if (!this.deps.waiting.paused.has(id)) return false;
    if (this.deps.lifecycle.phase === 'created') this.resumeNow(id);
    else this.deps.dispatch({ type: 'task.resume', taskId: id });
    return true;
  }

  private assertNotStopped(method: string): void {
    if (this.deps.lifecycle.phase === 'stopped') {
      throw new QueueStoppedError(`${method}: the queue is stopped`);
    }
  }

  /**
   * Whether the task is this engine's and has not ended: in line (retries included), held,
   * set aside by a stop, or running (a cancelled call still settling has ended).
   */
  holdsLive(id: string): boolean {
    if (this.deps.waiting.has(id)) return true;
    const running = this.deps.runner.running.get(id);
    return running !== undefined && !isTerminalStatus(running.record.status);
  }

  /** Cancels a running or waiting task now (the supervisor's `cancelTask` action). */
  cancelNow(id: string): void {
    const { deps } = this;
    const now = deps.clock.now();
    const running = deps.runner.running.get(id);
    if (running) {
      if (running.record.status === 'cancelled') return;
      running.actor.send({ type: 'task.cancel', at: now });
      running.record.status = 'cancelled';
      running.handle.abort(new TaskCancelledError(id));
      // Whoever waits for it (waitFor, its parent, onFinished) is told once the aborted attempt
      // has settled (in this tick: the abort settles it at once), so they see the prompt charge
      // of the calls it cut off. The slot, reservation and hold come back then too.
      deps.settlement.finalize(
        running.record,
        running.actor.getSnapshot().context.history,
        now,
        true,
      );
      return;
    }
    const record = deps.waiting.get(id);
    if (record === undefined) return;
    deps.waiting.remove(id);
    const history = deps.taskActors.send(record, { type: 'task.cancel', at: now });
    deps.settlement.finalize(record, history, now);
    // It may have been the last one waiting.
    deps.lifecycle.resolveIdleWaiters();
  }

  /** Holds a waiting task now (the supervisor's `pauseTask` action). */
  pauseNow(id: string): void {
    const { deps } = this;
    const { line, parked, paused } = deps.waiting;
    const record = line.get(id) ?? parked.get(id);
    if (record === undefined) return;
    const now = deps.clock.now();
    line.remove(id);
    parked.delete(id);
    deps.taskActors.send(record, { type: 'task.pause', at: now });
    paused.set(id, record);
    deps.persist(record);
    deps.emit({
      type: 'task.paused',
      taskId: id,
      taskType: record.type,
      priority: record.priority,
      at: now,
    });
    // A paused task does not count as waiting: it may have been the last one.
    deps.lifecycle.resolveIdleWaiters();
  }

  /** Puts a paused task back in line now (the supervisor's `resumeTask` action). */
  resumeNow(id: string): void {
    const { deps } = this;
    const record = deps.waiting.paused.get(id);
    if (record === undefined) return;
    const now = deps.clock.now();
    deps.waiting.paused.delete(id);
    deps.taskActors.send(record, { type: 'task.resume', at: now });
    const notBefore = record.status === 'retrying' ? (record.notBefore ?? 0) : 0;
    deps.lifecycle.enqueue(record, notBefore > now ? notBefore : 0);
    deps.persist(record);
    deps.emit({
      type: 'task.resumed',
      taskId: id,
      taskType: record.type,
      priority: record.priority,
      at: now,
    });
  }

  /** Fails a waiting task whose whole-task deadline passed. */
  expire(record: TaskRecord, now: number): void {
    const error = serializeError(
      new TaskTimeoutError(
        `task '${record.id}' passed its deadline of ${record.config.deadline} s`,
        false,
      ),
    );
    this.failWaiting(record, now, error);
  }

  /** Fails a waiting task (admission refused it for good, or its deadline passed). */
  failWaiting(record: TaskRecord, now: number, error: SerializedError): void {
    const history = this.deps.taskActors.send(record, { type: 'task.expire', at: now, error });
    this.deps.settlement.finalize(record, history, now);
  }
}
