/**
 * The SQLite store's statements, run on one connection: each statement prepared once (by its
 * SQL), single calls, and the write transactions as lists of step groups. Plain JavaScript, so
 * that the store's worker thread (`sql-worker.mjs`) runs the very same code as a store on the
 * caller's thread (`thread: 'main'`); its types are in `sql-runner.d.mts`.
 */

/**
 * The settings every connection of a store gets once its file is known to be a store: WAL, the
 * `synchronous` level asked for, and checkpoints every `checkpointPages` WAL pages. Shared by
 * the opening on the caller's thread and the worker's, so the two cannot drift apart.
 */
export function applySettings(db, synchronous, checkpointPages) {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma(`wal_autocheckpoint = ${checkpointPages}`);
}

/**
 * Runs statements on `db` (a better-sqlite3 connection), preparing each SQL text the first time
 * it is used.
 */
export class SqlRunner {
  /** @type {import('better-sqlite3').Database} */
  #db;
  /** @type {Map<string, import('better-sqlite3').Statement>} */
  #statements = new Map();
  /** @type {(groups: readonly object[]) => number} */
  #transaction;
  /** @type {(list: readonly object[][]) => number[]} */
  #batch;

  /** @param {import('better-sqlite3').Database} db */
  constructor(db) {
    this.#db = db;
    this.#transaction = db.transaction((groups) => this.#steps(groups));
    this.#batch = db.transaction((list) => list.map((groups) => this.#steps(groups)));
  }

  /** How many statements are prepared. */
  get prepared() {
    return this.#statements.size;
  }

  /**
   * One statement: `run` gives its number of changes, `get` its first row, `all` its rows,
   * `value` the first column of its first row, `values` the first column of its rows.
   */
  call(sql, params, mode) {
    const statement = this.#statement(sql);
    switch (mode) {
      case 'run':
        return statement.run(...params).changes;
      case 'get':
        return statement.pluck(false).get(...params);
      case 'all':
        return statement.pluck(false).all(...params);
      case 'value':
        return statement.pluck(true).get(...params);
      case 'values':
        return statement.pluck(true).all(...params);
      default:
        throw new TypeError(`unknown statement mode '${String(mode)}'`);
    }
  }

  /**
   * The steps in one transaction, all or nothing; returns the changes of the steps that `count`.
   * The steps come in groups: a group runs its statement once for each of its `rows` of
   * parameters. A step whose statement changes nothing runs the group's `otherwise` statement
   * instead; a step that `requires` a change and still has none fails the transaction with an
   * error whose `missing` is true. An error thrown by a step carries its index as `step`,
   * counted over the groups' rows in order.
   */
  transaction(groups) {
    return this.#transaction(groups);
  }

  /**
   * Several transactions' step groups, each all or nothing, with one commit when none fails:
   * SQLite's commit (writing the changed pages to the WAL) is most of a write's cost, and
   * transactions that come together often change the same pages. When one fails, all are rolled back and
   * run again one by one, so each gets its own outcome as if it had run alone.
   */
  transactions(list) {
    if (list.length > 1) {
      try {
        return this.#batch(list).map((value) => ({ value }));
      } catch {
        // Run them alone below: the failing one fails, the others commit.
      }
    }
    return list.map((groups) => {
      try {
        return { value: this.#transaction(groups) };
      } catch (error) {
        return { error };
      }
    });
  }

  /**
   * Begins a transaction whose step groups come in parts (a large write sent to the worker
   * thread a thousand rows at a time, so that the thread never holds all of its rows at once):
   * `begin`, then `part` for each part, then `commit`, or `rollback` at the first error.
   */
  begin() {
    this.#statement('BEGIN').run();
  }

  /**
   * One part's steps, numbered from `first` (the steps of the parts before it); returns its
   * counted changes.
   * @param {readonly object[]} groups
   * @param {number} first
   */
  part(groups, first) {
    return this.#steps(groups, first);
  }

  commit() {
    this.#statement('COMMIT').run();
  }

  rollback() {
    if (this.#db.inTransaction) this.#statement('ROLLBACK').run();
  }

  /** Forgets the statements and closes the connection (after SQLite's `optimize`). */
  close() {
    this.#statements.clear();
    try {
      // Keeps the planner's statistics fresh for the next open; cheap when nothing changed.
      this.#db.pragma('optimize');
    } catch {
      // Statistics are a nicety; closing is what matters.
    }
    this.#db.close();
  }

  #steps(groups, first = 0) {
    let counted = 0;
    let index = first;
    for (const group of groups) {
      // Prepared when first needed, so that a statement that fails to prepare is a step's error.
      let statement;
      let otherwise;
      for (const params of group.rows) {
        let changes;
        try {
          statement ??= this.#statement(group.sql);
          changes = statement.run(...params).changes;
          if (changes === 0 && group.otherwise !== undefined) {
            otherwise ??= this.#statement(group.otherwise);
            changes = otherwise.run(...params).changes;
          }
        } catch (error) {
          if (error instanceof Error) Object.assign(error, { step: index });
          throw error;
        }
        if (changes === 0 && group.requires === true) {
          throw Object.assign(new Error(`step ${index} changed nothing`), {
            step: index,
            missing: true,
          });
        }
        if (group.count === true) counted += changes;
        index += 1;
      }
    }
    return counted;
  }

  #statement(sql) {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
