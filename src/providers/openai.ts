/**
 * The `AIClient` for any OpenAI-compatible API (OpenAI, Azure OpenAI's v1 endpoint, Ollama, vLLM,
 * LM Studio, the built-in simulator), through the official `openai` SDK. The SDK's own retries
 * are off: the task machine is the only place that retries. Every failure becomes a
 * `ProviderError`; the API key never appears in an error, a string or JSON form of the client.
 */

import { inspect } from 'node:util';
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { z } from 'zod';
import { isRetryableStatus, ProviderError, providerErrorFor } from '../errors.js';
import { DurationSecondsSchema } from '../internal/duration.js';
import { describeValue, functionOf, parseOrThrow, REDACTED } from '../internal/validate.js';
import { isOpenAIHost, resolveApiKey } from './api-key.js';
import { parseRateLimitHeaders } from './headers.js';
import {
  embeddingsUsage,
  isRecord,
  orderedVectors,
  readCompletion,
  toMessageParam,
  toResponseFormat,
} from './openai-body.js';
import type {
  AIClient,
  CallOptions,
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
} from './types.js';
import { type FetchLike, requestOptions, sendingFetch, withCallSignal } from './wire.js';

export {
  DEFAULT_BASE_URL,
  defaultBaseURL,
  isLoopbackURL,
  type KeyEnvironment,
  type KeyRoute,
  LOCAL_PLACEHOLDER_KEY,
  resolveApiKey,
} from './api-key.js';
export type { FetchLike } from './wire.js';

/**
 * OpenAI's reasoning models: they take `max_completion_tokens` (never `max_tokens`) and only the
 * default temperature. `gpt-5-chat-*` is not one of them.
 */
export function isReasoningModel(model: string): boolean {
  const name = model.toLowerCase().replace(/^openai\//, '');
  if (/^gpt-5(\.\d+)?-chat/.test(name)) return false;
  return /^o\d+(-|$)/.test(name) || /^gpt-5(\.\d+)?(-|$)/.test(name);
}

const HTTP_URL = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/**
 * The settings of {@link OpenAICompatibleClient}, every field with a default. Durations in
 * seconds. Unknown keys are refused, so a misspelt option fails loudly. The key and the base
 * URL are resolved by {@link resolveApiKey} with `process.env`.
 */
export const APIConfigSchema = z
  .strictObject({
    /**
     * The API key, sent to `baseURL`. Without one: `OPENAI_API_KEY` when `baseURL` is the
     * environment's endpoint (`OPENAI_BASE_URL`, else OpenAI's), `sk-local` for a loopback
     * address; any other URL needs one ({@link resolveApiKey}).
     */
    apiKey: z.string({ error: 'expected a string' }).optional(),
    /**
     * The API's base URL, with its version path (`http://localhost:11434/v1`); default
     * `OPENAI_BASE_URL`, else `https://api.openai.com/v1`.
     */
    baseURL: HTTP_URL.optional(),
    /**
     * Seconds (or a string with units, `'90s'`) to wait for the response headers of one call
     * (the SDK gets milliseconds).
     */
    timeout: DurationSecondsSchema.pipe(z.number().positive()).default(60),
    /** The chat model used when a request names none. */
    model: z.string().min(1).default('gpt-4o-mini'),
    /** The embedding model used when a request names none. */
    embeddingModel: z.string().min(1).default('text-embedding-3-small'),
    /** `OpenAI-Organization` header; default: the SDK's (`OPENAI_ORG_ID`). */
    organization: z.string().min(1).optional(),
    /** Headers sent with every request (e.g. Azure's `api-key`); their values are secret. */
    defaultHeaders: z.record(z.string(), z.string()).default({}),
    /**
     * The provider's requests-per-minute limit, for the manager's rate limiter. The client
     * itself never waits or limits.
     */
    rateLimit: z.number().finite().positive().optional(),
    /**
     * Which body field carries a call's answer-token limit. `'auto'`: `max_completion_tokens` for
     * OpenAI's own API and for its reasoning models (o-series, gpt-5), which refuse `max_tokens`;
     * `max_tokens` for every other server (Ollama, vLLM, LM Studio… all read it).
     */
    tokenLimitParam: z.enum(['auto', 'max_tokens', 'max_completion_tokens']).default('auto'),
    /** A `fetch` to use instead of the global one (tests, proxies). */
    fetch: functionOf<FetchLike>('a fetch function').optional(),
    /** The clock in epoch milliseconds, used only to resolve an HTTP-date `retry-after`. */
    now: functionOf<() => number>('a function returning the time in milliseconds').default(
      () => Date.now,
    ),
  })
  .transform(({ apiKey, baseURL, ...rest }, ctx) => {
    const route = resolveApiKey({ apiKey, baseURL }, process.env);
    if (baseURL === undefined && !HTTP_URL.safeParse(route.baseURL).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['baseURL'],
        message: `OPENAI_BASE_URL, the default base URL, is not an http(s) URL (${describeValue(route.baseURL)})`,
      });
      return z.NEVER;
    }
    if (route.source === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKey'],
        message: `${route.problem}; pass apiKey explicitly to send one there`,
      });
      return z.NEVER;
    }
    return { ...rest, apiKey: route.apiKey, baseURL: route.baseURL, keySource: route.source };
  });

/** The settings whose values are never shown in a validation error. */
export const API_CONFIG_SECRETS = ['apiKey', 'defaultHeaders'] as const;

/** {@link OpenAICompatibleClient}'s settings as callers write them (every field optional). */
export type APIConfig = z.input<typeof APIConfigSchema>;
/** The settings with every default applied. */
export type ResolvedAPIConfig = z.output<typeof APIConfigSchema>;

/** The settings a client shows: everything but the key, the headers' values and the hooks. */
export interface PublicAPIConfig {
  readonly baseURL: string;
  /** Seconds. */
  readonly timeout: number;
  readonly model: string;
  readonly embeddingModel: string;
  readonly organization?: string;
  /** Requests per minute, for the manager; the client does not limit. */
  readonly rateLimit?: number;
  /** The names (not values) of the default headers. */
  readonly defaultHeaderNames: readonly string[];
  /** Whether a key was configured (a loopback server without one gets `sk-local`). */
  readonly hasApiKey: boolean;
}

/** Which call failed, for error messages. */
type Operation = 'chat' | 'embeddings';

/**
 * An {@link AIClient} for any OpenAI-compatible API, built on the official `openai` SDK with
 * `maxRetries: 0`. Responses are read `.withResponse()`, so usage and the `x-ratelimit-*`
 * headers come back as {@link ChatResponse.hints}.
 *
 * @throws ValidationError from the constructor when a setting is invalid, or when no API key is
 * configured for a non-loopback `baseURL` (the key's value is never shown).
 * @example
 * const client = new OpenAICompatibleClient({ baseURL: 'http://127.0.0.1:11434/v1' });
 * const answer = await client.chat(
 *   { model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 50 },
 *   { signal: AbortSignal.timeout(30_000) },
 * );
 */
export class OpenAICompatibleClient implements AIClient {
  /** The settings, without secrets. `rateLimit` is the provider's RPM for the manager. */
  readonly config: PublicAPIConfig;
  readonly #sdk: OpenAI;
  readonly #apiKey: string;
  readonly #now: () => number;
  readonly #tokenLimitParam: 'auto' | 'max_tokens' | 'max_completion_tokens';

  constructor(config: APIConfig = {}) {
    const resolved = parseOrThrow(APIConfigSchema, config, 'API config', {
      pathPrefix: '',
      redact: API_CONFIG_SECRETS,
    });
    this.#apiKey = resolved.apiKey;
    this.#now = resolved.now;
    this.#tokenLimitParam =
      resolved.tokenLimitParam === 'auto' && isOpenAIHost(resolved.baseURL)
        ? 'max_completion_tokens'
        : resolved.tokenLimitParam;
    this.config = Object.freeze({
      baseURL: resolved.baseURL,
      timeout: resolved.timeout,
      model: resolved.model,
      embeddingModel: resolved.embeddingModel,
      ...(resolved.organization === undefined ? {} : { organization: resolved.organization }),
      ...(resolved.rateLimit === undefined ? {} : { rateLimit: resolved.rateLimit }),
      defaultHeaderNames: Object.freeze(Object.keys(resolved.defaultHeaders)),
      hasApiKey: resolved.keySource !== 'placeholder',
    });
    this.#sdk = new OpenAI({
      apiKey: this.#apiKey,
      baseURL: resolved.baseURL,
      timeout: Math.max(1, Math.round(resolved.timeout * 1_000)),
      maxRetries: 0,
      defaultHeaders: resolved.defaultHeaders,
      ...(resolved.organization === undefined ? {} : { organization: resolved.organization }),
      fetch: sendingFetch(resolved.fetch ?? ((input, init) => globalThis.fetch(input, init))),
    });
  }

  /**
   * One chat completion. `request.model` falls back to `config.model` when empty.
   *
   * @throws ProviderError on any failure: `status`, `providerCode`, `requestId`, `retryAfterMs`
   * and `retryable` filled in; an abort is `'aborted'` (retryable, no status).
   */
  async chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    const model = request.model === '' ? this.config.model : request.model;
    const reasoning = isReasoningModel(model);
    const body: ChatCompletionCreateParamsNonStreaming = {
      model,
      messages: request.messages.map(toMessageParam),
    };
    const param =
      this.#tokenLimitParam === 'auto'
        ? reasoning
          ? 'max_completion_tokens'
          : 'max_tokens'
        : this.#tokenLimitParam;
    body[param] = request.maxTokens;
    // Reasoning models take only their default temperature (any other value is a 400).
    if (request.temperature !== undefined && !reasoning) body.temperature = request.temperature;
    if (request.responseFormat !== undefined) {
      body.response_format = toResponseFormat(request.responseFormat);
    }
    let completion: ChatCompletion;
    let response: Response;
    try {
      ({ data: completion, response } = await withCallSignal(options.signal, (signal) =>
        this.#sdk.chat.completions
          .create(body, { signal, ...requestOptions(options) })
          .withResponse(),
      ));
    } catch (error) {
      throw this.#toProviderError('chat', error, options.signal);
    }
    const hints = parseRateLimitHeaders(response.headers, this.#now(), response.status);
    const requestId = this.#requestIdOf(response, completion);
    const answer = readCompletion(completion);
    if (typeof answer === 'string') {
      throw new ProviderError(`invalid chat response: ${answer}`, { retryable: true, requestId });
    }
    const result: ChatResponse = {
      content: answer.content,
      finishReason: answer.finishReason,
      model: answer.model ?? body.model,
      hints,
    };
    if (answer.refusal !== undefined) result.refusal = answer.refusal;
    if (answer.usage !== undefined) result.usage = answer.usage;
    if (requestId !== undefined) result.requestId = requestId;
    return result;
  }

  /**
   * Embeds every input; `vectors[i]` belongs to `request.input[i]`. `request.model` falls back
   * to `config.embeddingModel` when empty.
   *
   * @throws ProviderError as {@link OpenAICompatibleClient.chat} does, and (retryable) when the
   * server returns a different number of vectors than inputs.
   */
  async embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResponse> {
    const model = request.model === '' ? this.config.embeddingModel : request.model;
    let list: CreateEmbeddingResponse;
    let response: Response;
    try {
      ({ data: list, response } = await withCallSignal(options.signal, (signal) =>
        this.#sdk.embeddings
          .create(
            { model, input: request.input, encoding_format: 'float' },
            { signal, ...requestOptions(options) },
          )
          .withResponse(),
      ));
    } catch (error) {
      throw this.#toProviderError('embeddings', error, options.signal);
    }
    const hints = parseRateLimitHeaders(response.headers, this.#now(), response.status);
    const requestId = this.#requestIdOf(response, list);
    const body: unknown = list;
    const vectors = orderedVectors(body, request.input.length);
    if (vectors === undefined || !isRecord(body)) {
      throw new ProviderError(
        `invalid embeddings response: it does not hold one vector per input (${request.input.length} sent)`,
        { retryable: true, requestId },
      );
    }
    const result: EmbedResponse = {
      vectors,
      model: typeof body.model === 'string' ? body.model : model,
      hints,
    };
    const usage = embeddingsUsage(body.usage);
    if (usage !== undefined) result.usage = usage;
    if (requestId !== undefined) result.requestId = requestId;
    return result;
  }

  /** A safe JSON form: no key, no header values, no hooks. */
  toJSON(): PublicAPIConfig & { type: string } {
    return { type: 'OpenAICompatibleClient', ...this.config };
  }

  /** `OpenAICompatibleClient(<baseURL>, <model>)`. */
  toString(): string {
    return `OpenAICompatibleClient(${this.config.baseURL}, ${this.config.model})`;
  }

  /** Removes the key from a text that may echo it. */
  #redact(text: string): string {
    const key = this.#apiKey;
    return key.length < 4 ? text : text.split(key).join(REDACTED);
  }

  /**
   * `x-request-id`, else the id the SDK attached to the parsed body, with the key redacted (a
   * server may echo anything, the key included, in an id that ends up in logs and task records).
   */
  #requestIdOf(response: Response, body: unknown): string | undefined {
    const header = response.headers.get('x-request-id');
    if (header !== null && header !== '') return this.#redact(header);
    if (!isRecord(body)) return undefined;
    const attached = body._request_id;
    return typeof attached === 'string' && attached !== '' ? this.#redact(attached) : undefined;
  }

  /**
   * The SDK's error, kept as the `cause` of ours, unless the key is anywhere in it (a server that
   * echoes it: `Incorrect API key provided: sk-…`): Node prints a cause with the error, so a
   * logged `ProviderError` would show the key. Then a plain error with the redacted message.
   */
  #safeCause(error: unknown): unknown {
    const key = this.#apiKey;
    if (key.length < 4) return error;
    const shown = error instanceof Error ? inspect(error, { depth: 8 }) : String(error);
    if (!shown.includes(key)) return error;
    const clean = new Error(this.#redact(error instanceof Error ? error.message : String(error)));
    clean.name = error instanceof Error ? error.name : 'Error';
    return clean;
  }

  #toProviderError(operation: Operation, error: unknown, signal: AbortSignal): ProviderError {
    if (error instanceof ProviderError) return error;
    if (error instanceof APIUserAbortError || signal.aborted) {
      return new ProviderError(`${operation} request aborted`, {
        retryable: true,
        cause: this.#safeCause(error),
      });
    }
    if (error instanceof APIConnectionTimeoutError) {
      return new ProviderError(
        `${operation} request timed out after ${this.config.timeout} s without a response`,
        { retryable: true, cause: this.#safeCause(error) },
      );
    }
    if (error instanceof APIConnectionError) {
      return new ProviderError(
        `${operation} request could not reach ${this.config.baseURL}: ${this.#redact(error.message)}`,
        { retryable: true, cause: this.#safeCause(error) },
      );
    }
    if (error instanceof APIError) {
      const status = typeof error.status === 'number' ? error.status : undefined;
      const headers = error.headers instanceof Headers ? error.headers : undefined;
      // Only a 429 or a 503 says how long to wait (`parseRateLimitHeaders` with the status).
      const retryAfterMs =
        headers === undefined || status === undefined
          ? undefined
          : parseRateLimitHeaders(headers, this.#now(), status).retryAfterMs;
      const requestId = error.requestID ?? headers?.get('x-request-id') ?? undefined;
      return providerErrorFor(`${operation} request failed: ${this.#redact(error.message)}`, {
        status,
        providerCode: typeof error.code === 'string' ? this.#redact(error.code) : undefined,
        requestId: requestId === undefined ? undefined : this.#redact(requestId),
        retryAfterMs,
        retryable: isRetryableStatus(status),
        cause: this.#safeCause(error),
      });
    }
    if (error instanceof SyntaxError) {
      return new ProviderError(
        `${operation} response is not valid JSON: ${this.#redact(error.message)}`,
        { retryable: true, cause: this.#safeCause(error) },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ProviderError(`${operation} request failed: ${this.#redact(message)}`, {
      retryable: true,
      cause: this.#safeCause(error),
    });
  }
}
