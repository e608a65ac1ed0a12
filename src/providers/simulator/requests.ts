/**
 * The request bodies the simulator accepts, checked with zod. Fields it does not use (tools,
 * temperature, user…) pass through untouched; those it uses must have OpenAI's types.
 */

import { z } from 'zod';
import type { AnswerFormat } from './answer.js';
import { type ErrorAnswer, invalidRequest } from './errors.js';

const TextPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const MessageSchema = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(TextPartSchema), z.null()]).optional(),
  name: z.string().optional(),
});

const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

const positiveTokens = z.int().positive().nullable().optional();

const ChatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1),
  max_tokens: positiveTokens,
  max_completion_tokens: positiveTokens,
  n: z.int().min(1).max(16).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  response_format: ResponseFormatSchema.nullable().optional(),
});

const EmbeddingBodySchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  dimensions: z.int().positive().nullable().optional(),
  encoding_format: z.enum(['float', 'base64']).nullable().optional(),
});

/** A chat message reduced to what token counting and answers use. */
export interface SimulatorMessage {
  role: string;
  content: string;
  name?: string;
}

/** A valid `POST /v1/chat/completions` body. */
export interface ChatCall {
  model: string;
  messages: SimulatorMessage[];
  /** `max_completion_tokens`, else `max_tokens`; absent when neither is set. */
  maxTokens?: number;
  /** Number of choices. */
  n: number;
  format: AnswerFormat;
  /** The schema of a `json_schema` response format, which is billed as prompt tokens. */
  responseSchema?: Record<string, unknown>;
}

/** A valid `POST /v1/embeddings` body. */
export interface EmbeddingCall {
  model: string;
  input: string[];
  dimensions?: number;
  encoding: 'float' | 'base64';
}

/** The outcome of checking a body: the call, or the 400 to answer. */
export type Checked<T> = { ok: true; call: T } | { ok: false; error: ErrorAnswer };

/** OpenAI's way of naming a field: `messages[0].content`. */
function paramName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function refusal(error: z.ZodError): { ok: false; error: ErrorAnswer } {
  const issue = error.issues[0];
  const param = issue === undefined ? null : paramName(issue.path);
  const what = param === null || param === '' ? 'the request body' : `'${param}'`;
  return {
    ok: false,
    error: invalidRequest(`Invalid value for ${what}: ${issue?.message ?? 'invalid'}.`, param),
  };
}

function contentText(
  content: string | { type: string; text?: string | undefined }[] | null | undefined,
): string {
  if (typeof content === 'string') return content;
  if (content == null) return '';
  return content
    .map((part) => part.text ?? '')
    .filter((text) => text !== '')
    .join('\n');
}

/** Checks a chat completion body. */
export function checkChatBody(body: unknown): Checked<ChatCall> {
  const parsed = ChatBodySchema.safeParse(body);
  if (!parsed.success) return refusal(parsed.error);
  const data = parsed.data;
  if (data.stream === true) {
    return {
      ok: false,
      error: invalidRequest('The simulator does not stream; send stream: false.', 'stream'),
    };
  }
  const messages = data.messages.map((m) => {
    const message: SimulatorMessage = { role: m.role, content: contentText(m.content) };
    if (m.name !== undefined) message.name = m.name;
    return message;
  });
  const rf = data.response_format;
  let format: AnswerFormat = { type: 'text' };
  if (rf?.type === 'json_object') {
    // Like a model that follows its instructions: a JSON Schema given in the prompt is answered.
    const schema = schemaInPrompt(messages);
    format = schema === undefined ? { type: 'json_object' } : { type: 'json_schema', schema };
  }
  if (rf?.type === 'json_schema') {
    format =
      rf.json_schema.schema === undefined
        ? { type: 'json_object' }
        : { type: 'json_schema', schema: rf.json_schema.schema };
  }
  const call: ChatCall = { model: data.model, messages, n: data.n ?? 1, format };
  if (rf?.type === 'json_schema' && rf.json_schema.schema !== undefined) {
    call.responseSchema = rf.json_schema.schema;
  }
  const maxTokens = data.max_completion_tokens ?? data.max_tokens;
  if (maxTokens != null) call.maxTokens = maxTokens;
  return { ok: true, call };
}

/**
 * The JSON Schema a JSON-mode prompt describes: the JSON object that follows the words "JSON
 * Schema" in a message (system messages first), when it parses and looks like a schema.
 */
export function schemaInPrompt(messages: readonly SimulatorMessage[]): object | undefined {
  const ordered = [
    ...messages.filter((m) => m.role === 'system'),
    ...messages.filter((m) => m.role !== 'system'),
  ];
  for (const { content } of ordered) {
    const at = content.search(/JSON Schema/i);
    if (at < 0) continue;
    const start = content.indexOf('{', at);
    const end = content.lastIndexOf('}');
    if (start < 0 || end < start) continue;
    try {
      const schema: unknown = JSON.parse(content.slice(start, end + 1));
      if (
        typeof schema === 'object' &&
        schema !== null &&
        ('type' in schema || 'properties' in schema || 'anyOf' in schema)
      ) {
        return schema;
      }
    } catch {
      // Not a schema this simulator can read: answer a plain JSON object.
    }
  }
  return undefined;
}

/** Checks an embeddings body. */
export function checkEmbeddingBody(body: unknown, maxDimensions: number): Checked<EmbeddingCall> {
  const parsed = EmbeddingBodySchema.safeParse(body);
  if (!parsed.success) return refusal(parsed.error);
  const data = parsed.data;
  if (data.dimensions != null && data.dimensions > maxDimensions) {
    return {
      ok: false,
      error: invalidRequest(
        `Invalid value for 'dimensions': at most ${maxDimensions} are supported.`,
        'dimensions',
      ),
    };
  }
  const call: EmbeddingCall = {
    model: data.model,
    input: typeof data.input === 'string' ? [data.input] : data.input,
    encoding: data.encoding_format ?? 'float',
  };
  if (data.dimensions != null) call.dimensions = data.dimensions;
  return { ok: true, call };
}

/** The `model` field of a parsed body, when it is a string. */
export function modelOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const model = (body as Record<string, unknown>).model;
  return typeof model === 'string' ? model : undefined;
}
