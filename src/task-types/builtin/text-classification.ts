/**
 * `TEXT_CLASSIFICATION`: a text and a list of categories → the best category, a confidence, and a
 * score per category. Each request carries its own JSON schema, in which `category` is an `enum`
 * of the given categories and `scores` has one property per category, so a server that enforces
 * the schema can only answer with one of them; the answer is validated against the same schema.
 */

import { z } from 'zod';
import { LruCache } from '../../internal/lru.js';
import { parseOrThrow } from '../../internal/validate.js';
import type { ChatMessage } from '../../providers/types.js';
import {
  type AnswerSchema,
  answerSchema,
  defineStructuredTaskType,
  resolveStructuredOutputs,
  type StructuredOutputOptions,
} from '../structured.js';
import type { TaskTypeDefinition } from '../types.js';

/** The name (and `TaskType` value) of this task type. */
export const TEXT_CLASSIFICATION = 'TEXT_CLASSIFICATION';

/** `data` of a `TEXT_CLASSIFICATION` task: `{ text, categories }` (at least one, no repeats). */
export const TextClassificationInputSchema = z.object({
  text: z.string().min(1),
  categories: z
    .array(z.string().min(1))
    .min(1, { error: 'expected at least one category' })
    .refine((list) => new Set(list).size === list.length, {
      error: (issue) => {
        const list = issue.input as string[];
        const repeated = list.find((c, i) => list.indexOf(c) !== i);
        return `categories must be unique: ${JSON.stringify(repeated)} appears more than once`;
      },
    }),
});
export type TextClassificationInput = z.output<typeof TextClassificationInputSchema>;

const Confidence = z.number().min(0).max(1);

/** The result of a `TEXT_CLASSIFICATION` task (checked against the request's categories first). */
export const TextClassificationSchema = z.object({
  /** One of the task's categories. */
  category: z.string(),
  /** How sure the model is of `category`, 0–1. */
  confidence: Confidence,
  /** A score in 0–1 for every category of the task. */
  scores: z.record(z.string(), Confidence),
});
export type TextClassification = z.output<typeof TextClassificationSchema>;

/**
 * Answer schemas by their categories: deriving one (zod, then the SDK's strict JSON schema) costs
 * far more than the rest of a submit, and a batch mostly repeats a few category lists.
 */
const schemasByCategories = new LruCache<string, AnswerSchema<TextClassification>>(256);

/**
 * The answer schema of one request: `category` an `enum` of `categories`, `scores` an object
 * with exactly one required number per category. Made once per list of categories (in order)
 * and shared: callers must not change it.
 */
export function classificationSchemaFor(
  categories: readonly string[],
): AnswerSchema<TextClassification> {
  return schemasByCategories.getOrCreate(JSON.stringify(categories), () =>
    buildClassificationSchema(categories),
  );
}

function buildClassificationSchema(
  categories: readonly string[],
): AnswerSchema<TextClassification> {
  const [first, ...rest] = categories;
  if (first === undefined) throw new RangeError('categories must not be empty');
  const output = z.object({
    category: z.enum([first, ...rest]),
    confidence: Confidence,
    scores: z.strictObject(Object.fromEntries(categories.map((c) => [c, Confidence]))),
  }) as unknown as z.ZodType<TextClassification>;
  return answerSchema('text_classification', output);
}

const SYSTEM_PROMPT =
  'You classify texts. Pick the one category that fits the text best, from the given list only, ' +
  'and answer in JSON: category (exactly as listed), confidence (0 to 1, how sure you are of ' +
  'that category), and scores (for every category, a number from 0 to 1 saying how well it ' +
  'fits).';

/** The prompt for one text. The estimate and the call use this one function. */
export function textClassificationMessages(data: TextClassificationInput): ChatMessage[] {
  const list = data.categories.map((c) => `- ${c}`).join('\n');
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: `Categories:\n${list}\n\nText:\n${data.text}` },
  ];
}

/** Options of {@link createTextClassificationTaskType}. */
export interface TextClassificationOptions extends StructuredOutputOptions {
  /** The task type's name. @default 'TEXT_CLASSIFICATION' */
  name?: string | undefined;
}

const OptionsSchema = z.object({ name: z.string().min(1).default(TEXT_CLASSIFICATION) });

/**
 * A `TEXT_CLASSIFICATION` task type.
 *
 * @throws ValidationError when an option is invalid.
 */
export function createTextClassificationTaskType(
  options: TextClassificationOptions = {},
): TaskTypeDefinition<TextClassificationInput, TextClassification> {
  const { name } = parseOrThrow(
    OptionsSchema,
    { name: options.name },
    `${TEXT_CLASSIFICATION} options`,
  );
  return defineStructuredTaskType({
    name,
    input: TextClassificationInputSchema,
    output: TextClassificationSchema,
    messages: (data) => textClassificationMessages(data),
    answer: (data) => classificationSchemaFor(data.categories),
    structured: resolveStructuredOutputs(options, `${TEXT_CLASSIFICATION} options`),
  });
}

/** The built-in `TEXT_CLASSIFICATION` (`'auto'` structured outputs). */
export const textClassificationTaskType = createTextClassificationTaskType();
