import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AdjustableSettings, EngineSettingsInput } from '../../src/config/engine-options.js';
import { BudgetExceededError, TaskCancelledError, ValidationError } from '../../src/errors.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { MemoryTaskStore } from '../../src/stores/memory.js';
import type { StoreWrite, TaskRecord, TaskStore } from '../../src/stores/types.js';
import type { TaskEstimate, TaskTypeDefinition } from '../../src/task-types/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { createTestEngine } from '../helpers/engine.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, createClock, flush } from '../helpers/virtual-time.js';

/** Whether `promise` has settled after the pending callbacks ran. */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await flush();
  return done;
}

describe('before start()', () => {
  it('cancel, pauseTask and resumeTask take effect at once; the task never runs', async () => {
    const { engine, clock, client, events } = createTestEngine({}, () => ({ kind: 'ok' }), {
      autoStart: false,
    });
    const cancelled = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const held = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    const resumed = await engine.submit({ taskType: 'ECHO', data: { prompt: 'c' } });
    expect(await engine.cancel(cancelled)).toBe(true);
    expect((await engine.getTask(cancelled))?.status).toBe('cancelled');
    expect(engine.pauseTask(held)).toBe(true);
    expect(engine.pauseTask(resumed)).toBe(true);
    expect(engine.resumeTask(resumed)).toBe(true);
    engine.start();
    await advance(clock, 50);
    expect((await engine.getTask(cancelled))?.status).toBe('cancelled');
    expect((await engine.getTask(held))?.status).toBe('paused');
    expect((await engine.getTask(resumed))?.status).toBe('completed');
    // Only the resumed task called the model; the cancelled one was never admitted.
    expect(client.log).toHaveLength(1);
    expect(events.some((e) => e.type === 'task.started' && e.taskId === cancelled)).toBe(false);
    await engine.stop({ force: true });
  });
});

describe('onIdle when a cancel or a pause empties the line', () => {
  it('resolves on a paused queue when its only waiting task is cancelled, or paused', async () => {
    for (const how of ['cancel', 'pauseTask'] as const) {
      const { engine } = createTestEngine();
      engine.pause();
      const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
      const idle = engine.onIdle();
      expect(await settles(idle)).toBe(false);
      if (how === 'cancel') await engine.cancel(id);
      else engine.pauseTask(id);
      expect(await settles(idle), how).toBe(true);
      await engine.stop();
    }
  });

  it('resolves at once when the head waiting for a window is paused', async () => {
    const { engine, clock } = createTestEngine({ requestsPerMinute: 1 }, () => ({
      kind: 'ok',
      latencyMs: 10,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const head = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 100, 10);
    expect(engine.headWait()).toMatchObject({ taskId: head, waitingFor: 'rateLimit' });
    const idle = engine.onIdle();
    engine.pauseTask(head);
    expect(await settles(idle)).toBe(true);
    await engine.stop();
  });
});

describe('limits lowered below what a waiting task needs', () => {
  /**
   * Two waiting tasks on a paused queue, `big` (10 prompt + 1024 max_tokens: worst case $0.000616
   * on gpt-4o-mini) ahead of `small` (10 + 10: $0.0000075); `lower` is applied, then the queue
   * resumes for 100 ms.
   */
  async function lowered(
    settings: EngineSettingsInput,
    lower: AdjustableSettings,
  ): Promise<{
    big: TaskRecord | undefined;
    small: TaskRecord | undefined;
    calls: number;
    engine: Engine;
  }> {
    const { engine, clock, client } = createTestEngine(settings, () => ({
      kind: 'ok',
      latencyMs: 10,
    }));
    engine.pause();
    const big = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const small = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'b' },
      config: { maxTokens: 10 },
    });
    engine.adjustSettings(lower);
    engine.resume();
    await advance(clock, 100, 10);
    return {
      big: await engine.getTask(big),
      small: await engine.getTask(small),
      calls: client.log.length,
      engine,
    };
  }

  it('a window lowered below its token reservation fails it (ValidationError) and the line goes on', async () => {
    const { big, small, calls, engine } = await lowered(
      { tokensPerMinute: 100_000 },
      { tokensPerMinute: 500 },
    );
    expect(big?.status).toBe('failed');
    expect(big?.error).toMatchObject({ code: 'VALIDATION', retryable: false });
    expect(big?.error?.message).toMatch(/reserves 1034 tokens .* more than the window of 500/);
    await expect(engine.waitFor(big?.id ?? '')).rejects.toBeInstanceOf(ValidationError);
    expect(small?.status).toBe('completed');
    expect(calls).toBe(1);
    await engine.stop();
  });

  it('an hourly budget lowered below its worst case fails it (BudgetExceededError); a cheaper one runs', async () => {
    const { big, small, calls, engine } = await lowered(
      { hourlyLimit: 1 },
      { hourlyLimit: 0.0002 },
    );
    expect(big?.error).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    await expect(engine.waitFor(big?.id ?? '')).rejects.toBeInstanceOf(BudgetExceededError);
    expect(small?.status).toBe('completed');
    expect(calls).toBe(1);
    await engine.stop();
  });
});

describe('money limits', () => {
  it('refuses budgets and prices beyond what whole micro-dollars count exactly', () => {
    const { engine } = createTestEngine({ budgetLimit: 10 });
    for (const settings of [
      { budgetLimit: 1e10 },
      { dailyLimit: 2e9 },
      { hourlyLimit: Number.MAX_VALUE },
    ]) {
      expect(() => engine.adjustSettings(settings), JSON.stringify(settings)).toThrow(
        ValidationError,
      );
    }
    expect(engine.currentSettings.budgetLimit).toBe(10);
    expect(() => createTestEngine({ budgetLimit: 1e10 })).toThrow(
      /budgetLimit.*at most 1000000000/,
    );
    expect(() => createTestEngine({ prices: { 'my-model': { input: 1e7, output: 1 } } })).toThrow(
      /prices\.my-model\.input.*at most 1000000/,
    );
  });
});

describe('a child cancelled while its call is in flight', () => {
  it('adds the prompt it was charged to its parent, and waiters hear of it after the charge', async () => {
    const { engine, clock, events } = createTestEngine({}, (_request, index) =>
      index === 0 ? { kind: 'hang' } : { kind: 'ok', latencyMs: 50 },
    );
    const parent = await engine.submit({
      taskType: 'FAN_OUT',
      data: { prompts: ['aaa bbb ccc', 'd'] },
    });
    await flush();
    const children = events.flatMap((e) =>
      e.type === 'task.submitted' && e.parentId === parent ? [e.taskId] : [],
    );
    expect(children).toHaveLength(2);
    const [hung, other] = children as [string, string];
    let costWhenTold: number | undefined;
    const told = engine.waitFor(hung).catch(async () => {
      costWhenTold = (await engine.getTask(hung))?.costMicros;
    });
    await engine.cancel(hung);
    await advance(clock, 100, 10);
    await told;
    const [p, c0, c1] = await Promise.all([parent, hung, other].map((id) => engine.getTask(id)));
    expect(c0?.status).toBe('cancelled');
    expect(c0?.costMicros).toBeGreaterThan(0);
    expect(costWhenTold).toBe(c0?.costMicros);
    expect(p?.status).toBe('completed');
    expect(p?.costMicros).toBe((c0?.costMicros ?? 0) + (c1?.costMicros ?? 0));
    expect(p?.usage.calls).toBe(2);
    await engine.stop();
  });
});

/** A started engine on `clock` over `store`; its calls answer after 10 ms. */
function engineWithStore(clock: ReturnType<typeof createClock>, store: TaskStore): Engine {
  const engine = new Engine(
    { model: 'gpt-4o-mini' },
    {
      client: new ScriptedClient(clock, () => ({ kind: 'ok', latencyMs: 10 })),
      clock,
      random: seededRandom(1),
      taskTypes: [echoTaskType],
      store,
    },
  );
  engine.start();
  return engine;
}

/** A store that hands out copies, and answers `get` only after the engine has moved on. */
class CopyingStore implements TaskStore {
  readonly name = 'copying';
  readonly holdsRecordsByReference = false;
  readonly durable = false;
  private readonly inner = new MemoryTaskStore();
  private readonly slowGet: () => Promise<void>;

  constructor(slowGet: () => Promise<void>) {
    this.slowGet = slowGet;
  }

  insert(records: readonly TaskRecord[]) {
    return this.inner.insert(records.map((r) => structuredClone(r)));
  }
  update(record: TaskRecord) {
    return this.inner.update(structuredClone(record));
  }
  commit(write: StoreWrite) {
    return this.inner.commit({
      ...write,
      insert: write.insert?.map((r) => structuredClone(r)),
      update: write.update?.map((r) => structuredClone(r)),
    });
  }
  findByIdempotencyKeys(keys: readonly string[]) {
    return this.inner.findByIdempotencyKeys(keys);
  }
  listWaiting(...args: Parameters<TaskStore['listWaiting']>) {
    return this.inner.listWaiting(...args);
  }
  countWaiting(...args: Parameters<TaskStore['countWaiting']>) {
    return this.inner.countWaiting(...args);
  }
  lastSeq() {
    return this.inner.lastSeq();
  }
  readLedger(...args: Parameters<TaskStore['readLedger']>) {
    return this.inner.readLedger(...args);
  }
  compactLedger(...args: Parameters<TaskStore['compactLedger']>) {
    return this.inner.compactLedger(...args);
  }
  async get(id: string) {
    const copy = structuredClone(await this.inner.get(id));
    await this.slowGet();
    return copy;
  }
  list(...args: Parameters<TaskStore['list']>) {
    return this.inner.list(...args);
  }
  countByStatus() {
    return this.inner.countByStatus();
  }
  remove(ids: readonly string[]) {
    return this.inner.remove(ids);
  }
  removeFinishedBefore(before: number) {
    return this.inner.removeFinishedBefore(before);
  }
  close() {
    return this.inner.close();
  }
}

describe('a store that hands out copies', () => {
  /** An engine on a store whose answers come 20 ms (virtual) after a read starts, and a task. */
  async function slowCopies() {
    const clock = createClock();
    const store = new CopyingStore(
      () => new Promise((resolve) => clock.setTimeout(() => resolve(), 20)),
    );
    const engine = engineWithStore(clock, store);
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    return { clock, engine, id };
  }

  it('waitFor hears of a task that ends while the store reads a copy', async () => {
    const { clock, engine, id } = await slowCopies();
    const result = engine.waitFor(id);
    await advance(clock, 5);
    // Ends at 10 ms, while the read (answering at 20 ms) still holds a copy that says running.
    await advance(clock, 30);
    await expect(result).resolves.toBe('{"ok":true}');
    await engine.stop();
  });

  it('cancel of a task the engine runs acts at once, whatever a slow read would say', async () => {
    const { clock, engine, id } = await slowCopies();
    const result = engine.waitFor(id).catch((error: unknown) => error);
    await advance(clock, 5);
    // Running (it would end at 10 ms): cancelled before the call returns, no read first.
    const cancelled = engine.cancel(id);
    await advance(clock, 30);
    await expect(cancelled).resolves.toBe(true);
    expect(await result).toBeInstanceOf(TaskCancelledError);
    // Once it has ended, a cancel reads the store and says false.
    const again = engine.cancel(id);
    await advance(clock, 30);
    await expect(again).resolves.toBe(false);
    await engine.stop();
  });
});

describe('the head of the line', () => {
  it('says it waits for a slot when it arrived while none was free', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 30_000,
    }));
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const second = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(clock, 10_000, 1000);
    expect(engine.headWait()).toEqual({ taskId: second, waitingFor: 'concurrency' });
    await engine.stop({ force: true });
  });

  it('held with pauseTask, lets the next task start at once if it fits', async () => {
    // A holds 1034 of 1100 tokens for 10 s; B (1034) waits for the window; C needs 20.
    const { engine, clock, events } = createTestEngine(
      { tokensPerMinute: 1100, pacing: false },
      () => ({
        kind: 'ok',
        latencyMs: 10_000,
      }),
    );
    await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    const b = await engine.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    const c = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'c' },
      config: { maxTokens: 10 },
    });
    await advance(clock, 100, 10);
    expect(engine.headWait()).toMatchObject({ taskId: b, waitingFor: 'rateLimit' });
    engine.pauseTask(b);
    await flush();
    expect(events.some((e) => e.type === 'task.started' && e.taskId === c)).toBe(true);
    await engine.stop({ force: true });
  });
});

describe('estimateCost', () => {
  it('refuses what submit refuses: a reservation above a window, a worst case above a budget', async () => {
    const windowed = createTestEngine({ tokensPerMinute: 500 }).engine;
    expect(() => windowed.estimateCost({ taskType: 'ECHO', data: { prompt: 'a' } })).toThrow(
      /reserves 1034 tokens .*more than the window of 500 per 60000 ms allows/,
    );
    await expect(windowed.submit({ taskType: 'ECHO', data: { prompt: 'a' } })).rejects.toThrow(
      ValidationError,
    );
    const budgeted = createTestEngine({ budgetLimit: 0.0001 }).engine;
    expect(() => budgeted.estimateCost({ taskType: 'ECHO', data: { prompt: 'a' } })).toThrow(
      BudgetExceededError,
    );
    await expect(budgeted.submit({ taskType: 'ECHO', data: { prompt: 'a' } })).rejects.toThrow(
      BudgetExceededError,
    );
    // What fits is estimated.
    expect(
      budgeted.estimateCost({ taskType: 'ECHO', data: { prompt: 'a' }, config: { maxTokens: 10 } })
        .worstCaseCost,
    ).toBeGreaterThan(0);
    await windowed.stop();
    await budgeted.stop();
  });
});

describe('token counts beyond any model', () => {
  it('refuses maxTokens or estimatedTokens above 10,000,000 with a ValidationError, not a RangeError', async () => {
    const { engine } = createTestEngine({ budgetLimit: 100 });
    for (const config of [{ maxTokens: 9e15 }, { estimatedTokens: 1e15 }]) {
      await expect(
        engine.submit({ taskType: 'ECHO', data: { prompt: 'a' }, config }),
        JSON.stringify(config),
      ).rejects.toThrow(ValidationError);
      expect(() =>
        engine.estimateCost({ taskType: 'ECHO', data: { prompt: 'a' }, config }),
      ).toThrow(/at most 10000000 tokens/);
    }
    await engine.stop();
  });
});

describe("a task type's estimate", () => {
  it('is refused at submit, naming the type, when its counts are not numbers in range', async () => {
    for (const [promptTokens, maxTokens] of [
      ['5', 10],
      [Number.NaN, 10],
      [10, Number.POSITIVE_INFINITY],
      [-1, 10],
      [10, 2e7],
    ] as Array<[unknown, unknown]>) {
      const odd: TaskTypeDefinition<{ prompt: string }, string> = {
        ...echoTaskType,
        name: 'ODD',
        estimate: (_data, env) =>
          ({ model: env.model, promptTokens, maxTokens }) as unknown as TaskEstimate,
      };
      const clock = createClock();
      const engine = new Engine(
        { model: 'gpt-4o-mini' },
        { client: new ScriptedClient(clock), clock, taskTypes: [odd] },
      );
      await expect(
        engine.submit({ taskType: 'ODD', data: { prompt: 'a' } }),
        JSON.stringify([promptTokens, maxTokens]),
      ).rejects.toThrow(/ODD\.estimate\(\)/);
      await engine.stop();
    }
  });
});

/** The memory store, with removals that land a turn later, as a database's would. */
class SlowRemoveStore extends MemoryTaskStore {
  override async remove(ids: readonly string[]): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve));
    return super.remove(ids);
  }
  override async commit(write: StoreWrite): Promise<void> {
    if (write.remove !== undefined && write.remove.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    return super.commit(write);
  }
}

describe('cleanupFinished', () => {
  it('counts each task once when the store takes its time to remove', async () => {
    const clock = createClock();
    const engine = engineWithStore(clock, new SlowRemoveStore());
    for (const prompt of ['a', 'b', 'c'])
      await engine.submit({ taskType: 'ECHO', data: { prompt } });
    await advance(clock, 50);
    expect(await engine.cleanupFinished(clock.now() + 1)).toBe(3);
    expect((await engine.store.countByStatus()).completed ?? 0).toBe(0);
    await engine.stop();
  });
});

describe('composite tasks', () => {
  /** An engine whose calls answer after `latency(prompt)` ms, with ECHO and the given types. */
  function compositeEngine(
    types: TaskTypeDefinition<never, unknown>[],
    latency: (prompt: string) => number,
    settings: EngineSettingsInput = {},
  ) {
    const clock = createClock();
    const client = new ScriptedClient(clock, (request) => {
      const prompt = 'messages' in request ? String(request.messages[0]?.content) : '';
      return prompt === 'fail'
        ? { kind: 'error', status: 503, latencyMs: 5 }
        : { kind: 'ok', latencyMs: latency(prompt) };
    });
    const engine = new Engine(
      { model: 'gpt-4o-mini', ...settings },
      {
        client,
        clock,
        random: seededRandom(1),
        taskTypes: [echoTaskType, ...(types as unknown as TaskTypeDefinition<unknown, unknown>[])],
      },
    );
    const events: EngineEvent[] = [];
    engine.events$.subscribe((e) => events.push(e));
    engine.start();
    return { engine, clock, client, events };
  }
  const echo = (prompt: string) => ({ taskType: 'ECHO', data: { prompt } });
  /** A composite task type named `name` whose attempt is `run`. */
  const composite = (
    name: string,
    run: TaskTypeDefinition<Record<string, never>, unknown>['run'],
  ): TaskTypeDefinition<Record<string, never>, unknown> => ({
    name,
    kind: 'composite',
    input: z.object({}),
    output: z.unknown(),
    estimate: (_data, env) => ({ model: env.model, promptTokens: 0, maxTokens: 0 }),
    run,
  });

  it('a child callback that throws fails the parent; the other children, stop and onIdle go on', async () => {
    const throwing = composite('THROWING', (ctx) =>
      ctx.runChildren([echo('a'), echo('b')], () => {
        throw new Error('callback boom');
      }),
    );
    const { engine, clock, events } = compositeEngine([throwing as never], () => 10, {
      maxConcurrent: 1,
      taskDefaults: { maxRetries: 0 },
    });
    const parent = await engine.submit({ taskType: 'THROWING', data: {} });
    await advance(clock, 100, 5);
    const record = await engine.getTask(parent);
    expect(record?.status).toBe('failed');
    expect(record?.error?.message).toBe('callback boom');
    const children = events.flatMap((e) =>
      e.type === 'task.completed' && e.taskId !== parent ? [e.taskId] : [],
    );
    expect(children).toHaveLength(2);
    await engine.onIdle();
    await engine.stop();
  });

  it('cancelling the parent cancels the children of every runChildren call, parallel ones too', async () => {
    const parallel = composite('PARALLEL', (ctx) =>
      Promise.all([ctx.runChildren([echo('fast')]), ctx.runChildren([echo('slow'), echo('slow')])]),
    );
    const { engine, clock, events } = compositeEngine([parallel as never], (p) =>
      p === 'fast' ? 10 : 10_000,
    );
    const parent = await engine.submit({ taskType: 'PARALLEL', data: {} });
    await advance(clock, 50, 5);
    expect(await engine.cancel(parent)).toBe(true);
    await advance(clock, 20, 5);
    const ended = (type: string) =>
      events.filter((e) => e.type === type && 'taskId' in e && e.taskId !== parent).length;
    expect(ended('task.completed')).toBe(1);
    expect(ended('task.cancelled')).toBe(2);
    expect(engine.concurrency.used).toBe(0);
    await engine.stop();
  });

  it('a parent that goes to retry cancels the children of its failed attempt', async () => {
    let attempt = 0;
    const retried = composite('RETRIED', async (ctx) => {
      attempt++;
      if (attempt === 1) {
        // Two slow children, then a failure that does not wait for them.
        void ctx.runChildren([echo('slow'), echo('slow')]);
        await ctx.chat({ messages: [{ role: 'user', content: 'fail' }] });
      }
      return ctx.runChildren([echo('fast')]);
    });
    const { engine, clock, events } = compositeEngine(
      [retried as never],
      (p) => (p === 'fast' ? 10 : 10_000),
      { taskDefaults: { maxRetries: 1, retryDelay: 0.05, maxRetryDelay: 0.05 } },
    );
    const parent = await engine.submit({ taskType: 'RETRIED', data: {} });
    await advance(clock, 400, 5);
    expect((await engine.getTask(parent))?.status).toBe('completed');
    const ofChildren = (type: string) =>
      events.filter((e) => e.type === type && 'taskId' in e && e.taskId !== parent).length;
    expect(ofChildren('task.cancelled')).toBe(2);
    expect(ofChildren('task.completed')).toBe(1);
    expect(engine.concurrency.used).toBe(0);
    expect(engine.runningCount).toBe(0);
    await engine.stop();
  });
});

describe('a draining stop with a held child', () => {
  it('cancels a child held with pauseTask, so its running parent ends and the stop resolves', async () => {
    const { engine, clock } = createTestEngine({ maxConcurrent: 2 }, () => ({
      kind: 'ok',
      latencyMs: 50,
    }));
    const parent = await engine.submit({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b', 'c'] } });
    await advance(clock, 1);
    const children = (await engine.store.list({})).items.filter((r) => r.parentId === parent);
    expect(children).toHaveLength(3);
    const held = children.find((r) => r.status === 'queued');
    expect(held).toBeDefined();
    expect(engine.pauseTask((held as TaskRecord).id)).toBe(true);
    const stopped = engine.stop();
    await advance(clock, 600, 10);
    expect(await settles(stopped)).toBe(true);
    expect((await engine.getTask((held as TaskRecord).id))?.status).toBe('cancelled');
    expect(isTerminal((await engine.getTask(parent))?.status)).toBe(true);
  });
});

function isTerminal(status: string | undefined): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

describe('a stop while a task waits to retry', () => {
  it('stops its live actor and keeps its machine state in the record', async () => {
    const { engine, clock } = createTestEngine(
      { taskDefaults: { timeout: 1, maxRetries: 3, retryDelay: 30 } },
      () => ({ kind: 'hang' }),
    );
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 1_100, 10);
    expect((await engine.getTask(id))?.status).toBe('retrying');
    const stopped = engine.stop();
    await advance(clock, 10);
    expect(await settles(stopped)).toBe(true);
    expect(engine.liveActorCount).toBe(0);
    const record = await engine.getTask(id);
    expect(record?.status).toBe('retrying');
    const snapshot = record?.snapshot as
      | { value: string; context: { attempts: number } }
      | undefined;
    expect(snapshot?.value).toBe('retrying');
    expect(snapshot?.context.attempts).toBe(1);
  });
});
