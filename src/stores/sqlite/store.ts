/**
 * The SQLite {@link TaskStore}: tasks, idempotency keys and the ledger in one file, durable on
 * one machine. One process holds the file at a time (an exclusive lock taken at open); writes go
 * through a few prepared statements, and each `commit` is one transaction.
 */

import type Database from 'better-sqlite3';
import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  type TaskStatus,
  zeroStatusCounts,
} from '../../../machines/task-status.js';
import { StoreError, TaskNotFoundError, ValidationError } from '../../errors.js';
import {
  admissionRank,
  checkLedgerEntry,
  checkStatuses,
  checkThroughSeq,
  decodeListCursor,
  duplicateIdError,
  duplicateKeyError,
  encodeListCursor,
  encodeWaitingCursor,
  noLedgerEntry,
  resolveLedgerQuery,
  resolveLimit,
  resolveListFilter,
  resolveWaitingQuery,
  toJson,
  type WaitingKey,
} from '../query.js';
import type {
  LedgerEntry,
  LedgerQuery,
  StoredLedgerEntry,
  StoreWrite,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskStore,
  WaitingQuery,
} from '../types.js';
import { closedError, toStoreError } from './errors.js';
import { registerSqliteHooks } from './internals.js';
import { openDatabase, WAL_CHECKPOINT_PAGES } from './open.js';
import {
  compareRows,
  type LedgerRow,
  type PreparedWrite,
  prepareWrite,
  taskStepsOf,
  type WaitingRow,
} from './rows.js';
import { APPLICATION_ID, MIGRATIONS } from './schema.js';
import { type CallMode, SqlRunner, type StepError, type StepGroup } from './sql-runner.mjs';
import { QueryShapes, SQL } from './statements.js';
import { WorkerRunner } from './worker-runner.js';

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` setting. `NORMAL` (the default) survives a crash of the process; a
   * power cut may lose the last commits but never damages the file. `FULL` also keeps every
   * commit through a power cut, at the cost of a sync per commit.
   * @default 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL' | undefined;
  /**
   * Where SQLite's work runs. `'worker'` (the default for a file) gives the connection a worker
   * thread of its own, so statements, commits and checkpoints use another core than the
   * engine's; `'main'` runs them on the caller's thread, at the moment each method is called.
   * A `':memory:'` store always runs on the caller's thread.
   * @default 'worker' for a file, 'main' for ':memory:'
   */
  thread?: 'worker' | 'main' | undefined;
}

/** What runs the statements: a {@link SqlRunner} here, or a {@link WorkerRunner}. */
interface Runner {
  call(sql: string, params: readonly unknown[], mode: CallMode): unknown;
  transaction(groups: readonly StepGroup[]): number | Promise<number>;
  close(): void | Promise<void>;
}

/**
 * Opens (or creates) the SQLite task store at `path`; `':memory:'` gives one that lives in
 * memory, for tests. Synchronous: the file is checked, migrated and locked (and the worker
 * thread started) before it returns. Throws a {@link StoreError} whose `reason` says why the
 * file cannot be used: `corrupt` (not a database), `foreign` (another program's database),
 * `newer-schema` (written by a newer version of this library), `locked` (another process or
 * connection has it open), `read-only`, `full` or `io`.
 *
 * @example
 * ```ts
 * import { openSqliteStore } from 'ai-task-queue/sqlite';
 * const store = openSqliteStore('./queue.db');
 * ```
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteTaskStore {
  const db = openDatabase(path, options, MIGRATIONS);
  if (options.thread === 'main' || path === ':memory:') {
    return createStore(new SqlRunner(db), db, path, 'main');
  }
  // The checks and migrations are done; the worker opens the file again and takes its lock.
  db.close();
  let runner: WorkerRunner;
  try {
    runner = WorkerRunner.open({
      path,
      synchronous: options.synchronous ?? 'NORMAL',
      checkpointPages: WAL_CHECKPOINT_PAGES,
      applicationId: APPLICATION_ID,
      version: MIGRATIONS.length,
    });
  } catch (error) {
    throw toStoreError(error, path, 'open');
  }
  return createStore(runner, undefined, path, 'worker');
}

let createStore: (
  runner: Runner,
  db: Database.Database | undefined,
  path: string,
  thread: 'worker' | 'main',
) => SqliteTaskStore;

/**
 * A {@link TaskStore} in a SQLite file (through better-sqlite3), made by {@link openSqliteStore}.
 *
 * Each record is kept as JSON, beside the columns that `list`, `listWaiting` and the sweeps
 * filter and sort by, so `data`, `result` and `metadata` must be JSON: what `JSON.stringify`
 * drops or changes (`undefined` fields, functions, `Date`s, `NaN`) comes back dropped or
 * changed, and a value it cannot write (a `BigInt`, a cycle) rejects the write with a
 * `ValidationError`. Reads return fresh objects; the store never keeps the caller's.
 *
 * The file is in WAL mode with an exclusive lock: one process (one connection) at a time. Every
 * write is a transaction, so a write that fails (a full disk, a duplicate id) changes nothing and
 * loses nothing committed before. The schema has a version; a file of an older version is
 * migrated when opened. Records become JSON on the caller's thread; the statements run on the
 * store's worker thread (or on the caller's, see {@link SqliteStoreOptions.thread}), one request
 * after another in the order of the calls.
 *
 * Task ids are ordered by their UTF-8 bytes (SQLite's `BINARY`), which differs from JavaScript's
 * string order only between characters above U+FFFF and those from U+E000 to U+FFFF.
 */
export class SqliteTaskStore implements TaskStore {
  readonly name = 'sqlite';
  readonly durable = true;
  readonly ordersCommits = true;
  /** The file, as given to {@link openSqliteStore}. */
  readonly path: string;
  /** Where SQLite's work runs (see {@link SqliteStoreOptions.thread}). */
  readonly thread: 'worker' | 'main';

  readonly #runner: Runner;
  /** The connection, when it is on this thread. */
  readonly #db: Database.Database | undefined;
  /** The statements of `list` and `listWaiting`, by shape. */
  readonly #shapes = new QueryShapes();
  #closed = false;
  /** The close under way or done (a second `close()` waits for the first). */
  #closing: Promise<void> | undefined;

  static {
    createStore = (runner, db, path, thread) => new SqliteTaskStore(runner, db, path, thread);
    registerSqliteHooks({
      create: (db, path) => createStore(new SqlRunner(db), db, path, 'main'),
      inspect: (store) => {
        const runner = store.#runner;
        if (store.#db === undefined || !(runner instanceof SqlRunner)) {
          throw new Error(
            "the SQLite internals are only there for a store opened with thread 'main'",
          );
        }
        return { db: store.#db, prepared: runner.prepared };
      },
      worker: (store) => {
        const runner = store.#runner;
        if (!(runner instanceof WorkerRunner)) {
          throw new Error("only a store opened with thread 'worker' has a worker thread");
        }
        return runner;
      },
    });
  }

  private constructor(
    runner: Runner,
    db: Database.Database | undefined,
    path: string,
    thread: 'worker' | 'main',
  ) {
    this.#runner = runner;
    this.#db = db;
    this.path = path;
    this.thread = thread;
  }

  /**
   * Applies the write in one transaction: inserts, updates, removes, ledger entries in that
   * order. Rejects (and changes nothing) on an inserted id or idempotency key that exists or
   * appears twice, an updated task that does not exist, or data that is not JSON.
   */
  async commit(write: StoreWrite): Promise<void> {
    await this.#run('commit', () => this.#write(prepareWrite(write)));
  }

  /** Adds new tasks, all or nothing. */
  async insert(records: readonly TaskRecord[]): Promise<void> {
    await this.#run('insert', () => this.#write(prepareWrite({ insert: records })));
  }

  /** Replaces a stored task; rejects with `TaskNotFoundError` if there is none. */
  async update(record: TaskRecord): Promise<void> {
    await this.#run('update', () => this.#write(prepareWrite({ update: [record] })));
  }

  /** A fresh copy of the stored record, or `undefined`. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#run('get', async () => {
      const body = (await this.#runner.call(SQL.getTask, [id], 'value')) as string | undefined;
      return body === undefined ? undefined : this.#parse(body);
    });
  }

  /** One page of records in `seq` order (then `id`), after the query's cursor. */
  async list(query: TaskQuery = {}): Promise<TaskPage> {
    return this.#run('list', async () => {
      const limit = resolveLimit(query.limit);
      const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
      const filter = resolveListFilter(query);
      if (filter === undefined) return { items: [], nextCursor: null };
      const params: unknown[] = [...(filter.statuses ?? [])];
      if (filter.taskType !== undefined) params.push(filter.taskType);
      if (filter.priority !== undefined) params.push(admissionRank(filter.priority));
      if (after !== undefined) params.push(after.seq, after.id);
      params.push(limit + 1);
      const sql = this.#shapes.list(filter, after !== undefined);
      const bodies = (await this.#runner.call(sql, params, 'values')) as string[];
      const items = bodies.slice(0, limit).map((body) => this.#parse(body));
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: bodies.length > limit && last !== undefined ? encodeListCursor(last) : null,
      };
    });
  }

  /** One page of records in admission order (priority, `seq`, `id`), after the query's cursor. */
  async listWaiting(query: WaitingQuery = {}): Promise<TaskPage> {
    return this.#run('listWaiting', async () => {
      const { statuses, model, limit, after } = resolveWaitingQuery(query);
      if (statuses.length === 0) return { items: [], nextCursor: null };
      // One ordered index range per status, merged: a page costs its size, not the table's.
      const sql = this.#shapes.waiting(model !== undefined, after !== undefined);
      const rest: unknown[] = [];
      if (model !== undefined) rest.push(model);
      if (after !== undefined) rest.push(after.rank, after.seq, after.id);
      rest.push(limit + 1);
      const pages = statuses.map((status) => this.#runner.call(sql, [status, ...rest], 'all'));
      let rows = ((await Promise.all(pages)) as WaitingRow[][]).flat();
      if (statuses.length > 1) rows.sort(compareRows);
      rows = rows.slice(0, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const key: WaitingKey | undefined =
        last === undefined ? undefined : { rank: last.rank, seq: last.seq, id: last.id };
      return {
        items: page.map((row) => this.#parse(row.body)),
        nextCursor: rows.length > limit && key !== undefined ? encodeWaitingCursor(key) : null,
      };
    });
  }

  /** How many stored tasks in these statuses there are, by priority (zeros included). */
  async countWaiting(statuses: readonly TaskStatus[]): Promise<Record<Priority, number>> {
    return this.#run('countWaiting', async () => {
      const wanted = checkStatuses(statuses, 'statuses');
      const counts: Record<Priority, number> = { URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
      const found = (await Promise.all(
        wanted.map((status) => this.#runner.call(SQL.countByRank, [status], 'all')),
      )) as Array<Array<{ rank: number; n: number }>>;
      for (const { rank, n } of found.flat()) {
        const priority = PRIORITIES_HIGH_FIRST[rank];
        if (priority !== undefined) counts[priority] += n;
      }
      return counts;
    });
  }

  /** How many stored tasks are in each of the seven statuses (zeros included). */
  async countByStatus(): Promise<Record<TaskStatus, number>> {
    return this.#run('countByStatus', async () => {
      const counts = zeroStatusCounts();
      const found = (await this.#runner.call(SQL.countByStatus, [], 'all')) as Array<{
        status: string;
        n: number;
      }>;
      for (const { status, n } of found) {
        if (status in counts) counts[status as TaskStatus] = n;
      }
      return counts;
    });
  }

  /** Removes the given tasks; resolves with how many of them were stored. */
  async remove(ids: readonly string[]): Promise<number> {
    return this.#run('remove', () => this.#write(prepareWrite({ remove: ids })));
  }

  /** Removes completed, failed and cancelled tasks whose `completedAt` is before `before`. */
  async removeFinishedBefore(before: number): Promise<number> {
    return this.#run('removeFinishedBefore', async () => {
      if (typeof before !== 'number') {
        throw new ValidationError(`invalid before: ${String(before)}; expected a time in ms`, [
          { path: 'before', message: 'not a number', received: before },
        ]);
      }
      return (await this.#runner.call(SQL.removeFinished, [before], 'run')) as number;
    });
  }

  /** The ids of the stored tasks that hold these idempotency keys. */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<Map<string, string>> {
    return this.#run('findByIdempotencyKeys', async () => {
      const found = new Map<string, string>();
      const wanted = keys.filter((key) => typeof key === 'string');
      if (wanted.length === 0) return found;
      const rows = (await this.#runner.call(
        SQL.findKeys,
        [JSON.stringify(wanted)],
        'all',
      )) as Array<{
        key: string;
        id: string;
      }>;
      for (const { key, id } of rows) found.set(key, id);
      return found;
    });
  }

  /** The largest stored `seq` (0 when empty). */
  async lastSeq(): Promise<number> {
    return this.#run('lastSeq', async () => {
      const seq = (await this.#runner.call(SQL.lastSeq, [], 'value')) as number | null;
      return seq ?? 0;
    });
  }

  /** Ledger entries with `seq > after`, at most `limit`, in append order. */
  async readLedger(query: LedgerQuery = {}): Promise<StoredLedgerEntry[]> {
    return this.#run('readLedger', async () => {
      const { after, limit } = resolveLedgerQuery(query);
      const rows = (await this.#runner.call(SQL.readLedger, [after, limit], 'all')) as LedgerRow[];
      return rows.map((row) => {
        const event = row.body === null ? undefined : this.#parse(row.body);
        return row.task_id === null
          ? { seq: row.seq, at: row.at, event }
          : { seq: row.seq, at: row.at, taskId: row.task_id, event };
      });
    });
  }

  /** Replaces the entries up to `throughSeq` by `checkpoint` (which keeps that `seq`), at once. */
  async compactLedger(throughSeq: number, checkpoint: LedgerEntry): Promise<void> {
    await this.#run('compactLedger', async () => {
      checkThroughSeq(throughSeq);
      checkLedgerEntry(checkpoint, 'checkpoint');
      const body = toJson(checkpoint.event, 'checkpoint.event') ?? null;
      const params = [checkpoint.at, checkpoint.taskId ?? null, body, throughSeq];
      try {
        await this.#runner.transaction([
          { sql: SQL.replaceLedger, rows: [params], requires: true },
          { sql: SQL.trimLedger, rows: [[throughSeq]] },
        ]);
      } catch (error) {
        throw (error as StepError).missing === true ? noLedgerEntry(throughSeq) : error;
      }
    });
  }

  /**
   * Closes the file (SQLite checkpoints the WAL into it and removes it) and releases the lock,
   * after the calls made before. Later calls reject with a `StoreError` of reason `closed`;
   * closing again resolves.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#runner.close();
    } catch (error) {
      throw toStoreError(error, this.path, 'close');
    }
  }

  /** Runs `work` on the open store, turning SQLite's errors into the library's. */
  async #run<T>(operation: string, work: () => T | Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(this.path, operation);
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error, this.path, operation);
    }
  }

  /**
   * The write as one transaction: inserts, updates, removes, ledger entries in that order;
   * resolves with how many removed tasks existed.
   */
  #write(write: PreparedWrite): Promise<number> {
    const groups: StepGroup[] = [];
    if (write.insert.length > 0) {
      groups.push({ sql: SQL.insertTask, rows: write.insert, otherwise: SQL.insertTaskAnywhere });
    }
    if (write.update.length > 0) {
      groups.push({
        sql: SQL.updateChanging,
        rows: write.update,
        otherwise: SQL.updateTask,
        requires: true,
      });
    }
    if (write.remove.length > 0) {
      groups.push({ sql: SQL.deleteTask, rows: write.remove.map((id) => [id]), count: true });
    }
    if (write.ledger.length > 0) groups.push({ sql: SQL.appendLedger, rows: write.ledger });
    // Not an async function: its argument would stay alive (rows and the tasks' bodies) until the
    // transaction is answered. An error needs only the tasks' ids and keys.
    const tasks = taskStepsOf(write);
    try {
      return Promise.resolve(this.#runner.transaction(groups)).catch((error: unknown) =>
        this.#failed(error, tasks),
      );
    } catch (error) {
      return this.#failed(error, tasks);
    }
  }

  /** A write's error, as the store reports it: a missing task or a broken constraint by id. */
  async #failed(
    error: unknown,
    tasks: { ids: string[]; keys: Array<string | null> },
  ): Promise<never> {
    const { step, missing } = error as StepError;
    if (step === undefined || step >= tasks.ids.length) throw error;
    const id = tasks.ids[step] as string;
    if (missing === true) throw new TaskNotFoundError(id);
    throw await this.#conflict(error, id, tasks.keys[step] ?? null);
  }

  /** The `ValidationError` for a constraint the task `id` broke, or `error` itself. */
  async #conflict(error: unknown, id: string, key: string | null): Promise<unknown> {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return duplicateIdError(id, false);
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' && key !== null) {
      // Asked after the write failed; if that fails too (the store closing), the holder is unknown.
      let holder: string | undefined;
      try {
        holder = (await this.#runner.call(SQL.keyHolder, [key], 'value')) as string | undefined;
      } catch {
        holder = undefined;
      }
      return duplicateKeyError(key, id, holder, false);
    }
    return error;
  }

  #parse(body: string): TaskRecord {
    try {
      return JSON.parse(body) as TaskRecord;
    } catch (error) {
      throw new StoreError(
        `the SQLite task store at '${this.path}' holds a record that is not JSON; the file is damaged`,
        'corrupt',
        this.path,
        { cause: error },
      );
    }
  }
}
