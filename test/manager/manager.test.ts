import { describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  QueueFullError,
  QueueStoppedError,
  TaskCancelledError,
  TaskNotFoundError,
  ValidationError,
  WaitTimeoutError,
} from '../../src/errors.js';
import { AITaskManager, createAITaskManager } from '../../src/manager.js';
import { KeepAlive } from '../../src/runtime/keep-alive.js';
import type { Statistics } from '../../src/stats/types.js';
import { createTestManager } from '../helpers/manager.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { advance, createClock, flush } from '../helpers/virtual-time.js';

const echo = (prompt = 'hi', extra: Record<string, unknown> = {}) => ({
  taskType: 'ECHO',
  data: { prompt },
  ...extra,
});

async function expectValidation(
  run: () => unknown,
  field: string,
  received?: string,
): Promise<ValidationError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  const error = caught as ValidationError;
  expect(error.code).toBe('VALIDATION');
  expect(error.message).toContain(field);
  if (received !== undefined) expect(error.message).toContain(received);
  return error;
}

describe('creating a manager', () => {
  it('createAITaskManager returns a started manager; new + start() does the same', async () => {
    const clock = createClock();
    const client = new ScriptedClient(clock);
    const started = await createAITaskManager({ aiClient: client, clock });
    expect(started.isRunning()).toBe(true);
    const manual = new AITaskManager({ aiClient: client, clock });
    expect(manual.isRunning()).toBe(false);
    await manual.start();
    expect(manual.isRunning()).toBe(true);
    await started.stop();
    await manual.stop();
    expect(started.isRunning()).toBe(false);
  });

  it('registers the five built-in task types by default, and none with builtinTaskTypes: false', () => {
    const { manager } = createTestManager();
    expect(manager.taskTypes).toEqual(
      expect.arrayContaining([
        'REPOSITORY_ANALYSIS',
        'BATCH_ANALYSIS',
        'TEXT_CLASSIFICATION',
        'EMBEDDING_GENERATION',
        'SEMANTIC_SEARCH',
        'ECHO',
      ]),
    );
    const bare = createTestManager({ builtinTaskTypes: false }).manager;
    expect(bare.taskTypes).toEqual(['ECHO', 'FAN_OUT']);
  });

  it('refuses bad options with a ValidationError naming the field and value', async () => {
    await expectValidation(() => new AITaskManager({ maxConcurrent: -1 }), 'maxConcurrent', '-1');
    await expectValidation(
      () => new AITaskManager({ requestsPerMinute: 'fast' as unknown as number }),
      'requestsPerMinute',
      '"fast"',
    );
    await expectValidation(
      () => new AITaskManager({ maxConcurent: 3 } as unknown as Record<string, never>),
      'maxConcurent',
    );
  });

  it('never echoes the API key, even a malformed one', async () => {
    const error = await expectValidation(
      () => new AITaskManager({ apiKey: 12345 as unknown as string }),
      'apiKey',
    );
    expect(error.message).not.toContain('12345');
    expect(JSON.stringify(error.issues)).not.toContain('12345');
  });

  it('builds an OpenAICompatibleClient from apiKey/baseURL when no client is given', () => {
    const manager = new AITaskManager({
      baseURL: 'http://127.0.0.1:9/v1',
      builtinTaskTypes: false,
    });
    expect(manager.isRunning()).toBe(false);
    expect(JSON.stringify(manager.options)).not.toContain('apiKey');
    // A key carried in a header (Azure's api-key) is not shown either: only the header's name.
    const azure = new AITaskManager({
      baseURL: 'http://127.0.0.1:9/v1',
      apiKey: 'sk-key-in-option',
      defaultHeaders: { 'api-key': 'azure-secret-value' },
      builtinTaskTypes: false,
    });
    expect(azure.options.defaultHeaders).toEqual({ 'api-key': '[redacted]' });
    expect(JSON.stringify(azure.options)).not.toContain('azure-secret-value');
    expect(() => new AITaskManager({ baseURL: 'https://api.example.com/v1', apiKey: '' })).toThrow(
      ValidationError,
    );
  });

  it("maps the seed's rateLimit to requestsPerMinute when that is not set", async () => {
    const { manager } = createTestManager({ rateLimit: 30 });
    await manager.start();
    const stats = await manager.getStatistics();
    expect(stats.rateLimit.requestsPerMinute.limit).toBe(30);
  });
});

describe('submitting', () => {
  it('submitTask returns an id; waitForTask resolves with the result; status and result read back', async () => {
    const { manager, clock } = createTestManager({}, () => ({
      kind: 'ok',
      content: 'hello',
      latencyMs: 500,
      promptTokens: 100,
      completionTokens: 20,
    }));
    await manager.start();
    const id = await manager.submitTask({
      ...echo('hi'),
      priority: 'HIGH',
      metadata: { userId: 'u1' },
    });
    expect(typeof id).toBe('string');
    const waiting = manager.waitForTask(id);
    const running = await manager.getTaskStatus(id);
    expect(running?.status).toBe('running');
    await advance(clock, 500);
    await expect(waiting).resolves.toBe('hello');
    const status = await manager.getTaskStatus(id);
    expect(status).toMatchObject({
      taskId: id,
      taskType: 'ECHO',
      status: 'completed',
      priority: 'HIGH',
      attempts: 1,
      error: null,
      result: 'hello',
      metadata: { userId: 'u1' },
      metrics: {
        queueTime: 0,
        executionTime: 0.5,
        promptTokens: 100,
        completionTokens: 20,
        tokensUsed: 120,
      },
    });
    expect(status?.metrics.actualCost).toBeGreaterThan(0);
    expect(status?.metrics.estimatedCost).toBeGreaterThanOrEqual(status?.metrics.actualCost ?? 0);
    expect(status?.createdAt).toBeInstanceOf(Date);
    expect(status?.completedAt?.getTime()).toBe(clock.now());
    expect(status?.history.map((h) => h.status)).toEqual(['queued', 'running', 'completed']);
    await expect(manager.getTaskResult(id)).resolves.toBe('hello');
    await expect(manager.getTaskStatus('nope')).resolves.toBeNull();
    await expect(manager.getTaskResult('nope')).resolves.toBeNull();
  });

  it('refuses bad input with a ValidationError naming the field, and leaves the queue as it was', async () => {
    const { manager } = createTestManager();
    manager.pause();
    await manager.submitTask(echo('kept'));
    const before = await manager.getQueueStatus();
    await expectValidation(
      () => manager.submitTask({ taskType: 42 } as unknown as { taskType: string; data: unknown }),
      'taskType',
      '42',
    );
    await expectValidation(
      () => manager.submitTask({ taskType: 'NOPE', data: {} }),
      'taskType',
      'NOPE',
    );
    await expectValidation(
      () => manager.submitTask({ taskType: 'ECHO', data: { prompt: 7 } }),
      'data.prompt',
      '7',
    );
    await expectValidation(
      () => manager.submitTask({ ...echo(), priority: 'ASAP' as 'HIGH' }),
      'priority',
      '"ASAP"',
    );
    await expectValidation(
      () => manager.submitTask({ ...echo(), config: { maxRetries: -2 } }),
      'config.maxRetries',
      '-2',
    );
    await expectValidation(
      () => manager.submitTask({ ...echo(), config: { timeout: 'long' as unknown as number } }),
      'config.timeout',
      '"long"',
    );
    await expectValidation(
      () =>
        manager.submitTask({ ...echo(), bogus: 1 } as unknown as {
          taskType: string;
          data: unknown;
        }),
      'bogus',
    );
    await expect(manager.getQueueStatus()).resolves.toEqual(before);
    const stats = await manager.getStatistics();
    expect(stats.tasks.total).toBe(1);
  });

  it('submitBatch enqueues all or none, and its priority applies to tasks without their own', async () => {
    const { manager } = createTestManager();
    const ids = await manager.submitBatch([echo('a'), { ...echo('b'), priority: 'URGENT' }], {
      priority: 'LOW',
    });
    expect(ids).toHaveLength(2);
    expect((await manager.getTaskStatus(ids[0] as string))?.priority).toBe('LOW');
    expect((await manager.getTaskStatus(ids[1] as string))?.priority).toBe('URGENT');
    const error = await expectValidation(
      () => manager.submitBatch([echo('c'), { taskType: 'ECHO', data: {} }]),
      'tasks[1].data',
    );
    expect(error.message).toContain('prompt');
    await expectValidation(() => manager.submitBatch([]), 'tasks');
    await expectValidation(
      () => manager.submitBatch([echo()], { priority: 'NOW' as 'LOW' }),
      'priority',
    );
    expect((await manager.getQueueStatus()).totalSize).toBe(2);
  });

  it('a full queue refuses with QueueFullError and enqueues nothing', async () => {
    const { manager } = createTestManager({ maxQueueSize: 2 });
    await manager.submitBatch([echo('a'), echo('b')]);
    await expect(manager.submitTask(echo('c'))).rejects.toBeInstanceOf(QueueFullError);
    await expect(manager.submitBatch([echo('d')])).rejects.toBeInstanceOf(QueueFullError);
    const queue = await manager.getQueueStatus();
    expect(queue).toMatchObject({ totalSize: 2, isFull: true, isEmpty: false, maxSize: 2 });
  });

  it('submitting after stop() rejects with QueueStoppedError', async () => {
    const { manager } = createTestManager();
    await manager.start();
    await manager.stop();
    await expect(manager.submitTask(echo())).rejects.toBeInstanceOf(QueueStoppedError);
  });

  it('a task whose worst case exceeds the remaining budget is refused with BudgetExceededError', async () => {
    const { manager } = createTestManager({ budgetLimit: 0.000001 });
    await expect(manager.submitTask(echo())).rejects.toBeInstanceOf(BudgetExceededError);
    expect((await manager.getQueueStatus()).totalSize).toBe(0);
  });

  it('an aborted signal cancels the task', async () => {
    const { manager, clock } = createTestManager({}, () => ({ kind: 'hang' }));
    await manager.start();
    const controller = new AbortController();
    const id = await manager.submitTask({ ...echo(), signal: controller.signal });
    await advance(clock, 10);
    controller.abort();
    await flush();
    expect((await manager.getTaskStatus(id))?.status).toBe('cancelled');
    const aborted = AbortSignal.abort(new Error('too late'));
    await expect(manager.submitTask({ ...echo(), signal: aborted })).rejects.toThrow('too late');
  });
});

describe('waiting, cancelling, pausing', () => {
  it('waitForTask: timeout → WaitTimeoutError and the task goes on; unknown → TaskNotFoundError', async () => {
    const { manager, clock } = createTestManager({}, () => ({ kind: 'ok', latencyMs: 5_000 }));
    await manager.start();
    const id = await manager.submitTask(echo());
    const short = manager.waitForTask(id, { timeout: 1 });
    const caught = short.catch((e: unknown) => e);
    await advance(clock, 1_000, 100);
    expect(await caught).toBeInstanceOf(WaitTimeoutError);
    expect((await manager.getTaskStatus(id))?.status).toBe('running');
    const long = manager.waitForTask(id, { timeout: 60 });
    await advance(clock, 4_000, 100);
    await expect(long).resolves.toBe('{"ok":true}');
    await expect(manager.waitForTask('missing')).rejects.toBeInstanceOf(TaskNotFoundError);
    await expectValidation(() => manager.waitForTask(id, { timeout: -1 }), 'timeout', '-1');
  });

  it('waitForTask rejects with the task error when it fails, TaskCancelledError when cancelled', async () => {
    const { manager, clock } = createTestManager({}, () => ({ kind: 'error', status: 400 }));
    await manager.start();
    const failed = await manager.submitTask(echo());
    const failing = manager.waitForTask(failed).catch((e: unknown) => e);
    await advance(clock, 10);
    const error = (await failing) as { code: string; retryable: boolean };
    expect(error.code).toBe('PROVIDER_ERROR');
    const status = await manager.getTaskStatus(failed);
    expect(status?.status).toBe('failed');
    expect(status?.error).toMatchObject({ code: 'PROVIDER_ERROR', retryable: false });
    manager.pause();
    const cancelled = await manager.submitTask(echo());
    const waiting = manager.waitForTask(cancelled).catch((e: unknown) => e);
    await expect(manager.cancelTask(cancelled)).resolves.toBe(true);
    expect(await waiting).toBeInstanceOf(TaskCancelledError);
  });

  it('cancelTask and cancelBatch: true for waiting and running tasks, false for finished or unknown', async () => {
    const { manager, clock, client } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'hang',
    }));
    await manager.start();
    const [running, waiting, other] = await manager.submitBatch([echo('a'), echo('b'), echo('c')]);
    await advance(clock, 1);
    expect(client.inFlight).toBe(1);
    await expect(manager.cancelTask(running as string)).resolves.toBe(true);
    await flush();
    expect(client.log[0]?.outcome).toBe('aborted');
    // The freed slot went to the next task.
    expect(client.log[1]?.request).toMatchObject({ messages: [{ content: 'b' }] });
    await expect(manager.cancelTask(running as string)).resolves.toBe(false);
    const results = await manager.cancelBatch([waiting as string, 'unknown', other as string]);
    expect(results).toEqual({ [waiting as string]: true, unknown: false, [other as string]: true });
    await flush();
    expect(client.inFlight).toBe(0);
    expect(client.log.map((c) => c.outcome)).toEqual(['aborted', 'aborted']);
    await expectValidation(() => manager.cancelBatch('x' as unknown as string[]), 'taskIds');
  });

  it('pause(), resume(), isPaused(); pauseTask and resumeTask hold one task', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    manager.pause();
    expect(manager.isPaused()).toBe(true);
    const [a, b] = await manager.submitBatch([echo('a'), echo('b')]);
    expect(manager.pauseTask(a as string)).toBe(true);
    expect((await manager.getTaskStatus(a as string))?.status).toBe('paused');
    expect((await manager.getQueueStatus()).totalSize).toBe(2);
    const bStatus = await manager.getTaskStatus(b as string);
    expect(bStatus?.waitingFor).toBe('paused');
    manager.resume();
    expect(manager.isPaused()).toBe(false);
    await advance(clock, 100);
    expect((await manager.getTaskStatus(b as string))?.status).toBe('completed');
    expect((await manager.getTaskStatus(a as string))?.status).toBe('paused');
    expect(manager.resumeTask(a as string)).toBe(true);
    expect(manager.resumeTask(a as string)).toBe(false);
    await advance(clock, 100);
    expect((await manager.getTaskStatus(a as string))?.status).toBe('completed');
    expect(manager.pauseTask(a as string)).toBe(false);
  });

  it('a waiting task reports its position and why it waits', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 1_000,
    }));
    await manager.start();
    const [first, second, third] = await manager.submitBatch([echo('a'), echo('b'), echo('c')]);
    await advance(clock, 1);
    expect((await manager.getTaskStatus(first as string))?.waitingFor).toBeNull();
    expect(await manager.getTaskStatus(second as string)).toMatchObject({
      position: 1,
      waitingFor: 'concurrency',
    });
    expect(await manager.getTaskStatus(third as string)).toMatchObject({
      position: 2,
      waitingFor: 'turn',
    });
  });

  it('stop() lets running calls finish; stop({ force: true }) aborts them', async () => {
    const graceful = createTestManager({}, () => ({ kind: 'ok', latencyMs: 1_000 }));
    await graceful.manager.start();
    const id = await graceful.manager.submitTask(echo());
    await advance(graceful.clock, 1);
    const stopped = graceful.manager.stop();
    await advance(graceful.clock, 1_000, 100);
    await stopped;
    expect((await graceful.manager.getTaskStatus(id))?.status).toBe('completed');

    const forced = createTestManager({}, () => ({ kind: 'hang' }));
    await forced.manager.start();
    const hung = await forced.manager.submitTask(echo());
    await advance(forced.clock, 1);
    await forced.manager.stop({ force: true });
    expect((await forced.manager.getTaskStatus(hung))?.status).toBe('cancelled');
    await expectValidation(() => forced.manager.stop({ force: 'yes' } as never), 'force');
  });

  it('onIdle and onSizeLessThan resolve as work drains', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await manager.start();
    await manager.submitBatch([echo('a'), echo('b'), echo('c'), echo('d')]);
    let below = false;
    let idle = false;
    void manager.onSizeLessThan(2).then(() => {
      below = true;
    });
    void manager.onIdle().then(() => {
      idle = true;
    });
    await advance(clock, 100);
    expect((await manager.getQueueStatus()).totalSize).toBe(2);
    expect(below).toBe(false);
    await advance(clock, 100);
    expect(below).toBe(true);
    expect(idle).toBe(false);
    await advance(clock, 300, 10);
    expect(idle).toBe(true);
    await expect(manager.onSizeLessThan(1)).resolves.toBeUndefined();
    await expectValidation(() => manager.onSizeLessThan(0), 'size', '0');
  });
});

describe('callbacks and events', () => {
  it('onComplete and onError get the task; onProgress gets (progress, current, total)', async () => {
    const { manager, clock } = createTestManager({}, (request) =>
      JSON.stringify(request).includes('bad')
        ? { kind: 'error', status: 400 }
        : { kind: 'ok', content: 'fine', latencyMs: 10 },
    );
    await manager.start();
    const completed: string[] = [];
    const errors: string[] = [];
    const progress: Array<[number, number, number]> = [];
    const okId = await manager.submitTask({
      ...echo('good'),
      config: { onComplete: (task) => void completed.push(`${task.taskId}:${task.result}`) },
    });
    const badId = await manager.submitTask({
      ...echo('bad'),
      config: { onError: (task) => void errors.push(`${task.taskId}:${task.error?.code}`) },
    });
    await manager.submitTask({
      taskType: 'FAN_OUT',
      data: { prompts: ['x', 'y'] },
      config: { onProgress: (p, c, t) => void progress.push([p, c, t]) },
    });
    await advance(clock, 50);
    expect(completed).toEqual([`${okId}:fine`]);
    expect(errors).toEqual([`${badId}:PROVIDER_ERROR`]);
    expect(progress).toEqual([
      [0.5, 1, 2],
      [1, 2, 2],
    ]);
  });

  it('a callback that throws is logged, and the queue goes on', async () => {
    const logged: string[] = [];
    const { manager, clock } = createTestManager({
      logger: { error: (message) => void logged.push(message) },
    });
    await manager.start();
    const id = await manager.submitTask({
      ...echo(),
      config: {
        onComplete: () => {
          throw new Error('boom');
        },
      },
    });
    const second = await manager.submitTask({
      ...echo(),
      config: { onComplete: async () => Promise.reject(new Error('async boom')) },
    });
    await advance(clock, 5);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
    expect((await manager.getTaskStatus(second))?.status).toBe('completed');
    expect(logged).toHaveLength(2);
    expect(logged[0]).toContain(id);
  });

  it('on(type, fn) delivers only that type and returns an unsubscribe', async () => {
    const { manager, clock } = createTestManager();
    await manager.start();
    const seen: string[] = [];
    const off = manager.on('task.completed', (event) => void seen.push(event.taskId));
    const first = await manager.submitTask(echo());
    await advance(clock, 5);
    off();
    await manager.submitTask(echo());
    await advance(clock, 5);
    expect(seen).toEqual([first]);
  });

  it('events$ reports the lifecycle in order, admission included', async () => {
    const { manager, clock, events } = createTestManager();
    await manager.start();
    const id = await manager.submitTask(echo());
    await advance(clock, 5);
    expect(events.filter((e) => 'taskId' in e && e.taskId === id).map((e) => e.type)).toEqual([
      'task.submitted',
      'task.admitted',
      'task.started',
      'task.usage',
      'task.completed',
    ]);
    manager.adjustSettings({ maxConcurrent: 3 });
    expect(events.at(-1)).toMatchObject({ type: 'settings.changed', changed: ['maxConcurrent'] });
  });

  /** A manager whose calls answer after 100 ms, and every figure its `stats$` gave. */
  function managerWithStats() {
    const made = createTestManager({ statsIntervalMs: 1_000 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    const emitted: Statistics[] = [];
    made.manager.stats$.subscribe((s) => emitted.push(s));
    return { ...made, emitted };
  }

  it('stats$ emits at most once per statsIntervalMs on the injected clock', async () => {
    const { manager, clock, emitted } = managerWithStats();
    await manager.start();
    await flush();
    expect(emitted).toHaveLength(1);
    for (let i = 0; i < 20; i++) await manager.submitTask(echo(`t${i}`));
    await advance(clock, 999, 10);
    expect(emitted).toHaveLength(1);
    await advance(clock, 1, 1);
    expect(emitted).toHaveLength(2);
    await advance(clock, 5_000, 100);
    const times = emitted.map((s) => s.at.getTime());
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(1_000);
    }
    expect(emitted.at(-1)?.performance.totalSucceeded).toBe(20);
  });

  it('stats$ gives the figures of the stop once, at once, even right after other events', async () => {
    const { manager, clock, emitted } = managerWithStats();
    await manager.start();
    await manager.submitTask(echo('a'));
    await advance(clock, 150, 10);
    const before = emitted.length;
    // The task ended 50 ms ago: a throttled emission is pending. The stop's figures do not wait.
    await manager.stop();
    await manager.stop();
    await flush();
    expect(emitted).toHaveLength(before + 1);
    expect(emitted.at(-1)?.status.running).toBe(false);
    expect(emitted.at(-1)?.performance.totalSucceeded).toBe(1);
    // Nothing throttled comes after it.
    await advance(clock, 3_000, 100);
    expect(emitted).toHaveLength(before + 1);
  });

  it('supervisor is the root actor with the limiter actors under their systemIds', () => {
    const { manager } = createTestManager();
    const system = manager.supervisor.system;
    expect(system.get('concurrency')).toBeDefined();
    expect(system.get('rateLimit')).toBeDefined();
    expect(system.get('budget')).toBeDefined();
  });
});

describe('statistics, settings and maintenance', () => {
  it("getStatistics has the seed's sections with current/limit and cost/limit/remaining/percentage", async () => {
    const { manager, clock } = createTestManager(
      {
        maxConcurrent: 2,
        requestsPerMinute: 60,
        tokensPerMinute: 100_000,
        budgetLimit: 10,
        dailyLimit: 2,
        hourlyLimit: 0.5,
      },
      () => ({ kind: 'ok', latencyMs: 1_000, promptTokens: 1_000, completionTokens: 500 }),
    );
    await manager.start();
    // Each task reserves the 1,000 prompt tokens the script reports, so the report is believed.
    const big = (prompt: string) => ({ taskType: 'ECHO', data: { prompt, tokens: 1_000 } });
    await manager.submitBatch([big('a'), big('b'), { ...big('c'), priority: 'HIGH' }]);
    await advance(clock, 1);
    const mid = await manager.getStatistics();
    expect(mid.status).toMatchObject({ running: true, paused: false, stopping: false });
    expect(mid.queue).toMatchObject({
      size: 1,
      byPriority: { URGENT: 0, HIGH: 0, MEDIUM: 1, LOW: 0 },
      waitingFor: 'concurrency',
    });
    expect(mid.concurrency).toEqual({ runningTasks: 2, maxConcurrent: 2, available: 0 });
    // Lowered under what runs: none free, not a negative count.
    manager.adjustSettings({ maxConcurrent: 1 });
    expect((await manager.getStatistics()).concurrency).toEqual({
      runningTasks: 2,
      maxConcurrent: 1,
      available: 0,
    });
    manager.adjustSettings({ maxConcurrent: 2 });
    expect(mid.rateLimit.requestsPerMinute).toEqual({ current: 2, limit: 60 });
    expect(mid.rateLimit.tokensPerMinute.limit).toBe(100_000);
    expect(mid.rateLimit.requestsPerHour.limit).toBeNull();
    expect(mid.cost.held).toBeGreaterThan(0);
    await advance(clock, 2_000, 100);
    const end = await manager.getStatistics();
    expect(end.tasks).toMatchObject({ total: 3, byType: { ECHO: 3 } });
    expect(end.tasks.byStatus.completed).toBe(3);
    expect(end.performance).toMatchObject({
      totalProcessed: 3,
      totalSucceeded: 3,
      totalFailed: 0,
      successRate: 100,
    });
    expect(end.performance.averageExecutionTime).toBeCloseTo(1, 2);
    expect(end.performance.p95ExecutionTime).toBeCloseTo(1, 2);
    expect(end.performance.p95QueueTime).toBeCloseTo(1, 2);
    expect(end.tokens).toMatchObject({ prompt: 3_000, completion: 1_500, total: 4_500 });
    const perTask = 1_000 * 0.15e-6 + 500 * 0.6e-6; // gpt-4o-mini
    expect(end.cost.total.cost).toBeCloseTo(3 * perTask, 9);
    expect(end.cost.total.limit).toBe(10);
    expect(end.cost.total.remaining).toBeCloseTo(10 - 3 * perTask, 9);
    expect(end.cost.total.percentage).toBeCloseTo((3 * perTask * 100) / 10, 9);
    expect(end.cost.daily.limit).toBe(2);
    expect(end.cost.hourly.limit).toBe(0.5);
    expect(end.cost.held).toBe(0);
  });

  it('getQueueStatus: totalSize counts queued, paused and retrying tasks', async () => {
    const { manager, clock } = createTestManager({ maxConcurrent: 1 }, (_r, index) =>
      index === 0 ? { kind: 'error', status: 500 } : { kind: 'ok', latencyMs: 10_000 },
    );
    await manager.start();
    const [retrying, running, paused] = await manager.submitBatch([
      { ...echo('r'), config: { retryDelay: 30 } },
      echo('run'),
      echo('p'),
    ]);
    await advance(clock, 1);
    manager.pauseTask(paused as string);
    expect((await manager.getTaskStatus(retrying as string))?.status).toBe('retrying');
    expect((await manager.getTaskStatus(running as string))?.status).toBe('running');
    const queue = await manager.getQueueStatus();
    expect(queue).toMatchObject({ totalSize: 2, running: 1, isEmpty: false });
    const retry = await manager.getTaskStatus(retrying as string);
    expect(retry?.waitingFor).toBe('retryDelay');
    expect(retry?.waitingUntil).toBeInstanceOf(Date);
  });

  it('adjustSettings changes limits live and refuses bad values without changing anything', async () => {
    const { manager, clock, client } = createTestManager(
      { maxConcurrent: 1, maxQueueSize: 10 },
      () => ({ kind: 'ok', latencyMs: 100 }),
    );
    await manager.start();
    await manager.submitBatch(Array.from({ length: 6 }, (_, i) => echo(`t${i}`)));
    await advance(clock, 1);
    expect(client.inFlight).toBe(1);
    manager.adjustSettings({ maxConcurrent: 3, budgetLimit: 50, dailyLimit: 5 });
    await advance(clock, 1);
    expect(client.inFlight).toBe(3);
    await expectValidation(
      () => manager.adjustSettings({ maxConcurrent: 0 }),
      'maxConcurrent',
      '0',
    );
    await expectValidation(
      () => manager.adjustSettings({ requestsPerMinute: -5 }),
      'requestsPerMinute',
      '-5',
    );
    await expectValidation(
      () => manager.adjustSettings({ model: 'x' } as unknown as Record<string, never>),
      'model',
    );
    const stats = await manager.getStatistics();
    expect(stats.concurrency.maxConcurrent).toBe(3);
    // A setting not named keeps its value (the schema's defaults never leak in).
    expect(stats.queue.maxSize).toBe(10);
    expect(stats.cost.total.limit).toBe(50);
    expect(stats.cost.daily.limit).toBe(5);
  });

  it('cleanupOldTasks removes finished tasks older than the cutoff and returns how many', async () => {
    const { manager, clock } = createTestManager();
    await manager.start();
    const old = await manager.submitBatch([echo('a'), echo('b')]);
    await advance(clock, 5);
    await advance(clock, 2 * 3_600_000, 3_600_000);
    const recent = await manager.submitTask(echo('c'));
    await advance(clock, 5);
    manager.pause();
    const waiting = await manager.submitTask(echo('w'));
    await expect(manager.cleanupOldTasks({ olderThanHours: 1 })).resolves.toBe(2);
    for (const id of old) await expect(manager.getTaskStatus(id)).resolves.toBeNull();
    expect((await manager.getTaskStatus(recent))?.status).toBe('completed');
    expect((await manager.getTaskStatus(waiting))?.status).toBe('queued');
    const stats = await manager.getStatistics();
    expect(stats.tasks.total).toBe(2);
    expect(stats.tasks.byType).toEqual({ ECHO: 2 });
    await expect(manager.cleanupOldTasks({ olderThanHours: 0 })).resolves.toBe(1);
    await expectValidation(
      () => manager.cleanupOldTasks({ olderThanHours: -1 }),
      'olderThanHours',
      '-1',
    );
  });

  it('costController.resetTotalCost sets the total back to zero', async () => {
    const { manager, clock } = createTestManager({ budgetLimit: 1 }, () => ({
      kind: 'ok',
      promptTokens: 10_000,
      completionTokens: 1_000,
    }));
    await manager.start();
    await manager.submitTask(echo());
    await advance(clock, 5);
    expect(manager.costController.getCosts().total.cost).toBeGreaterThan(0);
    manager.costController.resetTotalCost();
    await flush();
    expect(manager.costController.getCosts().total.cost).toBe(0);
    expect(manager.costController.getCosts().daily.cost).toBeGreaterThan(0);
    const estimate = manager.costController.estimateCost(echo());
    expect(estimate.worstCaseCost).toBeGreaterThan(0);
  });

  it('getTasks filters and pages', async () => {
    const { manager, clock } = createTestManager({}, (request) =>
      JSON.stringify(request).includes('bad') ? { kind: 'error', status: 400 } : { kind: 'ok' },
    );
    await manager.start();
    await manager.submitBatch([
      echo('a'),
      echo('bad'),
      { ...echo('c'), priority: 'HIGH' },
      echo('d'),
    ]);
    await advance(clock, 5);
    const failed = await manager.getTasks({ status: 'failed' });
    expect(failed.items.map((t) => t.status)).toEqual(['failed']);
    const high = await manager.getTasks({ priority: 'HIGH' });
    expect(high.items).toHaveLength(1);
    const first = await manager.getTasks({ limit: 3 });
    expect(first.items).toHaveLength(3);
    expect(first.nextCursor).not.toBeNull();
    const rest = await manager.getTasks({ limit: 3, cursor: first.nextCursor as string });
    expect(rest.items).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();
    await expectValidation(() => manager.getTasks({ status: 'done' as 'failed' }), 'status');
  });

  it('retention keeps at most keepCompleted.count finished tasks', async () => {
    const { manager, clock } = createTestManager({ keepCompleted: { count: 10 } });
    await manager.start();
    for (let i = 0; i < 5; i++) {
      await manager.submitBatch(Array.from({ length: 20 }, (_, j) => echo(`t${i}-${j}`)));
      await advance(clock, 5);
    }
    const stats = await manager.getStatistics();
    expect(stats.tasks.total).toBe(10);
    expect(stats.tasks.byType).toEqual({ ECHO: 10 });
    expect(stats.performance.totalSucceeded).toBe(100);
  });

  it('registerTaskType adds a type the queue can run', async () => {
    const { manager, clock } = createTestManager();
    const { z } = await import('zod');
    manager.registerTaskType({
      name: 'UPPER',
      input: z.object({ text: z.string() }),
      output: z.string(),
      estimate: (_data, env) => ({ model: env.model, promptTokens: 5, maxTokens: 10 }),
      run: async (ctx) => (ctx.data as { text: string }).text.toUpperCase(),
    });
    await manager.start();
    const id = await manager.submitTask({ taskType: 'UPPER', data: { text: 'abc' } });
    await advance(clock, 1);
    await expect(manager.waitForTask(id)).resolves.toBe('ABC');
    await expectValidation(
      () => manager.submitTask({ taskType: 'UPPER', data: { text: 1 } }),
      'data.text',
    );
  });

  it('holds the process open only on the system clock, and only while work is pending', () => {
    const held = new KeepAlive(true);
    held.hold();
    expect(held.holding).toBe(true);
    held.release();
    expect(held.holding).toBe(false);
    const simulated = new KeepAlive(false);
    simulated.hold();
    expect(simulated.holding).toBe(false);
  });
});
