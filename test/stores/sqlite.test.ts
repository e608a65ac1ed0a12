/**
 * The SQLite store: the conformance suite on a file per test (its statements on the store's worker
 * thread, and on the caller's), and in memory; then what only a
 * file has: reopening, the WAL and lock settings, migrations, and each typed error of opening
 * and writing.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  StoreError,
  type StoreErrorReason,
  TaskNotFoundError,
  ValidationError,
} from '../../src/errors.js';
import { openSqliteStore, SqliteTaskStore } from '../../src/stores/sqlite/index.js';
import {
  openSqliteStoreWith,
  sqliteInternals,
  sqliteWorker,
} from '../../src/stores/sqlite/internals.js';
import {
  APPLICATION_ID,
  MIGRATIONS,
  type Migration,
  migrate,
  SCHEMA_VERSION,
} from '../../src/stores/sqlite/schema.js';
import { SQL } from '../../src/stores/sqlite/statements.js';
import type { LedgerEntry, TaskRecord, TaskStore } from '../../src/stores/types.js';
import { describeTaskStore, makeRecord } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-sqlite-'));
// Reachable by the unprivileged user of the read-only tests.
chmodSync(dir, 0o755);
let fileCount = 0;

function freshPath(): string {
  fileCount += 1;
  return join(dir, `store-${fileCount}.db`);
}

/** A new store file holding one queued task, open on its worker thread. */
async function storeWithOneTask(): Promise<{ path: string; store: SqliteTaskStore }> {
  const path = freshPath();
  const store = openSqliteStore(path);
  await store.insert([makeRecord()]);
  return { path, store };
}

/** Opens the file again and checks that the one task is there; resolves once it is closed. */
async function expectReopensWithOneTask(path: string): Promise<void> {
  const again = openSqliteStore(path);
  expect((await again.countByStatus()).queued).toBe(1);
  await again.close();
}

function removeFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal'])
    rmSync(`${path}${suffix}`, { force: true });
}

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeTaskStore(
  'sqlite (file)',
  () => openSqliteStore(freshPath()),
  async (store) => {
    await store.close();
    if (store instanceof SqliteTaskStore) removeFiles(store.path);
  },
);

describeTaskStore(
  'sqlite (file, main thread)',
  () => openSqliteStore(freshPath(), { thread: 'main' }),
  async (store) => {
    await store.close();
    if (store instanceof SqliteTaskStore) removeFiles(store.path);
  },
);

describeTaskStore('sqlite (:memory:)', () => openSqliteStore(':memory:'));

/** The error `open` throws; fails the test if it opens. */
function openError(open: () => unknown): unknown {
  try {
    const store = open();
    if (store instanceof SqliteTaskStore) void store.close();
  } catch (error) {
    return error;
  }
  throw new Error('expected the open to throw, but it opened');
}

function expectStoreError(error: unknown, reason: StoreErrorReason, path?: string): void {
  expect(error).toBeInstanceOf(StoreError);
  const storeError = error as StoreError;
  expect(storeError.reason, storeError.message).toBe(reason);
  expect(storeError.code).toBe('STORE');
  if (path !== undefined) {
    expect(storeError.path).toBe(path);
    expect(storeError.message).toContain(path);
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** Runs `work` as an unprivileged user when the tests run as root (who may write anything). */
function unprivileged<T>(work: () => T): T {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return work();
  const seteuid = process.seteuid;
  if (seteuid === undefined) return work();
  seteuid(65_534);
  try {
    return work();
  } finally {
    seteuid(0);
  }
}

/** Everything a store shows, to compare a store before and after a reopen. */
async function everything(store: TaskStore, keys: readonly string[]) {
  const tasks: TaskRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.list(cursor === null ? { limit: 7 } : { limit: 7, cursor });
    tasks.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return {
    tasks,
    waiting: (await store.listWaiting({ limit: 1000 })).items,
    counts: await store.countByStatus(),
    keys: await store.findByIdempotencyKeys(keys),
    lastSeq: await store.lastSeq(),
    ledger: await store.readLedger(),
  };
}

describe('SqliteTaskStore', () => {
  it("is named 'sqlite', is durable, and hands out copies", async () => {
    const store = openSqliteStore(':memory:');
    expect(store.name).toBe('sqlite');
    expect(store.durable).toBe(true);
    expect((store as TaskStore).holdsRecordsByReference).toBeFalsy();
    const record = makeRecord({ data: { list: [1, 2] } });
    const expected = structuredClone(record);
    await store.insert([record]);
    record.status = 'running';
    (record.data as { list: number[] }).list.push(3);
    const first = await store.get(record.id);
    expect(first).toEqual(expected);
    expect(await store.get(record.id)).not.toBe(first);
    await store.close();
  });

  it('opens in WAL mode with an exclusive lock, synchronous NORMAL unless FULL is asked for', async () => {
    const path = freshPath();
    const store = openSqliteStore(path, { thread: 'main' });
    const { db } = sqliteInternals(store);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    await store.close();
    const full = openSqliteStore(path, { synchronous: 'FULL', thread: 'main' });
    expect(sqliteInternals(full).db.pragma('synchronous', { simple: true })).toBe(2);
    await full.close();
  });

  it('rejects bad options at once with ValidationError', () => {
    const bad = { synchronous: 'OFF' } as unknown as { synchronous: 'FULL' };
    const error = openError(() => openSqliteStore(':memory:', bad));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('synchronous');
    expect(openError(() => openSqliteStore(''))).toBeInstanceOf(ValidationError);
  });

  it('comes back the same after close and reopen: records, keys, ledger, lastSeq', async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const keyed = makeRecord({ idempotencyKey: 'reopen-1', priority: 'HIGH' });
    const finished = makeRecord({
      status: 'completed',
      completedAt: 50,
      result: { text: 'done', scores: [0.5] },
      history: [
        { status: 'queued', at: 1 },
        { status: 'running', at: 2 },
        { status: 'completed', at: 50 },
      ],
    });
    const gone = makeRecord({ idempotencyKey: 'reopen-gone' });
    const ledger: LedgerEntry[] = [1, 2, 3, 4].map((n) => ({
      at: n,
      taskId: keyed.id,
      event: { type: 'budget.hold', amount: n },
    }));
    await store.commit({ insert: [keyed, finished, gone, makeRecord()], ledger });
    await store.commit({
      update: [{ ...keyed, status: 'retrying', attempts: 1, notBefore: 99 }],
      remove: [gone.id],
      ledger: [{ at: 5, event: { type: 'rate.reserve', tokens: 10 } }],
    });
    await store.compactLedger(2, { at: 2, event: { type: 'checkpoint' } });
    const keys = ['reopen-1', 'reopen-gone'];
    const before = await everything(store, keys);
    expect(before.lastSeq).toBeGreaterThan(0);
    expect(before.keys.size).toBe(1);
    await store.close();
    // Closing checkpoints the WAL into the file and removes it.
    expect(existsSync(`${path}-wal`)).toBe(false);

    const again = openSqliteStore(path);
    expect(await everything(again, keys)).toEqual(before);
    // Numbers go on where they stopped.
    await again.commit({
      insert: [makeRecord({ idempotencyKey: 'reopen-gone' })],
      ledger: [{ at: 6, event: 'after' }],
    });
    expect((await again.readLedger({ after: 5 })).map((e) => e.seq)).toEqual([6]);
    const duplicate = await rejectionOf(again.insert([makeRecord({ idempotencyKey: 'reopen-1' })]));
    expect(duplicate).toBeInstanceOf(ValidationError);
    await again.close();
  });

  it('rejects data that is not JSON with ValidationError, writing nothing', async () => {
    const store = openSqliteStore(':memory:');
    const fine = makeRecord();
    const error = await rejectionOf(
      store.commit({ insert: [fine, makeRecord({ data: { big: 10n } })] }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('JSON');
    expect(await store.get(fine.id)).toBeUndefined();
    const ledgerError = await rejectionOf(store.commit({ ledger: [{ at: 1, event: 2n }] }));
    expect(ledgerError).toBeInstanceOf(ValidationError);
    expect(await store.readLedger()).toEqual([]);
    await store.close();
  });

  it('keeps its rows in admission order; a seq used twice, negative or not whole still stores', async () => {
    const store = openSqliteStore(':memory:', { thread: 'main' });
    const [low, urgent, high, urgentLater] = (['LOW', 'URGENT', 'HIGH', 'URGENT'] as const).map(
      (priority, i) => makeRecord({ priority, seq: 10 + i }),
    );
    const twice = makeRecord({ priority: 'HIGH', seq: 12 });
    const odd = [makeRecord({ seq: -3 }), makeRecord({ seq: 2.5 }), makeRecord({ seq: 2 ** 41 })];
    const all = [low, urgent, high, urgentLater, twice, ...odd] as TaskRecord[];
    await store.insert(all);
    const order = sqliteInternals(store)
      .db.prepare('SELECT id FROM tasks ORDER BY rowid')
      .pluck()
      .all();
    // Admission order first (the seq used twice, and the others, after every rank's rows).
    expect(order.slice(0, 4)).toEqual([urgent, urgentLater, high, low].map((r) => r?.id));
    expect(new Set(order)).toEqual(new Set(all.map((r) => r.id)));
    for (const record of all) expect(await store.get(record.id)).toEqual(record);
    await store.close();
  });

  it('prepares a bounded number of query statements', async () => {
    const store = openSqliteStore(':memory:');
    await store.insert([makeRecord(), makeRecord({ status: 'paused' }), makeRecord()]);
    const cursor = (await store.list({ limit: 1 })).nextCursor ?? undefined;
    const waitingCursor = (await store.listWaiting({ limit: 1 })).nextCursor ?? undefined;
    const run = async () => {
      for (const status of [undefined, 'queued', ['queued', 'paused', 'running']] as const) {
        for (const taskType of [undefined, 'echo']) {
          for (const priority of [undefined, 'MEDIUM'] as const) {
            await store.list({ status, taskType, priority, cursor, limit: 2 });
            await store.list({ status, taskType, priority });
          }
        }
      }
      for (const model of [undefined, 'test-model']) {
        await store.listWaiting({ model, cursor: waitingCursor });
        await store.listWaiting({ model, statuses: ['queued', 'paused'] });
      }
    };
    await run();
    const prepared = sqliteInternals(store).prepared;
    expect(prepared).toBeLessThanOrEqual(68 + Object.keys(SQL).length);
    await run();
    expect(sqliteInternals(store).prepared).toBe(prepared);
    await store.close();
  });
});

describe('SqliteTaskStore threads', () => {
  it("runs a file's statements on a worker thread unless thread 'main' is asked for", async () => {
    const onWorker = openSqliteStore(freshPath());
    const onMain = openSqliteStore(freshPath(), { thread: 'main' });
    const inMemory = openSqliteStore(':memory:');
    expect([onWorker.thread, onMain.thread, inMemory.thread]).toEqual(['worker', 'main', 'main']);
    expect(() => sqliteInternals(onWorker)).toThrow(/thread 'main'/);
    const bad = { thread: 'both' } as unknown as { thread: 'main' };
    const error = openError(() => openSqliteStore(freshPath(), bad));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain("invalid thread: 'both'");
    await Promise.all([onWorker.close(), onMain.close(), inMemory.close()]);
  });

  it('keeps the order of calls, and each commit of those sent together stands alone', async () => {
    const store = openSqliteStore(freshPath());
    const stored = makeRecord();
    await store.insert([stored]);
    const fresh = makeRecord();
    const later = makeRecord();
    // Sent before any settles: the worker takes them in one go, the failing one alone fails.
    const outcomes = await Promise.allSettled([
      store.commit({ insert: [fresh] }),
      store.commit({ insert: [makeRecord({ id: stored.id })] }),
      store.commit({ update: [{ ...fresh, status: 'running' }], insert: [later] }),
      store.get(fresh.id),
      store.commit({ update: [makeRecord({ id: 'not-stored' })] }),
      store.countByStatus(),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
    expect((outcomes[3] as PromiseFulfilledResult<TaskRecord>).value.status).toBe('running');
    expect((outcomes[4] as PromiseRejectedResult).reason).toBeInstanceOf(TaskNotFoundError);
    const counts = (outcomes[5] as PromiseFulfilledResult<Record<string, number>>).value;
    expect([counts.queued, counts.running]).toEqual([2, 1]);
    await store.close();
  });

  it('closes cleanly every time: the answer to close is not lost to the thread ending', async () => {
    for (let i = 0; i < 20; i += 1) {
      const path = freshPath();
      const store = openSqliteStore(path);
      await store.commit({ insert: [makeRecord()] });
      await expect(store.close()).resolves.toBeUndefined();
      removeFiles(path);
    }
  });

  it.each(['idle', 'commit'])(
    'a store left open does not keep its process alive (%s)',
    async (mode) => {
      const path = freshPath();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/stores/fixtures/leave-sqlite-store-open.ts', path, mode],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      const store = openSqliteStore(path);
      if (mode === 'commit') {
        expect(await store.get(out.trim())).toMatchObject({ id: out.trim(), status: 'queued' });
      } else {
        expect(await store.lastSeq()).toBe(0);
      }
      await store.close();
    },
  );

  it("'full' on the worker: the write that does not fit changes nothing, loses nothing", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const worker = sqliteWorker(store);
    const earlier = Array.from({ length: 20 }, () => makeRecord({ idempotencyKey: undefined }));
    await store.commit({ insert: earlier });
    const [{ page_count: pages }] = (await worker.call('PRAGMA page_count', [], 'all')) as [
      { page_count: number },
    ];
    await worker.call(`PRAGMA max_page_count = ${pages + 2}`, [], 'all');
    const big = Array.from({ length: 200 }, () =>
      makeRecord({ idempotencyKey: undefined, data: { text: 'x'.repeat(2_000) } }),
    );
    expectStoreError(await rejectionOf(store.commit({ insert: big })), 'full', path);
    expect((await store.countByStatus()).queued).toBe(20);
    await worker.call('PRAGMA max_page_count = 1073741823', [], 'all');
    await store.commit({ insert: big });
    expect((await store.countByStatus()).queued).toBe(220);
    await store.close();
  });

  it('a worker thread that dies fails the calls waiting and every later one with StoreError', async () => {
    const { path, store } = await storeWithOneTask();
    const waiting = store.countByStatus();
    await sqliteWorker(store).stop();
    // The call on its way was answered before the end, or fails with the rest.
    const [answer] = await Promise.allSettled([waiting]);
    if (answer.status === 'fulfilled') expect(answer.value.queued).toBe(1);
    const errors = [
      answer.status === 'rejected' ? answer.reason : await rejectionOf(store.get('x')),
      await rejectionOf(store.commit({ insert: [makeRecord()] })),
    ];
    for (const error of errors) {
      expectStoreError(error, 'io', path);
      expect((error as StoreError).message).toContain('worker thread stopped');
    }
    // What it committed before stays in the file, for the next opener.
    await rejectionOf(store.close());
    await expectReopensWithOneTask(path);
  });

  it('a second close waits for the first: the file is free once either resolves', async () => {
    const { path, store } = await storeWithOneTask();
    const first = store.close();
    await store.close();
    await expectReopensWithOneTask(path);
    await first;
  });
});

describe('SqliteTaskStore errors', () => {
  it("'corrupt': a file that is not a database, left untouched", () => {
    const path = freshPath();
    const text = 'name,priority\nsummarise,HIGH\n'.repeat(100);
    writeFileSync(path, text);
    expectStoreError(
      openError(() => openSqliteStore(path)),
      'corrupt',
      path,
    );
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("'foreign': another program's database, left untouched", () => {
    const path = freshPath();
    const other = new Database(path);
    other.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');");
    other.close();
    const bytes = readFileSync(path);
    const error = openError(() => openSqliteStore(path));
    expectStoreError(error, 'foreign', path);
    expect(readFileSync(path).equals(bytes)).toBe(true);

    const stamped = freshPath();
    const app = new Database(stamped);
    app.pragma('application_id = 42');
    app.close();
    expectStoreError(
      openError(() => openSqliteStore(stamped)),
      'foreign',
      stamped,
    );
  });

  it('initialises an empty file', async () => {
    const path = freshPath();
    writeFileSync(path, '');
    const store = openSqliteStore(path);
    await store.insert([makeRecord()]);
    expect((await store.countByStatus()).queued).toBe(1);
    await store.close();
  });

  it("'newer-schema': a file of a newer version, left untouched", async () => {
    const { path, store } = await storeWithOneTask();
    await store.close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const bytes = readFileSync(path);
    const error = openError(() => openSqliteStore(path));
    expectStoreError(error, 'newer-schema', path);
    expect((error as StoreError).message).toContain(String(SCHEMA_VERSION + 1));
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("'locked': a second open in the same process fails at once; the first goes on", async () => {
    const path = freshPath();
    const first = openSqliteStore(path);
    const record = makeRecord();
    await first.insert([record]);
    const started = Date.now();
    expectStoreError(
      openError(() => openSqliteStore(path)),
      'locked',
      path,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    await first.insert([makeRecord()]);
    expect(await first.get(record.id)).toEqual(record);
    await first.close();
    const second = openSqliteStore(path);
    expect((await second.countByStatus()).queued).toBe(2);
    await second.close();
  });

  it("'locked': a file another process holds", async () => {
    const path = freshPath();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/stores/fixtures/hold-sqlite-store.ts', path],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const [chunk] = (await once(child.stdout ?? child, 'data')) as [Buffer];
      expect(chunk.toString()).toContain('ready');
      expectStoreError(
        openError(() => openSqliteStore(path)),
        'locked',
        path,
      );
      const exited = once(child, 'exit');
      child.stdin?.end();
      await exited;
      const store = openSqliteStore(path);
      expect(await store.lastSeq()).toBe(0);
      await store.close();
    } finally {
      if (child.exitCode === null) child.kill();
    }
  }, 30_000);

  it("'read-only': a directory or a file that cannot be written", async () => {
    const readOnlyDir = join(dir, 'read-only');
    mkdirSync(readOnlyDir);
    chmodSync(readOnlyDir, 0o555);
    const inDir = join(readOnlyDir, 'new.db');
    expectStoreError(
      unprivileged(() => openError(() => openSqliteStore(inDir))),
      'read-only',
      inDir,
    );
    expect(existsSync(inDir)).toBe(false);

    const { path, store } = await storeWithOneTask();
    await store.close();
    chmodSync(path, 0o444);
    const bytes = readFileSync(path);
    expectStoreError(
      unprivileged(() => openError(() => openSqliteStore(path))),
      'read-only',
      path,
    );
    expect(readFileSync(path).equals(bytes)).toBe(true);
    chmodSync(path, 0o644);
  });

  it("'io': a directory that does not exist, or a path that is a directory", () => {
    const missing = join(dir, 'no-such-dir', 'store.db');
    expectStoreError(
      openError(() => openSqliteStore(missing)),
      'io',
      missing,
    );
    expectStoreError(
      openError(() => openSqliteStore(dir)),
      'io',
      dir,
    );
  });

  it("'full': a write that does not fit changes nothing and loses nothing", async () => {
    const path = freshPath();
    const store = openSqliteStore(path, { thread: 'main' });
    const earlier = Array.from({ length: 20 }, () => makeRecord({ idempotencyKey: undefined }));
    await store.commit({ insert: earlier, ledger: [{ at: 1, event: 'earlier' }] });
    const { db } = sqliteInternals(store);
    const pages = Number(db.pragma('page_count', { simple: true }));
    db.pragma(`max_page_count = ${pages + 2}`);
    const big = Array.from({ length: 200 }, (_, i) =>
      makeRecord({ idempotencyKey: `big-${i}`, data: { text: 'x'.repeat(2_000) } }),
    );
    const write = {
      insert: big,
      update: [{ ...earlier[0], status: 'paused' } as TaskRecord],
      ledger: [{ at: 2, event: 'big' }],
    };
    const error = await rejectionOf(store.commit(write));
    expectStoreError(error, 'full', path);
    expect(await store.get(big[0]?.id ?? '')).toBeUndefined();
    expect(await store.findByIdempotencyKeys(['big-0', 'big-199'])).toEqual(new Map());
    expect((await store.countByStatus()).queued).toBe(20);
    expect(await store.get(earlier[0]?.id ?? '')).toEqual(earlier[0]);
    expect(await store.readLedger()).toEqual([{ seq: 1, at: 1, event: 'earlier' }]);

    db.pragma('max_page_count = 1073741823');
    await store.commit(write);
    await store.close();
    const again = openSqliteStore(path);
    expect((await again.countByStatus()).queued).toBe(219);
    expect((await again.readLedger()).map((e) => e.seq)).toEqual([1, 2]);
    await again.close();
  });

  it("'closed': every call after close rejects; closing again resolves", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    await store.close();
    expectStoreError(await rejectionOf(store.get('x')), 'closed', path);
    expectStoreError(await rejectionOf(store.commit({})), 'closed', path);
    await expect(store.close()).resolves.toBeUndefined();
  });
});

describe('SqliteTaskStore migrations', () => {
  const extraStep = (body: (db: Database.Database) => void): Migration => ({
    to: MIGRATIONS.length + 1,
    description: 'test: one step more',
    up: body,
  });

  it('number their steps one version at a time', () => {
    expect(MIGRATIONS.map((m) => m.to)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('open a file that the migration list made at version 1', async () => {
    const path = freshPath();
    const raw = new Database(path);
    migrate(raw, 0, MIGRATIONS.slice(0, 1));
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    const record = makeRecord({ idempotencyKey: 'v1' });
    raw
      .prepare(
        `INSERT INTO tasks (id, seq, rank, status, type, model, idempotency_key, completed_at, body)
         VALUES (?, ?, 2, 'queued', 'echo', 'test-model', 'v1', NULL, ?)`,
      )
      .run(record.id, record.seq, JSON.stringify(record));
    raw.close();
    const store = openSqliteStore(path, { thread: 'main' });
    expect(sqliteInternals(store).db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await store.get(record.id)).toEqual(record);
    expect(await store.findByIdempotencyKeys(['v1'])).toEqual(new Map([['v1', record.id]]));
    expect((await store.listWaiting()).items).toEqual([record]);
    await store.close();
  });

  it('upgrade an older file at open, keeping its data; the older library then refuses it', async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const record = makeRecord();
    await store.insert([record]);
    await store.close();
    const upgraded = openSqliteStoreWith(path, {}, [
      ...MIGRATIONS,
      extraStep((db) => {
        db.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('migrated');");
      }),
    ]);
    const { db } = sqliteInternals(upgraded);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare('SELECT text FROM notes').pluck().all()).toEqual(['migrated']);
    expect(await upgraded.get(record.id)).toEqual(record);
    await upgraded.close();
    expectStoreError(
      openError(() => openSqliteStore(path)),
      'newer-schema',
      path,
    );
  });

  it('roll back every step when one fails, leaving the file at its version', async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const record = makeRecord();
    await store.insert([record]);
    await store.close();
    const error = openError(() =>
      openSqliteStoreWith(path, {}, [
        ...MIGRATIONS,
        extraStep((db) => {
          db.exec('CREATE TABLE half (x)');
          throw new Error('step failed');
        }),
        { to: MIGRATIONS.length + 2, description: 'never reached', up: () => undefined },
      ]),
    );
    expectStoreError(error, 'io', path);
    expect((error as StoreError).message).toContain('step failed');
    const again = openSqliteStore(path, { thread: 'main' });
    const { db } = sqliteInternals(again);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get()).toBe(
      0,
    );
    expect(await again.get(record.id)).toEqual(record);
    await again.close();
  });
});
