/**
 * Who waits for which task to end (`waitForTask`): each waiter is told once, with the task's
 * result or its error, when the task ends or the queue stops; an aborted `signal` takes its
 * waiter away. A task that ended already is answered from the store.
 */

import {
  QueueStoppedError,
  reviveError,
  TaskCancelledError,
  TaskNotFoundError,
  type TaskQueueError,
} from '../errors.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';

/** What a task's waiters are told when it did not complete: its error, or that it was cancelled. */
export function errorOf(record: TaskRecord): TaskQueueError {
  if (record.status === 'cancelled') return new TaskCancelledError(record.id);
  return reviveError(
    record.error ?? { name: 'Error', code: 'INTERNAL', message: 'failed', retryable: false },
    record.id,
  );
}

/** What waiting for a task needs from the engine. */
export interface TaskWaitersDeps {
  store: TaskStore;
  /** The queue has stopped: nothing it holds will end any more. */
  stopped(): boolean;
  /** Whether the task is this engine's and has not ended. */
  holdsLive(id: string): boolean;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class TaskWaiters {
  private readonly byTask = new Map<string, Waiter[]>();

  constructor(private readonly deps: TaskWaitersDeps) {}

  /**
   * Resolves with the task's result; rejects with its error, or `TaskCancelledError`. Aborting
   * `signal` stops waiting (rejects with the signal's reason) and leaves the task alone.
   */
  async waitFor(id: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    const { signal } = options;
    const { deps } = this;
    // A task this engine holds is waited for at once, before any store read: with a store that
    // hands out copies, a copy read while the task ends would say it still runs.
    if (!deps.stopped() && deps.holdsLive(id)) {
      signal?.throwIfAborted();
      return this.add(id, signal);
    }
    const record = await deps.store.get(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (record.status === 'completed') return record.result;
    if (record.status === 'failed' || record.status === 'cancelled') {
      throw errorOf(record);
    }
    signal?.throwIfAborted();
    if (deps.stopped()) {
      throw new QueueStoppedError(`the queue stopped before task '${id}' ended`);
    }
    return this.add(id, signal);
  }

  /** A promise for task `id`'s end; rejected with `signal`'s reason if it is aborted first. */
  private add(id: string, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const list = this.byTask.get(id);
      if (list === undefined) this.byTask.set(id, [waiter]);
      else list.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const rest = (this.byTask.get(id) ?? []).filter((w) => w !== waiter);
          if (rest.length === 0) this.byTask.delete(id);
          else this.byTask.set(id, rest);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Task `id` ended: its waiters get `result`, or `error()` when it did not complete. */
  settle(id: string, completed: boolean, result: unknown, error: () => unknown): void {
    const waiters = this.byTask.get(id);
    if (waiters === undefined) return;
    this.byTask.delete(id);
    for (const waiter of waiters) {
      if (completed) waiter.resolve(result);
      else waiter.reject(error());
    }
  }

  /** The queue stopped: every waiter left is rejected with `error(id)`. */
  rejectAll(error: (id: string) => unknown): void {
    for (const [id, waiters] of this.byTask) {
      for (const waiter of waiters) waiter.reject(error(id));
    }
    this.byTask.clear();
  }
}
