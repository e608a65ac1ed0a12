/**
 * End to end (issue 15, errors waiting cannot cure): the manager, with the
 * `OpenAICompatibleClient`, against the simulator answering `429 insufficient_quota`. The first
 * call fails its task at once (not retried as a rate limit); every other task fails with the
 * same error without a request, whatever its model. Real time over loopback; nothing asserts on
 * timings.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AITaskManager,
  createAITaskManager,
  OpenAICompatibleClient,
  ProviderRefusedError,
} from '../../src/index.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { TaskType } from '../../src/task-types/builtin/index.js';

const TASKS = 20;

let sim: Simulator;
let manager: AITaskManager;

beforeAll(async () => {
  sim = await startSimulator({ faults: { outOfCredit: 1 } });
  manager = await createAITaskManager({
    maxConcurrent: 1,
    aiClient: new OpenAICompatibleClient({ baseURL: sim.url }),
    taskDefaults: { maxRetries: 3, maxRateLimitRetries: 10, retryDelay: 0.01 },
  });
});

afterAll(async () => {
  await manager.stop({ force: true });
  await sim.close();
});

describe('an account out of credit', () => {
  it('fails every task at once with ProviderRefusedError, after one request', async () => {
    const ids = await manager.submitBatch(
      Array.from({ length: TASKS }, (_, i) => ({
        taskType: TaskType.TEXT_CLASSIFICATION,
        data: { text: `ticket ${i}`, categories: ['bug', 'question'] },
        ...(i % 2 === 0 ? {} : { config: { model: 'gpt-4o' } }),
      })),
    );
    const outcomes = await Promise.allSettled(ids.map((id) => manager.waitForTask(id)));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status !== 'rejected') continue;
      expect(outcome.reason).toBeInstanceOf(ProviderRefusedError);
      expect(outcome.reason).toMatchObject({
        code: 'PROVIDER_REFUSED',
        status: 429,
        providerCode: 'insufficient_quota',
        scope: 'provider',
      });
    }
    expect(sim.stats().requests).toBe(1);
    const statistics = await manager.getStatistics();
    expect(statistics.performance.totalFailed).toBe(TASKS);
  });
});
