/**
 * The queue's life: created → running → stopping → stopped; the queue-wide pause (a flag before
 * `start()`, the supervisor's `paused` state after); whoever waits for the queue to be idle or
 * stopped. While the queue stops, waiting tasks are set aside for a later run, except the children
 * of running composite tasks: they drain with their parent.
 */

import type { Actor } from 'xstate';
import type { SupervisorEvent, supervisorMachine } from '../../machines/supervisor.machine.js';
import { QueueStoppedError } from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { TaskRunner } from './running.js';
import type { TaskActors } from './task-actors.js';
import type { TaskWaiters } from './waiters.js';
import type { WaitingLine } from './waiting-line.js';
import type { WaitingTasks } from './waiting-tasks.js';

export type Phase = 'created' | 'running' | 'stopping' | 'stopped';

/** What the lifecycle needs from the engine. */
export interface LifecycleDeps {
  clock: Clock;
  /** The root actor (made after the lifecycle, started by `start()`). */
  supervisor(): Actor<typeof supervisorMachine>;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
  /** Carries out what the supervisor's actions asked for. */
  runEffects(): void;
  waiting: WaitingTasks;
  runner: TaskRunner;
  taskActors: TaskActors;
  waiters: TaskWaiters;
  /** Clears the admission loop's timers. */
  stopAdmission(): void;
  /** Cancels a task at once. */
  cancel(id: string): void;
  persist(record: TaskRecord): void;
  emit(event: EngineEvent): void;
}

export class Lifecycle {
  private state: Phase = 'created';
  /** `pause()` came before `start()`: the supervisor starts paused. */
  private startPaused = false;
  private stopWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private readonly line: WaitingLine;

  constructor(private readonly deps: LifecycleDeps) {
    this.line = deps.waiting.line;
  }

  get phase(): Phase {
    return this.state;
  }

  /** `pause()` came before `start()`: nothing is admitted until the supervisor is paused. */
  get startsPaused(): boolean {
    return this.startPaused;
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
    return this.deps.supervisor().getSnapshot().value === 'paused';
  }

  /** Starts admitting. Idempotent while running; a stopped engine cannot start again. */
  start(): void {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new QueueStoppedError('the queue was stopped; create a new one to run again');
    }
    if (this.state !== 'created') return;
    this.state = 'running';
    this.deps.supervisor().start();
    if (this.startPaused) {
      this.deps.dispatch({ type: 'queue.pause' });
      this.startPaused = false;
    }
    this.deps.runEffects();
  }

  /** Holds admission; running calls go on. Before `start()`, the queue will start paused. */
  pause(): void {
    if (this.isPaused) return;
    if (this.state === 'created') {
      this.startPaused = true;
      this.deps.emit({ type: 'queue.paused', at: this.deps.clock.now() });
      return;
    }
    if (this.state !== 'running') return;
    this.deps.dispatch({ type: 'queue.pause' });
    this.deps.emit({ type: 'queue.paused', at: this.deps.clock.now() });
  }

  resume(): void {
    if (!this.isPaused) return;
    if (this.state === 'created') {
      this.startPaused = false;
      this.deps.emit({ type: 'queue.resumed', at: this.deps.clock.now() });
      return;
    }
    this.deps.dispatch({ type: 'queue.resume' });
    this.deps.emit({ type: 'queue.resumed', at: this.deps.clock.now() });
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
      if (options.force === true) this.deps.dispatch({ type: 'queue.stop', force: true });
      return done;
    }
    if (this.state === 'created') {
      this.state = 'stopped';
      this.finishStop();
      return done;
    }
    this.state = 'stopping';
    // Every waiting task that is not a child of a running composite task is set aside.
    this.deps.waiting.parkAllBut((record) => this.drainsWith(record));
    // A child held with pauseTask would never run, and its running parent would never end, so
    // the stop would wait forever: it is cancelled (not paid for) and its parent hears of it.
    for (const record of [...this.deps.waiting.paused.values()]) {
      if (this.drainsWith(record)) this.deps.cancel(record.id);
    }
    this.deps.dispatch({ type: 'queue.stop', force: options.force === true });
    return done;
  }

  /** The supervisor's `finish` action (or a stop before `start()`): the queue has stopped. */
  finishStop(): void {
    const { deps } = this;
    this.state = 'stopped';
    // Tasks left waiting to retry keep their machine state (retries used, when the next attempt
    // is due) only in their live actor: it goes into the record, written back for a later run.
    deps.taskActors.releaseRetrying((id) => deps.waiting.get(id), deps.persist);
    deps.stopAdmission();
    deps.waiters.rejectAll(
      (id) => new QueueStoppedError(`the queue stopped before task '${id}' ended`),
    );
    deps.emit({ type: 'queue.stopped', at: deps.clock.now() });
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const resolve of waiters) resolve();
    // Nothing will run any more: whoever waits for idle stops waiting.
    const idle = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of idle) resolve();
  }

  /** Whether a waiting task still runs while the queue stops: a child of a running task. */
  drainsWith(record: TaskRecord): boolean {
    return record.parentId !== undefined && this.deps.runner.isRunning(record.parentId);
  }

  /** Puts a task (back) in line, or, while stopping, aside unless it drains with its parent. */
  enqueue(record: TaskRecord, notBefore = 0): void {
    if (this.state !== 'running' && this.state !== 'created' && !this.drainsWith(record)) {
      this.deps.waiting.park(record);
      return;
    }
    this.line.push(record, notBefore);
  }

  /**
   * Resolves when nothing is waiting or running (paused tasks excepted), or when the queue has
   * stopped (nothing will run any more).
   */
  onIdle(): Promise<void> {
    if (this.isIdle() || this.state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves whoever waits for the queue to be idle (`onIdle`), if it is. */
  resolveIdleWaiters(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private isIdle(): boolean {
    return this.line.size === 0 && this.deps.runner.busy === 0;
  }
}
