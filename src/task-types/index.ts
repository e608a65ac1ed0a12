/**
 * `ai-task-queue/task-types`: the task-type interface, the five built-in types (their names,
 * schemas, message builders, factories and default instances), and the pieces for writing a task
 * type by hand (structured outputs, embedding batches). The root entry re-exports what most users
 * need (`TaskType`, `BUILTIN_TASK_TYPES`, `BuiltinTaskTypes`, the factories and default instances,
 * `defineTaskType`, `defineStructuredTaskType`, `answerSchema`, `resolveStructuredOutputs`, and
 * the registry types). See `docs/api.md`.
 */

export * from './builtin/index.js';
export { defineTaskType } from './define-task-type.js';
export {
  countEmbeddingTokens,
  DEFAULT_EMBEDDING_BATCH_SIZE,
  DEFAULT_EMBEDDING_BATCH_TOKENS,
  type EmbeddedTexts,
  type EmbeddingBatchOptions,
  embedAll,
  estimateEmbedding,
} from './embeddings.js';
export {
  type AnswerSchema,
  answerSchema,
  chatStructured,
  defaultStructuredOutputMemory,
  defineStructuredTaskType,
  estimateStructured,
  isSchemaRejection,
  messagesFor,
  parseAnswer,
  type RequestForm,
  type ResolvedStructuredOutputs,
  requestFormFor,
  resolveStructuredOutputs,
  responseFormatFor,
  SCHEMA_OVERHEAD_TOKENS,
  type StructuredAnswer,
  type StructuredCall,
  StructuredOutputMemory,
  type StructuredOutputMode,
  StructuredOutputModeSchema,
  type StructuredOutputOptions,
  type StructuredTaskTypeSpec,
  schemaInstructions,
  schemaPromptTokens,
} from './structured.js';
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
} from './types.js';
