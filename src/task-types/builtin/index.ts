/**
 * The five task types of the seed, registered by `BUILTIN_TASK_TYPES`, and their names as the
 * `TaskType` const object (values equal names).
 */

import type { AnyTaskTypeDefinition } from '../types.js';
import { BATCH_ANALYSIS, batchAnalysisTaskType } from './batch-analysis.js';
import { EMBEDDING_GENERATION, embeddingGenerationTaskType } from './embedding-generation.js';
import { REPOSITORY_ANALYSIS, repositoryAnalysisTaskType } from './repository-analysis.js';
import { SEMANTIC_SEARCH, semanticSearchTaskType } from './semantic-search.js';
import { TEXT_CLASSIFICATION, textClassificationTaskType } from './text-classification.js';

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
