import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ProviderError,
  ProviderRefusedError,
  refusalScope,
  reviveError,
} from '../../src/errors.js';
import { classifyFailure } from '../../src/runtime/attempt.js';
import { createTestEngine } from '../helpers/engine.js';
import { advance } from '../helpers/virtual-time.js';

const modelOf = (request: unknown): string => (request as { model: string }).model;

describe('refusals no wait cures (a bad key, no credit, no such model)', () => {
  it('classifies by status and provider code', () => {
    expect(refusalScope(401, 'invalid_api_key')).toBe('provider');
    expect(refusalScope(403, undefined)).toBe('provider');
    expect(refusalScope(429, 'insufficient_quota')).toBe('provider');
    expect(refusalScope(429, 'billing_hard_limit_reached')).toBe('provider');
    expect(refusalScope(404, 'model_not_found')).toBe('model');
    for (const [status, code] of [
      [429, 'rate_limit_exceeded'],
      [429, undefined],
      [400, undefined],
      [500, undefined],
      [undefined, undefined],
    ] as const) {
      expect(refusalScope(status, code)).toBeUndefined();
    }
    const revived = reviveError(
      {
        name: 'ProviderRefusedError',
        code: 'PROVIDER_REFUSED',
        message: 'no credit',
        retryable: false,
        status: 429,
        providerCode: 'insufficient_quota',
      },
      't',
    );
    expect(revived).toBeInstanceOf(ProviderRefusedError);
    expect((revived as ProviderRefusedError).scope).toBe('provider');
    expect(revived.retryable).toBe(false);
  });

  it('a custom client’s plain ProviderError for a refusal is classified as one', () => {
    for (const error of [
      new ProviderError('bad key', { status: 401 }),
      new ProviderError('no credit', { status: 429, providerCode: 'insufficient_quota' }),
      new ProviderError('no such model', { status: 404, requestId: 'req_1' }),
    ]) {
      const outcome = classifyFailure(error, 5, 0.5);
      expect(outcome).toMatchObject({
        ok: false,
        rateLimited: false,
        error: { code: 'PROVIDER_REFUSED', name: 'ProviderRefusedError', retryable: false },
      });
      expect(outcome.ok ? undefined : outcome.error.status).toBe(error.status);
    }
    expect(classifyFailure(new ProviderError('slow down', { status: 429 }), 5, 0.5)).toMatchObject({
      rateLimited: true,
      error: { code: 'PROVIDER_ERROR', retryable: true },
    });
  });

  it('out of credit: the task fails at once, and every waiting task fails without a call, whatever its model', async () => {
    const { engine, clock, client } = createTestEngine(
      {
        maxConcurrent: 1,
        taskDefaults: { maxRetries: 5, maxRateLimitRetries: 10, retryDelay: 0.01 },
      },
      () => ({
        kind: 'error',
        status: 429,
        providerCode: 'insufficient_quota',
        message: 'You exceeded your current quota',
      }),
    );
    const ids = [
      await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } }),
      await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } }),
      await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' }, config: { model: 'gpt-4o' } }),
    ];
    await advance(clock, 100);
    for (const id of ids) {
      const record = await engine.getTask(id);
      expect(record?.status).toBe('failed');
      expect(record?.error).toMatchObject({
        code: 'PROVIDER_REFUSED',
        providerCode: 'insufficient_quota',
        retryable: false,
      });
      expect(engine.errorOf(record as NonNullable<typeof record>)).toBeInstanceOf(
        ProviderRefusedError,
      );
    }
    // One call, not retries: the 429 was not taken for a rate limit.
    expect(client.log).toHaveLength(1);
    expect((await engine.getTask(ids[0] as string))?.attempts).toBe(1);
    await engine.stop({ force: true });
  });

  it('no such model: only that model stops; the others run', async () => {
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 1 }, (request) =>
      modelOf(request) === 'gpt-4o'
        ? { kind: 'error', status: 404, providerCode: 'model_not_found' }
        : { kind: 'ok', content: 'fine' },
    );
    const missing = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'a' },
      config: { model: 'gpt-4o' },
    });
    const alsoMissing = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'b' },
      config: { model: 'gpt-4o' },
    });
    const other = await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' } });
    await advance(clock, 100);
    expect((await engine.getTask(missing))?.error?.code).toBe('PROVIDER_REFUSED');
    expect((await engine.getTask(alsoMissing))?.error?.code).toBe('PROVIDER_REFUSED');
    expect((await engine.getTask(other))?.status).toBe('completed');
    expect(client.log.filter((e) => modelOf(e.request) === 'gpt-4o')).toHaveLength(1);
    await engine.stop({ force: true });
  });

  it('stops the model the refused call named, not the one the task estimated', async () => {
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 1 }, (request) =>
      modelOf(request) === 'gpt-typo'
        ? { kind: 'error', status: 404, providerCode: 'model_not_found' }
        : { kind: 'ok', content: 'fine' },
    );
    engine.registerTaskType({
      name: 'OTHER_MODEL',
      input: z.object({}),
      output: z.string(),
      estimate: (_data, env) => ({ model: env.model, promptTokens: 10, maxTokens: 10 }),
      run: async (ctx) =>
        (await ctx.chat({ model: 'gpt-typo', messages: [{ role: 'user', content: 'x' }] })).content,
    });
    const typo = await engine.submit({ taskType: 'OTHER_MODEL', data: {} });
    await advance(clock, 10);
    expect((await engine.getTask(typo))?.error?.code).toBe('PROVIDER_REFUSED');
    // The estimated model (gpt-4o-mini) still runs.
    const echo = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 10);
    expect((await engine.getTask(echo))?.status).toBe('completed');
    expect(client.log.map((e) => modelOf(e.request))).toEqual(['gpt-typo', 'gpt-4o-mini']);
    await engine.stop({ force: true });
  });

  it('resume() or adjustSettings lets the provider be tried again', async () => {
    let refuse = true;
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 1 }, () =>
      refuse ? { kind: 'error', status: 401, providerCode: 'invalid_api_key' } : { kind: 'ok' },
    );
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 10);
    const refused = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 10);
    expect((await engine.getTask(refused))?.error?.code).toBe('PROVIDER_REFUSED');
    expect(client.log).toHaveLength(1);
    refuse = false;
    for (const clear of [
      () => engine.resume(),
      () => engine.adjustSettings({ maxConcurrent: 2 }),
    ]) {
      refuse = true;
      await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' } });
      await advance(clock, 10);
      refuse = false;
      clear();
      const next = await engine.submit({ taskType: 'ECHO', data: { prompt: 'd' } });
      await advance(clock, 10);
      expect((await engine.getTask(next))?.status).toBe('completed');
    }
    await engine.stop({ force: true });
  });
});
