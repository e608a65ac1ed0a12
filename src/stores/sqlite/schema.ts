/**
 * The SQLite store's file format: how a file says it is one of this library's stores (its
 * `application_id`), which schema version it has (its `user_version`), and the list of migrations
 * that build the schema step by step. A file is brought to the newest version in one transaction
 * when it is opened, and never touched when it is newer than this library knows.
 */

import type Database from 'better-sqlite3';

/** `PRAGMA application_id` of every file this store writes: 'AITQ' in ASCII. */
export const APPLICATION_ID = 0x41_49_54_51;

/** One step of the schema, from version `to - 1` to `to`. */
export interface Migration {
  readonly to: number;
  readonly description: string;
  /** Runs inside the opening transaction; throwing rolls back every step of it. */
  up(db: Database.Database): void;
}

/**
 * The schema, one step per version. Append new steps; never change a released one (files in the
 * wild were built by it).
 *
 * `tasks` keeps each record as JSON in `body`, beside the columns the queries filter and sort by.
 * `rank` is the admission rank (0 for URGENT … 3 for LOW), so ascending `(rank, seq, id)` is
 * admission order. `ledger.seq` is AUTOINCREMENT, so a number is never given out twice, even
 * after compaction removed the entries before it.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    to: 1,
    description: 'tasks with their query columns and indexes; the ledger',
    up(db) {
      db.exec(`
        CREATE TABLE tasks (
          id TEXT NOT NULL PRIMARY KEY,
          seq INTEGER NOT NULL,
          rank INTEGER NOT NULL,
          status TEXT NOT NULL,
          type TEXT NOT NULL,
          model TEXT NOT NULL,
          idempotency_key TEXT UNIQUE,
          completed_at INTEGER,
          body TEXT NOT NULL
        );
        CREATE INDEX tasks_by_seq ON tasks (seq, id);
        CREATE INDEX tasks_by_admission ON tasks (status, rank, seq, id);
        CREATE INDEX tasks_by_model ON tasks (status, model, rank, seq, id);
        CREATE INDEX tasks_by_completion ON tasks (completed_at) WHERE completed_at IS NOT NULL;
        CREATE TABLE ledger (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          at INTEGER NOT NULL,
          task_id TEXT,
          body TEXT
        );
      `);
    },
  },
];

/** The version of the schema this library writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** What an opened file is, read without writing anything. */
export type FileIdentity =
  /** No tables and no identity: a new or empty file, to be initialised. */
  | { kind: 'empty' }
  | { kind: 'ours'; version: number }
  /** A database of something else; `applicationId` is its own (0 when it set none). */
  | { kind: 'foreign'; applicationId: number };

/** Reads the identity of the file `db` has open. Throws SQLite's error if it is not a database. */
export function readIdentity(db: Database.Database): FileIdentity {
  const applicationId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  if (applicationId === APPLICATION_ID) return { kind: 'ours', version };
  if (applicationId !== 0) return { kind: 'foreign', applicationId };
  const objects = Number(
    db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number | bigint,
  );
  return objects === 0 && version === 0 ? { kind: 'empty' } : { kind: 'foreign', applicationId };
}

/**
 * Brings the file from version `from` to the last of `migrations`, all steps in one transaction,
 * and stamps it with the store's identity. The transaction runs even when there is nothing to
 * do: taking the write lock at open is what makes a second opener fail at once.
 */
export function migrate(
  db: Database.Database,
  from: number,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  const run = db.transaction(() => {
    for (const migration of migrations.slice(from)) migration.up(db);
    if (from === migrations.length) return;
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${migrations.length}`);
  });
  run.immediate();
}
