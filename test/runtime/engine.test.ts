import { describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  QueueFullError,
  QueueStoppedError,
  TaskCancelledError,
  TaskNotFoundError,
  ValidationError,
} from '../../src/errors.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { MemoryTaskStore } from '../../src/stores/memory.js';
import type { TaskRecord } from '../../src/stores/types.js';
import { createTestEngine, startedOrder } from '../helpers/engine.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, advanceUntil, createClock, flush } from '../helpers/virtual-time.js';

describe('engine', () => {
  it('runs a task to completion and records usage, cost and history', async () => {
    const { engine, clock } = createTestEngine({}, () => ({
      kind: 'ok',
      content: 'hi',
      latencyMs: 200,
      promptTokens: 1000,
      completionTokens: 500,
    }));
    // It reserves the 1,000 prompt tokens the script reports, so the report is believed.
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'hello', tokens: 1000 } });
    const result = engine.waitFor(id);
    await advance(clock, 250);
    await expect(result).resolves.toBe('hi');
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.attempts).toBe(1);
    expect(record?.usage).toMatchObject({ promptTokens: 1000, completionTokens: 500, calls: 1 });
    // gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output → 150 + 300 micro-dollars
    expect(record?.costMicros).toBe(450);
    expect(record?.history?.map((h) => h.status)).toEqual(['queued', 'running', 'completed']);
    expect((record?.completedAt ?? 0) - (record?.startedAt ?? 0)).toBe(200);
  });

  it('reads a live history while running; a waiter can stop waiting', async () => {
    const { engine, clock } = createTestEngine({}, () => ({ kind: 'ok', latencyMs: 100 }));
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' } });
    await advance(clock, 10);
    const record = await engine.getTask(id);
    expect(record && engine.historyOf(record).map((h) => h.status)).toEqual(['queued', 'running']);
    const stopWaiting = new AbortController();
    const wait = engine.waitFor(id, { signal: stopWaiting.signal });
    const kept = engine.waitFor(id);
    await flush();
    stopWaiting.abort(new Error('waited long enough'));
    await expect(wait).rejects.toThrow('waited long enough');
    await advance(clock, 100);
    // the task went on, and the other waiter still got its result
    await expect(kept).resolves.toBe('{"ok":true}');
    expect(engine.uptimeMs).toBe(110);
  });

  it('reports a failed store write as an event, and carries on', async () => {
    /** A store that serialises records (as SQLite and Redis do), whose writes now fail. */
    class FailingStore extends MemoryTaskStore {
      override readonly holdsRecordsByReference = false;
      override async commit(): Promise<void> {
        throw new Error('disk full');
      }
    }
    const clock = createClock();
    const engine = new Engine(
      { model: 'gpt-4o-mini' },
      {
        client: new ScriptedClient(clock, () => ({ kind: 'ok', latencyMs: 5 })),
        clock,
        store: new FailingStore(),
        taskTypes: [echoTaskType],
      },
    );
    const events: EngineEvent[] = [];
    engine.events$.subscribe((e) => events.push(e));
    engine.start();
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' } });
    await advance(clock, 10);
    const failures = events.filter((e) => e.type === 'store.error');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ taskId: id, error: { message: 'disk full' } });
    expect(events.some((e) => e.type === 'task.completed')).toBe(true);
    await engine.stop();
  });

  it('admits in priority order, FIFO within a level', async () => {
    const { engine, clock, events } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 10,
    }));
    engine.pause();
    const order = ['LOW', 'MEDIUM', 'HIGH', 'URGENT', 'LOW', 'URGENT'] as const;
    const ids: string[] = [];
    for (const [i, priority] of order.entries()) {
      ids.push(
        await engine.submit({ taskType: 'ECHO', data: { prompt: `p${i}` }, priority, id: `t${i}` }),
      );
    }
    engine.resume();
    await advanceUntil(clock, () => events.filter((e) => e.type === 'task.completed').length === 6);
    expect(startedOrder(events)).toEqual(['t3', 't5', 't2', 't1', 't0', 't4']);
  });

  it('never runs more calls at once than maxConcurrent, and resizes at run time', async () => {
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 3 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    for (let i = 0; i < 20; i++)
      await engine.submit({ taskType: 'ECHO', data: { prompt: `${i}` } });
    await advance(clock, 50);
    expect(client.inFlight).toBe(3);
    engine.adjustSettings({ maxConcurrent: 5 });
    await flush();
    expect(client.inFlight).toBe(5);
    engine.adjustSettings({ maxConcurrent: 1 });
    // lowering never interrupts a running call
    expect(client.inFlight).toBe(5);
    await advance(clock, 100);
    expect(client.inFlight).toBe(1);
    await advanceUntil(clock, () => engine.waitingCount === 0 && engine.runningCount === 0);
    expect(client.maxInFlight).toBe(5);
  });

  it('retries a 5xx with backoff and fails after maxRetries + 1 attempts', async () => {
    const { engine, clock, client } = createTestEngine({}, () => ({ kind: 'error', status: 503 }));
    const id = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'x' },
      config: { maxRetries: 3, retryDelay: 1, maxRetryDelay: 4 },
    });
    const result = engine.waitFor(id);
    result.catch(() => undefined);
    await advance(clock, 20_000, 50);
    await expect(result).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(client.log.length).toBe(4);
    const gaps = client.log.slice(1).map((c, i) => c.at - (client.log[i]?.at ?? 0));
    // full jitter: attempt n waits at most min(4, 1 × 2^(n−1)) s
    expect(gaps[0]).toBeLessThanOrEqual(1000 + 50);
    expect(gaps[1]).toBeLessThanOrEqual(2000 + 50);
    expect(gaps[2]).toBeLessThanOrEqual(4000 + 50);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('failed');
    expect(record?.attempts).toBe(4);
  });

  it('a 429 with retry-after holds back dispatch for every task, and uses no retry', async () => {
    let calls = 0;
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 5 }, () =>
      calls++ === 0
        ? { kind: 'error', status: 429, retryAfterMs: 5000 }
        : { kind: 'ok', latencyMs: 10 },
    );
    const first = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'a' },
      config: { maxRetries: 0 },
    });
    await flush();
    for (let i = 0; i < 3; i++) await engine.submit({ taskType: 'ECHO', data: { prompt: `${i}` } });
    await advance(clock, 4900, 100);
    expect(client.log.length).toBe(1);
    expect(engine.headWait()?.waitingFor).toBe('server');
    await advanceUntil(clock, () => engine.waitingCount === 0 && engine.runningCount === 0);
    expect(client.log.length).toBe(5);
    expect(client.log[1]?.at).toBeGreaterThanOrEqual((client.log[0]?.at ?? 0) + 5000);
    const record = await engine.getTask(first);
    expect(record?.status).toBe('completed');
    expect(record?.attempts).toBe(2);
  });

  it('times out an attempt on the injected clock and retries it', async () => {
    let calls = 0;
    const { engine, clock } = createTestEngine({}, () =>
      calls++ === 0 ? { kind: 'hang' } : { kind: 'ok' },
    );
    const id = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'x', tokens: 100 },
      config: { timeout: 2, retryDelay: 0 },
    });
    await advance(clock, 2100, 50);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('completed');
    expect(record?.attempts).toBe(2);
    expect(record?.history?.find((h) => h.status === 'retrying')?.reason).toBe('TASK_TIMEOUT');
    // the timed-out call is charged its prompt tokens (counted with the tokenizer)
    expect(record?.usage.estimated).toBe(true);
  });

  it('cancels a waiting task and a running one (its signal fires)', async () => {
    const { engine, clock, client } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'hang',
    }));
    const running = await engine.submit({ taskType: 'ECHO', data: { prompt: 'r' } });
    const waiting = await engine.submit({ taskType: 'ECHO', data: { prompt: 'w' } });
    await flush();
    const wait = engine.waitFor(running);
    expect(await engine.cancel(waiting)).toBe(true);
    expect((await engine.getTask(waiting))?.status).toBe('cancelled');
    expect(await engine.cancel(running)).toBe(true);
    await expect(wait).rejects.toBeInstanceOf(TaskCancelledError);
    await flush();
    expect(client.log[0]?.outcome).toBe('aborted');
    expect(await engine.cancel(running)).toBe(false);
    expect(await engine.cancel('nope')).toBe(false);
    await advance(clock, 10);
    expect(engine.runningCount).toBe(0);
  });

  it('pause holds admission; pauseTask and resumeTask hold one task', async () => {
    const { engine, clock, events } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 10,
    }));
    engine.pause();
    expect(engine.isPaused).toBe(true);
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, id: 'a' });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' }, id: 'b' });
    expect(engine.headWait()?.waitingFor).toBe('paused');
    expect(engine.pauseTask('a')).toBe(true);
    expect((await engine.getTask('a'))?.status).toBe('paused');
    engine.resume();
    await advance(clock, 50);
    expect(startedOrder(events)).toEqual(['b']);
    expect(engine.resumeTask('a')).toBe(true);
    await advance(clock, 50);
    expect(startedOrder(events)).toEqual(['b', 'a']);
    const a = await engine.getTask('a');
    expect(a?.history?.map((h) => h.status)).toEqual([
      'queued',
      'paused',
      'queued',
      'running',
      'completed',
    ]);
  });

  it('paces requests per minute: a burst of 5 % (at least 1), then one per 60 s / limit', async () => {
    const { engine, clock, client } = createTestEngine(
      { maxConcurrent: 10, requestsPerMinute: 40 },
      () => ({
        kind: 'ok',
        latencyMs: 10,
      }),
    );
    for (let i = 0; i < 6; i++) await engine.submit({ taskType: 'ECHO', data: { prompt: `${i}` } });
    await advanceUntil(clock, () => client.log.length === 6, 60_000, 100);
    const starts = client.log.map((c) => c.at - (client.log[0]?.at ?? 0));
    // Burst floor(0.05 × 40) = 2, then every 1.5 s.
    expect(starts).toEqual([0, 0, 1_500, 3_000, 4_500, 6_000]);
    expect(engine.headWait()).toBeUndefined();
  });

  it('keeps requests per minute, and says the head waits for the rate limit', async () => {
    const { engine, clock, client } = createTestEngine(
      { maxConcurrent: 10, requestsPerMinute: 2, pacing: false },
      () => ({
        kind: 'ok',
        latencyMs: 10,
      }),
    );
    for (let i = 0; i < 5; i++) await engine.submit({ taskType: 'ECHO', data: { prompt: `${i}` } });
    await advance(clock, 1000, 100);
    expect(client.log.length).toBe(2);
    expect(engine.headWait()).toMatchObject({ waitingFor: 'rateLimit' });
    await advanceUntil(clock, () => client.log.length === 5, 300_000, 500);
    const starts = client.log.map((c) => c.at - (client.log[0]?.at ?? 0));
    expect(starts[2]).toBeGreaterThanOrEqual(60_000);
    expect(starts[4]).toBeGreaterThanOrEqual(120_000);
  });

  it('refuses at submit what the budget can never pay, and fails none it accepted', async () => {
    const { engine } = createTestEngine({ budgetLimit: 0.001, maxTokens: 1000 });
    // worst case for gpt-4o-mini: 10 × 0.15 + 1000 × 0.60 = 601.5 → 602 micro-dollars
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await expect(
      engine.submit({ taskType: 'ECHO', data: { prompt: 'b' }, config: { maxTokens: 2000 } }),
    ).rejects.toBeInstanceOf(BudgetExceededError);
  });

  it('refuses a task whose worst case exceeds what remains of the total budget, until it is reset', async () => {
    const { engine, clock } = createTestEngine({ budgetLimit: 0.001, maxTokens: 1000 }, () => ({
      kind: 'ok',
      promptTokens: 10,
      completionTokens: 1000,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 10);
    // 601.5 → 602 spent; 398 remain, the next worst case is 602
    await expect(engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } })).rejects.toThrow(
      /exceeds the remaining total budget \$0\.000398/,
    );
    expect(engine.waitingCount).toBe(0);
    // resetTotalCost (the seed's cost_controller.reset_total_cost()) lets the budget pay again
    engine.resetTotalCost();
    await expect(engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } })).resolves.toBeTypeOf(
      'string',
    );
  });

  it('estimates cost without submitting, and refuses a budget for a model with no price', async () => {
    const { engine } = createTestEngine({ budgetLimit: 1, maxTokens: 1000 });
    const estimate = engine.estimateCost({ taskType: 'ECHO', data: { prompt: 'a', tokens: 2000 } });
    // gpt-4o-mini: 2000 × $0.15/1M = $0.0003; + 1000 × $0.60/1M = $0.0009
    expect(estimate).toEqual({
      model: 'gpt-4o-mini',
      promptTokens: 2000,
      maxTokens: 1000,
      promptCost: 0.0003,
      worstCaseCost: 0.0009,
    });
    expect(engine.waitingCount).toBe(0);
    await expect(
      engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, config: { model: 'llama-3-70b' } }),
    ).rejects.toThrow(/config\.model.*llama-3-70b.*has no price/);
    // The queue's own default model is named as the `model` setting.
    const local = createTestEngine({ model: 'llama-3-70b', budgetLimit: 10 });
    await expect(local.engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } })).rejects.toThrow(
      /^invalid model: model "llama-3-70b" has no price/,
    );
    // An estimate is refused alike: the budget could not be kept whatever the moment.
    expect(() => local.engine.estimateCost({ taskType: 'ECHO', data: { prompt: 'a' } })).toThrow(
      /^invalid model: model "llama-3-70b" has no price/,
    );
    // A composite task makes no call of its own: it needs no price.
    expect(
      local.engine.estimateCost({ taskType: 'FAN_OUT', data: { prompts: ['a'] } }).worstCaseCost,
    ).toBeUndefined();
    const unbudgeted = createTestEngine({});
    await expect(
      unbudgeted.engine.submit({
        taskType: 'ECHO',
        data: { prompt: 'a' },
        config: { model: 'llama-3-70b' },
      }),
    ).resolves.toBeTypeOf('string');
  });

  it('an hourly budget makes the head wait for the next hour', async () => {
    const { engine, clock, client } = createTestEngine(
      { hourlyLimit: 0.001, maxTokens: 1000, maxConcurrent: 5 },
      () => ({ kind: 'ok', latencyMs: 10, promptTokens: 10, completionTokens: 1000 }),
    );
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 100, 10);
    expect(client.log.length).toBe(1);
    expect(engine.headWait()).toMatchObject({ waitingFor: 'budget' });
    await advanceUntil(clock, () => client.log.length === 2, 3_700_000, 60_000);
    expect(client.log.length).toBe(2);
  });

  it('validates input: unknown type, bad data, bad priority, bad config', async () => {
    const { engine } = createTestEngine();
    await expect(engine.submit({ taskType: 'NOPE', data: {} })).rejects.toThrow(/taskType.*NOPE/);
    await expect(engine.submit({ taskType: 'ECHO', data: { prompt: 5 } })).rejects.toThrow(
      /data\.prompt.*received 5/,
    );
    await expect(
      engine.submit({ taskType: 'ECHO', data: { prompt: 'x' }, priority: 'HUGE' as never }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      engine.submit({ taskType: 'ECHO', data: { prompt: 'x' }, config: { maxRetries: -1 } }),
    ).rejects.toThrow(/config\.maxRetries/);
    expect(engine.waitingCount).toBe(0);
  });

  it('refuses a task above maxQueueSize, and a batch all or nothing', async () => {
    const { engine } = createTestEngine({ maxQueueSize: 3 });
    engine.pause();
    await engine.submitMany([
      { taskType: 'ECHO', data: { prompt: 'a' } },
      { taskType: 'ECHO', data: { prompt: 'b' } },
    ]);
    await expect(
      engine.submitMany([
        { taskType: 'ECHO', data: { prompt: 'c' } },
        { taskType: 'ECHO', data: { prompt: 'd' } },
      ]),
    ).rejects.toBeInstanceOf(QueueFullError);
    await expect(
      engine.submitMany([
        { taskType: 'ECHO', data: { prompt: 'c' } },
        { taskType: 'ECHO', data: { prompt: 5 } },
      ]),
    ).rejects.toThrow(/tasks\[1\]\.data\.prompt/);
    expect(engine.waitingCount).toBe(2);
  });

  it('a composite task fans out children that inherit its priority; it holds no slot', async () => {
    const { engine, clock, events } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 10,
      promptTokens: 100,
      completionTokens: 10,
    }));
    const parent = await engine.submit({
      taskType: 'FAN_OUT',
      data: { prompts: ['a', 'b', 'c'] },
      priority: 'HIGH',
    });
    const result = engine.waitFor(parent);
    await advance(clock, 100, 5);
    const outcomes = (await result) as { ok: boolean }[];
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    const children = events.filter((e) => e.type === 'task.submitted' && e.parentId === parent);
    expect(children.length).toBe(3);
    expect(children.every((e) => (e as { priority: string }).priority === 'HIGH')).toBe(true);
    const progress = events.filter((e) => e.type === 'task.progress' && e.taskId === parent);
    expect(progress.length).toBe(3);
    const record = await engine.getTask(parent);
    // the parent's cost is the sum of its children's: 3 × (100 × 0.15 + 10 × 0.60) = 3 × 21
    expect(record?.costMicros).toBe(63);
  });

  it('cancelling a composite task cancels its children', async () => {
    const { engine, events } = createTestEngine({ maxConcurrent: 1 }, () => ({ kind: 'hang' }));
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    await flush();
    expect(await engine.cancel(parent)).toBe(true);
    await flush();
    const cancelled = events
      .filter((e) => e.type === 'task.cancelled')
      .map((e) => (e as { taskId: string }).taskId);
    expect(cancelled.length).toBe(3);
  });

  it('fails a waiting task whose deadline passes', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 10_000,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, config: { timeout: 30 } });
    const id = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'b' },
      config: { deadline: 5 },
    });
    await advance(clock, 6000, 100);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('failed');
    expect(record?.error?.code).toBe('TASK_TIMEOUT');
    expect(record?.attempts).toBe(0);
  });

  it('stop drains running calls; stop({ force }) aborts them; submit after stop is refused', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    const a = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await flush();
    const stopped = engine.stop();
    await advance(clock, 150, 10);
    await stopped;
    expect((await engine.getTask(a))?.status).toBe('completed');
    expect(engine.waitingCount).toBe(1);
    await expect(engine.submit({ taskType: 'ECHO', data: { prompt: 'c' } })).rejects.toBeInstanceOf(
      QueueStoppedError,
    );

    const second = createTestEngine({}, () => ({ kind: 'hang' }));
    const h = await second.engine.submit({ taskType: 'ECHO', data: { prompt: 'h' } });
    await flush();
    await second.engine.stop({ force: true });
    expect((await second.engine.getTask(h))?.status).toBe('cancelled');
  });

  it('a graceful stop lets a running composite task finish: its children are still admitted', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
      promptTokens: 10,
      completionTokens: 1,
    }));
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b', 'c'] } });
    const result = engine.waitFor(parent);
    const later = await engine.submit({ taskType: 'ECHO', data: { prompt: 'later' } });
    await flush();
    let stopped = false;
    const stopping = engine.stop().then(() => {
      stopped = true;
    });
    await advance(clock, 50, 10);
    expect(stopped).toBe(false);
    await advance(clock, 400, 10);
    await stopping;
    const outcomes = (await result) as { ok: boolean }[];
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    expect((await engine.getTask(parent))?.status).toBe('completed');
    // The top-level task that was waiting stays queued, for a later run.
    expect((await engine.getTask(later))?.status).toBe('queued');
    expect(engine.waitingCount).toBe(1);
  });

  it('a graceful stop of a paused queue still lets a running composite task finish', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    // 'x' holds the one slot, so the children wait; it ends while the queue is paused.
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' } });
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    const result = engine.waitFor(parent);
    await flush();
    engine.pause();
    await advance(clock, 150, 10);
    expect((await engine.getTask(parent))?.status).toBe('running');
    expect(engine.runningCount).toBe(0);
    const stopping = engine.stop();
    await advance(clock, 500, 10);
    await stopping;
    expect(((await result) as { ok: boolean }[]).map((o) => o.ok)).toEqual([true, true]);
    expect((await engine.getTask(parent))?.status).toBe('completed');
  });

  it("submitMany's onAccepted runs after the tasks are stored and before any of them is in line", async () => {
    const { engine, events } = createTestEngine({}, () => ({ kind: 'ok', latencyMs: 1 }));
    const seen: string[] = [];
    const ids = await engine.submitMany(
      [
        { taskType: 'ECHO', data: { prompt: 'a' } },
        { taskType: 'ECHO', data: { prompt: 'b' } },
      ],
      (accepted) => {
        seen.push(...accepted);
        expect(events.filter((e) => e.type === 'task.submitted')).toHaveLength(0);
        expect(engine.waitingCount + engine.runningCount).toBe(0);
      },
    );
    expect(seen).toEqual(ids);
    expect(events.filter((e) => e.type === 'task.submitted')).toHaveLength(2);
  });

  it('submitMany: an onAccepted that throws leaves nothing behind', async () => {
    const { engine } = createTestEngine();
    const failure = new Error('hook failed');
    await expect(
      engine.submitMany([{ taskType: 'ECHO', data: { prompt: 'a' }, id: 'kept-out' }], () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await engine.getTask('kept-out')).toBeUndefined();
    expect(engine.waitingCount).toBe(0);
    // The id is free again.
    await expect(
      engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, id: 'kept-out' }),
    ).resolves.toBe('kept-out');
  });

  it('children stored while their parent is being cancelled never run', async () => {
    const { engine, clock, client } = createTestEngine({}, () => ({ kind: 'ok', latencyMs: 100 }));
    const store = engine.store as { insert: (records: readonly TaskRecord[]) => Promise<void> };
    const insert = store.insert.bind(store);
    store.insert = async (records) => {
      await insert(records);
      const parentId = records[0]?.parentId;
      if (parentId !== undefined) await engine.cancel(parentId);
    };
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    await advance(clock, 300, 10);
    expect((await engine.getTask(parent))?.status).toBe('cancelled');
    const children = (await engine.store.list({ limit: 10 })).items.filter(
      (r) => r.parentId === parent,
    );
    expect(children.map((c) => c.status)).toEqual(['cancelled', 'cancelled']);
    expect(client.log).toHaveLength(0);
    expect(engine.waitingCount + engine.runningCount).toBe(0);
  });

  it('after stop, cancel ends a task the stop left waiting, whatever copy the store returns', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const b = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await flush();
    const stopping = engine.stop();
    await advance(clock, 150, 10);
    await stopping;
    const store = engine.store as { get: (id: string) => Promise<TaskRecord | undefined> };
    const get = store.get.bind(store);
    store.get = async (id) => structuredClone(await get(id));
    expect(await engine.cancel(b)).toBe(true);
    expect((await get(b))?.status).toBe('cancelled');
    expect(await engine.cancel(b)).toBe(false);
  });

  it('stop({ force }) while a composite task runs cancels it and its children', async () => {
    const { engine } = createTestEngine({ maxConcurrent: 1 }, () => ({ kind: 'hang' }));
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    await flush();
    await engine.stop({ force: true });
    expect((await engine.getTask(parent))?.status).toBe('cancelled');
  });

  it('after stop: waiting tasks can be cancelled, not paused; waiters settle; start is refused', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const b = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    const waitB = engine.waitFor(b);
    await flush();
    const stopping = engine.stop();
    await advance(clock, 150, 10);
    await stopping;
    await expect(waitB).rejects.toBeInstanceOf(QueueStoppedError);
    await expect(engine.waitFor(b)).rejects.toBeInstanceOf(QueueStoppedError);
    await expect(engine.onIdle()).resolves.toBeUndefined();
    expect(() => engine.pauseTask(b)).toThrow(QueueStoppedError);
    expect(() => engine.resumeTask(b)).toThrow(QueueStoppedError);
    expect(() => engine.start()).toThrow(QueueStoppedError);
    expect(await engine.cancel(b)).toBe(true);
    expect((await engine.getTask(b))?.status).toBe('cancelled');
    expect(engine.waitingCount).toBe(0);
    expect(await engine.cancel(b)).toBe(false);
  });

  it('stop before start ends the engine: waiters of submitted tasks are told, stopped is emitted', async () => {
    const { engine, events } = createTestEngine({}, () => ({ kind: 'ok', latencyMs: 1 }), {
      autoStart: false,
    });
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const waiting = engine.waitFor(id);
    await engine.stop();
    await expect(waiting).rejects.toBeInstanceOf(QueueStoppedError);
    expect(events.some((e) => e.type === 'queue.stopped')).toBe(true);
    expect(() => engine.start()).toThrow(QueueStoppedError);
  });

  it('keeps live actors near maxConcurrent however many tasks wait', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 4, maxQueueSize: 20_000 }, () => ({
      kind: 'ok',
      latencyMs: 5,
    }));
    await engine.submitMany(
      Array.from({ length: 10_000 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `${i}` } })),
    );
    await flush();
    expect(engine.waitingCount).toBe(10_000 - 4);
    expect(engine.liveActorCount).toBe(4);
    expect(engine.positionOf(engine.waitingRecords()[0]?.id ?? '')).toBe(0);
    await advance(clock, 100, 5);
    expect(engine.liveActorCount).toBeLessThanOrEqual(4);
  });

  it('per-model windows hold back only that model; prices can be overridden', async () => {
    const { engine, clock, client } = createTestEngine(
      {
        maxConcurrent: 10,
        modelLimits: { 'gpt-4o': { requestsPerMinute: 1 } },
        prices: { 'my-model': { input: 1, output: 2 } },
      },
      () => ({ kind: 'ok', latencyMs: 10, promptTokens: 1000, completionTokens: 1000 }),
    );
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, config: { model: 'gpt-4o' } });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' }, config: { model: 'gpt-4o' } });
    await advance(clock, 100, 10);
    expect(client.log.length).toBe(1);
    expect(engine.headWait()).toMatchObject({ waitingFor: 'rateLimit' });
    // strict line: the head (gpt-4o) waits, so nothing behind it runs either
    const own = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'c', tokens: 1000 },
      config: { model: 'my-model' },
    });
    await advanceUntil(clock, () => client.log.length === 3, 120_000, 1000);
    await advance(clock, 20);
    const record = await engine.getTask(own);
    expect(record?.status).toBe('completed');
    // $1 / 1M × 1000 + $2 / 1M × 1000 = $0.003
    expect(record?.costMicros).toBe(3000);
  });

  it('onIdle resolves when nothing waits or runs; counts by priority; running state', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 50,
    }));
    expect(engine.isRunning).toBe(true);
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, priority: 'HIGH' });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' }, priority: 'LOW' });
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' }, priority: 'LOW' });
    expect(engine.waitingByPriority()).toEqual({ URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 2 });
    let idle = false;
    void engine.onIdle().then(() => {
      idle = true;
    });
    await advance(clock, 120, 10);
    expect(idle).toBe(false);
    await advance(clock, 50, 10);
    expect(idle).toBe(true);
    await engine.stop();
    expect(engine.isRunning).toBe(false);
  });

  it('validates settings changes and task type registration', () => {
    const { engine } = createTestEngine();
    expect(() => engine.adjustSettings({ maxConcurrent: -1 })).toThrow(
      /settings\.maxConcurrent.*received -1/,
    );
    expect(() => engine.adjustSettings({ requestsPerMinute: 'fast' as never })).toThrow(
      ValidationError,
    );
    expect(engine.concurrency.max).toBe(5);
    expect(() => engine.registerTaskType({ name: '' } as never)).toThrow(ValidationError);
  });

  it('keeps only as many finished tasks as keepCompleted / keepFailed allow', async () => {
    let n = 0;
    const { engine, clock } = createTestEngine(
      {
        maxConcurrent: 4,
        maxQueueSize: 1000,
        keepCompleted: { count: 10 },
        keepFailed: { count: 3 },
        taskDefaults: { maxRetries: 0 },
      },
      () => (n++ % 5 === 4 ? { kind: 'error', status: 400 } : { kind: 'ok', latencyMs: 5 }),
    );
    const ids = await engine.submitMany(
      Array.from({ length: 100 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `${i}` } })),
    );
    await advanceUntil(
      clock,
      () => engine.waitingCount === 0 && engine.runningCount === 0,
      60_000,
      5,
    );
    const counts = await engine.store.countByStatus();
    expect(counts.completed).toBe(10);
    expect(counts.failed).toBe(3);
    // the newest are kept; the oldest are gone
    expect(await engine.getTask(ids[0] as string)).toBeUndefined();
    await expect(engine.waitFor(ids[0] as string)).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('keepCompleted.age removes finished tasks older than it as new ones finish', async () => {
    const { engine, clock } = createTestEngine({ keepCompleted: { age: 1 } }, () => ({
      kind: 'ok',
      latencyMs: 5,
    }));
    const first = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 10);
    expect(await engine.getTask(first)).toBeDefined();
    await advance(clock, 1500, 100);
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 10);
    expect(await engine.getTask(first)).toBeUndefined();
  });

  it("rounds a fractional estimate up, and names a task type's broken estimate", async () => {
    const { engine } = createTestEngine();
    engine.registerTaskType({
      ...echoTaskType,
      name: 'FRACTIONAL',
      estimate: (_data, env) => ({ model: env.model, promptTokens: 10.2, maxTokens: 99.5 }),
    });
    engine.registerTaskType({
      ...echoTaskType,
      name: 'BROKEN',
      estimate: (_data, env) => ({ model: env.model, promptTokens: Number.NaN, maxTokens: 1 }),
    });
    const estimate = engine.estimateCost({ taskType: 'FRACTIONAL', data: { prompt: 'x' } });
    expect(estimate).toMatchObject({ promptTokens: 11, maxTokens: 100 });
    await expect(engine.submit({ taskType: 'BROKEN', data: { prompt: 'x' } })).rejects.toThrow(
      /BROKEN\.estimate\(\)\.promptTokens/,
    );
  });
});
