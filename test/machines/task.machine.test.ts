import { describe, expect, it } from 'vitest';
import { createActor, transition } from 'xstate';
import {
  type AttemptOutcome,
  type TaskMachineEvent,
  taskMachine,
} from '../../machines/task.machine.js';

const retry = { maxRetries: 2, maxRateLimitRetries: 1, retryDelay: 1, maxRetryDelay: 3 };
const transient = {
  name: 'ProviderError',
  code: 'PROVIDER_ERROR',
  message: '503',
  retryable: true,
};

function start() {
  const actor = createActor(taskMachine, { input: { id: 'a', retry, at: 1000 } });
  actor.start();
  return actor;
}

function fail(
  at: number,
  jitter: number,
  extra: Partial<Extract<AttemptOutcome, { ok: false }>> = {},
): TaskMachineEvent {
  return {
    type: 'task.outcome',
    outcome: { ok: false, at, error: transient, rateLimited: false, jitter, ...extra },
  };
}

describe('task machine', () => {
  it('runs queued → running → completed and records the history with times', () => {
    const actor = start();
    actor.send({ type: 'task.admit', at: 1100 });
    expect(actor.getSnapshot().value).toBe('running');
    actor.send({ type: 'task.outcome', outcome: { ok: true, at: 1500 } });
    const s = actor.getSnapshot();
    expect(s.value).toBe('completed');
    expect(s.status).toBe('done');
    expect(s.context.attempts).toBe(1);
    expect(s.context.history).toEqual([
      { status: 'queued', at: 1000 },
      { status: 'running', at: 1100 },
      { status: 'completed', at: 1500 },
    ]);
  });

  it('retries with full-jitter backoff and keeps the deadline as data', () => {
    const actor = start();
    actor.send({ type: 'task.admit', at: 0 });
    actor.send(fail(100, 0.5));
    let s = actor.getSnapshot();
    expect(s.value).toBe('retrying');
    // attempt 1: 0.5 × min(3, 1 × 2^0) s = 500 ms
    expect(s.context.notBefore).toBe(600);
    actor.send({ type: 'task.admit', at: 599 });
    expect(actor.getSnapshot().value).toBe('retrying');
    actor.send({ type: 'task.admit', at: 600 });
    expect(actor.getSnapshot().value).toBe('running');
    actor.send(fail(700, 0.999));
    s = actor.getSnapshot();
    // attempt 2: 0.999 × min(3, 2) s
    expect(s.context.notBefore).toBe(700 + 1998);
    actor.send({ type: 'task.admit', at: 5000 });
    actor.send(fail(5100, 0.1));
    s = actor.getSnapshot();
    expect(s.value).toBe('failed');
    expect(s.context.attempts).toBe(3);
    expect(s.context.error?.code).toBe('PROVIDER_ERROR');
  });

  it('a 429 goes back without using a retry, honouring retry-after', () => {
    const actor = start();
    actor.send({ type: 'task.admit', at: 0 });
    actor.send(
      fail(10, 0.9, {
        rateLimited: true,
        retryAfterMs: 7000,
        error: { ...transient, status: 429 },
      }),
    );
    const s = actor.getSnapshot();
    expect(s.value).toBe('retrying');
    expect(s.context.notBefore).toBe(7010);
    expect(s.context.retriesUsed).toBe(0);
    expect(s.context.rateLimitRetries).toBe(1);
    actor.send({ type: 'task.admit', at: 7010 });
    // maxRateLimitRetries = 1: the second 429 fails the task
    actor.send(fail(7020, 0.9, { rateLimited: true, error: { ...transient, status: 429 } }));
    expect(actor.getSnapshot().value).toBe('failed');
  });

  it('fails at once on a non-retryable error', () => {
    const actor = start();
    actor.send({ type: 'task.admit', at: 0 });
    actor.send(fail(1, 0, { error: { ...transient, retryable: false, code: 'NON_RETRYABLE' } }));
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().context.attempts).toBe(1);
  });

  it('pauses and resumes to where it was', () => {
    const actor = start();
    actor.send({ type: 'task.pause', at: 1 });
    expect(actor.getSnapshot().value).toBe('paused');
    actor.send({ type: 'task.resume', at: 2 });
    expect(actor.getSnapshot().value).toBe('queued');
    actor.send({ type: 'task.admit', at: 3 });
    actor.send(fail(4, 0));
    actor.send({ type: 'task.pause', at: 5 });
    actor.send({ type: 'task.resume', at: 6 });
    expect(actor.getSnapshot().value).toBe('retrying');
  });

  it('can be cancelled from every non-final state, and nothing leaves a final state', () => {
    for (const prepare of [
      [] as TaskMachineEvent[],
      [{ type: 'task.pause', at: 1 }] as TaskMachineEvent[],
      [{ type: 'task.admit', at: 1 }] as TaskMachineEvent[],
      [{ type: 'task.admit', at: 1 }, fail(2, 0)] as TaskMachineEvent[],
    ]) {
      const actor = start();
      for (const e of prepare) actor.send(e);
      actor.send({ type: 'task.cancel', at: 9 });
      const cancelled = actor.getSnapshot();
      expect(cancelled.value).toBe('cancelled');
      expect(cancelled.status).toBe('done');
      // The machine itself refuses to move on (a stopped actor would not even be asked).
      for (const event of [
        { type: 'task.admit', at: 10 },
        { type: 'task.resume', at: 10 },
        fail(10, 0),
      ] as TaskMachineEvent[]) {
        expect(transition(taskMachine, cancelled, event)[0].value).toBe('cancelled');
      }
    }
  });

  it('restores a persisted retrying task with its deadline intact', () => {
    const actor = start();
    actor.send({ type: 'task.admit', at: 0 });
    actor.send(fail(100, 0.5));
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    const restored = createActor(taskMachine, {
      snapshot: persisted,
      input: { id: 'a', retry, at: 0 },
    });
    restored.start();
    expect(restored.getSnapshot().value).toBe('retrying');
    restored.send({ type: 'task.admit', at: 599 });
    expect(restored.getSnapshot().value).toBe('retrying');
    restored.send({ type: 'task.admit', at: 600 });
    expect(restored.getSnapshot().value).toBe('running');
  });
});
