/**
 * What every store shares about reading and writing: page sizes, the opaque cursors of `list`
 * and `listWaiting`, and the checks of queries and writes that need no stored state. The memory
 * and SQLite stores both use them, so they accept and reject the same input with the same
 * `ValidationError` messages.
 */

import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  TASK_STATUSES,
  type TaskStatus,
} from '../../machines/task-status.js';
import { ValidationError } from '../errors.js';
import type {
  LedgerEntry,
  LedgerQuery,
  StoreWrite,
  TaskQuery,
  TaskRecord,
  WaitingPosition,
  WaitingQuery,
} from './types.js';

/** Page size when a query gives none. */
export const DEFAULT_LIST_LIMIT = 100;
/** The largest page size a query may ask for. */
export const MAX_LIST_LIMIT = 1000;
/** Ledger entries read at once when a query gives no limit. */
export const DEFAULT_LEDGER_LIMIT = 1000;
/** The most ledger entries one read may ask for. */
export const MAX_LEDGER_LIMIT = 10_000;

const STATUS_SET: ReadonlySet<string> = new Set(TASK_STATUSES);
const PRIORITY_SET: ReadonlySet<string> = new Set(PRIORITIES_HIGH_FIRST);
const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

/** The statuses `listWaiting` reads when its query names none. */
export const DEFAULT_WAITING_STATUSES: readonly TaskStatus[] = ['queued', 'retrying'];

/** The place of a record in list order: `seq`, then `id` for the (unusual) equal `seq`. */
export interface ListKey {
  seq: number;
  id: string;
}

/** The place of a record in admission order: `rank` (0 for URGENT … 3 for LOW), `seq`, `id`. */
export interface WaitingKey extends ListKey {
  rank: number;
}

/** Where a priority is admitted: 0 for URGENT (first) … 3 for LOW (last). */
export function admissionRank(priority: Priority): number {
  return PRIORITIES_HIGH_FIRST.indexOf(priority);
}

export function compareListKeys(a: ListKey, b: ListKey): number {
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

export function compareWaitingKeys(a: WaitingKey, b: WaitingKey): number {
  if (a.rank !== b.rank) return a.rank < b.rank ? -1 : 1;
  return compareListKeys(a, b);
}

function toCursor(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function malformedCursor(cursor: string): ValidationError {
  const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
  return new ValidationError(
    `invalid cursor: '${shown}' is not a cursor this store issued (pass the nextCursor of a previous page)`,
    [{ path: 'cursor', message: 'malformed cursor', received: cursor }],
  );
}

/** The object a cursor holds, or a `ValidationError` when it is not base64url of JSON. */
function parseCursor(cursor: unknown): Record<string, unknown> {
  if (typeof cursor !== 'string' || !CURSOR_PATTERN.test(cursor)) {
    throw malformedCursor(String(cursor));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformedCursor(cursor);
  }
  if (typeof parsed !== 'object' || parsed === null) throw malformedCursor(cursor);
  return parsed as Record<string, unknown>;
}

export function encodeListCursor(key: ListKey): string {
  return toCursor({ s: key.seq, i: key.id });
}

/** The key a `list` cursor stands for; rejects anything but the exact text a store issued. */
export function decodeListCursor(cursor: string): ListKey {
  const { s, i } = parseCursor(cursor);
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof i !== 'string') {
    throw malformedCursor(cursor);
  }
  const key = { seq: s, id: i };
  // Base64 decoding is lenient; only the exact text this store produced is a cursor.
  if (encodeListCursor(key) !== cursor) throw malformedCursor(cursor);
  return key;
}

export function encodeWaitingCursor(key: WaitingKey): string {
  return toCursor({ p: key.rank, s: key.seq, i: key.id });
}

/** The key a `listWaiting` cursor stands for (a `list` cursor is not one). */
export function decodeWaitingCursor(cursor: string): WaitingKey {
  const { p, s, i } = parseCursor(cursor);
  if (
    typeof p !== 'number' ||
    !Number.isInteger(p) ||
    p < 0 ||
    p >= PRIORITIES_HIGH_FIRST.length ||
    typeof s !== 'number' ||
    !Number.isFinite(s) ||
    typeof i !== 'string'
  ) {
    throw malformedCursor(cursor);
  }
  const key = { rank: p, seq: s, id: i };
  if (encodeWaitingCursor(key) !== cursor) throw malformedCursor(cursor);
  return key;
}

/** A query's page size: `DEFAULT_LIST_LIMIT` when absent, else an integer from 1 to 1,000. */
export function resolveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError(
      `invalid limit: ${String(limit)}; a page holds 1 to ${MAX_LIST_LIMIT} tasks (default ${DEFAULT_LIST_LIMIT})`,
      [{ path: 'limit', message: `an integer from 1 to ${MAX_LIST_LIMIT}`, received: limit }],
    );
  }
  return limit;
}

export function checkStatuses(wanted: readonly unknown[], path: string): TaskStatus[] {
  const seen = new Set<TaskStatus>();
  for (const s of wanted) {
    if (typeof s !== 'string' || !STATUS_SET.has(s)) {
      throw new ValidationError(
        `invalid ${path}: '${String(s)}'; expected one of ${TASK_STATUSES.join(', ')}`,
        [{ path, message: 'unknown status', received: s }],
      );
    }
    seen.add(s as TaskStatus);
  }
  // In the canonical order, so equal sets give equal lists.
  return TASK_STATUSES.filter((s) => seen.has(s));
}

/** The filters of a `list` query; each is `undefined` when the query does not filter by it. */
export interface ListFilter {
  /** Distinct, in the order of `TASK_STATUSES`; never empty. */
  statuses: readonly TaskStatus[] | undefined;
  taskType: string | undefined;
  priority: Priority | undefined;
}

/** Checks the filters of a `list` query; `undefined` when the query can match nothing. */
export function resolveListFilter(query: TaskQuery): ListFilter | undefined {
  const { status, taskType, priority } = query;
  let statuses: TaskStatus[] | undefined;
  if (status !== undefined) {
    const wanted: readonly unknown[] = Array.isArray(status) ? status : [status];
    statuses = checkStatuses(wanted, 'status');
    if (statuses.length === 0) return undefined;
  }
  if (priority !== undefined && !PRIORITY_SET.has(priority)) {
    throw new ValidationError(
      `invalid priority: '${String(priority)}'; expected one of ${PRIORITIES_HIGH_FIRST.join(', ')}`,
      [{ path: 'priority', message: 'unknown priority', received: priority }],
    );
  }
  if (taskType !== undefined && typeof taskType !== 'string') {
    throw new ValidationError(`invalid taskType: ${String(taskType)}; expected a string`, [
      { path: 'taskType', message: 'not a string', received: taskType },
    ]);
  }
  return { statuses, taskType, priority };
}

/** Whether a record passes a {@link ListFilter}. */
export function matchesListFilter(filter: ListFilter, record: TaskRecord): boolean {
  const { statuses, taskType, priority } = filter;
  return (
    (statuses === undefined || statuses.includes(record.status)) &&
    (taskType === undefined || record.type === taskType) &&
    (priority === undefined || record.priority === priority)
  );
}

/** A checked `listWaiting` query. */
export interface ResolvedWaitingQuery {
  /** Distinct, in the order of `TASK_STATUSES`; empty when the query can match nothing. */
  statuses: readonly TaskStatus[];
  model: string | undefined;
  limit: number;
  after: WaitingKey | undefined;
}

export function resolveWaitingQuery(query: WaitingQuery): ResolvedWaitingQuery {
  const limit = resolveLimit(query.limit);
  const after =
    query.cursor !== undefined
      ? decodeWaitingCursor(query.cursor)
      : query.after === undefined
        ? undefined
        : positionKey(query.after);
  let statuses = DEFAULT_WAITING_STATUSES;
  if (query.statuses !== undefined) {
    if (!Array.isArray(query.statuses)) {
      throw new ValidationError(`invalid statuses: ${String(query.statuses)}; expected a list`, [
        { path: 'statuses', message: 'not a list', received: query.statuses },
      ]);
    }
    statuses = checkStatuses(query.statuses, 'statuses');
  }
  const { model } = query;
  if (model !== undefined && typeof model !== 'string') {
    throw new ValidationError(`invalid model: ${String(model)}; expected a string`, [
      { path: 'model', message: 'not a string', received: model },
    ]);
  }
  return { statuses, model, limit, after };
}

/** The key of a {@link WaitingPosition}, checked. */
function positionKey(position: WaitingPosition): WaitingKey {
  const { priority, seq, id } = position ?? {};
  if (
    !PRIORITIES_HIGH_FIRST.includes(priority) ||
    !Number.isFinite(seq) ||
    typeof id !== 'string'
  ) {
    throw new ValidationError(
      `invalid after: expected { priority, seq, id } (received ${JSON.stringify(position)})`,
      [{ path: 'after', message: 'not a place in admission order', received: position }],
    );
  }
  return { rank: admissionRank(priority), seq, id };
}

/** A checked `readLedger` query: entries with `seq > after`, at most `limit`. */
export function resolveLedgerQuery(query: LedgerQuery): { after: number; limit: number } {
  const { after = 0, limit = DEFAULT_LEDGER_LIMIT } = query;
  if (!Number.isInteger(after) || after < 0) {
    throw new ValidationError(
      `invalid after: ${String(after)}; expected the seq of a ledger entry (an integer, 0 or more)`,
      [{ path: 'after', message: 'an integer, 0 or more', received: after }],
    );
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LEDGER_LIMIT) {
    throw new ValidationError(
      `invalid limit: ${String(limit)}; a ledger read takes 1 to ${MAX_LEDGER_LIMIT} entries (default ${DEFAULT_LEDGER_LIMIT})`,
      [{ path: 'limit', message: `an integer from 1 to ${MAX_LEDGER_LIMIT}`, received: limit }],
    );
  }
  return { after, limit };
}

/** Checks the `throughSeq` of `compactLedger` (whether that entry exists is the store's part). */
export function checkThroughSeq(throughSeq: number): void {
  if (!Number.isInteger(throughSeq) || throughSeq < 1) {
    throw new ValidationError(
      `invalid throughSeq: ${String(throughSeq)}; expected the seq of a ledger entry (an integer, 1 or more)`,
      [{ path: 'throughSeq', message: 'an integer, 1 or more', received: throughSeq }],
    );
  }
}

/** Rejects a ledger entry a store cannot keep (its `at` must be a finite number). */
export function checkLedgerEntry(entry: LedgerEntry, path: string): void {
  if (typeof entry !== 'object' || entry === null) {
    throw new ValidationError(`invalid ${path}: ${String(entry)}; expected a ledger entry`, [
      { path, message: 'not an object', received: entry },
    ]);
  }
  if (typeof entry.at !== 'number' || !Number.isFinite(entry.at)) {
    throw new ValidationError(
      `invalid ${path}.at: ${String(entry.at)}; a finite number (ms) is required; nothing was written`,
      [{ path: `${path}.at`, message: 'not a finite number', received: entry.at }],
    );
  }
  if (entry.taskId !== undefined && typeof entry.taskId !== 'string') {
    throw new ValidationError(
      `invalid ${path}.taskId: ${String(entry.taskId)}; expected a task id; nothing was written`,
      [{ path: `${path}.taskId`, message: 'not a string', received: entry.taskId }],
    );
  }
}

/** Rejects a record a store cannot place (no id, a seq that is not finite, an unknown status…). */
export function checkRecord(record: TaskRecord): void {
  if (typeof record !== 'object' || record === null) {
    throw new ValidationError(`invalid task record: ${String(record)}; nothing was written`, [
      { path: 'record', message: 'not an object', received: record },
    ]);
  }
  const { id, seq, status, priority, idempotencyKey } = record;
  if (typeof id !== 'string' || id === '') {
    throw new ValidationError(
      `invalid id: ${JSON.stringify(id) ?? String(id)}; a task id is a non-empty string; nothing was written`,
      [{ path: 'id', message: 'not a non-empty string', received: id }],
    );
  }
  if (typeof seq !== 'number' || !Number.isFinite(seq)) {
    throw new ValidationError(
      `invalid seq: task '${id}' has seq ${String(seq)}; a finite number is required; nothing was written`,
      [{ path: 'seq', message: 'not a finite number', received: seq }],
    );
  }
  if (!STATUS_SET.has(status)) {
    throw new ValidationError(
      `invalid status: task '${id}' has status '${String(status)}'; expected one of ${TASK_STATUSES.join(', ')}; nothing was written`,
      [{ path: 'status', message: 'unknown status', received: status }],
    );
  }
  if (!PRIORITY_SET.has(priority)) {
    throw new ValidationError(
      `invalid priority: task '${id}' has priority '${String(priority)}'; expected one of ${PRIORITIES_HIGH_FIRST.join(', ')}; nothing was written`,
      [{ path: 'priority', message: 'unknown priority', received: priority }],
    );
  }
  if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') {
    throw new ValidationError(
      `invalid idempotencyKey: task '${id}' has key ${String(idempotencyKey)}; expected a string; nothing was written`,
      [{ path: 'idempotencyKey', message: 'not a string', received: idempotencyKey }],
    );
  }
  if (typeof record.reservation?.model !== 'string') {
    throw new ValidationError(
      `invalid reservation: task '${id}' names no model in its reservation; nothing was written`,
      [{ path: 'reservation.model', message: 'not a string', received: record.reservation }],
    );
  }
}

export function duplicateIdError(id: string, inBatch: boolean): ValidationError {
  return inBatch
    ? new ValidationError(
        `invalid id: task id '${id}' appears twice in the batch; nothing was written`,
        [{ path: 'id', message: 'duplicate in batch', received: id }],
      )
    : new ValidationError(
        `invalid id: a task with id '${id}' exists already; nothing was written`,
        [{ path: 'id', message: 'duplicate', received: id }],
      );
}

/** The error for an idempotency key that another task holds (`owner`, when known). */
export function duplicateKeyError(
  key: string,
  id: string,
  owner: string | undefined,
  inBatch: boolean,
): ValidationError {
  const holder = owner === undefined ? 'another task' : `task '${owner}'`;
  const where = inBatch ? `${holder} of the same batch` : holder;
  return new ValidationError(
    `invalid idempotencyKey: task '${id}' has key '${key}', which ${where} holds already; nothing was written`,
    [
      {
        path: 'idempotencyKey',
        message: inBatch ? 'duplicate in batch' : 'duplicate',
        received: key,
      },
    ],
  );
}

/**
 * The checks of a {@link StoreWrite} that need no stored state: every record and ledger entry is
 * well formed, and no id or idempotency key appears twice among the inserted records. Checking
 * the write against what is stored is the store's part.
 */
export function checkWrite(write: StoreWrite): void {
  const { insert, update, remove, ledger } = write;
  if (insert !== undefined && insert.length > 0) {
    const ids = insert.length > 1 ? new Set<string>() : undefined;
    let keys: Map<string, string> | undefined;
    for (const record of insert) {
      checkRecord(record);
      if (ids !== undefined) {
        if (ids.has(record.id)) throw duplicateIdError(record.id, true);
        ids.add(record.id);
      }
      const key = record.idempotencyKey;
      if (key !== undefined) {
        keys ??= new Map();
        const owner = keys.get(key);
        if (owner !== undefined) throw duplicateKeyError(key, record.id, owner, true);
        keys.set(key, record.id);
      }
    }
  }
  if (update !== undefined) for (const record of update) checkRecord(record);
  if (remove !== undefined) {
    for (const id of remove) {
      if (typeof id !== 'string') {
        throw new ValidationError(
          `invalid remove: ${String(id)} is not a task id; nothing was written`,
          [{ path: 'remove', message: 'not a string', received: id }],
        );
      }
    }
  }
  if (ledger !== undefined) {
    for (const [index, entry] of ledger.entries()) checkLedgerEntry(entry, `ledger[${index}]`);
  }
}

/** The error of `compactLedger` for a `seq` the ledger does not hold. */
export function noLedgerEntry(throughSeq: number): ValidationError {
  return new ValidationError(
    `invalid throughSeq: the ledger holds no entry ${throughSeq} (it was never written or was compacted away); nothing was changed`,
    [{ path: 'throughSeq', message: 'no such ledger entry', received: throughSeq }],
  );
}

/** JSON of a value to store; a `ValidationError` naming `what` when it has none. */
export function toJson(value: unknown, what: string): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ValidationError(
      `invalid ${what}: it cannot be written as JSON (${why}); data, result, metadata and ledger events must be JSON; nothing was written`,
      [{ path: what, message: 'not JSON', received: value }],
    );
  }
}
