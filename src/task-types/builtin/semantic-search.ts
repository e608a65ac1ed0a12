/**
 * `SEMANTIC_SEARCH`: a query and documents (with or without embeddings) → the `top_k` documents
 * most similar to the query by cosine similarity. The query and the documents without an
 * embedding are embedded first, together, in batches.
 */

import { z } from 'zod';
import { NonRetryableError } from '../../errors.js';
import {
  cosineWithNorm,
  type EmbeddingBatchOptions,
  embedAll,
  estimateEmbedding,
  norm,
  resolveEmbeddingTaskOptions,
} from '../embeddings.js';
import type { TaskTypeDefinition } from '../types.js';

/** The name (and `TaskType` value) of this task type. */
export const SEMANTIC_SEARCH = 'SEMANTIC_SEARCH';

/** Results returned when `top_k` is not given. */
export const DEFAULT_TOP_K = 5;

/** One document to search: an id, its text, and its embedding when it has one already. */
export const SearchDocumentSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  text: z.string(),
  embedding: z.array(z.number().finite()).min(1).nullish(),
});

/** `data` of a `SEMANTIC_SEARCH` task: `{ query, documents, top_k? }`; ids are unique. */
export const SemanticSearchInputSchema = z
  .object({
    query: z.string().min(1),
    documents: z.array(SearchDocumentSchema),
    top_k: z.int().positive().default(DEFAULT_TOP_K),
  })
  .superRefine((data, ctx) => {
    const seen = new Map<string, number>();
    let dimensions: number | undefined;
    data.documents.forEach((doc, index) => {
      const first = seen.get(doc.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['documents', index, 'id'],
          message: `duplicate document id ${JSON.stringify(doc.id)} (also documents[${first}])`,
          input: doc.id,
        });
      }
      seen.set(doc.id, first ?? index);
      if (!doc.embedding) {
        if (doc.text.trim() === '') {
          ctx.addIssue({
            code: 'custom',
            path: ['documents', index, 'text'],
            message: 'a document without an embedding needs a non-empty text',
            input: doc.text,
          });
        }
        return;
      }
      dimensions ??= doc.embedding.length;
      if (doc.embedding.length !== dimensions) {
        ctx.addIssue({
          code: 'custom',
          path: ['documents', index, 'embedding'],
          message: `expected ${dimensions} dimensions like the first embedding, got ${doc.embedding.length}`,
          input: doc.embedding,
        });
      }
    });
  });
export type SemanticSearchInput = z.output<typeof SemanticSearchInputSchema>;

/** One hit: the document's id and text, and its cosine similarity to the query (−1…1). */
export const SearchHitSchema = z.object({ id: z.string(), text: z.string(), score: z.number() });

/** The result of a `SEMANTIC_SEARCH` task: at most `top_k` hits, best first. */
export const SemanticSearchSchema = z.object({ results: z.array(SearchHitSchema) });
export type SemanticSearchResult = z.output<typeof SemanticSearchSchema>;

/** Options of {@link createSemanticSearchTaskType}. */
export interface SemanticSearchOptions extends EmbeddingBatchOptions {
  /** The task type's name. @default 'SEMANTIC_SEARCH' */
  name?: string | undefined;
}

/**
 * The texts to embed: the query first, then every document without an embedding; none when
 * there are no documents.
 */
function textsToEmbed(data: SemanticSearchInput): string[] {
  if (data.documents.length === 0) return [];
  return [data.query, ...data.documents.filter((d) => !d.embedding).map((d) => d.text)];
}

/**
 * A `SEMANTIC_SEARCH` task type. Its estimate is the tokens of the query and of the documents it
 * embeds (documents with an embedding cost nothing). Ties keep the documents' order.
 *
 * @throws ValidationError when an option is invalid.
 */
export function createSemanticSearchTaskType(
  options: SemanticSearchOptions = {},
): TaskTypeDefinition<SemanticSearchInput, SemanticSearchResult> {
  const { name, batching } = resolveEmbeddingTaskOptions(options, SEMANTIC_SEARCH);
  return {
    name,
    kind: 'call',
    input: SemanticSearchInputSchema,
    output: SemanticSearchSchema,
    estimate: (data, env) => estimateEmbedding(textsToEmbed(data), env),
    run: async (ctx) => {
      const { documents, top_k } = ctx.data;
      if (documents.length === 0) return { results: [] };
      const embedded = await embedAll(ctx, textsToEmbed(ctx.data), batching);
      const [query, ...computed] = embedded.vectors;
      if (query === undefined) throw new NonRetryableError('the query was not embedded');
      const queryNorm = norm(query);
      let next = 0;
      const scored = documents.map((doc, index) => {
        const vector = doc.embedding ?? computed[next++] ?? [];
        if (vector.length !== query.length) {
          throw new NonRetryableError(
            `documents[${index}].embedding has ${vector.length} dimensions, but the query's embedding from ${embedded.model} has ${query.length}: embed the documents with the same model`,
          );
        }
        return {
          id: doc.id,
          text: doc.text,
          score: cosineWithNorm(query, queryNorm, vector),
          index,
        };
      });
      scored.sort((a, b) => b.score - a.score || a.index - b.index);
      return {
        results: scored.slice(0, top_k).map(({ id, text, score }) => ({ id, text, score })),
      };
    },
  };
}

/** The built-in `SEMANTIC_SEARCH` (256 inputs per embedding call). */
export const semanticSearchTaskType = createSemanticSearchTaskType();
