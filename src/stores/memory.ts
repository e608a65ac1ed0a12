import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  type TaskStatus,
  TERMINAL_STATUSES,
  zeroStatusCounts,
} from '../../machines/task-status.js';
import { StoreError, TaskNotFoundError } from '../errors.js';
import {
  admissionRank,
  checkLedgerEntry,
  checkStatuses,
  checkThroughSeq,
  checkWrite,
  compareListKeys,
  compareWaitingKeys,
  decodeListCursor,
  duplicateIdError,
  duplicateKeyError,
  encodeListCursor,
  encodeWaitingCursor,
  type ListKey,
  matchesListFilter,
  noLedgerEntry,
  resolveLedgerQuery,
  resolveLimit,
  resolveListFilter,
  resolveWaitingQuery,
  type WaitingKey,
} from './query.js';
import type {
  LedgerEntry,
  LedgerQuery,
  StoredLedgerEntry,
  StoreWrite,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskStore,
  WaitingQuery,
} from './types.js';

export { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './query.js';

const NO_RECORDS: readonly TaskRecord[] = [];
const NO_IDS: readonly string[] = [];
const NO_ENTRIES: readonly LedgerEntry[] = [];

function waitingKeyOf(record: TaskRecord): WaitingKey {
  return { rank: admissionRank(record.priority), seq: record.seq, id: record.id };
}

/** A stored ledger entry: `taskId` only when the entry has one. */
function storedEntry(seq: number, entry: LedgerEntry): StoredLedgerEntry {
  return entry.taskId === undefined
    ? { seq, at: entry.at, event: entry.event }
    : { seq, at: entry.at, taskId: entry.taskId, event: entry.event };
}

/**
 * The in-process {@link TaskStore}, and the engine's default. Not durable: what it holds ends
 * with the process.
 *
 * Records live in one `Map<string, TaskRecord>` in insertion order and are kept **by reference**:
 * `insert` stores the very objects it is given, and `get` and `list` return them. The engine
 * changes records in place and then calls `update`, which here only checks that the task exists
 * (and replaces the entry when it is handed a different object). Nothing is cloned and nothing is
 * kept per task beyond the Map entry (and, for a task with an idempotency key, one entry in each
 * of two key maps), so 100,000 waiting tasks cost their records and no more. Callers that must
 * not share objects with the engine should copy what they read.
 *
 * `list` walks the Map. While records arrive in list order (`seq` ascending, the engine's normal
 * case) it stops as soon as the page is full; a page after a cursor costs a walk up to that
 * cursor. Once a record has been inserted out of order (or its `seq` was changed by `update`) the
 * store sorts the matching records per page instead, until it is empty again. `listWaiting`
 * walks the Map once per priority in the same way.
 *
 * The ledger is an array of entries in `seq` order; `readLedger` finds its place by bisection.
 */
export class MemoryTaskStore implements TaskStore {
  readonly name = 'memory';
  readonly holdsRecordsByReference: boolean = true;
  readonly durable = false;

  readonly #records = new Map<string, TaskRecord>();
  /** Task id by idempotency key, and the other way round (only tasks that have a key). */
  readonly #idByKey = new Map<string, string>();
  readonly #keyById = new Map<string, string>();
  /** Whether Map order is list order (`seq`, then `id`). */
  #ordered = true;
  /** The largest list key inserted since the store was last empty. */
  #last: ListKey | undefined;
  #ledger: StoredLedgerEntry[] = [];
  /** The `seq` of the last ledger entry appended (never reused). */
  #ledgerSeq = 0;
  #closed = false;

  /**
   * Applies the write all or nothing: everything is checked first (ids and idempotency keys of
   * the inserted records, existence of the updated ones, the shape of every record and ledger
   * entry) and nothing changes when a check fails. Then inserts, updates, removes and ledger
   * entries are applied in that order, records by reference.
   */
  async commit(write: StoreWrite): Promise<void> {
    this.#assertOpen('commit');
    this.#write(write);
  }

  /** Adds the given records (by reference), all or none: a duplicate id rejects the whole batch. */
  async insert(records: readonly TaskRecord[]): Promise<void> {
    this.#assertOpen('insert');
    this.#write({ insert: records });
  }

  /**
   * Records that a stored task changed. With the stored object itself this only checks that the
   * task exists; with another object it replaces the entry (keeping its place in the Map).
   */
  async update(record: TaskRecord): Promise<void> {
    this.#assertOpen('update');
    const stored = this.#records.get(record.id);
    if (stored === undefined) throw new TaskNotFoundError(record.id);
    // The common case: the engine changed the stored object in place and nothing is keyed.
    if (stored === record && record.idempotencyKey === undefined && this.#keyById.size === 0) {
      return;
    }
    this.#write({ update: [record] });
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
    const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const filter = resolveListFilter(query);
    if (filter === undefined) return { items: [], nextCursor: null };

    // One more than a page, to tell whether another page follows.
    const wanted = limit + 1;
    let found: TaskRecord[] = [];
    if (this.#ordered) {
      for (const record of this.#records.values()) {
        if (after !== undefined && compareListKeys(record, after) <= 0) continue;
        if (!matchesListFilter(filter, record)) continue;
        found.push(record);
        if (found.length === wanted) break;
      }
    } else {
      for (const record of this.#records.values()) {
        if (after !== undefined && compareListKeys(record, after) <= 0) continue;
        if (matchesListFilter(filter, record)) found.push(record);
      }
      found.sort(compareListKeys);
      found = found.slice(0, wanted);
    }

    if (found.length <= limit) return { items: found, nextCursor: null };
    const items = found.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: last === undefined ? null : encodeListCursor(last) };
  }

  /**
   * One page of records (the stored objects) in admission order: priority (URGENT first), then
   * `seq`, then `id`, after the query's cursor.
   */
  /** How many stored tasks in these statuses there are, by priority. Walks every task. */
  async countWaiting(statuses: readonly TaskStatus[]): Promise<Record<Priority, number>> {
    this.#assertOpen('countWaiting');
    const wanted = new Set(checkStatuses(statuses, 'statuses'));
    const counts: Record<Priority, number> = { URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
    for (const record of this.#records.values()) {
      if (wanted.has(record.status)) counts[record.priority] += 1;
    }
    return counts;
  }

  async listWaiting(query: WaitingQuery = {}): Promise<TaskPage> {
    this.#assertOpen('listWaiting');
    const { statuses, model, limit, after } = resolveWaitingQuery(query);
    if (statuses.length === 0) return { items: [], nextCursor: null };
    const matches = (record: TaskRecord) =>
      statuses.includes(record.status) &&
      (model === undefined || record.reservation.model === model);

    const wanted = limit + 1;
    let found: TaskRecord[] = [];
    if (this.#ordered) {
      // Map order is `seq` order: one walk per priority gives admission order.
      for (let rank = after?.rank ?? 0; rank < PRIORITIES_HIGH_FIRST.length; rank += 1) {
        const priority = PRIORITIES_HIGH_FIRST[rank];
        const from = after !== undefined && rank === after.rank ? after : undefined;
        for (const record of this.#records.values()) {
          if (record.priority !== priority || !matches(record)) continue;
          if (from !== undefined && compareListKeys(record, from) <= 0) continue;
          found.push(record);
          if (found.length === wanted) break;
        }
        if (found.length === wanted) break;
      }
    } else {
      const keyed: Array<{ key: WaitingKey; record: TaskRecord }> = [];
      for (const record of this.#records.values()) {
        if (!matches(record)) continue;
        const key = waitingKeyOf(record);
        if (after !== undefined && compareWaitingKeys(key, after) <= 0) continue;
        keyed.push({ key, record });
      }
      keyed.sort((a, b) => compareWaitingKeys(a.key, b.key));
      found = keyed.slice(0, wanted).map((k) => k.record);
    }

    if (found.length <= limit) return { items: found, nextCursor: null };
    const items = found.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: last === undefined ? null : encodeWaitingCursor(waitingKeyOf(last)),
    };
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
    for (const id of ids) if (this.#delete(id)) removed += 1;
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
        this.#delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  /** The ids of the stored tasks that hold these idempotency keys. */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<Map<string, string>> {
    this.#assertOpen('findByIdempotencyKeys');
    const found = new Map<string, string>();
    if (this.#idByKey.size === 0) return found;
    for (const key of keys) {
      const id = this.#idByKey.get(key);
      if (id !== undefined) found.set(key, id);
    }
    return found;
  }

  /** The largest stored `seq` (0 when empty); walks the records. */
  async lastSeq(): Promise<number> {
    this.#assertOpen('lastSeq');
    let last = 0;
    let first = true;
    for (const record of this.#records.values()) {
      if (first || record.seq > last) last = record.seq;
      first = false;
    }
    return last;
  }

  /** Ledger entries with `seq > after`, at most `limit`, in append order (the stored objects). */
  async readLedger(query: LedgerQuery = {}): Promise<StoredLedgerEntry[]> {
    this.#assertOpen('readLedger');
    const { after, limit } = resolveLedgerQuery(query);
    const start = this.#ledgerIndexAfter(after);
    return this.#ledger.slice(start, start + limit);
  }

  /** Replaces the entries up to `throughSeq` by `checkpoint` (which keeps that `seq`). */
  async compactLedger(throughSeq: number, checkpoint: LedgerEntry): Promise<void> {
    this.#assertOpen('compactLedger');
    checkThroughSeq(throughSeq);
    checkLedgerEntry(checkpoint, 'checkpoint');
    const index = this.#ledgerIndexAfter(throughSeq - 1);
    if (this.#ledger[index]?.seq !== throughSeq) throw noLedgerEntry(throughSeq);
    const rest = this.#ledger.slice(index + 1);
    this.#ledger = [storedEntry(throughSeq, checkpoint), ...rest];
  }

  /** Drops every record and the ledger; later calls reject. Closing again resolves. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#records.clear();
    this.#idByKey.clear();
    this.#keyById.clear();
    this.#ledger = [];
    this.#last = undefined;
    this.#ordered = true;
  }

  /** Checks the whole write against the stored state, then applies it; see {@link commit}. */
  #write(write: StoreWrite): void {
    checkWrite(write);
    const insert = write.insert ?? NO_RECORDS;
    const update = write.update ?? NO_RECORDS;
    this.#checkAgainstStored(insert, update);

    if (insert.length > 0) {
      if (this.#records.size === 0) {
        this.#ordered = true;
        this.#last = undefined;
      }
      for (const record of insert) {
        this.#records.set(record.id, record);
        this.#noteKey(record);
        if (record.idempotencyKey !== undefined) this.#setKey(record.id, record.idempotencyKey);
      }
    }
    for (const record of update) {
      const stored = this.#records.get(record.id);
      if (stored !== record) {
        if (stored !== undefined && stored.seq !== record.seq) this.#ordered = false;
        this.#records.set(record.id, record);
      }
      const before = this.#keyById.get(record.id);
      if (before !== record.idempotencyKey) {
        if (before !== undefined) this.#forgetKey(record.id);
        if (record.idempotencyKey !== undefined) this.#setKey(record.id, record.idempotencyKey);
      }
    }
    for (const id of write.remove ?? NO_IDS) this.#delete(id);
    for (const entry of write.ledger ?? NO_ENTRIES) {
      this.#ledgerSeq += 1;
      this.#ledger.push(storedEntry(this.#ledgerSeq, entry));
    }
  }

  /**
   * Rejects a write that clashes with what is stored, or with itself as applied in order: an
   * inserted id that exists, an updated task that does not (inserted ones count), an idempotency
   * key that another task holds at that point of the write.
   */
  #checkAgainstStored(insert: readonly TaskRecord[], update: readonly TaskRecord[]): void {
    // What the write has done to the keys so far: key → holder (`undefined`: freed), and id → key.
    let holders: Map<string, string | undefined> | undefined;
    let keys: Map<string, string | undefined> | undefined;
    const holderOf = (key: string) =>
      holders?.has(key) === true ? holders.get(key) : this.#idByKey.get(key);

    for (const record of insert) {
      if (this.#records.has(record.id)) throw duplicateIdError(record.id, false);
      const key = record.idempotencyKey;
      if (key === undefined) continue;
      // Keys twice within the batch were rejected by `checkWrite`.
      const holder = this.#idByKey.get(key);
      if (holder !== undefined) throw duplicateKeyError(key, record.id, holder, false);
      holders ??= new Map();
      keys ??= new Map();
      holders.set(key, record.id);
      keys.set(record.id, key);
    }
    if (update.length === 0) return;
    const inserted = insert.length > 0 ? new Set(insert.map((r) => r.id)) : undefined;
    for (const record of update) {
      if (inserted?.has(record.id) !== true && !this.#records.has(record.id)) {
        throw new TaskNotFoundError(record.id);
      }
      const before =
        keys?.has(record.id) === true ? keys.get(record.id) : this.#keyById.get(record.id);
      const after = record.idempotencyKey;
      if (before === after) continue;
      if (after !== undefined) {
        const holder = holderOf(after);
        if (holder !== undefined && holder !== record.id) {
          throw duplicateKeyError(after, record.id, holder, false);
        }
      }
      holders ??= new Map();
      keys ??= new Map();
      if (before !== undefined) holders.set(before, undefined);
      if (after !== undefined) holders.set(after, record.id);
      keys.set(record.id, after);
    }
  }

  /** Removes one task and its key; whether it was stored. */
  #delete(id: string): boolean {
    if (!this.#records.delete(id)) return false;
    if (this.#keyById.size > 0) this.#forgetKey(id);
    return true;
  }

  #setKey(id: string, key: string): void {
    this.#idByKey.set(key, id);
    this.#keyById.set(id, key);
  }

  #forgetKey(id: string): void {
    const key = this.#keyById.get(id);
    if (key === undefined) return;
    this.#keyById.delete(id);
    this.#idByKey.delete(key);
  }

  /** The index of the first ledger entry with `seq > after`. */
  #ledgerIndexAfter(after: number): number {
    let low = 0;
    let high = this.#ledger.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#ledger[middle]?.seq ?? 0) <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #noteKey(record: TaskRecord): void {
    if (this.#last !== undefined && compareListKeys(record, this.#last) <= 0) {
      this.#ordered = false;
      return;
    }
    this.#last = { seq: record.seq, id: record.id };
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new StoreError(`the memory task store is closed; cannot ${operation}`, 'closed');
    }
  }
}
