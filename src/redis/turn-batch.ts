/** Calls sent to Redis in batches, one per turn of the event loop (see `TurnBatch`). */

/**
 * An item's place in a batch: `sent` once the batch is handed to its connection, `done` once
 * Redis answered it.
 */
export interface Batched {
  sent: Promise<void>;
  done: Promise<void>;
}

/** A batch's answer, and when it was handed to its connection. */
interface Outcome {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
  sent: Promise<void>;
  wasSent(): void;
}

/**
 * Calls made in the same turn of the event loop, sent to Redis together: a wave of tasks that end
 * at once costs one script, not one per task. Each caller's promise settles with the batch's
 * outcome. The batch goes once the promise callbacks already queued have run (a microtask: no
 * time passes, so virtual-time tests see no difference).
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private outcome: Outcome | undefined;

  /** `send` carries a batch (never empty) to Redis. */
  constructor(private readonly send: (items: T[]) => Promise<unknown>) {}

  /** Adds `item` to this turn's batch; resolves once the batch has gone through. */
  add(item: T): Promise<void> {
    return this.place(item).done;
  }

  /**
   * Adds `item` to this turn's batch. A command sent on the same connection after `sent` reaches
   * Redis after the batch.
   */
  place(item: T): Batched {
    this.items.push(item);
    if (this.outcome === undefined) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      let wasSent!: () => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const sent = new Promise<void>((res) => {
        wasSent = res;
      });
      this.outcome = { promise, resolve, reject, sent, wasSent };
      queueMicrotask(() => this.flush());
    }
    return { sent: this.outcome.sent, done: this.outcome.promise };
  }

  /** Sends this turn's batch now, if there is one, and resolves once it has gone through. */
  async drain(): Promise<void> {
    const outcome = this.outcome;
    if (outcome === undefined) return;
    this.flush();
    await outcome.promise;
  }

  private flush(): void {
    const { items, outcome } = this;
    this.items = [];
    this.outcome = undefined;
    if (outcome === undefined) return;
    let sent: Promise<unknown>;
    try {
      sent = this.send(items);
    } catch (error) {
      sent = Promise.reject(error);
    }
    outcome.wasSent();
    sent.then(() => outcome.resolve(), outcome.reject);
  }
}
