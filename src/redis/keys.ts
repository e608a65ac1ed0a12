/**
 * How the Redis store lays out one queue under its key prefix, and the sortable strings its
 * indexes hold. Every index is a sorted set whose members all have score 0, so Redis orders them
 * by their bytes (`ZRANGEBYLEX`): a member starts with the record's place (an order-preserving
 * text of its `seq`, after its priority's rank for admission order) and ends with its id. Ties of
 * `seq` are then ordered by the id's UTF-8 bytes, as the SQLite store orders them.
 */

import type { TaskStatus } from '../../machines/task-status.js';
import { admissionRank } from '../stores/query.js';
import type { TaskRecord } from '../stores/types.js';

/** The characters of an encoded `seq`. */
export const SEQ_WIDTH = 16;
/** Where the id starts in a list member (after the seq) and in a waiting member (rank, seq). */
export const LIST_ID_OFFSET = SEQ_WIDTH;
export const WAITING_ID_OFFSET = SEQ_WIDTH + 1;

const view = new DataView(new ArrayBuffer(8));

/**
 * A finite number as 16 hex digits whose byte order is the numbers' order: the IEEE-754 bits with
 * the sign bit flipped for positives and every bit flipped for negatives. `-0` is `0`.
 */
export function encodeSeq(seq: number): string {
  view.setFloat64(0, seq === 0 ? 0 : seq);
  let hi = view.getUint32(0);
  let lo = view.getUint32(4);
  if ((hi & 0x80000000) !== 0) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** The number {@link encodeSeq} encoded. */
export function decodeSeq(text: string): number {
  let hi = Number.parseInt(text.slice(0, 8), 16);
  let lo = Number.parseInt(text.slice(8, SEQ_WIDTH), 16);
  if ((hi & 0x80000000) !== 0) {
    hi = (hi & 0x7fffffff) >>> 0;
  } else {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  }
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

/** A record's member in list order: its `seq`, then its id. */
export function listMember(seq: number, id: string): string {
  return encodeSeq(seq) + id;
}

/** A record's member in admission order: its priority's rank (one digit), `seq`, id. */
export function waitingMember(rank: number, seq: number, id: string): string {
  return String(rank) + encodeSeq(seq) + id;
}

/**
 * The key names of one queue: `<prefix>:<name>`. Besides these, the scripts keep `<prefix>:done`
 * (finished tasks by `completedAt`), `<prefix>:lseq` (the last ledger `seq` given) and
 * `<prefix>:applied:<write id>` (a write's reply, for ten minutes; see `COMMIT_SCRIPT`).
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The hash of one task: its JSON body and the fields its indexes are kept by. */
  task(id: string): string {
    return `${this.prefix}:t:${id}`;
  }

  /** Every task, in list order. */
  get all(): string {
    return `${this.prefix}:all`;
  }

  /** The tasks in one status, in list order. */
  byStatus(status: TaskStatus): string {
    return `${this.prefix}:l:${status}`;
  }

  /** The tasks in one status, in admission order. */
  waiting(status: TaskStatus): string {
    return `${this.prefix}:w:${status}`;
  }

  /** The tasks in one status whose reservation names `model`, in admission order. */
  waitingOfModel(status: TaskStatus, model: string): string {
    return `${this.prefix}:wm:${status}:${model}`;
  }

  /** Idempotency key → task id. */
  get keys(): string {
    return `${this.prefix}:keys`;
  }

  /** The ledger: members `<seq>:<JSON>`, scored by `seq`. */
  get ledger(): string {
    return `${this.prefix}:ledger`;
  }

  /** The store's layout version and other facts about it. */
  get meta(): string {
    return `${this.prefix}:meta`;
  }

  /** The lease of the process that holds the store. */
  get owner(): string {
    return `${this.prefix}:owner`;
  }
}

/** What the commit script is told of one record, in this order (see scripts.ts). */
export function recordArgs(record: TaskRecord, body: string): string[] {
  const rank = admissionRank(record.priority);
  const key = record.idempotencyKey;
  return [
    record.id,
    body,
    record.status,
    listMember(record.seq, record.id),
    waitingMember(rank, record.seq, record.id),
    record.reservation.model,
    key === undefined ? '0' : '1',
    key ?? '',
    finishedAt(record.completedAt),
    record.type,
    String(rank),
  ];
}

/**
 * `completedAt` as the finished index scores it; `''` (not indexed) when it is not a finite
 * number, which `removeFinishedBefore` would never remove either.
 */
function finishedAt(completedAt: unknown): string {
  return typeof completedAt === 'number' && Number.isFinite(completedAt) ? String(completedAt) : '';
}

/** The fields {@link recordArgs} gives per record. */
export const RECORD_FIELDS = 11;
