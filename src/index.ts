/**
 * ai-task-queue: an actor-model task queue for AI work.
 *
 * The root entry holds what an application needs: the manager, the vocabulary (priorities,
 * statuses, task types), the error tree, the built-in task types and the way to write one, the
 * OpenAI-compatible client and the `AIClient` contract, clocks and random sources, and the store
 * contract with its memory store. Everything else is behind a documented subpath
 * (`ai-task-queue/machines`, `/task-types`, `/limits`, `/config`, `/simulator`; see `docs/api.md`)
 * or internal. `etc/ai-task-queue.api.md` is the report of this surface; `npm test` fails while it
 * is stale.
 */

export {
  type AttemptOutcome,
  type HistoryEntry,
  isTerminalStatus,
  Priority,
  type RetrySettings,
  TASK_STATUSES,
  type TaskErrorInfo,
  type TaskStatus,
  type TaskWaitReason,
  type WaitReason,
} from '../machines/index.js';
export type {
  AdjustableSettings,
  EngineSettings,
  EngineSettingsInput,
  TaskConfigInput,
} from './config/engine-options.js';
export type {
  AITaskManagerOptions,
  Logger,
  ResolvedManagerOptions,
} from './config/manager-options.js';
export {
  BudgetExceededError,
  type ErrorCode,
  InvalidAnswerError,
  isRetryableStatus,
  NonRetryableError,
  ProviderError,
  type ProviderErrorOptions,
  ProviderRefusedError,
  QueueFullError,
  QueueStoppedError,
  type RefusalScope,
  refusalScope,
  reviveError,
  type SerializedError,
  ServerWaitError,
  StoreError,
  type StoreErrorReason,
  serializeError,
  TaskCancelledError,
  TaskNotFoundError,
  TaskQueueError,
  TaskTimeoutError,
  ValidationError,
  type ValidationIssue,
  WaitTimeoutError,
} from './errors.js';
export type { DurationString, DurationUnit } from './internal/duration.js';
export type { ModelPrice } from './limits/prices.js';
export type {
  SharedLimits,
  SharedLimitsConfig,
  SharedSpending,
  SharedTake,
  SharedVerdict,
  SharedWindow,
} from './limits/shared.js';
export type { WindowLimit } from './limits/window-limits.js';
export {
  AITaskManager,
  type BatchTaskInput,
  type CostController,
  createAITaskManager,
  type EventListener,
  type GetTasksQuery,
  type ManagerTaskTypes,
  type ProgressCallback,
  type QueueStatus,
  type SubmitTaskInput,
  type TaskCallback,
  type TaskConfig,
  type TaskId,
  type TaskInfoPage,
  type TaskResultFor,
  type TypedManagerOptions,
} from './manager.js';
export { parseRateLimitHeaders } from './providers/headers.js';
export {
  type APIConfig,
  OpenAICompatibleClient,
  type PublicAPIConfig,
} from './providers/openai.js';
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
export type { CostEstimate } from './runtime/engine.js';
export type { EngineEvent, EngineEventType, EventOf } from './runtime/events.js';
export type { RecoveryCounts } from './runtime/recovery.js';
export type { TaskErrorView, TaskInfo, TaskMetrics } from './runtime/task-info.js';
export type { SharedQueueStatistics } from './runtime/transport.js';
export type {
  BudgetStatistics,
  Gauge,
  HeldModel,
  Statistics,
  WindowStatistics,
} from './stats/types.js';
export { MemoryTaskStore } from './stores/memory.js';
export type {
  LedgerEntry,
  LedgerQuery,
  ResolvedTaskConfig,
  StoredLedgerEntry,
  StoreWrite,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskReservation,
  TaskStore,
  TaskUsage,
  WaitingQuery,
} from './stores/types.js';
export {
  type BatchAnalysisInput,
  type BatchAnalysisOptions,
  type BatchAnalysisResult,
  type BatchItemResult,
  type BatchRepository,
  BUILTIN_TASK_TYPES,
  type BuiltinTaskTypes,
  batchAnalysisTaskType,
  createBatchAnalysisTaskType,
  createEmbeddingGenerationTaskType,
  createRepositoryAnalysisTaskType,
  createSemanticSearchTaskType,
  createTextClassificationTaskType,
  type EmbeddingGeneration,
  type EmbeddingGenerationInput,
  type EmbeddingGenerationOptions,
  embeddingGenerationTaskType,
  type RepoInfo,
  type RepositoryAnalysis,
  type RepositoryAnalysisInput,
  type RepositoryAnalysisOptions,
  repositoryAnalysisTaskType,
  type SemanticSearchInput,
  type SemanticSearchOptions,
  type SemanticSearchResult,
  semanticSearchTaskType,
  TaskType,
  type TextClassification,
  type TextClassificationInput,
  type TextClassificationOptions,
  textClassificationTaskType,
} from './task-types/builtin/index.js';
export { defineTaskType } from './task-types/define-task-type.js';
export type { EmbeddingBatchOptions } from './task-types/embeddings.js';
export {
  type AnswerSchema,
  answerSchema,
  defineStructuredTaskType,
  type ResolvedStructuredOutputs,
  resolveStructuredOutputs,
  type StructuredOutputMode,
  type StructuredOutputOptions,
  type StructuredTaskTypeSpec,
} from './task-types/structured.js';
export type {
  AnyTaskTypeDefinition,
  ChatCall,
  ChildOutcome,
  ChildTaskSpec,
  EmbedCall,
  TaskContext,
  TaskDataOf,
  TaskEnvironment,
  TaskEstimate,
  TaskResultOf,
  TaskTypeDefinition,
  TaskTypeMap,
  TaskTypeName,
  TaskTypeRegistry,
  UntypedTaskTypes,
} from './task-types/types.js';
export {
  type Clock,
  type RandomSource,
  seededRandom,
  systemClock,
  systemRandom,
} from './time/clock.js';
