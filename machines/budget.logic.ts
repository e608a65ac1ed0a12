import { fromTransition } from 'xstate';
import type { BudgetLedgerState, BudgetLimitsData } from '../src/limits/types.js';

/**
 * The money ledger: total, daily and hourly budgets in integer micro-dollars, with worst-case
 * holds for running calls. The state is an immutable value whose arithmetic lives in
 * `src/limits/` (handed in as `ledger`); each event makes the next value.
 */
export type { BudgetLedgerState, BudgetLimitsData } from '../src/limits/types.js';

export type BudgetEvent =
  | { type: 'budget.hold'; at: number; taskId: string; amount: number }
  | { type: 'budget.commit'; at: number; taskId: string; actual: number }
  | { type: 'budget.release'; taskId: string }
  | { type: 'budget.configure'; limits: BudgetLimitsData }
  | { type: 'budget.resetTotal' };

/** The ledger after one event: a new immutable value (or the same one when nothing changed). */
export function budgetTransition(
  context: { ledger: BudgetLedgerState },
  event: BudgetEvent,
): { ledger: BudgetLedgerState } {
  const { ledger } = context;
  switch (event.type) {
    case 'budget.hold':
      return { ledger: ledger.hold(event.at, event.taskId, event.amount) };
    case 'budget.commit':
      return { ledger: ledger.commit(event.at, event.taskId, event.actual) };
    case 'budget.release':
      return { ledger: ledger.release(event.taskId) };
    case 'budget.configure':
      return { ledger: ledger.configure(event.limits) };
    case 'budget.resetTotal':
      return { ledger: ledger.resetTotal() };
    default:
      return context;
  }
}

/**
 * The `budget` actor: a reducer over the ledger (`fromTransition`), for the reason given in
 * `concurrency.logic.ts`.
 */
export const budgetLogic = fromTransition(
  budgetTransition,
  ({ input }: { input: { ledger: BudgetLedgerState } }) => ({ ledger: input.ledger }),
);

export type BudgetLogic = typeof budgetLogic;
