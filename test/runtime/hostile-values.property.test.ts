import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { TaskTypeDefinition } from '../../src/task-types/types.js';
import { createTestManager } from '../helpers/manager.js';
import { advanceUntil } from '../helpers/virtual-time.js';

/** Values that are hard to throw well: anything, and objects whose reads or conversions throw. */
const hostile: fc.Arbitrary<() => unknown> = fc.oneof(
  fc.anything().map((value) => () => value),
  fc.constant(() => Object.create(null)),
  fc.constant(
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('read');
          },
          getPrototypeOf() {
            throw new Error('prototype');
          },
        },
      ),
  ),
  fc.constant(() => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', {
      get() {
        throw new Error('message');
      },
    });
    return error;
  }),
  fc.constant(() => ({
    toString() {
      throw new Error('toString');
    },
  })),
  fc.constant(() => 10n),
);

interface Plan {
  run?: (() => unknown) | undefined;
  resolves?: 'sync' | 'async';
  onComplete?: (() => unknown) | undefined;
  onError?: (() => unknown) | undefined;
  listener?: (() => unknown) | undefined;
  rejectsInstead: boolean;
}

const plan: fc.Arbitrary<Plan> = fc.record({
  run: fc.option(hostile, { nil: undefined }),
  resolves: fc.constantFrom('sync' as const, 'async' as const),
  onComplete: fc.option(hostile, { nil: undefined }),
  onError: fc.option(hostile, { nil: undefined }),
  listener: fc.option(hostile, { nil: undefined }),
  rejectsInstead: fc.boolean(),
});

describe('thrown values from task types, callbacks and listeners (property)', () => {
  it('every task ends exactly once, every slot comes back, stop resolves, nothing goes unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(plan, { minLength: 1, maxLength: 8 }), async (plans) => {
          unhandled.length = 0;
          const type: TaskTypeDefinition<{ i: number }, unknown> = {
            name: 'HOSTILE',
            input: z.object({ i: z.number() }),
            output: z.unknown(),
            estimate: (_data, env) => ({ model: env.model, promptTokens: 1, maxTokens: 1 }),
            run: ((ctx: { data: { i: number } }) => {
              const p = plans[ctx.data.i] as Plan;
              if (p.run === undefined) return p.resolves === 'sync' ? 'ok' : Promise.resolve('ok');
              const value = p.run();
              if (p.rejectsInstead) return Promise.reject(value);
              throw value;
            }) as unknown as TaskTypeDefinition<{ i: number }, unknown>['run'],
          };
          const { manager, clock, events } = createTestManager({
            maxConcurrent: 2,
            taskTypes: [type],
            logger: { debug() {}, info() {}, warn() {}, error() {} },
            taskDefaults: { maxRetries: 1, retryDelay: 0.01 },
          });
          await manager.start();
          const offs = plans.map((p) =>
            manager.on('task.completed', () => {
              if (p.listener !== undefined) throw p.listener();
            }),
          );
          const ids: string[] = [];
          for (const [i, p] of plans.entries()) {
            ids.push(
              await manager.submitTask({
                taskType: 'HOSTILE',
                data: { i },
                config: {
                  onComplete: () => {
                    if (p.onComplete !== undefined) throw p.onComplete();
                  },
                  onError: async () => {
                    if (p.onError !== undefined) throw p.onError();
                  },
                },
              }),
            );
          }
          const ended = () =>
            events.filter(
              (e) =>
                e.type === 'task.completed' ||
                e.type === 'task.failed' ||
                e.type === 'task.cancelled',
            );
          await advanceUntil(clock, () => ended().length >= ids.length, 10_000, 5);
          for (const id of ids) {
            expect(ended().filter((e) => 'taskId' in e && e.taskId === id)).toHaveLength(1);
            const status = (await manager.getTaskStatus(id))?.status;
            expect(['completed', 'failed']).toContain(status);
          }
          const stats = await manager.getStatistics();
          expect(stats.concurrency.runningTasks).toBe(0);
          expect(stats.concurrency.available).toBe(2);
          for (const off of offs) off();
          await manager.stop();
          await new Promise((resolve) => setImmediate(resolve));
          expect(unhandled).toEqual([]);
        }),
        { numRuns: 60 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
