import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreError, ValidationError } from '../../src/errors.js';
import { MemoryTaskStore } from '../../src/stores/memory.js';
import type { TaskRecord, TaskStore } from '../../src/stores/types.js';
import { describeTaskStore, makeRecord } from './conformance.js';

describeTaskStore('memory', () => new MemoryTaskStore());

async function listAll(store: TaskStore, limit: number): Promise<TaskRecord[]> {
  const all: TaskRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.list(cursor === null ? { limit } : { limit, cursor });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

function inListOrder(records: readonly TaskRecord[]): TaskRecord[] {
  return [...records].sort((a, b) =>
    a.seq !== b.seq ? a.seq - b.seq : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
}

describe('MemoryTaskStore', () => {
  it("is named 'memory' and is not durable", () => {
    expect(new MemoryTaskStore().name).toBe('memory');
    expect(new MemoryTaskStore().durable).toBe(false);
  });

  it("rejects calls after close with StoreError of reason 'closed'", async () => {
    const store = new MemoryTaskStore();
    await store.close();
    const error = await store.get('x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).reason).toBe('closed');
  });

  it('follows an idempotency key changed in place on the stored object', async () => {
    const store = new MemoryTaskStore();
    const record = makeRecord({ idempotencyKey: 'before' });
    const other = makeRecord({ idempotencyKey: 'taken' });
    await store.insert([record, other]);
    record.idempotencyKey = 'after';
    await store.update(record);
    expect(await store.findByIdempotencyKeys(['before', 'after'])).toEqual(
      new Map([['after', record.id]]),
    );
    record.idempotencyKey = undefined;
    await store.update(record);
    expect(await store.findByIdempotencyKeys(['after'])).toEqual(new Map());
    await store.insert([makeRecord({ idempotencyKey: 'after' })]);
    expect((await store.findByIdempotencyKeys(['after'])).size).toBe(1);
  });

  it('keeps ledger entries and admission order by reference, cheaply', async () => {
    const store = new MemoryTaskStore();
    const event = { type: 'budget.hold', amount: 3 };
    await store.commit({ ledger: [{ at: 1, event }] });
    const [entry] = await store.readLedger();
    expect(entry?.event).toBe(event);
    const records = [makeRecord({ priority: 'LOW' }), makeRecord({ priority: 'URGENT' })];
    await store.insert(records);
    expect((await store.listWaiting()).items).toEqual([records[1], records[0]]);
    expect((await store.listWaiting()).items[0]).toBe(records[1]);
  });

  it('lists waiting tasks in admission order whatever the order of inserts and seq changes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 30 }),
            fc.constantFrom('LOW', 'MEDIUM', 'HIGH', 'URGENT' as const),
          ),
          { maxLength: 30 },
        ),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 30 })), { maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        async (specs, reseqs, limit) => {
          const store = new MemoryTaskStore();
          let model = specs.map(([seq, priority]) => makeRecord({ seq, priority }));
          await store.insert(model);
          for (const [pick, seq] of reseqs) {
            const current = model[pick % Math.max(model.length, 1)];
            if (current === undefined) break;
            const next = { ...current, seq };
            await store.update(next);
            model = model.map((r) => (r.id === next.id ? next : r));
          }
          const rank = (r: TaskRecord) => ['URGENT', 'HIGH', 'MEDIUM', 'LOW'].indexOf(r.priority);
          const expected = [...model].sort(
            (a, b) =>
              rank(a) - rank(b) || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
          );
          const all: TaskRecord[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.listWaiting(
              cursor === undefined ? { limit } : { limit, cursor },
            );
            all.push(...page.items);
            cursor = page.nextCursor ?? undefined;
          } while (cursor !== undefined);
          expect(all).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps records by reference: get and list return the inserted objects', async () => {
    const store = new MemoryTaskStore();
    const record = makeRecord();
    const other = makeRecord();
    await store.insert([record, other]);
    expect(await store.get(record.id)).toBe(record);
    const page = await store.list();
    expect(page.items[0]).toBe(record);
    expect(page.items[1]).toBe(other);
  });

  it('sees changes made in place; update of the same object only checks existence', async () => {
    const store = new MemoryTaskStore();
    const record = makeRecord({ status: 'queued' });
    await store.insert([record]);
    record.status = 'running';
    record.attempts = 1;
    expect((await store.countByStatus()).running).toBe(1);
    expect((await store.list({ status: 'running' })).items).toEqual([record]);
    await store.update(record);
    expect(await store.get(record.id)).toBe(record);
  });

  it('replaces the entry when update is given another object, keeping its place', async () => {
    const store = new MemoryTaskStore();
    const records = [makeRecord(), makeRecord(), makeRecord()];
    await store.insert(records);
    const [first] = records;
    if (first === undefined) throw new Error('unreachable');
    const copy = { ...first, status: 'paused' as const };
    await store.update(copy);
    expect(await store.get(first.id)).toBe(copy);
    expect((await store.list()).items[0]).toBe(copy);
    expect(first.status).toBe('queued');
  });

  it('adds nothing to the records it holds', async () => {
    const store = new MemoryTaskStore();
    const record = makeRecord();
    const keys = Object.keys(record);
    const snapshot = structuredClone(record);
    await store.insert([record]);
    await store.update(record);
    await store.list({ status: 'queued' });
    await store.countByStatus();
    expect(Object.keys(record)).toEqual(keys);
    expect(record).toEqual(snapshot);
    expect(Object.isFrozen(record)).toBe(false);
  });

  it('rejects a non-finite seq with ValidationError naming seq, inserting nothing', async () => {
    const store = new MemoryTaskStore();
    const good = makeRecord();
    const error = await store.insert([good, makeRecord({ seq: Number.NaN })]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('seq');
    expect(await store.get(good.id)).toBeUndefined();
  });

  it('lists in order whatever the order of inserts and seq changes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 5 }), {
          maxLength: 8,
        }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 30 })), { maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        async (batches, reseqs, pageSize, emptyHalfway) => {
          const store = new MemoryTaskStore();
          let model: TaskRecord[] = [];
          for (const [index, seqs] of batches.entries()) {
            if (emptyHalfway && index === Math.floor(batches.length / 2)) {
              await store.remove(model.map((r) => r.id));
              model = [];
            }
            const batch = seqs.map((seq) => makeRecord({ seq }));
            await store.insert(batch);
            model.push(...batch);
            expect(await listAll(store, pageSize)).toEqual(inListOrder(model));
          }
          for (const [pick, seq] of reseqs) {
            const current = model[pick % Math.max(model.length, 1)];
            if (current === undefined) break;
            const next = { ...current, seq };
            await store.update(next);
            model = model.map((r) => (r.id === next.id ? next : r));
            expect(await listAll(store, pageSize)).toEqual(inListOrder(model));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('holds 100,000 waiting tasks and pages through them', async () => {
    const store = new MemoryTaskStore();
    const records = Array.from({ length: 100_000 }, () => makeRecord());
    await store.insert(records);
    expect((await store.countByStatus()).queued).toBe(100_000);
    const first = await store.list({ limit: 1000 });
    expect(first.items[0]).toBe(records[0]);
    let cursor = first.nextCursor;
    let seen = first.items.length;
    while (cursor !== null) {
      const page = await store.list({ limit: 1000, cursor });
      seen += page.items.length;
      cursor = page.nextCursor;
    }
    expect(seen).toBe(100_000);
    expect(await store.remove(records.slice(0, 50_000).map((r) => r.id))).toBe(50_000);
    expect((await store.list({ limit: 1 })).items[0]).toBe(records[50_000]);
  });
});
