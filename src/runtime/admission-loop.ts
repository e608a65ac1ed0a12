/**
 * The supervisor's admission loop: its `admit` action takes the waiting tasks in order while
 * `decideAdmission` says so; `scheduleWake` arms one timer for the earliest moment the answer can
 * change by time; settled attempts are told to the supervisor in one event per turn, and every
 * `ADMISSIONS_PER_TURN` admissions the loop lets the event loop run.
 */

import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import type { WaitReason } from '../../machines/wait-reason.js';
import type { SerializedError } from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import { type AdmissionView, decideAdmission } from './admission.js';
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
  phase(): 'created' | 'running' | 'stopping' | 'stopped';
  /** `pause()` came before `start()`: nothing is admitted until the supervisor is paused. */
  startPaused(): boolean;
  /** Whether a waiting task drains with running work while the queue stops. */
  drainsWith(record: TaskRecord): boolean;
  /** Fails a task whose whole-task deadline passed. */
  expire(record: TaskRecord, now: number): void;
  /** Sets a task aside for a later run (a draining stop). */
  park(record: TaskRecord): void;
  fail(record: TaskRecord, now: number, error: SerializedError): void;
  /** Takes the limits (when `limited`) and starts the task's attempt. */
  start(record: TaskRecord, now: number, limited: boolean): void;
  /** Resolves whoever waits for the queue to be idle, if it is. */
  settleIdle(): void;
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

  /** Why the head waited at the last admission, if it did. */
  get head(): HeadWait | undefined {
    return this.headWait;
  }

  /** When the supervisor will next look at the line by itself (ms), if a wake-up is armed. */
  get wakeAt(): number | undefined {
    return this.wakeAtMs;
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
    if (this.deps.phase() === 'stopped' || this.deps.startPaused()) return;
    const now = this.deps.clock.now();
    this.deps.line.promoteDue(now);
    for (const expired of this.deps.line.takeExpired(now)) this.deps.expire(expired, now);
    this.headWait = undefined;
    for (;;) {
      const record = this.deps.line.peek();
      if (record === undefined) break;
      this.admittedSinceYield++;
      const drains = this.deps.phase() !== 'stopping' || this.deps.drainsWith(record);
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
          this.deps.fail(record, now, decision.error);
          break;
        case 'admit':
          this.deps.start(record, now, decision.limited);
          break;
      }
    }
    this.deps.settleIdle();
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
    if (this.deps.line.size === 0 && this.deps.phase() === 'running') {
      this.deps.settleIdle();
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
    if (this.deps.phase() !== 'stopped') this.deps.dispatch({ type: 'task.settled', taskIds });
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
    if (at === undefined || this.deps.phase() === 'stopped') return;
    const delay = Math.max(0, at - this.deps.clock.now());
    this.wakeTimer = this.deps.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAtMs = undefined;
      if (this.deps.phase() !== 'stopped') this.deps.dispatch({ type: 'queue.wake' });
    }, delay);
  }
}
