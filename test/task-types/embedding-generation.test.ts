import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/limits/tokens.js';
import {
  createEmbeddingGenerationTaskType,
  EMBEDDING_GENERATION,
} from '../../src/task-types/builtin/embedding-generation.js';
import { planBatches } from '../../src/task-types/embeddings.js';
import type { Script } from '../helpers/scripted-client.js';
import { createWorld, embedRequests, expectRefused, failureOf, settle } from './helpers.js';

const ok = (): Script => ({ kind: 'ok' });

describe('EMBEDDING_GENERATION', () => {
  it('embeds one text with the embedding model and estimates its tokens', async () => {
    const world = createWorld(ok);
    const data = { text: 'Generate embedding for this text' };
    const estimate = world.engine.estimateCost({ taskType: EMBEDDING_GENERATION, data });
    expect(estimate).toMatchObject({
      model: 'text-embedding-3-small',
      promptTokens: countTextTokens(data.text, 'text-embedding-3-small'),
      maxTokens: 0,
    });
    const id = await world.engine.submit({ taskType: EMBEDDING_GENERATION, data });
    const outcome = await settle(world, id);
    expect(outcome.ok).toBe(true);
    const result = outcome.ok ? (outcome.result as { embeddings: number[][] }) : undefined;
    expect(result).toMatchObject({ model: 'text-embedding-3-small', dimensions: 64 });
    expect(result?.embeddings).toHaveLength(1);
    expect(embedRequests(world.client)).toEqual([
      { model: 'text-embedding-3-small', input: [data.text] },
    ]);
  });

  it('batches 600 texts into calls of 256, keeping the order', async () => {
    const world = createWorld(ok);
    const texts = Array.from({ length: 600 }, (_, i) => `text number ${i}`);
    const id = await world.engine.submit({ taskType: EMBEDDING_GENERATION, data: { text: texts } });
    const outcome = await settle(world, id);
    const sizes = embedRequests(world.client).map((r) => r.input.length);
    expect(sizes).toEqual([256, 256, 88]);
    expect(embedRequests(world.client).flatMap((r) => r.input)).toEqual(texts);
    const result = outcome.ok ? (outcome.result as { embeddings: number[][] }) : undefined;
    expect(result?.embeddings).toHaveLength(600);
    // 3 calls of 10 tokens (as the scripted server reports) at $0.02/1M: 0.6 µ$ in all, rounded
    // up once to 1 µ$ (not 1 µ$ a call).
    const record = await world.engine.getTask(id);
    expect(record?.usage.calls).toBe(3);
    expect(record?.costMicros).toBe(1);
  });

  it('takes the batch size as an option and splits by tokens too', () => {
    const custom = createEmbeddingGenerationTaskType({ batchSize: 2, name: 'EMBED_SMALL' });
    expect(custom.name).toBe('EMBED_SMALL');
    const texts = ['a b c d', 'e f g h', 'i j k l', 'm'];
    const model = 'text-embedding-3-small';
    expect(planBatches(texts, model, { batchSize: 2, batchTokens: 300_000 })).toEqual([
      [0, 2],
      [2, 4],
    ]);
    // 4 tokens each: a budget of 8 fits two, a budget of 5 fits one
    expect(planBatches(texts, model, { batchSize: 256, batchTokens: 8 })).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(planBatches(texts, model, { batchSize: 256, batchTokens: 5 })).toEqual([
      [0, 1],
      [1, 2],
      [2, 4],
    ]);
    expect(() => createEmbeddingGenerationTaskType({ batchSize: 5_000 })).toThrow(/batchSize/);
  });

  it('retries vectors of mixed lengths as an invalid answer', async () => {
    const world = createWorld(ok);
    world.client.embed = async (request) => ({
      vectors: request.input.map((_, i) => (i === 0 ? [1, 0] : [1, 0, 0])),
      model: request.model,
      usage: { promptTokens: 4, totalTokens: 4 },
    });
    const id = await world.engine.submit({
      taskType: EMBEDDING_GENERATION,
      data: { text: ['a', 'b'] },
      config: { maxRetries: 1 },
    });
    const error = failureOf(await settle(world, id), 'INVALID_ANSWER');
    expect(error.message).toContain('input 1');
    expect((await world.engine.getTask(id))?.attempts).toBe(2);
  });

  it('spends no more than it held when it embeds in several calls (the cost is rounded once)', async () => {
    const oneByOne = createEmbeddingGenerationTaskType({ name: 'EMB_1', batchSize: 1 });
    // A budget of one micro-dollar; 2 + 2 + 3 tokens at $0.02/1M cost 0.14 of one.
    const world = createWorld(ok, { budgetLimit: 0.000001 }, [oneByOne]);
    world.client.embed = async (request) => ({
      vectors: request.input.map(() => [1, 0]),
      model: request.model,
      usage: { promptTokens: request.input[0] === 'ccc' ? 3 : 2, totalTokens: 0 },
    });
    const id = await world.engine.submit({
      taskType: 'EMB_1',
      data: { text: ['aa', 'bb', 'ccc'] },
      config: { estimatedTokens: 7 },
    });
    expect((await settle(world, id)).ok).toBe(true);
    const record = await world.engine.getTask(id);
    expect(record?.usage.calls).toBe(3);
    expect(record?.costMicros).toBe(1);
    expect(record?.reservation.worstCaseMicros).toBe(1);
    expect(world.engine.budget.ledger.spent(world.clock.now()).total).toBe(1);
  });

  it('retries a batch answered with fewer vectors than texts as an invalid answer', async () => {
    const world = createWorld(ok);
    world.client.embed = async (request) => ({
      vectors: request.input.slice(1).map(() => [1, 0, 0]),
      model: request.model,
      usage: { promptTokens: 4, totalTokens: 4 },
    });
    const id = await world.engine.submit({
      taskType: EMBEDDING_GENERATION,
      data: { text: ['a', 'b', 'c'] },
      config: { maxRetries: 0 },
    });
    const error = failureOf(await settle(world, id), 'INVALID_ANSWER');
    expect(error.message).toContain('answered 2 vectors for 3 texts');
  });

  it.each([
    [{}, 'data.text'],
    [{ text: '' }, 'data.text'],
    [{ text: [] }, 'data.text'],
    [{ text: ['a', 3] }, 'data.text'],
  ])('refuses bad data %j at submit, naming %s', (data, field) =>
    expectRefused(EMBEDDING_GENERATION, data, field),
  );
});
