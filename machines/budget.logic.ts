import { fromTransition } from 'xstate';
import type { BudgetLedgerState, BudgetLimitsData } from '../src/limits/types.js';

/**
 * The money ledger: total, daily and hourly budgets in integer micro-dollars, with worst-case
 * holds for running calls. The arithmetic lives in `src/limits/` and is handed in as `ledger`.
 */
export type { BudgetLedgerState, BudgetLimitsData } from '../src/limits/types.js';

export type BudgetEvent =
  | { type: 'budget.hold'; at: number; taskId: string; amount: number }
  | { type: 'budget.commit'; at: number; taskId: string; actual: number }
  | { type: 'budget.release'; taskId: string }
  | { type: 'budget.configure'; limits: BudgetLimitsData }
  | { type: 'budget.resetTotal' };

/** Applies one event to the ledger (in place) and returns it. */
export function budgetTransition(
  context: { ledger: BudgetLedgerState },
  event: BudgetEvent,
): { ledger: BudgetLedgerState } {
  const { ledger } = context;
  switch (event.type) {
    case 'budget.hold':
      ledger.hold(event.at, event.taskId, event.amount);
      break;
    case 'budget.commit':
      ledger.commit(event.at, event.taskId, event.actual);
      break;
    case 'budget.release':
      ledger.release(event.taskId);
      break;
    case 'budget.configure':
      ledger.configure(event.limits);
      break;
    case 'budget.resetTotal':
      ledger.resetTotal();
      break;
  }
  return { ledger };
}

/**
 * The `budget` actor: a reducer over the ledger (`fromTransition`), for the reason given in
 * `concurrency.logic.ts`.
 */
export const budgetLogic = fromTransition(
  budgetTransition,
  ({ input }: { input: { ledger: BudgetLedgerState } }) => ({ ledger: input.ledger }),
);
