/**
 * The five task types of the seed, registered by `BUILTIN_TASK_TYPES`, and their names as the
 * `TaskType` const object (values equal names).
 */

import type { z } from 'zod';
import type { AnyTaskTypeDefinition, TaskTypeDefinition } from '../types.js';
import {
  BATCH_ANALYSIS,
  type BatchAnalysisInputSchema,
  type BatchAnalysisResult,
  batchAnalysisTaskType,
} from './batch-analysis.js';
import {
  EMBEDDING_GENERATION,
  type EmbeddingGeneration,
  type EmbeddingGenerationInputSchema,
  embeddingGenerationTaskType,
} from './embedding-generation.js';
import {
  REPOSITORY_ANALYSIS,
  type RepositoryAnalysis,
  type RepositoryAnalysisInputSchema,
  repositoryAnalysisTaskType,
} from './repository-analysis.js';
import {
  SEMANTIC_SEARCH,
  type SemanticSearchInputSchema,
  type SemanticSearchResult,
  semanticSearchTaskType,
} from './semantic-search.js';
import {
  TEXT_CLASSIFICATION,
  type TextClassification,
  type TextClassificationInputSchema,
  textClassificationTaskType,
} from './text-classification.js';

export * from './batch-analysis.js';
export * from './embedding-generation.js';
export * from './repository-analysis.js';
export * from './semantic-search.js';
export * from './text-classification.js';

/** The built-in task types' names; each value equals its key. */
export const TaskType = Object.freeze({
  REPOSITORY_ANALYSIS,
  BATCH_ANALYSIS,
  TEXT_CLASSIFICATION,
  EMBEDDING_GENERATION,
  SEMANTIC_SEARCH,
} as const);

/** A built-in task type's name. */
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

/** The five built-in task types with their default options, in the seed's order. */
export const BUILTIN_TASK_TYPES: readonly AnyTaskTypeDefinition[] = Object.freeze([
  repositoryAnalysisTaskType,
  batchAnalysisTaskType,
  textClassificationTaskType,
  embeddingGenerationTaskType,
  semanticSearchTaskType,
]);

/**
 * The built-in task types by name, with the `data` each takes and the result it gives: the
 * registry of a manager created with `builtinTaskTypes` on (the default), to which the
 * `taskTypes` given to `createAITaskManager` are added.
 */
export type BuiltinTaskTypes = {
  REPOSITORY_ANALYSIS: TaskTypeDefinition<
    z.output<typeof RepositoryAnalysisInputSchema>,
    RepositoryAnalysis,
    typeof REPOSITORY_ANALYSIS,
    z.input<typeof RepositoryAnalysisInputSchema>
  >;
  BATCH_ANALYSIS: TaskTypeDefinition<
    z.output<typeof BatchAnalysisInputSchema>,
    BatchAnalysisResult,
    typeof BATCH_ANALYSIS,
    z.input<typeof BatchAnalysisInputSchema>
  >;
  TEXT_CLASSIFICATION: TaskTypeDefinition<
    z.output<typeof TextClassificationInputSchema>,
    TextClassification,
    typeof TEXT_CLASSIFICATION,
    z.input<typeof TextClassificationInputSchema>
  >;
  EMBEDDING_GENERATION: TaskTypeDefinition<
    z.output<typeof EmbeddingGenerationInputSchema>,
    EmbeddingGeneration,
    typeof EMBEDDING_GENERATION,
    z.input<typeof EmbeddingGenerationInputSchema>
  >;
  SEMANTIC_SEARCH: TaskTypeDefinition<
    z.output<typeof SemanticSearchInputSchema>,
    SemanticSearchResult,
    typeof SEMANTIC_SEARCH,
    z.input<typeof SemanticSearchInputSchema>
  >;
};
