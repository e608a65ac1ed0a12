import { setup } from 'xstate';
import { type BudgetLedgerState, budgetLogic } from './budget.logic.js';
import { concurrencyLogic } from './concurrency.logic.js';
import { type RateLimiterState, rateLimitLogic } from './rate-limit.logic.js';
import { taskRegistryLogic } from './task-registry.logic.js';

/**
 * The root of the actor tree. It owns the waiting line and admits tasks; its three limiter
 * children (`concurrency`, `rateLimit`, `budget`, each registered under that systemId) grant the
 * slots, and its `tasks` child is the parent of every task actor (see `task-registry.logic.ts`).
 *
 * ```
 * running ⇄ paused          (queue.pause / queue.resume: one flag, O(1))
 *    └───── queue.stop ──▶ draining ──(nothing running)──▶ stopped
 *                        (admits only children of running composite tasks)
 * ```
 *
 * Every action that touches the waiting line or the task actors is named here and supplied by
 * `src/runtime/` with `.provide()`: this file holds the statechart only.
 */

export interface SupervisorInput {
  maxConcurrent: number;
  limiter: RateLimiterState;
  ledger: BudgetLedgerState;
}

export type SupervisorEvent =
  /** Tasks were accepted (stored and put in the waiting line), one submission or one batch. */
  | { type: 'task.submitted'; taskIds: string[] }
  /** Attempts ended and their slots were returned: every attempt that ended in the same turn. */
  | { type: 'task.settled'; taskIds: string[] }
  | { type: 'task.cancel'; taskId: string }
  | { type: 'task.pause'; taskId: string }
  | { type: 'task.resume'; taskId: string }
  /** A retry fell due, a window rolled over, or a provider's hold-back ended. */
  | { type: 'queue.wake' }
  | { type: 'queue.pause' }
  | { type: 'queue.resume' }
  /** Limits or budgets changed. */
  | { type: 'queue.settings' }
  | { type: 'queue.stop'; force: boolean };

function supplied(name: string): () => never {
  return () => {
    throw new Error(`supervisorMachine: action '${name}' is supplied by the runtime (.provide())`);
  };
}

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorInput,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    concurrency: concurrencyLogic,
    rateLimit: rateLimitLogic,
    budget: budgetLogic,
    tasks: taskRegistryLogic,
  },
  actions: {
    /** Admits waiting tasks, in priority order, while every limit grants. */
    admit: supplied('admit'),
    /** Notes why the head of the line waits, and arms one wake-up for when that may change. */
    scheduleWake: supplied('scheduleWake'),
    cancelTask: supplied('cancelTask'),
    pauseTask: supplied('pauseTask'),
    resumeTask: supplied('resumeTask'),
    /** Aborts every running attempt (stop with `force`). */
    abortRunning: supplied('abortRunning'),
    /** Called once when the supervisor has stopped. */
    finish: supplied('finish'),
  },
  guards: {
    /** No attempt is running. Supplied by the runtime. */
    isIdle: () => {
      throw new Error("supervisorMachine: guard 'isIdle' is supplied by the runtime (.provide())");
    },
    force: ({ event }) => event.type === 'queue.stop' && event.force,
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => input,
  invoke: [
    {
      id: 'concurrency',
      systemId: 'concurrency',
      src: 'concurrency',
      input: ({ context }) => ({ max: context.maxConcurrent }),
    },
    {
      id: 'rateLimit',
      systemId: 'rateLimit',
      src: 'rateLimit',
      input: ({ context }) => ({ limiter: context.limiter }),
    },
    {
      id: 'budget',
      systemId: 'budget',
      src: 'budget',
      input: ({ context }) => ({ ledger: context.ledger }),
    },
    { id: 'tasks', systemId: 'tasks', src: 'tasks' },
  ],
  initial: 'running',
  on: {
    'task.cancel': { actions: 'cancelTask' },
    'task.pause': { actions: 'pauseTask' },
  },
  states: {
    running: {
      entry: ['admit', 'scheduleWake'],
      on: {
        'task.submitted': { actions: ['admit', 'scheduleWake'] },
        'task.settled': { actions: ['admit', 'scheduleWake'] },
        'task.resume': { actions: ['resumeTask', 'admit', 'scheduleWake'] },
        'task.cancel': { actions: ['cancelTask', 'admit', 'scheduleWake'] },
        // The held task may have been the head: the next one may start now.
        'task.pause': { actions: ['pauseTask', 'admit', 'scheduleWake'] },
        'queue.wake': { actions: ['admit', 'scheduleWake'] },
        'queue.settings': { actions: ['admit', 'scheduleWake'] },
        'queue.pause': { target: 'paused' },
        'queue.stop': [
          { guard: 'force', target: 'draining', actions: 'abortRunning' },
          { target: 'draining' },
        ],
      },
    },
    paused: {
      entry: 'scheduleWake',
      on: {
        'task.resume': { actions: 'resumeTask' },
        'queue.resume': { target: 'running' },
        'queue.stop': [
          { guard: 'force', target: 'draining', actions: 'abortRunning' },
          { target: 'draining' },
        ],
      },
    },
    draining: {
      // Admission goes on only for what the runtime left in line: the children of running
      // composite tasks (they are part of the running work); everything else was set aside.
      // Entered from `paused` too: a running composite task still needs its children to end.
      entry: ['admit', 'scheduleWake'],
      always: { guard: 'isIdle', target: 'stopped' },
      on: {
        'task.submitted': { actions: ['admit', 'scheduleWake'] },
        'task.settled': { actions: ['admit', 'scheduleWake'] },
        'task.cancel': { actions: ['cancelTask', 'admit', 'scheduleWake'] },
        'queue.wake': { actions: ['admit', 'scheduleWake'] },
        'queue.settings': { actions: ['admit', 'scheduleWake'] },
        'task.resume': { actions: ['resumeTask', 'admit', 'scheduleWake'] },
        'queue.stop': { guard: 'force', actions: 'abortRunning' },
      },
    },
    stopped: { type: 'final', entry: 'finish' },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
