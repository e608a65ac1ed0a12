/**
 * What the embedding task types share: batching inputs into `/v1/embeddings` calls (by count and
 * by tokens), checking the vectors that come back, and cosine similarity.
 */

import { z } from 'zod';
import { InvalidAnswerError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import { countTextTokens } from '../limits/tokens.js';
import type { TaskContext, TaskEnvironment, TaskEstimate } from './types.js';

/** Inputs per `/v1/embeddings` call by default. */
export const DEFAULT_EMBEDDING_BATCH_SIZE = 256;
/** Tokens per call by default: OpenAI's limit for all inputs of one request is 300,000. */
export const DEFAULT_EMBEDDING_BATCH_TOKENS = 300_000;

/** The batching options of the embedding task types. */
export interface EmbeddingBatchOptions {
  /** Inputs per call (OpenAI allows up to 2,048). @default 256 */
  batchSize?: number | undefined;
  /** Tokens per call, all inputs together (OpenAI allows 300,000). @default 300000 */
  batchTokens?: number | undefined;
}

export const EmbeddingBatchOptionsSchema = z.object({
  batchSize: z.int().min(1).max(2_048).default(DEFAULT_EMBEDDING_BATCH_SIZE),
  batchTokens: z.int().positive().default(DEFAULT_EMBEDDING_BATCH_TOKENS),
});

export type ResolvedEmbeddingBatchOptions = z.output<typeof EmbeddingBatchOptionsSchema>;

/**
 * Validates an embedding task type factory's options (`name`, `batchSize`, `batchTokens`).
 *
 * @throws ValidationError naming the option and the value.
 */
export function resolveEmbeddingTaskOptions(
  options: EmbeddingBatchOptions & { name?: string | undefined },
  defaultName: string,
): { name: string; batching: ResolvedEmbeddingBatchOptions } {
  const { name, ...batching } = parseOrThrow(
    EmbeddingBatchOptionsSchema.extend({ name: z.string().min(1).default(defaultName) }),
    { name: options.name, batchSize: options.batchSize, batchTokens: options.batchTokens },
    `${defaultName} options`,
  );
  return { name, batching };
}

/** The tokens of `texts` for `model`, summed. */
export function countEmbeddingTokens(texts: readonly string[], model: string): number {
  let total = 0;
  for (const text of texts) total += countTextTokens(text, model);
  return total;
}

/** The estimate of embedding `texts`: their tokens for the embedding model, no `max_tokens`. */
export function estimateEmbedding(texts: readonly string[], env: TaskEnvironment): TaskEstimate {
  return {
    model: env.embeddingModel,
    promptTokens: countEmbeddingTokens(texts, env.embeddingModel),
    maxTokens: 0,
  };
}

/**
 * Splits `texts` into batches of at most `batchSize` inputs and `batchTokens` tokens (a single
 * text longer than `batchTokens` goes alone). Returns index ranges `[start, end)`.
 */
export function planBatches(
  texts: readonly string[],
  model: string,
  options: ResolvedEmbeddingBatchOptions,
): [number, number][] {
  const batches: [number, number][] = [];
  let start = 0;
  let tokens = 0;
  for (let i = 0; i < texts.length; i++) {
    const own = countTextTokens(texts[i] ?? '', model);
    const full =
      i - start >= options.batchSize || (i > start && tokens + own > options.batchTokens);
    if (full) {
      batches.push([start, i]);
      start = i;
      tokens = 0;
    }
    tokens += own;
  }
  if (texts.length > start) batches.push([start, texts.length]);
  return batches;
}

/** What {@link embedAll} returns. */
export interface EmbeddedTexts {
  /** `vectors[i]` belongs to `texts[i]`. */
  vectors: number[][];
  /** The model the server says answered (the first batch's). */
  model: string;
  dimensions: number;
}

/**
 * Embeds `texts` with the environment's embedding model, in batches, one call after another.
 *
 * @throws InvalidAnswerError (retryable) when the server returns vectors of different lengths,
 *   empty ones, or non-finite numbers; ProviderError from the calls.
 */
export async function embedAll(
  ctx: Pick<TaskContext, 'embed' | 'env'>,
  texts: readonly string[],
  options: ResolvedEmbeddingBatchOptions,
): Promise<EmbeddedTexts> {
  const model = ctx.env.embeddingModel;
  const vectors: number[][] = [];
  let answeredBy: string | undefined;
  for (const [start, end] of planBatches(texts, model, options)) {
    const response = await ctx.embed({ input: texts.slice(start, end) });
    // One vector per text, or every later text would get its neighbour's.
    if (response.vectors.length !== end - start) {
      throw new InvalidAnswerError(
        `the embedding model answered ${response.vectors.length} vectors for ${end - start} texts`,
        `${response.vectors.length} vectors`,
      );
    }
    answeredBy ??= response.model;
    vectors.push(...response.vectors);
  }
  const dimensions = vectors[0]?.length ?? 0;
  vectors.forEach((vector, index) => {
    const bad =
      vector.length === 0
        ? 'is empty'
        : vector.length !== dimensions
          ? `has ${vector.length} dimensions, the first has ${dimensions}`
          : vector.some((x) => !Number.isFinite(x))
            ? 'holds a number that is not finite'
            : undefined;
    if (bad !== undefined) {
      throw new InvalidAnswerError(
        `the embedding of input ${index} from ${model} ${bad}`,
        JSON.stringify(vector.slice(0, 16)),
      );
    }
  });
  return { vectors, model: answeredBy ?? model, dimensions };
}

/** The Euclidean norm of `vector`. */
export function norm(vector: readonly number[]): number {
  let sum = 0;
  for (const x of vector) sum += x * x;
  return Math.sqrt(sum);
}

/**
 * Cosine similarity of `a` and `b` (same length) when `a`'s norm is known: dot product over the
 * product of the norms; 0 when either is a zero vector.
 */
export function cosineWithNorm(a: readonly number[], normA: number, b: readonly number[]): number {
  let dot = 0;
  let squares = 0;
  for (let i = 0; i < b.length; i++) {
    const y = b[i] ?? 0;
    dot += (a[i] ?? 0) * y;
    squares += y * y;
  }
  const denominator = normA * Math.sqrt(squares);
  return denominator === 0 ? 0 : dot / denominator;
}
