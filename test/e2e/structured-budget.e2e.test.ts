/**
 * End to end (issue 15): a budget is not overspent by structured task types. The manager, with
 * the `OpenAICompatibleClient`, against the simulator, which bills a `json_schema` response
 * format as prompt tokens as OpenAI does. Every answer is cut at `max_tokens`, so every call
 * costs its whole worst case: a worst case that left the schema out was overspent here ($0.006
 * budget, $0.0063 billed). Real time over loopback; nothing asserts on timings.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AITaskManager,
  createAITaskManager,
  OpenAICompatibleClient,
} from '../../src/index.js';
import { costMicros, resolvePrice } from '../../src/limits/index.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { TaskType } from '../../src/task-types/builtin/index.js';

const MODEL = 'gpt-4o';
const BUDGET = 0.006;
const CATEGORY_SETS = [
  ['web', 'data', 'ml'],
  ['positive', 'negative', 'neutral', 'mixed'],
  ['bug report', 'feature request', 'question', 'documentation', 'security issue'],
];
const TASKS = 40;

let sim: Simulator;
let manager: AITaskManager;

beforeAll(async () => {
  sim = await startSimulator({ seed: 15, logLimit: TASKS * 2 });
  manager = await createAITaskManager({
    model: MODEL,
    // Far below any classification answer: every call is billed its full max_tokens.
    maxTokens: 12,
    maxConcurrent: 10,
    budgetLimit: BUDGET,
    aiClient: new OpenAICompatibleClient({ baseURL: sim.url }),
    taskDefaults: { maxRetries: 0 },
  });
});

afterAll(async () => {
  await manager.stop({ force: true });
  await sim.close();
});

describe('a budget with structured tasks against a server that bills the schema', () => {
  it('is never exceeded, by the server’s bill or the queue’s count', async () => {
    const ids = await manager.submitBatch(
      Array.from({ length: TASKS }, (_, i) => ({
        taskType: TaskType.TEXT_CLASSIFICATION,
        data: {
          text: `Support ticket ${i}: the login page times out after the update.`,
          categories: CATEGORY_SETS[i % CATEGORY_SETS.length] ?? [],
        },
      })),
    );
    const outcomes = await Promise.allSettled(ids.map((id) => manager.waitForTask(id)));
    const codes = outcomes.map((o) =>
      o.status === 'rejected' ? String((o.reason as { code?: string }).code) : 'ok',
    );
    // Every call ran out of max_tokens (INVALID_ANSWER); the budget refused the rest.
    expect(new Set(codes)).toEqual(new Set(['INVALID_ANSWER', 'BUDGET_EXCEEDED']));

    const stats = sim.stats();
    const price = resolvePrice(MODEL);
    if (price === undefined) throw new Error(`${MODEL} has no price`);
    const billed = costMicros(price, stats.promptTokens, stats.completionTokens);
    // The server's bill: the schema's tokens included, never above the budget.
    expect(stats.byStatus['200']).toBeGreaterThan(5);
    expect(billed).toBeLessThanOrEqual(BUDGET * 1_000_000);
    expect(manager.costController.getCosts().total.cost).toBeLessThanOrEqual(BUDGET);
  });
});
