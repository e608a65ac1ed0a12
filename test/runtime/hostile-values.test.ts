import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TaskQueueError, UNSHOWABLE_MESSAGE, ValidationError } from '../../src/errors.js';
import { Engine } from '../../src/runtime/engine.js';
import type { TaskTypeDefinition } from '../../src/task-types/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { createTestEngine } from '../helpers/engine.js';
import { createTestManager } from '../helpers/manager.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, createClock } from '../helpers/virtual-time.js';

/** An `Error` whose `message` (and `name`) getters throw. */
function errorWithThrowingGetters(): Error {
  const error = new Error('hidden');
  Object.defineProperty(error, 'message', {
    get() {
      throw new Error('message getter');
    },
  });
  Object.defineProperty(error, 'name', {
    get() {
      throw new Error('name getter');
    },
  });
  return error;
}

/** A value whose `String()` throws and whose getters throw too. */
function unprintable(): unknown {
  return new Proxy(Object.create(null), {
    get() {
      throw new Error('no property may be read');
    },
  });
}

function throwingType(name: string, value: () => unknown): TaskTypeDefinition<unknown, unknown> {
  return {
    name,
    input: z.unknown(),
    output: z.unknown(),
    estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
    run: async () => {
      throw value();
    },
  };
}

function engineWith(types: TaskTypeDefinition<unknown, unknown>[], maxConcurrent = 1) {
  const clock = createClock();
  const client = new ScriptedClient(clock);
  const engine = new Engine(
    { model: 'gpt-4o-mini', maxConcurrent, taskDefaults: { maxRetries: 3, retryDelay: 0.01 } },
    { client, clock, random: seededRandom(3), taskTypes: [echoTaskType, ...types] },
  );
  engine.start();
  return { engine, clock, client };
}

describe('a thrown value that cannot be shown', () => {
  const cases: [string, () => unknown][] = [
    ['Object.create(null)', () => Object.create(null)],
    ['an Error whose message and name getters throw', errorWithThrowingGetters],
    ['a proxy that throws on every read', unprintable],
  ];
  for (const [label, value] of cases) {
    it(`${label}: fails the task at once, frees its slot, the next task runs, stop resolves`, async () => {
      const { engine, clock } = engineWith([throwingType('BAD', value)]);
      const bad = await engine.submit({ taskType: 'BAD', data: {} });
      const next = await engine.submit({ taskType: 'ECHO', data: { prompt: 'after' } });
      await advance(clock, 200);
      const record = await engine.getTask(bad);
      expect(record?.status).toBe('failed');
      expect(record?.attempts).toBe(1);
      expect(record?.error?.code).toBe('INTERNAL');
      expect(record?.error?.retryable).toBe(false);
      expect(record?.error?.message).toMatch(/could not be shown/);
      expect((await engine.getTask(next))?.status).toBe('completed');
      await engine.stop();
      expect(engine.isRunning).toBe(false);
    });
  }
});

describe('what a task type returns', () => {
  it('a synchronous run that returns a value is accepted', async () => {
    const sync: TaskTypeDefinition<unknown, string> = {
      name: 'SYNC',
      input: z.unknown(),
      output: z.string(),
      estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
      run: (() => 'done') as unknown as TaskTypeDefinition<unknown, string>['run'],
    };
    const { engine, clock } = engineWith([sync as TaskTypeDefinition<unknown, unknown>]);
    const id = await engine.submit({ taskType: 'SYNC', data: {} });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.result).toBe('done');
    expect(record?.attempts).toBe(1);
  });

  const unserialisable: [string, () => unknown][] = [
    ['a BigInt', () => ({ n: 10n })],
    [
      'a cycle',
      () => {
        const a: Record<string, unknown> = { x: 1 };
        a.self = a;
        return a;
      },
    ],
  ];
  for (const [label, make] of unserialisable) {
    it(`an output holding ${label} fails once, without retry, as INVALID_ANSWER`, async () => {
      const type: TaskTypeDefinition<unknown, unknown> = {
        name: 'ODD',
        input: z.unknown(),
        output: z.unknown(),
        estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
        run: async () => make(),
      };
      const { engine, clock } = engineWith([type]);
      const id = await engine.submit({ taskType: 'ODD', data: {} });
      await advance(clock, 200);
      const record = await engine.getTask(id);
      expect(record?.status).toBe('failed');
      expect(record?.attempts).toBe(1);
      expect(record?.error?.code).toBe('INVALID_ANSWER');
      expect(record?.error?.retryable).toBe(false);
      expect(record?.error?.message).toMatch(/cannot be serialised/);
    });
  }

  it('an estimate() that throws rejects submit with a ValidationError naming it; nothing is queued', async () => {
    const type: TaskTypeDefinition<unknown, unknown> = {
      name: 'BAD_ESTIMATE',
      input: z.unknown(),
      output: z.unknown(),
      estimate: () => {
        throw new Error('no estimate for you');
      },
      run: async () => 'x',
    };
    const { engine } = engineWith([type]);
    const error = await engine.submit({ taskType: 'BAD_ESTIMATE', data: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(
      /BAD_ESTIMATE\.estimate\(\) threw: no estimate for you/,
    );
    expect(engine.waitingCount).toBe(0);
    const unprintableError = await engine
      .submit({ taskType: 'BAD_ESTIMATE', data: {} })
      .catch((e: unknown) => e);
    expect(unprintableError).toBeInstanceOf(TaskQueueError);
  });
});

describe('calls after the attempt was aborted', () => {
  it('ctx.chat after a timeout is refused without reaching the client', async () => {
    let lateCall: Promise<unknown> | undefined;
    const ignoresSignal: TaskTypeDefinition<unknown, string> = {
      name: 'IGNORES_SIGNAL',
      input: z.unknown(),
      output: z.string(),
      estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
      run: async (ctx) => {
        // A task type that waits on its own and then calls again, ignoring the abort.
        await new Promise<void>((resolve) => ctx.env && setImmediate(resolve));
        await new Promise<void>((resolve) => {
          const poll = () => (ctx.signal.aborted ? resolve() : setImmediate(poll));
          poll();
        });
        lateCall = ctx.chat({ messages: [{ role: 'user', content: 'late' }] });
        await lateCall.catch(() => undefined);
        return 'never used';
      },
    };
    const { engine, clock, client } = createTestEngine({
      taskDefaults: { maxRetries: 0, timeout: 0.05 },
    });
    engine.registerTaskType(ignoresSignal as TaskTypeDefinition<unknown, unknown>);
    const id = await engine.submit({ taskType: 'IGNORES_SIGNAL', data: {} });
    await advance(clock, 100);
    for (let i = 0; i < 50 && lateCall === undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(lateCall).toBeDefined();
    await expect(lateCall).rejects.toMatchObject({ code: 'TASK_TIMEOUT' });
    expect(client.log).toHaveLength(0);
    expect((await engine.getTask(id))?.status).toBe('failed');
    await engine.stop({ force: true });
  });
});

describe('user code in the manager that throws what cannot be shown', () => {
  it('onComplete, onError and listeners: logged as such, the queue goes on, nothing escapes', async () => {
    const logged: { message: string; error: unknown }[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (message: string, meta?: Record<string, unknown>) =>
        logged.push({ message, error: meta?.error }),
    };
    const { manager, clock } = createTestManager({ logger, maxConcurrent: 1 }, (_r, index) =>
      index === 1 ? { kind: 'error', status: 400 } : { kind: 'ok', content: 'fine' },
    );
    await manager.start();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      manager.on('task.completed', () => {
        throw unprintable();
      });
      const ok = await manager.submitTask({
        taskType: 'ECHO',
        data: { prompt: 'a' },
        config: {
          onComplete: () => {
            throw Object.create(null);
          },
        },
      });
      const bad = await manager.submitTask({
        taskType: 'ECHO',
        data: { prompt: 'b' },
        config: {
          maxRetries: 0,
          onError: async () => {
            throw errorWithThrowingGetters();
          },
        },
      });
      const after = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'c' } });
      await advance(clock, 100);
      expect((await manager.getTaskStatus(ok))?.status).toBe('completed');
      expect((await manager.getTaskStatus(bad))?.status).toBe('failed');
      expect((await manager.getTaskStatus(after))?.status).toBe('completed');
      expect(logged.map((l) => l.message)).toEqual(
        expect.arrayContaining([
          `onComplete callback of task '${ok}' failed`,
          `onError callback of task '${bad}' failed`,
          `'task.completed' listener of task '${ok}' failed`,
        ]),
      );
      for (const entry of logged) expect(entry.error).toBe(UNSHOWABLE_MESSAGE);
      await manager.stop();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
