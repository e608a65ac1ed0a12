/**
 * Keeps the Node.js process alive while the queue has work, as a job queue should: the system
 * clock's timers are `unref`'d (a wake-up alone must not hold a finished program open), so without
 * this a script awaiting `waitForTask` while a rate window rolls over could exit mid-run. Only used
 * with the system clock; a simulated clock never holds the process.
 */
export class KeepAlive {
  private handle: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly enabled: boolean) {}

  hold(): void {
    if (!this.enabled || this.handle !== undefined) return;
    // One ref'd timer that never fires in practice (about 24.8 days); it only holds the loop open.
    this.handle = setInterval(() => {}, 2 ** 31 - 1);
  }

  release(): void {
    if (this.handle === undefined) return;
    clearInterval(this.handle);
    this.handle = undefined;
  }

  get holding(): boolean {
    return this.handle !== undefined;
  }
}
