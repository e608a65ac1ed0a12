/**
 * The engine on the Redis store (issue 19's first step): a process that dies mid-call leaves its
 * lease behind; once it has run out, the next process opens the same prefix and brings back
 * queued, paused and interrupted tasks, runs only what was left, and keeps what completed. Real
 * time over loopback (the Redis at 127.0.0.1:6379), short; nothing asserts on timings.
 */

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AIClient, ChatRequest, ChatResponse } from '../../src/providers/types.js';
import { openRedisStore } from '../../src/redis/index.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import type { TaskStore } from '../../src/stores/types.js';
import { DURABLE_SETTINGS } from '../helpers/engine.js';
import { answerOf, dropPrefix, freshPrefix, REDIS_URL } from '../helpers/redis.js';
import { echoTaskType } from '../helpers/task-types.js';
import { until } from '../helpers/until.js';

const URL = REDIS_URL;
const admin = new Redis(URL, { lazyConnect: true });
const prefix = freshPrefix('durable');

afterAll(async () => {
  await dropPrefix(admin, prefix);
  await admin.quit();
});

const SETTINGS = DURABLE_SETTINGS;

/** The first call whose prompt is `slow` (of any process) hangs; later ones answer. */
let slowHung = false;

/**
 * Answers at once, except the first call whose prompt is `slow`, which hangs until its attempt is
 * aborted (the process "dies" during it).
 */
class HangingClient implements AIClient {
  readonly prompts: string[] = [];

  async chat(request: ChatRequest, options: { signal?: AbortSignal }): Promise<ChatResponse> {
    const prompt = String(request.messages[0]?.content);
    this.prompts.push(prompt);
    if (prompt === 'slow' && !slowHung) {
      slowHung = true;
      const { signal } = options;
      await new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    return answerOf(request);
  }

  async embed(): Promise<never> {
    throw new Error('no embeddings here');
  }
}

interface Run {
  engine: Engine;
  events: EngineEvent[];
}

async function openEngine(store: TaskStore, client: AIClient): Promise<Run> {
  const engine = new Engine(SETTINGS, { client, store, taskTypes: [echoTaskType] });
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  await engine.open();
  engine.start();
  return { engine, events };
}

describe('the engine on the Redis store', () => {
  it('brings back what a process that died mid-call left, and runs only that', async () => {
    const store1 = await openRedisStore({ url: URL, prefix, leaseMs: 1000 });
    const client1 = new HangingClient();
    const first = await openEngine(store1, client1);
    const done = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'fast' } });
    const interrupted = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'slow' } });
    const queued = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'queued' } });
    const paused = await first.engine.submit({ taskType: 'ECHO', data: { prompt: 'paused' } });
    expect(first.engine.pauseTask(paused)).toBe(true);
    await until(
      async () => (await store1.get(interrupted))?.status === 'running',
      'the slow call to start',
    );
    expect((await store1.get(done))?.status).toBe('completed');

    // The process "dies" mid-call: nobody renews its lease, which runs out.
    await admin.del(`${prefix}:owner`);
    const client2 = new HangingClient();
    const second = await openEngine(await openRedisStore({ url: URL, prefix }), client2);
    // The dead process's engine can no longer write (its lease is gone); it is put away.
    await first.engine.stop({ force: true });
    expect(first.events.some((e) => e.type === 'store.error')).toBe(true);

    expect(second.events.find((e) => e.type === 'queue.recovered')).toMatchObject({
      requeued: 2,
      interrupted: 1,
      paused: 1,
      openHolds: 1,
    });
    await until(
      async () => (await second.engine.getTask(queued))?.status === 'completed',
      'the queued task to complete',
    );
    await until(
      async () => (await second.engine.getTask(interrupted))?.status === 'completed',
      'the interrupted task to complete',
    );
    expect(client2.prompts.sort()).toEqual(['queued', 'slow']);
    const back = await second.engine.getTask(interrupted);
    expect(back?.history?.map((h) => [h.status, h.reason])).toEqual([
      ['queued', undefined],
      ['running', undefined],
      ['queued', 'interrupted'],
      ['running', undefined],
      ['completed', undefined],
    ]);
    expect((await second.engine.getTask(done))?.result).toBe('answer to fast');
    expect((await second.engine.getTask(paused))?.status).toBe('paused');
    await second.engine.stop();
    await second.engine.store.close();
    await store1.close();
  });
});
