import { assign, setup } from 'xstate';
import { type RetrySettings, retryDelayMs } from './retry-policy.js';
import type { TaskStatus } from './task-status.js';

/**
 * The lifecycle of one task.
 *
 * ```
 * queued ──admit──▶ running ──outcome ok──▶ completed
 *  ▲  │               ├──failure, retries left──▶ retrying ──admit (when due)──▶ running
 *  │ pause            └──failure, none left────▶ failed
 *  │  ▼
 * paused ──resume──▶ queued | retrying
 * cancel: from queued, paused, running, retrying ──▶ cancelled
 * expire (whole-task deadline passed while waiting) ──▶ failed
 * interrupt (the process ended during the attempt; a durable store restarts it) running ──▶ queued
 * ```
 *
 * The machine is event-only: it reads no clock, draws no random numbers and invokes nothing.
 * Every event carries its time (`at`); an attempt's outcome is sent by the runtime that ran it
 * and carries the jitter sample for the backoff. The retry deadline is data (`notBefore`), never a
 * pending `after` timer, so a persisted `retrying` task restores correctly (XState #5331), and a
 * persisted `running` task never re-runs a call by itself on restore.
 */

/** A plain, serialisable error as kept in the task's context. */
export interface TaskErrorInfo {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** The provider's own error code (`insufficient_quota`, `model_not_found`…). */
  providerCode?: string;
}

/** What one attempt reports. */
export type AttemptOutcome =
  | { ok: true; at: number }
  | {
      ok: false;
      at: number;
      error: TaskErrorInfo;
      /** True for a provider 429: the task goes back without using up a retry. */
      rateLimited: boolean;
      /** The server's `retry-after`, when it sent one. */
      retryAfterMs?: number;
      /** A sample in [0, 1) from the injected random source, for the backoff jitter. */
      jitter: number;
    };

export type FailedAttempt = Extract<AttemptOutcome, { ok: false }>;

export interface HistoryEntry {
  status: TaskStatus;
  at: number;
  /** Why, where there is more to say than the state (an error code, `'resumed'`, …). */
  reason?: string;
}

export interface TaskMachineInput {
  id: string;
  retry: RetrySettings;
  /** When the task was created (ms, injected clock). */
  at: number;
}

/**
 * The version of the task machine's states and context. It travels in every persisted snapshot
 * (`context.machineVersion`), so a store written by a newer machine is refused, not misread.
 */
export const TASK_MACHINE_VERSION = 1;

export interface TaskMachineContext {
  /** {@link TASK_MACHINE_VERSION} of the machine that made this snapshot. */
  machineVersion: number;
  id: string;
  retry: RetrySettings;
  /** Attempts started so far. */
  attempts: number;
  /** Failures that used up a retry. */
  retriesUsed: number;
  /** 429s that put the task back. */
  rateLimitRetries: number;
  /** Earliest time (ms) at which a retry may be admitted; `null` when not waiting to retry. */
  notBefore: number | null;
  /** Where a paused task returns to on resume. */
  resumeTo: 'queued' | 'retrying';
  error: TaskErrorInfo | null;
  history: HistoryEntry[];
}

export type TaskMachineEvent =
  | { type: 'task.admit'; at: number }
  | { type: 'task.outcome'; outcome: AttemptOutcome }
  | { type: 'task.pause'; at: number }
  | { type: 'task.resume'; at: number }
  | { type: 'task.cancel'; at: number }
  | { type: 'task.expire'; at: number; error: TaskErrorInfo }
  /**
   * The process that ran the attempt ended before the attempt did (found when a durable store is
   * opened again): the task goes back in line for a new attempt, without using up a retry.
   */
  | { type: 'task.interrupt'; at: number };

function record(
  history: readonly HistoryEntry[],
  status: TaskStatus,
  at: number,
  reason?: string,
): HistoryEntry[] {
  const entry: HistoryEntry = reason === undefined ? { status, at } : { status, at, reason };
  return [...history, entry];
}

function failure(event: TaskMachineEvent): FailedAttempt | null {
  return event.type === 'task.outcome' && !event.outcome.ok ? event.outcome : null;
}

export const taskMachine = setup({
  types: {
    context: {} as TaskMachineContext,
    events: {} as TaskMachineEvent,
    input: {} as TaskMachineInput,
  },
  guards: {
    /** A retry may be admitted only once its deadline has passed. */
    isDue: ({ context, event }) =>
      event.type === 'task.admit' && (context.notBefore === null || event.at >= context.notBefore),
    succeeded: ({ event }) => event.type === 'task.outcome' && event.outcome.ok,
    mayRetryRateLimited: ({ context, event }) => {
      const failed = failure(event);
      if (failed === null || !failed.rateLimited) return false;
      return context.rateLimitRetries < context.retry.maxRateLimitRetries;
    },
    mayRetry: ({ context, event }) => {
      const failed = failure(event);
      if (failed === null || failed.rateLimited || !failed.error.retryable) return false;
      return context.retriesUsed < context.retry.maxRetries;
    },
    resumesToRetrying: ({ context }) => context.resumeTo === 'retrying',
  },
  actions: {
    startAttempt: assign(({ context, event }) => {
      const at = event.type === 'task.admit' ? event.at : 0;
      return {
        attempts: context.attempts + 1,
        notBefore: null,
        history: record(context.history, 'running', at),
      };
    }),
    completeTask: assign(({ context, event }) => {
      const at = event.type === 'task.outcome' ? event.outcome.at : 0;
      return { error: null, history: record(context.history, 'completed', at) };
    }),
    scheduleRateLimitRetry: assign(({ context, event }) => {
      const failed = failure(event);
      if (failed === null) return {};
      const n = context.rateLimitRetries + 1;
      const delay = retryDelayMs(context.retry, n, failed.jitter, failed.retryAfterMs);
      return {
        rateLimitRetries: n,
        notBefore: failed.at + delay,
        error: failed.error,
        history: record(context.history, 'retrying', failed.at, failed.error.code),
      };
    }),
    scheduleRetry: assign(({ context, event }) => {
      const failed = failure(event);
      if (failed === null) return {};
      const n = context.retriesUsed + 1;
      const delay = retryDelayMs(context.retry, n, failed.jitter, failed.retryAfterMs);
      return {
        retriesUsed: n,
        notBefore: failed.at + delay,
        error: failed.error,
        history: record(context.history, 'retrying', failed.at, failed.error.code),
      };
    }),
    failTask: assign(({ context, event }) => {
      const failed = failure(event);
      if (failed === null) return {};
      return {
        error: failed.error,
        history: record(context.history, 'failed', failed.at, failed.error.code),
      };
    }),
    expireTask: assign(({ context, event }) => {
      if (event.type !== 'task.expire') return {};
      return {
        notBefore: null,
        error: event.error,
        history: record(context.history, 'failed', event.at, event.error.code),
      };
    }),
    pauseFromQueued: assign(({ context, event }) => ({
      resumeTo: 'queued' as const,
      history: record(context.history, 'paused', atOf(event)),
    })),
    pauseFromRetrying: assign(({ context, event }) => ({
      resumeTo: 'retrying' as const,
      history: record(context.history, 'paused', atOf(event)),
    })),
    resumeToQueued: assign(({ context, event }) => ({
      history: record(context.history, 'queued', atOf(event), 'resumed'),
    })),
    resumeToRetrying: assign(({ context, event }) => ({
      history: record(context.history, 'retrying', atOf(event), 'resumed'),
    })),
    cancelTask: assign(({ context, event }) => ({
      notBefore: null,
      history: record(context.history, 'cancelled', atOf(event)),
    })),
    requeueInterrupted: assign(({ context, event }) => ({
      notBefore: null,
      history: record(context.history, 'queued', atOf(event), 'interrupted'),
    })),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({
    machineVersion: TASK_MACHINE_VERSION,
    id: input.id,
    retry: input.retry,
    attempts: 0,
    retriesUsed: 0,
    rateLimitRetries: 0,
    notBefore: null,
    resumeTo: 'queued',
    error: null,
    history: [{ status: 'queued', at: input.at }],
  }),
  initial: 'queued',
  states: {
    queued: {
      on: {
        'task.admit': { target: 'running', actions: 'startAttempt' },
        'task.pause': { target: 'paused', actions: 'pauseFromQueued' },
        'task.cancel': { target: 'cancelled', actions: 'cancelTask' },
        'task.expire': { target: 'failed', actions: 'expireTask' },
      },
    },
    paused: {
      on: {
        'task.resume': [
          { guard: 'resumesToRetrying', target: 'retrying', actions: 'resumeToRetrying' },
          { target: 'queued', actions: 'resumeToQueued' },
        ],
        'task.cancel': { target: 'cancelled', actions: 'cancelTask' },
        'task.expire': { target: 'failed', actions: 'expireTask' },
      },
    },
    running: {
      on: {
        'task.outcome': [
          { guard: 'succeeded', target: 'completed', actions: 'completeTask' },
          { guard: 'mayRetryRateLimited', target: 'retrying', actions: 'scheduleRateLimitRetry' },
          { guard: 'mayRetry', target: 'retrying', actions: 'scheduleRetry' },
          { target: 'failed', actions: 'failTask' },
        ],
        'task.cancel': { target: 'cancelled', actions: 'cancelTask' },
        'task.interrupt': { target: 'queued', actions: 'requeueInterrupted' },
      },
    },
    retrying: {
      on: {
        'task.admit': { guard: 'isDue', target: 'running', actions: 'startAttempt' },
        'task.pause': { target: 'paused', actions: 'pauseFromRetrying' },
        'task.cancel': { target: 'cancelled', actions: 'cancelTask' },
        'task.expire': { target: 'failed', actions: 'expireTask' },
      },
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

function atOf(event: TaskMachineEvent): number {
  return event.type === 'task.outcome' ? event.outcome.at : event.at;
}

export type TaskMachine = typeof taskMachine;
