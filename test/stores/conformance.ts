import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  PRIORITIES_HIGH_FIRST,
  TASK_STATUSES,
  type TaskStatus,
  TERMINAL_STATUSES,
  zeroStatusCounts,
} from '../../machines/task-status.js';
import { TaskNotFoundError, TaskQueueError, ValidationError } from '../../src/errors.js';
import type {
  LedgerEntry,
  StoredLedgerEntry,
  StoreWrite,
  TaskQuery,
  TaskRecord,
  TaskStore,
  WaitingQuery,
} from '../../src/stores/types.js';
import { makeRecord } from './records.js';

export { makeRecord };

/** A record with every optional field set, nested data, a result, an error, a snapshot and history. */
function makeFullRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  const base = makeRecord();
  return makeRecord({
    id: `full-${base.seq}`,
    seq: base.seq,
    type: 'summarize',
    priority: 'HIGH',
    status: 'completed',
    data: {
      text: 'Grüße, 世界 👋 "quoted" \\ back\nslash',
      nested: { list: [1, 'two', { three: 3 }, null, true, false, 0], empty: {}, none: null },
      deep: { a: { b: { c: [[], [1.5, -2]] } } },
    },
    metadata: { tenant: 'acme', tags: ['x', 'y'], nested: { flag: false, nothing: null } },
    config: {
      maxRetries: 5,
      retryDelay: 2,
      maxRetryDelay: 60,
      maxRateLimitRetries: 7,
      timeout: 30,
      deadline: 600,
      estimatedTokens: 1_234,
      maxTokens: 512,
      model: 'gpt-4o-mini',
    },
    reservation: {
      model: 'gpt-4o-mini',
      promptTokens: 1_234,
      maxTokens: 512,
      worstCaseMicros: 98_765,
      limited: false,
    },
    parentId: 'parent-1',
    createdAt: 1_700_000_000_000,
    startedAt: 1_700_000_000_500,
    completedAt: 1_700_000_009_000,
    attempts: 3,
    notBefore: 1_700_000_004_000,
    usage: { promptTokens: 3_702, completionTokens: 800, estimated: true, calls: 4 },
    costMicros: 4_321,
    result: { summary: 'short', scores: [0.25, 0.75], sources: [{ url: 'https://x.test/a?b=c' }] },
    error: {
      name: 'ProviderError',
      code: 'PROVIDER_ERROR',
      message: 'rate limited',
      retryable: true,
      status: 429,
      retryAfterMs: 1_500,
    },
    snapshot: {
      status: 'done',
      value: 'completed',
      context: { attempts: 3, lastError: { code: 'PROVIDER_ERROR' }, notBefore: null },
      historyValue: {},
      children: {},
    },
    history: [
      { status: 'queued', at: 1_700_000_000_000 },
      { status: 'running', at: 1_700_000_000_500 },
      { status: 'retrying', at: 1_700_000_001_000, reason: 'PROVIDER_ERROR' },
      { status: 'running', at: 1_700_000_004_000 },
      { status: 'completed', at: 1_700_000_009_000 },
    ],
    ...overrides,
  });
}

/** Resolves with the rejection reason of `promise`; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** Every record a query matches, following `nextCursor` page by page. */
async function listAll(store: TaskStore, query: TaskQuery = {}): Promise<TaskRecord[]> {
  const all: TaskRecord[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const page = await store.list(cursor === undefined ? query : { ...query, cursor });
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
  throw new Error('list never returned a last page');
}

function idsOf(records: readonly TaskRecord[]): string[] {
  return records.map((r) => r.id);
}

const zeroCounts = zeroStatusCounts;

function countsOf(records: readonly TaskRecord[]): Record<TaskStatus, number> {
  const counts = zeroCounts();
  for (const r of records) counts[r.status] += 1;
  return counts;
}

/** List order: `seq` ascending, `id` for equal `seq`. */
function inListOrder(records: readonly TaskRecord[]): TaskRecord[] {
  return [...records].sort((a, b) =>
    a.seq !== b.seq ? a.seq - b.seq : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
}

/** Admission order: priority (URGENT first), then `seq`, then `id`. */
function inAdmissionOrder(records: readonly TaskRecord[]): TaskRecord[] {
  const rank = (r: TaskRecord) => PRIORITIES_HIGH_FIRST.indexOf(r.priority);
  return [...records].sort((a, b) =>
    rank(a) !== rank(b)
      ? rank(a) - rank(b)
      : a.seq !== b.seq
        ? a.seq - b.seq
        : a.id < b.id
          ? -1
          : a.id > b.id
            ? 1
            : 0,
  );
}

/** Every record `listWaiting` gives for a query, following `nextCursor` page by page. */
async function listAllWaiting(store: TaskStore, query: WaitingQuery = {}): Promise<TaskRecord[]> {
  const all: TaskRecord[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const page = await store.listWaiting(cursor === undefined ? query : { ...query, cursor });
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
  throw new Error('listWaiting never returned a last page');
}

/** The whole ledger, read `limit` entries at a time. */
async function readWholeLedger(store: TaskStore, limit = 1000): Promise<StoredLedgerEntry[]> {
  const all: StoredLedgerEntry[] = [];
  let after = 0;
  for (let reads = 0; reads < 10_000; reads += 1) {
    const page = await store.readLedger({ after, limit });
    all.push(...page);
    const last = page[page.length - 1];
    if (page.length < limit || last === undefined) return all;
    after = last.seq;
  }
  throw new Error('readLedger never came to an end');
}

/** Everything a store shows, copied: to check that a rejected write changed nothing. */
async function stateOf(store: TaskStore, keys: readonly string[]): Promise<unknown> {
  return structuredClone({
    tasks: await listAll(store),
    counts: await store.countByStatus(),
    waiting: await listAllWaiting(store, { statuses: [...TASK_STATUSES] }),
    keys: await store.findByIdempotencyKeys(keys),
    lastSeq: await store.lastSeq(),
    ledger: await readWholeLedger(store),
  });
}

/** A ledger entry as a store gives it back. */
function stored(seq: number, entry: LedgerEntry): StoredLedgerEntry {
  return entry.taskId === undefined
    ? { seq, at: entry.at, event: entry.event }
    : { seq, at: entry.at, taskId: entry.taskId, event: entry.event };
}

const KEY_POOL = ['key-0', 'key-1', 'key-2', 'key-3', 'key-4'];

type Op =
  | {
      kind: 'insert';
      count: number;
      status: TaskStatus;
      type: string;
      priority: TaskRecord['priority'];
      withDuplicate: boolean;
      /** An idempotency key (from {@link KEY_POOL}) for the first record, if not `null`. */
      key: number | null;
    }
  | { kind: 'update'; pick: number; status: TaskStatus; at: number }
  | {
      kind: 'commit';
      inserts: number;
      key: number | null;
      priority: TaskRecord['priority'];
      updates: number[];
      status: TaskStatus;
      at: number;
      removes: number[];
      ledger: number;
      ghost: boolean;
    }
  | { kind: 'remove'; picks: number[]; unknown: boolean }
  | { kind: 'sweep'; before: number };

const statusArb = fc.constantFrom(...TASK_STATUSES);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      count: fc.integer({ min: 1, max: 4 }),
      status: statusArb,
      type: fc.constantFrom('alpha', 'beta'),
      priority: fc.constantFrom(...PRIORITIES_HIGH_FIRST),
      withDuplicate: fc.boolean(),
      key: fc.option(fc.integer({ min: 0, max: KEY_POOL.length - 1 }), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      inserts: fc.integer({ min: 0, max: 2 }),
      key: fc.option(fc.integer({ min: 0, max: KEY_POOL.length - 1 }), { nil: null }),
      priority: fc.constantFrom(...PRIORITIES_HIGH_FIRST),
      updates: fc.array(fc.nat(), { maxLength: 2 }),
      status: statusArb,
      at: fc.integer({ min: 0, max: 100 }),
      removes: fc.array(fc.nat(), { maxLength: 2 }),
      ledger: fc.integer({ min: 0, max: 2 }),
      // One commit in five names a task that does not exist.
      ghost: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      pick: fc.nat(),
      status: statusArb,
      at: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('remove' as const),
      picks: fc.array(fc.nat(), { maxLength: 3 }),
      unknown: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('sweep' as const),
      before: fc.integer({ min: 0, max: 120 }),
    }),
  },
);

/**
 * The contract tests every {@link TaskStore} must pass. Each test gets a fresh store from
 * `factory` and hands it to `cleanup` afterwards (default: `store.close()`, which must resolve on
 * a store that is already closed). The tests compare fresh `get`/`list` results with `toEqual`
 * and never rely on object identity, so stores that serialise records pass them too.
 */
export function describeTaskStore(
  name: string,
  factory: () => Promise<TaskStore> | TaskStore,
  cleanup?: (store: TaskStore) => Promise<void>,
): void {
  const dispose = cleanup ?? ((store: TaskStore) => store.close());

  describe(`TaskStore conformance: ${name}`, () => {
    let store: TaskStore;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await dispose(store);
    });

    it('has a name', () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
    });

    describe('insert and get', () => {
      it('round-trips a record with every optional field', async () => {
        const record = makeFullRecord();
        const expected = structuredClone(record);
        await store.insert([record]);
        expect(await store.get(record.id)).toEqual(expected);
        expect(record).toEqual(expected);
      });

      it('round-trips a minimal record without inventing optional fields', async () => {
        const record = makeRecord();
        const expected = structuredClone(record);
        await store.insert([record]);
        const got = await store.get(record.id);
        expect(got).toEqual(expected);
        expect(got?.history).toBeUndefined();
        expect(got?.snapshot).toBeUndefined();
        expect(got?.result).toBeUndefined();
        expect(got?.error).toBeUndefined();
      });

      it('round-trips scalar and null data and results', async () => {
        const records = [
          makeRecord({ data: 'plain text', result: 42 }),
          makeRecord({ data: null, result: null }),
          makeRecord({ data: 0, result: false }),
          makeRecord({ data: [1, [2, [3]]], result: '' }),
        ];
        const expected = structuredClone(records);
        await store.insert(records);
        for (const [index, record] of records.entries()) {
          expect(await store.get(record.id)).toEqual(expected[index]);
        }
      });

      it('resolves undefined for an unknown id', async () => {
        await store.insert([makeRecord()]);
        expect(await store.get('no-such-task')).toBeUndefined();
      });

      it('accepts an empty batch', async () => {
        await store.insert([]);
        expect(await store.countByStatus()).toEqual(zeroCounts());
      });

      it('inserts a batch, every record readable', async () => {
        const records = [makeRecord(), makeRecord({ status: 'paused' }), makeRecord()];
        const expected = structuredClone(records);
        await store.insert(records);
        for (const [index, record] of records.entries()) {
          expect(await store.get(record.id)).toEqual(expected[index]);
        }
      });

      it('rejects a batch holding a stored id with ValidationError, inserting nothing', async () => {
        const existing = makeRecord({ id: 'dup-existing', data: { original: true } });
        await store.insert([existing]);
        const fresh1 = makeRecord();
        const fresh2 = makeRecord();
        const error = await rejectionOf(
          store.insert([fresh1, makeRecord({ id: 'dup-existing', data: { copy: true } }), fresh2]),
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message).toContain('dup-existing');
        expect(await store.get(fresh1.id)).toBeUndefined();
        expect(await store.get(fresh2.id)).toBeUndefined();
        expect((await store.get('dup-existing'))?.data).toEqual({ original: true });
        expect((await store.countByStatus()).queued).toBe(1);
      });

      it('rejects a batch with the same id twice with ValidationError, inserting nothing', async () => {
        const first = makeRecord();
        const twice = makeRecord({ id: 'dup-in-batch' });
        const error = await rejectionOf(
          store.insert([first, twice, makeRecord({ id: 'dup-in-batch' })]),
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message).toContain('dup-in-batch');
        expect(await store.get(first.id)).toBeUndefined();
        expect(await store.get('dup-in-batch')).toBeUndefined();
        expect(await store.list()).toEqual({ items: [], nextCursor: null });
      });
    });

    describe('update', () => {
      it('replaces the stored record', async () => {
        const record = makeRecord();
        await store.insert([record]);
        const changed = makeFullRecord({ id: record.id, seq: record.seq, status: 'failed' });
        const expected = structuredClone(changed);
        await store.update(changed);
        expect(await store.get(record.id)).toEqual(expected);
        const cleared = makeRecord({ id: record.id, seq: record.seq, status: 'queued' });
        await store.update(cleared);
        expect(await store.get(record.id)).toEqual(structuredClone(cleared));
      });

      it('rejects an unknown id with TaskNotFoundError and creates nothing', async () => {
        const error = await rejectionOf(store.update(makeRecord({ id: 'ghost' })));
        expect(error).toBeInstanceOf(TaskNotFoundError);
        expect((error as TaskNotFoundError).message).toContain('ghost');
        expect(await store.get('ghost')).toBeUndefined();
      });

      it('keeps the record in its place in list order', async () => {
        const records = [makeRecord(), makeRecord(), makeRecord()];
        await store.insert(records);
        const [first] = records;
        if (first === undefined) throw new Error('unreachable');
        await store.update({ ...first, status: 'running', attempts: 1, startedAt: 5 });
        expect(idsOf((await store.list()).items)).toEqual(idsOf(records));
      });
    });

    describe('list', () => {
      it('is empty on an empty store', async () => {
        expect(await store.list()).toEqual({ items: [], nextCursor: null });
      });

      it('lists in submission order (seq ascending), whatever the insertion order', async () => {
        const bySeq = (seq: number) => makeRecord({ id: `order-${seq}`, seq: 10_000 + seq });
        await store.insert([bySeq(5), bySeq(1), bySeq(3)]);
        await store.insert([bySeq(2), bySeq(4)]);
        const expected = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5'];
        expect(idsOf((await store.list()).items)).toEqual(expected);
        expect(idsOf(await listAll(store, { limit: 2 }))).toEqual(expected);
      });

      it('orders equal seq by id and pages through them without loss', async () => {
        const records = ['tie-c', 'tie-a', 'tie-b'].map((id) => makeRecord({ id, seq: 7 }));
        await store.insert([makeRecord({ id: 'tie-0', seq: 6 }), ...records]);
        await store.insert([makeRecord({ id: 'tie-z', seq: 8 })]);
        const expected = ['tie-0', 'tie-a', 'tie-b', 'tie-c', 'tie-z'];
        expect(idsOf((await store.list()).items)).toEqual(expected);
        expect(idsOf(await listAll(store, { limit: 1 }))).toEqual(expected);
      });

      it('filters by one status, several statuses, taskType and priority', async () => {
        const records = [
          makeRecord({ status: 'queued', type: 'a', priority: 'LOW' }),
          makeRecord({ status: 'running', type: 'b', priority: 'HIGH' }),
          makeRecord({ status: 'completed', type: 'a', priority: 'HIGH' }),
          makeRecord({ status: 'queued', type: 'b', priority: 'URGENT' }),
          makeRecord({ status: 'failed', type: 'a', priority: 'HIGH' }),
          makeRecord({ status: 'paused', type: 'a', priority: 'MEDIUM' }),
        ];
        await store.insert(records);
        const pick = (...indexes: number[]) => indexes.map((i) => records[i]?.id);
        const ids = async (query: TaskQuery) => idsOf((await store.list(query)).items);

        expect(await ids({ status: 'queued' })).toEqual(pick(0, 3));
        expect(await ids({ status: ['completed', 'failed'] })).toEqual(pick(2, 4));
        expect(await ids({ status: ['running'] })).toEqual(pick(1));
        expect(await ids({ status: 'cancelled' })).toEqual([]);
        expect(await ids({ status: [] })).toEqual([]);
        expect(await ids({ taskType: 'a' })).toEqual(pick(0, 2, 4, 5));
        expect(await ids({ taskType: 'none' })).toEqual([]);
        expect(await ids({ priority: 'HIGH' })).toEqual(pick(1, 2, 4));
        expect(await ids({ taskType: 'a', priority: 'HIGH' })).toEqual(pick(2, 4));
        expect(await ids({ status: ['queued', 'failed'], taskType: 'a' })).toEqual(pick(0, 4));
        expect(await ids({ status: 'queued', taskType: 'b', priority: 'URGENT' })).toEqual(pick(3));
        expect(await ids({})).toEqual(pick(0, 1, 2, 3, 4, 5));
      });

      describe('paging over 250 records', () => {
        let records: TaskRecord[];

        beforeEach(async () => {
          records = Array.from({ length: 250 }, (_, i) =>
            makeRecord({ status: i % 3 === 0 ? 'completed' : 'queued' }),
          );
          await store.insert(records);
        });

        it('returns 100 per page by default', async () => {
          const page = await store.list();
          expect(idsOf(page.items)).toEqual(idsOf(records.slice(0, 100)));
          expect(page.nextCursor).toEqual(expect.any(String));
        });

        it('pages 100 + 100 + 50 and ends with a null cursor', async () => {
          const first = await store.list({ limit: 100 });
          expect(first.items).toHaveLength(100);
          expect(first.nextCursor).not.toBeNull();
          const second = await store.list({ limit: 100, cursor: first.nextCursor ?? '' });
          expect(second.items).toHaveLength(100);
          expect(second.nextCursor).not.toBeNull();
          const third = await store.list({ limit: 100, cursor: second.nextCursor ?? '' });
          expect(third.items).toHaveLength(50);
          expect(third.nextCursor).toBeNull();
          expect(idsOf([...first.items, ...second.items, ...third.items])).toEqual(idsOf(records));
        });

        it('gives a null cursor when the last page is exactly full', async () => {
          const first = await store.list({ limit: 125 });
          const second = await store.list({ limit: 125, cursor: first.nextCursor ?? '' });
          expect(second.items).toHaveLength(125);
          expect(second.nextCursor).toBeNull();
        });

        it('returns everything in one page of the maximum limit (1000)', async () => {
          const page = await store.list({ limit: 1000 });
          expect(idsOf(page.items)).toEqual(idsOf(records));
          expect(page.nextCursor).toBeNull();
        });

        it('pages with any limit and a filter', async () => {
          expect(idsOf(await listAll(store, { limit: 7 }))).toEqual(idsOf(records));
          expect(idsOf(await listAll(store, { limit: 1 }))).toEqual(idsOf(records));
          const completed = records.filter((r) => r.status === 'completed');
          expect(idsOf(await listAll(store, { status: 'completed', limit: 30 }))).toEqual(
            idsOf(completed),
          );
          expect(await listAll(store, { status: 'completed', limit: 30 })).toEqual(
            structuredClone(completed),
          );
        });

        it('stays stable when tasks are inserted between pages', async () => {
          const first = await store.list({ limit: 100 });
          const added = [makeRecord(), makeRecord()];
          await store.insert(added);
          const rest = await listAll(store, { limit: 100, cursor: first.nextCursor ?? '' });
          expect(idsOf([...first.items, ...rest])).toEqual(idsOf([...records, ...added]));
        });

        it('stays stable when listed and unlisted tasks are removed between pages', async () => {
          const first = await store.list({ limit: 100 });
          const listedGone = records.slice(10, 100).map((r) => r.id);
          const unlistedGone = [records[100]?.id ?? '', records[150]?.id ?? ''];
          await store.remove([...listedGone, ...unlistedGone]);
          const rest = await listAll(store, { limit: 100, cursor: first.nextCursor ?? '' });
          const expectedRest = records
            .slice(100)
            .filter((r) => !unlistedGone.includes(r.id))
            .map((r) => r.id);
          expect(idsOf(first.items)).toEqual(idsOf(records.slice(0, 100)));
          expect(idsOf(rest)).toEqual(expectedRest);
        });

        it('continues after the cursor even when the record it points at is gone', async () => {
          const first = await store.list({ limit: 60 });
          const last = first.items[first.items.length - 1];
          await store.remove([last?.id ?? '']);
          const second = await store.list({ limit: 60, cursor: first.nextCursor ?? '' });
          expect(idsOf(second.items)).toEqual(idsOf(records.slice(60, 120)));
        });
      });

      it('rejects a malformed cursor with ValidationError naming cursor', async () => {
        await store.insert([makeRecord(), makeRecord()]);
        const valid = (await store.list({ limit: 1 })).nextCursor ?? '';
        const bad = [
          '',
          'not-a-cursor',
          '!!!',
          '{"seq":1}',
          Buffer.from('{"seq":1}').toString('base64url'),
          `${valid}x`,
          valid.slice(0, -2),
        ];
        for (const cursor of bad) {
          const error = await rejectionOf(store.list({ cursor }));
          expect(error, `cursor ${JSON.stringify(cursor)}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain('cursor');
        }
      });

      it('rejects a bad limit with ValidationError naming limit and the value', async () => {
        for (const limit of [0, -1, 1001, 5000, 1.5, Number.NaN]) {
          const error = await rejectionOf(store.list({ limit }));
          expect(error, `limit ${limit}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain('limit');
          expect((error as ValidationError).message).toContain(String(limit));
        }
      });
    });

    describe('countByStatus', () => {
      it('reports all seven statuses, zeros included', async () => {
        const counts = await store.countByStatus();
        expect(Object.keys(counts).sort()).toEqual([...TASK_STATUSES].sort());
        expect(counts).toEqual(zeroCounts());
      });

      it('follows inserts, updates and removes', async () => {
        const records = [
          makeRecord({ status: 'queued' }),
          makeRecord({ status: 'queued' }),
          makeRecord({ status: 'running' }),
          makeRecord({ status: 'cancelled' }),
        ];
        await store.insert(records);
        expect(await store.countByStatus()).toEqual({
          ...zeroCounts(),
          queued: 2,
          running: 1,
          cancelled: 1,
        });
        const [a, , c] = records;
        if (a === undefined || c === undefined) throw new Error('unreachable');
        await store.update({ ...a, status: 'paused' });
        await store.update({ ...c, status: 'completed', completedAt: 9 });
        expect(await store.countByStatus()).toEqual({
          ...zeroCounts(),
          queued: 1,
          paused: 1,
          completed: 1,
          cancelled: 1,
        });
        await store.remove([a.id]);
        expect(await store.countByStatus()).toEqual({
          ...zeroCounts(),
          queued: 1,
          completed: 1,
          cancelled: 1,
        });
      });
    });

    describe('remove', () => {
      it('removes the given tasks and resolves with how many existed', async () => {
        const records = [makeRecord(), makeRecord(), makeRecord()];
        await store.insert(records);
        const [a, b, c] = idsOf(records);
        if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable');
        expect(await store.remove([a, 'unknown', c, a])).toBe(2);
        expect(await store.get(a)).toBeUndefined();
        expect(await store.get(c)).toBeUndefined();
        expect(await store.get(b)).toEqual(structuredClone(records[1]));
        expect(await store.remove([a])).toBe(0);
        expect(await store.remove([])).toBe(0);
        expect(idsOf((await store.list()).items)).toEqual([b]);
      });

      it('lets a removed id be inserted again', async () => {
        const record = makeRecord();
        await store.insert([record]);
        await store.remove([record.id]);
        const again = makeRecord({ id: record.id, status: 'paused' });
        await store.insert([again]);
        expect(await store.get(record.id)).toEqual(structuredClone(again));
      });
    });

    describe('removeFinishedBefore', () => {
      it('removes completed, failed and cancelled tasks that ended before the time', async () => {
        const records = {
          completedEarly: makeRecord({ status: 'completed', completedAt: 100 }),
          failedEarly: makeRecord({ status: 'failed', completedAt: 150 }),
          cancelledEarly: makeRecord({ status: 'cancelled', completedAt: 199 }),
          completedAtBoundary: makeRecord({ status: 'completed', completedAt: 200 }),
          failedLate: makeRecord({ status: 'failed', completedAt: 300 }),
          finishedWithoutTime: makeRecord({ status: 'cancelled' }),
          queued: makeRecord({ status: 'queued' }),
          running: makeRecord({ status: 'running', startedAt: 50 }),
          retrying: makeRecord({ status: 'retrying', completedAt: 10 }),
          paused: makeRecord({ status: 'paused', completedAt: 10 }),
        };
        await store.insert(Object.values(records));
        expect(await store.removeFinishedBefore(200)).toBe(3);
        const kept = idsOf((await store.list()).items);
        expect(kept).toEqual(
          idsOf([
            records.completedAtBoundary,
            records.failedLate,
            records.finishedWithoutTime,
            records.queued,
            records.running,
            records.retrying,
            records.paused,
          ]),
        );
        expect(await store.removeFinishedBefore(200)).toBe(0);
        expect(await store.removeFinishedBefore(Number.POSITIVE_INFINITY)).toBe(2);
        expect((await store.countByStatus()).completed).toBe(0);
        expect((await store.countByStatus()).failed).toBe(0);
      });
    });

    it('says whether it is durable', () => {
      expect(typeof store.durable).toBe('boolean');
    });

    describe('commit', () => {
      it('applies inserts, updates, removes and ledger entries together', async () => {
        const a = makeRecord();
        const b = makeRecord();
        await store.insert([a, b]);
        const c = makeRecord();
        const d = makeRecord({ idempotencyKey: 'commit-d', priority: 'HIGH' });
        const changedA: TaskRecord = { ...a, status: 'running', attempts: 1, startedAt: 5 };
        const ledger: LedgerEntry[] = [
          {
            at: 10,
            taskId: a.id,
            event: { type: 'budget.hold', amount: 5, nested: [1, { x: null }] },
          },
          { at: 11, event: { type: 'tick' } },
        ];
        await store.commit({ insert: [c, d], update: [changedA], remove: [b.id], ledger });
        expect(await listAll(store)).toEqual(structuredClone([changedA, c, d]));
        expect(await store.get(b.id)).toBeUndefined();
        expect(await store.findByIdempotencyKeys(['commit-d'])).toEqual(
          new Map([['commit-d', d.id]]),
        );
        expect(await store.readLedger()).toEqual([
          stored(1, ledger[0] as LedgerEntry),
          stored(2, ledger[1] as LedgerEntry),
        ]);
        expect(await store.countByStatus()).toEqual({ ...zeroCounts(), queued: 2, running: 1 });
      });

      it('applies them in order: a task inserted may be updated and removed by the same write', async () => {
        const x = makeRecord();
        const y = makeRecord({ idempotencyKey: 'gone-at-once' });
        const pausedX: TaskRecord = { ...x, status: 'paused' };
        await store.commit({ insert: [x, y], update: [pausedX], remove: [y.id] });
        expect(await listAll(store)).toEqual(structuredClone([pausedX]));
        expect(await store.findByIdempotencyKeys(['gone-at-once'])).toEqual(new Map());
      });

      it('accepts an empty write, and one of empty lists, changing nothing', async () => {
        const record = makeRecord();
        await store.insert([record]);
        const before = await stateOf(store, []);
        await store.commit({});
        await store.commit({ insert: [], update: [], remove: [], ledger: [] });
        expect(await stateOf(store, [])).toEqual(before);
      });

      it('counts removes of unknown ids as nothing', async () => {
        const record = makeRecord();
        await store.insert([record]);
        await store.commit({ remove: ['never-there', record.id, record.id] });
        expect(await listAll(store)).toEqual([]);
      });

      it('rejects a write that clashes with the store or itself, changing nothing', async () => {
        const held = makeRecord({ idempotencyKey: 'held-key' });
        const other = makeRecord();
        await store.commit({ insert: [held, other], ledger: [{ at: 1, event: { n: 1 } }] });
        const keys = ['held-key', 'fresh-key', 'other-key'];
        const before = await stateOf(store, keys);
        const fresh = () => makeRecord({ idempotencyKey: 'fresh-key' });
        // Each write also carries parts that would succeed alone.
        const alongside = (): StoreWrite => ({
          update: [{ ...other, status: 'paused', idempotencyKey: 'other-key' }],
          remove: [held.id],
          ledger: [{ at: 2, event: { n: 2 } }],
        });
        const cases: Array<
          [string, StoreWrite, typeof ValidationError | typeof TaskNotFoundError, string]
        > = [
          [
            'a stored id',
            { ...alongside(), insert: [fresh(), makeRecord({ id: other.id })] },
            ValidationError,
            other.id,
          ],
          [
            'an id twice',
            { ...alongside(), insert: [makeRecord({ id: 'twice' }), makeRecord({ id: 'twice' })] },
            ValidationError,
            'twice',
          ],
          [
            'a stored key',
            { ...alongside(), insert: [makeRecord({ idempotencyKey: 'held-key' })] },
            ValidationError,
            'held-key',
          ],
          [
            'a key twice',
            { ...alongside(), insert: [fresh(), makeRecord(), fresh()] },
            ValidationError,
            'fresh-key',
          ],
          [
            'an unknown task to update',
            { ...alongside(), insert: [fresh()], update: [makeRecord({ id: 'ghost' })] },
            TaskNotFoundError,
            'ghost',
          ],
          [
            'an update that takes a held key',
            {
              ...alongside(),
              insert: [fresh()],
              update: [{ ...other, idempotencyKey: 'held-key' }],
            },
            ValidationError,
            'held-key',
          ],
          [
            'an update that takes a key inserted by the same write',
            {
              ...alongside(),
              insert: [fresh()],
              update: [{ ...other, idempotencyKey: 'fresh-key' }],
            },
            ValidationError,
            'fresh-key',
          ],
          [
            'a ledger entry without a time',
            { ...alongside(), insert: [fresh()], ledger: [{ at: Number.NaN, event: {} }] },
            ValidationError,
            'at',
          ],
          [
            'a record with a seq that is not finite',
            { ...alongside(), insert: [fresh(), makeRecord({ seq: Number.POSITIVE_INFINITY })] },
            ValidationError,
            'seq',
          ],
        ];
        for (const [what, write, type, named] of cases) {
          const error = await rejectionOf(store.commit(write));
          expect(error, what).toBeInstanceOf(type);
          expect((error as Error).message, what).toContain(named);
          expect(await stateOf(store, keys), what).toEqual(before);
        }
        // Rejected writes used no ledger numbers.
        await store.commit({ ledger: [{ at: 3, event: { n: 3 } }] });
        expect((await store.readLedger({ after: 1 })).map((e) => e.seq)).toEqual([2]);
      });
    });

    describe('idempotency keys', () => {
      it('round-trips the key and finds tasks by their keys', async () => {
        const a = makeRecord({ idempotencyKey: 'k-a' });
        const b = makeRecord({ idempotencyKey: 'k-b' });
        const plain = makeRecord();
        await store.insert([a, b, plain]);
        expect((await store.get(a.id))?.idempotencyKey).toBe('k-a');
        expect(await store.findByIdempotencyKeys(['k-b', 'unknown', 'k-a', 'k-a'])).toEqual(
          new Map([
            ['k-b', b.id],
            ['k-a', a.id],
          ]),
        );
        expect(await store.findByIdempotencyKeys([])).toEqual(new Map());
        expect(await store.findByIdempotencyKeys(['unknown'])).toEqual(new Map());
      });

      it('rejects an insert whose key a stored task holds, naming the key, inserting nothing', async () => {
        const a = makeRecord({ idempotencyKey: 'taken' });
        await store.insert([a]);
        const fresh = makeRecord();
        const error = await rejectionOf(
          store.insert([fresh, makeRecord({ idempotencyKey: 'taken' })]),
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message).toContain('taken');
        expect(await store.get(fresh.id)).toBeUndefined();
        expect(await store.findByIdempotencyKeys(['taken'])).toEqual(new Map([['taken', a.id]]));
      });

      it('frees the key of a task that is removed, however it is removed', async () => {
        const byRemove = makeRecord({ idempotencyKey: 'by-remove' });
        const byCommit = makeRecord({ idempotencyKey: 'by-commit' });
        const bySweep = makeRecord({
          idempotencyKey: 'by-sweep',
          status: 'completed',
          completedAt: 10,
        });
        await store.insert([byRemove, byCommit, bySweep]);
        await store.remove([byRemove.id]);
        await store.commit({ remove: [byCommit.id] });
        expect(await store.removeFinishedBefore(20)).toBe(1);
        const keys = ['by-remove', 'by-commit', 'by-sweep'];
        expect(await store.findByIdempotencyKeys(keys)).toEqual(new Map());
        const again = keys.map((idempotencyKey) => makeRecord({ idempotencyKey }));
        await store.insert(again);
        expect(await store.findByIdempotencyKeys(keys)).toEqual(
          new Map(again.map((r) => [r.idempotencyKey ?? '', r.id])),
        );
      });

      it('follows an update that keeps, changes or drops the key', async () => {
        const a = makeRecord({ idempotencyKey: 'first' });
        await store.insert([a]);
        await store.update({ ...a, status: 'running' });
        expect(await store.findByIdempotencyKeys(['first'])).toEqual(new Map([['first', a.id]]));
        await store.update({ ...a, idempotencyKey: 'second' });
        expect(await store.findByIdempotencyKeys(['first', 'second'])).toEqual(
          new Map([['second', a.id]]),
        );
        const b = makeRecord({ idempotencyKey: 'first' });
        await store.insert([b]);
        await store.update({ ...a, idempotencyKey: undefined });
        expect(await store.findByIdempotencyKeys(['first', 'second'])).toEqual(
          new Map([['first', b.id]]),
        );
        expect((await store.get(a.id))?.idempotencyKey).toBeUndefined();
      });

      it('rejects an update that takes the key of another task, changing nothing', async () => {
        const a = makeRecord({ idempotencyKey: 'mine' });
        const b = makeRecord({ idempotencyKey: 'yours' });
        await store.insert([a, b]);
        const error = await rejectionOf(
          store.update({ ...b, status: 'paused', idempotencyKey: 'mine' }),
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message).toContain('mine');
        expect(await store.get(b.id)).toEqual(structuredClone(b));
        expect(await store.findByIdempotencyKeys(['mine', 'yours'])).toEqual(
          new Map([
            ['mine', a.id],
            ['yours', b.id],
          ]),
        );
      });

      it('lets one write move a key from one task to another, in order', async () => {
        const a = makeRecord({ idempotencyKey: 'moving' });
        const b = makeRecord();
        await store.insert([a, b]);
        await store.commit({
          update: [
            { ...a, idempotencyKey: undefined },
            { ...b, idempotencyKey: 'moving' },
          ],
        });
        expect(await store.findByIdempotencyKeys(['moving'])).toEqual(new Map([['moving', b.id]]));
      });
    });

    describe('listWaiting', () => {
      it('lists queued and retrying tasks by default, in admission order', async () => {
        const records = [
          makeRecord({ id: 'w-low', priority: 'LOW' }),
          makeRecord({ id: 'w-run', priority: 'URGENT', status: 'running' }),
          makeRecord({ id: 'w-med-1', priority: 'MEDIUM' }),
          makeRecord({ id: 'w-urgent', priority: 'URGENT', status: 'retrying' }),
          makeRecord({ id: 'w-paused', priority: 'HIGH', status: 'paused' }),
          makeRecord({ id: 'w-high', priority: 'HIGH' }),
          makeRecord({ id: 'w-done', priority: 'HIGH', status: 'completed', completedAt: 1 }),
          makeRecord({ id: 'w-med-2', priority: 'MEDIUM', status: 'retrying' }),
          makeRecord({ id: 'w-tie-b', priority: 'MEDIUM', seq: 1 }),
          makeRecord({ id: 'w-tie-a', priority: 'MEDIUM', seq: 1 }),
        ];
        await store.insert(records);
        const expected = [
          'w-urgent',
          'w-high',
          'w-tie-a',
          'w-tie-b',
          'w-med-1',
          'w-med-2',
          'w-low',
        ];
        const page = await store.listWaiting();
        expect(idsOf(page.items)).toEqual(expected);
        expect(page.nextCursor).toBeNull();
        expect(page.items[0]).toEqual(structuredClone(records[3]));
        expect(idsOf(await listAllWaiting(store, { limit: 1 }))).toEqual(expected);
      });

      it('starts after a place in admission order, given instead of a cursor', async () => {
        const records = [
          makeRecord({ id: 'p-low', priority: 'LOW' }),
          makeRecord({ id: 'p-med', priority: 'MEDIUM' }),
          makeRecord({ id: 'p-urgent', priority: 'URGENT' }),
          makeRecord({ id: 'p-high', priority: 'HIGH' }),
        ];
        await store.insert(records);
        const [low, med, , high] = records;
        if (low === undefined || med === undefined || high === undefined) {
          throw new Error('unreachable');
        }
        const placeOf = (r: TaskRecord, id = r.id) => ({ priority: r.priority, seq: r.seq, id });
        expect(idsOf((await store.listWaiting({ after: placeOf(high) })).items)).toEqual([
          'p-med',
          'p-low',
        ]);
        // An id before every id: the place just before that task.
        expect(idsOf((await store.listWaiting({ after: placeOf(med, '') })).items)).toEqual([
          'p-med',
          'p-low',
        ]);
        expect((await store.listWaiting({ after: placeOf(low) })).items).toEqual([]);
        const error = await rejectionOf(
          store.listWaiting({ after: { priority: 'SOON', seq: 1, id: '' } as never }),
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message).toMatch(/after/);
      });

      it('counts tasks in some statuses by priority', async () => {
        await store.insert([
          makeRecord({ priority: 'LOW' }),
          makeRecord({ priority: 'LOW', status: 'retrying' }),
          makeRecord({ priority: 'URGENT' }),
          makeRecord({ priority: 'HIGH', status: 'paused' }),
          makeRecord({ priority: 'HIGH', status: 'completed', completedAt: 1 }),
        ]);
        expect(await store.countWaiting(['queued'])).toEqual({
          URGENT: 1,
          HIGH: 0,
          MEDIUM: 0,
          LOW: 1,
        });
        expect(await store.countWaiting(['queued', 'retrying', 'paused'])).toEqual({
          URGENT: 1,
          HIGH: 1,
          MEDIUM: 0,
          LOW: 2,
        });
        expect(await store.countWaiting([])).toEqual({ URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 });
      });

      it('filters by statuses and by the reservation model', async () => {
        const at = (model: string, status: TaskStatus, priority: TaskRecord['priority']) => {
          const record = makeRecord({ status, priority });
          record.reservation = { ...record.reservation, model };
          return record;
        };
        const records = [
          at('m-a', 'queued', 'LOW'),
          at('m-b', 'queued', 'URGENT'),
          at('m-a', 'paused', 'HIGH'),
          at('m-a', 'running', 'MEDIUM'),
          at('m-b', 'retrying', 'LOW'),
          at('m-a', 'retrying', 'URGENT'),
        ];
        await store.insert(records);
        const pick = (...indexes: number[]) => indexes.map((i) => records[i]?.id);
        const ids = async (query: WaitingQuery) => idsOf(await listAllWaiting(store, query));
        expect(await ids({ model: 'm-a' })).toEqual(pick(5, 0));
        expect(await ids({ model: 'm-b' })).toEqual(pick(1, 4));
        expect(await ids({ model: 'm-c' })).toEqual([]);
        expect(await ids({ statuses: ['paused', 'running'] })).toEqual(pick(2, 3));
        expect(await ids({ statuses: ['running', 'queued', 'running'], model: 'm-a' })).toEqual(
          pick(3, 0),
        );
        expect(await ids({ statuses: ['completed'] })).toEqual([]);
        expect(await ids({ statuses: [] })).toEqual([]);
        expect(await ids({ statuses: [...TASK_STATUSES], limit: 2 })).toEqual(
          pick(1, 5, 2, 3, 0, 4),
        );
      });

      it('pages 100 by default, with any limit, and ends with a null cursor', async () => {
        const records = Array.from({ length: 230 }, (_, i) =>
          makeRecord({
            priority: PRIORITIES_HIGH_FIRST[i % 4] ?? 'LOW',
            status: i % 5 === 0 ? 'retrying' : i % 7 === 0 ? 'running' : 'queued',
          }),
        );
        await store.insert(records);
        const expected = inAdmissionOrder(
          records.filter((r) => r.status === 'queued' || r.status === 'retrying'),
        );
        const first = await store.listWaiting();
        expect(idsOf(first.items)).toEqual(idsOf(expected.slice(0, 100)));
        expect(first.nextCursor).toEqual(expect.any(String));
        for (const limit of [1, 7, 100, 1000]) {
          expect(await listAllWaiting(store, { limit }), `limit ${limit}`).toEqual(
            structuredClone(expected),
          );
        }
        const exact = await store.listWaiting({ limit: expected.length });
        expect(exact.nextCursor).toBeNull();
      });

      it('continues after the cursor when tasks change between pages', async () => {
        const records = Array.from({ length: 40 }, (_, i) =>
          makeRecord({ priority: i % 2 === 0 ? 'HIGH' : 'LOW' }),
        );
        await store.insert(records);
        const expected = inAdmissionOrder(records);
        const first = await store.listWaiting({ limit: 15 });
        const pointedAt = first.items[first.items.length - 1];
        const later = expected[30];
        await store.remove([pointedAt?.id ?? '', later?.id ?? '']);
        const added = makeRecord({ priority: 'LOW' });
        const early = makeRecord({ priority: 'URGENT' });
        await store.insert([added, early]);
        const rest = await listAllWaiting(store, { limit: 15, cursor: first.nextCursor ?? '' });
        expect(idsOf(rest)).toEqual(
          idsOf([...expected.slice(15).filter((r) => r.id !== later?.id), added]),
        );
      });

      it('rejects a malformed cursor, a cursor of list, a bad limit and an unknown status', async () => {
        await store.insert([makeRecord(), makeRecord()]);
        const valid = (await store.listWaiting({ limit: 1 })).nextCursor ?? '';
        const listCursor = (await store.list({ limit: 1 })).nextCursor ?? '';
        for (const cursor of ['', 'nope', '!!!', `${valid}x`, valid.slice(0, -2), listCursor]) {
          const error = await rejectionOf(store.listWaiting({ cursor }));
          expect(error, `cursor ${JSON.stringify(cursor)}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain('cursor');
        }
        const listed = await rejectionOf(store.list({ cursor: valid }));
        expect(listed).toBeInstanceOf(ValidationError);
        for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
          const error = await rejectionOf(store.listWaiting({ limit }));
          expect(error, `limit ${limit}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain('limit');
          expect((error as ValidationError).message).toContain(String(limit));
        }
        const status = await rejectionOf(
          store.listWaiting({ statuses: ['queued', 'sleeping' as TaskStatus] }),
        );
        expect(status).toBeInstanceOf(ValidationError);
        expect((status as ValidationError).message).toContain('sleeping');
      });
    });

    describe('lastSeq', () => {
      it('is the largest stored seq, 0 when empty', async () => {
        expect(await store.lastSeq()).toBe(0);
        const records = [5, 12, 9].map((seq) => makeRecord({ seq }));
        await store.insert(records);
        expect(await store.lastSeq()).toBe(12);
        await store.remove([records[1]?.id ?? '']);
        expect(await store.lastSeq()).toBe(9);
        await store.remove(idsOf(records));
        expect(await store.lastSeq()).toBe(0);
      });
    });

    describe('ledger', () => {
      it('is empty at first', async () => {
        expect(await store.readLedger()).toEqual([]);
        expect(await store.readLedger({ after: 5 })).toEqual([]);
      });

      it('numbers entries from 1 in append order, across commits, and round-trips them', async () => {
        const entries: LedgerEntry[] = [
          { at: 1_700_000_000_000, taskId: 'task-a', event: { type: 'budget.hold', amount: 12.5 } },
          { at: 2, event: { type: 'rate.reserve', tokens: [1, 2, { deep: 'Grüße 👋' }] } },
          { at: 3, taskId: 'task-b', event: null },
          { at: 4, event: 'plain' },
        ];
        await store.commit({ ledger: entries.slice(0, 2) });
        const record = makeRecord();
        await store.commit({ insert: [record], ledger: entries.slice(2) });
        await store.remove([record.id]);
        expect(await store.readLedger()).toEqual(entries.map((e, i) => stored(i + 1, e)));
      });

      it('reads after a seq and at most limit entries, 1,000 by default', async () => {
        const entries = Array.from({ length: 1005 }, (_, i) => ({ at: i, event: { i } }));
        await store.commit({ ledger: entries });
        const first = await store.readLedger();
        expect(first).toHaveLength(1000);
        expect(first[999]).toEqual({ seq: 1000, at: 999, event: { i: 999 } });
        expect(await store.readLedger({ after: 1000 })).toEqual(
          entries.slice(1000).map((e, i) => stored(1001 + i, e)),
        );
        expect((await store.readLedger({ after: 10, limit: 3 })).map((e) => e.seq)).toEqual([
          11, 12, 13,
        ]);
        expect(await store.readLedger({ after: 1005 })).toEqual([]);
        expect(await readWholeLedger(store, 7)).toEqual(entries.map((e, i) => stored(i + 1, e)));
      });

      it('compacts: entries before throughSeq go, the checkpoint takes its place and seq', async () => {
        const entries = [1, 2, 3, 4, 5].map((n) => ({ at: n, event: { n } }));
        await store.commit({ ledger: entries });
        const checkpoint: LedgerEntry = { at: 30, event: { type: 'checkpoint', total: 6 } };
        await store.compactLedger(3, checkpoint);
        const compacted = [
          stored(3, checkpoint),
          stored(4, entries[3] as LedgerEntry),
          stored(5, entries[4] as LedgerEntry),
        ];
        expect(await store.readLedger()).toEqual(compacted);
        expect(await store.readLedger({ after: 2 })).toEqual(compacted);
        await store.commit({ ledger: [{ at: 6, taskId: 't', event: { n: 6 } }] });
        expect((await store.readLedger()).map((e) => e.seq)).toEqual([3, 4, 5, 6]);
        // The last entry too, with a task id.
        const last: LedgerEntry = {
          at: 60,
          taskId: 'cp',
          event: { type: 'checkpoint', total: 21 },
        };
        await store.compactLedger(6, last);
        expect(await store.readLedger()).toEqual([stored(6, last)]);
        await store.commit({ ledger: [{ at: 7, event: { n: 7 } }] });
        expect((await store.readLedger()).map((e) => e.seq)).toEqual([6, 7]);
      });

      it('rejects compacting through an entry it does not hold, changing nothing', async () => {
        await store.commit({ ledger: [1, 2, 3].map((n) => ({ at: n, event: { n } })) });
        await store.compactLedger(2, { at: 20, event: 'cp' });
        const before = await store.readLedger();
        for (const seq of [1, 4, 99, 0, -1, 2.5, Number.NaN]) {
          const error = await rejectionOf(store.compactLedger(seq, { at: 0, event: 'x' }));
          expect(error, `throughSeq ${seq}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain('throughSeq');
        }
        const badCheckpoint = await rejectionOf(
          store.compactLedger(3, { at: Number.NaN, event: 'x' }),
        );
        expect(badCheckpoint).toBeInstanceOf(ValidationError);
        expect(await store.readLedger()).toEqual(before);
      });

      it('rejects a bad after or limit with ValidationError naming it', async () => {
        const cases: Array<[string, { after?: number; limit?: number }]> = [
          ['after', { after: -1 }],
          ['after', { after: 1.5 }],
          ['after', { after: Number.NaN }],
          ['limit', { limit: 0 }],
          ['limit', { limit: 2.5 }],
          ['limit', { limit: -3 }],
        ];
        for (const [field, query] of cases) {
          const error = await rejectionOf(store.readLedger(query));
          expect(error, JSON.stringify(query)).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toContain(field);
        }
      });
    });

    describe('close', () => {
      it('resolves, makes every later call reject, and resolves again', async () => {
        const record = makeRecord();
        await store.insert([record]);
        await store.close();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['insert', () => store.insert([makeRecord()])],
          ['update', () => store.update(record)],
          ['get', () => store.get(record.id)],
          ['list', () => store.list()],
          ['countByStatus', () => store.countByStatus()],
          ['countWaiting', () => store.countWaiting(['queued'])],
          ['remove', () => store.remove([record.id])],
          ['removeFinishedBefore', () => store.removeFinishedBefore(0)],
          ['commit', () => store.commit({ ledger: [{ at: 1, event: 'x' }] })],
          ['findByIdempotencyKeys', () => store.findByIdempotencyKeys(['k'])],
          ['listWaiting', () => store.listWaiting()],
          ['lastSeq', () => store.lastSeq()],
          ['readLedger', () => store.readLedger()],
          ['compactLedger', () => store.compactLedger(1, { at: 1, event: 'x' })],
        ];
        for (const [method, call] of calls) {
          const error = await rejectionOf(call());
          expect(error, method).toBeInstanceOf(TaskQueueError);
          expect((error as TaskQueueError).message, method).toMatch(/closed/);
        }
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    describe('model check', () => {
      it('agrees with a plain array under random inserts, commits, updates and removes', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(opArb, { maxLength: 25 }),
            fc.integer({ min: 1, max: 6 }),
            fc.subarray([...TASK_STATUSES]),
            async (ops, pageSize, someStatuses) => {
              const subject = await factory();
              const model: TaskRecord[] = [];
              const ledger: StoredLedgerEntry[] = [];
              const keysOf = (records: readonly TaskRecord[]) =>
                new Map(
                  records.flatMap((r) =>
                    r.idempotencyKey === undefined ? [] : [[r.idempotencyKey, r.id] as const],
                  ),
                );
              const check = async () => {
                expect(await subject.countByStatus()).toEqual(countsOf(model));
                expect(await listAll(subject, { limit: pageSize })).toEqual(model);
                expect(
                  await listAllWaiting(subject, { statuses: [...TASK_STATUSES], limit: pageSize }),
                ).toEqual(inAdmissionOrder(model));
                expect(await subject.findByIdempotencyKeys(KEY_POOL)).toEqual(keysOf(model));
                expect(await subject.lastSeq()).toBe(
                  model.length === 0 ? 0 : Math.max(...model.map((r) => r.seq)),
                );
                expect(await readWholeLedger(subject, pageSize)).toEqual(ledger);
              };
              const moved = (current: TaskRecord, status: TaskStatus, at: number): TaskRecord => ({
                ...current,
                status,
                attempts: current.attempts + 1,
                completedAt: TERMINAL_STATUSES.has(status) ? at : undefined,
              });
              const pickFrom = (picks: readonly number[]) => [
                ...new Set(
                  picks.flatMap((p) => {
                    const r = model[p % Math.max(model.length, 1)];
                    return r === undefined ? [] : [r.id];
                  }),
                ),
              ];
              try {
                for (const op of ops) {
                  switch (op.kind) {
                    case 'insert': {
                      const batch = Array.from({ length: op.count }, (_, i) =>
                        makeRecord({
                          status: op.status,
                          type: op.type,
                          priority: op.priority,
                          ...(i === 0 && op.key !== null
                            ? { idempotencyKey: KEY_POOL[op.key] }
                            : {}),
                        }),
                      );
                      const existing = model[op.count % Math.max(model.length, 1)];
                      const keyHeld = model.some(
                        (r) =>
                          r.idempotencyKey !== undefined &&
                          r.idempotencyKey === batch[0]?.idempotencyKey,
                      );
                      if (op.withDuplicate && existing !== undefined) {
                        batch.splice(1, 0, makeRecord({ id: existing.id }));
                        const error = await rejectionOf(subject.insert(batch));
                        expect(error).toBeInstanceOf(ValidationError);
                      } else if (keyHeld) {
                        const error = await rejectionOf(subject.insert(batch));
                        expect(error).toBeInstanceOf(ValidationError);
                      } else {
                        await subject.insert(batch);
                        model.push(...batch);
                      }
                      break;
                    }
                    case 'commit': {
                      const insert = Array.from({ length: op.inserts }, (_, i) =>
                        makeRecord({
                          status: op.status,
                          priority: op.priority,
                          ...(i === 0 && op.key !== null
                            ? { idempotencyKey: KEY_POOL[op.key] }
                            : {}),
                        }),
                      );
                      const update = pickFrom(op.updates).flatMap((id) => {
                        const current = model.find((r) => r.id === id);
                        return current === undefined ? [] : [moved(current, op.status, op.at)];
                      });
                      if (op.ghost) update.push(makeRecord());
                      const remove = pickFrom(op.removes);
                      const entries: LedgerEntry[] = Array.from({ length: op.ledger }, (_, i) => ({
                        at: op.at + i,
                        ...(i === 0 && insert[0] !== undefined ? { taskId: insert[0].id } : {}),
                        event: { n: ledger.length + i },
                      }));
                      const write: StoreWrite = { insert, update, remove, ledger: entries };
                      const keyHeld = insert.some((n) =>
                        model.some(
                          (r) =>
                            r.idempotencyKey !== undefined && r.idempotencyKey === n.idempotencyKey,
                        ),
                      );
                      // Inserts are applied (and checked) before updates.
                      if (keyHeld) {
                        expect(await rejectionOf(subject.commit(write))).toBeInstanceOf(
                          ValidationError,
                        );
                      } else if (op.ghost) {
                        expect(await rejectionOf(subject.commit(write))).toBeInstanceOf(
                          TaskNotFoundError,
                        );
                      } else {
                        await subject.commit(write);
                        model.push(...insert);
                        for (const next of update) {
                          const index = model.findIndex((r) => r.id === next.id);
                          model[index] = next;
                        }
                        const gone = new Set(remove);
                        const kept = model.filter((r) => !gone.has(r.id));
                        model.splice(0, model.length, ...kept);
                        const first = ledger.length + 1;
                        ledger.push(...entries.map((e, i) => stored(first + i, e)));
                      }
                      break;
                    }
                    case 'update': {
                      const index = op.pick % Math.max(model.length, 1);
                      const current = model[index];
                      if (current === undefined) {
                        const error = await rejectionOf(subject.update(makeRecord()));
                        expect(error).toBeInstanceOf(TaskNotFoundError);
                        break;
                      }
                      const next = moved(current, op.status, op.at);
                      await subject.update(next);
                      model[index] = next;
                      break;
                    }
                    case 'remove': {
                      const ids = op.picks.flatMap((p) => {
                        const r = model[p % Math.max(model.length, 1)];
                        return r === undefined ? [] : [r.id];
                      });
                      if (op.unknown) ids.push('never-inserted');
                      const gone = new Set(ids);
                      const expected = model.filter((r) => gone.has(r.id)).length;
                      expect(await subject.remove(ids)).toBe(expected);
                      for (let i = model.length - 1; i >= 0; i -= 1) {
                        const r = model[i];
                        if (r !== undefined && gone.has(r.id)) model.splice(i, 1);
                      }
                      break;
                    }
                    case 'sweep': {
                      const finished = (r: TaskRecord) =>
                        TERMINAL_STATUSES.has(r.status) &&
                        r.completedAt !== undefined &&
                        r.completedAt < op.before;
                      const expected = model.filter(finished).length;
                      expect(await subject.removeFinishedBefore(op.before)).toBe(expected);
                      const kept = model.filter((r) => !finished(r));
                      model.splice(0, model.length, ...kept);
                      break;
                    }
                  }
                  await check();
                }
                const filtered = inListOrder(model.filter((r) => someStatuses.includes(r.status)));
                expect(await listAll(subject, { status: someStatuses, limit: pageSize })).toEqual(
                  filtered,
                );
                expect(
                  await listAllWaiting(subject, { statuses: someStatuses, limit: pageSize }),
                ).toEqual(inAdmissionOrder(model.filter((r) => someStatuses.includes(r.status))));
              } finally {
                await dispose(subject);
              }
            },
          ),
          { numRuns: 60 },
        );
        // Sixty stores opened: a store on a worker thread starts a thread for each.
      }, 60_000);
    });
  });
}
