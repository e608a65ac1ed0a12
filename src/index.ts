/**
 * ai-task-queue: an actor-model task queue for AI work.
 *
 * Every export is named here; anything not exported from this file is internal.
 */

export {
  type AttemptOutcome,
  type HistoryEntry,
  isTerminalStatus,
  PRIORITIES_HIGH_FIRST,
  Priority,
  priorityRank,
  type RetrySettings,
  retryDelayMs,
  supervisorMachine,
  TASK_STATUSES,
  type TaskErrorInfo,
  type TaskStatus,
  taskMachine,
} from '../machines/index.js';
export {
  type AdjustableSettings,
  AdjustableSettingsSchema,
  type EngineSettings,
  type EngineSettingsInput,
  EngineSettingsSchema,
  PrioritySchema,
  type TaskConfigInput,
  TaskConfigSchema,
  WindowLimitSchema,
} from './config/engine-options.js';
export {
  type AITaskManagerOptions,
  type Logger,
  ManagerOptionsSchema,
  type ResolvedManagerOptions,
} from './config/manager-options.js';
export {
  BudgetExceededError,
  type ErrorCode,
  InvalidAnswerError,
  isRetryableStatus,
  NonRetryableError,
  ProviderError,
  type ProviderErrorOptions,
  QueueFullError,
  QueueStoppedError,
  reviveError,
  type SerializedError,
  ServerWaitError,
  serializeError,
  TaskCancelledError,
  TaskNotFoundError,
  TaskQueueError,
  TaskTimeoutError,
  ValidationError,
  type ValidationIssue,
  WaitTimeoutError,
} from './errors.js';
export { BudgetLedger, type BudgetLimits } from './limits/budget.js';
export { costMicros, worstCaseCostMicros } from './limits/cost.js';
export {
  DEFAULT_PRICES,
  dollarsToMicros,
  type ModelPrice,
  microsToDollars,
  PRICE_TABLE_DATE,
  PRICE_TABLE_SOURCE,
  resolvePrice,
} from './limits/prices.js';
export { RateLimiter, type RateVerdict, type WindowUsage } from './limits/rate-limiter.js';
export {
  resolveWindows,
  SlidingWindowLimiter,
  type WindowLimit,
} from './limits/rate-window.js';
export {
  countChatTokens,
  countTextTokens,
  encodingForModel,
  truncateToTokens,
} from './limits/tokens.js';
export {
  AITaskManager,
  type BatchTaskInput,
  type CostController,
  createAITaskManager,
  type EventListener,
  type GetTasksQuery,
  ManagerTaskConfigSchema,
  type ProgressCallback,
  type QueueStatus,
  type SubmitTaskInput,
  SubmitTaskSchema,
  type TaskCallback,
  type TaskConfig,
  type TaskInfoPage,
} from './manager.js';
export { parseRateLimitHeaders } from './providers/headers.js';
export {
  type APIConfig,
  APIConfigSchema,
  isReasoningModel,
  OpenAICompatibleClient,
  type PublicAPIConfig,
} from './providers/openai.js';
export {
  type Simulator,
  type SimulatorOptions,
  SimulatorOptionsSchema,
  type SimulatorStats,
  startSimulator,
} from './providers/simulator/index.js';
export type {
  AIClient,
  CallOptions,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
  RateLimitHints,
  ResponseFormat,
  Usage,
} from './providers/types.js';
export {
  type CostEstimate,
  Engine,
  type EngineDeps,
  type HeadWait,
  type SubmitInput,
} from './runtime/engine.js';
export type { EngineEvent, EngineEventType, EventOf } from './runtime/events.js';
export type {
  TaskErrorView,
  TaskInfo,
  TaskMetrics,
} from './runtime/task-info.js';
export type {
  BudgetStatistics,
  Gauge,
  Statistics,
  TaskWaitReason,
  WaitReason,
  WindowStatistics,
} from './stats/types.js';
export { MemoryTaskStore } from './stores/memory.js';
export type {
  ResolvedTaskConfig,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskReservation,
  TaskStore,
  TaskUsage,
} from './stores/types.js';
export * from './task-types/index.js';
export {
  type Clock,
  type RandomSource,
  seededRandom,
  systemClock,
  systemRandom,
} from './time/clock.js';
