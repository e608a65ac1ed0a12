/**
 * The SQL of the SQLite store: its fixed statements, and the query statements of `list` and
 * `listWaiting`, one text per shape. The {@link SqlRunner} prepares each text once, on the
 * thread that holds the connection.
 */

import { TERMINAL_STATUSES } from '../../../machines/task-status.js';
import type { ListFilter } from '../query.js';

const TERMINAL_SQL = [...TERMINAL_STATUSES].map((s) => `'${s}'`).join(', ');

/** The fixed statements. */
export const SQL = {
  // The row's place in the table (its rowid) is its admission order (`rowidOf` in rows.ts), so
  // that tasks admitted together are neighbours and the pages their updates and removals write
  // are few (in submission order, with priorities mixed, a wave wrote a page for every task or
  // two). Both inserts bind a `TaskRow`, whose rowid comes twice. When the first changes
  // nothing (a conflict), the second inserts with a rowid SQLite picks: a rowid already taken
  // (records stored by hand with a seq used twice) is no error, and a duplicate id or key fails
  // there as it always did.
  insertTask: `INSERT INTO tasks (id, seq, rank, status, type, model, idempotency_key, completed_at, body, rowid)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, ?)) ON CONFLICT DO NOTHING`,
  insertTaskAnywhere: `INSERT INTO tasks (id, seq, rank, status, type, model, idempotency_key, completed_at, body, rowid)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, ?))`,
  // Both updates bind an `UpdateRow`. The first sets what a task's life changes (status,
  // priority, completion, the record) in a row whose columns fixed at submission are as given,
  // and leaves the indexes on those (`tasks_by_seq`, the idempotency key's) alone: a third fewer
  // pages written. When it finds no such row, the second sets every column (or finds none: the
  // task is not stored). The unary `+` keeps the search on the id (the key's index would scan
  // every row without a key).
  updateChanging: `UPDATE tasks SET rank = ?, status = ?, completed_at = ?, body = ?
     WHERE +seq = ? AND +type = ? AND +model = ? AND +idempotency_key IS ? AND id = ?`,
  updateTask: `UPDATE tasks SET rank = ?, status = ?, completed_at = ?, body = ?,
       seq = ?, type = ?, model = ?, idempotency_key = ?
     WHERE id = ?`,
  deleteTask: 'DELETE FROM tasks WHERE id = ?',
  getTask: 'SELECT body FROM tasks WHERE id = ?',
  keyHolder: 'SELECT id FROM tasks WHERE idempotency_key = ?',
  findKeys: `SELECT idempotency_key AS key, id FROM tasks
     WHERE idempotency_key IN (SELECT value FROM json_each(?))`,
  countByStatus: 'SELECT status, count(*) AS n FROM tasks GROUP BY status',
  countByRank: 'SELECT rank, count(*) AS n FROM tasks WHERE status = ? GROUP BY rank',
  lastSeq: 'SELECT max(seq) FROM tasks',
  removeFinished: `DELETE FROM tasks WHERE status IN (${TERMINAL_SQL}) AND completed_at < ?`,
  appendLedger: 'INSERT INTO ledger (at, task_id, body) VALUES (?, ?, ?)',
  readLedger: 'SELECT seq, at, task_id, body FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?',
  replaceLedger: 'UPDATE ledger SET at = ?, task_id = ?, body = ? WHERE seq = ?',
  trimLedger: 'DELETE FROM ledger WHERE seq < ?',
} as const;

/**
 * The query statements of `list` and `listWaiting`, by shape (which filters, whether a cursor):
 * at most 64 + 4 texts, each built when first used.
 */
export class QueryShapes {
  readonly #shapes = new Map<string, string>();

  /** `list`'s statement for this filter and cursor: its parameters, then the limit. */
  list(filter: ListFilter, hasCursor: boolean): string {
    const statuses = filter.statuses?.length ?? 0;
    const hasType = filter.taskType !== undefined;
    const hasPriority = filter.priority !== undefined;
    const shape = `list ${statuses} ${hasType} ${hasPriority} ${hasCursor}`;
    let sql = this.#shapes.get(shape);
    if (sql === undefined) {
      const where: string[] = [];
      if (statuses === 1) where.push('status = ?');
      if (statuses > 1) where.push(`status IN (${Array(statuses).fill('?').join(', ')})`);
      if (hasType) where.push('type = ?');
      if (hasPriority) where.push('rank = ?');
      if (hasCursor) where.push('(seq, id) > (?, ?)');
      const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
      sql = `SELECT body FROM tasks ${clause} ORDER BY seq, id LIMIT ?`;
      this.#shapes.set(shape, sql);
    }
    return sql;
  }

  /** `listWaiting`'s statement for one status, then the model and cursor given, then the limit. */
  waiting(hasModel: boolean, hasCursor: boolean): string {
    const shape = `waiting ${hasModel} ${hasCursor}`;
    let sql = this.#shapes.get(shape);
    if (sql === undefined) {
      const where = ['status = ?'];
      if (hasModel) where.push('model = ?');
      if (hasCursor) where.push('(rank, seq, id) > (?, ?, ?)');
      sql = `SELECT rank, seq, id, body FROM tasks WHERE ${where.join(' AND ')}
         ORDER BY rank, seq, id LIMIT ?`;
      this.#shapes.set(shape, sql);
    }
    return sql;
  }
}
