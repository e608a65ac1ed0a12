import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createTestEngine } from '../helpers/engine.js';
import { createTestManager } from '../helpers/manager.js';
import { advance } from '../helpers/virtual-time.js';

describe("a task's config over the queue's taskDefaults", () => {
  it('keeps every default the task does not name (config {}, callbacks only, one other key)', async () => {
    const { manager, clock } = createTestManager(
      { taskDefaults: { maxRetries: 0, timeout: 5 } },
      () => ({ kind: 'error', status: 500, latencyMs: 10 }),
    );
    await manager.start();
    const configs = [undefined, {}, { onError: () => undefined }, { maxTokens: 50 }];
    const ids = await Promise.all(
      configs.map((config) =>
        manager.submitTask({ taskType: 'ECHO', data: { prompt: 'x' }, config }),
      ),
    );
    await advance(clock, 200, 10);
    for (const [i, id] of ids.entries()) {
      const info = await manager.getTaskStatus(id);
      expect(info?.status, JSON.stringify(configs[i])).toBe('failed');
      // maxRetries 0: one attempt, never the built-in 3 retries.
      expect(info?.attempts, JSON.stringify(configs[i])).toBe(1);
    }
    await manager.stop();
  });

  it('a key the task names wins; a key given as undefined leaves the default (engine)', async () => {
    const { engine, clock } = createTestEngine({ taskDefaults: { maxRetries: 0 } }, () => ({
      kind: 'error',
      status: 500,
      latencyMs: 10,
    }));
    const named = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'x' },
      config: { maxRetries: 1, retryDelay: 0 },
    });
    const undef = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'y' },
      config: { maxRetries: undefined },
    });
    await advance(clock, 500, 10);
    expect((await engine.getTask(named))?.attempts).toBe(2);
    expect((await engine.getTask(undef))?.attempts).toBe(1);
    await engine.stop();
  });

  it('a config that is not an object is refused, naming it', async () => {
    const { engine } = createTestEngine();
    for (const config of [null, 'fast', [1]]) {
      await expect(
        engine.submit({ taskType: 'ECHO', data: { prompt: 'x' }, config: config as never }),
      ).rejects.toThrow(ValidationError);
      await expect(
        engine.submit({ taskType: 'ECHO', data: { prompt: 'x' }, config: config as never }),
      ).rejects.toThrow(/invalid config: expected an object/);
    }
    await engine.stop();
  });
});

describe('metadata', () => {
  it('refuses an own "__proto__" key (JSON.parse keeps it; a copy would drop it)', async () => {
    const { manager } = createTestManager();
    await manager.start();
    const metadata = JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as Record<
      string,
      unknown
    >;
    const error = await manager
      .submitTask({ taskType: 'ECHO', data: { prompt: 'x' }, metadata })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('metadata.__proto__');
    expect((await manager.getTasks()).items).toHaveLength(0);
    await manager.stop();
  });
});
