/**
 * The shared queue on BullMQ (issue 19), in one process: a submitter's queue and managers that
 * work for it, against the simulator, on the local Redis. Real time over loopback, short.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type AITaskManager,
  createAITaskManager,
  OpenAICompatibleClient,
  TaskCancelledError,
  TaskNotFoundError,
  ValidationError,
} from '../../src/index.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import type { AIClient } from '../../src/providers/types.js';
import { openSharedQueue, type RedisSharedQueue } from '../../src/redis/index.js';
import { dropPrefix, freshPrefix, REDIS_URL, SpareRedis } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const admin = new Redis(REDIS_URL);
const prefixes: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const prefix of prefixes) await dropPrefix(admin, prefix);
  await admin.quit();
});

async function setUp(
  simOptions: Parameters<typeof startSimulator>[0] = {},
  queueOptions: Record<string, unknown> = {},
): Promise<{ sim: Simulator; queue: RedisSharedQueue; prefix: string }> {
  const prefix = freshPrefix('squeue');
  prefixes.push(prefix);
  const sim = await startSimulator({ latency: { kind: 'fixed', ms: 5 }, ...simOptions });
  const queue = await openSharedQueue({ url: REDIS_URL, prefix, ...queueOptions });
  cleanups.push(async () => {
    await queue.close();
    await sim.close();
  });
  return { sim, queue, prefix };
}

async function worker(
  sim: Simulator,
  prefix: string,
  options: Record<string, unknown> = {},
  queueOptions: Record<string, unknown> = {},
): Promise<{ manager: AITaskManager; queue: RedisSharedQueue }> {
  const queue = await openSharedQueue({ url: REDIS_URL, prefix, lockMs: 2000, ...queueOptions });
  const manager = await createAITaskManager({
    aiClient: new OpenAICompatibleClient({ baseURL: sim.url }),
    sharedQueue: queue,
    maxConcurrent: 5,
    ...options,
  });
  cleanups.push(async () => {
    await manager.stop();
    await queue.close();
  });
  return { manager, queue };
}

function classify(i: number) {
  return {
    taskType: 'TEXT_CLASSIFICATION',
    data: { text: `item ${i}: is it a or b?`, categories: ['a', 'b'] },
  };
}

describe('a shared queue', () => {
  it('sends an attempt’s call only once its job says it runs', async () => {
    // So a worker that dies after the call went out leaves a job whose next worker records the
    // attempt as interrupted (the multi-process e2e kills one).
    const { sim, queue, prefix } = await setUp();
    const inner = new OpenAICompatibleClient({ baseURL: sim.url });
    const seen: (string | undefined)[] = [];
    const aiClient: AIClient = {
      chat: async (request, options) => {
        seen.push((await queue.getTaskStatus(options.taskId ?? ''))?.status);
        return inner.chat(request, options);
      },
      embed: (request, options) => inner.embed(request, options),
    };
    await worker(sim, prefix, { aiClient });
    const ids = await queue.submitBatch(Array.from({ length: 12 }, (_, i) => classify(i)));
    await Promise.all(ids.map((id) => queue.waitForTask(id)));
    expect(seen).toEqual(ids.map(() => 'running'));
  });

  it('runs what a submitter adds on the workers, and reports each task once', async () => {
    const { sim, queue, prefix } = await setUp();
    const ids = await queue.submitBatch(Array.from({ length: 40 }, (_, i) => classify(i)));
    expect(new Set(ids).size).toBe(40);
    const a = await worker(sim, prefix);
    const b = await worker(sim, prefix);
    const results = await Promise.all(ids.map((id) => queue.waitForTask(id)));
    for (const result of results) expect(result).toHaveProperty('category');
    const info = await queue.getTaskStatus(ids[0] as string);
    expect(info?.status).toBe('completed');
    expect(info?.metrics.calls).toBe(1);
    const stats = await queue.getStatistics();
    expect(stats.tasks).toMatchObject({ completed: 40, failed: 0, queued: 0, running: 0 });
    expect(stats.usage.calls).toBe(40);
    expect(stats.workers).toBe(2);
    expect(sim.stats().requests).toBe(40);
    // A worker's own statistics carry the whole queue's, beside what it ran itself.
    const [ofA, ofB] = await Promise.all([a.manager.getStatistics(), b.manager.getStatistics()]);
    expect(ofA.tasks.shared).toEqual(stats);
    expect(ofA.performance.totalSucceeded + ofB.performance.totalSucceeded).toBe(40);
  });

  it('refuses bad input with a typed error naming the field, and adds nothing', async () => {
    const { queue } = await setUp();
    await expect(
      queue.submitBatch([classify(1), { taskType: 'TEXT_CLASSIFICATION', data: { text: 3 } }]),
    ).rejects.toThrow(/tasks\[1\]\.data/);
    await expect(queue.submitTask({ taskType: 'NOPE', data: {} })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      queue.submitTask({ ...classify(1), config: { onComplete: () => 1 } as never }),
    ).rejects.toThrow(/onComplete/);
    await expect(queue.submitTask({ ...classify(1), id: 'a:b' })).rejects.toThrow(/task\.id/);
    expect((await queue.getStatistics()).tasks.total).toBe(0);
  });

  it('gives one id to one idempotency key', async () => {
    const { queue } = await setUp();
    const a = await queue.submitTask({ ...classify(1), idempotencyKey: 'row-1' });
    const b = await queue.submitTask({ ...classify(1), idempotencyKey: 'row-1' });
    expect(b).toBe(a);
    expect((await queue.getStatistics()).tasks.queued).toBe(1);
  });

  it('retries through the queue: a failed attempt waits as a delayed job', async () => {
    const { sim, queue, prefix } = await setUp({ faults: { error500: 0.5 }, seed: 7 });
    const ids = await queue.submitBatch(
      Array.from({ length: 20 }, (_, i) => ({
        ...classify(i),
        config: { retryDelay: 0.05, maxRetries: 10 },
      })),
    );
    await worker(sim, prefix);
    await Promise.all(ids.map((id) => queue.waitForTask(id)));
    const infos = await Promise.all(ids.map((id) => queue.getTaskStatus(id)));
    const retried = infos.filter((info) => (info?.attempts ?? 0) > 1);
    expect(retried.length).toBeGreaterThan(0);
    const one = retried[0];
    expect(one?.history.map((h) => h.status)).toContain('retrying');
    expect(one?.metrics.calls).toBe(one?.attempts);
  });

  it('cancels a waiting task at once, and a running one through its worker', async () => {
    const { sim, queue, prefix } = await setUp({ latency: { kind: 'fixed', ms: 400 } });
    const [running, waiting] = await queue.submitBatch([
      { ...classify(1), priority: 'HIGH' },
      { ...classify(2), priority: 'LOW' },
    ]);
    await worker(sim, prefix, { maxConcurrent: 1 });
    await until(
      async () => (await queue.getTaskStatus(running as string))?.status === 'running',
      'the first task to run',
    );
    expect(await queue.cancelTask(waiting as string)).toBe(true);
    expect((await queue.getTaskStatus(waiting as string))?.status).toBe('cancelled');
    await expect(queue.waitForTask(waiting as string)).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await queue.cancelTask(running as string)).toBe(true);
    await expect(queue.waitForTask(running as string)).rejects.toBeInstanceOf(TaskCancelledError);
    expect((await queue.getTaskStatus(running as string))?.status).toBe('cancelled');
    expect(await queue.cancelTask(running as string)).toBe(false);
    expect((await queue.getStatistics()).tasks.cancelled).toBe(2);
    await expect(queue.waitForTask('no-such-task')).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('pauses and resumes every worker', async () => {
    const { sim, queue, prefix } = await setUp();
    const { manager } = await worker(sim, prefix);
    await queue.pause();
    await until(() => manager.isPaused(), 'the worker to pause');
    const id = await queue.submitTask(classify(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await queue.getTaskStatus(id))?.status).toBe('queued');
    expect((await queue.getStatistics()).paused).toBe(true);
    await queue.resume();
    await queue.waitForTask(id);
    expect(manager.isPaused()).toBe(false);
  });

  it('hands what waits in a stopping worker back to the queue', async () => {
    const { sim, queue, prefix } = await setUp({ latency: { kind: 'fixed', ms: 200 } });
    const ids = await queue.submitBatch(Array.from({ length: 10 }, (_, i) => classify(i)));
    const first = await worker(sim, prefix, { maxConcurrent: 2 });
    await until(async () => (await queue.getStatistics()).tasks.completed >= 1, 'a first task');
    await first.manager.stop();
    await worker(sim, prefix);
    await Promise.all(ids.map((id) => queue.waitForTask(id)));
    const stats = await queue.getStatistics();
    expect(stats.tasks.completed).toBe(10);
    expect(sim.stats().requests).toBe(10);
  });

  it('ends both stops when a forced stop follows a plain one (a second Ctrl-C)', async () => {
    const { sim, queue, prefix } = await setUp({ latency: { kind: 'fixed', ms: 2_000 } });
    const ids = await queue.submitBatch(Array.from({ length: 10 }, (_, i) => classify(i)));
    const first = await worker(sim, prefix, { maxConcurrent: 2 });
    await until(async () => (await queue.getStatistics()).tasks.running >= 2, 'two running tasks');
    // A task counts as running in Redis just before its call goes out: let the calls leave.
    await new Promise((resolve) => setTimeout(resolve, 300));
    let plainEnded = false;
    const plain = first.manager.stop().then(() => {
      plainEnded = true;
    });
    // The plain stop waits for the two running calls (2 s each) by now.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(plainEnded).toBe(false);
    const forced = first.manager.stop({ force: true });
    await Promise.all([plain, forced]);
    // What the forced stop aborted went back to the queue: another worker runs everything, and
    // the aborted calls were sent again (the simulator counts each request once it ends).
    await worker(sim, prefix);
    await Promise.all(ids.map((id) => queue.waitForTask(id)));
    expect((await queue.getStatistics()).tasks.completed).toBe(10);
    expect(sim.stats().requests).toBeGreaterThan(10);
    expect(sim.stats().requests).toBeLessThanOrEqual(12);
  });

  it('stops while a call fails: the retry goes back to the queue, another worker runs it', async () => {
    const { sim, queue, prefix } = await setUp({
      latency: { kind: 'fixed', ms: 300 },
      faults: { error500: 1 },
    });
    const id = await queue.submitTask({
      ...classify(1),
      config: { maxRetries: 1, retryDelay: 0.1 },
    });
    const first = await worker(sim, prefix);
    await until(async () => (await queue.getTaskStatus(id))?.status === 'running', 'its call');
    // The call fails while the worker stops: stop() ends, the retry waits in Redis.
    await first.manager.stop();
    expect((await queue.getTaskStatus(id))?.status).toBe('retrying');
    await worker(sim, prefix);
    await expect(queue.waitForTask(id)).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
    const info = await queue.getTaskStatus(id);
    expect(info?.attempts).toBe(2);
    expect(info?.metrics.calls).toBe(2);
  });

  it('keeps the lock of a call longer than the lock: no other worker takes it', async () => {
    const { sim, queue, prefix } = await setUp({ latency: { kind: 'fixed', ms: 2500 } });
    const id = await queue.submitTask(classify(1));
    const short = { lockMs: 1000, stalledIntervalMs: 500 };
    await worker(sim, prefix, {}, short);
    await worker(sim, prefix, {}, short);
    await queue.waitForTask(id);
    expect(sim.stats().requests).toBe(1);
    const info = await queue.getTaskStatus(id);
    expect(info?.attempts).toBe(1);
    expect(info?.history.map((h) => h.status)).toEqual(['queued', 'running', 'completed']);
  });

  it('goes on through a Redis blip: every connection of the queue killed mid-run', async () => {
    const { sim, queue, prefix } = await setUp({ latency: { kind: 'fixed', ms: 20 } });
    const ids = await queue.submitBatch(Array.from({ length: 300 }, (_, i) => classify(i)));
    const short = { lockMs: 1000, stalledIntervalMs: 500 };
    await worker(sim, prefix, {}, short);
    await worker(sim, prefix, {}, short);
    await until(async () => (await queue.getStatistics()).tasks.completed >= 60, 'a fifth done');
    const clients = String(await admin.client('LIST')).split('\n');
    const ours = clients
      .filter((line) => line.includes(` name=aitq:${prefix} `) || line.includes(prefix))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]);
    expect(ours.length).toBeGreaterThan(4);
    for (const id of ours) await admin.client('KILL', 'ID', String(id));
    await until(
      async () => (await queue.getStatistics()).tasks.completed === 300,
      'every task to complete',
      30_000,
    );
    const infos = await Promise.all(ids.map((id) => queue.getTaskStatus(id)));
    expect(infos.every((info) => info?.status === 'completed')).toBe(true);
    // Each task called once: a blip interrupts no call.
    const calls = new Map<string, number>();
    for (const entry of sim.stats().log) {
      calls.set(entry.taskId ?? '', (calls.get(entry.taskId ?? '') ?? 0) + 1);
    }
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(calls.size).toBe(300);
  }, 60_000);

  it('goes on through a restart of a Redis that writes every command to its AOF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aitq-queue-aof-'));
    const server = await SpareRedis.withAof(dir);
    const sim = await startSimulator({ latency: { kind: 'fixed', ms: 20 } });
    const options = { url: server.url, prefix: 'restart', lockMs: 1000, stalledIntervalMs: 500 };
    const queue = await openSharedQueue(options);
    const workerQueue = await openSharedQueue(options);
    const manager = await createAITaskManager({
      aiClient: new OpenAICompatibleClient({ baseURL: sim.url }),
      sharedQueue: workerQueue,
      maxConcurrent: 5,
    });
    try {
      const ids = await queue.submitBatch(Array.from({ length: 200 }, (_, i) => classify(i)));
      await until(async () => (await queue.getStatistics()).tasks.completed >= 40, 'a fifth');
      await server.restart();
      await until(
        async () => (await queue.getStatistics().catch(() => undefined))?.tasks.completed === 200,
        'every task to complete after the restart',
        40_000,
      );
      const infos = await Promise.all(ids.map((id) => queue.getTaskStatus(id)));
      expect(infos.every((info) => info?.status === 'completed')).toBe(true);
      // A call in flight at the restart may be made again (its worker's lock ran out meanwhile):
      // at most the five that ran, and each such task's history says interrupted.
      const calls = new Map<string, number>();
      for (const entry of sim.stats().log) {
        calls.set(entry.taskId ?? '', (calls.get(entry.taskId ?? '') ?? 0) + 1);
      }
      expect(calls.size).toBe(200);
      const again = [...calls].filter(([, n]) => n > 1);
      expect(again.length).toBeLessThanOrEqual(5);
    } finally {
      await manager.stop({ force: true });
      await workerQueue.close();
      await queue.close();
      await sim.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
