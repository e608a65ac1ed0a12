import { describe, expect, it } from 'vitest';
import { costMicros } from '../../src/limits/cost.js';
import { resolvePrice } from '../../src/limits/prices.js';
import { createTestEngine } from '../helpers/engine.js';
import { advance } from '../helpers/virtual-time.js';

const price = resolvePrice('gpt-4o-mini');

describe('usage a server reports', () => {
  it('a completion above max_tokens is charged at max_tokens, the result kept, and told', async () => {
    if (price === undefined) throw new Error('gpt-4o-mini has no price');
    const { engine, clock, events } = createTestEngine(
      { maxTokens: 50, budgetLimit: 0.0005 },
      () => ({ kind: 'ok', content: 'answer', promptTokens: 10, completionTokens: 5_000 }),
    );
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a', tokens: 10 } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.result).toBe('answer');
    expect(record?.usage.completionTokens).toBe(50);
    const worstCase = costMicros(price, 10, 50);
    expect(record?.costMicros).toBe(worstCase);
    const spent = engine.budget.ledger.spent(clock.now()).total;
    expect(spent).toBe(worstCase);
    expect(spent).toBeLessThanOrEqual(500);
    const suspect = events.find((e) => e.type === 'usage.suspect');
    expect(suspect).toMatchObject({
      taskId: id,
      attempt: 1,
      model: 'gpt-4o-mini',
      reported: { promptTokens: 10, completionTokens: 5_000 },
      charged: { promptTokens: 10, completionTokens: 50 },
      maxTokens: 50,
    });
    await engine.stop();
  });

  it('a prompt of 1e15 tokens is charged at the counted prompt', async () => {
    const { engine, clock, events } = createTestEngine({ budgetLimit: 1 }, () => ({
      kind: 'ok',
      promptTokens: 1e15,
      completionTokens: 1e15,
    }));
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'hello there' } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.usage.promptTokens).toBeLessThan(100);
    expect(record?.usage.completionTokens).toBe(1024);
    expect(engine.budget.ledger.spent(clock.now()).total).toBeLessThan(1_000_000);
    expect(events.filter((e) => e.type === 'usage.suspect')).toHaveLength(1);
    await engine.stop();
  });

  it('fractional usage is rounded up and the paid answer kept (no retry, no INTERNAL)', async () => {
    const { engine, clock, client, events } = createTestEngine({}, () => ({
      kind: 'ok',
      content: 'kept',
      promptTokens: 50.5,
      completionTokens: 3.2,
    }));
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a', tokens: 60 } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.result).toBe('kept');
    expect(record?.usage).toMatchObject({ promptTokens: 51, completionTokens: 4 });
    expect(Number.isInteger(record?.costMicros)).toBe(true);
    expect(record?.costMicros).toBeGreaterThan(0);
    expect(client.log).toHaveLength(1);
    expect(events.some((e) => e.type === 'usage.suspect')).toBe(false);
    await engine.stop();
  });

  it('usage that is no count (NaN, negative) is counted with the tokenizer instead', async () => {
    const { engine, clock } = createTestEngine({}, () => ({
      kind: 'ok',
      content: 'kept',
      promptTokens: Number.NaN,
      completionTokens: -3,
    }));
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.usage.estimated).toBe(true);
    expect(Number.isFinite(record?.costMicros)).toBe(true);
    await engine.stop();
  });
});
