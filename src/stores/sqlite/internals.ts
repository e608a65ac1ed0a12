/**
 * What tests may reach inside the SQLite store: its connection, its statement cache, and opening
 * with another list of migrations. Not part of the package's API (`index.ts` exports none of it).
 */

import type Database from 'better-sqlite3';
import { openDatabase } from './open.js';
import type { Migration } from './schema.js';
import type { SqliteStoreOptions, SqliteTaskStore } from './store.js';
import type { WorkerRunner } from './worker-runner.js';

/** What a store holds inside. */
export interface SqliteInternals {
  db: Database.Database;
  /** How many statements are prepared so far (the fixed ones and the query shapes used). */
  prepared: number;
}

/** Set by `store.ts` when its class is defined (only the class can reach its insides). */
interface SqliteHooks {
  create(db: Database.Database, path: string): SqliteTaskStore;
  inspect(store: SqliteTaskStore): SqliteInternals;
  worker(store: SqliteTaskStore): WorkerRunner;
}

let hooks: SqliteHooks | undefined;

export function registerSqliteHooks(registered: SqliteHooks): void {
  hooks = registered;
}

function loaded(): SqliteHooks {
  if (hooks === undefined) throw new Error('import ./store.js before using the SQLite internals');
  return hooks;
}

/** Opens the store at `path` with `migrations` instead of the library's own. */
export function openSqliteStoreWith(
  path: string,
  options: SqliteStoreOptions,
  migrations: readonly Migration[],
): SqliteTaskStore {
  return loaded().create(openDatabase(path, options, migrations), path);
}

/** The connection and statement count of a store opened with `thread: 'main'`. */
export function sqliteInternals(store: SqliteTaskStore): SqliteInternals {
  return loaded().inspect(store);
}

/**
 * The worker thread of a store opened with `thread: 'worker'`: its statement calls (a pragma of
 * a test) and `stop()`, which ends the thread as a crash would.
 */
export function sqliteWorker(store: SqliteTaskStore): WorkerRunner {
  return loaded().worker(store);
}
