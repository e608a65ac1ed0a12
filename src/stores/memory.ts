import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  TASK_STATUSES,
  type TaskStatus,
  TERMINAL_STATUSES,
  zeroStatusCounts,
} from '../../machines/task-status.js';
import { TaskNotFoundError, TaskQueueError, ValidationError } from '../errors.js';
import type { TaskPage, TaskQuery, TaskRecord, TaskStore } from './types.js';

/** Page size when a query gives none. */
export const DEFAULT_LIST_LIMIT = 100;
/** The largest page size a query may ask for. */
export const MAX_LIST_LIMIT = 1000;

const STATUS_SET: ReadonlySet<string> = new Set(TASK_STATUSES);
const PRIORITY_SET: ReadonlySet<string> = new Set(PRIORITIES_HIGH_FIRST);
const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

/** The place of a record in list order: `seq`, then `id` for the (unusual) equal `seq`. */
interface ListKey {
  seq: number;
  id: string;
}

function compareKeys(a: ListKey, b: ListKey): number {
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

function encodeCursor(key: ListKey): string {
  return Buffer.from(JSON.stringify({ s: key.seq, i: key.id }), 'utf8').toString('base64url');
}

function malformedCursor(cursor: string): ValidationError {
  const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
  return new ValidationError(
    `invalid cursor: '${shown}' is not a cursor this store issued (pass the nextCursor of a previous page)`,
    [{ path: 'cursor', message: 'malformed cursor', received: cursor }],
  );
}

function decodeCursor(cursor: string): ListKey {
  if (!CURSOR_PATTERN.test(cursor)) throw malformedCursor(cursor);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformedCursor(cursor);
  }
  if (typeof parsed !== 'object' || parsed === null || !('s' in parsed) || !('i' in parsed)) {
    throw malformedCursor(cursor);
  }
  const { s, i } = parsed;
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof i !== 'string') {
    throw malformedCursor(cursor);
  }
  const key = { seq: s, id: i };
  // Base64 decoding is lenient; only the exact text this store produced is a cursor.
  if (encodeCursor(key) !== cursor) throw malformedCursor(cursor);
  return key;
}

function resolveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError(
      `invalid limit: ${String(limit)}; a page holds 1 to ${MAX_LIST_LIMIT} tasks (default ${DEFAULT_LIST_LIMIT})`,
      [
        {
          path: 'limit',
          message: `an integer from 1 to ${MAX_LIST_LIMIT}`,
          received: limit,
        },
      ],
    );
  }
  return limit;
}

/** Builds the record filter of a query; `undefined` when the query can match nothing. */
function resolveFilter(query: TaskQuery): ((record: TaskRecord) => boolean) | undefined {
  const { status, taskType, priority } = query;
  let statuses: ReadonlySet<TaskStatus> | undefined;
  if (status !== undefined) {
    const wanted: readonly TaskStatus[] = typeof status === 'string' ? [status] : status;
    for (const s of wanted) {
      if (!STATUS_SET.has(s)) {
        throw new ValidationError(
          `invalid status: '${String(s)}'; expected one of ${TASK_STATUSES.join(', ')}`,
          [{ path: 'status', message: 'unknown status', received: s }],
        );
      }
    }
    if (wanted.length === 0) return undefined;
    statuses = new Set(wanted);
  }
  if (priority !== undefined && !PRIORITY_SET.has(priority)) {
    throw new ValidationError(
      `invalid priority: '${String(priority)}'; expected one of ${PRIORITIES_HIGH_FIRST.join(', ')}`,
      [{ path: 'priority', message: 'unknown priority', received: priority }],
    );
  }
  const wantedPriority: Priority | undefined = priority;
  return (record) =>
    (statuses === undefined || statuses.has(record.status)) &&
    (taskType === undefined || record.type === taskType) &&
    (wantedPriority === undefined || record.priority === wantedPriority);
}

/**
 * The in-process {@link TaskStore}, and the engine's default.
 *
 * Records live in one `Map<string, TaskRecord>` in insertion order and are kept **by reference**:
 * `insert` stores the very objects it is given, and `get` and `list` return them. The engine
 * changes records in place and then calls `update`, which here only checks that the task exists
 * (and replaces the entry when it is handed a different object). Nothing is cloned and nothing is
 * kept per task beyond the Map entry, so 100,000 waiting tasks cost their records and no more.
 * Callers that must not share objects with the engine should copy what they read.
 *
 * `list` walks the Map. While records arrive in list order (`seq` ascending, the engine's normal
 * case) it stops as soon as the page is full; a page after a cursor costs a walk up to that
 * cursor. Once a record has been inserted out of order (or its `seq` was changed by `update`) the
 * store sorts the matching records per page instead, until it is empty again.
 */
export class MemoryTaskStore implements TaskStore {
  readonly name = 'memory';
  readonly holdsRecordsByReference = true;

  readonly #records = new Map<string, TaskRecord>();
  /** Whether Map order is list order (`seq`, then `id`). */
  #ordered = true;
  /** The largest list key inserted since the store was last empty. */
  #last: ListKey | undefined;
  #closed = false;

  /** Adds the given records (by reference), all or none: a duplicate id rejects the whole batch. */
  async insert(records: readonly TaskRecord[]): Promise<void> {
    this.#assertOpen('insert');
    const batch = records.length > 1 ? new Set<string>() : undefined;
    for (const record of records) {
      if (batch?.has(record.id)) {
        throw new ValidationError(
          `invalid id: task id '${record.id}' appears twice in the batch; nothing was inserted`,
          [{ path: 'id', message: 'duplicate in batch', received: record.id }],
        );
      }
      if (this.#records.has(record.id)) {
        throw new ValidationError(
          `invalid id: a task with id '${record.id}' exists already; nothing was inserted`,
          [{ path: 'id', message: 'duplicate', received: record.id }],
        );
      }
      if (!Number.isFinite(record.seq)) {
        throw new ValidationError(
          `invalid seq: task '${record.id}' has seq ${String(record.seq)}; a finite number is required; nothing was inserted`,
          [{ path: 'seq', message: 'not a finite number', received: record.seq }],
        );
      }
      batch?.add(record.id);
    }
    if (this.#records.size === 0) {
      this.#ordered = true;
      this.#last = undefined;
    }
    for (const record of records) {
      this.#records.set(record.id, record);
      this.#noteKey(record);
    }
  }

  /**
   * Records that a stored task changed. With the stored object itself this only checks that the
   * task exists; with another object it replaces the entry (keeping its place in the Map).
   */
  async update(record: TaskRecord): Promise<void> {
    this.#assertOpen('update');
    const stored = this.#records.get(record.id);
    if (stored === undefined) throw new TaskNotFoundError(record.id);
    if (stored === record) return;
    if (record.seq !== stored.seq) {
      if (!Number.isFinite(record.seq)) {
        throw new ValidationError(
          `invalid seq: task '${record.id}' has seq ${String(record.seq)}; a finite number is required`,
          [{ path: 'seq', message: 'not a finite number', received: record.seq }],
        );
      }
      this.#ordered = false;
    }
    this.#records.set(record.id, record);
  }

  /** The stored record itself (not a copy), or `undefined`. */
  async get(id: string): Promise<TaskRecord | undefined> {
    this.#assertOpen('get');
    return this.#records.get(id);
  }

  /** One page of records (the stored objects) in `seq` order, after the query's cursor. */
  async list(query: TaskQuery = {}): Promise<TaskPage> {
    this.#assertOpen('list');
    const limit = resolveLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const matches = resolveFilter(query);
    if (matches === undefined) return { items: [], nextCursor: null };

    // One more than a page, to tell whether another page follows.
    const wanted = limit + 1;
    let found: TaskRecord[] = [];
    if (this.#ordered) {
      for (const record of this.#records.values()) {
        if (after !== undefined && compareKeys(record, after) <= 0) continue;
        if (!matches(record)) continue;
        found.push(record);
        if (found.length === wanted) break;
      }
    } else {
      for (const record of this.#records.values()) {
        if (after !== undefined && compareKeys(record, after) <= 0) continue;
        if (matches(record)) found.push(record);
      }
      found.sort(compareKeys);
      found = found.slice(0, wanted);
    }

    if (found.length <= limit) return { items: found, nextCursor: null };
    const items = found.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: last === undefined ? null : encodeCursor(last) };
  }

  /** How many stored tasks are in each of the seven statuses (zeros included). */
  async countByStatus(): Promise<Record<TaskStatus, number>> {
    this.#assertOpen('countByStatus');
    const counts: Record<TaskStatus, number> = zeroStatusCounts();
    for (const record of this.#records.values()) counts[record.status] += 1;
    return counts;
  }

  /** Removes the given tasks; resolves with how many of them were stored (each id counted once). */
  async remove(ids: readonly string[]): Promise<number> {
    this.#assertOpen('remove');
    let removed = 0;
    for (const id of ids) if (this.#records.delete(id)) removed += 1;
    return removed;
  }

  /** Removes completed, failed and cancelled tasks whose `completedAt` is before `before`. */
  async removeFinishedBefore(before: number): Promise<number> {
    this.#assertOpen('removeFinishedBefore');
    let removed = 0;
    // Deleting the current entry while iterating a Map is safe.
    for (const [id, record] of this.#records) {
      if (
        TERMINAL_STATUSES.has(record.status) &&
        record.completedAt !== undefined &&
        record.completedAt < before
      ) {
        this.#records.delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  /** Drops every record; later calls reject. Closing again resolves. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#records.clear();
    this.#last = undefined;
    this.#ordered = true;
  }

  #noteKey(record: TaskRecord): void {
    if (this.#last !== undefined && compareKeys(record, this.#last) <= 0) {
      this.#ordered = false;
      return;
    }
    this.#last = { seq: record.seq, id: record.id };
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new TaskQueueError(`the memory task store is closed; cannot ${operation}`, 'INTERNAL');
    }
  }
}
