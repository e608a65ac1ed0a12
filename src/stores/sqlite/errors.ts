/**
 * Turns what better-sqlite3 throws into the library's {@link StoreError}, by SQLite's result
 * code: the `reason` says what went wrong (a damaged file, another process holding it, a full
 * disk…) and the message what to do about it.
 */

import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError, type StoreErrorReason, TaskQueueError } from '../../errors.js';

/** The primary result code of a SQLite error (`SQLITE_BUSY` of `SQLITE_BUSY_SNAPSHOT`). */
function primaryCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string') {
    return undefined;
  }
  const match = /^SQLITE_[A-Z]+/.exec(error.code);
  return match?.[0];
}

/** The `code` of a Node error (`ENOENT`, `EACCES`…). */
function errnoOf(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

/** Why SQLite could not open a file: a missing directory is not a read-only one. */
function cantOpenReason(path: string): { reason: StoreErrorReason; why: string } {
  const denied = {
    reason: 'read-only' as const,
    why: 'the file or its directory cannot be written',
  };
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
      return { reason: 'io', why: 'it is a directory' };
    }
    if (statSync(dirname(path), { throwIfNoEntry: false }) === undefined) {
      return { reason: 'io', why: 'its directory does not exist' };
    }
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EACCES' || code === 'EPERM') return denied;
    return { reason: 'io', why: 'it cannot be reached' };
  }
  return denied;
}

/**
 * Whether this process may write the file at `path`, from its mode bits (never by opening it:
 * closing any descriptor of a file drops the locks SQLite holds on it). `true` when unknown.
 */
function isWritable(path: string): boolean {
  const stat = statSync(path, { throwIfNoEntry: false });
  const euid = process.geteuid?.();
  if (stat === undefined || euid === undefined || euid === 0) return true;
  if (stat.uid === euid) return (stat.mode & 0o200) !== 0;
  const groups = new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])]);
  if (groups.has(stat.gid)) return (stat.mode & 0o020) !== 0;
  return (stat.mode & 0o002) !== 0;
}

/**
 * The {@link StoreError} for `error`, thrown while the store at `path` did `action` (`open`,
 * `commit`…). Errors of the library's tree (a `ValidationError` found inside a transaction)
 * pass through unchanged.
 */
export function toStoreError(error: unknown, path: string, action: string): TaskQueueError {
  if (error instanceof TaskQueueError) return error;
  const code = primaryCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const where = `the SQLite task store at '${path}'`;
  const make = (reason: StoreErrorReason, message: string) =>
    new StoreError(`${message} (${action}: ${detail})`, reason, path, { cause: error });
  switch (code) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return make(
        'locked',
        `${where} is open in another process or connection; close it there first (one process at a time)`,
      );
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return make('corrupt', `${where} is not a SQLite database, or a page of it is damaged`);
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return make(
        'read-only',
        `${where} cannot be written: the file or its directory is read-only`,
      );
    case 'SQLITE_CANTOPEN': {
      const { reason, why } = cantOpenReason(path);
      return make(reason, `${where} cannot be opened: ${why}`);
    }
    case 'SQLITE_IOERR':
      // A file SQLite could only open for reading fails to take its write lock.
      if (action === 'open' && safely(() => !isWritable(path))) {
        return make('read-only', `${where} cannot be written: the file is read-only`);
      }
      return make('io', `${where} failed to ${action}`);
    case 'SQLITE_FULL':
      return make('full', `${where} cannot grow: the disk (or the database's size limit) is full`);
    default:
      if (
        error instanceof TypeError &&
        /directory does not exist/.test(error.message) &&
        action === 'open'
      ) {
        return make('io', `${where} cannot be opened: its directory does not exist`);
      }
      return make('io', `${where} failed to ${action}`);
  }
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

/** The error of every call made after `close()`. */
export function closedError(path: string, operation: string): StoreError {
  return new StoreError(
    `the SQLite task store at '${path}' is closed; cannot ${operation}`,
    'closed',
    path,
  );
}
