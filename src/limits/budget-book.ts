import { type BudgetHold, BudgetLedger, type BudgetVerdict } from './budget.js';
import type { BudgetLedgerState, BudgetLimitsData } from './types.js';

/**
 * The state owned by the `budget` actor: the ledger plus each running task's hold, so a commit
 * or release names the task rather than the hold.
 */
export class BudgetBook implements BudgetLedgerState {
  readonly ledger: BudgetLedger;
  private readonly holds = new Map<string, BudgetHold>();

  constructor(limits: BudgetLimitsData, timeZone: string) {
    this.ledger = new BudgetLedger(limits, timeZone);
  }

  check(now: number, amount: number): BudgetVerdict {
    return this.ledger.check(now, amount);
  }

  hold(at: number, taskId: string, amount: number): void {
    this.holds.set(taskId, this.ledger.hold(at, amount));
  }

  commit(at: number, taskId: string, actual: number): void {
    const hold = this.holds.get(taskId);
    if (hold === undefined) {
      if (actual > 0) this.ledger.charge(at, actual);
      return;
    }
    this.holds.delete(taskId);
    this.ledger.commit(hold, at, actual);
  }

  release(taskId: string): void {
    const hold = this.holds.get(taskId);
    if (hold === undefined) return;
    this.holds.delete(taskId);
    this.ledger.release(hold);
  }

  configure(limits: BudgetLimitsData): void {
    this.ledger.setLimits(limits);
  }

  resetTotal(): void {
    this.ledger.resetTotal();
  }
}
