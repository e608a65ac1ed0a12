/**
 * The engine on a durable store (issue 16): idempotent submission, the write-ahead of holds and
 * results, and what a restart on the same SQLite file brings back. Virtual time; a "crash" is the
 * store closed under a running engine, then a second engine opening the same file.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatedClock } from 'xstate';
import { TASK_MACHINE_VERSION } from '../../machines/task.machine.js';
import { StoreError } from '../../src/errors.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { COMMIT_TASKS } from '../../src/runtime/journal.js';
import { toStoreError } from '../../src/stores/sqlite/errors.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { StoreWrite, TaskStore } from '../../src/stores/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { createTestEngine, DURABLE_SETTINGS } from '../helpers/engine.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, advanceUntil, createClock, flush } from '../helpers/virtual-time.js';

/** Virtual time: the store answers within the turn, on this thread (not its worker). */
const ON_THIS_THREAD = { thread: 'main' } as const;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aitq-durable-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SETTINGS = DURABLE_SETTINGS;

/** A call that answers after 10 ms, or after 10 s when the prompt says `slow`. */
function latencyScript(request: unknown): Script {
  const prompt = String((request as { messages: { content: string }[] }).messages[0]?.content);
  return {
    kind: 'ok',
    latencyMs: prompt === 'slow' ? 10_000 : 10,
    content: `answer to ${prompt}`,
    promptTokens: 10,
    completionTokens: 5,
  };
}

interface Run {
  engine: Engine;
  client: ScriptedClient;
  events: EngineEvent[];
}

async function openEngine(store: TaskStore, clock: SimulatedClock): Promise<Run> {
  const client = new ScriptedClient(clock, latencyScript);
  const engine = new Engine(SETTINGS, {
    client,
    clock,
    random: seededRandom(3),
    store,
    taskTypes: [echoTaskType],
  });
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  await engine.open();
  engine.start();
  return { engine, client, events };
}

function promptsOf(client: ScriptedClient): string[] {
  return client.log.map((c) =>
    String((c.request as { messages: { content: string }[] }).messages[0]?.content),
  );
}

describe('idempotency keys', () => {
  it('return the task stored under the key instead of adding one, in a batch too', async () => {
    const { engine, clock } = createTestEngine({}, () => ({ kind: 'ok', latencyMs: 10 }));
    const a = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'a' },
      idempotencyKey: 'k1',
    });
    const again = await engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'other' },
      idempotencyKey: 'k1',
    });
    expect(again).toBe(a);
    const ids = await engine.submitMany([
      { taskType: 'ECHO', data: { prompt: 'b' }, idempotencyKey: 'k2' },
      { taskType: 'ECHO', data: { prompt: 'b' }, idempotencyKey: 'k2' },
      { taskType: 'ECHO', data: { prompt: 'c' }, idempotencyKey: 'k1' },
      { taskType: 'ECHO', data: { prompt: 'd' } },
    ]);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(a);
    expect(new Set(ids).size).toBe(3);
    await advance(clock, 100);
    const counts = await engine.store.countByStatus();
    expect(counts.completed).toBe(3);
    await engine.stop();
  });

  it('refuses an empty or overlong key, naming the field', async () => {
    const { engine } = createTestEngine();
    for (const key of ['', 'x'.repeat(513)]) {
      await expect(
        engine.submitMany([
          { taskType: 'ECHO', data: { prompt: 'a' } },
          { taskType: 'ECHO', data: { prompt: 'a' }, idempotencyKey: key },
        ]),
      ).rejects.toThrow(/tasks\[1\]\.idempotencyKey/);
    }
    expect((await engine.store.countByStatus()).queued).toBe(0);
    await engine.stop();
  });

  it('are remembered by a durable store across a restart', async () => {
    const path = join(dir, 'keys.db');
    const clock = createClock();
    const first = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    const id = await first.engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'a' },
      idempotencyKey: 'line-1',
    });
    await advance(clock, 100);
    await first.engine.stop();
    await first.engine.store.close();
    const second = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    const again = await second.engine.submit({
      taskType: 'ECHO',
      data: { prompt: 'a' },
      idempotencyKey: 'line-1',
    });
    expect(again).toBe(id);
    await advance(clock, 100);
    expect(second.client.log).toHaveLength(0);
    expect((await second.engine.getTask(id))?.result).toBe('answer to a');
    await second.engine.stop();
    await second.engine.store.close();
  });
});

describe('a restart on the same file', () => {
  it('brings back queued, paused and interrupted tasks; completed ones stay; the open hold is charged', async () => {
    const path = join(dir, 'queue.db');
    const clock = createClock();
    const store1 = openSqliteStore(path, ON_THIS_THREAD);
    const first = await openEngine(store1, clock);
    const done = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'fast' } });
    const interrupted = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'slow' } });
    const queued = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'queued' } });
    const paused = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'paused' } });
    expect(first.engine.pauseTask(paused)).toBe(true);
    await advance(clock, 1_000, 10);
    expect((await first.engine.getTask(done))?.status).toBe('completed');
    expect((await first.engine.getTask(interrupted))?.status).toBe('running');
    const spentBefore = first.engine.budget.ledger.spent(clock.now()).total;
    const held = first.engine.budget.ledger.held();
    expect(held).toBeGreaterThan(0);

    // The process "dies": its store goes away under it, mid-call.
    await store1.close();
    const second = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    const recovered = second.events.find((e) => e.type === 'queue.recovered');
    expect(recovered).toMatchObject({
      requeued: 2,
      interrupted: 1,
      paused: 1,
      cancelled: 0,
      openHolds: 1,
      openHoldMicros: held,
    });
    // Spending as before the crash, with the interrupted call charged at its worst case; what
    // is held now is the new attempt's hold.
    expect(second.engine.budget.ledger.spent(clock.now()).total).toBe(spentBefore + held);
    expect(second.engine.budget.ledger.held()).toBe(held);

    const back = await second.engine.getTask(interrupted);
    if (back === undefined) throw new Error('the interrupted task is gone');
    expect(second.engine.historyOf(back).map((h) => [h.status, h.reason])).toEqual([
      ['queued', undefined],
      ['running', undefined],
      ['queued', 'interrupted'],
      ['running', undefined],
    ]);
    await advance(clock, 20_000, 100);
    expect(promptsOf(second.client).sort()).toEqual(['queued', 'slow']);
    expect((await second.engine.getTask(done))?.result).toBe('answer to fast');
    expect((await second.engine.getTask(interrupted))?.status).toBe('completed');
    expect((await second.engine.getTask(queued))?.status).toBe('completed');
    expect((await second.engine.getTask(paused))?.status).toBe('paused');
    expect(second.engine.resumeTask(paused)).toBe(true);
    await advance(clock, 100, 10);
    expect((await second.engine.getTask(paused))?.status).toBe('completed');
    await second.engine.stop();
    await second.engine.store.close();
    await first.engine.stop({ force: true });
  });

  it('numbers new tasks after the stored ones, so they queue behind them', async () => {
    const path = join(dir, 'seq.db');
    const clock = createClock();
    const store1 = openSqliteStore(path, ON_THIS_THREAD);
    const first = await openEngine(store1, clock);
    first.engine.pause();
    const old = await first.engine.submitMany(
      ['a', 'b', 'c'].map((prompt) => ({ taskType: 'ECHO', data: { prompt } })),
    );
    await first.engine.stop();
    await store1.close();
    const second = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    const fresh = await second.engine.submit({ taskType: 'ECHO', data: { prompt: 'd' } });
    await advance(clock, 200, 10);
    expect(promptsOf(second.client)).toEqual(['a', 'b', 'c', 'd']);
    const seqs = await Promise.all([...old, fresh].map((id) => second.engine.getTask(id)));
    expect(seqs.map((r) => r?.seq)).toEqual([1, 2, 3, 4]);
    await second.engine.stop();
    await second.engine.store.close();
  });
});

describe('a task saved by a newer task machine', () => {
  it('is refused at open with StoreError newer-schema, naming the task', async () => {
    const path = join(dir, 'newer.db');
    const clock = createClock();
    const first = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    first.engine.pause();
    const id = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    expect(first.engine.pauseTask(id)).toBe(true);
    await first.engine.stop();
    const record = await first.engine.getTask(id);
    if (record === undefined) throw new Error('the task is gone');
    const snapshot = record.snapshot as { context: { machineVersion: number } };
    expect(snapshot.context.machineVersion).toBe(TASK_MACHINE_VERSION);
    snapshot.context.machineVersion = TASK_MACHINE_VERSION + 1;
    await first.engine.store.commit({ update: [record] });
    await first.engine.store.close();

    const store = openSqliteStore(path, ON_THIS_THREAD);
    const engine = new Engine(SETTINGS, {
      client: new ScriptedClient(clock, latencyScript),
      clock,
      store,
      taskTypes: [echoTaskType],
    });
    const error = await engine.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ reason: 'newer-schema' });
    expect((error as Error).message).toContain(id);
    await store.close();
  });
});

/** A durable store whose commits wait until `open()` is called. */
class GatedStore {
  private gate: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  readonly commits: StoreWrite[] = [];

  constructor(readonly inner: TaskStore) {}

  close(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release();
  }

  get store(): TaskStore {
    return new Proxy(this.inner, {
      get: (target, key, receiver) => {
        if (key === 'commit') {
          return async (write: StoreWrite) => {
            // As the write was when it was made (the engine changes its records in place).
            this.commits.push(structuredClone(write));
            await this.gate;
            return target.commit(write);
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/**
 * A SQLite store whose commits fail, once `full` is set, with the error the store gives when the
 * disk is full (SQLite's `SQLITE_FULL`, as `toStoreError` maps it): nothing of such a write lands.
 */
function fillingStore(path: string): { store: TaskStore; inner: TaskStore; fill(): void } {
  const inner = openSqliteStore(path, ON_THIS_THREAD);
  let full = false;
  const store = new Proxy(inner, {
    get: (target, key, receiver) => {
      if (key === 'commit') {
        return async (write: StoreWrite) => {
          if (full) {
            const cause = Object.assign(new Error('database or disk is full'), {
              code: 'SQLITE_FULL',
            });
            throw toStoreError(cause, path, 'commit');
          }
          return target.commit(write);
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store,
    inner,
    fill: () => {
      full = true;
    },
  };
}

describe('retrying tasks', () => {
  /**
   * 60 tasks whose calls fail with a 500, retried ~59 s later (a jitter sample of 0.99 of the
   * 60 s backoff), 10 calls at a time.
   */
  async function backlogOfRetries(
    store: TaskStore | undefined,
  ): Promise<{ engine: Engine; client: ScriptedClient; clock: SimulatedClock }> {
    const clock = createClock();
    const client = new ScriptedClient(clock, () => ({ kind: 'error', status: 500, latencyMs: 5 }));
    const engine = new Engine(
      {
        ...SETTINGS,
        maxConcurrent: 10,
        taskDefaults: { maxTokens: 100, maxRetries: 1, retryDelay: 60 },
      },
      {
        client,
        clock,
        random: () => 0.99,
        ...(store === undefined ? {} : { store }),
        taskTypes: [echoTaskType],
      },
    );
    await engine.open();
    engine.start();
    await engine.submitMany(
      Array.from({ length: 60 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `p${i}` } })),
    );
    await advanceUntil(clock, () => client.log.length === 60, 10_000, 5);
    await advance(clock, 100, 5);
    return { engine, client, clock };
  }

  it('are records, not live actors, with a durable store; the next attempt restores the machine', async () => {
    const store = openSqliteStore(':memory:', ON_THIS_THREAD);
    const { engine, client, clock } = await backlogOfRetries(store);
    expect((await store.countByStatus()).retrying).toBe(60);
    expect(engine.liveActorCount).toBe(0);
    // A minute later each runs its second and last attempt: the retry count came back with it.
    await advanceUntil(clock, () => client.log.length === 120, 120_000, 50);
    await advance(clock, 100, 5);
    expect((await store.countByStatus()).failed).toBe(60);
    expect(client.log).toHaveLength(120);
    await engine.stop();
    await store.close();
  });

  it('keep their actors with the memory store (the cost the durable path avoids)', async () => {
    const { engine } = await backlogOfRetries(undefined);
    expect(engine.liveActorCount).toBe(60);
    await engine.stop({ force: true });
  });
});

describe('retention', () => {
  it('keeps only what keepCompleted / keepFailed allow in the file, the newest ones, read after a reopen', async () => {
    const clock = createClock();
    const path = join(dir, 'retention.db');
    const store = openSqliteStore(path, ON_THIS_THREAD);
    let n = 0;
    const client = new ScriptedClient(clock, () =>
      n++ % 5 === 4 ? { kind: 'error', status: 400 } : { kind: 'ok', latencyMs: 5 },
    );
    const engine = new Engine(
      {
        ...SETTINGS,
        maxConcurrent: 4,
        keepCompleted: { count: 10 },
        keepFailed: { count: 3 },
        taskDefaults: { maxTokens: 100, maxRetries: 0 },
      },
      { client, clock, random: seededRandom(3), store, taskTypes: [echoTaskType] },
    );
    await engine.open();
    engine.start();
    const ids = await engine.submitMany(
      Array.from({ length: 100 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `${i}` } })),
    );
    await advanceUntil(clock, () => client.log.length === 100, 60_000, 5);
    await advance(clock, 100, 5);
    await engine.stop();
    await store.close();

    const reopened = openSqliteStore(path, ON_THIS_THREAD);
    const counts = await reopened.countByStatus();
    expect(counts.completed).toBe(10);
    expect(counts.failed).toBe(3);
    expect(await reopened.get(ids[0] as string)).toBeUndefined();
    expect(await reopened.get(ids[99] as string)).toMatchObject({ status: 'failed' });
    await reopened.close();
  });
});

describe('a full disk', () => {
  it('fails an attempt whose hold cannot be written with StoreError, before its call, and keeps what was committed', async () => {
    const clock = createClock();
    const path = join(dir, 'full.db');
    const filling = fillingStore(path);
    const run = await openEngine(filling.store, clock);
    run.engine.pause();
    const ids = await run.engine.submitMany([
      { taskType: 'ECHO', data: { prompt: 'a' } },
      { taskType: 'ECHO', data: { prompt: 'b' } },
    ]);
    filling.fill();
    run.engine.resume();
    await advance(clock, 50, 10);
    expect(run.client.log).toHaveLength(0);
    const failed = run.events.filter((e) => e.type === 'task.failed');
    expect(failed.map((e) => ('taskId' in e ? e.taskId : undefined))).toEqual(ids);
    for (const e of failed) {
      expect(e).toMatchObject({ error: { name: 'StoreError', code: 'STORE' } });
    }
    const errors = run.events.filter((e) => e.type === 'store.error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.error.message).toMatch(/full/);
    await run.engine.stop();
    await filling.inner.close();

    // The file holds what was committed before: both tasks, still waiting for a restart.
    const reopened = openSqliteStore(path, ON_THIS_THREAD);
    expect((await reopened.countByStatus()).queued).toBe(2);
    await reopened.close();
  });

  it("completes a task whose result cannot be written, in this process, and leaves it 'running' in the file", async () => {
    const clock = createClock();
    const path = join(dir, 'full-result.db');
    const filling = fillingStore(path);
    const run = await openEngine(filling.store, clock);
    const id = await run.engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 5, 5);
    expect(run.client.log).toHaveLength(1);
    filling.fill();
    const result = run.engine.waitFor(id);
    await advance(clock, 50, 10);
    await expect(result).resolves.toBe('answer to a');
    expect(run.events.some((e) => e.type === 'task.completed' && e.taskId === id)).toBe(true);
    expect(run.events.filter((e) => e.type === 'store.error').map((e) => e.taskId)).toContain(id);
    await run.engine.stop();
    await filling.inner.close();

    const reopened = openSqliteStore(path, ON_THIS_THREAD);
    expect(await reopened.get(id)).toMatchObject({ status: 'running' });
    await reopened.close();
  });
});

describe('write-ahead', () => {
  it('sends no call before its hold is committed, and completes no task before its result is', async () => {
    const clock = createClock();
    const gated = new GatedStore(openSqliteStore(':memory:'));
    const run = await openEngine(gated.store, clock);
    gated.close();
    const id = await run.engine.submit({ taskType: 'ECHO', data: { prompt: 'a' } });
    await advance(clock, 50, 5);
    expect(run.events.some((e) => e.type === 'task.started')).toBe(true);
    expect(run.client.log).toHaveLength(0);
    gated.open();
    await flush();
    expect(run.client.log).toHaveLength(1);
    const hold = gated.commits.find((w) =>
      w.ledger?.some((e) => (e.event as { type: string }).type === 'budget.hold'),
    );
    expect(hold?.update?.map((r) => r.status)).toEqual(['running']);

    gated.close();
    const result = run.engine.waitFor(id);
    let completed = false;
    void result.then(() => {
      completed = true;
    });
    // Nor is the queue idle, nor can a stop finish, while the result is being written.
    let idle = false;
    void run.engine.onIdle().then(() => {
      idle = true;
    });
    await advance(clock, 50, 5);
    expect(run.events.some((e) => e.type === 'task.completed')).toBe(false);
    expect(completed).toBe(false);
    expect(idle).toBe(false);
    const stopped = run.engine.stop();
    await advance(clock, 50, 5);
    expect(run.engine.isStopping).toBe(true);
    gated.open();
    await flush();
    expect(completed).toBe(true);
    expect(idle).toBe(true);
    await stopped;
    const resultWrite = gated.commits.find((w) =>
      w.update?.some((r) => r.status === 'completed' && r.result === 'answer to a'),
    );
    expect(
      resultWrite?.ledger?.some((e) => (e.event as { type: string }).type === 'budget.commit'),
    ).toBe(true);
    await gated.inner.close();
  });

  it('writes the running record of the task admitted into a freed slot with the result that freed it', async () => {
    const clock = createClock();
    const gated = new GatedStore(openSqliteStore(':memory:'));
    const run = await openEngine(gated.store, clock); // one slot
    const [a, b] = await run.engine.submitMany([
      { taskType: 'ECHO', data: { prompt: 'a' } },
      { taskType: 'ECHO', data: { prompt: 'b' } },
    ]);
    await advance(clock, 50, 5);
    await run.engine.stop();
    expect(promptsOf(run.client)).toEqual(['a', 'b']);
    // One round trip to the store for both: b's slot was a's, given back when a's call ended.
    const resultOfA = gated.commits.find((w) =>
      w.update?.some((r) => r.id === a && r.status === 'completed'),
    );
    expect(resultOfA?.update?.filter((r) => r.id === b).map((r) => r.status)).toEqual(['running']);
    expect(resultOfA?.ledger?.filter((e) => e.taskId === b).length).toBeGreaterThan(0);
    await gated.inner.close();
  });

  it(`hands a wave of more than ${COMMIT_TASKS} tasks over in commits of about that size, no call before them`, async () => {
    const clock = createClock();
    const gated = new GatedStore(openSqliteStore(':memory:'));
    const n = COMMIT_TASKS + 8;
    const client = new ScriptedClient(clock, latencyScript);
    const engine = new Engine(
      { ...SETTINGS, maxConcurrent: n },
      { client, clock, random: seededRandom(3), store: gated.store, taskTypes: [echoTaskType] },
    );
    await engine.open();
    engine.start();
    gated.close();
    await engine.submitMany(
      Array.from({ length: n }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `p${i}` } })),
    );
    await advance(clock, 50, 5);
    const running = gated.commits.map((w) => w.update?.filter((r) => r.status === 'running') ?? []);
    // The first commit was handed over at COMMIT_TASKS, before the end of the turn.
    expect(running.map((rs) => rs.length).filter((k) => k > 0)).toEqual([COMMIT_TASKS, 8]);
    expect(client.log).toHaveLength(0);
    gated.open();
    await advance(clock, 50, 5);
    expect(client.log).toHaveLength(n);
    await engine.stop();
    await gated.inner.close();
  });

  it('finishes a forced stop only once every task it cancels has settled, however many commits that takes', async () => {
    for (const n of [COMMIT_TASKS - 1, COMMIT_TASKS, COMMIT_TASKS + 1, 2 * COMMIT_TASKS + 3]) {
      const clock = createClock();
      const store = openSqliteStore(':memory:');
      const client = new ScriptedClient(clock, latencyScript);
      const engine = new Engine(
        { ...SETTINGS, maxConcurrent: n },
        { client, clock, random: seededRandom(3), store, taskTypes: [echoTaskType] },
      );
      await engine.open();
      engine.start();
      const ids = await engine.submitMany(
        Array.from({ length: n + 2 }, () => ({ taskType: 'ECHO', data: { prompt: 'slow' } })),
      );
      await advance(clock, 50, 5);
      const told = ids.map((id) =>
        engine.waitFor(id).then(
          () => 'completed',
          (error: Error) => error.name,
        ),
      );
      let stopped = false;
      const stop = engine.stop({ force: true }).then(() => {
        stopped = true;
      });
      // Each waiter hears of its task's cancel before the stop resolves.
      const names = await Promise.all(
        told.map((t) => t.then((name) => (stopped ? `${name} after the stop` : name))),
      );
      await stop;
      // The running ones were cancelled; the two waiting stay queued in the store for a next run
      // (their waiters hear the queue stopped).
      expect(names).toEqual([
        ...Array.from({ length: n }, () => 'TaskCancelledError'),
        'QueueStoppedError',
        'QueueStoppedError',
      ]);
      await store.close();
    }
  });
});
