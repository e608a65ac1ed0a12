import { getEventListeners } from 'node:events';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AITaskManagerOptions } from '../../src/config/manager-options.js';
import { ProviderError, ProviderRefusedError, ValidationError } from '../../src/errors.js';
import { AITaskManager } from '../../src/manager.js';
import {
  type APIConfig,
  DEFAULT_BASE_URL,
  type FetchLike,
  isLoopbackURL,
  isReasoningModel,
  LOCAL_PLACEHOLDER_KEY,
  OpenAICompatibleClient,
  resolveApiKey,
} from '../../src/providers/openai.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import type { ChatRequest } from '../../src/providers/types.js';

const KEY = 'sk-test-SECRET-0123456789abcdef';
const BASE_URL = 'https://api.example.test/v1';

interface FetchCall {
  url: string;
  method: string;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A `fetch` that records each call and answers with `respond`. */
function scriptedFetch(
  respond: (call: FetchCall, signal: AbortSignal | undefined) => Promise<Response> | Response,
): {
  fetch: FetchLike;
  calls: FetchCall[];
} {
  const calls: FetchCall[] = [];
  const fetch: FetchLike = async (input, init) => {
    const text = typeof init?.body === 'string' ? init.body : '{}';
    const call: FetchCall = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: JSON.parse(text) as Record<string, unknown>,
    };
    calls.push(call);
    return respond(call, init?.signal ?? undefined);
  };
  return { fetch, calls };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function completion(options: { usage?: boolean; content?: string } = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: options.content ?? '{"ok":true}', refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    ...(options.usage === false
      ? {}
      : { usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } }),
  };
}

function errorBody(message: string, code: string | null, type = 'invalid_request_error') {
  return { error: { message, type, param: null, code } };
}

const REQUEST: ChatRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Answer in JSON.' },
    { role: 'user', content: 'Hello', name: 'ada' },
  ],
  maxTokens: 50,
};

function clientWith(fetch: FetchLike, config: APIConfig = {}): OpenAICompatibleClient {
  return new OpenAICompatibleClient({ apiKey: KEY, baseURL: BASE_URL, fetch, ...config });
}

const signal = () => new AbortController().signal;

/** The rejection of `promise`, which must be a `ProviderError`. */
async function providerErrorOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

/** The `ValidationError` that `make` throws. */
function validationErrorOf(make: () => unknown): ValidationError {
  let refused: unknown;
  try {
    make();
  } catch (error) {
    refused = error;
  }
  expect(refused).toBeInstanceOf(ValidationError);
  return refused as ValidationError;
}

/** Asserts that nothing a caller can print or store about `error` contains `secret`. */
function expectNoSecret(error: ProviderError, secret: string): void {
  expect(error.message).not.toContain(secret);
  expect(String(error)).not.toContain(secret);
  expect(JSON.stringify(error)).not.toContain(secret);
  // What console.error or a logger prints: the error with its cause (the SDK's error).
  expect(inspect(error, { depth: Number.POSITIVE_INFINITY })).not.toContain(secret);
}

describe('OpenAICompatibleClient with a scripted fetch', () => {
  it('sends one request and returns content, usage, hints and the request id', async () => {
    const { fetch, calls } = scriptedFetch(() =>
      json(200, completion(), {
        'x-request-id': 'req_abc',
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '200000',
        'x-ratelimit-remaining-tokens': '199950',
        'x-ratelimit-reset-tokens': '6m0s',
      }),
    );
    const client = clientWith(fetch);
    const response = await client.chat(
      {
        ...REQUEST,
        temperature: 0.2,
        responseFormat: {
          type: 'json_schema',
          jsonSchema: { name: 'answer', schema: { type: 'object' }, strict: true },
        },
      },
      { signal: signal() },
    );
    expect(response).toStrictEqual({
      content: '{"ok":true}',
      finishReason: 'stop',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { promptTokens: 12, completionTokens: 5, totalTokens: 17 },
      hints: {
        limitRequests: 500,
        remainingRequests: 499,
        resetRequestsMs: 120,
        limitTokens: 200_000,
        remainingTokens: 199_950,
        resetTokensMs: 360_000,
      },
      requestId: 'req_abc',
    });
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe(`${BASE_URL}/chat/completions`);
    expect(call?.method).toBe('POST');
    expect(call?.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(call?.body).toStrictEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer in JSON.' },
        { role: 'user', content: 'Hello', name: 'ada' },
      ],
      max_tokens: 50,
      temperature: 0.2,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
    });
  });

  it('leaves no listener on the caller’s signal after a call (many calls share an attempt’s)', async () => {
    const { fetch } = scriptedFetch(() => json(200, completion()));
    const client = clientWith(fetch);
    const shared = new AbortController().signal;
    for (let i = 0; i < 20; i++) await client.chat(REQUEST, { signal: shared });
    await client
      .embed({ model: 'text-embedding-3-small', input: ['a'] }, { signal: shared })
      .catch(() => undefined);
    expect(getEventListeners(shared, 'abort')).toHaveLength(0);
  });

  it('sends max_completion_tokens and no temperature to reasoning models, max_tokens elsewhere', async () => {
    const bodies = async (config: APIConfig, model: string) => {
      const { fetch, calls } = scriptedFetch(() => json(200, completion()));
      await clientWith(fetch, config).chat(
        { ...REQUEST, model, temperature: 0 },
        { signal: signal() },
      );
      const body = calls[0]?.body as Record<string, unknown>;
      return {
        max_tokens: body.max_tokens,
        max_completion_tokens: body.max_completion_tokens,
        temperature: body.temperature,
      };
    };
    expect(await bodies({}, 'gpt-5-mini')).toEqual({
      max_tokens: undefined,
      max_completion_tokens: 50,
      temperature: undefined,
    });
    expect(await bodies({}, 'o4-mini')).toMatchObject({ max_completion_tokens: 50 });
    expect(await bodies({}, 'llama3.1')).toEqual({
      max_tokens: 50,
      max_completion_tokens: undefined,
      temperature: 0,
    });
    // OpenAI's own API: every model takes max_completion_tokens (max_tokens is deprecated there).
    expect(await bodies({ baseURL: 'https://api.openai.com/v1' }, 'gpt-4o-mini')).toEqual({
      max_tokens: undefined,
      max_completion_tokens: 50,
      temperature: 0,
    });
    expect(await bodies({ tokenLimitParam: 'max_tokens' }, 'gpt-5-mini')).toMatchObject({
      max_tokens: 50,
      max_completion_tokens: undefined,
    });
    expect(() =>
      clientWith(async () => json(200, {}), { tokenLimitParam: 'max' as never }),
    ).toThrow(/tokenLimitParam/);
  });

  it('calls onSend once per request, from inside fetch: after the SDK built it, before it is sent', async () => {
    const order: string[] = [];
    const { fetch } = scriptedFetch(() => {
      order.push('fetch');
      return json(200, completion());
    });
    const client = clientWith(fetch);
    const onSend = () => order.push('onSend');
    await client.chat(REQUEST, { signal: signal(), onSend });
    await client
      .embed({ model: 'text-embedding-3-small', input: ['a'] }, { signal: signal(), onSend })
      .catch(() => undefined);
    expect(order).toEqual(['onSend', 'fetch', 'onSend', 'fetch']);
    // A call made without onSend works as before.
    await client.chat(REQUEST, { signal: signal() });
    expect(order).toEqual(['onSend', 'fetch', 'onSend', 'fetch', 'fetch']);
  });

  it('never calls onSend for a request that is not sent (an aborted signal)', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    const controller = new AbortController();
    controller.abort();
    let sent = 0;
    await providerErrorOf(
      clientWith(fetch).chat(REQUEST, { signal: controller.signal, onSend: () => sent++ }),
    );
    expect(calls).toHaveLength(0);
    expect(sent).toBe(0);
  });

  it('knows which models are reasoning models', () => {
    for (const model of [
      'o1',
      'o3-mini',
      'o4-mini-2025-04-16',
      'gpt-5',
      'gpt-5-mini',
      'gpt-5.1',
      'openai/gpt-5-nano',
    ]) {
      expect(isReasoningModel(model), model).toBe(true);
    }
    for (const model of [
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-5-chat-latest',
      'omni-moderation',
      'llama3',
      'o',
    ]) {
      expect(isReasoningModel(model), model).toBe(false);
    }
  });

  it('maps a 429 with retry-after to a retryable ProviderError with retryAfterMs', async () => {
    const { fetch, calls } = scriptedFetch(() =>
      json(429, errorBody('Rate limit reached for requests', 'rate_limit_exceeded', 'requests'), {
        'retry-after': '2',
        'x-request-id': 'req_429',
      }),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error).toMatchObject({
      status: 429,
      retryAfterMs: 2_000,
      retryable: true,
      rateLimited: true,
      providerCode: 'rate_limit_exceeded',
      requestId: 'req_429',
      code: 'PROVIDER_ERROR',
    });
    expect(error.message).toContain('Rate limit reached');
    expect(calls).toHaveLength(1);
  });

  it('maps a 500 to a retryable ProviderError, with no SDK retry', async () => {
    const { fetch, calls } = scriptedFetch(() =>
      json(500, errorBody('The server had an error', null, 'server_error')),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error).toMatchObject({ status: 500, retryable: true, retryAfterMs: undefined });
    expect(error.cause).toBeInstanceOf(Error);
    expect(calls).toHaveLength(1);
  });

  it.each([
    [408, true],
    [409, true],
    [503, true],
    [400, false],
    [403, false],
    [404, false],
    [422, false],
  ])('maps HTTP %i to retryable = %s', async (status, retryable) => {
    const { fetch, calls } = scriptedFetch(() => json(status, errorBody('failed', null)));
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.status).toBe(status);
    expect(error.retryable).toBe(retryable);
    expect(calls).toHaveLength(1);
  });

  it('maps a 401 to a non-retryable error with invalid_api_key, never echoing the key', async () => {
    const { fetch } = scriptedFetch(() =>
      json(401, errorBody(`Incorrect API key provided: ${KEY}.`, 'invalid_api_key')),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error).toMatchObject({ status: 401, retryable: false, providerCode: 'invalid_api_key' });
    expect(error.message).toContain('Incorrect API key provided');
    expectNoSecret(error, KEY);
  });

  it.each([
    [401, 'invalid_api_key', 'provider'],
    [403, 'unsupported_country_region_territory', 'provider'],
    [429, 'insufficient_quota', 'provider'],
    [429, 'billing_hard_limit_reached', 'provider'],
    [404, 'model_not_found', 'model'],
  ] as const)(
    'a %i %s is a ProviderRefusedError stopping the %s, not retried',
    async (status, code, scope) => {
      const { fetch, calls } = scriptedFetch(() => json(status, errorBody('refused', code)));
      const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
      expect(error).toBeInstanceOf(ProviderRefusedError);
      expect(error).toMatchObject({
        code: 'PROVIDER_REFUSED',
        status,
        providerCode: code,
        retryable: false,
      });
      expect((error as ProviderRefusedError).scope).toBe(scope);
      expect(calls).toHaveLength(1);
    },
  );

  it('a 429 of rate_limit_exceeded stays a retryable ProviderError', async () => {
    const { fetch } = scriptedFetch(() => json(429, errorBody('slow down', 'rate_limit_exceeded')));
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error).not.toBeInstanceOf(ProviderRefusedError);
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', retryable: true });
  });

  it('leaves usage undefined when the server sends none', async () => {
    const { fetch } = scriptedFetch(() => json(200, completion({ usage: false })));
    const response = await clientWith(fetch).chat(REQUEST, { signal: signal() });
    expect(response.usage).toBeUndefined();
    expect('usage' in response).toBe(false);
    expect(response.content).toBe('{"ok":true}');
  });

  it('maps a body that is not valid JSON to a retryable ProviderError', async () => {
    const { fetch, calls } = scriptedFetch(
      () =>
        new Response('{"id":"chatcmpl-1","choi', {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/not valid JSON/);
    expect(calls).toHaveLength(1);
  });

  it('maps a timeout to a retryable ProviderError without a status', async () => {
    const { fetch, calls } = scriptedFetch(
      (_call, abortSignal) =>
        new Promise<Response>((_resolve, reject) => {
          abortSignal?.addEventListener('abort', () => reject(abortSignal.reason), { once: true });
        }),
    );
    const client = clientWith(fetch, { timeout: 0.05 });
    const error = await providerErrorOf(client.chat(REQUEST, { signal: signal() }));
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/timed out after 0\.05 s/);
    expect(calls).toHaveLength(1);
  });

  it('maps an abort through the signal to a retryable "aborted" ProviderError', async () => {
    const controller = new AbortController();
    const { fetch, calls } = scriptedFetch(
      (_call, abortSignal) =>
        new Promise<Response>((_resolve, reject) => {
          abortSignal?.addEventListener('abort', () => reject(abortSignal.reason), { once: true });
          controller.abort();
        }),
    );
    const error = await providerErrorOf(
      clientWith(fetch).chat(REQUEST, { signal: controller.signal }),
    );
    expect(error.message).toMatch(/aborted/);
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it('does not call the server at all when the signal is already aborted', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    const controller = new AbortController();
    controller.abort();
    const error = await providerErrorOf(
      clientWith(fetch).embed(
        { model: 'text-embedding-3-small', input: ['a'] },
        { signal: controller.signal },
      ),
    );
    expect(error.message).toMatch(/aborted/);
    expect(error.retryable).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('maps a connection failure to a retryable ProviderError', async () => {
    const { fetch, calls } = scriptedFetch(() => {
      throw new TypeError('fetch failed');
    });
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it('returns embeddings in input order with usage, asking for floats', async () => {
    const { fetch, calls } = scriptedFetch(() =>
      json(
        200,
        {
          object: 'list',
          model: 'text-embedding-3-small',
          data: [
            { object: 'embedding', index: 1, embedding: [0, 1] },
            { object: 'embedding', index: 0, embedding: [1, 0] },
          ],
          usage: { prompt_tokens: 4, total_tokens: 4 },
        },
        { 'x-ratelimit-remaining-requests': '9' },
      ),
    );
    const response = await clientWith(fetch).embed(
      { model: '', input: ['first', 'second'] },
      { signal: signal() },
    );
    expect(response).toStrictEqual({
      vectors: [
        [1, 0],
        [0, 1],
      ],
      model: 'text-embedding-3-small',
      usage: { promptTokens: 4, totalTokens: 4 },
      hints: { remainingRequests: 9 },
    });
    expect(calls[0]?.url).toBe(`${BASE_URL}/embeddings`);
    expect(calls[0]?.body).toStrictEqual({
      model: 'text-embedding-3-small',
      input: ['first', 'second'],
      encoding_format: 'float',
    });
  });

  it('refuses an embeddings answer that does not hold one vector per input', async () => {
    const { fetch } = scriptedFetch(() =>
      json(200, { object: 'list', model: 'm', data: [{ index: 0, embedding: [1] }] }),
    );
    const error = await providerErrorOf(
      clientWith(fetch).embed({ model: 'm', input: ['a', 'b'] }, { signal: signal() }),
    );
    expect(error.retryable).toBe(true);
  });

  it('reads an HTTP-date retry-after with the injected clock', async () => {
    const now = Date.UTC(2025, 0, 1, 0, 0, 0);
    const { fetch } = scriptedFetch(() =>
      json(503, errorBody('overloaded', null, 'server_error'), {
        'retry-after': new Date(now + 7_000).toUTCString(),
      }),
    );
    const error = await providerErrorOf(
      clientWith(fetch, { now: () => now }).chat(REQUEST, { signal: signal() }),
    );
    expect(error).toMatchObject({ status: 503, retryAfterMs: 7_000, retryable: true });
  });
});

/** A 200 whose body is `text`, as a server wrote it. */
function raw(text: string): Response {
  return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
}

describe('OpenAICompatibleClient and what a server sends', () => {
  it('ignores retry-after on a successful answer, keeping the x-ratelimit hints', async () => {
    const { fetch } = scriptedFetch(() =>
      json(200, completion(), {
        'retry-after': '1000000000',
        'retry-after-ms': '5000',
        'x-ratelimit-remaining-requests': '7',
      }),
    );
    const response = await clientWith(fetch).chat(REQUEST, { signal: signal() });
    expect(response.hints).toStrictEqual({ remainingRequests: 7 });
    const embedded = scriptedFetch(() =>
      json(
        200,
        { object: 'list', model: 'm', data: [{ index: 0, embedding: [1] }] },
        { 'retry-after': '30' },
      ),
    );
    const vectors = await clientWith(embedded.fetch).embed(
      { model: 'm', input: ['a'] },
      { signal: signal() },
    );
    expect(vectors.hints).toStrictEqual({});
  });

  it.each([
    [429, 3_000],
    [503, 3_000],
    [500, undefined],
    [502, undefined],
    [408, undefined],
    [400, undefined],
  ])('reads retry-after on an error only for 429 and 503: HTTP %i', async (status, wait) => {
    const { fetch } = scriptedFetch(() =>
      json(status, errorBody('failed', null), { 'retry-after': '3' }),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.status).toBe(status);
    expect(error.retryAfterMs).toBe(wait);
  });

  it('ignores a retry-after too large to be a wait (it used to make an Invalid Date)', async () => {
    const { fetch } = scriptedFetch(() =>
      json(429, errorBody('slow down', 'rate_limit_exceeded'), {
        'retry-after-ms': '9000000000000000',
      }),
    );
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: undefined });
  });

  it('rounds fractional usage up, keeping the answer', async () => {
    const fractional = {
      ...completion(),
      usage: { prompt_tokens: 50.5, completion_tokens: 4.2, total_tokens: 54.7 },
    };
    const { fetch } = scriptedFetch(() => json(200, fractional));
    const response = await clientWith(fetch).chat(REQUEST, { signal: signal() });
    expect(response.usage).toStrictEqual({
      promptTokens: 51,
      completionTokens: 5,
      totalTokens: 55,
    });
    expect(response.content).toBe('{"ok":true}');
    const embedded = scriptedFetch(() =>
      json(200, {
        object: 'list',
        model: 'm',
        data: [{ index: 0, embedding: [1] }],
        usage: { prompt_tokens: 3.5, total_tokens: 3.5 },
      }),
    );
    const vectors = await clientWith(embedded.fetch).embed(
      { model: 'm', input: ['a'] },
      { signal: signal() },
    );
    expect(vectors.usage).toStrictEqual({ promptTokens: 4, totalTokens: 4 });
  });

  it('caps absurd usage at Number.MAX_SAFE_INTEGER and reads unusable usage as none', async () => {
    const withUsage = (usage: string) =>
      raw(JSON.stringify(completion({ usage: false })).replace(/}$/, `,"usage":${usage}}`));
    const read = async (usage: string) => {
      const { fetch } = scriptedFetch(() => withUsage(usage));
      return (await clientWith(fetch).chat(REQUEST, { signal: signal() })).usage;
    };
    const max = Number.MAX_SAFE_INTEGER;
    expect(await read('{"prompt_tokens":1e300,"completion_tokens":1e300}')).toStrictEqual({
      promptTokens: max,
      completionTokens: max,
      totalTokens: max,
    });
    for (const usage of [
      '{"prompt_tokens":-1,"completion_tokens":5,"total_tokens":4}',
      '{"prompt_tokens":1e400,"completion_tokens":5}', // Infinity once parsed
      '{"prompt_tokens":"12","completion_tokens":5}',
      '{"prompt_tokens":null,"completion_tokens":5}',
      '"lots"',
      '42',
      '[12,5,17]',
      'null',
    ]) {
      expect(await read(usage), usage).toBeUndefined();
    }
    // A malformed total only: prompt + completion.
    expect(
      await read('{"prompt_tokens":12,"completion_tokens":5,"total_tokens":"seventeen"}'),
    ).toStrictEqual({ promptTokens: 12, completionTokens: 5, totalTokens: 17 });
  });

  const choice = (message: unknown) => ({
    ...completion(),
    choices: [{ index: 0, message, finish_reason: 'stop' }],
  });
  it.each([
    ['choices: [null]', { ...completion(), choices: [null] }, /choices\[0\] is not an object/],
    ['choices: {}', { ...completion(), choices: {} }, /choices is not an array/],
    ['choices: "x"', { ...completion(), choices: 'x' }, /choices is not an array/],
    ['choices: []', { ...completion(), choices: [] }, /choices is empty/],
    ['no choices', { id: 'chatcmpl-1', model: 'm' }, /choices is not an array/],
    ['message: null', choice(null), /message is not an object/],
    ['message: "hi"', choice('hi'), /message is not an object/],
    ['message: []', choice([]), /message is not an object/],
    ['content: 42', choice({ role: 'assistant', content: 42 }), /content is neither/],
    ['content: {}', choice({ role: 'assistant', content: {} }), /content is neither/],
    ['a null body', null, /not a JSON object/],
    ['an array body', [completion()], /not a JSON object/],
    ['a string body', 'hello', /not a JSON object/],
  ])('refuses %s as an invalid answer: a retryable ProviderError', async (_name, body, why) => {
    const { fetch } = scriptedFetch(() => json(200, body, { 'x-request-id': 'req_bad' }));
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.message).toMatch(/^invalid chat response: /);
    expect(error.message).toMatch(why);
    expect(error).toMatchObject({ retryable: true, status: undefined, requestId: 'req_bad' });
  });

  it('reads a null content as an empty answer (OpenAI sends it with a refusal)', async () => {
    const { fetch } = scriptedFetch(() =>
      json(200, choice({ role: 'assistant', content: null, refusal: 'I cannot help.' })),
    );
    const response = await clientWith(fetch).chat(REQUEST, { signal: signal() });
    expect(response).toMatchObject({ content: '', refusal: 'I cannot help.' });
  });

  it.each([
    ['truncated JSON', '{"id":"chatcmpl-1","choices":[{"message":{"content":"hi'],
    ['an empty body', ''],
    ['not JSON', '<html>Bad gateway</html>'],
  ])('refuses %s as a retryable ProviderError', async (_name, text) => {
    const { fetch } = scriptedFetch(() => raw(text));
    const error = await providerErrorOf(clientWith(fetch).chat(REQUEST, { signal: signal() }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/not valid JSON|invalid chat response/);
  });

  it.each([
    ['a null body', null],
    ['data: [null]', { data: [null] }],
    ['an embedding of strings', { data: [{ index: 0, embedding: ['1'] }] }],
  ])('refuses an embeddings answer with %s', async (_name, body) => {
    const { fetch } = scriptedFetch(() => json(200, body));
    const error = await providerErrorOf(
      clientWith(fetch).embed({ model: 'm', input: ['a'] }, { signal: signal() }),
    );
    expect(error.message).toMatch(/^invalid embeddings response: /);
    expect(error.retryable).toBe(true);
  });

  it('answers or throws a ProviderError, never anything else, whatever body a 200 carries', async () => {
    const odd = fc.oneof(fc.constantFrom(null, 0, -1, 1.5, '', 'x', [], {}, true), fc.jsonValue());
    const json200 = fc.oneof(
      odd,
      fc.record(
        {
          choices: fc.oneof(
            odd,
            fc.array(
              fc.oneof(
                odd,
                fc.record(
                  {
                    message: fc.oneof(
                      odd,
                      fc.record({ content: odd, refusal: odd }, { requiredKeys: [] }),
                    ),
                    finish_reason: odd,
                  },
                  { requiredKeys: [] },
                ),
              ),
            ),
          ),
          usage: fc.oneof(
            odd,
            fc.record(
              { prompt_tokens: odd, completion_tokens: odd, total_tokens: odd },
              { requiredKeys: [] },
            ),
          ),
          model: odd,
          data: fc.oneof(
            odd,
            fc.array(
              fc.oneof(odd, fc.record({ index: odd, embedding: odd }, { requiredKeys: [] })),
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    const text = fc.oneof(
      json200.map((body) => JSON.stringify(body) ?? 'null'),
      json200.chain((body) => {
        const whole = JSON.stringify(body) ?? 'null';
        return fc.nat({ max: whole.length }).map((cut) => whole.slice(0, cut));
      }),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.boolean(), async (body, embeddings) => {
        const { fetch } = scriptedFetch(() => raw(body));
        const client = clientWith(fetch);
        const call = embeddings
          ? client.embed({ model: 'm', input: ['a'] }, { signal: signal() })
          : client.chat(REQUEST, { signal: signal() });
        let usage: object | undefined;
        try {
          ({ usage } = await call);
        } catch (error) {
          expect(error).toBeInstanceOf(ProviderError);
          return;
        }
        if (usage !== undefined) {
          for (const count of Object.values(usage)) expect(Number.isSafeInteger(count)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('redacts the key from request ids, on answers and on errors', async () => {
    const echoed = { 'x-request-id': `req-${KEY}` };
    const ok = scriptedFetch(() => json(200, completion(), echoed));
    const response = await clientWith(ok.fetch).chat(REQUEST, { signal: signal() });
    expect(response.requestId).toBe('req-[redacted]');
    const failed = scriptedFetch(() => json(500, errorBody('oops', KEY), echoed));
    const error = await providerErrorOf(
      clientWith(failed.fetch).chat(REQUEST, { signal: signal() }),
    );
    expect(error.requestId).toBe('req-[redacted]');
    expect(error.providerCode).toBe('[redacted]');
    expectNoSecret(error, KEY);
    const invalid = scriptedFetch(() => json(200, { choices: [null] }, echoed));
    const refused = await providerErrorOf(
      clientWith(invalid.fetch).chat(REQUEST, { signal: signal() }),
    );
    expect(refused.requestId).toBe('req-[redacted]');
  });
});

describe('OpenAICompatibleClient configuration', () => {
  let savedKey: string | undefined;
  beforeEach(() => {
    savedKey = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    vi.stubEnv('OPENAI_BASE_URL', '');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = savedKey;
  });

  it('has defaults for everything and exposes rateLimit for the manager', () => {
    process.env.OPENAI_API_KEY = KEY;
    const client = new OpenAICompatibleClient({ rateLimit: 500 });
    expect(client.config).toStrictEqual({
      baseURL: 'https://api.openai.com/v1',
      timeout: 60,
      model: 'gpt-4o-mini',
      embeddingModel: 'text-embedding-3-small',
      rateLimit: 500,
      defaultHeaderNames: [],
      hasApiKey: true,
    });
  });

  it('refuses a non-local baseURL without a key, naming apiKey', () => {
    expect(() => new OpenAICompatibleClient({ baseURL: BASE_URL })).toThrow(ValidationError);
    expect(() => new OpenAICompatibleClient()).toThrow(/^invalid API config: apiKey: /);
  });

  it("sends the OPENAI_API_KEY from the environment to OpenAI's URL, never to another", async () => {
    process.env.OPENAI_API_KEY = KEY;
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    await new OpenAICompatibleClient({ fetch }).chat(REQUEST, { signal: signal() });
    await new OpenAICompatibleClient({ baseURL: `${DEFAULT_BASE_URL}/`, fetch }).chat(REQUEST, {
      signal: signal(),
    });
    expect(calls.map((call) => call.headers.get('authorization'))).toStrictEqual([
      `Bearer ${KEY}`,
      `Bearer ${KEY}`,
    ]);
    expect(calls[0]?.url).toBe(`${DEFAULT_BASE_URL}/chat/completions`);
    const { message } = validationErrorOf(
      () => new OpenAICompatibleClient({ baseURL: BASE_URL, fetch }),
    );
    expect(message).toContain(
      "apiKey: an API key is required for api.example.test: the environment's OPENAI_API_KEY is sent only to OpenAI (https://api.openai.com/v1), never to another URL; pass apiKey",
    );
    expect(message).not.toContain(KEY);
    // Passed explicitly, the same key goes where it is told.
    await new OpenAICompatibleClient({ apiKey: KEY, baseURL: BASE_URL, fetch }).chat(REQUEST, {
      signal: signal(),
    });
    expect(calls[2]?.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(calls).toHaveLength(3);
  });

  it('pairs OPENAI_API_KEY with OPENAI_BASE_URL, which is then the default base URL', async () => {
    process.env.OPENAI_API_KEY = KEY;
    vi.stubEnv('OPENAI_BASE_URL', BASE_URL);
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    const client = new OpenAICompatibleClient({ fetch });
    expect(client.config).toMatchObject({ baseURL: BASE_URL, hasApiKey: true });
    await client.chat(REQUEST, { signal: signal() });
    expect(calls[0]?.url).toBe(`${BASE_URL}/chat/completions`);
    expect(calls[0]?.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    // The key belongs to OPENAI_BASE_URL now: not even OpenAI's URL gets it.
    expect(() => new OpenAICompatibleClient({ baseURL: DEFAULT_BASE_URL, fetch })).toThrow(
      /an API key is required for api\.openai\.com: the environment's OPENAI_API_KEY is sent only to OPENAI_BASE_URL \(https:\/\/api\.example\.test\/v1\)/,
    );
    vi.stubEnv('OPENAI_BASE_URL', 'ftp://example.com');
    expect(() => new OpenAICompatibleClient({ fetch })).toThrow(
      /baseURL: OPENAI_BASE_URL, the default base URL, is not an http\(s\) URL/,
    );
  });

  it('sends a loopback server the placeholder, not the environment key', async () => {
    process.env.OPENAI_API_KEY = KEY;
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    const client = new OpenAICompatibleClient({ baseURL: 'http://127.0.0.1:11434/v1', fetch });
    expect(client.config.hasApiKey).toBe(false);
    await client.chat(REQUEST, { signal: signal() });
    expect(calls[0]?.headers.get('authorization')).toBe(`Bearer ${LOCAL_PLACEHOLDER_KEY}`);
  });

  it('routes keys by one rule: resolveApiKey', () => {
    const env = { OPENAI_API_KEY: 'sk-env' };
    const paired = { ...env, OPENAI_BASE_URL: 'https://proxy.example.com/openai/v1' };
    const local = 'http://localhost:8000/v1';
    const other = 'https://llm.example.org/v1';
    const route = (config: { apiKey?: string; baseURL?: string }, from: Record<string, string>) => {
      const { source, apiKey, baseURL } = resolveApiKey(config, from);
      return { source, apiKey, baseURL };
    };
    expect(route({ apiKey: 'sk-given', baseURL: other }, env)).toStrictEqual({
      source: 'explicit',
      apiKey: 'sk-given',
      baseURL: other,
    });
    expect(route({}, env)).toStrictEqual({
      source: 'environment',
      apiKey: 'sk-env',
      baseURL: DEFAULT_BASE_URL,
    });
    expect(route({ baseURL: 'https://API.openai.com:443/v1/' }, env).source).toBe('environment');
    expect(route({ baseURL: 'https://api.openai.com/v2' }, env).source).toBe('none');
    expect(route({ baseURL: 'http://api.openai.com/v1' }, env).source).toBe('none');
    expect(route({}, paired)).toStrictEqual({
      source: 'environment',
      apiKey: 'sk-env',
      baseURL: 'https://proxy.example.com/openai/v1',
    });
    expect(route({ baseURL: DEFAULT_BASE_URL }, paired).source).toBe('none');
    expect(route({ baseURL: local }, env)).toStrictEqual({
      source: 'placeholder',
      apiKey: LOCAL_PLACEHOLDER_KEY,
      baseURL: local,
    });
    expect(route({ baseURL: local }, { ...env, OPENAI_BASE_URL: local }).source).toBe(
      'environment',
    );
    expect(route({ baseURL: other }, env)).toStrictEqual({
      source: 'none',
      apiKey: undefined,
      baseURL: other,
    });
    expect(route({ apiKey: '', baseURL: other }, {}).source).toBe('none');
    expect(route({ baseURL: 'not a url' }, env).source).toBe('none');
    const refused = resolveApiKey({ baseURL: other }, env);
    expect(refused.source === 'none' && refused.problem).toBe(
      "an API key is required for llm.example.org: the environment's OPENAI_API_KEY is sent only to OpenAI (https://api.openai.com/v1), never to another URL",
    );
  });

  it('never shows a header value in a validation error, from the client or the manager', () => {
    const headerSets = [
      KEY, // the headers given as the key itself
      { 'api-key': 123456789 }, // a value of the wrong type
      { Authorization: { bearer: KEY } },
    ] as unknown as Record<string, string>[];
    for (const defaultHeaders of headerSets) {
      for (const make of [
        () => new OpenAICompatibleClient({ apiKey: KEY, baseURL: BASE_URL, defaultHeaders }),
        () => new AITaskManager({ apiKey: KEY, baseURL: BASE_URL, defaultHeaders }),
      ]) {
        const { message, issues } = validationErrorOf(make);
        expect(message).toMatch(/defaultHeaders.*\(received \[redacted\]\)/);
        for (const shown of [message, JSON.stringify(issues)]) {
          expect(shown).not.toContain(KEY);
          expect(shown).not.toContain('123456789');
        }
      }
    }
  });

  it('sends the sk-local placeholder to a loopback server without a key', async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, completion()));
    const client = new OpenAICompatibleClient({
      baseURL: 'http://localhost:11434/v1',
      fetch,
      model: 'llama3',
      defaultHeaders: { 'x-team': 'search' },
    });
    expect(client.config.hasApiKey).toBe(false);
    await client.chat({ ...REQUEST, model: '' }, { signal: signal() });
    expect(calls[0]?.headers.get('authorization')).toBe('Bearer sk-local');
    expect(calls[0]?.headers.get('x-team')).toBe('search');
    expect(calls[0]?.body.model).toBe('llama3');
  });

  it.each([
    ['http://localhost:8000/v1', true],
    ['http://127.0.0.1:1234/v1', true],
    ['http://127.8.9.10/v1', true],
    ['http://[::1]:8080/v1', true],
    ['https://api.openai.com/v1', false],
    ['http://10.0.0.1/v1', false],
    ['http://localhost.example.com/v1', false],
  ])('isLoopbackURL(%s) is %s', (url, loopback) => {
    expect(isLoopbackURL(url)).toBe(loopback);
  });

  it('refuses invalid settings without echoing the key', () => {
    const bad = { apiKey: KEY, baseURL: 'ftp://example.com', timeout: -1 };
    const { message } = validationErrorOf(() => new OpenAICompatibleClient(bad));
    expect(message).toMatch(/baseURL/);
    expect(message).toMatch(/timeout/);
    expect(message).not.toContain(KEY);
    expect(() => new OpenAICompatibleClient({ apiKey: 42 } as unknown as APIConfig)).toThrow(
      /apiKey.*\[redacted\]/,
    );
    // The key given alone, as the seed's APIConfig(api_key, …) would be ported: not echoed.
    for (const make of [
      () => new OpenAICompatibleClient(KEY as unknown as APIConfig),
      () => new AITaskManager(KEY as unknown as AITaskManagerOptions),
    ]) {
      const refused = validationErrorOf(make);
      expect(refused.message).toMatch(/\[redacted\]/);
      expect(refused.message).not.toContain(KEY);
      expect(JSON.stringify(refused.issues)).not.toContain(KEY);
    }
    // No key at all is said as such, not as a hidden one.
    vi.stubEnv('OPENAI_API_KEY', '');
    expect(() => new OpenAICompatibleClient({ baseURL: 'https://llm.example.org/v1' })).toThrow(
      /apiKey: an API key is required for llm\.example\.org.*\(received undefined\)/,
    );
    vi.unstubAllEnvs();
  });

  it('never shows the key in its string, JSON or inspected forms', () => {
    const client = new OpenAICompatibleClient({
      apiKey: KEY,
      baseURL: BASE_URL,
      defaultHeaders: { 'api-key': KEY },
    });
    expect(String(client)).not.toContain(KEY);
    expect(JSON.stringify(client)).not.toContain(KEY);
    expect(JSON.parse(JSON.stringify(client))).toMatchObject({
      baseURL: BASE_URL,
      hasApiKey: true,
      defaultHeaderNames: ['api-key'],
    });
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain(KEY);
  });
});

describe('OpenAICompatibleClient against the simulator', () => {
  const SIM_KEY = 'sk-sim-0123456789';
  let sim: Simulator;
  let limited: Simulator;

  beforeAll(async () => {
    [sim, limited] = await Promise.all([
      startSimulator({
        apiKey: SIM_KEY,
        embeddingDimensions: 64,
        limits: { requests: 100, tokens: 100_000, windowMs: 60_000 },
      }),
      startSimulator({ limits: { requests: 2, windowMs: 60_000 } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([sim?.close(), limited?.close()]);
  });

  it('answers a json_schema request with JSON that parses, usage and hints', async () => {
    const client = new OpenAICompatibleClient({ apiKey: SIM_KEY, baseURL: sim.url });
    const response = await client.chat(
      {
        ...REQUEST,
        maxTokens: 200,
        responseFormat: {
          type: 'json_schema',
          jsonSchema: {
            name: 'label',
            strict: true,
            schema: {
              type: 'object',
              properties: { label: { type: 'string', enum: ['bug', 'feature'] } },
              required: ['label'],
              additionalProperties: false,
            },
          },
        },
      },
      { signal: signal() },
    );
    const parsed = JSON.parse(response.content) as { label: string };
    expect(['bug', 'feature']).toContain(parsed.label);
    expect(response.usage?.promptTokens).toBeGreaterThan(0);
    expect(response.usage?.totalTokens).toBe(
      (response.usage?.promptTokens ?? 0) + (response.usage?.completionTokens ?? 0),
    );
    expect(response.hints).toMatchObject({ limitRequests: 100, limitTokens: 100_000 });
    expect(response.hints?.remainingRequests).toBeLessThan(100);
    expect(response.hints?.resetRequestsMs).toBeGreaterThan(0);
    expect(response.requestId).toMatch(/^req_sim/);
  });

  it("returns embeddings of the simulator's dimension, one per input", async () => {
    const client = new OpenAICompatibleClient({ apiKey: SIM_KEY, baseURL: sim.url });
    const response = await client.embed(
      { model: 'text-embedding-3-small', input: ['rate limits', 'token budgets', 'queues'] },
      { signal: signal() },
    );
    expect(response.vectors).toHaveLength(3);
    for (const vector of response.vectors) expect(vector).toHaveLength(64);
    expect(response.usage?.promptTokens).toBeGreaterThan(0);
    expect(response.hints?.limitRequests).toBe(100);
  });

  it('turns a burst above the request limit into 429s with retryAfterMs', async () => {
    const client = new OpenAICompatibleClient({ baseURL: limited.url });
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.chat(REQUEST, { signal: signal() })),
    );
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(fulfilled).toHaveLength(2);
    expect(rejected).toHaveLength(2);
    for (const error of rejected) {
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({
        status: 429,
        retryable: true,
        providerCode: 'rate_limit_exceeded',
      });
      expect((error as ProviderError).retryAfterMs).toBeGreaterThan(0);
    }
  });

  it('maps a wrong key to a non-retryable 401 that does not show the key', async () => {
    const wrong = 'sk-wrong-9876543210';
    const client = new OpenAICompatibleClient({ apiKey: wrong, baseURL: sim.url });
    const error = await providerErrorOf(client.chat(REQUEST, { signal: signal() }));
    expect(error).toMatchObject({ status: 401, retryable: false, providerCode: 'invalid_api_key' });
    expectNoSecret(error, wrong);
  });
});
