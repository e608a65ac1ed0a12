import type { ServerResponse } from 'node:http';
import type { Clock } from '../time/clock.js';
import type { DashboardFeed } from './feed.js';

/**
 * Builds one `update` message: statistics and actors, with the feed's changes since the last
 * message (`withChanges`), or none (the first message of a new client; the page loads the series
 * and failures so far from the API).
 */
export type UpdateBuilder = (withChanges: boolean) => Promise<unknown>;

interface Client {
  response: ServerResponse;
  /** The socket's buffer is full: skip messages until it drains (a slow page loses updates, not memory). */
  blocked: boolean;
}

/**
 * The server-sent events of `/events`: one `update` message to every client each `intervalMs`
 * while something happened, and at least once every `idleMs` (uptime and windows move on their
 * own). With `intervalMs` ≥ 250 a page gets at most 4 messages a second, however many tasks run.
 */
export class UpdateStream {
  readonly #clients = new Set<Client>();
  readonly #feed: DashboardFeed;
  readonly #build: UpdateBuilder;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #idleMs: number;
  #timer: unknown;
  #lastSent = Number.NEGATIVE_INFINITY;
  #building = false;
  #closed = false;

  constructor(
    feed: DashboardFeed,
    build: UpdateBuilder,
    clock: Clock,
    options: { intervalMs: number; idleMs: number },
  ) {
    this.#feed = feed;
    this.#build = build;
    this.#clock = clock;
    this.#intervalMs = options.intervalMs;
    this.#idleMs = options.idleMs;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Starts the stream on `response`; its first message goes at once. */
  add(response: ServerResponse): void {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    const client: Client = { response, blocked: false };
    this.#clients.add(client);
    response.on('close', () => {
      this.#clients.delete(client);
      if (this.#clients.size === 0 && this.#timer !== undefined) {
        this.#clock.clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    });
    response.on('drain', () => {
      client.blocked = false;
    });
    void this.#send([client], false);
    this.#arm();
  }

  /** Ends every stream and the timer. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const client of this.#clients) client.response.end();
    this.#clients.clear();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed || this.#clients.size === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#intervalMs);
  }

  async #tick(): Promise<void> {
    const due = this.#feed.changed || this.#clock.now() - this.#lastSent >= this.#idleMs;
    if (due && !this.#building) await this.#send([...this.#clients], true);
    this.#arm();
  }

  async #send(clients: Client[], withChanges: boolean): Promise<void> {
    this.#building = true;
    let message: string;
    try {
      message = `event: update\ndata: ${JSON.stringify(await this.#build(withChanges))}\n\n`;
    } catch {
      // The manager could not give its figures (it is stopping): the next tick tries again.
      return;
    } finally {
      this.#building = false;
    }
    if (withChanges) this.#lastSent = this.#clock.now();
    for (const client of clients) {
      if (client.blocked || !this.#clients.has(client)) continue;
      client.blocked = !client.response.write(message);
    }
  }
}
