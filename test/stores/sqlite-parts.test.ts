/**
 * A large write goes to the SQLite store's worker thread in parts (`PART_ROWS` rows each), which
 * the thread runs as they come inside one transaction: all of it or nothing, with the same
 * errors, step numbers and order as a write sent whole.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError, TaskNotFoundError, ValidationError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { sqliteWorker } from '../../src/stores/sqlite/internals.js';
import { SQL } from '../../src/stores/sqlite/statements.js';
import { PART_ROWS, partsOf } from '../../src/stores/sqlite/worker-runner.js';
import type { TaskRecord } from '../../src/stores/types.js';
import { makeRecord, rejectionOf } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-sqlite-parts-'));
let files = 0;
const freshPath = (): string => join(dir, `parts-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const records = (count: number): TaskRecord[] =>
  Array.from({ length: count }, () => makeRecord({ idempotencyKey: undefined }));

describe('partsOf', () => {
  const group = (sql: string, rows: number, flags: { requires?: true; count?: true } = {}) => ({
    sql,
    rows: Array.from({ length: rows }, (_, i) => [`${sql}${i}`]),
    ...flags,
  });

  it('keeps a write that fits whole', () => {
    const groups = [group('a', 600), group('b', 400)];
    expect(partsOf(groups, 1_000)).toEqual([groups]);
  });

  it('cuts the rows in order into parts of at most the size, each piece with its flags', () => {
    const groups = [group('a', 1_500), group('b', 700, { requires: true }), group('c', 1)];
    const parts = partsOf(groups, 1_000);
    expect(parts.map((part) => part.map((g) => [g.sql, g.rows.length]))).toEqual([
      [['a', 1_000]],
      [
        ['a', 500],
        ['b', 500],
      ],
      [
        ['b', 200],
        ['c', 1],
      ],
    ]);
    expect(parts[2]?.[0]).toMatchObject({ requires: true });
    const rows = parts.flatMap((part) => part.flatMap((g) => g.rows.map((row) => row[0])));
    expect(rows).toEqual(groups.flatMap((g) => g.rows.map((row) => row[0])));
  });
});

describe('a write larger than a part, on the worker thread', () => {
  const size = 2 * PART_ROWS + 500;

  it('stores every task, ledger entry and update of it', async () => {
    const store = openSqliteStore(freshPath());
    const first = records(size);
    await store.commit({ insert: first });
    const second = records(size);
    await store.commit({
      insert: second,
      update: first.map((record) => ({ ...record, status: 'running' as const })),
      ledger: Array.from({ length: PART_ROWS + 1 }, (_, i) => ({ at: i, event: { i } })),
    });
    expect(await store.countByStatus()).toMatchObject({ queued: size, running: size });
    expect((await store.readLedger({ limit: 5_000 })).length).toBe(PART_ROWS + 1);
    await store.close();
  });

  it('a step in a later part that fails: its error, by its id, and nothing of the write', async () => {
    const store = openSqliteStore(freshPath());
    const stored = records(3);
    await store.insert(stored);
    const batch = records(size);
    const at = PART_ROWS + 700;
    batch[at] = makeRecord({ id: stored[1]?.id as string, idempotencyKey: undefined });
    const duplicate = await rejectionOf(store.insert(batch));
    expect(duplicate).toBeInstanceOf(ValidationError);
    expect((duplicate as ValidationError).message).toContain(`'${stored[1]?.id}'`);
    const missing = makeRecord({ id: 'never-stored', idempotencyKey: undefined });
    const updates = [
      ...stored,
      ...Array.from({ length: PART_ROWS + 10 }, () => ({ ...(stored[0] as TaskRecord) })),
      missing,
    ];
    const notFound = await rejectionOf(
      store.commit({ insert: records(PART_ROWS), update: updates }),
    );
    expect(notFound).toBeInstanceOf(TaskNotFoundError);
    expect((notFound as TaskNotFoundError).message).toContain('never-stored');
    expect(await store.countByStatus()).toMatchObject({ queued: 3 });
    // The thread ended that transaction: the next write and read go on as usual.
    await store.insert(records(size));
    expect((await store.countByStatus()).queued).toBe(3 + size);
    await store.close();
  });

  it('keeps its place among the calls sent around it', async () => {
    const store = openSqliteStore(freshPath());
    const small = records(1);
    const large = records(size);
    const [, , counts, one] = await Promise.all([
      store.insert(small),
      store.insert(large),
      store.countByStatus(),
      store.get(large[size - 1]?.id as string),
      store.commit({ update: [{ ...(small[0] as TaskRecord), status: 'running' }] }),
    ]);
    expect(counts).toMatchObject({ queued: 1 + size });
    expect(one?.id).toBe(large[size - 1]?.id);
    expect((await store.countByStatus()).running).toBe(1);
    await store.close();
  });

  it("'full' in a later part: StoreError, nothing of the write, and the store goes on", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const worker = sqliteWorker(store);
    await store.insert(records(10));
    const [{ page_count: pages }] = (await worker.call('PRAGMA page_count', [], 'all')) as [
      { page_count: number },
    ];
    // Room for the first part's rows, not for the rest.
    await worker.call(`PRAGMA max_page_count = ${pages + 60}`, [], 'all');
    const big = Array.from({ length: size }, () =>
      makeRecord({ idempotencyKey: undefined, data: { text: 'x'.repeat(100) } }),
    );
    const error = await rejectionOf(store.insert(big));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).reason).toBe('full');
    expect((await store.countByStatus()).queued).toBe(10);
    await worker.call('PRAGMA max_page_count = 1073741823', [], 'all');
    await store.insert(big);
    expect((await store.countByStatus()).queued).toBe(10 + size);
    await store.close();
  });

  it.each([
    ['the first part', 3],
    ['a middle part', PART_ROWS + 3],
    ['the last part', size - 1],
  ])(
    '%s that cannot be sent: nothing of the write, the thread rolls back what it began',
    async (_, at) => {
      const store = openSqliteStore(freshPath());
      const worker = sqliteWorker(store);
      const rows: unknown[][] = records(size).map((record) => [record.seq, record.id, null]);
      rows[at] = [1, () => 'not copied', null];
      const error = await rejectionOf(
        worker.transaction([
          { sql: SQL.appendLedger, rows: rows as unknown as [number, string, null][] },
        ]),
      );
      expect((error as Error).name).toBe('DataCloneError');
      expect(await store.readLedger()).toEqual([]);
      // The transaction is over: the next write is a transaction of its own.
      await store.commit({ ledger: [{ at: 1, event: 'after' }] });
      expect((await store.readLedger()).map((entry) => entry.event)).toEqual(['after']);
      await store.close();
    },
  );
});
