/**
 * End to end (issue 19, shared limits): two managers, as two processes of one queue would be,
 * each given the shared limits on the local Redis, against one simulator that enforces the same
 * window. Each alone may send the whole window; together they keep to it, by the simulator's
 * own count: no answer of 429. A shared budget holds across both. Real time over loopback.
 */

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AITaskManager,
  BudgetExceededError,
  createAITaskManager,
  OpenAICompatibleClient,
} from '../../src/index.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { openSharedLimits, type RedisSharedLimits } from '../../src/redis/index.js';
import { dropPrefix, freshPrefix, REDIS_URL } from '../helpers/redis.js';

const admin = new Redis(REDIS_URL);
const prefixes: string[] = [];

afterAll(async () => {
  for (const prefix of prefixes) await dropPrefix(admin, prefix);
  await admin.quit();
});

/** Two managers (two "processes"), each with its own connection to the shared limits. */
async function twoProcesses(
  sim: Simulator,
  options: Record<string, unknown>,
): Promise<{ managers: AITaskManager[]; limits: RedisSharedLimits[] }> {
  const prefix = freshPrefix('shared');
  prefixes.push(prefix);
  const limits = [
    await openSharedLimits({ url: REDIS_URL, prefix }),
    await openSharedLimits({ url: REDIS_URL, prefix }),
  ];
  const managers = await Promise.all(
    limits.map((sharedLimits) =>
      createAITaskManager({
        aiClient: new OpenAICompatibleClient({ baseURL: sim.url }),
        sharedLimits,
        taskDefaults: { maxRateLimitRetries: 20 },
        // The simulator runs in this process, beside both managers (see learned-limits.e2e).
        windowMarginMs: 250,
        ...options,
      }),
    ),
  );
  return { managers, limits };
}

async function shutDown(run: { managers: AITaskManager[]; limits: RedisSharedLimits[] }) {
  for (const manager of run.managers) await manager.stop({ force: true });
  for (const limits of run.limits) await limits.close();
}

/** Submits `n` classifications to each manager and waits for every one of them to end. */
async function submitToEach(
  managers: readonly AITaskManager[],
  n: number,
): Promise<PromiseSettledResult<unknown>[]> {
  const outcomes = await Promise.all(
    managers.map(async (manager, i) => {
      const ids = await manager.submitBatch(classifications(n, `p${i}`));
      return Promise.allSettled(ids.map((id) => manager.waitForTask(id)));
    }),
  );
  return outcomes.flat();
}

function classifications(n: number, from: string) {
  return Array.from({ length: n }, (_, i) => ({
    taskType: 'TEXT_CLASSIFICATION',
    data: { text: `${from} item ${i}: one window for both.`, categories: ['a', 'b'] },
  }));
}

describe('limits shared by two processes', () => {
  it('keep one request window between them: no 429 from a server that enforces it', async () => {
    const sim = await startSimulator({
      limits: { requests: 10, windowMs: 1_000 },
      logLimit: 1_000,
    });
    const run = await twoProcesses(sim, {
      maxConcurrent: 10,
      windows: [{ requests: 10, windowMs: 1_000 }],
    });
    try {
      const outcomes = await submitToEach(run.managers, 15);
      expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
      const { log } = sim.stats();
      expect(log).toHaveLength(30);
      expect(log.filter((e) => e.status === 429)).toEqual([]);
    } finally {
      await shutDown(run);
      await sim.close();
    }
  });

  it('learn the server’s limit from either one’s headers: 429s only in the first bursts', async () => {
    const sim = await startSimulator({
      limits: { requests: 10, windowMs: 1_000 },
      logLimit: 1_000,
    });
    // Nothing configured: each process alone would learn 10 a second, and both would send it.
    const run = await twoProcesses(sim, { maxConcurrent: 5 });
    try {
      const outcomes = await submitToEach(run.managers, 20);
      expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
      const { log } = sim.stats();
      const first = log[0]?.at ?? 0;
      const refused = log.filter((e) => e.status === 429).map((e) => e.at - first);
      // The first calls of both left before any header; once one process has read the limit,
      // both keep to it (without the shared hints, 20 a second would go on meeting 429s).
      expect(refused.filter((t) => t >= 2_000)).toEqual([]);
      expect(refused.length).toBeLessThanOrEqual(10);
    } finally {
      await shutDown(run);
      await sim.close();
    }
  });

  it('keep one budget between them: together they spend no more than it', async () => {
    const sim = await startSimulator({ logLimit: 1_000 });
    // 40 tasks of about 150 µ$ each at this price; a budget for about a third of them.
    const budgetLimit = 0.002;
    const run = await twoProcesses(sim, {
      maxConcurrent: 4,
      budgetLimit,
      model: 'gpt-4o-mini',
      prices: { 'gpt-4o-mini': { input: 1, output: 2 } },
      taskDefaults: { maxTokens: 50 },
    });
    try {
      const outcomes = await submitToEach(run.managers, 20);
      const all = outcomes;
      const refused = all.filter(
        (o) => o.status === 'rejected' && o.reason instanceof BudgetExceededError,
      );
      expect(refused.length).toBeGreaterThan(0);
      expect(all.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(0);
      const spent = await run.limits[0]?.spending(Date.now());
      expect(spent?.held).toBe(0);
      expect(spent?.total).toBeLessThanOrEqual(budgetLimit * 1_000_000);
      const costs = await Promise.all(run.managers.map((m) => m.getStatistics()));
      const local = costs.reduce((sum, s) => sum + s.cost.total.cost, 0);
      expect(local).toBeLessThanOrEqual(budgetLimit + 1e-9);
      // Each process's statistics show the budget they keep together.
      for (const stats of costs) {
        expect(stats.cost.shared?.total.cost).toBeCloseTo(local, 9);
        expect(stats.cost.shared?.total.limit).toBe(budgetLimit);
        expect(stats.cost.shared?.held).toBe(0);
      }
    } finally {
      await shutDown(run);
      await sim.close();
    }
  });
});
