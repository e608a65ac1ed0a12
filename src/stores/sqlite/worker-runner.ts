/**
 * The caller's side of the SQLite store's worker thread (`sql-worker.mjs`): it starts the thread,
 * waits for it to have the file open (so that opening stays synchronous, with the same errors),
 * then sends each statement call or transaction as a message (a large transaction as several,
 * see {@link PART_ROWS}) and resolves with its reply. Replies come in the order of the requests,
 * so the store's writes and reads keep their order.
 *
 * The thread does not keep the process alive by itself: only while a request waits for its reply
 * (as a file read would), so a store left open does not hold a finished program.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import type { CallMode, StepGroup } from './sql-runner.mjs';

/** What the worker needs to open the file the store has just checked and migrated. */
export interface WorkerOpening {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  checkpointPages: number;
  /** The identity the file must still have. */
  applicationId: number;
  version: number;
}

/** An error as the worker sends it back. */
interface SentError {
  name: string;
  message: string;
  code?: string | undefined;
  step?: number | undefined;
  missing?: true | undefined;
}

type Reply = { id: number; value: unknown } | { id: number; error: SentError };

/** The flags of a step group as sent (see `sql-worker.mjs`). */
const REQUIRES = 1;
const COUNT = 2;

/**
 * A transaction of more rows than this goes to the thread in parts of at most this many rows,
 * which the thread runs as they come: a large `submitBatch` then never has all of its rows alive
 * at once on the thread (10,000 rows in one message grew its heap to ~50 MB; in parts, ~39).
 */
export const PART_ROWS = 1_000;

/** How long opening waits for the thread (loading better-sqlite3 takes tens of milliseconds). */
const OPEN_TIMEOUT_MS = 30_000;

/** The error the worker threw, rebuilt with what the store reads of it (code, step, missing). */
function rebuild(sent: SentError): Error {
  const error = sent.name === 'TypeError' ? new TypeError(sent.message) : new Error(sent.message);
  if (sent.code !== undefined) Object.assign(error, { code: sent.code });
  if (sent.step !== undefined) Object.assign(error, { step: sent.step });
  if (sent.missing === true) Object.assign(error, { missing: true });
  return error;
}

/**
 * `groups` cut into parts of at most `size` rows, in order (a group's rows may be cut between
 * two parts; the flags go with each piece). One part when they fit.
 */
export function partsOf(groups: readonly StepGroup[], size: number): StepGroup[][] {
  let total = 0;
  for (const group of groups) total += group.rows.length;
  if (total <= size) return [groups as StepGroup[]];
  const parts: StepGroup[][] = [];
  let part: StepGroup[] = [];
  let room = size;
  for (const group of groups) {
    for (let from = 0; from < group.rows.length; ) {
      const take = Math.min(room, group.rows.length - from);
      part.push({ ...group, rows: group.rows.slice(from, from + take) });
      from += take;
      room -= take;
      if (room === 0) {
        parts.push(part);
        part = [];
        room = size;
      }
    }
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** Runs the store's statements on its worker thread. */
export class WorkerRunner {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  /** Each SQL text's number; a text is sent once, the first time it is used. */
  readonly #texts = new Map<string, number>();
  #defs: Array<[number, string]> = [];
  readonly #pending = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >();
  #nextId = 1;
  /** Set when the thread died: every later request fails with it. */
  #failure: Error | undefined;

  /** Starts the thread and waits until it has the file open; throws what opening threw. */
  static open(opening: WorkerOpening): WorkerRunner {
    const script = new URL('./sql-worker.mjs', import.meta.url);
    // Fails at once, not after the wait, when a bundler or a copy left the thread's module out.
    if (!existsSync(fileURLToPath(script))) {
      throw new Error(`the SQLite worker thread's module is missing: ${fileURLToPath(script)}`);
    }
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(script, {
      workerData: { ...opening, signal, port: port2 },
      transferList: [port2],
    });
    // A thread that fails to start reports it as an event after the wait: never unheard.
    const early = (): void => undefined;
    worker.on('error', early);
    const waited = Atomics.wait(signal, 0, 0, OPEN_TIMEOUT_MS);
    const reply = receiveMessageOnPort(port1)?.message as
      | { opened: true }
      | { opened: false; error: SentError }
      | undefined;
    if (waited === 'timed-out' || reply === undefined || !reply.opened) {
      port1.close();
      void worker.terminate();
      throw reply !== undefined && !reply.opened
        ? rebuild(reply.error)
        : new Error(`the SQLite worker thread did not open the file within ${OPEN_TIMEOUT_MS} ms`);
    }
    worker.off('error', early);
    return new WorkerRunner(worker, port1);
  }

  private constructor(worker: Worker, port: MessagePort) {
    this.#worker = worker;
    this.#port = port;
    // Listeners first: adding a port's first 'message' listener refs it again.
    port.on('message', (reply: Reply) => this.#settle(reply));
    port.on('messageerror', (error) => this.#die(error));
    worker.on('error', (error) => this.#die(error));
    worker.on('exit', (code) => {
      this.#die(new Error(`the SQLite worker thread stopped (exit code ${code})`));
    });
    this.#hold(false);
  }

  /** One statement call (see `SqlRunner.call`). */
  call(sql: string, params: readonly unknown[], mode: CallMode): Promise<unknown> {
    return this.#request({ op: 'call', sql: this.#text(sql), params, mode });
  }

  /**
   * One write transaction (see `SqlRunner.transaction`); a large one goes in parts (see
   * {@link PART_ROWS}), posted together so that nothing comes between them, and ended by a last
   * message without rows, which always copies: a part that cannot be copied is never the last
   * one, so the thread is always told to end the transaction, and rolls it back.
   */
  transaction(groups: readonly StepGroup[]): Promise<number> {
    const parts = partsOf(groups, PART_ROWS);
    if (parts.length === 1) {
      return this.#request({ op: 'transaction', groups: this.#sent(groups) }) as Promise<number>;
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    for (const [index, part] of parts.entries()) {
      try {
        this.#post({ op: 'part', groups: this.#sent(part) });
      } catch (error) {
        // Nothing was begun when the first part could not be sent.
        if (index === 0) return Promise.reject(error);
        const abandoned = this.#request({ op: 'transaction', groups: [], abandon: true });
        return abandoned.then(
          () => Promise.reject(error),
          () => Promise.reject(error),
        );
      }
    }
    return this.#request({ op: 'transaction', groups: [] }) as Promise<number>;
  }

  /** Step groups as the thread reads them: [sql, rows, otherwise (or -1), flags]. */
  #sent(groups: readonly StepGroup[]): unknown[] {
    return groups.map((group) => [
      this.#text(group.sql),
      group.rows,
      group.otherwise === undefined ? -1 : this.#text(group.otherwise),
      (group.requires === true ? REQUIRES : 0) | (group.count === true ? COUNT : 0),
    ]);
  }

  /** Closes the connection (after the requests before it), then ends the thread. */
  async close(): Promise<void> {
    try {
      await this.#request({ op: 'close' });
    } finally {
      this.#port.close();
      await this.#worker.terminate();
    }
  }

  /** Ends the thread at once, as a crash would (for tests of what follows). */
  async stop(): Promise<void> {
    await this.#worker.terminate();
  }

  #text(sql: string): number {
    let n = this.#texts.get(sql);
    if (n === undefined) {
      n = this.#texts.size;
      this.#texts.set(sql, n);
      this.#defs.push([n, sql]);
    }
    return n;
  }

  #request(body: Record<string, unknown>): Promise<unknown> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#post({ id, ...body });
      if (this.#pending.size === 0) this.#hold(true);
      this.#pending.set(id, { resolve, reject });
    });
  }

  /**
   * Posts a message, with the SQL texts it is the first to use. Throws (and sends nothing) for a
   * value that cannot be copied to the thread.
   */
  #post(body: Record<string, unknown>): void {
    this.#port.postMessage(this.#defs.length === 0 ? body : { defs: this.#defs, ...body });
    this.#defs = [];
  }

  #settle(reply: Reply): void {
    const waiting = this.#pending.get(reply.id);
    if (waiting === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#hold(false);
    if ('error' in reply) waiting.reject(rebuild(reply.error));
    else waiting.resolve(reply.value);
  }

  /** Keeps the process alive (while a call waits for its answer) or lets it end. */
  #hold(alive: boolean): void {
    if (alive) {
      this.#port.ref();
      this.#worker.ref();
    } else {
      this.#port.unref();
      this.#worker.unref();
    }
  }

  /**
   * The thread died (or a message could not be read): the replies it sent before are taken
   * first (the answer to `close`, commits that did land), then every call still waiting fails.
   */
  #die(error: Error): void {
    for (
      let left = receiveMessageOnPort(this.#port);
      left;
      left = receiveMessageOnPort(this.#port)
    ) {
      this.#settle(left.message as Reply);
    }
    this.#failure ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(this.#failure);
    this.#pending.clear();
    this.#hold(false);
  }
}
