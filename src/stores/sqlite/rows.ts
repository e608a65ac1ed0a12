/**
 * The rows of the SQLite store: what its statements bind and return, a record or a write turned
 * into them (as JSON, refused when it has none), and the order of `listWaiting`'s rows.
 */

import { ValidationError } from '../../errors.js';
import { admissionRank, checkWrite, toJson } from '../query.js';
import type { StoreWrite, TaskRecord } from '../types.js';

/**
 * A task as `INSERT` binds it: id, seq, rank, status, type, model, key, completed_at, body, then
 * its rowid twice (see `rowidOf`).
 */
export type TaskRow = [
  string,
  number,
  number,
  string,
  string,
  string,
  string | null,
  number | null,
  string,
  number | null,
  number | null,
];

/** 2^40: room for a trillion tasks of each priority. */
const RANK_SPAN = 2 ** 40;

/**
 * Where a task's row goes in the table: in admission order (its priority's rank, then its seq),
 * so that the tasks a wave admits, completes and removes are neighbours. Above the rowids SQLite
 * gave the rows of files written before (1, 2, 3, …); unique as long as seqs are. `null` (SQLite
 * picks) for a seq that is not a whole number from 0 to 2^40 (a record stored by hand).
 */
export function rowidOf(rank: number, seq: number): number | null {
  if (!Number.isInteger(seq) || seq < 0 || seq >= RANK_SPAN) return null;
  return (rank + 1) * RANK_SPAN + seq;
}

/**
 * A task as the `UPDATE`s bind it: what changes (rank, status, completed_at, body), then what is
 * fixed at submission (seq, type, model, key), then the id.
 */
export type UpdateRow = [
  number,
  string,
  number | null,
  string,
  number,
  string,
  string,
  string | null,
  string,
];

/** A row of the `listWaiting` query. */
export interface WaitingRow {
  rank: number;
  seq: number;
  id: string;
  body: string;
}

/** A ledger entry as `readLedger` selects it. */
export interface LedgerRow {
  seq: number;
  at: number;
  task_id: string | null;
  body: string | null;
}

/** `a` and `b` in SQLite's BINARY order (UTF-8 bytes, which is code point order). */
function compareBinary(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) {
      return (a.codePointAt(i) ?? 0) < (b.codePointAt(i) ?? 0) ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : 1;
}

/** Rows in admission order, as SQLite orders them: rank, seq, then id. */
export function compareRows(a: WaitingRow, b: WaitingRow): number {
  if (a.rank !== b.rank) return a.rank < b.rank ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return compareBinary(a.id, b.id);
}

function bodyOf(record: TaskRecord): string {
  const body = toJson(record, `task '${record.id}'`);
  if (body === undefined) throw new ValidationError(`invalid task '${record.id}': no JSON form`);
  return body;
}

function updateRowOf(record: TaskRecord): UpdateRow {
  return [
    admissionRank(record.priority),
    record.status,
    record.completedAt ?? null,
    bodyOf(record),
    record.seq,
    record.type,
    record.reservation.model,
    record.idempotencyKey ?? null,
    record.id,
  ];
}

function rowOf(record: TaskRecord): TaskRow {
  const body = bodyOf(record);
  const rank = admissionRank(record.priority);
  const rowid = rowidOf(rank, record.seq);
  return [
    record.id,
    record.seq,
    rank,
    record.status,
    record.type,
    record.reservation.model,
    record.idempotencyKey ?? null,
    record.completedAt ?? null,
    body,
    rowid,
    rowid,
  ];
}

/** A write checked and turned into the rows its statements bind. */
export interface PreparedWrite {
  insert: TaskRow[];
  update: UpdateRow[];
  remove: readonly string[];
  ledger: Array<[number, string | null, string | null]>;
}

/** The task id and idempotency key of each insert and update step of `write`, in step order. */
export function taskStepsOf(write: PreparedWrite): { ids: string[]; keys: Array<string | null> } {
  const ids: string[] = [];
  const keys: Array<string | null> = [];
  // An insert's id and key are its first and seventh columns, an update's its last two.
  for (const row of write.insert) {
    ids.push(row[0]);
    keys.push(row[6]);
  }
  for (const row of write.update) {
    ids.push(row[8]);
    keys.push(row[7]);
  }
  return { ids, keys };
}

/** Checks `write` and turns it into its rows; throws a `ValidationError` for a bad one. */
export function prepareWrite(write: StoreWrite): PreparedWrite {
  checkWrite(write);
  return {
    insert: (write.insert ?? []).map(rowOf),
    update: (write.update ?? []).map(updateRowOf),
    remove: write.remove ?? [],
    ledger: (write.ledger ?? []).map((entry, index) => [
      entry.at,
      entry.taskId ?? null,
      toJson(entry.event, `ledger[${index}].event`) ?? null,
    ]),
  };
}
