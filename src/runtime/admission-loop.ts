/**
 * The supervisor's admission loop: its `admit` action takes the waiting tasks in order while
 * `decideAdmission` says so; `scheduleWake` arms one timer for the earliest moment the answer can
 * change by time; settled attempts are told to the supervisor in one event per turn, and every
 * `ADMISSIONS_PER_TURN` admissions the loop lets the event loop run. It takes the waiting tasks
 * from a `WaitingSource` (today the in-memory `WaitingLine`).
 */

import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import type { WaitReason } from '../../machines/wait-reason.js';
import { BudgetExceededError, serializeError } from '../errors.js';
import type { SharedVerdict } from '../limits/shared.js';
import type { TaskRecord } from '../stores/types.js';
import { type Clock, monotonicNow } from '../time/clock.js';
import { type AdmissionDecision, type AdmissionView, decideAdmission } from './admission.js';
import type { Lifecycle } from './lifecycle.js';
import type { SharedTakes } from './shared-limits.js';
import type { TaskControl } from './task-control.js';

/**
 * Admission lets the event loop run after this many tasks taken from the line (see
 * `yieldToEventLoop`): a timer's worth of delay (~1 ms) per 1,024 tasks on the real clock.
 */
export const ADMISSIONS_PER_TURN = 1024;

/** How long admission waits to ask the shared limits again after Redis did not answer (ms). */
const SHARED_RETRY_MS = 1000;

/** At most this many heads are asked of the shared limits in one question (see `ask`). */
const SHARED_BATCH = 64;

/** A take the shared limits granted for a task, kept until a step starts the task with it. */
interface Grant {
  take: string;
  model: string;
}

/** Why the head of the line waits. */
export interface HeadWait {
  taskId: string;
  waitingFor: WaitReason;
  /** When it may change (ms); `undefined` when it waits for a running task to end. */
  until?: number | undefined;
}

/**
 * Where the admission loop takes waiting tasks from: the tasks that may start now, in admission
 * order, and the moments that set changes by time alone. `WaitingLine` keeps them in memory, or,
 * with a durable store, a window of them with the backlog in the store. It keeps these promises:
 *
 * - **Order.** `peek` returns the first due task by priority (URGENT > HIGH > MEDIUM > LOW), then
 *   by submission `seq`: strict, no aging. A retry or a resumed task goes back to the place its
 *   `seq` gives it, so a page must let a task in before its tail, not only at its end.
 * - **Synchronous.** Every member answers within the supervisor's step: no promise, no await.
 *   With paging, `peek` answers from the window in memory, which is refilled from the store
 *   (asynchronously, ahead: at half the window) before it runs out; if it does run out while a
 *   page is being read, `peek` returns `undefined` and the page's arrival wakes the supervisor.
 * - **Stable head.** `peek` (with the same `skipModels`) returns the same task until `take`, or
 *   until the source itself changes (a submission, a cancel, a pause, `promoteDue`,
 *   `takeExpired`); `take` takes out exactly the task given.
 * - **Per model.** `peek(skipModels)` keeps the same order among the tasks it does not skip.
 * - **Nothing twice.** A task taken out (`take`, `takeExpired`) is never returned again by
 *   this source, even if a copy of it is still on a page: the task has left the line.
 * - **Cheap counts.** `size` is O(1): the loop reads it for every attempt that ends.
 */
export interface WaitingSource {
  /** Tasks waiting in the source, due or not. */
  readonly size: number;
  /**
   * The first due task in admission order, without taking it; with `skipModels`, the first whose
   * model (`reservation.model`) is not among them (the models whose own limits hold their head).
   */
  peek(skipModels?: ModelSet): TaskRecord | undefined;
  /**
   * The first `n` due tasks in admission order (`peek`'s first), skipping `skipModels` as `peek`
   * does; fewer when fewer are in memory. Admission asks the shared limits for them together.
   */
  peekMany(n: number, skipModels?: ModelSet): TaskRecord[];
  /** Takes a task `peek` returned out of the source. */
  take(record: TaskRecord): void;
  /** Makes the retries due by `now` visible to `peek`, each at its place. */
  promoteDue(now: number): void;
  /** Takes out and returns every task whose whole-task deadline passed by `now`. */
  takeExpired(now: number): TaskRecord[];
  /** The retry that falls due first, and when (ms), if any waits. */
  nextDue(): { readonly record: TaskRecord; readonly notBefore: number } | undefined;
  /** When the earliest whole-task deadline of a waiting task passes (ms), if any has one. */
  nextExpiryAt(): number | undefined;
}

/** A set of model names as `peek` reads it (a `Set`, or a `Map` keyed by model). */
export interface ModelSet {
  has(model: string): boolean;
}

/** What the loop needs from the engine. */
export interface AdmissionLoopDeps {
  clock: Clock;
  /** Where the waiting tasks come from. */
  line: WaitingSource;
  view: AdmissionView;
  /** The queue's phase, a pause before `start()`, which tasks drain with a stop, idle waiters. */
  lifecycle: Pick<Lifecycle, 'phase' | 'startsPaused' | 'drainsWith' | 'resolveIdleWaiters'>;
  /** Fails a task whose whole-task deadline passed, or that admission refused for good. */
  control: Pick<TaskControl, 'expire' | 'failWaiting'>;
  /** Sets a task aside for a later run (a draining stop). */
  park(record: TaskRecord): void;
  /**
   * Takes the limits (when `limited`) and starts the task's attempt; `sharedTake`: its take of
   * the limits shared with other processes, when there are some.
   */
  start(record: TaskRecord, now: number, limited: boolean, sharedTake?: string): void;
  /**
   * Limits shared with other processes: asked last, for a limited task that everything here
   * admits; the line waits for their answer, so nothing behind the head overtakes it.
   */
  shared?: SharedTakes | undefined;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
}

export class AdmissionLoop {
  /** Why the first task the last step looked at waits (the head of the line), if it does. */
  private headWait: HeadWait | undefined;
  /**
   * The models whose own limits hold their first task (`ownModel` waits), as the last step found
   * them: the line goes on past them. A wait on anything shared ends the step (`headWait`, or
   * `sharedWait` when it is not the line's head).
   */
  private readonly modelWaits = new Map<string, HeadWait>();
  private sharedWait: HeadWait | undefined;
  private wakeAtMs: number | undefined;
  private wakeTimer: unknown;
  /** Tasks taken from the line since admission last let the event loop run. */
  private admittedSinceYield = 0;
  private yieldTimer: unknown;
  /** The attempts that ended since the last `task.settled` event, until that event is sent. */
  private settledPending: string[] | undefined;
  /** Whether the pending `task.settled` waits for a microtask (see `flushSettled`). */
  private settledSoon = false;
  /** The task whose take the shared limits are answering; the line waits meanwhile. */
  private asking: string | undefined;
  /** The shared limits' takes for the heads last asked (by task), to start them with at the next step. */
  private granted: Map<string, Grant> | undefined;
  /** The shared limits refused the head: it waits until `retryAt` before asking again. */
  private refused: { taskId: string; verdict: Extract<SharedVerdict, { ok: false }> } | undefined;

  constructor(private readonly deps: AdmissionLoopDeps) {}

  /** Whether the shared limits are answering a take for the head (the line waits for them). */
  get askingShared(): boolean {
    return this.asking !== undefined;
  }

  /** When the supervisor will next look at the line by itself (ms), if a wake-up is armed. */
  get wakeAt(): number | undefined {
    return this.wakeAtMs;
  }

  /**
   * Why the head of the line waits now, if it does (`paused`: the queue is). When no task is due,
   * the first retry to fall due: it waits for its backoff, or for the wait its server asked for.
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

  /** The models whose own limits hold their first waiting task, and what each waits for. */
  heldModels(): ReadonlyMap<string, HeadWait> {
    return this.modelWaits;
  }

  /** The queue stopped: no timer stays armed. */
  stop(): void {
    if (this.wakeTimer !== undefined) this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.yieldTimer !== undefined) this.deps.clock.clearTimeout(this.yieldTimer);
    this.yieldTimer = undefined;
  }

  /**
   * The supervisor's `admit` action: admits waiting tasks, in order, while the decision says so.
   * Each turn of the loop picks a head (`nextHead`), decides on it (`decideAdmission`, pure) and
   * carries the decision out (`carryOut`).
   */
  admit(): void {
    if (this.deps.lifecycle.phase === 'stopped' || this.deps.lifecycle.startsPaused) return;
    // The shared limits are answering for the head: the step comes again with their answer.
    if (this.asking !== undefined) return;
    const now = this.deps.clock.now();
    const mono = monotonicNow(this.deps.clock);
    this.deps.line.promoteDue(now);
    for (const expired of this.deps.line.takeExpired(now)) this.deps.control.expire(expired, now);
    this.headWait = undefined;
    this.sharedWait = undefined;
    this.modelWaits.clear();
    for (let head = this.nextHead(); head !== undefined; head = this.nextHead()) {
      this.admittedSinceYield++;
      const drains =
        this.deps.lifecycle.phase !== 'stopping' || this.deps.lifecycle.drainsWith(head);
      this.carryOut(head, decideAdmission(head, drains, this.deps.view, now, mono), now);
    }
    this.deps.lifecycle.resolveIdleWaiters();
  }

  /**
   * The task to decide on next, or `undefined` when this step is over. The line is strict but per
   * model: the candidate is the first task in admission order whose model is not held by its own
   * limits (`modelWaits`); once a task waits for anything shared, nothing behind it is looked at.
   * So a task never waits behind one of another model that waits only for its own model's window
   * or server, and within what can run the order holds.
   */
  private nextHead(): TaskRecord | undefined {
    if (this.sharedWait !== undefined) return undefined;
    return this.deps.line.peek(this.modelWaits.size === 0 ? undefined : this.modelWaits);
  }

  /**
   * Carries out the decision for `head`: it waits (why is kept for `whyHeadWaits` and
   * `scheduleWake`), or it leaves the line and starts (`start` takes its limits), fails, or is
   * set aside.
   */
  private carryOut(head: TaskRecord, given: AdmissionDecision, now: number): void {
    let decision = given;
    if (decision.kind === 'admit' && decision.limited && this.deps.shared !== undefined) {
      const shared = this.sharedDecision(head, now);
      if (shared === undefined) return;
      if ('take' in shared) {
        this.deps.line.take(head);
        this.deps.start(head, now, true, shared.take);
        return;
      }
      decision = shared;
    }
    if (decision.kind === 'wait') {
      const wait = { taskId: head.id, waitingFor: decision.waitingFor, until: decision.until };
      this.headWait ??= wait;
      if (decision.ownModel) this.modelWaits.set(head.reservation.model, wait);
      else this.sharedWait = wait;
      return;
    }
    this.deps.line.take(head);
    switch (decision.kind) {
      case 'park':
        // Its parent is no longer running (an attempt that failed and waits to retry leaves
        // its children in line): it no longer drains with running work.
        this.deps.park(head);
        break;
      case 'fail':
        this.deps.control.failWaiting(head, now, decision.error);
        break;
      case 'admit':
        this.deps.start(head, now, decision.limited);
        break;
    }
  }

  /**
   * What the shared limits say of a head that everything here admits: start it with the take
   * they granted, wait as they said, fail it (a total budget that no process can pay any more),
   * or `undefined` once they have been asked (the line waits for their answer).
   */
  private sharedDecision(
    head: TaskRecord,
    now: number,
  ): AdmissionDecision | { kind: 'admit'; take: string } | undefined {
    const grant = this.granted?.get(head.id);
    if (grant !== undefined) {
      this.granted?.delete(head.id);
      return { kind: 'admit', take: grant.take };
    }
    const refused = this.refused;
    if (refused?.taskId === head.id) {
      const { verdict } = refused;
      if (verdict.never === true) {
        this.refused = undefined;
        const error = new BudgetExceededError(
          `task '${head.id}' cannot be paid: the budget shared by every process of the queue is spent, and no call of any of them holds money that could come back`,
        );
        return { kind: 'fail', error: serializeError(error) };
      }
      if (verdict.retryAt !== undefined && now < verdict.retryAt) {
        return {
          kind: 'wait',
          waitingFor: verdict.waitingFor,
          until: verdict.retryAt,
          ownModel: false,
        };
      }
      this.refused = undefined;
    }
    this.ask(head, now);
    return undefined;
  }

  /**
   * Asks the shared limits for `head`'s take, and in the same question for the tasks behind it
   * that could start with it (see `batchFrom`); their answer starts the next step.
   */
  private ask(head: TaskRecord, now: number): void {
    const shared = this.deps.shared as SharedTakes;
    const batch = shared.asksMany ? this.batchFrom(head, now) : [head];
    // Takes of the last answer that this step did not start with go back first (the same
    // connection carries both, in order): held, they could refuse this question.
    if (this.granted !== undefined) this.releaseUnused(this.granted);
    this.asking = head.id;
    this.sharedWait = { taskId: head.id, waitingFor: 'rateLimit' };
    this.headWait ??= this.sharedWait;
    shared.takeMany(batch, now).then(
      (verdicts) => this.answered(batch, verdicts),
      (error: unknown) => {
        shared.report(head.id, error);
        // Redis did not answer: ask again in a second.
        const retryAt = this.deps.clock.now() + SHARED_RETRY_MS;
        this.answered(batch, [{ ok: false, waitingFor: 'rateLimit', retryAt }]);
      },
    );
  }

  /**
   * The head and the tasks right behind it, in admission order, that this process would start
   * now if the ones before them started too: as many as there are free slots (at most
   * {@link SHARED_BATCH}), up to the first that a decision here does not admit on its own. Asked
   * together, a wave of tasks costs one answer of the shared limits, not one each. A task whose
   * take comes back but that the next step does not start (the ones before it took what it
   * needed here) gives its take back.
   */
  private batchFrom(head: TaskRecord, now: number): TaskRecord[] {
    const { view, line, lifecycle } = this.deps;
    const room = Math.min(SHARED_BATCH, view.slots.max - view.slots.used);
    if (room <= 1) return [head];
    const candidates = line.peekMany(
      room,
      this.modelWaits.size === 0 ? undefined : this.modelWaits,
    );
    if (candidates[0] !== head) return [head];
    const mono = monotonicNow(this.deps.clock);
    const batch = [head];
    for (let i = 1; i < candidates.length; i++) {
      const next = candidates[i] as TaskRecord;
      const drains = lifecycle.phase !== 'stopping' || lifecycle.drainsWith(next);
      const decision = decideAdmission(next, drains, view, now, mono);
      if (decision.kind !== 'admit' || !decision.limited) break;
      batch.push(next);
    }
    return batch;
  }

  /**
   * The shared limits answered for the heads of `batch` (a verdict for each asked, in order):
   * the supervisor takes its next step with the answer. A take that step did not start with (the
   * task was cancelled or paused meanwhile, a task before it took what it needed here, or the
   * queue paused or stopped) goes back.
   */
  private answered(batch: readonly TaskRecord[], verdicts: readonly SharedVerdict[]): void {
    this.asking = undefined;
    const granted = new Map<string, Grant>();
    let refused: string | undefined;
    verdicts.forEach((verdict, i) => {
      const task = batch[i];
      if (task === undefined) return;
      if (verdict.ok) granted.set(task.id, { take: verdict.take, model: task.reservation.model });
      else {
        refused = task.id;
        this.refused = { taskId: task.id, verdict };
      }
    });
    this.granted = granted;
    const running = this.deps.lifecycle.phase !== 'stopped';
    if (running) this.deps.dispatch({ type: 'queue.wake' });
    if (this.granted === granted) this.granted = undefined;
    const released = this.releaseUnused(granted);
    // The refusal was given with those takes held: without them it may no longer hold, so the
    // task is asked for again rather than waiting the whole window.
    if (released > 0 && refused !== undefined && this.refused?.taskId === refused && running) {
      this.refused = undefined;
      this.deps.dispatch({ type: 'queue.wake' });
    }
  }

  /** Gives back the takes of `granted` (none was started with), and forgets them. How many. */
  private releaseUnused(granted: Map<string, Grant>): number {
    const now = this.deps.clock.now();
    const n = granted.size;
    for (const [taskId, { take, model }] of granted) {
      this.deps.shared?.release(taskId, model, take, now);
    }
    granted.clear();
    return n;
  }

  /**
   * Tells the supervisor an attempt ended (its slot is free), when that can matter: something
   * waits in line, or the supervisor drains and waits for the last call. Attempts that end in
   * the same turn are told in one event carrying their ids, sent once the promise callbacks
   * already queued have run (a microtask: no time passes): one admission step a wave of calls.
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
    this.settledSoon = this.admittedSinceYield < ADMISSIONS_PER_TURN;
    if (this.settledSoon) queueMicrotask(this.notifySoon);
    else this.yieldToEventLoop();
  }

  /**
   * Sends the pending `task.settled` now if it waits for a microtask (not for the event loop's
   * turn: that yield is on purpose). The journal calls it before the turn's commit, so the `running`
   * records of the tasks admitted into this turn's freed slots go with the results that freed them.
   */
  flushSettled(): void {
    if (this.settledSoon) this.notifySettled();
  }

  /** The microtask's send (none when `flushSettled` sent it and the next waits for the yield). */
  private readonly notifySoon = (): void => {
    if (this.settledSoon) this.notifySettled();
  };

  /** Sends one `task.settled` event carrying every attempt that ended since the last one. */
  private readonly notifySettled = (): void => {
    const taskIds = this.settledPending;
    if (taskIds === undefined) return;
    this.settledPending = undefined;
    this.settledSoon = false;
    if (this.deps.lifecycle.phase === 'stopped') return;
    this.deps.dispatch({ type: 'task.settled', taskIds });
  };

  /**
   * Lets the event loop run before admission goes on: calls that end at once (a cache, a stub)
   * make ending attempts and admitting the next one long chain of promise callbacks that timers,
   * I/O and signal handlers wait behind. So once `ADMISSIONS_PER_TURN` tasks were taken from the
   * line, the next `task.settled` is sent from a 0 ms timer of the injected clock. Submissions
   * still admit at once: a caller's own loop of submits is its own chain.
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
    const at = earliest([
      this.deps.line.nextDue()?.notBefore,
      this.sharedWait?.until,
      ...Array.from(this.modelWaits.values(), (wait) => wait.until),
      this.deps.line.nextExpiryAt(),
    ]);
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

/** The earliest of some moments (ms), or `undefined` when none is known. */
function earliest(moments: readonly (number | undefined)[]): number | undefined {
  let at: number | undefined;
  for (const m of moments) if (m !== undefined && (at === undefined || m < at)) at = m;
  return at;
}
