import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { BudgetBook } from '../../src/limits/budget-book.js';
import { RateLimiter } from '../../src/limits/rate-limiter.js';

function createSupervisor(idle: { value: boolean }) {
  const calls: string[] = [];
  const record = (name: string) => () => {
    calls.push(name);
  };
  const machine = supervisorMachine.provide({
    actions: {
      admit: record('admit'),
      scheduleWake: record('scheduleWake'),
      cancelTask: record('cancelTask'),
      pauseTask: record('pauseTask'),
      resumeTask: record('resumeTask'),
      abortRunning: record('abortRunning'),
      finish: record('finish'),
    },
    guards: { isIdle: () => idle.value },
  });
  const actor = createActor(machine, {
    systemId: 'supervisor',
    input: {
      maxConcurrent: 3,
      limiter: RateLimiter.of({ windows: [], models: {} }),
      ledger: BudgetBook.of({}, 'UTC'),
    },
  }).start();
  return { actor, calls };
}

describe('supervisor machine', () => {
  it('starts its limiter actors and the tasks parent under their systemIds, and admits on start', () => {
    const { actor, calls } = createSupervisor({ value: true });
    for (const id of ['concurrency', 'rateLimit', 'budget', 'tasks']) {
      expect(actor.system.get(id), id).toBeDefined();
    }
    expect(actor.system.get('concurrency')?.getSnapshot().context).toEqual({ max: 3, used: 0 });
    expect(calls).toEqual(['admit', 'scheduleWake']);
  });

  it('answers task.submitted in running with admit then scheduleWake and no state change', () => {
    const { actor, calls } = createSupervisor({ value: true });
    calls.length = 0;
    actor.send({ type: 'task.submitted', taskIds: ['a', 'b'] });
    expect(calls).toEqual(['admit', 'scheduleWake']);
    expect(actor.getSnapshot().value).toBe('running');
  });

  it('admits on submit, settle, wake and settings while running; not while paused', () => {
    const { actor, calls } = createSupervisor({ value: true });
    calls.length = 0;
    for (const type of ['queue.wake', 'queue.settings'] as const) actor.send({ type });
    actor.send({ type: 'task.submitted', taskIds: ['a'] });
    actor.send({ type: 'task.settled', taskIds: ['a'] });
    expect(calls.filter((c) => c === 'admit').length).toBe(4);
    actor.send({ type: 'queue.pause' });
    expect(actor.getSnapshot().value).toBe('paused');
    calls.length = 0;
    actor.send({ type: 'task.submitted', taskIds: ['b'] });
    actor.send({ type: 'queue.wake' });
    expect(calls).not.toContain('admit');
    actor.send({ type: 'task.cancel', taskId: 'b' });
    expect(calls).toContain('cancelTask');
    actor.send({ type: 'queue.resume' });
    expect(actor.getSnapshot().value).toBe('running');
    expect(calls.at(-2)).toBe('admit');
  });

  it('drains on stop until idle, aborting running calls with force', () => {
    const idle = { value: false };
    const { actor, calls } = createSupervisor(idle);
    actor.send({ type: 'queue.stop', force: false });
    expect(actor.getSnapshot().value).toBe('draining');
    expect(calls).not.toContain('abortRunning');
    actor.send({ type: 'queue.stop', force: true });
    expect(calls).toContain('abortRunning');
    idle.value = true;
    actor.send({ type: 'task.settled', taskIds: ['x'] });
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(calls.at(-1)).toBe('finish');
  });
});
