/**
 * The supervisor's admission loop: its `admit` action takes the waiting tasks in order while
 * `decideAdmission` says so; `scheduleWake` arms one timer for the earliest moment the answer can
 * change by time; settled attempts are told to the supervisor in one event per turn, and every
 * `ADMISSIONS_PER_TURN` admissions the loop lets the event loop run.
 */

import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import type { WaitReason } from '../../machines/wait-reason.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import { type AdmissionView, decideAdmission } from './admission.js';
import type { Lifecycle } from './lifecycle.js';
import type { TaskControl } from './task-control.js';
import type { WaitingLine } from './waiting-line.js';

/**
 * Admission lets the event loop run after this many tasks taken from the line (see
 * `yieldToEventLoop`): a timer's worth of delay (~1 ms) per 1,024 tasks on the real clock.
 */
export const ADMISSIONS_PER_TURN = 1024;

/** Why the head of the line waits. */
export interface HeadWait {
  taskId: string;
  waitingFor: WaitReason;
  /** When it may change (ms); `undefined` when it waits for a running task to end. */
  until?: number | undefined;
}

/** What the loop needs from the engine. */
export interface AdmissionLoopDeps {
  clock: Clock;
  line: WaitingLine;
  view: AdmissionView;
  /** The queue's phase, a pause before `start()`, which tasks drain with a stop, idle waiters. */
  lifecycle: Pick<Lifecycle, 'phase' | 'startsPaused' | 'drainsWith' | 'resolveIdleWaiters'>;
  /** Fails a task whose whole-task deadline passed, or that admission refused for good. */
  control: Pick<TaskControl, 'expire' | 'failWaiting'>;
  /** Sets a task aside for a later run (a draining stop). */
  park(record: TaskRecord): void;
  /** Takes the limits (when `limited`) and starts the task's attempt. */
  start(record: TaskRecord, now: number, limited: boolean): void;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
}

export class AdmissionLoop {
  private headWait: HeadWait | undefined;
  private wakeAtMs: number | undefined;
  private wakeTimer: unknown;
  /** Tasks taken from the line since admission last let the event loop run. */
  private admittedSinceYield = 0;
  private yieldTimer: unknown;
  /** The attempts that ended since the last `task.settled` event, until that event is sent. */
  private settledPending: string[] | undefined;

  constructor(private readonly deps: AdmissionLoopDeps) {}

  /** When the supervisor will next look at the line by itself (ms), if a wake-up is armed. */
  get wakeAt(): number | undefined {
    return this.wakeAtMs;
  }

  /**
   * Why the head of the line waits now, if it does (`paused`: the queue is). When no task is
   * due, the first retry to fall due: it waits for its backoff, or for the wait its server asked
   * for.
   */
  whyHeadWaits(paused: boolean): HeadWait | undefined {
    const { line } = this.deps;
    const first = line.peek();
    if (paused) {
      return first === undefined ? undefined : { taskId: first.id, waitingFor: 'paused' };
    }
    if (first === undefined) {
      const retry = line.nextDue();
      if (retry === undefined) return this.headWait;
      const waitingFor = retry.record.error?.retryAfterMs === undefined ? 'retryDelay' : 'server';
      return { taskId: retry.record.id, waitingFor, until: retry.notBefore };
    }
    if (this.headWait?.taskId === first.id) return this.headWait;
    // A head that arrived while no slot was free did not wake the supervisor (nothing could
    // change): it waits for a slot.
    const { used, max } = this.deps.view.slots;
    if (first.reservation.limited && used >= max) {
      return { taskId: first.id, waitingFor: 'concurrency' };
    }
    return this.headWait;
  }

  /** The queue stopped: no timer stays armed. */
  stop(): void {
    if (this.wakeTimer !== undefined) this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.yieldTimer !== undefined) this.deps.clock.clearTimeout(this.yieldTimer);
    this.yieldTimer = undefined;
  }

  /** The supervisor's `admit` action: admits waiting tasks, in order, while the decision says so. */
  admit(): void {
    if (this.deps.lifecycle.phase === 'stopped' || this.deps.lifecycle.startsPaused) return;
    const now = this.deps.clock.now();
    this.deps.line.promoteDue(now);
    for (const expired of this.deps.line.takeExpired(now)) this.deps.control.expire(expired, now);
    this.headWait = undefined;
    for (;;) {
      const record = this.deps.line.peek();
      if (record === undefined) break;
      this.admittedSinceYield++;
      const drains =
        this.deps.lifecycle.phase !== 'stopping' || this.deps.lifecycle.drainsWith(record);
      const decision = decideAdmission(record, drains, this.deps.view, now);
      if (decision.kind === 'wait') {
        this.headWait = {
          taskId: record.id,
          waitingFor: decision.waitingFor,
          until: decision.until,
        };
        break;
      }
      this.deps.line.shift();
      switch (decision.kind) {
        case 'park':
          // Its parent is no longer running (an attempt that failed and waits to retry leaves
          // its children in line): it no longer drains with running work.
          this.deps.park(record);
          break;
        case 'fail':
          this.deps.control.failWaiting(record, now, decision.error);
          break;
        case 'admit':
          this.deps.start(record, now, decision.limited);
          break;
      }
    }
    this.deps.lifecycle.resolveIdleWaiters();
  }

  /**
   * Tells the supervisor an attempt ended, when that can matter: something waits in line, or
   * the supervisor is draining and waits for the last call. With an empty line and a running
   * queue there is nothing to admit, and the event is not sent.
   *
   * Attempts that end in the same turn are told in one event, sent once the promise callbacks
   * already queued have run (a microtask, not a timer: no time passes): a wave of calls that
   * answer together costs one admission step, not one per call. The event names the first of
   * them.
   */
  settled(taskId: string): void {
    if (this.deps.line.size === 0 && this.deps.lifecycle.phase === 'running') {
      this.deps.lifecycle.resolveIdleWaiters();
      return;
    }
    if (this.settledPending !== undefined) {
      this.settledPending.push(taskId);
      return;
    }
    this.settledPending = [taskId];
    if (this.admittedSinceYield >= ADMISSIONS_PER_TURN) this.yieldToEventLoop();
    else queueMicrotask(this.notifySettled);
  }

  /** Sends one `task.settled` event carrying every attempt that ended since the last one. */
  private readonly notifySettled = (): void => {
    const taskIds = this.settledPending;
    if (taskIds === undefined) return;
    this.settledPending = undefined;
    if (this.deps.lifecycle.phase === 'stopped') return;
    this.deps.dispatch({ type: 'task.settled', taskIds });
  };

  /**
   * Lets the event loop run before admission goes on: when calls end at once (a cache, a stub, a
   * local model), ending attempts and admitting the next ones is one long chain of promise
   * callbacks, and the process's timers, I/O and signal handlers would wait behind it. So once
   * `ADMISSIONS_PER_TURN` tasks were taken from the line, the next `task.settled` is sent from a
   * timer of the injected clock instead of a microtask (virtual time decides when it comes).
   * Submissions still admit at once: a caller's own loop of submits is its own chain.
   */
  private yieldToEventLoop(): void {
    if (this.yieldTimer !== undefined) return;
    this.yieldTimer = this.deps.clock.setTimeout(() => {
      this.yieldTimer = undefined;
      this.admittedSinceYield = 0;
      this.notifySettled();
    }, 0);
  }

  /** The supervisor's `scheduleWake` action: one timer for the earliest moment the answer can change by time. */
  scheduleWake(): void {
    let at = this.deps.line.nextDueAt();
    const until = this.headWait?.until;
    if (until !== undefined && (at === undefined || until < at)) at = until;
    const expiry = this.deps.line.nextExpiryAt();
    if (expiry !== undefined && (at === undefined || expiry < at)) at = expiry;
    if (at === this.wakeAtMs) return;
    if (this.wakeTimer !== undefined) this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAtMs = at;
    if (at === undefined || this.deps.lifecycle.phase === 'stopped') return;
    const delay = Math.max(0, at - this.deps.clock.now());
    this.wakeTimer = this.deps.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAtMs = undefined;
      if (this.deps.lifecycle.phase !== 'stopped') this.deps.dispatch({ type: 'queue.wake' });
    }, delay);
  }
}
