/**
 * Opening a SQLite store's file: the checks that it is a file this library may use (a database,
 * ours, not newer than this library), the settings of the connection (WAL, an exclusive lock, no
 * busy wait) and the migrations, before the store is built on it.
 */

import Database from 'better-sqlite3';
import { StoreError, ValidationError } from '../../errors.js';
import { toStoreError } from './errors.js';
import { type Migration, migrate, readIdentity } from './schema.js';
import { applySettings } from './sql-runner.mjs';
import type { SqliteStoreOptions } from './store.js';

function checkOptions(path: unknown, options: SqliteStoreOptions): 'NORMAL' | 'FULL' {
  if (typeof path !== 'string' || path === '') {
    throw new ValidationError(
      `invalid path: ${JSON.stringify(path) ?? String(path)}; give the database file's path (or ':memory:')`,
      [{ path: 'path', message: 'not a non-empty string', received: path }],
    );
  }
  const { synchronous = 'NORMAL', thread } = options;
  if (thread !== undefined && thread !== 'worker' && thread !== 'main') {
    throw new ValidationError(
      `invalid thread: '${String(thread)}'; expected 'worker' or 'main' (default 'worker')`,
      [{ path: 'thread', message: "'worker' or 'main'", received: thread }],
    );
  }
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new ValidationError(
      `invalid synchronous: '${String(synchronous)}'; expected 'NORMAL' or 'FULL' (default 'NORMAL')`,
      [{ path: 'synchronous', message: "'NORMAL' or 'FULL'", received: synchronous }],
    );
  }
  return synchronous;
}

/**
 * WAL pages written between two automatic checkpoints: 16,384 (64 MiB) instead of SQLite's
 * 1,000. A task's record is rewritten a few times in its life, and a longer WAL copies each page
 * to the file once.
 */
export const WAL_CHECKPOINT_PAGES = 16_384;
/**
 * Opens the file, checks that it is a store this library can use, and brings its schema up to
 * date. Throws a {@link StoreError} (the file left as it was) when it cannot.
 */
export function openDatabase(
  path: string,
  options: SqliteStoreOptions,
  migrations: readonly Migration[],
): Database.Database {
  const synchronous = checkOptions(path, options);
  let db: Database.Database;
  try {
    // No busy timeout: a file another process holds fails at once.
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw toStoreError(error, path, 'open');
  }
  try {
    // Held until close: no other connection may read or write the file meanwhile.
    db.pragma('locking_mode = EXCLUSIVE');
    const identity = readIdentity(db);
    if (identity.kind === 'foreign') {
      throw new StoreError(
        `the file at '${path}' is a SQLite database of something else, not a task store (application_id ${identity.applicationId}); give the store a file of its own`,
        'foreign',
        path,
      );
    }
    const version = identity.kind === 'ours' ? identity.version : 0;
    if (version > migrations.length) {
      throw new StoreError(
        `the SQLite task store at '${path}' has schema version ${version}, written by a newer version of ai-task-queue (this one knows up to ${migrations.length}); upgrade the library to open it`,
        'newer-schema',
        path,
      );
    }
    applySettings(db, synchronous, WAL_CHECKPOINT_PAGES);
    migrate(db, version, migrations);
    return db;
  } catch (error) {
    try {
      db.close();
    } catch {
      // The error that stopped the open is the one to report.
    }
    throw toStoreError(error, path, 'open');
  }
}
