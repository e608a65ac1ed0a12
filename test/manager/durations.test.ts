import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/cli/args.js';
import { ValidationError, WaitTimeoutError } from '../../src/errors.js';
import type { DurationString } from '../../src/internal/duration.js';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import { createTestEngine } from '../helpers/engine.js';
import { createTestManager } from '../helpers/manager.js';
import { advance } from '../helpers/virtual-time.js';

/** Durations given as strings with units, end to end: every option family on virtual time. */
describe('durations as strings with units', () => {
  it("a task's config: timeout '50ms' times out the attempt after 50 ms", async () => {
    const { manager, clock } = createTestManager({}, () => ({ kind: 'hang' }));
    await manager.start();
    const id = await manager.submitTask({
      taskType: 'ECHO',
      data: { prompt: 'x' },
      config: { timeout: '50ms', maxRetries: 0 },
    });
    await advance(clock, 40);
    expect((await manager.getTaskStatus(id))?.status).toBe('running');
    await advance(clock, 20);
    const info = await manager.getTaskStatus(id);
    expect(info?.status).toBe('failed');
    expect(info?.error?.code).toBe('TASK_TIMEOUT');
    await manager.stop({ force: true });
  });

  it("a task's config: deadline '1s' ends the task across retries", async () => {
    const { engine, clock } = createTestEngine({}, () => ({ kind: 'hang' }));
    const id = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'x' },
      config: { timeout: '300ms', retryDelay: '0s', maxRetries: 10, deadline: '1s' },
    });
    await advance(clock, 900, 10);
    expect((await engine.getTask(id))?.status).not.toBe('failed');
    await advance(clock, 200, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('failed');
    expect(record?.error?.code).toBe('TASK_TIMEOUT');
    await engine.stop();
  });

  it("retryDelay '200ms' and maxRetryDelay '500ms' retry exactly as 0.2 and 0.5 do", async () => {
    const starts = async (config: Record<string, unknown>) => {
      const { engine, clock, client } = createTestEngine({}, (_request, index) =>
        index < 3 ? { kind: 'error', status: 500, latencyMs: 10 } : { kind: 'ok', latencyMs: 10 },
      );
      const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' }, config });
      await advance(clock, 5000, 10);
      expect((await engine.getTask(id))?.status).toBe('completed');
      await engine.stop();
      return client.log.map((entry) => entry.at);
    };
    const asStrings = await starts({ retryDelay: '200ms', maxRetryDelay: '500ms' });
    const asNumbers = await starts({ retryDelay: 0.2, maxRetryDelay: 0.5 });
    expect(asStrings).toHaveLength(4);
    expect(asStrings).toEqual(asNumbers);
    // Full jitter under the 500 ms cap: no gap exceeds the call's 10 ms, the cap and a step.
    for (let i = 1; i < asStrings.length; i++) {
      expect((asStrings[i] ?? 0) - (asStrings[i - 1] ?? 0)).toBeLessThanOrEqual(520);
    }
  });

  it("windows: [{ requests: 1, windowMs: '1s' }] starts one call per second", async () => {
    const { engine, clock, client } = createTestEngine({
      windows: [{ requests: 1, windowMs: '1s' }],
    });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 900, 10);
    expect(client.log).toHaveLength(1);
    await advance(clock, 200, 10);
    expect(client.log).toHaveLength(2);
    expect((client.log[1]?.at ?? 0) - (client.log[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
    await engine.stop();
  });

  it("maxServerWait '10s' refuses a 30 s wait; '1m' waits it out", async () => {
    const outcome = async (maxServerWait: DurationString) => {
      const { engine, clock } = createTestEngine({ maxServerWait }, (_request, index) =>
        index === 0 ? { kind: 'error', status: 429, retryAfterMs: 30_000 } : { kind: 'ok' },
      );
      const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' } });
      await advance(clock, 31_000, 100);
      const record = await engine.getTask(id);
      await engine.stop();
      return [record?.status, record?.error?.code];
    };
    expect(await outcome('10s')).toEqual(['failed', 'SERVER_WAIT']);
    expect(await outcome('1m')).toEqual(['completed', undefined]);
  });

  it('adjustSettings takes windows and maxServerWait as strings, and names a bad one', async () => {
    const { manager, clock, client } = createTestManager();
    await manager.start();
    manager.adjustSettings({ windows: [{ requests: 1, windowMs: '1m' }], maxServerWait: '2h' });
    await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'a' } });
    await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 59_000, 500);
    expect(client.log).toHaveLength(1);
    await advance(clock, 2000, 500);
    expect(client.log).toHaveLength(2);
    expect(() => manager.adjustSettings({ maxServerWait: '2 hours' as never })).toThrow(
      /settings\.maxServerWait: expected a duration.*\(received "2 hours"\)/,
    );
    expect(() => manager.adjustSettings({ maxServerWait: '2 hours' as never })).toThrow(
      ValidationError,
    );
    await manager.stop({ force: true });
  });

  it("waitForTask(id, { timeout: '100ms' }) gives up after 100 ms of the clock", async () => {
    const { manager, clock } = createTestManager({}, () => ({ kind: 'hang' }));
    await manager.start();
    const id = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'x' } });
    let settled: unknown;
    manager.waitForTask(id, { timeout: '100ms' }).then(
      (value) => {
        settled = value;
      },
      (error: unknown) => {
        settled = error;
      },
    );
    await advance(clock, 90, 10);
    expect(settled).toBeUndefined();
    await advance(clock, 20, 10);
    expect(settled).toBeInstanceOf(WaitTimeoutError);
    await expect(manager.waitForTask(id, { timeout: '0s' })).rejects.toThrow(
      /options\.timeout: .*\(received "0s"\)/,
    );
    await manager.stop({ force: true });
  });

  it("cleanupOldTasks({ olderThanHours: '1h' }) counts hours from a string", async () => {
    const { manager, clock } = createTestManager();
    await manager.start();
    const id = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'x' } });
    await advance(clock, 100, 10);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
    clock.increment(2 * 3_600_000);
    expect(await manager.cleanupOldTasks({ olderThanHours: '3h' })).toBe(0);
    expect(await manager.cleanupOldTasks({ olderThanHours: '90m' })).toBe(1);
    await manager.stop();
  });

  it("the default client's timeout: '1m30s' is 90 seconds", () => {
    const client = new OpenAICompatibleClient({
      apiKey: 'sk-test',
      baseURL: 'http://127.0.0.1:9/v1',
      timeout: '1m30s',
    });
    expect(client.config.timeout).toBe(90);
  });
});

describe('durations in the CLI config file (aitq.config.json)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aitq-durations-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves every duration key to its documented unit', () => {
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({
        timeout: '1m',
        maxServerWait: '2h',
        statsIntervalMs: '1s',
        windows: [{ requests: 10, windowMs: '1m' }],
        modelLimits: { 'gpt-4o': { windows: [{ tokens: 100, windowMs: '1.5s' }] } },
        keepCompleted: { age: '1d' },
        taskDefaults: {
          timeout: '90s',
          retryDelay: '500ms',
          maxRetryDelay: '1m30s',
          deadline: '1h30m',
        },
      }),
    );
    const args = parseCliArgs(['analyze', 'r.json', '--simulator'], {}, dir);
    if (args.command !== 'analyze') throw new Error(args.command);
    const settings = args.settings;
    expect(settings.timeout).toBe(60);
    expect(settings.maxServerWait).toBe(7200);
    expect(settings.statsIntervalMs).toBe(1000);
    expect(settings.windows).toEqual([{ requests: 10, windowMs: 60_000 }]);
    expect(settings.modelLimits?.['gpt-4o']?.windows).toEqual([{ tokens: 100, windowMs: 1500 }]);
    expect(settings.keepCompleted).toEqual({ age: 86_400 });
    expect(settings.taskDefaults).toMatchObject({
      timeout: 90,
      retryDelay: 0.5,
      maxRetryDelay: 90,
      deadline: 5400,
    });
  });

  it('names the key and the value of a duration without a unit', () => {
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({ taskDefaults: { timeout: '60' } }),
    );
    expect(() => parseCliArgs(['analyze', 'r.json', '--simulator'], {}, dir)).toThrow(
      /^aitq\.config\.json: taskDefaults\.timeout: .*a string needs a unit.*\(received "60"\)$/,
    );
  });
});
