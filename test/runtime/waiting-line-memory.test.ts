/**
 * The waiting line lets go of the tasks that leave it: removal is lazy in its heaps, and a heap
 * that only pops from the top (`lastFirst` with paging, `deadlines`) would otherwise keep every
 * task that went through memory, record and result, for as long as the queue runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/internal/min-heap.js';
import { type Backlog, WaitingLine } from '../../src/runtime/waiting-line.js';
import type { TaskRecord } from '../../src/stores/types.js';
import { makeRecord } from '../stores/conformance.js';

/** A backlog that is never read: the line keeps everything it is given in memory. */
const emptyBacklog = (window: number): Backlog => ({
  window,
  load: async () => [],
  refilled: () => undefined,
  failed: (error) => {
    throw error;
  },
});

describe('MinHeap', () => {
  it('pops in key order, and retain keeps exactly the accepted items in heap order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1_000, max: 1_000 }), { maxLength: 200 }),
        fc.func(fc.boolean()),
        (keys, keep) => {
          const heap = new MinHeap<number>((k) => k);
          for (const k of keys) heap.push(k);
          heap.retain((k) => keep(k));
          const kept = keys.filter((k) => keep(k)).sort((a, b) => a - b);
          expect(heap.size).toBe(kept.length);
          const popped: number[] = [];
          for (let k = heap.pop(); k !== undefined; k = heap.pop()) popped.push(k);
          expect(popped).toEqual(kept);
        },
      ),
    );
  });
});

describe('WaitingLine memory', () => {
  const admitAll = (line: WaitingLine): number => {
    let admitted = 0;
    for (let head = line.peek(); head !== undefined; head = line.peek()) {
      line.take(head);
      admitted++;
    }
    return admitted;
  };

  it('with paging, holds entries for about the tasks in memory, not every task that passed', () => {
    const line = new WaitingLine();
    line.usePaging(emptyBacklog(100));
    let seq = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 50; i++) line.push(makeRecord({ seq: ++seq, priority: 'MEDIUM' }));
      expect(admitAll(line)).toBe(50);
    }
    // 10,000 tasks went through a window of 100.
    expect(line.heldEntries.lastFirst).toBeLessThanOrEqual(2 * 100 + 1_024);
    expect(line.size).toBe(0);
  });

  it('holds deadline entries for about the tasks waiting, not the ones that left', () => {
    const line = new WaitingLine();
    const withDeadline = (seq: number, priority: 'LOW' | 'HIGH'): TaskRecord => {
      const record = makeRecord({ id: `d${seq}`, seq, priority });
      record.config = { ...record.config, deadline: 3_600 };
      return record;
    };
    let seq = 0;
    // Ten low tasks wait all along; the high ones are cancelled or admitted.
    const waiting: TaskRecord[] = [];
    for (let i = 0; i < 10; i++) {
      const record = withDeadline(++seq, 'LOW');
      waiting.push(record);
      line.push(record);
    }
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 50; i++) line.push(withDeadline(++seq, 'HIGH'));
      for (let i = 0; i < 25; i++) expect(line.remove(`d${seq - i}`)).toBe(true);
      for (let head = line.peek(); head?.priority === 'HIGH'; head = line.peek()) line.take(head);
    }
    expect(line.size).toBe(10);
    expect(line.heldEntries.deadlines).toBeLessThanOrEqual(2 * 10 + 1_024);
    // What is left still expires in order.
    expect(line.takeExpired(Number.MAX_SAFE_INTEGER).map((r) => r.id)).toEqual(
      waiting.map((r) => r.id),
    );
  });

  it('with pages read back from the store and retries falling due: order kept, memory bounded', async () => {
    // The store: every task not yet taken, in admission order (one priority: by seq).
    const stored = new Map<string, TaskRecord>();
    const window = 100;
    let pages = 0;
    const backlog: Backlog = {
      window,
      load: async (after, limit) => {
        pages++;
        return [...stored.values()]
          .filter(
            (r) =>
              after === undefined || r.seq > after.seq || (r.seq === after.seq && r.id > after.id),
          )
          .sort((a, b) => a.seq - b.seq)
          .slice(0, limit)
          .map((r) => ({ ...r }));
      },
      refilled: () => undefined,
      failed: (error) => {
        throw error;
      },
    };
    const line = new WaitingLine();
    line.usePaging(backlog);
    const admitted: number[] = [];
    const retried = new Set<number>();
    const cancelled = new Set<number>();
    let mostGone = 0;
    let seq = 0;
    let now = 0;
    const submit = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const record = makeRecord({ id: `p${++seq}`, seq, priority: 'MEDIUM' });
        stored.set(record.id, record);
        line.push(record);
      }
    };
    submit(3_000);
    expect(line.size).toBe(3_000);
    expect(line.backlogSize).toBe(3_000 - window);
    while (line.size > 0) {
      now += 1;
      line.promoteDue(now);
      const head = line.peek();
      if (head === undefined) {
        // A page is being read, or only retries that are not due are left.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      line.take(head);
      // Every tenth task fails once and waits 5 ms to retry (in memory, as a retry does).
      if (head.seq % 10 === 0 && !retried.has(head.seq)) {
        retried.add(head.seq);
        line.push(head, now + 5);
        continue;
      }
      stored.delete(head.id);
      admitted.push(head.seq);
      if (seq < 6_000 && head.seq % 3 === 0) submit(2);
      // Every seventh admission cancels the next task that waits on disk (its write landed).
      if (admitted.length % 7 === 0) {
        const next = [...stored.values()]
          .filter((r) => !line.has(r.id) && !retried.has(r.seq))
          .sort((a, b) => a.seq - b.seq)[0];
        if (next !== undefined) {
          line.leaveBacklog(next);
          stored.delete(next.id);
          cancelled.add(next.seq);
        }
      }
      mostGone = Math.max(mostGone, line.heldEntries.gone);
    }
    expect(new Set(admitted).size).toBe(seq - cancelled.size);
    expect(admitted.length).toBe(seq - cancelled.size);
    expect(admitted.some((n) => cancelled.has(n))).toBe(false);
    // Cancelled tasks are forgotten once the pages have passed them.
    expect(cancelled.size).toBeGreaterThan(500);
    expect(mostGone).toBeLessThan(50);
    expect(retried.size).toBeGreaterThan(400);
    // Without retries the order is strict; a retry comes back after its delay.
    const plain = admitted.filter((n) => n % 10 !== 0);
    expect(plain).toEqual([...plain].sort((a, b) => a - b));
    expect(pages).toBeGreaterThan(50);
    expect(line.heldEntries.lastFirst).toBeLessThanOrEqual(2 * window + 1_024);
  });
});
