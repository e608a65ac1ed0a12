import { describe, expect, it } from 'vitest';
import { costMicros } from '../../src/limits/cost.js';
import { resolvePrice } from '../../src/limits/prices.js';
import {
  countChatTokens,
  countResponseSchemaTokens,
  countTextTokens,
} from '../../src/limits/tokens.js';
import { TaskType, textClassificationTaskType } from '../../src/task-types/builtin/index.js';
import {
  apiError,
  completion,
  createFetchWorld,
  type FetchedRequest,
  type FetchReply,
  type FetchWorld,
  json,
  settleTask,
} from './openai-engine-helpers.js';

const PRICE = resolvePrice('gpt-4o-mini');
const DATA = { text: 'A Python web framework', categories: ['web', 'data'] };
const ANSWER = JSON.stringify({
  category: 'web',
  confidence: 0.9,
  scores: { web: 0.9, data: 0.1 },
});
const KEY = 'sk-test-0123456789';

/** The cost of one call in micro-dollars at gpt-4o-mini's price. */
function cost(prompt: number, completionTokens: number): number {
  if (PRICE === undefined) throw new Error('gpt-4o-mini has no price');
  return costMicros(PRICE, prompt, completionTokens);
}

/** The prompt tokens of a request as the tokenizer counts them. */
/** The prompt of a request as the library charges it with no usage: messages and schema. */
function promptOf(request: FetchedRequest | undefined): number {
  const messages = (request?.body.messages ?? []) as { role: string; content: string }[];
  const format = request?.body.response_format as
    | { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean } }
    | undefined;
  const schema =
    format?.type === 'json_schema' && format.json_schema !== undefined
      ? countResponseSchemaTokens(format.json_schema, 'gpt-4o-mini')
      : 0;
  return countChatTokens(messages, 'gpt-4o-mini') + schema;
}

async function runOne(
  reply: (request: FetchedRequest, index: number) => FetchReply,
  config: Record<string, unknown> = {},
): Promise<{ world: FetchWorld; outcome: Awaited<ReturnType<typeof settleTask>>; id: string }> {
  const world = createFetchWorld(reply, [textClassificationTaskType]);
  const id = await world.engine.submit({
    taskType: TaskType.TEXT_CLASSIFICATION,
    data: DATA,
    config,
  });
  const outcome = await settleTask(world, id);
  return { world, outcome, id };
}

/** What the engine charged: the task's cost, the sum of its usage events, and the ledger. */
async function charged(world: FetchWorld, id: string) {
  const record = await world.engine.getTask(id);
  const events = world.events.reduce(
    (sum, e) => sum + (e.type === 'task.usage' ? e.costMicros : 0),
    0,
  );
  const ledger = world.engine.budget.ledger.spent(world.clock.now()).total;
  return { task: record?.costMicros, events, ledger, attempts: record?.attempts, record };
}

describe('OpenAICompatibleClient through the engine (scripted fetch)', () => {
  it('success with usage and rate-limit headers: completed, 1 attempt, the reported usage charged', async () => {
    const reply = () =>
      json(200, completion(ANSWER, { prompt: 120, completion: 30 }), {
        'x-request-id': 'req_1',
        'x-ratelimit-limit-requests': '100',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '2s',
        'x-ratelimit-limit-tokens': '100000',
        'x-ratelimit-remaining-tokens': '99850',
        'x-ratelimit-reset-tokens': '90ms',
      });
    const { world, outcome, id } = await runOne(reply);
    expect(outcome.ok).toBe(true);
    const money = await charged(world, id);
    expect(money).toMatchObject({
      task: cost(120, 30),
      events: cost(120, 30),
      ledger: cost(120, 30),
      attempts: 1,
    });
    expect(money.record?.usage).toMatchObject({
      promptTokens: 120,
      completionTokens: 30,
      estimated: false,
    });

    // no requests remain until the reset in 2 s: the next task waits for it before starting
    const endedAt = world.clock.now();
    const next = await world.engine.submit({ taskType: TaskType.TEXT_CLASSIFICATION, data: DATA });
    await settleTask(world, next);
    const started = world.events.find((e) => e.type === 'task.started' && e.taskId === next);
    expect(started?.at ?? 0).toBeGreaterThanOrEqual(endedAt + 1_500);
  });

  it('429 with retry-after: put back without using a retry, started again after it, charged once', async () => {
    const reply = (_r: FetchedRequest, i: number) =>
      i === 0
        ? apiError(429, 'Rate limit reached for requests', 'rate_limit_exceeded', {
            'retry-after': '3',
          })
        : json(200, completion(ANSWER, { prompt: 50, completion: 20 }));
    const { world, outcome, id } = await runOne(reply, { maxRetries: 0 });
    expect(outcome.ok).toBe(true);
    expect(world.requests).toHaveLength(2);
    const money = await charged(world, id);
    expect(money).toMatchObject({ task: cost(50, 20), events: cost(50, 20), ledger: cost(50, 20) });
    const starts = world.events.filter((e) => e.type === 'task.started').map((e) => e.at);
    expect((starts[1] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(3_000);
  });

  it('500: retried (uses a retry), failed calls cost nothing', async () => {
    const reply = (_r: FetchedRequest, i: number) =>
      i < 2
        ? apiError(500, 'The server had an error', null)
        : json(200, completion(ANSWER, { prompt: 60, completion: 15 }));
    const { world, outcome, id } = await runOne(reply, { maxRetries: 2 });
    expect(outcome.ok).toBe(true);
    const money = await charged(world, id);
    expect(money).toMatchObject({ attempts: 3, task: cost(60, 15), ledger: cost(60, 15) });

    const always = await runOne(() => apiError(500, 'The server had an error', null), {
      maxRetries: 1,
    });
    expect(always.outcome.ok ? '' : always.outcome.error.code).toBe('PROVIDER_ERROR');
    expect(await charged(always.world, always.id)).toMatchObject({
      attempts: 2,
      task: 0,
      events: 0,
      ledger: 0,
    });
  });

  it('a timeout: the attempt is aborted and retried, then fails with TASK_TIMEOUT', async () => {
    const { world, outcome, id } = await runOne(() => 'hang', { timeout: 5, maxRetries: 1 });
    expect(outcome.ok ? '' : outcome.error.code).toBe('TASK_TIMEOUT');
    expect(world.requests).toHaveLength(2);
    expect(world.requests.every((r) => r.signal?.aborted)).toBe(true);
    expect((await charged(world, id)).attempts).toBe(2);
  });

  // An aborted attempt settles at once, before the SDK's rejection reaches `ctx.chat`: the
  // attempt charges what was in flight itself (the Conventions: the prompt is charged).
  it('a timeout without usage charges the prompt tokens at the input price', async () => {
    const { world, id } = await runOne(() => 'hang', { timeout: 5, maxRetries: 0 });
    const prompt = promptOf(world.requests[0]);
    const money = await charged(world, id);
    expect(money).toMatchObject({ task: cost(prompt, 0), ledger: cost(prompt, 0) });
    expect(money.record?.usage).toMatchObject({ promptTokens: prompt, estimated: true });
  });

  it('a body without usage: completed, usage counted with the tokenizer and marked estimated', async () => {
    const { world, outcome, id } = await runOne(() => json(200, completion(ANSWER, null)));
    expect(outcome.ok).toBe(true);
    const prompt = promptOf(world.requests[0]);
    const answerTokens = countTextTokens(ANSWER, 'gpt-4o-mini');
    const money = await charged(world, id);
    expect(money).toMatchObject({
      attempts: 1,
      task: cost(prompt, answerTokens),
      ledger: cost(prompt, answerTokens),
    });
    expect(money.record?.usage).toMatchObject({
      promptTokens: prompt,
      completionTokens: answerTokens,
      estimated: true,
    });
  });

  it('an invalid JSON answer: retried, then failed keeping the raw text; every answer is paid', async () => {
    const { world, outcome, id } = await runOne(
      () => json(200, completion('{"category": "web", "confid', { prompt: 70, completion: 8 })),
      { maxRetries: 1 },
    );
    expect(outcome.ok ? '' : outcome.error.code).toBe('INVALID_ANSWER');
    expect(outcome.ok ? '' : outcome.error.message).toContain(
      '{\\"category\\": \\"web\\", \\"confid',
    );
    expect(await charged(world, id)).toMatchObject({
      attempts: 2,
      task: 2 * cost(70, 8),
      ledger: 2 * cost(70, 8),
    });
  });

  it('a response body that is not JSON: a retryable provider error that costs nothing', async () => {
    const reply = (_r: FetchedRequest, i: number) =>
      i === 0
        ? new Response('<html>502 Bad Gateway</html', {
            status: 200,
            headers: { 'content-type': 'application/json' },
          })
        : json(200, completion(ANSWER, { prompt: 40, completion: 10 }));
    const { world, outcome, id } = await runOne(reply);
    expect(outcome.ok).toBe(true);
    expect(await charged(world, id)).toMatchObject({ attempts: 2, task: cost(40, 10) });
  });

  it('401: failed at once, no retry, nothing charged, the key never shown', async () => {
    const { world, outcome, id } = await runOne(
      () => apiError(401, `Incorrect API key provided: ${KEY}.`, 'invalid_api_key'),
      { maxRetries: 3 },
    );
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    // A bad key refuses every call: a refusal no wait cures.
    expect(outcome.error.code).toBe('PROVIDER_REFUSED');
    expect(outcome.error.retryable).toBe(false);
    expect(outcome.error.message).not.toContain(KEY);
    expect(world.requests).toHaveLength(1);
    expect(await charged(world, id)).toMatchObject({ attempts: 1, task: 0, events: 0, ledger: 0 });
    const failed = world.events.find((e) => e.type === 'task.failed');
    expect(JSON.stringify(failed)).not.toContain(KEY);
  });
});
