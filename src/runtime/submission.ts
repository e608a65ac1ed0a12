/**
 * Submission: a batch is checked whole before any of it joins the line (each task validated, no
 * duplicate id, room under `maxQueueSize`, a worst case the budget can hold), then stored, then
 * put in line; all of it or none. The supervisor is woken only when a new head may start now, or
 * when a deadline comes sooner than the armed wake-up. `estimateCost` prepares a task the same way
 * without submitting it.
 */

import type { ConcurrencyContext } from '../../machines/concurrency.logic.js';
import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import {
  BudgetExceededError,
  QueueFullError,
  QueueStoppedError,
  ValidationError,
} from '../errors.js';
import type { BudgetBook } from '../limits/budget-book.js';
import { costMicros, worstCaseCostMicros } from '../limits/cost.js';
import { microsToDollars } from '../limits/prices.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import { aboveBudget } from './admission.js';
import type { AdmissionLoop } from './admission-loop.js';
import type { EngineEvent } from './events.js';
import { type IntakeContext, prepareTask, type SubmitInput } from './intake.js';
import type { Lifecycle } from './lifecycle.js';
import type { TaskRunner } from './running.js';
import type { TaskControl } from './task-control.js';
import type { WaitingTasks } from './waiting-tasks.js';

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

/** What submission needs from the engine. */
export interface SubmissionDeps {
  clock: Clock;
  store: TaskStore;
  /** What task intake reads of the engine (settings, task types, prices, windows). */
  intake: IntakeContext;
  waiting: WaitingTasks;
  runner: TaskRunner;
  lifecycle: Lifecycle;
  control: TaskControl;
  admission: AdmissionLoop;
  /** The budgets' state, as the budget actor holds it. */
  budget(): BudgetBook;
  /** The concurrency actor's pool. */
  concurrency(): ConcurrencyContext;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
  emit(event: EngineEvent): void;
  persist(record: TaskRecord): void;
}

export class Submission {
  /** The last submission sequence number given: a task's place within its priority. */
  private seq = 0;
  /** Idempotency keys of tasks being stored right now, and their ids. */
  private readonly storing = new Map<string, string>();

  constructor(private readonly deps: SubmissionDeps) {}

  /** Numbers new tasks after `seq` (a durable store's tasks were numbered up to it). */
  continueAfter(seq: number): void {
    if (seq > this.seq) this.seq = seq;
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
    onAccepted?: (ids: readonly string[], reused: ReadonlySet<string>) => void,
  ): Promise<string[]> {
    const { deps } = this;
    const { lifecycle, runner, waiting } = deps;
    if (lifecycle.phase === 'stopped') throw new QueueStoppedError();
    if (
      lifecycle.phase === 'stopping' &&
      !inputs.every((input) => input?.parentId !== undefined && runner.isRunning(input.parentId))
    ) {
      throw new QueueStoppedError();
    }
    const now = deps.clock.now();
    const prepared = inputs.map((input, index) =>
      this.prepare(input, now, inputs.length > 1 ? `tasks[${index}]` : ''),
    );
    // A key the store holds (or a task being stored holds, or an earlier task of this batch)
    // names the task to return instead of a new one.
    const ids = prepared.map((r) => r.id);
    const reused = new Set<string>();
    let records = prepared;
    if (prepared.some((r) => r.idempotencyKey !== undefined)) {
      const keys = prepared.flatMap((r) =>
        r.idempotencyKey === undefined ? [] : [r.idempotencyKey],
      );
      const known = await deps.store.findByIdempotencyKeys(keys);
      records = [];
      prepared.forEach((record, index) => {
        const key = record.idempotencyKey;
        const existing = key === undefined ? undefined : (known.get(key) ?? this.storing.get(key));
        if (existing !== undefined) {
          ids[index] = existing;
          reused.add(existing);
          return;
        }
        if (key !== undefined) known.set(key, record.id);
        records.push(record);
      });
    }
    const seen = records.length > 1 ? new Set<string>() : undefined;
    let topLevel = 0;
    for (const record of records) {
      if (seen?.has(record.id) || waiting.line.has(record.id) || waiting.parked.has(record.id)) {
        throw new ValidationError(`invalid id: a task with id '${record.id}' exists already`, [
          { path: 'id', message: 'duplicate', received: record.id },
        ]);
      }
      seen?.add(record.id);
      if (record.parentId === undefined) topLevel++;
    }
    if (topLevel > 0 && waiting.size + topLevel > deps.intake.settings.maxQueueSize) {
      throw new QueueFullError(
        `the queue holds ${waiting.size} waiting tasks of at most ${deps.intake.settings.maxQueueSize} (maxQueueSize); ${topLevel} more do not fit`,
      );
    }
    for (const record of records) this.checkBudgetAtSubmit(record, now);
    for (const record of records) record.seq = ++this.seq;
    const newIds = records.map((r) => r.id);
    for (const record of records) {
      if (record.idempotencyKey !== undefined) this.storing.set(record.idempotencyKey, record.id);
    }
    try {
      if (records.length > 0) await deps.store.insert(records);
    } finally {
      for (const record of records) {
        if (record.idempotencyKey !== undefined) this.storing.delete(record.idempotencyKey);
      }
    }
    try {
      onAccepted?.(ids, reused);
    } catch (error) {
      // Nothing of the submission stays: the caller gets the error and no id.
      await deps.store.remove(newIds).catch(() => 0);
      throw error;
    }
    for (const record of records) this.joinLine(record, 0, now);
    // A child whose parent ended (or was cancelled) while it was being stored never runs.
    for (const record of records) {
      if (record.parentId !== undefined && !runner.isRunning(record.parentId)) {
        deps.control.cancelNow(record.id);
      }
    }
    // Only a new head can change what admission decides (the line is strict: nothing behind the
    // head is admitted before it), or, while some models are held by their own limits, a new head
    // of another model; and only if it could start now. Otherwise the supervisor is not woken: a
    // settling task or an armed wake-up will look at the line again.
    const held = deps.admission.heldModels();
    const head = waiting.line.peek(held.size === 0 ? undefined : held);
    const newHead = head !== undefined && records.includes(head) && this.headMayStart(head);
    const expiry = waiting.line.nextExpiryAt();
    const wakeAt = deps.admission.wakeAt;
    const sooner = expiry !== undefined && (wakeAt === undefined || expiry < wakeAt);
    // Tells the supervisor that tasks joined the line and the first of them may start now.
    if (newHead || sooner) deps.dispatch({ type: 'task.submitted', taskIds: newIds });
    return ids;
  }

  /**
   * What a task would reserve and could cost, without submitting it: its model, prompt tokens
   * (counted as the provider counts them), `max_tokens`, the cost of the prompt alone and the
   * worst case (prompt × input price + `max_tokens` × output price), in US dollars. Costs are
   * `undefined` when the model has no price. Validates like `submit`.
   */
  estimateCost(input: SubmitInput): CostEstimate {
    const record = this.prepare(input, this.deps.clock.now(), '');
    // Refused as at submit whatever has been spent: a worst case no budget could ever hold.
    const never = this.aboveBudget(record);
    if (never !== undefined) throw never;
    const { model, promptTokens, maxTokens } = record.reservation;
    const price = this.deps.intake.priceOf(model);
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

  /**
   * A task of a shared queue, taken from it for the first time: validated as `submit` does, with
   * the id and submission time it was given where it was submitted (see transport.ts).
   */
  prepareTaken(input: SubmitInput, id: string, createdAt: number): TaskRecord {
    return this.prepare({ ...input, id }, createdAt, '');
  }

  /**
   * A task taken from a shared queue joins the line, numbered after this engine's own: a queued
   * or retrying one as it is; a `running` one (its worker died mid-attempt) with that attempt
   * interrupted, as recovery brings one back. Neither the queue's size nor the budget is checked
   * again: the task was accepted where it was submitted, and admission holds its worst case.
   */
  async adopt(record: TaskRecord, interrupt: (record: TaskRecord) => void): Promise<void> {
    const { deps } = this;
    if (deps.lifecycle.phase === 'stopped') throw new QueueStoppedError();
    record.seq = ++this.seq;
    await deps.store.insert([record]);
    const now = deps.clock.now();
    let notBefore = 0;
    if (record.status === 'running') {
      interrupt(record);
      record.notBefore = undefined;
      deps.persist(record);
    } else if (record.status === 'retrying') {
      notBefore = Math.max(record.notBefore ?? 0, 1);
    }
    this.joinLine(record, notBefore, now);
    deps.dispatch({ type: 'task.submitted', taskIds: [record.id] });
  }

  /** A stored task joins the line (or is parked while the queue stops), reported submitted. */
  private joinLine(record: TaskRecord, notBefore: number, now: number): void {
    this.deps.lifecycle.enqueue(record, notBefore);
    this.deps.emit({
      type: 'task.submitted',
      taskId: record.id,
      taskType: record.type,
      priority: record.priority,
      at: now,
      parentId: record.parentId,
    });
  }

  private prepare(input: SubmitInput, now: number, prefix: string): TaskRecord {
    return prepareTask(input, now, prefix, this.deps.intake);
  }

  /** Whether admission could start this head task now, as far as a slot is concerned. */
  private headMayStart(head: TaskRecord): boolean {
    const { lifecycle } = this.deps;
    if (lifecycle.phase === 'created' || lifecycle.phase === 'stopped' || lifecycle.isPaused) {
      return false;
    }
    if (!head.reservation.limited) return true;
    const { max, used } = this.deps.concurrency();
    return used < max;
  }

  /** The refusal of a worst case that a budget can never hold, on its own (whatever is spent). */
  private aboveBudget(record: TaskRecord): BudgetExceededError | undefined {
    const amount = record.reservation.worstCaseMicros;
    return aboveBudget(amount, this.deps.budget().ledger.canEverFit(amount));
  }

  private checkBudgetAtSubmit(record: TaskRecord, now: number): void {
    const amount = record.reservation.worstCaseMicros;
    if (amount === 0) return;
    const never = this.aboveBudget(record);
    if (never !== undefined) throw never;
    const verdict = this.deps.budget().check(now, amount);
    if (!verdict.ok && verdict.period === 'total') {
      const remaining = this.deps.budget().ledger.remaining(now).total;
      throw new BudgetExceededError(
        `task's worst-case cost $${(amount / 1e6).toFixed(6)} exceeds the remaining total budget $${((remaining ?? 0) / 1e6).toFixed(6)}`,
      );
    }
  }
}
