/**
 * `BATCH_ANALYSIS`: many repositories, one `REPOSITORY_ANALYSIS` child task each, so that every
 * analysis passes the queue's own limits (not one giant prompt). The result holds one entry per
 * repository, in input order; a repository that fails does not fail the batch. Progress is
 * reported as each child ends.
 */

import { z } from 'zod';
import { parseOrThrow } from '../../internal/validate.js';
import type { TaskTypeDefinition } from '../types.js';
import {
  REPOSITORY_ANALYSIS,
  RepoInfoSchema,
  type RepositoryAnalysis,
  RepositoryAnalysisSchema,
} from './repository-analysis.js';

/** The name (and `TaskType` value) of this task type. */
export const BATCH_ANALYSIS = 'BATCH_ANALYSIS';

/** One repository of a batch: the seed's item, `repo_info`'s fields plus an optional `readme`. */
export const BatchRepositorySchema = RepoInfoSchema.extend({ readme: z.string().nullish() });
export type BatchRepository = z.output<typeof BatchRepositorySchema>;

/** `data` of a `BATCH_ANALYSIS` task: `{ repositories }`. */
export const BatchAnalysisInputSchema = z.object({
  repositories: z.array(BatchRepositorySchema),
});
export type BatchAnalysisInput = z.output<typeof BatchAnalysisInputSchema>;

/** One repository's outcome: its analysis, or why it failed. */
export const BatchItemResultSchema = z.discriminatedUnion('success', [
  z.object({ repo_name: z.string(), success: z.literal(true), result: RepositoryAnalysisSchema }),
  z.object({
    repo_name: z.string(),
    success: z.literal(false),
    /** The child task's error message. */
    error: z.string(),
    /** The child task's error code (`INVALID_ANSWER`, `PROVIDER_ERROR`, `TASK_CANCELLED`…). */
    code: z.string(),
  }),
]);
export type BatchItemResult =
  | { repo_name: string; success: true; result: RepositoryAnalysis }
  | { repo_name: string; success: false; error: string; code: string };

/** The result of a `BATCH_ANALYSIS` task: one entry per repository, in input order. */
export const BatchAnalysisResultSchema = z.array(BatchItemResultSchema);
export type BatchAnalysisResult = BatchItemResult[];

/** Options of {@link createBatchAnalysisTaskType}. */
export interface BatchAnalysisOptions {
  /** The task type each repository runs as (registered on the same queue). @default 'REPOSITORY_ANALYSIS' */
  childTaskType?: string | undefined;
  /** The task type's name. @default 'BATCH_ANALYSIS' */
  name?: string | undefined;
}

const OptionsSchema = z.object({
  childTaskType: z.string().min(1).default(REPOSITORY_ANALYSIS),
  name: z.string().min(1).default(BATCH_ANALYSIS),
});

/** A batch item as the child's `data`: `{ repo_info, readme_content }`. */
function childData(repository: BatchRepository): Record<string, unknown> {
  const { readme, ...repoInfo } = repository;
  return { repo_info: repoInfo, readme_content: readme ?? null };
}

/**
 * A `BATCH_ANALYSIS` task type. Its children inherit its priority and retry settings, and its
 * cost is the sum of theirs; cancelling it cancels them.
 *
 * @throws ValidationError when an option is invalid.
 */
export function createBatchAnalysisTaskType(
  options: BatchAnalysisOptions = {},
): TaskTypeDefinition<BatchAnalysisInput, BatchAnalysisResult> {
  const { childTaskType, name } = parseOrThrow(
    OptionsSchema,
    { childTaskType: options.childTaskType, name: options.name },
    `${BATCH_ANALYSIS} options`,
  );
  return {
    name,
    kind: 'composite',
    input: BatchAnalysisInputSchema,
    output: BatchAnalysisResultSchema,
    // A composite task holds no slot and makes no call itself; its children are estimated and
    // admitted one by one.
    estimate: (_data, env) => ({ model: env.model, promptTokens: 0, maxTokens: 0 }),
    run: async (ctx) => {
      const repositories = ctx.data.repositories;
      if (repositories.length === 0) return [];
      const outcomes = await ctx.runChildren(
        repositories.map((repository, index) => ({
          taskType: childTaskType,
          data: childData(repository),
          metadata: { batchIndex: index, repo_name: repository.name },
        })),
        (_outcome, done, total) => ctx.progress(done / total, done, total),
      );
      return outcomes.map((outcome, index): BatchItemResult => {
        const repo_name = repositories[index]?.name ?? '';
        if (outcome.ok) {
          return { repo_name, success: true, result: outcome.result as RepositoryAnalysis };
        }
        return {
          repo_name,
          success: false,
          error: outcome.error.message,
          code: outcome.error.code,
        };
      });
    },
  };
}

/** The built-in `BATCH_ANALYSIS` (children of type `REPOSITORY_ANALYSIS`). */
export const batchAnalysisTaskType = createBatchAnalysisTaskType();
