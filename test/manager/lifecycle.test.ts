import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  InvalidAnswerError,
  NonRetryableError,
  ProviderError,
  ProviderRefusedError,
  QueueStoppedError,
  TaskCancelledError,
  TaskQueueError,
  ValidationError,
} from '../../src/errors.js';
import { AITaskManager } from '../../src/manager.js';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import type { AnyTaskTypeDefinition } from '../../src/task-types/types.js';
import { createTestManager } from '../helpers/manager.js';
import { advance, flush } from '../helpers/virtual-time.js';

const echo = (prompt = 'hi') => ({ taskType: 'ECHO', data: { prompt } });

/** A task type whose run throws what it is given, to see the error come back from waitForTask. */
function throwing(name: string, error: () => Error): AnyTaskTypeDefinition {
  return {
    name,
    input: z.object({}),
    output: z.string(),
    estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
    run: async () => {
      throw error();
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('stop and start', () => {
  it('a graceful stop waits for a running fan-out task, whose children still run', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    const parent = await manager.submitTask({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    const result = manager.waitForTask(parent);
    await flush();
    const stopped = manager.stop();
    await advance(clock, 300, 10);
    await stopped;
    await expect(result).resolves.toHaveLength(2);
    expect((await manager.getTaskStatus(parent))?.status).toBe('completed');
    expect(manager.isRunning()).toBe(false);
  });

  it('after stop: start and pauseTask throw QueueStoppedError, waitForTask rejects, cancelTask cancels', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    await manager.submitTask(echo('a'));
    const waiting = await manager.submitTask(echo('b'));
    await flush();
    const stopped = manager.stop();
    await advance(clock, 150, 10);
    await stopped;
    await expect(manager.start()).rejects.toBeInstanceOf(QueueStoppedError);
    expect(() => manager.pauseTask(waiting)).toThrow(QueueStoppedError);
    await expect(manager.waitForTask(waiting)).rejects.toBeInstanceOf(QueueStoppedError);
    await expect(manager.onIdle()).resolves.toBeUndefined();
    expect((await manager.getQueueStatus()).totalSize).toBe(1);
    await expect(manager.cancelTask(waiting)).resolves.toBe(true);
    expect((await manager.getTaskStatus(waiting))?.status).toBe('cancelled');
    expect((await manager.getQueueStatus()).totalSize).toBe(0);
  });

  it('cancelTask, then stop at once: the task ends cancelled, not left waiting by the stop', async () => {
    const { manager } = createTestManager();
    await manager.start();
    manager.pause();
    const waiting = await manager.submitTask(echo('b'));
    const waited = rejection(manager.waitForTask(waiting));
    // Nothing runs, so the stop ends at once: before a cancellation that read the store first.
    const cancelled = manager.cancelTask(waiting);
    await manager.stop({ force: true });
    await expect(cancelled).resolves.toBe(true);
    expect(await waited).toBeInstanceOf(TaskCancelledError);
    expect((await manager.getTaskStatus(waiting))?.status).toBe('cancelled');
    expect((await manager.getQueueStatus()).totalSize).toBe(0);
  });

  it('stop before start settles the waiters of tasks submitted before it', async () => {
    const { manager } = createTestManager();
    const id = await manager.submitTask(echo());
    const waiting = rejection(manager.waitForTask(id));
    await manager.stop();
    expect(await waiting).toBeInstanceOf(QueueStoppedError);
  });

  it('onSizeLessThan resolves once stop is called (a stopping queue admits nothing more)', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    for (const p of ['a', 'b', 'c']) await manager.submitTask(echo(p));
    await flush();
    let resolved = false;
    const below = manager.onSizeLessThan(1).then(() => {
      resolved = true;
    });
    await flush();
    expect(resolved).toBe(false);
    const stopped = manager.stop();
    await flush();
    expect(resolved).toBe(true);
    await advance(clock, 150, 10);
    await Promise.all([below, stopped]);
    await expect(manager.onSizeLessThan(1)).resolves.toBeUndefined();
    expect((await manager.getQueueStatus()).totalSize).toBe(2);
  });

  it('pause before start: the queue starts paused, and resume lets tasks run', async () => {
    const { manager, clock } = createTestManager();
    manager.pause();
    expect(manager.isPaused()).toBe(true);
    const id = await manager.submitTask(echo());
    await manager.start();
    await advance(clock, 50, 5);
    expect((await manager.getTaskStatus(id))?.status).toBe('queued');
    manager.resume();
    await advance(clock, 50, 5);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
  });
});

describe('waitForTask', () => {
  it('rejects with the error of its own class and fields', async () => {
    const { manager, clock } = createTestManager({}, () => ({
      kind: 'error',
      status: 400,
      message: 'bad request',
    }));
    manager.registerTaskType(throwing('BAD_ANSWER', () => new InvalidAnswerError('not JSON', '{')));
    manager.registerTaskType(throwing('GIVE_UP', () => new NonRetryableError('no way')));
    await manager.start();
    const provider = await manager.submitTask(echo());
    const bad = await manager.submitTask({
      taskType: 'BAD_ANSWER',
      data: {},
      config: { maxRetries: 0 },
    });
    const giveUp = await manager.submitTask({ taskType: 'GIVE_UP', data: {} });
    const errors = [provider, bad, giveUp].map((id) => rejection(manager.waitForTask(id)));
    await advance(clock, 100, 10);
    const [providerError, badError, giveUpError] = await Promise.all(errors);
    expect(providerError).toBeInstanceOf(ProviderError);
    expect((providerError as ProviderError).status).toBe(400);
    expect((providerError as ProviderError).retryable).toBe(false);
    expect(badError).toBeInstanceOf(InvalidAnswerError);
    expect(giveUpError).toBeInstanceOf(NonRetryableError);
    // A task that has already ended rejects the same way.
    expect(await rejection(manager.waitForTask(provider))).toBeInstanceOf(ProviderError);

    manager.registerTaskType(
      throwing(
        'NOT_FOUND',
        () => new ProviderError('no such model', { status: 404, requestId: 'req_1' }),
      ),
    );
    const missing = await manager.submitTask({ taskType: 'NOT_FOUND', data: {} });
    const missingError = rejection(manager.waitForTask(missing));
    await advance(clock, 100, 10);
    // A 404 is a refusal no wait cures: classified as one, whoever threw it.
    const revived = await missingError;
    expect(revived).toBeInstanceOf(ProviderRefusedError);
    expect(revived).toMatchObject({ status: 404, requestId: 'req_1', retryable: false });
    expect((await manager.getTaskStatus(missing))?.error).toEqual({
      name: 'ProviderRefusedError',
      code: 'PROVIDER_REFUSED',
      message: 'no such model',
      retryable: false,
      status: 404,
      requestId: 'req_1',
    });
  });

  it('a 429 that ran out of retries keeps its status and retry-after', async () => {
    const { manager, clock } = createTestManager({}, () => ({
      kind: 'error',
      status: 429,
      retryAfterMs: 1000,
    }));
    await manager.start();
    const id = await manager.submitTask({ ...echo(), config: { maxRateLimitRetries: 0 } });
    const error = rejection(manager.waitForTask(id));
    await advance(clock, 100, 10);
    const caught = (await error) as ProviderError;
    expect(caught).toBeInstanceOf(ProviderError);
    expect(caught.status).toBe(429);
    expect(caught.retryAfterMs).toBe(1000);
  });

  it('rejects at once with the reason of a signal that is already aborted', async () => {
    const { manager } = createTestManager({}, () => ({ kind: 'hang' }));
    await manager.start();
    const id = await manager.submitTask(echo());
    const signal = AbortSignal.abort(new Error('gave up'));
    await expect(manager.waitForTask(id, { signal })).rejects.toThrow('gave up');
    await expect(manager.waitForTask(id, { signal, timeout: 5 })).rejects.toThrow('gave up');
  });
});

describe('signals', () => {
  it("removes submitTask's abort listener when the task ends", async () => {
    const { manager, clock } = createTestManager();
    await manager.start();
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await manager.submitTask({ ...echo(String(i)), signal: controller.signal }));
    }
    await advance(clock, 50, 5);
    expect(removed).toHaveBeenCalledTimes(3);
    controller.abort();
    await flush();
    for (const id of ids) expect((await manager.getTaskStatus(id))?.status).toBe('completed');
  });

  it('a signal aborted while the task is being stored still cancels it', async () => {
    const { manager, clock } = createTestManager();
    await manager.start();
    const controller = new AbortController();
    const submitted = manager.submitTask({ ...echo(), signal: controller.signal });
    controller.abort();
    const id = await submitted;
    await flush();
    await advance(clock, 50, 5);
    expect((await manager.getTaskStatus(id))?.status).toBe('cancelled');
  });

  it("submitBatch's signal cancels every task of the batch that has not ended", async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    const controller = new AbortController();
    const ids = await manager.submitBatch([echo('a'), echo('b'), echo('c')], {
      signal: controller.signal,
    });
    const other = await manager.submitTask(echo('other'));
    await advance(clock, 150, 10);
    controller.abort();
    await flush();
    const statuses = await Promise.all(
      ids.map(async (id) => (await manager.getTaskStatus(id))?.status),
    );
    expect(statuses).toEqual(['completed', 'cancelled', 'cancelled']);
    await advance(clock, 150, 10);
    expect((await manager.getTaskStatus(other))?.status).toBe('completed');
    await expect(
      manager.submitBatch([echo()], { signal: AbortSignal.abort(new Error('no')) }),
    ).rejects.toThrow('no');
    expect((await manager.getQueueStatus()).totalSize).toBe(0);
  });
});

describe('callbacks', () => {
  it('onComplete and onError run for tasks that end before submitTask resolves', async () => {
    const quick: AnyTaskTypeDefinition = {
      ...throwing('QUICK', () => new Error('x')),
      run: async () => 'done',
    };
    // A run that throws at once ends its task within the submission's own tick.
    const boom: AnyTaskTypeDefinition = {
      ...throwing('BOOM', () => new Error('x')),
      run: () => {
        throw new NonRetryableError('boom');
      },
    };
    const { manager } = createTestManager({ taskTypes: [quick, boom] });
    await manager.start();
    const seen: string[] = [];
    await manager.submitTask({
      taskType: 'QUICK',
      data: {},
      config: {
        onComplete: (info) => {
          seen.push(info.status);
        },
      },
    });
    await manager.submitTask({
      taskType: 'BOOM',
      data: {},
      config: {
        onError: (info) => {
          seen.push(info.status);
        },
      },
    });
    await flush();
    expect(seen.sort()).toEqual(['completed', 'failed']);
  });

  it('a composite task whose children end at once still hears of every one of them', async () => {
    const quick: AnyTaskTypeDefinition = {
      ...throwing('QUICK', () => new Error('x')),
      run: () => {
        throw new NonRetryableError('at once');
      },
    };
    const parent: AnyTaskTypeDefinition = {
      ...throwing('PARENT', () => new Error('x')),
      kind: 'composite',
      output: z.array(z.unknown()),
      run: async (ctx) =>
        ctx.runChildren([
          { taskType: 'QUICK', data: {} },
          { taskType: 'QUICK', data: {} },
        ]),
    };
    const { manager } = createTestManager({ taskTypes: [quick, parent] });
    await manager.start();
    const id = await manager.submitTask({ taskType: 'PARENT', data: {} });
    await flush();
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
  });

  it('keeps the task type definitions given in the options, not copies of them', async () => {
    class Prefixer implements AnyTaskTypeDefinition {
      readonly name = 'PREFIX';
      readonly input = z.object({ text: z.string() });
      readonly output = z.string();
      readonly #prefix: string;
      constructor(prefix: string) {
        this.#prefix = prefix;
      }
      estimate(_data: unknown, env: { model: string }) {
        return { model: env.model, promptTokens: 1, maxTokens: 1 };
      }
      async run(ctx: { data: { text: string } }) {
        return `${this.#prefix}${ctx.data.text}`;
      }
    }
    const { manager } = createTestManager({ taskTypes: [new Prefixer('> ') as never] });
    await manager.start();
    const id = await manager.submitTask({ taskType: 'PREFIX', data: { text: 'hi' } });
    await flush();
    await expect(manager.waitForTask(id)).resolves.toBe('> hi');
  });
});

describe('validation of the rest of the API', () => {
  it('registerTaskType and the taskTypes option refuse a malformed definition, naming the field', () => {
    const { manager } = createTestManager();
    const good = throwing('GOOD', () => new Error('x'));
    expect(() => manager.registerTaskType({ ...good, run: 'nope' } as never)).toThrow(
      /taskType\.run: expected an async function/,
    );
    expect(() => manager.registerTaskType({ ...good, input: {} } as never)).toThrow(
      /taskType\.input: expected a zod schema/,
    );
    expect(() => manager.registerTaskType({ ...good, name: '' })).toThrow(ValidationError);
    expect(() => manager.registerTaskType(null as never)).toThrow(ValidationError);
    expect(manager.taskTypes).not.toContain('GOOD');
    expect(
      () =>
        new AITaskManager({
          aiClient: { chat: async () => ({}), embed: async () => ({}) } as never,
          taskTypes: [{ ...good, estimate: 3 } as never],
        }),
    ).toThrow(/taskTypes\.0\.estimate/);
  });

  it('an unknown option names the nearest known one, at any depth', () => {
    const aiClient = { chat: async () => ({}), embed: async () => ({}) } as never;
    expect(() => new AITaskManager({ aiClient, maxConcurent: 2 } as never)).toThrow(
      /Unrecognized key: "maxConcurent" \(did you mean "maxConcurrent"\?\)/,
    );
    expect(() => new AITaskManager({ aiClient, keepCompleted: { cont: 3 } } as never)).toThrow(
      /keepCompleted: Unrecognized key: "cont" \(did you mean "count"\?\)/,
    );
    expect(() => new AITaskManager({ aiClient, zzz: 1 } as never)).toThrow(
      /Unrecognized key: "zzz" \(received/,
    );
  });

  it('refuses a malformed baseURL, an unknown time zone and a logger whose methods are not functions', () => {
    expect(() => new AITaskManager({ baseURL: 'not a url' })).toThrow(
      /baseURL: expected an http\(s\) URL \(received "not a url"\)/,
    );
    expect(() => new OpenAICompatibleClient({ baseURL: 'not a url' })).toThrow(ValidationError);
    expect(
      () => new AITaskManager({ baseURL: 'http://127.0.0.1:9/v1', budgetTimeZone: 'Mars/Olympus' }),
    ).toThrow(/budgetTimeZone: expected an IANA time zone/);
    expect(
      () =>
        new AITaskManager({ baseURL: 'http://127.0.0.1:9/v1', logger: { info: 'yes' } as never }),
    ).toThrow(/logger: expected a logger/);
    expect(
      () =>
        new AITaskManager({
          baseURL: 'http://127.0.0.1:9/v1',
          budgetTimeZone: 'Europe/Paris',
          logger: console,
        }),
    ).not.toThrow();
  });

  it('on() refuses an unknown event type and a listener that is not a function', () => {
    const { manager } = createTestManager();
    expect(() => manager.on('task.done' as never, () => {})).toThrow(
      /type: .*received "task.done"/,
    );
    expect(() => manager.on('task.completed', 5 as never)).toThrow(/listener: expected a function/);
  });

  it('a listener that throws is logged, and the queue and other listeners go on', async () => {
    const logged: string[] = [];
    const { manager, clock } = createTestManager({
      logger: { error: (message) => void logged.push(message) },
    });
    await manager.start();
    manager.on('task.completed', () => {
      throw new Error('listener boom');
    });
    const seen: string[] = [];
    manager.on('task.completed', (event) => void seen.push(event.taskId));
    const a = await manager.submitTask(echo('a'));
    const b = await manager.submitTask(echo('b'));
    await advance(clock, 20, 5);
    expect(seen).toEqual([a, b]);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toContain("'task.completed' listener");
    expect((await manager.getTaskStatus(b))?.status).toBe('completed');
  });

  it('getTasks refuses an unknown task type; cancelBatch counts a repeated id once', async () => {
    const { manager } = createTestManager({}, () => ({ kind: 'hang' }));
    await manager.start();
    await expect(manager.getTasks({ taskType: 'NOPE' })).rejects.toThrow(/taskType.*"NOPE"/);
    const id = await manager.submitTask(echo());
    await expect(manager.cancelBatch([id, id])).resolves.toEqual({ [id]: true });
  });

  it('uses the rateLimit of a given OpenAICompatibleClient when no limit is set', async () => {
    const client = new OpenAICompatibleClient({ baseURL: 'http://127.0.0.1:9/v1', rateLimit: 42 });
    const manager = new AITaskManager({ aiClient: client });
    expect((await manager.getStatistics()).rateLimit.requestsPerMinute.limit).toBe(42);
    const own = new AITaskManager({ aiClient: client, requestsPerMinute: 10 });
    expect((await own.getStatistics()).rateLimit.requestsPerMinute.limit).toBe(10);
    // Under one a minute: one request per 1/rate minutes, not one a minute.
    const slow = new OpenAICompatibleClient({ baseURL: 'http://127.0.0.1:9/v1', rateLimit: 0.5 });
    const slowStats = await new AITaskManager({ aiClient: slow }).getStatistics();
    expect(slowStats.rateLimit.windows).toEqual([
      {
        model: null,
        windowMs: 120_000,
        paced: true,
        requests: { current: 0, limit: 1 },
        tokens: expect.anything(),
      },
    ]);
  });

  it('every error the API throws is of the tree', async () => {
    const { manager } = createTestManager();
    for (const run of [
      () => manager.on('x' as never, () => {}),
      () => manager.registerTaskType({} as never),
      () => new AITaskManager({ budgetTimeZone: 'x' }),
    ]) {
      expect(() => run()).toThrow(TaskQueueError);
    }
  });
});
