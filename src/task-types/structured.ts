/**
 * Structured answers for chat task types: the JSON schema a request carries (derived from a zod
 * schema, made OpenAI-strict where the schema allows it), the JSON-mode fallback for servers that
 * do not support `json_schema`, and the parsing and validation of the answer. An answer that does
 * not parse or validate is an `InvalidAnswerError` (retryable), with the raw text kept.
 */

import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { InvalidAnswerError, NonRetryableError, ProviderError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import {
  countChatTokens,
  countResponseSchemaTokens,
  encodingForModel,
  SCHEMA_OVERHEAD_TOKENS,
} from '../limits/tokens.js';
import type { ChatMessage, ChatResponse, ResponseFormat } from '../providers/types.js';
import type { TaskContext, TaskEnvironment, TaskEstimate, TaskTypeDefinition } from './types.js';

/**
 * How a chat task type asks for structured output:
 * - `'json_schema'`: `response_format: { type: 'json_schema', json_schema: { schema, strict } }`;
 * - `'json_object'`: JSON mode (`{ type: 'json_object' }`), the schema described in the prompt;
 * - `'auto'` (default): `json_schema`, and JSON mode from then on for a model whose server
 *   rejected the schema with a 400 (or 422).
 */
export type StructuredOutputMode = 'json_schema' | 'json_object' | 'auto';

export const StructuredOutputModeSchema = z.enum(['json_schema', 'json_object', 'auto'], {
  error: "expected 'json_schema', 'json_object' or 'auto'",
});

/**
 * Which models were found not to support `json_schema` (their server rejected the schema with a
 * 400), so that later calls go straight to JSON mode. The built-in task types share one memory,
 * {@link defaultStructuredOutputMemory}, per process; give a task type its own when two servers
 * serve models of the same name with different support.
 */
export class StructuredOutputMemory {
  readonly #jsonModeModels = new Set<string>();

  /** Whether `model` is known to need JSON mode. */
  needsJsonMode(model: string): boolean {
    return this.#jsonModeModels.has(model);
  }

  /** Records that `model`'s server rejected a `json_schema` request. */
  rememberJsonMode(model: string): void {
    this.#jsonModeModels.add(model);
  }

  /** The models known to need JSON mode, in the order they were found. */
  get jsonModeModels(): readonly string[] {
    return [...this.#jsonModeModels];
  }

  /** Forgets everything (a server was upgraded). */
  clear(): void {
    this.#jsonModeModels.clear();
  }
}

/** The memory the built-in task types use unless given their own. */
export const defaultStructuredOutputMemory = new StructuredOutputMemory();

/** The structured-output settings every chat task type factory accepts. */
export interface StructuredOutputOptions {
  /** @default 'auto' */
  structuredOutputs?: StructuredOutputMode | undefined;
  /** @default defaultStructuredOutputMemory */
  memory?: StructuredOutputMemory | undefined;
  /**
   * Whether the server bills a `json_schema` response format as prompt tokens, so that estimates
   * (budget holds, token windows) count it: OpenAI does (see {@link schemaPromptTokens}); a
   * server that only constrains decoding to the schema and does not put it in the prompt (Ollama,
   * vLLM, LM Studio) does not, and `false` makes its estimates exact. Leave it on when unsure:
   * counting a schema that is not billed only reserves too much.
   * @default true
   */
  countSchemaTokens?: boolean | undefined;
}

/** {@link StructuredOutputOptions} with defaults applied. */
export interface ResolvedStructuredOutputs {
  mode: StructuredOutputMode;
  memory: StructuredOutputMemory;
  /** Absent counts as `true` (the safe side). */
  countSchemaTokens?: boolean | undefined;
}

const StructuredOptionsSchema = z.object({
  structuredOutputs: StructuredOutputModeSchema.optional(),
  memory: z
    .instanceof(StructuredOutputMemory, { error: 'expected a StructuredOutputMemory' })
    .optional(),
  countSchemaTokens: z.boolean({ error: 'expected true or false' }).optional(),
});

/** Validates and completes the structured-output options of a task type factory. */
export function resolveStructuredOutputs(
  options: StructuredOutputOptions = {},
  what = 'task type options',
): ResolvedStructuredOutputs {
  const parsed = parseOrThrow(
    StructuredOptionsSchema,
    {
      structuredOutputs: options.structuredOutputs,
      memory: options.memory,
      countSchemaTokens: options.countSchemaTokens,
    },
    what,
  );
  return {
    mode: parsed.structuredOutputs ?? 'auto',
    memory: parsed.memory ?? defaultStructuredOutputMemory,
    countSchemaTokens: parsed.countSchemaTokens ?? true,
  };
}

/** A zod schema together with the JSON schema a request carries for it. */
export interface AnswerSchema<T> {
  /** The `json_schema.name` of the request (letters, digits, `_` and `-`, at most 64). */
  name: string;
  /** Validates the parsed answer. */
  output: z.ZodType<T>;
  /** The JSON schema sent to the server (no `$schema` key). */
  jsonSchema: Record<string, unknown>;
  /**
   * Whether the schema meets OpenAI's strict rules (root object, every property required,
   * `additionalProperties: false`, supported keywords only). A schema that does not (an
   * `.optional()` field, a `z.record`) is sent with `strict: false`; the answer is validated
   * with zod either way.
   */
  strict: boolean;
}

/**
 * Derives the request's JSON schema from a zod schema: the `openai` SDK's own strict conversion
 * (`zodResponseFormat`, which applies OpenAI's Structured Outputs rules), or, when the schema
 * cannot be made strict, zod's `z.toJSONSchema` sent with `strict: false`.
 *
 * @example
 * const schema = answerSchema('sentiment', z.object({ label: z.enum(['good', 'bad']) }));
 * // schema.jsonSchema: { type: 'object', properties: { label: { type: 'string', enum: [...] } },
 * //   required: ['label'], additionalProperties: false }, schema.strict: true
 */
export function answerSchema<T>(name: string, output: z.ZodType<T>): AnswerSchema<T> {
  const safeName = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'answer';
  let jsonSchema: Record<string, unknown>;
  let strict = true;
  try {
    const format = zodResponseFormat(output, safeName);
    jsonSchema = { ...(format.json_schema.schema ?? {}) };
  } catch {
    strict = false;
    jsonSchema = z.toJSONSchema(output, {
      target: 'draft-07',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
  }
  delete jsonSchema.$schema;
  return { name: safeName, output, jsonSchema, strict };
}

/** Which of the two request forms a call uses. */
export type RequestForm = 'json_schema' | 'json_object';

/** The request form for `model`: the configured one, or, in `'auto'`, what the memory knows. */
export function requestFormFor(model: string, settings: ResolvedStructuredOutputs): RequestForm {
  if (settings.mode === 'json_object') return 'json_object';
  if (settings.mode === 'auto' && settings.memory.needsJsonMode(model)) return 'json_object';
  return 'json_schema';
}

/** The `response_format` of a request in `form`. */
export function responseFormatFor(
  schema: AnswerSchema<unknown>,
  form: RequestForm,
): ResponseFormat {
  if (form === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    jsonSchema: { name: schema.name, schema: schema.jsonSchema, strict: schema.strict },
  };
}

/** The instruction that describes the schema in the prompt, for JSON mode. */
export function schemaInstructions(schema: AnswerSchema<unknown>): string {
  return (
    'Answer with one JSON object and nothing else. It must match this JSON Schema ' +
    `(every property is required):\n${JSON.stringify(schema.jsonSchema)}`
  );
}

/**
 * The messages of a request in `form`: `messages` as they are for `json_schema`; for JSON mode,
 * the schema instructions appended to the first system message (or put first as one). Estimates
 * count exactly these messages (and, in `json_schema` form, the schema the request carries).
 */
export function messagesFor(
  messages: readonly ChatMessage[],
  schema: AnswerSchema<unknown>,
  form: RequestForm,
): ChatMessage[] {
  if (form === 'json_schema') return [...messages];
  const instructions = schemaInstructions(schema);
  const index = messages.findIndex((m) => m.role === 'system' || m.role === 'developer');
  if (index < 0) return [{ role: 'system', content: instructions }, ...messages];
  return messages.map((m, i) =>
    i === index ? { ...m, content: `${m.content}\n\n${instructions}` } : m,
  );
}

export { SCHEMA_OVERHEAD_TOKENS };

/** Schema counts by answer schema and encoding: a schema is counted once per encoding. */
const schemaTokenCounts = new WeakMap<AnswerSchema<unknown>, Map<string, number>>();

/**
 * The prompt tokens reserved for a `json_schema` response format with `schema`, for `model`: the
 * tokens of the `json_schema` object as the request carries it (`{"name":…,"schema":…,
 * "strict":…}`, compact JSON) plus {@link SCHEMA_OVERHEAD_TOKENS}.
 *
 * OpenAI bills the schema as prompt tokens (it is added to the prompt server-side) but publishes
 * no rule for the count, so this one errs high: it counts the name, the `strict` flag and the
 * keywords (`required`, `additionalProperties`) that OpenAI was measured not to bill, and a fixed
 * allowance above the measured framing: on the built-in schemas, 44–52 tokens (1.4–1.6 times)
 * above the measured rule (docs/providers.md). Counted once per schema object and encoding.
 */
export function schemaPromptTokens(schema: AnswerSchema<unknown>, model: string): number {
  const encoding = encodingForModel(model);
  let counts = schemaTokenCounts.get(schema);
  const cached = counts?.get(encoding);
  if (cached !== undefined) return cached;
  const tokens = countResponseSchemaTokens(
    { name: schema.name, schema: schema.jsonSchema, strict: schema.strict },
    model,
  );
  if (counts === undefined) {
    counts = new Map();
    schemaTokenCounts.set(schema, counts);
  }
  counts.set(encoding, tokens);
  return tokens;
}

/**
 * The estimate of a structured call with the environment's model: the prompt tokens of exactly
 * the messages the call will send (in the form it will use), plus, in `json_schema` form, the
 * schema's tokens as the provider bills them ({@link schemaPromptTokens}; not when the settings
 * say the server does not bill them), and the environment's `maxTokens`. In JSON mode the schema
 * is in the messages and counted there, once.
 */
export function estimateStructured(
  messages: readonly ChatMessage[],
  schema: AnswerSchema<unknown>,
  env: TaskEnvironment,
  settings: ResolvedStructuredOutputs,
): TaskEstimate {
  const form = requestFormFor(env.model, settings);
  let promptTokens = countChatTokens(messagesFor(messages, schema, form), env.model);
  if (form === 'json_schema' && settings.countSchemaTokens !== false) {
    promptTokens += schemaPromptTokens(schema, env.model);
  }
  return { model: env.model, promptTokens, maxTokens: env.maxTokens };
}

/**
 * Whether a failed call is a server rejecting the `json_schema` response format (a 400 or 422
 * that names `response_format`, `json_schema` or the schema), as OpenAI-compatible servers do
 * when they do not support Structured Outputs.
 */
export function isSchemaRejection(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false;
  if (error.status !== 400 && error.status !== 422) return false;
  return /response_format|json_schema|schema|structured output/i.test(
    `${error.message} ${error.providerCode ?? ''}`,
  );
}

/** How much of a raw answer an error message shows. */
const RAW_EXCERPT_CHARS = 2_000;

function excerpt(raw: string): string {
  const shown = raw.length > RAW_EXCERPT_CHARS ? `${raw.slice(0, RAW_EXCERPT_CHARS)}…` : raw;
  return JSON.stringify(shown);
}

/** The JSON inside a ```json … ``` fence, which some local models add in JSON mode. */
function unfenced(text: string): string {
  const match = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?\s*```\s*$/i.exec(text);
  return match?.[1] ?? text;
}

/**
 * Parses and validates a model's answer.
 *
 * @throws InvalidAnswerError (retryable) when the content is empty, is not JSON, or does not
 * match `schema.output`; its `raw` is the whole content, and its message names the first fields
 * that failed and shows the answer (up to 2,000 characters, so the task's stored error keeps it).
 */
export function parseAnswer<T>(content: string, schema: AnswerSchema<T>, finishReason?: string): T {
  const cutOff =
    finishReason === 'length' ? ' (the answer was cut off at max_tokens: raise maxTokens)' : '';
  if (content.trim() === '') {
    throw new InvalidAnswerError(`the ${schema.name} answer is empty${cutOff}`, content);
  }
  let value: unknown;
  try {
    value = JSON.parse(unfenced(content));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidAnswerError(
      `the ${schema.name} answer is not valid JSON${cutOff}: ${reason}; answer: ${excerpt(content)}`,
      content,
      { cause: error },
    );
  }
  const parsed = schema.output.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw new InvalidAnswerError(
    `the ${schema.name} answer does not match its schema: ${problems}; answer: ${excerpt(content)}`,
    content,
    { cause: parsed.error },
  );
}

/** One structured chat call, as a task type's `run` makes it. */
export interface StructuredCall<T> {
  /** The prompt as it is for `json_schema` requests (see {@link messagesFor}). */
  messages: readonly ChatMessage[];
  schema: AnswerSchema<T>;
  /** Defaults to the environment's model (the model the task's estimate named). */
  model?: string | undefined;
  temperature?: number | undefined;
}

/** What a structured call returns. */
export interface StructuredAnswer<T> {
  value: T;
  response: ChatResponse;
  /** The form the answered request used. */
  form: RequestForm;
}

/**
 * Makes one structured chat call through `ctx.chat` and validates the answer. In `'auto'` mode, a
 * server that rejects the `json_schema` request with a 400 is remembered for the model and the
 * call is made again at once in JSON mode (the rejected request used no tokens).
 *
 * @throws InvalidAnswerError when the answer does not parse or validate (retryable);
 *   ProviderError from the calls.
 */
export async function chatStructured<T>(
  ctx: Pick<TaskContext, 'chat' | 'env'>,
  call: StructuredCall<T>,
  settings: ResolvedStructuredOutputs,
): Promise<StructuredAnswer<T>> {
  const model = call.model ?? ctx.env.model;
  const send = (form: RequestForm): Promise<ChatResponse> =>
    ctx.chat({
      messages: messagesFor(call.messages, call.schema, form),
      responseFormat: responseFormatFor(call.schema, form),
      ...(call.model === undefined ? {} : { model: call.model }),
      ...(call.temperature === undefined ? {} : { temperature: call.temperature }),
    });
  let form = requestFormFor(model, settings);
  let response: ChatResponse;
  try {
    response = await send(form);
  } catch (error) {
    if (settings.mode !== 'auto' || form !== 'json_schema' || !isSchemaRejection(error)) {
      throw error;
    }
    settings.memory.rememberJsonMode(model);
    form = 'json_object';
    response = await send(form);
  }
  // A refusal is the model's answer to this prompt: another attempt would pay for the same one.
  if (response.refusal !== undefined) {
    throw new NonRetryableError(`the model declined to answer: ${response.refusal}`);
  }
  const value = parseAnswer(response.content, call.schema, response.finishReason);
  return { value, response, form };
}

/** What {@link defineStructuredTaskType} builds a chat task type from. */
export interface StructuredTaskTypeSpec<I, O> {
  name: string;
  /** Validates `data` at submit. */
  input: z.ZodType<I>;
  /** The task's result, checked by the engine after `run`. */
  output: z.ZodType<O>;
  /** The prompt for `data` with `model` (for trimming), as sent in `json_schema` form. */
  messages(data: I, model: string): ChatMessage[];
  /** The answer's schema: the same for every task, or one per request. */
  answer(data: I): AnswerSchema<O>;
  structured: ResolvedStructuredOutputs;
}

/**
 * A task type that makes one structured chat call: its estimate ({@link estimateStructured})
 * counts exactly the messages the call sends (in the form it will use) and the response schema's
 * tokens, with the environment's model and `maxTokens`, and its `run` makes the call with
 * {@link chatStructured} and returns the validated answer.
 *
 * @example
 * const sentiment = defineStructuredTaskType({
 *   name: 'SENTIMENT',
 *   input: z.object({ text: z.string() }),
 *   output: Sentiment,
 *   messages: (data) => [{ role: 'user', content: `Sentiment of: ${data.text}` }],
 *   answer: () => answerSchema('sentiment', Sentiment),
 *   structured: resolveStructuredOutputs(),
 * });
 */
export function defineStructuredTaskType<I, O>(
  spec: StructuredTaskTypeSpec<I, O>,
): TaskTypeDefinition<I, O> {
  const { structured } = spec;
  return {
    name: spec.name,
    kind: 'call',
    input: spec.input,
    output: spec.output,
    estimate: (data, env) =>
      estimateStructured(spec.messages(data, env.model), spec.answer(data), env, structured),
    run: async (ctx) => {
      const messages = spec.messages(ctx.data, ctx.env.model);
      const answer = await chatStructured(
        ctx,
        { messages, schema: spec.answer(ctx.data) },
        structured,
      );
      return answer.value;
    },
  };
}
