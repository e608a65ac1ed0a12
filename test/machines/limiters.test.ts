import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { budgetLogic } from '../../machines/budget.logic.js';
import { concurrencyLogic } from '../../machines/concurrency.logic.js';
import { rateLimitLogic } from '../../machines/rate-limit.logic.js';
import { BudgetBook } from '../../src/limits/budget-book.js';
import { RateLimiter } from '../../src/limits/rate-limiter.js';

describe('concurrency actor', () => {
  it('acquires, releases (never below zero) and resizes without touching what is in use', () => {
    const actor = createActor(concurrencyLogic, { input: { max: 2 } }).start();
    actor.send({ type: 'slot.acquire', count: 2 });
    expect(actor.getSnapshot().context).toEqual({ max: 2, used: 2 });
    actor.send({ type: 'slot.resize', max: 1 });
    expect(actor.getSnapshot().context).toEqual({ max: 1, used: 2 });
    actor.send({ type: 'slot.release', count: 3 });
    expect(actor.getSnapshot().context).toEqual({ max: 1, used: 0 });
  });
});

describe('rateLimit actor', () => {
  it('reserves, reconciles with real usage, and holds back on a provider hint', () => {
    const limiter = new RateLimiter({ windows: [{ tokens: 1000, windowMs: 60_000 }], models: {} });
    const actor = createActor(rateLimitLogic, { input: { limiter } }).start();
    actor.send({ type: 'rate.reserve', at: 0, taskId: 'a', model: 'm', requests: 1, tokens: 900 });
    expect(limiter.check(1, 'm', 1, 200).ok).toBe(false);
    actor.send({ type: 'rate.reconcile', taskId: 'a', tokens: 100 });
    expect(limiter.check(1, 'm', 1, 200).ok).toBe(true);
    actor.send({ type: 'rate.hints', at: 10, model: 'm', hints: { retryAfterMs: 5000 } });
    expect(limiter.check(11, 'm', 1, 1)).toMatchObject({
      ok: false,
      retryAt: 5010,
      reason: 'server',
    });
    // the hint is per model: another model is not held back
    expect(limiter.check(11, 'other', 1, 1).ok).toBe(true);
    actor.send({
      type: 'rate.configure',
      settings: { windows: [{ requests: 1, windowMs: 1000 }], models: {} },
    });
    expect(limiter.check(20, 'other', 1, 1).ok).toBe(false);
  });
});

describe('budget actor', () => {
  it('holds the worst case, commits the real cost, releases, resets the total', () => {
    const book = new BudgetBook({ total: 1000 }, 'UTC');
    const actor = createActor(budgetLogic, { input: { ledger: book } }).start();
    actor.send({ type: 'budget.hold', at: 0, taskId: 'a', amount: 600 });
    expect(book.check(0, 500).ok).toBe(false);
    actor.send({ type: 'budget.commit', at: 1, taskId: 'a', actual: 200 });
    expect(book.ledger.spent(1).total).toBe(200);
    expect(book.ledger.held()).toBe(0);
    actor.send({ type: 'budget.hold', at: 2, taskId: 'b', amount: 700 });
    actor.send({ type: 'budget.release', taskId: 'b' });
    expect(book.ledger.held()).toBe(0);
    actor.send({ type: 'budget.configure', limits: { total: 150 } });
    expect(book.check(3, 1).ok).toBe(false);
    actor.send({ type: 'budget.resetTotal' });
    expect(book.check(3, 100).ok).toBe(true);
  });
});

describe('tasks registry actor', () => {
  it('counts the done events of its task actors and nothing else', async () => {
    const { taskRegistryLogic } = await import('../../machines/task-registry.logic.js');
    const registry = createActor(taskRegistryLogic).start();
    registry.send({ type: 'xstate.done.actor.task-a', output: undefined } as { type: string });
    registry.send({ type: 'xstate.error.actor.task-b', error: new Error('x') } as {
      type: string;
    });
    registry.send({ type: 'something.else' });
    registry.send({ type: 'xstate.done.actor.task-c', output: { ok: true } } as { type: string });
    expect(registry.getSnapshot().context).toEqual({ finished: 2 });
  });

  it('counts a real task actor that reaches a final state (the done event XState relays)', async () => {
    const { taskRegistryLogic } = await import('../../machines/task-registry.logic.js');
    const { taskMachine } = await import('../../machines/task.machine.js');
    const registry = createActor(taskRegistryLogic).start();
    const retry = { maxRetries: 0, maxRateLimitRetries: 0, retryDelay: 0, maxRetryDelay: 0 };
    for (const ok of [true, false]) {
      const task = createActor(taskMachine, {
        input: { id: String(ok), retry, at: 0 },
        parent: registry,
      }).start();
      task.send({ type: 'task.admit', at: 1 });
      task.send({
        type: 'task.outcome',
        outcome: ok
          ? { ok: true, at: 2 }
          : {
              ok: false,
              at: 2,
              error: { name: 'E', code: 'X', message: 'x', retryable: false },
              rateLimited: false,
              jitter: 0,
            },
      });
    }
    expect(registry.getSnapshot().context).toEqual({ finished: 2 });
  });
});
