import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { costMicros } from '../../src/limits/cost.js';
import { resolvePrice } from '../../src/limits/prices.js';
import { countChatTokens, countTextTokens } from '../../src/limits/tokens.js';
import { TaskType, textClassificationTaskType } from '../../src/task-types/builtin/index.js';
import {
  apiError,
  completion,
  createFetchWorld,
  type FetchedRequest,
  type FetchReply,
  json,
  settleTask,
} from './openai-engine-helpers.js';

const MODEL = 'gpt-4o-mini';
const ANSWER = JSON.stringify({
  category: 'web',
  confidence: 0.7,
  scores: { web: 0.7, data: 0.3 },
});

/** One scripted HTTP response. */
type Reply =
  | { kind: 'usage'; prompt: number; completion: number }
  | { kind: 'noUsage' }
  | { kind: 'server'; status: 500 | 502 | 503 }
  | { kind: 'rateLimited'; retryAfter: number }
  | { kind: 'invalidAnswer'; prompt: number; completion: number }
  | { kind: 'malformedBody' }
  /** Never answers: the attempt's timeout aborts it, and its prompt is charged. */
  | { kind: 'timeout' };

const tokens = fc.integer({ min: 0, max: 5_000 });
const reply: fc.Arbitrary<Reply> = fc.oneof(
  fc.record({ kind: fc.constant('usage' as const), prompt: tokens, completion: tokens }),
  fc.constant({ kind: 'noUsage' as const }),
  fc.record({
    kind: fc.constant('server' as const),
    status: fc.constantFrom(500 as const, 502 as const, 503 as const),
  }),
  fc.record({
    kind: fc.constant('rateLimited' as const),
    retryAfter: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({ kind: fc.constant('invalidAnswer' as const), prompt: tokens, completion: tokens }),
  fc.constant({ kind: 'malformedBody' as const }),
  fc.constant({ kind: 'timeout' as const }),
);

const price = resolvePrice(MODEL);

/**
 * The prompt the library counts for a request: its messages plus its response schema, as the
 * docs state the rule (the `json_schema` object's compact JSON, name, schema, strict, + 16).
 */
function countedPrompt(request: FetchedRequest): number {
  const messages = request.body.messages as { role: string; content: string }[];
  const format = request.body.response_format as
    | { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean } }
    | undefined;
  const sent = format?.json_schema;
  const schema =
    format?.type === 'json_schema' && sent !== undefined
      ? countTextTokens(
          JSON.stringify({ name: sent.name, schema: sent.schema, strict: sent.strict }),
          MODEL,
        ) + 16
      : 0;
  return countChatTokens(messages, MODEL) + schema;
}

/**
 * What a reported usage is charged: a completion above the request's max_tokens at max_tokens,
 * a prompt above twice the counted one (plus 256) at the counted one. `suspect` when either was.
 */
function believed(request: FetchedRequest, prompt: number, completionTokens: number) {
  const maxTokens = Number(request.body.max_tokens ?? request.body.max_completion_tokens);
  const counted = countedPrompt(request);
  const promptSuspect = prompt > 2 * counted + 256;
  const completionSuspect = completionTokens > maxTokens;
  return {
    prompt: promptSuspect ? counted : prompt,
    completion: completionSuspect ? maxTokens : completionTokens,
    suspect: promptSuspect || completionSuspect,
  };
}

/** The response for `r`, and what the call should cost (reported usage, or the tokenizer's). */
function respond(
  r: Reply,
  request: FetchedRequest,
): { response: FetchReply; micros: number; suspect?: boolean } {
  if (price === undefined) throw new Error(`${MODEL} has no price`);
  switch (r.kind) {
    case 'usage': {
      const charged = believed(request, r.prompt, r.completion);
      return {
        response: json(200, completion(ANSWER, { prompt: r.prompt, completion: r.completion })),
        micros: costMicros(price, charged.prompt, charged.completion),
        suspect: charged.suspect,
      };
    }
    case 'invalidAnswer': {
      const charged = believed(request, r.prompt, r.completion);
      return {
        response: json(
          200,
          completion('not json at all', { prompt: r.prompt, completion: r.completion }),
        ),
        micros: costMicros(price, charged.prompt, charged.completion),
        suspect: charged.suspect,
      };
    }
    case 'noUsage': {
      const prompt = countedPrompt(request);
      return {
        response: json(200, completion(ANSWER, null)),
        micros: costMicros(price, prompt, countTextTokens(ANSWER, MODEL)),
      };
    }
    case 'server':
      return { response: apiError(r.status, 'The server had an error'), micros: 0 };
    case 'rateLimited':
      return {
        response: apiError(429, 'Rate limit reached', 'rate_limit_exceeded', {
          'retry-after': String(r.retryAfter),
        }),
        micros: 0,
      };
    case 'timeout':
      return { response: 'hang', micros: costMicros(price, countedPrompt(request), 0) };
    case 'malformedBody':
      return {
        response: new Response('{"choices": [', {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
        micros: 0,
      };
  }
}

describe('money charged equals the usage of every call (property)', () => {
  it('for any sequence of responses, ledger = Σ task cost = Σ task.usage events = Σ per-call believed usage', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(reply, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 1, max: 4 }),
        async (replies, taskCount) => {
          let expected = 0;
          let suspects = 0;
          const world = createFetchWorld(
            (request, index) => {
              // past the script, the server answers soundly so that every task ends
              const r = replies[index] ?? { kind: 'usage', prompt: 10, completion: 5 };
              const { response, micros, suspect } = respond(r, request);
              expected += micros;
              if (suspect) suspects++;
              return response;
            },
            [textClassificationTaskType],
            {
              maxConcurrent: 2,
              budgetLimit: 100,
              taskDefaults: { maxRetries: 2, retryDelay: 0.1, timeout: 5 },
            },
          );
          const ids: string[] = [];
          for (let i = 0; i < taskCount; i++) {
            ids.push(
              await world.engine.submit({
                taskType: TaskType.TEXT_CLASSIFICATION,
                data: { text: `text ${i}`, categories: ['web', 'data'] },
              }),
            );
          }
          for (const id of ids) await settleTask(world, id);
          let taskCosts = 0;
          for (const id of ids) taskCosts += (await world.engine.getTask(id))?.costMicros ?? 0;
          const eventCosts = world.events.reduce(
            (sum, e) => sum + (e.type === 'task.usage' ? e.costMicros : 0),
            0,
          );
          const ledger = world.engine.budget.ledger.spent(world.clock.now()).total;
          expect(world.requests.length).toBeGreaterThanOrEqual(Math.min(replies.length, taskCount));
          expect(ledger).toBe(expected);
          expect(taskCosts).toBe(expected);
          expect(eventCosts).toBe(expected);
          // Every report above what its request allowed was told, and only those.
          expect(world.events.filter((e) => e.type === 'usage.suspect')).toHaveLength(suspects);
        },
      ),
      { numRuns: 40 },
    );
  });
});
