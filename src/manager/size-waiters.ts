/**
 * The promises of the manager's `onSizeLessThan` (p-queue's): each resolves as soon as fewer
 * tasks than it asked for wait, or once the queue stops.
 */

/** The open `onSizeLessThan` promises. */
export class SizeWaiters {
  private readonly waiters: Array<{ below: number; resolve: () => void }> = [];

  /** Whether some promise is open. */
  get pending(): boolean {
    return this.waiters.length > 0;
  }

  /** A promise that `release` resolves once it is given a size under `below`. */
  wait(below: number): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ below, resolve }));
  }

  /** Resolves the promises that asked for more than `size` (the tasks waiting now). */
  release(size: number): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as { below: number; resolve: () => void };
      if (size < waiter.below) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves every promise (a stopping queue admits nothing more: its line would not shrink). */
  releaseAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }
}
