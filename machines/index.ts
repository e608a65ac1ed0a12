export {
  type BudgetEvent,
  type BudgetLedgerState,
  type BudgetLimitsData,
  budgetLogic,
  budgetTransition,
} from './budget.logic.js';
export {
  type ConcurrencyContext,
  type ConcurrencyEvent,
  type ConcurrencyLogic,
  concurrencyLogic,
  concurrencyTransition,
} from './concurrency.logic.js';
export {
  type RateLimitEvent,
  type RateLimiterState,
  type RateLimitHintsData,
  type RateLimitSettings,
  type RateRequest,
  type RateWindowData,
  rateLimitLogic,
  rateLimitTransition,
} from './rate-limit.logic.js';
export { type RetrySettings, retryDelayMs } from './retry-policy.js';
export {
  type SupervisorEvent,
  type SupervisorInput,
  type SupervisorMachine,
  supervisorMachine,
} from './supervisor.machine.js';
export {
  type AttemptOutcome,
  type FailedAttempt,
  type HistoryEntry,
  type TaskErrorInfo,
  type TaskMachine,
  type TaskMachineContext,
  type TaskMachineEvent,
  type TaskMachineInput,
  taskMachine,
} from './task.machine.js';
export { type TaskRegistryContext, taskRegistryLogic } from './task-registry.logic.js';
export {
  isTerminalStatus,
  PRIORITIES_HIGH_FIRST,
  Priority,
  priorityRank,
  TASK_STATUSES,
  type TaskStatus,
  TERMINAL_STATUSES,
} from './task-status.js';
export type { TaskWaitReason, WaitReason } from './wait-reason.js';
