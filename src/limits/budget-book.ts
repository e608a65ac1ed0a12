import { BudgetLedger, type BudgetVerdict } from './budget.js';
import { BucketedMap } from './persistent.js';
import type { BudgetLedgerState, BudgetLimitsData } from './types.js';

/**
 * The state of the `budget` actor, as an immutable value: the ledger plus each running task's
 * hold, so a commit or release names the task rather than the hold. Every change returns a new
 * book (sharing what did not change: see `persistent.ts`); reading the budget is reading the
 * actor's snapshot.
 */
export class BudgetBook implements BudgetLedgerState {
  private constructor(
    readonly ledger: BudgetLedger,
    /** Micro-dollars held, by task. */
    private readonly holds: BucketedMap<number>,
  ) {}

  /** @throws RangeError for an unknown time zone or a limit that is not an integer ≥ 0 */
  static of(limits: BudgetLimitsData, timeZone: string): BudgetBook {
    return new BudgetBook(BudgetLedger.of(limits, timeZone), BucketedMap.empty());
  }

  check(now: number, amount: number): BudgetVerdict {
    return this.ledger.check(now, amount);
  }

  /** Running tasks that hold money (0 once every call has ended). */
  get openHolds(): number {
    return this.holds.size;
  }

  hold(at: number, taskId: string, amount: number): BudgetBook {
    const ledger = this.holds.has(taskId) ? this.release(taskId).ledger : this.ledger;
    return new BudgetBook(ledger.hold(at, amount), this.holds.set(taskId, amount));
  }

  /** Ends the task's hold, charging `actual`; with no hold, only charges `actual`. */
  commit(at: number, taskId: string, actual: number): BudgetBook {
    const held = this.holds.get(taskId);
    if (held === undefined) {
      return actual > 0 ? new BudgetBook(this.ledger.charge(at, actual), this.holds) : this;
    }
    return new BudgetBook(this.ledger.commit(held, at, actual), this.holds.delete(taskId));
  }

  release(taskId: string): BudgetBook {
    const held = this.holds.get(taskId);
    if (held === undefined) return this;
    return new BudgetBook(this.ledger.release(held), this.holds.delete(taskId));
  }

  configure(limits: BudgetLimitsData): BudgetBook {
    return new BudgetBook(this.ledger.withLimits(limits), this.holds);
  }

  resetTotal(): BudgetBook {
    return new BudgetBook(this.ledger.resetTotal(), this.holds);
  }
}
