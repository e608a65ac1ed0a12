/**
 * Work that takes turns of the event loop: one unit a turn, in the order asked, so that the I/O
 * that comes in meanwhile (a socket's data, a request's arrival) is read between two units
 * instead of after all of them.
 *
 * A turn here is one pass of Node's check phase (`setImmediate`): a unit resolved there runs its
 * continuation in that phase's microtasks, and the poll phase (the sockets) comes before the next.
 * Not time: nothing here waits for a moment, so nothing here needs the injected clock.
 */
export class Turns {
  /** Units waiting for a turn of their own, in the order they asked. */
  private readonly waiting: (() => void)[] = [];
  /** Whether a turn is running or booked: a unit now would share it with another. */
  private busy = false;

  /**
   * A turn for one unit: `undefined` when no unit has one in this turn (the unit goes on at once,
   * and units asked after it in this turn wait), otherwise a promise that resolves in a later turn
   * of its own.
   */
  take(): Promise<void> | undefined {
    if (!this.busy) {
      this.busy = true;
      setImmediate(this.next);
      return undefined;
    }
    return this.later();
  }

  /** A later turn of its own, never this one (work that must not run inside the poll phase). */
  later(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.busy) {
        this.busy = true;
        setImmediate(this.next);
      }
    });
  }

  private readonly next = (): void => {
    const unit = this.waiting.shift();
    if (unit === undefined) {
      this.busy = false;
      return;
    }
    unit();
    setImmediate(this.next);
  };
}
