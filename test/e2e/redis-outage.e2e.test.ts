/**
 * The engine on the Redis store while Redis goes away under it: a blip (the store's connections
 * killed with `CLIENT KILL`, on the shared Redis) and a restart (a Redis with `appendfsync
 * always` on a spare port, killed with SIGKILL and started again on the same files). Every task
 * ends once, every call is made once, the store holds every result, and no write is applied twice
 * (the ledger has one budget commit per call). Real time over loopback; nothing asserts on timings.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AIClient, ChatRequest, ChatResponse } from '../../src/providers/types.js';
import { openRedisStore, type RedisTaskStore } from '../../src/redis/index.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { answerOf, dropPrefix, freshPrefix, REDIS_URL, SpareRedis } from '../helpers/redis.js';
import { echoTaskType } from '../helpers/task-types.js';

const TASKS = 300;
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Answers each call after a few milliseconds of real time; counts the calls per prompt. */
class CountingClient implements AIClient {
  readonly calls = new Map<string, number>();

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const prompt = String(request.messages[0]?.content);
    this.calls.set(prompt, (this.calls.get(prompt) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 2));
    return answerOf(request);
  }

  async embed(): Promise<never> {
    throw new Error('no embeddings here');
  }
}

/** Runs TASKS tasks on `store`; `outage` is called once a third of them completed. */
async function runThrough(store: RedisTaskStore, outage: () => Promise<void>) {
  const client = new CountingClient();
  const engine = new Engine(
    {
      model: 'm',
      maxConcurrent: 10,
      budgetLimit: 1000,
      prices: { m: { input: 1, output: 2 } },
      taskDefaults: { maxTokens: 20 },
    },
    { client, store, taskTypes: [echoTaskType] },
  );
  const events: EngineEvent[] = [];
  let completed = 0;
  let outageDone: Promise<void> | undefined;
  engine.events$.subscribe((event) => {
    events.push(event);
    if (event.type === 'task.completed' && ++completed === TASKS / 3) outageDone = outage();
  });
  await engine.open();
  engine.start();
  await engine.submitMany(
    Array.from({ length: TASKS }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `p${i}` } })),
  );
  await engine.onIdle();
  await outageDone;
  await engine.stop();
  return { client, events };
}

/** What the run left in the store: every task completed, one budget commit per task. */
async function expectWholeRun(store: RedisTaskStore, run: Awaited<ReturnType<typeof runThrough>>) {
  expect(run.events.filter((e) => e.type === 'store.error')).toEqual([]);
  expect([...run.client.calls.values()].every((n) => n === 1)).toBe(true);
  expect(run.client.calls.size).toBe(TASKS);
  expect((await store.countByStatus()).completed).toBe(TASKS);
  const commits = new Map<string, number>();
  for (let after = 0; ; ) {
    const page = await store.readLedger({ after });
    if (page.length === 0) break;
    for (const entry of page) {
      if ((entry.event as { type?: string }).type !== 'budget.commit') continue;
      const id = entry.taskId ?? '';
      commits.set(id, (commits.get(id) ?? 0) + 1);
    }
    after = page[page.length - 1]?.seq ?? after;
  }
  expect(commits.size).toBe(TASKS);
  expect([...commits.values()].every((n) => n === 1)).toBe(true);
}

describe('the Redis store through an outage', () => {
  it('goes on through a blip: its connections killed mid-run', async () => {
    const prefix = freshPrefix('blip');
    const admin = new Redis(REDIS_URL);
    const store = await openRedisStore({ url: REDIS_URL, prefix });
    try {
      const run = await runThrough(store, async () => {
        const clients = await admin.client('LIST');
        const ids = String(clients)
          .split('\n')
          .filter((line) => line.includes(` name=aitq:${prefix} `))
          .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]);
        expect(ids.length).toBeGreaterThan(0);
        for (const id of ids) await admin.client('KILL', 'ID', String(id));
      });
      await expectWholeRun(store, run);
    } finally {
      await store.close();
      await dropPrefix(admin, prefix);
      await admin.quit();
    }
  });

  it('goes on through a restart of a Redis that writes every command to its AOF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aitq-redis-aof-'));
    dirs.push(dir);
    const server = await SpareRedis.withAof(dir);
    try {
      const store = await openRedisStore({ url: server.url });
      try {
        const run = await runThrough(store, () => server.restart());
        await expectWholeRun(store, run);
      } finally {
        await store.close();
      }
    } finally {
      await server.stop();
    }
  });
});
