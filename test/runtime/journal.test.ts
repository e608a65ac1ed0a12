/**
 * The journal hands each turn's writes to the store as one commit. A store that applies commits
 * in call order (`ordersCommits`, the SQLite store) gets the next commit while the last is still
 * in flight; any other store gets it only once the last has settled.
 */

import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { Journal } from '../../src/runtime/journal.js';
import { MemoryTaskStore } from '../../src/stores/memory.js';
import type { StoreWrite, TaskStore } from '../../src/stores/types.js';
import { makeRecord } from '../stores/records.js';

/** A store whose commits wait until the test lets them through, one at a time. */
function slowStore(ordersCommits: boolean) {
  const commits: StoreWrite[] = [];
  const release: Array<() => void> = [];
  const store = Object.assign(new MemoryTaskStore(), {
    holdsRecordsByReference: false,
    durable: true,
    ordersCommits,
    commit(write: StoreWrite) {
      commits.push(write);
      return new Promise<void>((resolve) => release.push(resolve));
    },
  }) as TaskStore;
  return { store, commits, release };
}

/** Lets pending microtasks and promise callbacks run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each([
  { ordersCommits: true, inFlight: 2 },
  { ordersCommits: false, inFlight: 1 },
])('Journal with ordersCommits $ordersCommits', ({ ordersCommits, inFlight }) => {
  it(`has ${inFlight} commit(s) in flight when two turns wrote`, async () => {
    const { store, commits, release } = slowStore(ordersCommits);
    const journal = new Journal({
      store,
      clock: new SimulatedClock(),
      emit: () => undefined,
      compact: () => undefined,
    });
    const first = makeRecord();
    journal.persist(first);
    const firstWritten = journal.written();
    await turn();
    const second = makeRecord();
    journal.persist(second);
    const bothWritten = journal.written();
    await turn();
    expect(commits.map((c) => c.update?.map((r) => r.id))).toEqual(
      [[first.id], [second.id]].slice(0, inFlight),
    );
    release.shift()?.();
    await firstWritten;
    await turn();
    expect(commits).toHaveLength(2);
    release.shift()?.();
    await bothWritten;
  });
});
