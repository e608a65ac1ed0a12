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
    // A provider that counts real usage (`windowTokens: 'used'`): the reconcile gives back.
    const initial = RateLimiter.of({
      windows: [{ tokens: 1000, windowMs: 60_000 }],
      models: {},
      windowTokens: 'used',
    });
    const actor = createActor(rateLimitLogic, { input: { limiter: initial } }).start();
    const limiter = () => actor.getSnapshot().context.limiter as RateLimiter;
    actor.send({ type: 'rate.reserve', at: 0, taskId: 'a', model: 'm', requests: 1, tokens: 900 });
    const reserved = limiter();
    expect(reserved.check(1, 'm', 1, 200).ok).toBe(false);
    actor.send({ type: 'rate.reconcile', taskId: 'a', tokens: 100 });
    expect(limiter().check(1, 'm', 1, 200).ok).toBe(true);
    actor.send({ type: 'rate.hints', at: 10, model: 'm', hints: { retryAfterMs: 5000 } });
    expect(limiter().check(11, 'm', 1, 1)).toMatchObject({
      ok: false,
      retryAt: 5010,
      reason: 'server',
    });
    // the hint is per model: another model is not held back
    expect(limiter().check(11, 'other', 1, 1).ok).toBe(true);
    actor.send({
      type: 'rate.configure',
      settings: { windows: [{ requests: 1, windowMs: 1000 }], models: {} },
    });
    expect(limiter().check(20, 'other', 1, 1).ok).toBe(false);
    // Snapshots are values: the ones read earlier did not change.
    expect(initial.check(1, 'm', 1, 1000).ok).toBe(true);
    expect(initial.openReservations).toBe(0);
    expect(reserved.check(1, 'm', 1, 200).ok).toBe(false);
    expect(reserved.check(11, 'm', 1, 1).ok).toBe(true);
  });
});

describe('budget actor', () => {
  it('holds the worst case, commits the real cost, releases, resets the total', () => {
    const initial = BudgetBook.of({ total: 1000 }, 'UTC');
    const actor = createActor(budgetLogic, { input: { ledger: initial } }).start();
    const book = () => actor.getSnapshot().context.ledger as BudgetBook;
    actor.send({ type: 'budget.hold', at: 0, taskId: 'a', amount: 600 });
    const held = book();
    expect(held.check(0, 500).ok).toBe(false);
    actor.send({ type: 'budget.commit', at: 1, taskId: 'a', actual: 200 });
    expect(book().ledger.spent(1).total).toBe(200);
    expect(book().ledger.held()).toBe(0);
    actor.send({ type: 'budget.hold', at: 2, taskId: 'b', amount: 700 });
    expect(book().openHolds).toBe(1);
    actor.send({ type: 'budget.release', taskId: 'b' });
    expect(book().ledger.held()).toBe(0);
    expect(book().openHolds).toBe(0);
    // a commit with no hold only records the spending
    actor.send({ type: 'budget.commit', at: 2, taskId: 'c', actual: 50 });
    expect(book().ledger.spent(2).total).toBe(250);
    actor.send({ type: 'budget.configure', limits: { total: 150 } });
    expect(book().check(3, 1).ok).toBe(false);
    actor.send({ type: 'budget.resetTotal' });
    expect(book().check(3, 100).ok).toBe(true);
    // Snapshots are values: the ones read earlier did not change.
    expect(initial.ledger.held()).toBe(0);
    expect(initial.check(0, 1000).ok).toBe(true);
    expect(held.ledger.held()).toBe(600);
    expect(held.ledger.spent(1).total).toBe(0);
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
