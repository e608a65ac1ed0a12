/**
 * The Redis {@link TaskStore}: tasks, idempotency keys and the ledger under one key prefix,
 * durable as the server is (docs/stores.md names the persistence settings that needs). One
 * process holds a prefix at a time, through a lease it renews; every write is one Lua script, so
 * it lands whole or not at all, and a process whose lease ran out can write nothing more.
 */

import type { Redis } from 'ioredis';
import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  TASK_STATUSES,
  type TaskStatus,
  zeroStatusCounts,
} from '../../machines/task-status.js';
import { StoreError, TaskNotFoundError, ValidationError } from '../errors.js';
import {
  admissionRank,
  checkLedgerEntry,
  checkStatuses,
  checkThroughSeq,
  checkWrite,
  decodeListCursor,
  duplicateIdError,
  duplicateKeyError,
  encodeListCursor,
  encodeWaitingCursor,
  noLedgerEntry,
  resolveLedgerQuery,
  resolveLimit,
  resolveListFilter,
  resolveWaitingQuery,
} from '../stores/query.js';
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
} from '../stores/types.js';
import { closedError, leaseLostError, toRedisStoreError } from './errors.js';
import {
  decodeSeq,
  LIST_ID_OFFSET,
  listMember,
  type RedisKeys,
  WAITING_ID_OFFSET,
  waitingMember,
} from './keys.js';
import {
  openConnection,
  type RedisConnection,
  type RedisStoreOptions,
  resolveRedisOptions,
} from './open.js';
import {
  commitArgs,
  compareBytes,
  execPipeline,
  type IndexedBody,
  ledgerJson,
  SCRIPTS,
  type ScriptCommands,
} from './store-commands.js';

/**
 * Opens the Redis task store under `options.prefix` (default `'aitq'`) on the server at
 * `options.url` (default `redis://127.0.0.1:6379`; a string is taken as the URL). Throws a
 * {@link StoreError} whose `reason` says why it cannot be used: `unreachable`, `unsafe` (the
 * server evicts keys when full), `locked` (another process holds the prefix), `newer-schema`,
 * `foreign`.
 *
 * @example
 * ```ts
 * import { openRedisStore } from 'ai-task-queue/redis';
 * const store = await openRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'reviews' });
 * ```
 */
export async function openRedisStore(
  options: RedisStoreOptions | string = {},
): Promise<RedisTaskStore> {
  const resolved = resolveRedisOptions(options);
  const connection = await openConnection(resolved);
  return createStore(connection, resolved.location, resolved.leaseMs);
}

let createStore: (connection: RedisConnection, location: string, leaseMs: number) => RedisTaskStore;

/**
 * A {@link TaskStore} on a Redis server (through ioredis), made by {@link openRedisStore}.
 *
 * Each task is a hash holding its record as JSON and the fields its sorted-set indexes are kept
 * by, so `data`, `result` and `metadata` must be JSON (as for the SQLite store). Task ids are
 * ordered by their UTF-8 bytes, as the SQLite store orders them. Reads return fresh objects.
 *
 * One process holds a prefix at a time: a lease (`<prefix>:owner`, renewed every third of
 * `leaseMs`) taken at open and given up at close. Every write checks it on the server, so a
 * process that stalled past its lease while another took the store over writes nothing more.
 */
export class RedisTaskStore implements TaskStore {
  readonly name = 'redis';
  readonly durable = true;
  /** The server (without its password) and the prefix. */
  readonly location: string;

  readonly #redis: Redis & ScriptCommands;
  readonly #keys: RedisKeys;
  readonly #token: string;
  readonly #renewal: ReturnType<typeof setInterval>;
  #closed = false;
  /** Set when a renewal found the lease taken over: writes fail from then on. */
  #lost = false;
  /** Writes sent so far: with the lease token, each write's id (see `COMMIT_SCRIPT`). */
  #writes = 0;

  static {
    createStore = (connection, location, leaseMs) =>
      new RedisTaskStore(connection, location, leaseMs);
  }

  private constructor(connection: RedisConnection, location: string, leaseMs: number) {
    this.location = location;
    this.#keys = connection.keys;
    this.#token = connection.token;
    const redis = connection.redis as Redis & ScriptCommands;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.#redis = redis;
    this.#renewal = setInterval(() => this.#renew(leaseMs), Math.floor(leaseMs / 3));
    this.#renewal.unref();
  }

  /**
   * Applies the write in one script: inserts, updates, removes, ledger entries in that order.
   * Rejects (and changes nothing) on an inserted id or idempotency key that exists or appears
   * twice, an updated task that does not exist, data that is not JSON, or a lost lease.
   */
  async commit(write: StoreWrite): Promise<void> {
    await this.#write('commit', write);
  }

  /** Adds new tasks, all or nothing. */
  async insert(records: readonly TaskRecord[]): Promise<void> {
    await this.#write('insert', { insert: records });
  }

  /** Replaces a stored task; rejects with `TaskNotFoundError` if there is none. */
  async update(record: TaskRecord): Promise<void> {
    await this.#write('update', { update: [record] });
  }

  /** A fresh copy of the stored record, or `undefined`. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#run('get', async () => {
      if (typeof id !== 'string') return undefined;
      const body = await this.#redis.hget(this.#keys.task(id), 'b');
      return body === null ? undefined : this.#parse(body);
    });
  }

  /** One page of records in `seq` order (then `id`), after the query's cursor. */
  async list(query: TaskQuery = {}): Promise<TaskPage> {
    return this.#run('list', async () => {
      const limit = resolveLimit(query.limit);
      const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
      const filter = resolveListFilter(query);
      if (filter === undefined) return { items: [], nextCursor: null };
      const start = after === undefined ? '-' : `(${listMember(after.seq, after.id)}`;
      const filters = [
        filter.taskType === undefined ? '0' : '1',
        filter.taskType ?? '',
        filter.priority === undefined ? '' : String(admissionRank(filter.priority)),
      ];
      const sources =
        filter.statuses === undefined
          ? [this.#keys.all]
          : filter.statuses.map((status) => this.#keys.byStatus(status));
      const rows = await this.#pages(sources, start, limit + 1, LIST_ID_OFFSET, filters);
      const items = rows.slice(0, limit).map((row) => this.#parse(row.body));
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last !== undefined ? encodeListCursor(last) : null,
      };
    });
  }

  /** One page of records in admission order (priority, `seq`, `id`), after the query's cursor. */
  async listWaiting(query: WaitingQuery = {}): Promise<TaskPage> {
    return this.#run('listWaiting', async () => {
      const { statuses, model, limit, after } = resolveWaitingQuery(query);
      if (statuses.length === 0) return { items: [], nextCursor: null };
      const start =
        after === undefined ? '-' : `(${waitingMember(after.rank, after.seq, after.id)}`;
      const sources = statuses.map((status) =>
        model === undefined ? this.#keys.waiting(status) : this.#keys.waitingOfModel(status, model),
      );
      const rows = await this.#pages(sources, start, limit + 1, WAITING_ID_OFFSET, ['0', '', '']);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((row) => this.#parse(row.body)),
        nextCursor:
          rows.length > limit && last !== undefined
            ? encodeWaitingCursor({
                rank: Number(last.member.slice(0, 1)),
                seq: decodeSeq(last.member.slice(1, WAITING_ID_OFFSET)),
                id: last.member.slice(WAITING_ID_OFFSET),
              })
            : null,
      };
    });
  }

  /** How many stored tasks in these statuses there are, by priority (zeros included). */
  async countWaiting(statuses: readonly TaskStatus[]): Promise<Record<Priority, number>> {
    return this.#run('countWaiting', async () => {
      const wanted = checkStatuses(statuses, 'statuses');
      const counts: Record<Priority, number> = { URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
      if (wanted.length === 0) return counts;
      const pipeline = this.#redis.pipeline();
      for (const status of wanted) {
        for (let rank = 0; rank < PRIORITIES_HIGH_FIRST.length; rank++) {
          pipeline.zlexcount(this.#keys.waiting(status), `[${rank}`, `(${rank + 1}`);
        }
      }
      const replies = await execPipeline(pipeline);
      replies.forEach((n, i) => {
        const priority = PRIORITIES_HIGH_FIRST[i % PRIORITIES_HIGH_FIRST.length] as Priority;
        counts[priority] += Number(n);
      });
      return counts;
    });
  }

  /** How many stored tasks are in each of the seven statuses (zeros included). */
  async countByStatus(): Promise<Record<TaskStatus, number>> {
    return this.#run('countByStatus', async () => {
      const pipeline = this.#redis.pipeline();
      for (const status of TASK_STATUSES) pipeline.zcard(this.#keys.byStatus(status));
      const replies = await execPipeline(pipeline);
      const counts = zeroStatusCounts();
      TASK_STATUSES.forEach((status, i) => {
        counts[status] = Number(replies[i]);
      });
      return counts;
    });
  }

  /** Removes the given tasks; resolves with how many of them were stored. */
  async remove(ids: readonly string[]): Promise<number> {
    return this.#write('remove', { remove: ids });
  }

  /** Removes completed, failed and cancelled tasks whose `completedAt` is before `before`. */
  async removeFinishedBefore(before: number): Promise<number> {
    return this.#run('removeFinishedBefore', async () => {
      if (typeof before !== 'number') {
        throw new ValidationError(`invalid before: ${String(before)}; expected a time in ms`, [
          { path: 'before', message: 'not a number', received: before },
        ]);
      }
      if (Number.isNaN(before)) return 0;
      const bound = before === Number.POSITIVE_INFINITY ? '+inf' : String(before);
      if (before === Number.NEGATIVE_INFINITY) return 0;
      const removed = await this.#redis.aitqRemoveFinished(this.#keys.prefix, this.#token, bound);
      if (removed < 0) throw this.#lostLease('removeFinishedBefore');
      return removed;
    });
  }

  /** The ids of the stored tasks that hold these idempotency keys. */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<Map<string, string>> {
    return this.#run('findByIdempotencyKeys', async () => {
      const found = new Map<string, string>();
      const wanted = keys.filter((key) => typeof key === 'string');
      if (wanted.length === 0) return found;
      const ids = await this.#redis.hmget(this.#keys.keys, ...wanted);
      wanted.forEach((key, i) => {
        const id = ids[i];
        if (typeof id === 'string') found.set(key, id);
      });
      return found;
    });
  }

  /** The largest stored `seq` (0 when empty). */
  async lastSeq(): Promise<number> {
    return this.#run('lastSeq', async () => {
      const [last] = await this.#redis.zrevrangebylex(this.#keys.all, '+', '-', 'LIMIT', 0, 1);
      return last === undefined ? 0 : decodeSeq(last.slice(0, LIST_ID_OFFSET));
    });
  }

  /** Ledger entries with `seq > after`, at most `limit`, in append order. */
  async readLedger(query: LedgerQuery = {}): Promise<StoredLedgerEntry[]> {
    return this.#run('readLedger', async () => {
      const { after, limit } = resolveLedgerQuery(query);
      const members = await this.#redis.zrangebyscore(
        this.#keys.ledger,
        `(${after}`,
        '+inf',
        'LIMIT',
        0,
        limit,
      );
      return members.map((member) => this.#ledgerEntry(member));
    });
  }

  /** Replaces the entries up to `throughSeq` by `checkpoint` (which keeps that `seq`), at once. */
  async compactLedger(throughSeq: number, checkpoint: LedgerEntry): Promise<void> {
    await this.#run('compactLedger', async () => {
      checkThroughSeq(throughSeq);
      checkLedgerEntry(checkpoint, 'checkpoint');
      const body = ledgerJson(checkpoint, 'checkpoint.event');
      const done = await this.#redis.aitqCompact(
        this.#keys.prefix,
        this.#token,
        String(throughSeq),
        body,
      );
      if (done < 0) throw this.#lostLease('compactLedger');
      if (done === 0) throw noLedgerEntry(throughSeq);
    });
  }

  /**
   * Gives the lease up and closes the connection. Later calls reject with a `StoreError` of
   * reason `closed`; closing again resolves.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#renewal);
    try {
      await this.#redis.aitqRelease(this.#keys.prefix, this.#token);
    } catch {
      // The lease runs out by itself; closing is what matters.
    }
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  /** Checks `write`, runs the commit script, and turns its conflict replies into errors. */
  async #write(operation: string, write: StoreWrite): Promise<number> {
    return this.#run(operation, async () => {
      checkWrite(write);
      this.#writes += 1;
      const args = commitArgs(
        this.#keys.prefix,
        this.#token,
        `${this.#token}:${this.#writes}`,
        write,
      );
      if (this.#lost) throw this.#lostLease(operation);
      const reply = await this.#redis.aitqCommit(...args);
      const [kind, ...rest] = reply;
      switch (kind) {
        case 'ok':
          return Number(rest[0]);
        case 'dupid':
          throw duplicateIdError(String(rest[0]), false);
        case 'dupkey':
          throw duplicateKeyError(String(rest[1]), String(rest[0]), String(rest[2]), false);
        case 'notfound':
          throw new TaskNotFoundError(String(rest[0]));
        default:
          throw this.#lostLease(operation);
      }
    });
  }

  /**
   * The first `want` rows after `start` of each index, filtered, merged in member order. Each
   * index is read by one script (a consistent page of it).
   */
  async #pages(
    sources: readonly string[],
    start: string,
    want: number,
    idOffset: number,
    filters: readonly string[],
  ): Promise<IndexedBody[]> {
    const rows: IndexedBody[] = [];
    for (const source of sources) {
      const flat = await this.#redis.aitqPage(
        this.#keys.prefix,
        source,
        start,
        String(want),
        String(idOffset),
        ...filters,
      );
      for (let i = 0; i + 1 < flat.length; i += 2) {
        rows.push({ member: flat[i] as string, body: flat[i + 1] as string });
      }
    }
    if (sources.length > 1) rows.sort((a, b) => compareBytes(a.member, b.member));
    return rows.slice(0, want);
  }

  #ledgerEntry(member: string): StoredLedgerEntry {
    const colon = member.indexOf(':');
    const seq = Number(member.slice(0, colon));
    const { at, taskId, event } = this.#parse(member.slice(colon + 1)) as unknown as LedgerEntry;
    return taskId === undefined ? { seq, at, event } : { seq, at, taskId, event };
  }

  /** Renews the lease; notes when another process has taken the store over. */
  #renew(leaseMs: number): void {
    if (this.#closed) return;
    this.#redis.aitqRenew(this.#keys.prefix, this.#token, String(leaseMs)).then(
      (held) => {
        if (held === 0) this.#lost = true;
      },
      // A failed renewal (a blip) is tried again at the next tick; writes check the lease anyway.
      () => undefined,
    );
  }

  #lostLease(operation: string): StoreError {
    this.#lost = true;
    return leaseLostError(this.location, operation);
  }

  /** Runs `work` on the open store, turning Redis's errors into the library's. */
  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(this.location, operation);
    try {
      return await work();
    } catch (error) {
      throw toRedisStoreError(error, this.location, operation);
    }
  }

  #parse(body: string): TaskRecord {
    try {
      return JSON.parse(body) as TaskRecord;
    } catch (error) {
      throw new StoreError(
        `the Redis task store at ${this.location} holds a value that is not JSON; the data under the prefix is damaged`,
        'corrupt',
        this.location,
        { cause: error },
      );
    }
  }
}
