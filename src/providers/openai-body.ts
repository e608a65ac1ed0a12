/**
 * The OpenAI wire format as the client reads and writes it: messages and response formats in
 * the SDK's shapes, and answers read defensively (a body of any shape is read into a completion,
 * usage and vectors, or said to be invalid; nothing here throws).
 */

import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { tokenCount } from '../limits/usage.js';
import type { ChatMessage, EmbedResponse, ResponseFormat, Usage } from './types.js';

export function toMessageParam(message: ChatMessage): ChatCompletionMessageParam {
  const name = message.name === undefined ? {} : { name: message.name };
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content, ...name };
    case 'developer':
      return { role: 'developer', content: message.content, ...name };
    case 'user':
      return { role: 'user', content: message.content, ...name };
    case 'assistant':
      return { role: 'assistant', content: message.content, ...name };
  }
}

export function toResponseFormat(
  format: ResponseFormat,
): NonNullable<ChatCompletionCreateParamsNonStreaming['response_format']> {
  switch (format.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const { name, schema, strict } = format.jsonSchema;
      return {
        type: 'json_schema',
        json_schema: { name, schema, ...(strict === undefined ? {} : { strict }) },
      };
    }
  }
}

/** A JSON object (not `null`, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `a + b`, capped at `Number.MAX_SAFE_INTEGER`. */
function sumOf(a: number, b: number): number {
  return Math.min(a + b, Number.MAX_SAFE_INTEGER);
}

/**
 * Chat usage in camelCase, or `undefined` when the server sent none or an unreadable one (the
 * engine then counts with the tokenizer). `total_tokens` defaults to prompt + completion.
 */
export function chatUsage(usage: unknown): Usage | undefined {
  if (!isRecord(usage)) return undefined;
  const prompt = tokenCount(usage.prompt_tokens);
  const completion = tokenCount(usage.completion_tokens);
  if (prompt === undefined || completion === undefined) return undefined;
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: tokenCount(usage.total_tokens) ?? sumOf(prompt, completion),
  };
}

/** Embeddings usage, read as {@link chatUsage} reads chat usage. */
export function embeddingsUsage(usage: unknown): EmbedResponse['usage'] {
  if (!isRecord(usage)) return undefined;
  const prompt = tokenCount(usage.prompt_tokens);
  if (prompt === undefined) return undefined;
  return { promptTokens: prompt, totalTokens: tokenCount(usage.total_tokens) ?? prompt };
}

/** What {@link readCompletion} reads from a chat completion's body. */
interface CompletionReading {
  content: string;
  finishReason: string;
  model?: string;
  refusal?: string;
  usage?: Usage;
}

/**
 * Reads the first choice of a chat completion's body, or says what makes it an invalid
 * answer: a body that is not an object, `choices` that is not a non-empty array, a choice or
 * its `message` that is not an object, a `content` that is neither a string nor `null`. A `null`
 * (or absent) content is an empty answer, as OpenAI sends with a refusal; usage that cannot be
 * read is no usage; a `finish_reason` or `model` that is not a string is unknown.
 */
export function readCompletion(body: unknown): CompletionReading | string {
  if (!isRecord(body)) return 'the body is not a JSON object';
  const { choices } = body;
  if (!Array.isArray(choices)) return 'choices is not an array';
  if (choices.length === 0) return 'choices is empty';
  const choice: unknown = choices[0];
  if (!isRecord(choice)) return 'choices[0] is not an object';
  const { message } = choice;
  if (!isRecord(message)) return 'choices[0].message is not an object';
  const { content, refusal } = message;
  if (content !== undefined && content !== null && typeof content !== 'string') {
    return 'choices[0].message.content is neither a string nor null';
  }
  const reading: CompletionReading = {
    content: typeof content === 'string' ? content : '',
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'unknown',
  };
  if (typeof body.model === 'string') reading.model = body.model;
  if (typeof refusal === 'string' && refusal !== '' && reading.content === '') {
    reading.refusal = refusal;
  }
  const usage = chatUsage(body.usage);
  if (usage !== undefined) reading.usage = usage;
  return reading;
}

/** An array of finite numbers. */
function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** The vectors in input order, or `undefined` when they do not match the inputs one to one. */
export function orderedVectors(list: unknown, count: number): number[][] | undefined {
  const items: unknown[] = isRecord(list) && Array.isArray(list.data) ? list.data : [];
  if (items.length !== count) return undefined;
  const vectors: (number[] | undefined)[] = new Array(count);
  for (const [position, item] of items.entries()) {
    if (!isRecord(item) || !isVector(item.embedding)) return undefined;
    const index = Number.isInteger(item.index) ? (item.index as number) : position;
    if (index < 0 || index >= count || vectors[index] !== undefined) return undefined;
    vectors[index] = item.embedding;
  }
  const complete: number[][] = [];
  for (const vector of vectors) {
    if (vector === undefined) return undefined;
    complete.push(vector);
  }
  return complete;
}
