/**
 * Ledger compaction (issue 16: the store's file is kept small): entries older than the windows and
 * the current day fold into one charge, and replaying the compacted ledger gives the same total,
 * daily and hourly spending, and the same open holds, as replaying the whole one.
 */

import { describe, expect, it } from 'vitest';
import { budgetTransition } from '../../machines/budget.logic.js';
import { BudgetBook } from '../../src/limits/budget-book.js';
import { compactLedger, MIN_LEDGER_KEEP_MS } from '../../src/runtime/ledger-compaction.js';
import type { LedgerEvent } from '../../src/runtime/resources.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { LedgerEntry, StoredLedgerEntry, TaskStore } from '../../src/stores/types.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 6, 12, 30);

async function readAll(store: TaskStore): Promise<StoredLedgerEntry[]> {
  const out: StoredLedgerEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readLedger({ after, limit: 1_000 });
    out.push(...page);
    if (page.length < 1_000) return out;
    after = page[page.length - 1]?.seq ?? after;
  }
}

/** The budget as recovery rebuilds it from these entries. */
function replay(entries: readonly LedgerEntry[]) {
  let context = { ledger: BudgetBook.of({}, 'UTC') as BudgetBook };
  for (const { event } of entries) {
    const e = event as LedgerEvent;
    if (e.type.startsWith('budget.')) {
      context = budgetTransition(context, e as Parameters<typeof budgetTransition>[1]) as {
        ledger: BudgetBook;
      };
    }
  }
  return {
    spent: context.ledger.ledger.spent(NOW),
    held: context.ledger.ledger.held(),
    openHolds: context.ledger.openHolds,
  };
}

function entry(at: number, event: LedgerEvent): LedgerEntry {
  return { at, taskId: 'taskId' in event ? event.taskId : undefined, event };
}

/** A call: its reservation, its hold, and (unless `open`) their settlement. */
function call(at: number, id: string, cost: number, open = false): LedgerEntry[] {
  const out = [
    entry(at, { type: 'rate.reserve', at, taskId: id, model: 'm', requests: 1, tokens: 100 }),
    entry(at, { type: 'budget.hold', at, taskId: id, amount: cost * 3 }),
  ];
  if (!open) {
    out.push(entry(at + 1, { type: 'rate.reconcile', taskId: id, tokens: 50 }));
    out.push(entry(at + 1, { type: 'budget.commit', at: at + 1, taskId: id, actual: cost }));
  }
  return out;
}

describe('compactLedger', () => {
  it('folds the old entries into one charge; the replay gives the same budget', async () => {
    const store = openSqliteStore(':memory:');
    const entries: LedgerEntry[] = [];
    // Three days ago: 600 calls, a reset of the total, 600 more.
    for (let i = 0; i < 600; i++) entries.push(...call(NOW - 72 * HOUR + i * 10, `a${i}`, 7));
    entries.push({ at: NOW - 60 * HOUR, event: { type: 'budget.resetTotal' } });
    for (let i = 0; i < 600; i++) entries.push(...call(NOW - 50 * HOUR + i * 10, `b${i}`, 5));
    // Today, this hour and an hour before: they stay.
    for (let i = 0; i < 20; i++) entries.push(...call(NOW - 2 * HOUR + i, `c${i}`, 11));
    for (let i = 0; i < 20; i++) entries.push(...call(NOW - 10 * 60_000 + i, `d${i}`, 13));
    await store.commit({ ledger: entries });
    const before = replay(await readAll(store));

    const folded = await compactLedger(store, NOW, 60_000);
    const after = await readAll(store);
    expect(folded).toBe(600 * 4 + 1 + 600 * 4);
    expect(after).toHaveLength(1 + 40 * 4);
    expect(after[0]?.event).toEqual({
      type: 'budget.commit',
      at: NOW - 50 * HOUR + 599 * 10 + 1,
      taskId: '',
      actual: 600 * 5,
    });
    expect(replay(after)).toEqual(before);
    expect(before.spent).toEqual({
      total: 600 * 5 + 20 * 11 + 20 * 13,
      daily: 20 * 11 + 20 * 13,
      hourly: 20 * 13,
    });
    // Nothing more to fold: the same ledger.
    expect(await compactLedger(store, NOW, 60_000)).toBe(0);
    await store.close();
  });

  it('stops before a hold it would leave open, so recovery still charges it', async () => {
    const store = openSqliteStore(':memory:');
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < 1_500; i++) entries.push(...call(NOW - 80 * HOUR + i * 10, `e${i}`, 2));
    entries.push(...call(NOW - 40 * HOUR, 'open', 9, true));
    for (let i = 0; i < 10; i++) entries.push(...call(NOW - 39 * HOUR + i * 10, `f${i}`, 2));
    await store.commit({ ledger: entries });
    const before = replay(await readAll(store));
    expect(before.openHolds).toBe(1);
    expect(await compactLedger(store, NOW, 60_000)).toBe(1_500 * 4 + 1);
    const after = await readAll(store);
    expect(replay(after)).toEqual(before);
    expect(after.some((e) => e.taskId === 'open')).toBe(true);
    await store.close();
  });

  it('keeps the entries of a rate window longer than a day', async () => {
    const store = openSqliteStore(':memory:');
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < 1_200; i++) entries.push(...call(NOW - 40 * HOUR + i * 10, `g${i}`, 1));
    await store.commit({ ledger: entries });
    expect(await compactLedger(store, NOW, 48 * HOUR)).toBe(0);
    expect(await compactLedger(store, NOW, MIN_LEDGER_KEEP_MS)).toBe(1_200 * 4);
    await store.close();
  });
});
