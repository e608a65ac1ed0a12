/**
 * End to end (issue 19, shared limits with real processes): three processes of one queue
 * (`fixtures/shared-worker.ts`), each with its own tasks, share a 10-a-second window and a budget
 * on the local Redis, against one simulator that enforces the window. One is killed with SIGKILL
 * mid-run. By the simulator's own count: no answer of 429; by the money: what every process
 * together was charged is at least what the simulator billed (the dead one's holds are charged
 * at their worst case once its lease ran out), and no more than the budget. Real time over
 * loopback; nothing asserts on timings.
 */

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { openSharedLimits } from '../../src/redis/index.js';
import { type FixtureProcess, runFixture } from '../helpers/processes.js';
import { dropPrefix, freshPrefix, REDIS_URL } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const prefix = freshPrefix('procs');
const admin = new Redis(REDIS_URL);
const BUDGET_MICROS = 4_000;

afterAll(async () => {
  await dropPrefix(admin, prefix);
  await admin.quit();
});

type Worker = FixtureProcess;

function startWorker(sim: Simulator, name: string, tasks: number): Worker {
  return runFixture('test/e2e/fixtures/shared-worker.ts', [
    REDIS_URL,
    prefix,
    sim.url,
    String(tasks),
    name,
  ]);
}

describe('three processes sharing limits on Redis, one killed', () => {
  it('keep the window and the budget: no 429, charged at least what was billed, no more than the budget', async () => {
    const sim = await startSimulator({
      limits: { requests: 10, windowMs: 1_000 },
      latency: { kind: 'fixed', ms: 20 },
      logLimit: 10_000,
    });
    const workers = ['a', 'b', 'c'].map((name) => startWorker(sim, name, 25));
    try {
      const victim = workers[2] as Worker;
      // Killed once its calls are going out, with some of them in flight.
      await until(
        () => sim.stats().log.filter((e) => e.model !== '').length >= 12,
        'the first calls',
      );
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      for (const worker of workers.slice(0, 2)) {
        expect(await worker.exited).toBe(0);
        const last = JSON.parse(worker.lines[worker.lines.length - 1] ?? '{}');
        expect(last.completed + last.overBudget).toBe(25);
        expect(last.other).toBe(0);
      }
      const { log, promptTokens, completionTokens } = sim.stats();
      expect(log.filter((e) => e.status === 429)).toEqual([]);
      // Once the dead process's lease (1 s) has run out, any process's word charges its holds.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const reader = await openSharedLimits({ url: REDIS_URL, prefix });
      const spending = await reader.spending(Date.now());
      await reader.close();
      // $1 and $2 per million tokens: 1 and 2 µ$ a token.
      const billed = promptTokens + 2 * completionTokens;
      expect(spending.held).toBe(0);
      expect(spending.total).toBeGreaterThanOrEqual(billed);
      expect(spending.total).toBeLessThanOrEqual(BUDGET_MICROS);
    } finally {
      for (const worker of workers) worker.child.kill('SIGKILL');
      await sim.close();
    }
  }, 60_000);
});
