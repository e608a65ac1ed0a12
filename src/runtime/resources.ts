/**
 * Taking and giving back what an admitted task holds: a slot of the concurrency actor, a
 * reservation in the rateLimit actor's windows, a worst-case hold in the budget actor, each by an
 * event to that actor. This is the effect step of admission: `decideAdmission` decides, this
 * carries it out; when the call ends, the real usage replaces the reservation and the hold.
 */

import type { AnyActorRef } from 'xstate';
import type { BudgetEvent } from '../../machines/budget.logic.js';
import type { RateLimitEvent } from '../../machines/rate-limit.logic.js';
import type { SentRequest } from '../limits/types.js';
import type { LedgerEntry, TaskRecord } from '../stores/types.js';

/** What an attempt used, as far as the limits are concerned. */
export interface AttemptUsage {
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
}

export interface ResourceDeps {
  /**
   * The time the rate windows run on: the clock's monotonic reading (see `monotonicNow`). The
   * ledger stores wall time instead (`wallOf`), which a later process converts back.
   */
  rateNow(): number;
  /** The wall time of a `rateNow()` reading. */
  wallOf(mono: number): number;
  /** The `rateNow()` reading of a wall time (a time read back from the ledger). */
  monotonicOf(wall: number): number;
  /** The resource actor registered under `systemId`, while the supervisor runs. */
  actor(systemId: 'concurrency' | 'rateLimit' | 'budget'): AnyActorRef | undefined;
  /** Whether any window or server hint is in force (no reservation is needed otherwise). */
  rateLimited(): boolean;
  /** Whether a total, daily or hourly budget is set (no hold is needed otherwise). */
  budgeted(): boolean;
  /** Writes a resource event to the ledger, so a durable store can replay it after a restart. */
  ledger(entry: LedgerEntry): void;
}

/**
 * The events of the ledger: what changes the windows and the budget across a restart (a
 * provider's hints only when they ask for a wait). The rate events' times are monotonic readings
 * in the process (`rateNow`) and wall times in the ledger (see `ledgerTimes`).
 */
export type LedgerEvent =
  | Extract<RateLimitEvent, { type: 'rate.reserve' | 'rate.reconcile' | 'rate.hints' }>
  | Extract<BudgetEvent, { type: 'budget.hold' | 'budget.commit' | 'budget.resetTotal' }>;

/**
 * `event` with the times of a rate event (`at`, `sentAt`, `sends`) passed through `convert`:
 * monotonic to wall time when it is written to the ledger, wall to monotonic when a ledger is replayed. The
 * budget's times are wall times everywhere (its days and hours are the calendar's).
 */
export function ledgerTimes(event: LedgerEvent, convert: (at: number) => number): LedgerEvent {
  switch (event.type) {
    case 'rate.reserve':
      return { ...event, at: convert(event.at) };
    case 'rate.hints': {
      // A replay has none of these calls running: it keeps their times and tokens, not their
      // tasks (whose reservations nothing would reconcile) or `first` (their ends will not move
      // their takes).
      const { first: _, ...rest } = event;
      return event.sends === undefined
        ? { ...rest, at: convert(event.at) }
        : {
            ...rest,
            at: convert(event.at),
            sends: event.sends.map((s) => ({ at: convert(s.at), tokens: s.tokens })),
          };
    }
    case 'rate.reconcile':
      return {
        ...event,
        ...(event.sentAt === undefined ? {} : { sentAt: convert(event.sentAt) }),
        ...(event.answeredAt === undefined ? {} : { answeredAt: convert(event.answeredAt) }),
      };
    default:
      return event;
  }
}

export class ResourceTakes {
  /** Running tasks that hold a window reservation, and when their call was last sent. */
  private readonly reserved = new Map<string, number | undefined>();
  private readonly held = new Set<string>();
  private slots = 0;

  constructor(private readonly deps: ResourceDeps) {}

  /** Slots taken by running tasks. */
  get slotsInUse(): number {
    return this.slots;
  }

  /** Takes a slot, a reservation and a hold for `record` (admission checked that they fit). */
  take(record: TaskRecord, now: number): void {
    const { deps } = this;
    const { model, promptTokens, maxTokens, worstCaseMicros } = record.reservation;
    deps.actor('concurrency')?.send({ type: 'slot.acquire', count: 1 });
    this.slots++;
    if (deps.rateLimited()) {
      this.reserved.set(record.id, undefined);
      this.send(now, 'rateLimit', {
        type: 'rate.reserve',
        at: deps.rateNow(),
        taskId: record.id,
        model,
        requests: 1,
        tokens: promptTokens + maxTokens,
      });
    }
    if (worstCaseMicros > 0 && deps.budgeted()) {
      this.held.add(record.id);
      this.send(now, 'budget', {
        type: 'budget.hold',
        at: now,
        taskId: record.id,
        amount: worstCaseMicros,
      });
    }
  }

  /**
   * Task `id`'s call (of `model`, asking for `tokens`) is being handed to the HTTP client: its
   * reservation counts from now in the windows (not from its admission), and a call with no
   * take in its model's learned windows is taken in them. Not written to the ledger on its own:
   * the reconcile that ends the reservation carries it (`sentAt`). Returns the send time (on
   * `rateNow`).
   */
  sent(id: string, model: string, tokens: number): number {
    const at = this.deps.rateNow();
    // A call with no reservation may get one in a learned window (`RateLimiter.sent`): its end
    // reconciles it, as it does every reservation.
    if (!this.reserved.has(id) && !this.deps.rateLimited()) return at;
    this.reserved.set(id, at);
    this.deps.actor('rateLimit')?.send({ type: 'rate.sent', taskId: id, at, model, tokens });
    return at;
  }

  /**
   * Calls in flight that a window learned for the first time took (`RateLimiter.applyHints`):
   * one admitted with no window in force holds a reservation from now on, so its end reconciles
   * it (with its answer's time, when it left cold).
   */
  adopt(sends: readonly SentRequest[]): void {
    for (const { taskId, at } of sends) {
      if (taskId !== undefined && !this.reserved.has(taskId)) this.reserved.set(taskId, at);
    }
  }

  /**
   * Gives back what task `id`'s attempt held (`limited`: it took a slot), settling its
   * reservation and its hold with what it really used. `cold`: its call may have waited for a
   * new connection (see warm-calls.ts), so a learned window counts it from now, its answer.
   */
  giveBack(id: string, limited: boolean, used: AttemptUsage, now: number, cold = false): void {
    const { deps } = this;
    if (limited) {
      this.slots--;
      deps.actor('concurrency')?.send({ type: 'slot.release', count: 1 });
    }
    if (this.reserved.has(id)) {
      const sentAt = this.reserved.get(id);
      this.reserved.delete(id);
      this.send(now, 'rateLimit', {
        type: 'rate.reconcile',
        taskId: id,
        tokens: used.promptTokens + used.completionTokens,
        ...(sentAt === undefined ? {} : { sentAt }),
        ...(cold && sentAt !== undefined ? { answeredAt: deps.rateNow() } : {}),
      });
    }
    // With no hold (no budget limit was in force when it started) the commit only records the
    // spending, so that a budget set later (adjustSettings) counts what was already spent.
    if (this.held.delete(id) || used.costMicros > 0) {
      this.send(now, 'budget', {
        type: 'budget.commit',
        at: now,
        taskId: id,
        actual: used.costMicros,
      });
    }
  }

  /** Sets the total spent back to zero, for this run and the ones after it. */
  resetTotal(now: number): void {
    this.send(now, 'budget', { type: 'budget.resetTotal' });
  }

  /**
   * Sends a ledger event (its times on `rateNow`) to its actor and writes it to the ledger at
   * `at` (wall time), its own times converted to wall time.
   */
  record(at: number, event: LedgerEvent): void {
    this.send(at, actorOf(event), event);
  }

  /**
   * Sends an event read back from the ledger (an earlier process's, in wall time) to its actor,
   * its times converted to `rateNow`; nothing is written (it is in the ledger already).
   */
  replay(stored: LedgerEvent): void {
    this.deps.actor(actorOf(stored))?.send(ledgerTimes(stored, this.deps.monotonicOf));
  }

  /** Sends a ledger event to its actor, and writes it to the ledger. */
  private send(at: number, to: 'rateLimit' | 'budget', event: LedgerEvent): void {
    this.deps.actor(to)?.send(event);
    const taskId = 'taskId' in event ? event.taskId : undefined;
    this.deps.ledger({ at, taskId, event: ledgerTimes(event, this.deps.wallOf) });
  }
}

/** The actor a ledger event is for. */
function actorOf(event: LedgerEvent): 'rateLimit' | 'budget' {
  return event.type.startsWith('rate.') ? 'rateLimit' : 'budget';
}
