import type { SimulatedClock } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { TaskQueueError } from '../../src/errors.js';
import { type FetchLike, OpenAICompatibleClient } from '../../src/providers/openai.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import type { AnyTaskTypeDefinition } from '../../src/task-types/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { createClock } from '../helpers/virtual-time.js';

/** One request the scripted `fetch` received. */
export interface FetchedRequest {
  url: string;
  body: Record<string, unknown>;
  signal: AbortSignal | undefined;
}

/** What one scripted `fetch` call does: answer, or never answer (only an abort ends it). */
export type FetchReply = Response | 'hang';

export interface FetchWorld {
  engine: Engine;
  clock: SimulatedClock;
  requests: FetchedRequest[];
  events: EngineEvent[];
}

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** A chat completion body; `usage: null` leaves usage out. */
export function completion(
  content: string,
  usage: { prompt: number; completion: number } | null = { prompt: 40, completion: 10 },
): Record<string, unknown> {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_767_225_600,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    ...(usage === null
      ? {}
      : {
          usage: {
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            total_tokens: usage.prompt + usage.completion,
          },
        }),
  };
}

/** An OpenAI error body. */
export function apiError(
  status: number,
  message: string,
  code: string | null = null,
  headers: Record<string, string> = {},
): Response {
  return json(
    status,
    { error: { message, type: 'invalid_request_error', param: null, code } },
    headers,
  );
}

/**
 * An engine on virtual time whose client is the real `OpenAICompatibleClient` over the `openai`
 * SDK, with a scripted `fetch`: `reply(request, index)` answers each HTTP request.
 */
export function createFetchWorld(
  reply: (request: FetchedRequest, index: number) => FetchReply,
  taskTypes: readonly AnyTaskTypeDefinition[],
  settings: EngineSettingsInput = {},
): FetchWorld {
  const requests: FetchedRequest[] = [];
  const fetch: FetchLike = async (input, init) => {
    const text = typeof init?.body === 'string' ? init.body : '{}';
    const request: FetchedRequest = {
      url: String(input),
      body: JSON.parse(text) as Record<string, unknown>,
      signal: init?.signal ?? undefined,
    };
    requests.push(request);
    const answer = reply(request, requests.length - 1);
    if (answer !== 'hang') return answer;
    return new Promise<Response>((_resolve, reject) => {
      const signal = init?.signal;
      const abort = () => reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
    });
  };
  const clock = createClock();
  const client = new OpenAICompatibleClient({
    apiKey: 'sk-test-0123456789',
    baseURL: 'https://api.example.test/v1',
    fetch,
    now: () => clock.now(),
  });
  const engine = new Engine(
    { model: 'gpt-4o-mini', ...settings },
    { client, clock, random: seededRandom(5), taskTypes },
  );
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  engine.start();
  return { engine, clock, requests, events };
}

export type FetchOutcome = { ok: true; result: unknown } | { ok: false; error: TaskQueueError };

/**
 * Moves virtual time in steps until task `id` ends, yielding to the event loop between steps so
 * that the SDK's response handling (real promises and streams) runs.
 */
export async function settleTask(
  world: Pick<FetchWorld, 'engine' | 'clock'>,
  id: string,
  stepMs = 100,
  maxMs = 3_600_000,
): Promise<FetchOutcome> {
  let outcome: FetchOutcome | undefined;
  world.engine.waitFor(id).then(
    (result) => {
      outcome = { ok: true, result };
    },
    (error: unknown) => {
      if (!(error instanceof TaskQueueError)) throw error;
      outcome = { ok: false, error };
    },
  );
  const end = world.clock.now() + maxMs;
  while (outcome === undefined && world.clock.now() < end) {
    await new Promise((resolve) => setImmediate(resolve));
    if (outcome === undefined) world.clock.increment(stepMs);
  }
  if (outcome === undefined) throw new Error(`task ${id} did not end within ${maxMs} ms`);
  return outcome;
}
