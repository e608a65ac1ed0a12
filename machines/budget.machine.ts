import { setup } from 'xstate';

/**
 * The money ledger: total, daily and hourly budgets in integer micro-dollars, with worst-case
 * holds for running calls. The arithmetic lives in `src/limits/` and is handed in as `ledger`.
 */
/** Limits in integer micro-dollars; `undefined` = no limit. */
export interface BudgetLimitsData {
  total?: number | undefined;
  daily?: number | undefined;
  hourly?: number | undefined;
}

export interface BudgetLedgerState {
  hold(at: number, taskId: string, amount: number): void;
  /** Ends a task's hold and charges what it really cost. */
  commit(at: number, taskId: string, actual: number): void;
  /** Ends a task's hold without charging it. */
  release(taskId: string): void;
  configure(limits: BudgetLimitsData): void;
  resetTotal(): void;
}

export type BudgetEvent =
  | { type: 'budget.hold'; at: number; taskId: string; amount: number }
  | { type: 'budget.commit'; at: number; taskId: string; actual: number }
  | { type: 'budget.release'; taskId: string }
  | { type: 'budget.configure'; limits: BudgetLimitsData }
  | { type: 'budget.resetTotal' };

export const budgetMachine = setup({
  types: {
    context: {} as { ledger: BudgetLedgerState },
    events: {} as BudgetEvent,
    input: {} as { ledger: BudgetLedgerState },
  },
  actions: {
    hold: ({ context, event }) => {
      if (event.type === 'budget.hold') context.ledger.hold(event.at, event.taskId, event.amount);
    },
    commit: ({ context, event }) => {
      if (event.type === 'budget.commit')
        context.ledger.commit(event.at, event.taskId, event.actual);
    },
    release: ({ context, event }) => {
      if (event.type === 'budget.release') context.ledger.release(event.taskId);
    },
    configure: ({ context, event }) => {
      if (event.type === 'budget.configure') context.ledger.configure(event.limits);
    },
    resetTotal: ({ context }) => context.ledger.resetTotal(),
  },
}).createMachine({
  id: 'budget',
  context: ({ input }) => ({ ledger: input.ledger }),
  on: {
    'budget.hold': { actions: 'hold' },
    'budget.commit': { actions: 'commit' },
    'budget.release': { actions: 'release' },
    'budget.configure': { actions: 'configure' },
    'budget.resetTotal': { actions: 'resetTotal' },
  },
});
