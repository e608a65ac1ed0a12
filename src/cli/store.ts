/**
 * The job's store: a SQLite file (`<out>.db` by default, or `--store`) that keeps every task of
 * the job, so that the same command after a crash, Ctrl-C or `kill -9` runs only what is left.
 * Loaded on demand (`import()`): `aitq --help`, a dry run and `--no-store` never load the native
 * module. See docs/cli.md, "Resume".
 */

import { closeSync, existsSync, openSync, readSync, rmSync } from 'node:fs';
import { type StoreErrorReason, TaskQueueError, type TaskStore } from '../index.js';
import { CliUsageError } from './errors.js';

/** Why a store could not be used (`StoreError.reason`). */
type StoreReason = StoreErrorReason;

/** The library's `StoreError`, classified by its code (so one revived from a task does too). */
export function storeReasonOf(error: unknown): StoreReason | undefined {
  if (!(error instanceof TaskQueueError) || error.code !== 'STORE') return undefined;
  const reason = (error as { reason?: unknown }).reason;
  return typeof reason === 'string' ? (reason as StoreReason) : 'io';
}

/** What a store that cannot be used means for the user, and what to do. */
const WHY: Record<StoreReason, string> = {
  locked:
    'is in use by another process (another aitq with the same results file?): wait for it to end, or choose another --store',
  'read-only':
    'cannot be written (a read-only file or folder): choose another --store, or --no-store',
  corrupt:
    'is not a readable SQLite database (damaged?): move it away, or pass --fresh to delete it and start over',
  foreign: 'is a SQLite database of another program, not a task store: choose another --store',
  'newer-schema':
    'was written by a newer version of aitq: upgrade aitq, or pass --fresh to delete it and start over',
  full: 'cannot grow: the disk is full',
  closed: 'was closed',
  unreachable: 'cannot be reached: is the server running, and are the URL and credentials right?',
  unsafe: 'may drop what it holds: set maxmemory-policy noeviction on the server',
  io: 'cannot be opened',
};

/**
 * The one line of a store that could not be opened or written: its path, the reason in words,
 * what to do, and the store's own message for an I/O error.
 */
export function storeProblem(path: string, error: unknown): string {
  const reason = storeReasonOf(error) ?? 'io';
  const detail =
    reason === 'io' && error instanceof Error ? ` (${error.message.replace(/\s+/g, ' ')})` : '';
  return `store ${JSON.stringify(path)} ${WHY[reason]}${detail}`;
}

/** The files SQLite keeps for a store: the database, its write-ahead log and shared memory. */
export function storeFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

const SQLITE_MAGIC = 'SQLite format 3\0';

/** Whether the file at `path` is empty or starts as a SQLite database does. */
function looksLikeSqlite(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const read = readSync(fd, head, 0, head.length, 0);
    return read === 0 || head.toString('latin1', 0, read) === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

async function openStoreAt(path: string): Promise<TaskStore> {
  const { openSqliteStore } = await import('../stores/sqlite/index.js');
  return openSqliteStore(path);
}

/**
 * `--fresh`: deletes the store at `path` (and its `-wal`, `-shm`) if there is one. Only a task
 * store, or a damaged one, is deleted: another program's database, a file that is not SQLite at
 * all, or a store in use by another process is refused, and left as it is.
 *
 * @returns whether a store was deleted
 * @throws CliUsageError
 */
export async function deleteStore(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  let isSqlite: boolean;
  try {
    isSqlite = looksLikeSqlite(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliUsageError(`--fresh: cannot read the store ${JSON.stringify(path)} (${code})`);
  }
  if (!isSqlite) {
    throw new CliUsageError(
      `--fresh: ${JSON.stringify(path)} is not a SQLite database, so not a store: it was not deleted; choose another --store`,
    );
  }
  try {
    await (await openStoreAt(path)).close();
  } catch (error) {
    const reason = storeReasonOf(error);
    if (reason !== 'corrupt' && reason !== 'newer-schema') {
      throw new CliUsageError(`--fresh: ${storeProblem(path, error)}; it was not deleted`);
    }
  }
  for (const file of storeFiles(path)) {
    try {
      rmSync(file, { force: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new CliUsageError(`--fresh: cannot delete ${JSON.stringify(file)} (${code})`);
    }
  }
  return true;
}

/**
 * Opens (or creates) the store at `path`.
 * @throws CliUsageError one line naming the store and why it cannot be used
 */
export async function openStore(path: string): Promise<TaskStore> {
  try {
    return await openStoreAt(path);
  } catch (error) {
    if (storeReasonOf(error) === undefined && !(error instanceof TaskQueueError)) throw error;
    throw new CliUsageError(storeProblem(path, error));
  }
}

/** Statuses of a task that has not ended. */
const UNFINISHED = ['queued', 'retrying', 'paused', 'running'] as const;
/** Keys looked up, and tasks removed, at a time. */
const BATCH = 500;

/** What a store holds for the input of a job about to resume. */
export interface StorePreparation {
  /** Records whose task completed in an earlier run: reused, not run again. */
  done: number;
  /** Records whose task failed or was cancelled in an earlier run: removed, to run again. */
  rerun: number;
  /** Unfinished tasks of the store that no record of the input names any more: removed. */
  dropped: number;
}

/**
 * Gets a store ready for a run over `keys` (the input's, in order), before a manager opens it:
 * counts the records that completed already, removes the tasks that failed or were cancelled (a
 * resumed run gives them another go: their keys are free again), and removes the unfinished
 * tasks of records the input no longer has (the input changed; they would run for nothing).
 */
export async function prepareStore(
  store: TaskStore,
  keys: AsyncIterable<string>,
): Promise<StorePreparation> {
  const unfinished = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.listWaiting({ statuses: UNFINISHED, cursor, limit: 1_000 });
    for (const record of page.items) if (record.parentId === undefined) unfinished.add(record.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);

  const counts: StorePreparation = { done: 0, rerun: 0, dropped: 0 };
  let again: string[] = [];
  const lookUp = async (batch: string[]) => {
    const found = await store.findByIdempotencyKeys(batch);
    for (const id of found.values()) {
      const record = await store.get(id);
      if (record === undefined) continue;
      if (record.status === 'completed') counts.done++;
      else if (record.status === 'failed' || record.status === 'cancelled') again.push(id);
      else unfinished.delete(id);
    }
    if (again.length >= BATCH) {
      counts.rerun += await store.remove(again);
      again = [];
    }
  };
  let batch: string[] = [];
  for await (const key of keys) {
    batch.push(key);
    if (batch.length < BATCH) continue;
    await lookUp(batch);
    batch = [];
  }
  if (batch.length > 0) await lookUp(batch);
  if (again.length > 0) counts.rerun += await store.remove(again);
  const dropped = [...unfinished];
  for (let i = 0; i < dropped.length; i += BATCH) {
    counts.dropped += await store.remove(dropped.slice(i, i + BATCH));
  }
  return counts;
}

/** The ids of the tasks that hold `keys`, by key (unknown keys are left out). */
export function idsByKey(store: TaskStore, keys: readonly string[]): Promise<Map<string, string>> {
  return store.findByIdempotencyKeys(keys);
}
