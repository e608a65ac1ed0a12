/**
 * `EMBEDDING_GENERATION`: a text, or a list of texts, → their embedding vectors through
 * `/v1/embeddings`, batched (256 inputs per call by default).
 */

import { z } from 'zod';
import {
  type EmbeddingBatchOptions,
  embedAll,
  estimateEmbedding,
  resolveEmbeddingTaskOptions,
} from '../embeddings.js';
import type { TaskTypeDefinition } from '../types.js';

/** The name (and `TaskType` value) of this task type. */
export const EMBEDDING_GENERATION = 'EMBEDDING_GENERATION';

/** `data` of an `EMBEDDING_GENERATION` task: `{ text }`, one non-empty string or a list of them. */
export const EmbeddingGenerationInputSchema = z.object({
  text: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected a non-empty string or a non-empty array of non-empty strings',
  }),
});
export type EmbeddingGenerationInput = z.output<typeof EmbeddingGenerationInputSchema>;

/**
 * The result of an `EMBEDDING_GENERATION` task. `embeddings[i]` belongs to the i-th text (a
 * single `text` string gives one vector); `model` is the model the server says answered.
 */
export const EmbeddingGenerationSchema = z.object({
  embeddings: z.array(z.array(z.number())),
  model: z.string(),
  dimensions: z.int().nonnegative(),
});
export type EmbeddingGeneration = z.output<typeof EmbeddingGenerationSchema>;

/** Options of {@link createEmbeddingGenerationTaskType}. */
export interface EmbeddingGenerationOptions extends EmbeddingBatchOptions {
  /** The task type's name. @default 'EMBEDDING_GENERATION' */
  name?: string | undefined;
}

function textsOf(data: EmbeddingGenerationInput): string[] {
  return typeof data.text === 'string' ? [data.text] : data.text;
}

/**
 * An `EMBEDDING_GENERATION` task type. Its estimate is the texts' tokens for the embedding
 * model (what the server bills), with no `max_tokens`. Batches go one after another under the
 * task's one admission: for very large inputs, submit several tasks.
 *
 * @throws ValidationError when an option is invalid.
 */
export function createEmbeddingGenerationTaskType(
  options: EmbeddingGenerationOptions = {},
): TaskTypeDefinition<EmbeddingGenerationInput, EmbeddingGeneration> {
  const { name, batching } = resolveEmbeddingTaskOptions(options, EMBEDDING_GENERATION);
  return {
    name,
    kind: 'call',
    input: EmbeddingGenerationInputSchema,
    output: EmbeddingGenerationSchema,
    estimate: (data, env) => estimateEmbedding(textsOf(data), env),
    run: async (ctx) => {
      const embedded = await embedAll(ctx, textsOf(ctx.data), batching);
      return {
        embeddings: embedded.vectors,
        model: embedded.model,
        dimensions: embedded.dimensions,
      };
    },
  };
}

/** The built-in `EMBEDDING_GENERATION` (256 inputs per call). */
export const embeddingGenerationTaskType = createEmbeddingGenerationTaskType();
