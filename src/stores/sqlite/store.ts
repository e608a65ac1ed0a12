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
import { openDatabase } from './open.js';
import {
  compareRows,
  type PreparedWrite,
  prepareWrite,
  type TaskRow,
  type WaitingRow,
} from './rows.js';
import { MIGRATIONS } from './schema.js';
import { prepareStatements, QueryShapes, type StoreStatements } from './statements.js';

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` setting. `NORMAL` (the default) survives a crash of the process; a
   * power cut may lose the last commits but never damages the file. `FULL` also keeps every
   * commit through a power cut, at the cost of a sync per commit.
   * @default 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL' | undefined;
}

/**
 * Opens (or creates) the SQLite task store at `path`; `':memory:'` gives one that lives in
 * memory, for tests. Synchronous. Throws a {@link StoreError} whose `reason` says why the file
 * cannot be used: `corrupt` (not a database), `foreign` (another program's database),
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
  return createStore(openDatabase(path, options, MIGRATIONS), path);
}

let createStore: (db: Database.Database, path: string) => SqliteTaskStore;

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
 * migrated when opened. better-sqlite3 is synchronous: the methods do their work at once and
 * return settled promises (errors as rejections).
 *
 * Task ids are ordered by their UTF-8 bytes (SQLite's `BINARY`), which differs from JavaScript's
 * string order only between characters above U+FFFF and those from U+E000 to U+FFFF.
 */
export class SqliteTaskStore implements TaskStore {
  readonly name = 'sqlite';
  readonly durable = true;
  /** The file, as given to {@link openSqliteStore}. */
  readonly path: string;

  readonly #db: Database.Database;
  /** The statements prepared at open. */
  readonly #sql: StoreStatements;
  readonly #commit: Database.Transaction<(write: PreparedWrite) => number>;
  readonly #compact: Database.Transaction<(seq: number, entry: LedgerEntry) => void>;
  /** The statements of `list` and `listWaiting`, prepared by shape. */
  readonly #shapes: QueryShapes;
  #closed = false;

  static {
    createStore = (db, path) => new SqliteTaskStore(db, path);
    registerSqliteHooks({
      create: createStore,
      inspect: (store) => ({ db: store.#db, preparedShapes: store.#shapes.size }),
    });
  }

  private constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.path = path;
    this.#sql = prepareStatements(db);
    this.#shapes = new QueryShapes(db);
    this.#commit = db.transaction((write: PreparedWrite) => this.#apply(write));
    this.#compact = db.transaction((seq: number, entry: LedgerEntry) => {
      const body = toJson(entry.event, 'checkpoint.event') ?? null;
      const { changes } = this.#sql.replaceLedger.run(entry.at, entry.taskId ?? null, body, seq);
      if (changes === 0) throw noLedgerEntry(seq);
      this.#sql.trimLedger.run(seq);
    });
  }

  /**
   * Applies the write in one transaction: inserts, updates, removes, ledger entries in that
   * order. Rejects (and changes nothing) on an inserted id or idempotency key that exists or
   * appears twice, an updated task that does not exist, or data that is not JSON.
   */
  async commit(write: StoreWrite): Promise<void> {
    this.#run('commit', () => {
      this.#commit(prepareWrite(write));
    });
  }

  /** Adds new tasks, all or nothing. */
  async insert(records: readonly TaskRecord[]): Promise<void> {
    this.#run('insert', () => {
      this.#commit(prepareWrite({ insert: records }));
    });
  }

  /** Replaces a stored task; rejects with `TaskNotFoundError` if there is none. */
  async update(record: TaskRecord): Promise<void> {
    this.#run('update', () => {
      this.#commit(prepareWrite({ update: [record] }));
    });
  }

  /** A fresh copy of the stored record, or `undefined`. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#run('get', () => {
      const body = this.#sql.getTask.get(id);
      return body === undefined ? undefined : this.#parse(body);
    });
  }

  /** One page of records in `seq` order (then `id`), after the query's cursor. */
  async list(query: TaskQuery = {}): Promise<TaskPage> {
    return this.#run('list', () => {
      const limit = resolveLimit(query.limit);
      const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
      const filter = resolveListFilter(query);
      if (filter === undefined) return { items: [], nextCursor: null };
      const params: unknown[] = [...(filter.statuses ?? [])];
      if (filter.taskType !== undefined) params.push(filter.taskType);
      if (filter.priority !== undefined) params.push(admissionRank(filter.priority));
      if (after !== undefined) params.push(after.seq, after.id);
      params.push(limit + 1);
      const bodies = this.#shapes.list(filter, after !== undefined).all(...params) as string[];
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
    return this.#run('listWaiting', () => {
      const { statuses, model, limit, after } = resolveWaitingQuery(query);
      if (statuses.length === 0) return { items: [], nextCursor: null };
      // One ordered index range per status, merged: a page costs its size, not the table's.
      const statement = this.#shapes.waiting(model !== undefined, after !== undefined);
      const rest: unknown[] = [];
      if (model !== undefined) rest.push(model);
      if (after !== undefined) rest.push(after.rank, after.seq, after.id);
      rest.push(limit + 1);
      let rows: WaitingRow[] = [];
      for (const status of statuses) {
        rows.push(...(statement.all(status, ...rest) as WaitingRow[]));
      }
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
    return this.#run('countWaiting', () => {
      const wanted = checkStatuses(statuses, 'statuses');
      const counts: Record<Priority, number> = { URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
      for (const status of wanted) {
        for (const { rank, n } of this.#sql.countByRank.all(status)) {
          const priority = PRIORITIES_HIGH_FIRST[rank];
          if (priority !== undefined) counts[priority] += n;
        }
      }
      return counts;
    });
  }

  /** How many stored tasks are in each of the seven statuses (zeros included). */
  async countByStatus(): Promise<Record<TaskStatus, number>> {
    return this.#run('countByStatus', () => {
      const counts = zeroStatusCounts();
      for (const { status, n } of this.#sql.countByStatus.all()) {
        if (status in counts) counts[status as TaskStatus] = n;
      }
      return counts;
    });
  }

  /** Removes the given tasks; resolves with how many of them were stored. */
  async remove(ids: readonly string[]): Promise<number> {
    return this.#run('remove', () => this.#commit(prepareWrite({ remove: ids })));
  }

  /** Removes completed, failed and cancelled tasks whose `completedAt` is before `before`. */
  async removeFinishedBefore(before: number): Promise<number> {
    return this.#run('removeFinishedBefore', () => {
      if (typeof before !== 'number') {
        throw new ValidationError(`invalid before: ${String(before)}; expected a time in ms`, [
          { path: 'before', message: 'not a number', received: before },
        ]);
      }
      return this.#sql.removeFinished.run(before).changes;
    });
  }

  /** The ids of the stored tasks that hold these idempotency keys. */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<Map<string, string>> {
    return this.#run('findByIdempotencyKeys', () => {
      const found = new Map<string, string>();
      const wanted = keys.filter((key) => typeof key === 'string');
      if (wanted.length === 0) return found;
      for (const { key, id } of this.#sql.findKeys.all(JSON.stringify(wanted))) found.set(key, id);
      return found;
    });
  }

  /** The largest stored `seq` (0 when empty). */
  async lastSeq(): Promise<number> {
    return this.#run('lastSeq', () => this.#sql.lastSeq.get() ?? 0);
  }

  /** Ledger entries with `seq > after`, at most `limit`, in append order. */
  async readLedger(query: LedgerQuery = {}): Promise<StoredLedgerEntry[]> {
    return this.#run('readLedger', () => {
      const { after, limit } = resolveLedgerQuery(query);
      return this.#sql.readLedger.all(after, limit).map((row) => {
        const event = row.body === null ? undefined : this.#parse(row.body);
        return row.task_id === null
          ? { seq: row.seq, at: row.at, event }
          : { seq: row.seq, at: row.at, taskId: row.task_id, event };
      });
    });
  }

  /** Replaces the entries up to `throughSeq` by `checkpoint` (which keeps that `seq`), at once. */
  async compactLedger(throughSeq: number, checkpoint: LedgerEntry): Promise<void> {
    this.#run('compactLedger', () => {
      checkThroughSeq(throughSeq);
      checkLedgerEntry(checkpoint, 'checkpoint');
      this.#compact(throughSeq, checkpoint);
    });
  }

  /**
   * Closes the file (SQLite checkpoints the WAL into it and removes it) and releases the lock.
   * Later calls reject with a `StoreError` of reason `closed`; closing again resolves.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#shapes.clear();
    try {
      // Keeps the planner's statistics fresh for the next open; cheap when nothing changed.
      this.#db.pragma('optimize');
    } catch {
      // Statistics are a nicety; closing is what matters.
    }
    try {
      this.#db.close();
    } catch (error) {
      throw toStoreError(error, this.path, 'close');
    }
  }

  /** Runs `work` on the open store, turning SQLite's errors into the library's. */
  #run<T>(operation: string, work: () => T): T {
    if (this.#closed) throw closedError(this.path, operation);
    try {
      return work();
    } catch (error) {
      throw toStoreError(error, this.path, operation);
    }
  }

  /** The body of the commit transaction; resolves with how many removed tasks existed. */
  #apply(write: PreparedWrite): number {
    for (const row of write.insert) {
      try {
        this.#sql.insertTask.run(...row);
      } catch (error) {
        throw this.#conflict(error, row);
      }
    }
    for (const row of write.update) {
      let changes: number;
      try {
        const [id, ...columns] = row;
        changes = this.#sql.updateTask.run(...columns, id).changes;
      } catch (error) {
        throw this.#conflict(error, row);
      }
      if (changes === 0) throw new TaskNotFoundError(row[0]);
    }
    let removed = 0;
    for (const id of write.remove) removed += this.#sql.deleteTask.run(id).changes;
    for (const [at, taskId, body] of write.ledger) this.#sql.appendLedger.run(at, taskId, body);
    return removed;
  }

  /** The `ValidationError` for a constraint the row broke, or `error` itself. */
  #conflict(error: unknown, row: TaskRow): unknown {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    const [id, , , , , , key] = row;
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return duplicateIdError(id, false);
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' && key !== null) {
      return duplicateKeyError(key, id, this.#sql.keyHolder.get(key), false);
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
