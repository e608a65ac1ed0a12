import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestManager } from '../helpers/manager.js';
import type { Script } from '../helpers/scripted-client.js';
import { advance, advanceUntil } from '../helpers/virtual-time.js';

const outcomeArb: fc.Arbitrary<Script> = fc.oneof(
  fc.record({
    kind: fc.constant('ok' as const),
    latencyMs: fc.integer({ min: 0, max: 2_000 }),
    promptTokens: fc.integer({ min: 1, max: 5_000 }),
    completionTokens: fc.integer({ min: 0, max: 2_000 }),
    noUsage: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('error' as const),
    status: fc.constantFrom(400, 429, 500, 503),
    latencyMs: fc.integer({ min: 0, max: 500 }),
  }),
);

const taskArb = fc.record({
  priority: fc.constantFrom('LOW', 'MEDIUM', 'HIGH', 'URGENT') as fc.Arbitrary<
    'LOW' | 'MEDIUM' | 'HIGH' | 'URGENT'
  >,
  prompt: fc.string({ minLength: 1, maxLength: 40 }),
  /** When (ms after submission) to cancel it, if at all. */
  cancelAfter: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }),
});

const percentile95 = (values: number[]): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(0.95 * sorted.length)) - 1] as number;
};

describe('statistics', () => {
  it('agree with the tasks’ own metrics after any workload', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(taskArb, { minLength: 1, maxLength: 25 }),
        fc.array(outcomeArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        async (tasks, outcomes, maxConcurrent) => {
          const { manager, clock } = createTestManager(
            {
              maxConcurrent,
              builtinTaskTypes: false,
              taskDefaults: { maxRetries: 2, retryDelay: 0.1, maxRetryDelay: 1 },
            },
            (_request, index) => outcomes[index % outcomes.length] as Script,
          );
          await manager.start();
          const ids = await manager.submitBatch(
            tasks.map((t) => ({
              taskType: 'ECHO',
              data: { prompt: t.prompt },
              priority: t.priority,
            })),
          );
          const cancels = tasks
            .map((t, i) => ({ at: t.cancelAfter, id: ids[i] as string }))
            .filter((c): c is { at: number; id: string } => c.at !== undefined)
            .sort((a, b) => a.at - b.at);
          let elapsed = 0;
          for (const cancel of cancels) {
            await advance(clock, cancel.at - elapsed, 50);
            elapsed = cancel.at;
            await manager.cancelTask(cancel.id);
          }
          let idle = false;
          void manager.onIdle().then(() => {
            idle = true;
          });
          await advanceUntil(clock, () => idle, 600_000, 100);
          expect(idle).toBe(true);

          const stats = await manager.getStatistics();
          const { items } = await manager.getTasks({ limit: 1_000 });
          expect(items).toHaveLength(tasks.length);
          const count = (status: string) => items.filter((t) => t.status === status).length;
          expect(stats.tasks.total).toBe(tasks.length);
          expect(stats.tasks.byStatus.completed).toBe(count('completed'));
          expect(stats.tasks.byType).toEqual({ ECHO: tasks.length });
          expect(stats.performance.totalSucceeded).toBe(count('completed'));
          expect(stats.performance.totalFailed).toBe(count('failed'));
          expect(stats.performance.totalCancelled).toBe(count('cancelled'));
          expect(stats.performance.totalProcessed).toBe(tasks.length);
          const ended = count('completed') + count('failed');
          expect(stats.performance.successRate).toBeCloseTo(
            ended === 0 ? 100 : (count('completed') / ended) * 100,
            9,
          );
          const sum = (pick: (t: (typeof items)[number]) => number) =>
            items.reduce((total, t) => total + pick(t), 0);
          expect(stats.tokens.prompt).toBe(sum((t) => t.metrics.promptTokens));
          expect(stats.tokens.completion).toBe(sum((t) => t.metrics.completionTokens));
          // Money is integer micro-dollars inside: the totals agree to the micro-dollar.
          expect(Math.round(stats.cost.total.cost * 1e6)).toBe(
            Math.round(sum((t) => t.metrics.actualCost) * 1e6),
          );
          const started = items.filter((t) => t.startedAt !== null);
          const queueTimes = started.map((t) => t.metrics.queueTime);
          const execTimes = started.map((t) => t.metrics.executionTime);
          const mean = (xs: number[]) =>
            xs.length === 0 ? 0 : xs.reduce((a, b) => a + b) / xs.length;
          expect(stats.performance.averageQueueTime).toBeCloseTo(mean(queueTimes), 9);
          expect(stats.performance.averageExecutionTime).toBeCloseTo(mean(execTimes), 9);
          expect(stats.performance.p95QueueTime).toBeCloseTo(percentile95(queueTimes), 9);
          expect(stats.performance.p95ExecutionTime).toBeCloseTo(percentile95(execTimes), 9);
          expect(stats.performance.totalRetries).toBe(
            sum((t) => t.history.filter((h) => h.status === 'retrying').length),
          );
          expect(stats.queue.size).toBe(0);
          expect(stats.concurrency.runningTasks).toBe(0);
          expect(stats.cost.held).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});
