import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { costMicros } from '../../src/limits/cost.js';
import { resolvePrice } from '../../src/limits/prices.js';
import { countChatTokens } from '../../src/limits/tokens.js';
import { PROMPT_FACTOR, PROMPT_SLACK } from '../../src/limits/usage.js';
import { RATE_LIMIT_HEADERS, RETRY_AFTER_HEADERS } from '../helpers/rate-limit-headers.js';
import { echoTaskType } from '../helpers/task-types.js';
import { createFetchWorld, type FetchedRequest, type FetchReply } from './openai-engine-helpers.js';

const MODEL = 'gpt-4o-mini';
const MAX_TOKENS = 100;
const MAX_SERVER_WAIT_S = 30;
const MAX_RETRY_DELAY_S = 2;

/** Header values a server may send, sound and not. */
const headerValue = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '2',
    '0.5',
    '-1',
    '1e3',
    '1000000000',
    '9e15',
    '9000000000000000',
    'NaN',
    'Infinity',
    '',
    ' 3 ',
    '100000h',
    '1s',
    '6m0s',
    '20ms',
    '1h2m3.5s',
    'Wed, 21 Oct 2015 07:28:00 GMT',
    'Fri, 31 Dec 9999 23:59:59 GMT',
    'Sun Nov  6 08:49:37 1994',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 0, max: 100 }).map(String),
);
const headerName = fc.constantFrom(...RETRY_AFTER_HEADERS, ...RATE_LIMIT_HEADERS, 'x-request-id');
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 5 });

/** A usage count as a server may write it. */
const count = fc.oneof(
  fc.integer({ min: 0, max: 400 }),
  fc.double({ min: 0, max: 400, noNaN: true }),
  fc.constantFrom(-5, 1e15, 5_000, 1e300, '12', null, true, {}),
);

const body = fc.oneof(
  fc.record({
    kind: fc.constant('completion' as const),
    content: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(null, 42, {}, [])),
    usage: fc.option(fc.record({ prompt_tokens: count, completion_tokens: count }), {
      nil: undefined,
    }),
  }),
  fc.constantFrom(
    { kind: 'raw' as const, text: '{"choices":[null]}' },
    { kind: 'raw' as const, text: '{"choices":[]}' },
    { kind: 'raw' as const, text: '{"choices":[{"message":"hi"}]}' },
    { kind: 'raw' as const, text: '{}' },
    { kind: 'raw' as const, text: '[]' },
    { kind: 'raw' as const, text: 'null' },
    { kind: 'raw' as const, text: '{"choices": [' },
    { kind: 'raw' as const, text: 'not json' },
    { kind: 'raw' as const, text: '' },
  ),
);

const reply = fc.record({
  status: fc.constantFrom(200, 200, 200, 400, 408, 429, 429, 500, 503),
  headers,
  body,
});
type Reply = typeof reply extends fc.Arbitrary<infer R> ? R : never;

function toResponse(r: Reply): FetchReply {
  const text =
    r.body.kind === 'raw'
      ? r.body.text
      : r.status === 200
        ? JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model: MODEL,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: r.body.content },
                finish_reason: 'stop',
              },
            ],
            ...(r.body.usage === undefined ? {} : { usage: r.body.usage }),
          })
        : JSON.stringify({ error: { message: 'hostile', type: 'server_error', code: null } });
  return new Response(text, {
    status: r.status,
    headers: { 'content-type': 'application/json', ...r.headers },
  });
}

const price = resolvePrice(MODEL);

/** The most a believable bill for one request can be: the prompt ceiling and max_tokens. */
function believableBill(request: FetchedRequest): number {
  if (price === undefined) throw new Error(`${MODEL} has no price`);
  const messages = request.body.messages as { role: 'user'; content: string }[];
  const counted = countChatTokens(messages, MODEL);
  const maxTokens = Number(request.body.max_tokens ?? request.body.max_completion_tokens);
  return costMicros(price, PROMPT_FACTOR * counted + PROMPT_SLACK, maxTokens);
}

describe('the openai adapter and the engine against a hostile server (property)', () => {
  it('every task ends once; costs are whole micro-dollars within a believable bill; waits stay bounded', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(reply, { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 1, max: 4 }),
          async (replies, taskCount) => {
            unhandled.length = 0;
            const world = createFetchWorld(
              (_request, index) =>
                // past the script, the server answers soundly so that every task ends
                toResponse(
                  replies[index] ?? {
                    status: 200,
                    headers: {},
                    body: { kind: 'completion', content: 'ok', usage: undefined },
                  },
                ),
              [echoTaskType],
              {
                maxConcurrent: 2,
                maxTokens: MAX_TOKENS,
                budgetLimit: 100,
                maxServerWait: MAX_SERVER_WAIT_S,
                taskDefaults: {
                  maxRetries: 2,
                  retryDelay: 0.1,
                  maxRetryDelay: MAX_RETRY_DELAY_S,
                  maxRateLimitRetries: 3,
                  timeout: 5,
                },
              },
            );
            const ids: string[] = [];
            for (let i = 0; i < taskCount; i++) {
              ids.push(await world.engine.submit({ taskType: 'ECHO', data: { prompt: `p ${i}` } }));
            }
            // Every task ends within the bounds: waits of at most 30 s, a few retries each.
            const ended = () =>
              world.events.filter(
                (e) =>
                  e.type === 'task.completed' ||
                  e.type === 'task.failed' ||
                  e.type === 'task.cancelled',
              );
            const deadline = world.clock.now() + 600_000;
            while (ended().length < ids.length && world.clock.now() < deadline) {
              await new Promise((resolve) => setImmediate(resolve));
              world.clock.increment(250);
            }
            for (const id of ids) {
              expect(ended().filter((e) => 'taskId' in e && e.taskId === id)).toHaveLength(1);
            }
            // Money: whole micro-dollars, never above what the requests could believably cost.
            const spent = world.engine.budget.ledger.spent(world.clock.now()).total;
            expect(Number.isSafeInteger(spent)).toBe(true);
            const bill = world.requests.reduce((sum, r) => sum + believableBill(r), 0);
            expect(spent).toBeLessThanOrEqual(bill);
            for (const id of ids) {
              const cost = (await world.engine.getTask(id))?.costMicros ?? 0;
              expect(Number.isSafeInteger(cost)).toBe(true);
            }
            // No wait beyond its bound: a server's (maxServerWait) or a backoff (maxRetryDelay).
            for (const e of world.events) {
              if (e.type !== 'task.retrying') continue;
              expect(e.notBefore - e.at).toBeLessThanOrEqual(MAX_SERVER_WAIT_S * 1000);
            }
            await world.engine.stop({ force: true });
            await new Promise((resolve) => setImmediate(resolve));
            expect(unhandled).toEqual([]);
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 120_000);
});
