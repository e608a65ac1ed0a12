/**
 * End to end (issue 19, the shared queue with real processes): one submitter (this test) adds
 * 2,000 classifications to a queue on the local Redis; three worker processes
 * (`fixtures/queue-worker.ts`) take them, sharing a 100-a-second request window, a 20,000-a-second
 * token window and a budget that runs out before the last task. One worker is killed with SIGKILL
 * mid-run. Counted from the simulator's arrival-stamped log: no window ever held more than its
 * limit; every task ended once; a task called twice is one whose attempt the killed worker had
 * in flight (its history says interrupted), and none that completed was run again; what the
 * workers were charged lies between what the simulator billed and the budget. Real time over
 * loopback, about 20 s; nothing asserts on timings.
 */

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { openSharedLimits, openSharedQueue } from '../../src/redis/index.js';
import { type FixtureProcess, runFixture } from '../helpers/processes.js';
import { dropPrefix, freshPrefix, REDIS_URL } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const prefix = freshPrefix('squeue-procs');
const admin = new Redis(REDIS_URL);
const TASKS = 2000;
const BUDGET_MICROS = 300_000;

afterAll(async () => {
  await dropPrefix(admin, prefix);
  await admin.quit();
});

type Worker = FixtureProcess;

function startWorker(sim: Simulator, name: string): Worker {
  return runFixture('test/e2e/fixtures/queue-worker.ts', [REDIS_URL, prefix, sim.url, name]);
}

/** The most entries of `items` in any window of `windowMs` (by arrival), weighed by `weight`. */
function busiestWindow<T extends { at: number }>(
  items: readonly T[],
  windowMs: number,
  weight: (item: T) => number,
): number {
  const sorted = [...items].sort((a, b) => a.at - b.at);
  let most = 0;
  let sum = 0;
  let start = 0;
  for (const item of sorted) {
    sum += weight(item);
    while ((sorted[start] as T).at <= item.at - windowMs) sum -= weight(sorted[start++] as T);
    most = Math.max(most, sum);
  }
  return most;
}

describe('a shared queue: one submitter, three worker processes, one killed', () => {
  it('runs every task once within the shared windows and budget', async () => {
    const sim = await startSimulator({
      limits: { requests: 100, windowMs: 1_000 },
      latency: { kind: 'fixed', ms: 30 },
      logLimit: 20_000,
    });
    const queue = await openSharedQueue({ url: REDIS_URL, prefix });
    const ids = await queue.submitBatch(
      Array.from({ length: TASKS }, (_, i) => ({
        taskType: 'TEXT_CLASSIFICATION',
        data: { text: `item ${i}: which one is it?`, categories: ['a', 'b'] },
        priority: i % 10 === 0 ? ('HIGH' as const) : ('MEDIUM' as const),
      })),
    );
    const workers = ['a', 'b', 'c'].map((name) => startWorker(sim, name));
    try {
      const victim = workers[2] as Worker;
      await until(() => victim.lines.length > 0, 'the third worker to start');
      await until(() => sim.stats().log.length >= 400, 'the first 400 calls');
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      // Polled, not waited for task by task: the simulator answers in this process, and its
      // arrival stamps should not wait for this process's own work.
      await until(
        async () => {
          const { tasks } = await queue.getStatistics();
          return tasks.completed + tasks.failed + tasks.cancelled === TASKS;
        },
        'every task to end',
        90_000,
      );
      const infos = await Promise.all(ids.map((id) => queue.getTaskStatus(id)));
      const completed = infos.filter((info) => info?.status === 'completed').length;
      const overBudget = infos.filter(
        (info) => info?.status === 'failed' && info.error?.code === 'BUDGET_EXCEEDED',
      ).length;
      expect(completed + overBudget).toBe(TASKS);
      expect(completed).toBeGreaterThan(TASKS / 4);
      expect(overBudget).toBeGreaterThan(0);
      const done = ids.find((_, i) => infos[i]?.status === 'completed') as string;
      await expect(queue.waitForTask(done)).resolves.toHaveProperty('category');

      // The simulator's own count: no 429, and no window over its limit.
      const { log, promptTokens, completionTokens } = sim.stats();
      const calls = log.filter((e) => e.path === '/v1/chat/completions');
      expect(calls.filter((e) => e.status === 429)).toEqual([]);
      expect(busiestWindow(calls, 1000, () => 1)).toBeLessThanOrEqual(100);
      expect(
        busiestWindow(calls, 1000, (e) => e.promptTokens + (e.maxTokens ?? 0)),
      ).toBeLessThanOrEqual(20_000);

      // Once: a task called twice had its first call in flight in the killed worker.
      const callsOf = new Map<string, number>();
      for (const call of calls) {
        callsOf.set(call.taskId ?? '', (callsOf.get(call.taskId ?? '') ?? 0) + 1);
      }
      const twice = [...callsOf].filter(([, n]) => n > 1).map(([id]) => id);
      expect(twice.length).toBeLessThanOrEqual(10);
      for (const id of twice) {
        const info = await queue.getTaskStatus(id);
        expect(callsOf.get(id)).toBe(2);
        expect(info?.history.some((h) => h.reason === 'interrupted')).toBe(true);
      }
      const stats = await queue.getStatistics();
      expect(stats.tasks).toMatchObject({ completed, failed: overBudget, queued: 0, running: 0 });

      // The money: between what the simulator billed and the budget, once the dead worker's
      // lease (1 s) has run out and its holds were charged.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const reader = await openSharedLimits({ url: REDIS_URL, prefix });
      const spending = await reader.spending(Date.now());
      await reader.close();
      expect(spending.held).toBe(0);
      expect(spending.total).toBeGreaterThanOrEqual(promptTokens + 2 * completionTokens);
      expect(spending.total).toBeLessThanOrEqual(BUDGET_MICROS);
    } finally {
      for (const worker of workers.slice(0, 2)) worker.child.kill('SIGTERM');
      for (const worker of workers) await worker.exited;
      await queue.close();
      await sim.close();
    }
  }, 120_000);
});
