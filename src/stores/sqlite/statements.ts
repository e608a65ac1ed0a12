/**
 * The SQL of the SQLite store: its fixed statements, prepared once when it opens, and the query
 * statements of `list` and `listWaiting`, prepared once per shape on first use.
 */

import type Database from 'better-sqlite3';
import { TERMINAL_STATUSES } from '../../../machines/task-status.js';
import type { ListFilter } from '../query.js';
import type { LedgerRow, TaskRow, UpdateRow } from './rows.js';

const TERMINAL_SQL = [...TERMINAL_STATUSES].map((s) => `'${s}'`).join(', ');

/** The statements every store prepares when it opens. */
export interface StoreStatements {
  insertTask: Database.Statement<TaskRow>;
  updateTask: Database.Statement<UpdateRow>;
  deleteTask: Database.Statement<[string]>;
  getTask: Database.Statement<[string], string>;
  keyHolder: Database.Statement<[string], string>;
  findKeys: Database.Statement<[string], { key: string; id: string }>;
  countByStatus: Database.Statement<[], { status: string; n: number }>;
  countByRank: Database.Statement<[string], { rank: number; n: number }>;
  lastSeq: Database.Statement<[], number | null>;
  removeFinished: Database.Statement<[number]>;
  appendLedger: Database.Statement<[number, string | null, string | null]>;
  readLedger: Database.Statement<[number, number], LedgerRow>;
  replaceLedger: Database.Statement<[number, string | null, string | null, number]>;
  trimLedger: Database.Statement<[number]>;
}

/** Prepares the {@link StoreStatements} on `db`. */
export function prepareStatements(db: Database.Database): StoreStatements {
  return {
    insertTask: db.prepare(
      `INSERT INTO tasks (id, seq, rank, status, type, model, idempotency_key, completed_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateTask: db.prepare(
      `UPDATE tasks SET seq = ?, rank = ?, status = ?, type = ?, model = ?,
         idempotency_key = ?, completed_at = ?, body = ?
       WHERE id = ?`,
    ),
    deleteTask: db.prepare('DELETE FROM tasks WHERE id = ?'),
    getTask: db.prepare<[string], string>('SELECT body FROM tasks WHERE id = ?').pluck(),
    keyHolder: db
      .prepare<[string], string>('SELECT id FROM tasks WHERE idempotency_key = ?')
      .pluck(),
    findKeys: db.prepare(
      `SELECT idempotency_key AS key, id FROM tasks
       WHERE idempotency_key IN (SELECT value FROM json_each(?))`,
    ),
    countByStatus: db.prepare('SELECT status, count(*) AS n FROM tasks GROUP BY status'),
    countByRank: db.prepare('SELECT rank, count(*) AS n FROM tasks WHERE status = ? GROUP BY rank'),
    lastSeq: db.prepare<[], number | null>('SELECT max(seq) FROM tasks').pluck(),
    removeFinished: db.prepare(
      `DELETE FROM tasks WHERE status IN (${TERMINAL_SQL}) AND completed_at < ?`,
    ),
    appendLedger: db.prepare('INSERT INTO ledger (at, task_id, body) VALUES (?, ?, ?)'),
    readLedger: db.prepare(
      'SELECT seq, at, task_id, body FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
    replaceLedger: db.prepare('UPDATE ledger SET at = ?, task_id = ?, body = ? WHERE seq = ?'),
    trimLedger: db.prepare('DELETE FROM ledger WHERE seq < ?'),
  };
}

/**
 * The query statements of `list` and `listWaiting`, by shape (which filters, whether a cursor):
 * at most 64 + 4, each prepared when first used.
 */
export class QueryShapes {
  readonly #db: Database.Database;
  readonly #shapes = new Map<string, Database.Statement<unknown[]>>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** How many shapes are prepared so far. */
  get size(): number {
    return this.#shapes.size;
  }

  /** Forgets the prepared statements (the store closes). */
  clear(): void {
    this.#shapes.clear();
  }

  /** `list`'s statement for this filter and cursor: its parameters, then the limit. */
  list(filter: ListFilter, hasCursor: boolean): Database.Statement<unknown[]> {
    const statuses = filter.statuses?.length ?? 0;
    const hasType = filter.taskType !== undefined;
    const hasPriority = filter.priority !== undefined;
    const shape = `list ${statuses} ${hasType} ${hasPriority} ${hasCursor}`;
    let statement = this.#shapes.get(shape);
    if (statement === undefined) {
      const where: string[] = [];
      if (statuses === 1) where.push('status = ?');
      if (statuses > 1) where.push(`status IN (${Array(statuses).fill('?').join(', ')})`);
      if (hasType) where.push('type = ?');
      if (hasPriority) where.push('rank = ?');
      if (hasCursor) where.push('(seq, id) > (?, ?)');
      const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
      statement = this.#db
        .prepare<unknown[]>(`SELECT body FROM tasks ${clause} ORDER BY seq, id LIMIT ?`)
        .pluck();
      this.#shapes.set(shape, statement);
    }
    return statement;
  }

  /** `listWaiting`'s statement for one status, then the model and cursor given, then the limit. */
  waiting(hasModel: boolean, hasCursor: boolean): Database.Statement<unknown[]> {
    const shape = `waiting ${hasModel} ${hasCursor}`;
    let statement = this.#shapes.get(shape);
    if (statement === undefined) {
      const where = ['status = ?'];
      if (hasModel) where.push('model = ?');
      if (hasCursor) where.push('(rank, seq, id) > (?, ?, ?)');
      statement = this.#db.prepare<unknown[]>(
        `SELECT rank, seq, id, body FROM tasks WHERE ${where.join(' AND ')}
         ORDER BY rank, seq, id LIMIT ?`,
      );
      this.#shapes.set(shape, statement);
    }
    return statement;
  }
}
