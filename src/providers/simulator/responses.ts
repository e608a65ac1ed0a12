/** The bodies of successful answers, in OpenAI's shapes. */

import { countTextTokens, truncateToTokens } from '../../limits/tokens.js';
import { seededRandom } from '../../time/clock.js';
import { generateAnswer } from './answer.js';
import { AnswerLimitError } from './answer-limits.js';
import type { PacedCounter } from './counting.js';
import { embedText, toBase64Floats } from './embeddings.js';
import { canonicalJson, hashString } from './hash.js';
import type { ChatCall, EmbeddingCall } from './requests.js';
import { vocabulary } from './words.js';

/** `created` of every listed model (a fixed date: listings are deterministic). */
const MODEL_CREATED = 1_704_067_200; // 2024-01-01T00:00:00Z

/** `owned_by` of every listed model. */
export const SIMULATOR_OWNER = 'ai-task-queue-simulator';

/** One entry of `GET /v1/models`. */
export function modelObject(id: string): {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
} {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: SIMULATOR_OWNER };
}

/** `GET /v1/models`. */
export function modelList(models: readonly string[]): {
  object: 'list';
  data: ReturnType<typeof modelObject>[];
} {
  return { object: 'list', data: models.map(modelObject) };
}

/** OpenAI's `usage` of a chat completion. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

/** The body of a chat completion (`object: 'chat.completion'`). */
export interface ChatCompletionBody {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string; refusal: null; annotations: [] };
    logprobs: null;
    finish_reason: 'stop' | 'length';
  }[];
  usage?: ChatUsage;
  service_tier: 'default';
  system_fingerprint: string;
}

/** What building a completion needs beyond the call. */
export interface CompletionContext {
  /** The parsed request body: the answer is a function of it and of `seed`. */
  body: unknown;
  seed: number;
  promptTokens: number;
  /** Seconds since the epoch. */
  created: number;
  id: string;
  /** The most bytes of content, all choices together. */
  maxBytes: number;
}

/**
 * A chat completion for `call`: one deterministic answer per choice (the same body and seed
 * always give the same content), cut to `maxTokens` tokens with `finish_reason: 'length'` when
 * longer. Completion tokens are counted with `counter`, which lets other requests run.
 *
 * @throws AnswerLimitError when the schema asks for more than the simulator generates, or the
 * choices together would be larger than `context.maxBytes`.
 */
export async function buildChatCompletion(
  call: ChatCall,
  counter: PacedCounter,
  context: CompletionContext,
): Promise<{ body: ChatCompletionBody; completionTokens: number }> {
  const random = seededRandom(hashString(canonicalJson(context.body), context.seed));
  const userTexts = call.messages.filter((m) => m.role === 'user').map((m) => m.content);
  const words = vocabulary(userTexts.length > 0 ? userTexts : call.messages.map((m) => m.content));
  let completionTokens = 0;
  const choices: ChatCompletionBody['choices'] = [];
  let bytes = 0;
  for (let index = 0; index < call.n; index++) {
    let content: string;
    try {
      content = generateAnswer(call.format, { words, random }, context.maxBytes - bytes);
    } catch (error) {
      if (!(error instanceof AnswerLimitError) || call.n === 1) throw error;
      throw new AnswerLimitError(
        `${error.message} (choice ${index} of n = ${call.n}: the choices of a completion share ${context.maxBytes} bytes)`,
      );
    }
    bytes += Buffer.byteLength(content);
    let finishReason: 'stop' | 'length' = 'stop';
    let tokens = await counter.text(content);
    if (call.maxTokens !== undefined && tokens > call.maxTokens) {
      content = truncateToTokens(content, call.maxTokens, call.model);
      tokens = countTextTokens(content, call.model);
      finishReason = 'length';
    }
    completionTokens += tokens;
    choices.push({
      index,
      message: { role: 'assistant', content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finishReason,
    });
  }
  const body: ChatCompletionBody = {
    id: context.id,
    object: 'chat.completion',
    created: context.created,
    model: call.model,
    choices,
    usage: {
      prompt_tokens: context.promptTokens,
      completion_tokens: completionTokens,
      total_tokens: context.promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_simulator',
  };
  return { body, completionTokens };
}

/** The body of `POST /v1/embeddings`. */
export interface EmbeddingListBody {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number };
}

/** Embeddings of every input, as floats or base64 as the call asked. */
export function buildEmbeddingList(
  call: EmbeddingCall,
  dimensions: number,
  inputTokens: number,
): EmbeddingListBody {
  const size = call.dimensions ?? dimensions;
  return {
    object: 'list',
    data: call.input.map((text, index) => {
      const vector = embedText(text, size);
      return {
        object: 'embedding' as const,
        index,
        embedding: call.encoding === 'base64' ? toBase64Floats(vector) : vector,
      };
    }),
    model: call.model,
    usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
  };
}
