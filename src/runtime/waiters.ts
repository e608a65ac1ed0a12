/**
 * Who waits for which task to end (`waitForTask`): each waiter is told once, with the task's
 * result or its error, when the task ends or the queue stops; an aborted `signal` takes its
 * waiter away.
 */

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class TaskWaiters {
  private readonly byTask = new Map<string, Waiter[]>();

  /** A promise for task `id`'s end; rejected with `signal`'s reason if it is aborted first. */
  add(id: string, signal: AbortSignal | undefined): Promise<unknown> {
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
