/**
 * Requests as they arrive: each is stamped in the server's request callback and handed on one
 * per turn of the event loop, so what arrives while one is read, tokenized and answered is
 * stamped before the next is handled (a burst is counted at its arrival, not one request's work
 * after another's). The turns are the server's (`Turns`): a request's counting and answer take
 * turns of the same line once its body is read, so no turn holds more than one piece of work.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Turns } from '../../internal/turns.js';

/** A request stamped at its arrival, not yet handled. */
export interface Arrival {
  req: IncomingMessage;
  res: ServerResponse;
  /** The arrival stamp (the simulator's `now`). */
  at: number;
}

export class Arrivals {
  private readonly waiting: Arrival[] = [];

  /**
   * @param turns the server's turns: the handling of an arrival takes one, as every other piece of
   *   the server's work does
   */
  constructor(
    private readonly handle: (req: IncomingMessage, res: ServerResponse, at: number) => void,
    private readonly turns: Turns,
  ) {}

  /** A request arrived at `at`: handled in a later turn, after those that arrived before it. */
  add(req: IncomingMessage, res: ServerResponse, at: number): void {
    this.waiting.push({ req, res, at });
    void this.turns.later().then(this.next);
  }

  /** Takes every request not handled yet (a shutdown cuts them off). */
  drain(): Arrival[] {
    return this.waiting.splice(0);
  }

  /** One arrival's turn: the oldest waiting (none when a shutdown took them). */
  private readonly next = (): void => {
    const arrival = this.waiting.shift();
    if (arrival !== undefined) this.handle(arrival.req, arrival.res, arrival.at);
  };
}
