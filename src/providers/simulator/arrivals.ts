/**
 * Requests as they arrive: each is stamped in the server's request callback and handed on one
 * per turn of the event loop, so what arrives while one is read, tokenized and answered is
 * stamped before the next is handled (a burst is counted at its arrival, not one request's work
 * after another's).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request stamped at its arrival, not yet handled. */
export interface Arrival {
  req: IncomingMessage;
  res: ServerResponse;
  /** The arrival stamp (the simulator's `now`). */
  at: number;
}

export class Arrivals {
  private readonly waiting: Arrival[] = [];
  private handling = false;

  constructor(
    private readonly handle: (req: IncomingMessage, res: ServerResponse, at: number) => void,
  ) {}

  /** A request arrived at `at`: handled in a later turn, after those that arrived before it. */
  add(req: IncomingMessage, res: ServerResponse, at: number): void {
    this.waiting.push({ req, res, at });
    if (!this.handling) {
      this.handling = true;
      setImmediate(this.next);
    }
  }

  /** Takes every request not handled yet (a shutdown cuts them off). */
  drain(): Arrival[] {
    return this.waiting.splice(0);
  }

  private readonly next = (): void => {
    const arrival = this.waiting.shift();
    if (arrival === undefined) {
      this.handling = false;
      return;
    }
    this.handle(arrival.req, arrival.res, arrival.at);
    setImmediate(this.next);
  };
}
