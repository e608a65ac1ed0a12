import { describe, expect, it } from 'vitest';
import { ServerWaitError } from '../../src/errors.js';
import { toTaskInfo } from '../../src/runtime/task-info.js';
import { createTestEngine } from '../helpers/engine.js';
import { advance } from '../helpers/virtual-time.js';

const HOUR = 3_600_000;

describe('waits a server asks for are bounded by maxServerWait', () => {
  it('a 429 asking for decades fails that model’s tasks at once with ServerWaitError; other models run', async () => {
    const { engine, clock, client } = createTestEngine(
      { maxConcurrent: 1, taskDefaults: { maxRetries: 3, retryDelay: 0.01 } },
      (request) =>
        (request as { model: string }).model === 'gpt-4o-mini'
          ? { kind: 'error', status: 429, retryAfterMs: 1_000_000_000_000 }
          : { kind: 'ok', content: 'fine' },
    );
    const first = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const second = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    const other = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'c' },
      config: { model: 'gpt-4o' },
    });
    await advance(clock, 100);
    for (const id of [first, second]) {
      const record = await engine.getTask(id);
      expect(record?.status).toBe('failed');
      expect(record?.attempts).toBeLessThanOrEqual(1);
      expect(record?.error?.code).toBe('SERVER_WAIT');
      expect(record?.error?.message).toMatch(/asked to wait 11574\.1 days .*model 'gpt-4o-mini'/);
      expect(record?.error?.message).toMatch(/raise maxServerWait/);
      const error = engine.errorOf(record as NonNullable<typeof record>);
      expect(error).toBeInstanceOf(ServerWaitError);
      expect((error as ServerWaitError).retryAfterMs).toBeGreaterThan(HOUR);
    }
    expect((await engine.getTask(other))?.status).toBe('completed');
    // Only the first task reached the server; the second failed at admission.
    expect(
      client.log.filter((e) => (e.request as { model: string }).model === 'gpt-4o-mini'),
    ).toHaveLength(1);
    await engine.stop({ force: true });
  });

  it('a wait within the bound is waited, and shown as the server’s wait until its time', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, (_request, index) =>
      index === 0 ? { kind: 'error', status: 429, retryAfterMs: 30_000 } : { kind: 'ok' },
    );
    const start = clock.now();
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const next = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('retrying');
    // The task shows the server's wait, not a backoff of ours.
    const info = toTaskInfo(engine, record as NonNullable<typeof record>);
    expect(info.waitingFor).toBe('server');
    expect(info.waitingUntil?.getTime()).toBe(start + 30_000);
    // The line's head waits for the model's server hint, with its time.
    const head = engine.headWait();
    expect(head?.waitingFor).toBe('server');
    expect(head?.until).toBe(start + 30_000);
    await advance(clock, 30_100, 100);
    expect((await engine.getTask(id))?.status).toBe('completed');
    expect((await engine.getTask(next))?.status).toBe('completed');
    await engine.stop({ force: true });
  });

  it('a reset hint of 100000h with nothing remaining fails the next tasks; raising maxServerWait makes them wait', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      hints: { remainingRequests: 0, resetRequestsMs: 100_000 * HOUR },
    }));
    const first = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const second = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 20);
    expect((await engine.getTask(first))?.status).toBe('completed');
    const failed = await engine.getTask(second);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('SERVER_WAIT');
    expect(failed?.error?.message).toMatch(/4166\.7 days/);

    engine.adjustSettings({ maxServerWait: 200_000 * 3600 });
    const third = await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' } });
    await advance(clock, 20);
    expect((await engine.getTask(third))?.status).toBe('queued');
    expect(engine.headWait()?.waitingFor).toBe('server');
    await engine.stop({ force: true });
  });

  it('when every waiting task is in its backoff, the line says so and until when', async () => {
    const { engine, clock } = createTestEngine(
      { taskDefaults: { maxRetries: 2, retryDelay: 10, maxRetryDelay: 10 } },
      (_request, index) => (index === 0 ? { kind: 'error', status: 500 } : { kind: 'ok' }),
    );
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 5);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('retrying');
    const head = engine.headWait();
    expect(head?.waitingFor).toBe('retryDelay');
    expect(head?.until).toBe(record?.notBefore);
    await engine.stop({ force: true });
  });
});
