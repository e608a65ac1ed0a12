/**
 * Compaction of a durable store's ledger, so that it does not grow with every call for ever and
 * a restart does not replay a month of entries.
 *
 * Entries older than `keepMs` (at least 26 hours: the current calendar day and hour of any time
 * zone started within it, and at least the longest rate window) count only towards the total
 * spent: their windows have passed, and so have their days and hours. They are folded into one
 * `budget.commit` of their sum (after the last `budget.resetTotal` among them) in place of the
 * last of them, in one step (`compactLedger`). A hold among them that was never settled stops
 * the fold before it, so recovery still finds it open.
 */

import type { StoredLedgerEntry, TaskStore } from '../stores/types.js';

/** Entries are kept at least this long (ms). */
export const MIN_LEDGER_KEEP_MS = 26 * 3_600_000;
/** A running engine compacts again after writing this many ledger entries. */
export const COMPACT_EVERY_ENTRIES = 50_000;
/** Fewer foldable entries than this are left as they are. */
const MIN_FOLD = 1_000;
const PAGE = 1_000;

interface LedgerEventShape {
  type?: unknown;
  actual?: unknown;
  taskId?: unknown;
}

/** Reads the entries with `at < cutoff` from the start, page by page, until `visit` says stop. */
async function walkOld(
  store: TaskStore,
  cutoff: number,
  visit: (entry: StoredLedgerEntry, event: LedgerEventShape) => boolean,
): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await store.readLedger({ after, limit: PAGE });
    for (const entry of page) {
      if (entry.at >= cutoff) return;
      if (!visit(entry, (entry.event ?? {}) as LedgerEventShape)) return;
      after = entry.seq;
    }
    if (page.length < PAGE) return;
  }
}

/**
 * Folds the ledger entries older than `now - keepMs` (see the module's header). Resolves with
 * how many entries were folded (0 when there were too few to bother).
 */
export async function compactLedger(
  store: TaskStore,
  now: number,
  keepMs: number,
): Promise<number> {
  const cutoff = now - Math.max(keepMs, MIN_LEDGER_KEEP_MS);
  // First pass: where the fold must end (before the first hold it would leave open).
  const openHolds = new Map<string, number>();
  let lastOld = 0;
  await walkOld(store, cutoff, (entry, event) => {
    lastOld = entry.seq;
    if (typeof event.taskId === 'string') {
      if (event.type === 'budget.hold') openHolds.set(event.taskId, entry.seq);
      else if (event.type === 'budget.commit') openHolds.delete(event.taskId);
    }
    return true;
  });
  let firstOpen = Number.POSITIVE_INFINITY;
  for (const seq of openHolds.values()) if (seq < firstOpen) firstOpen = seq;
  // Second pass: the sum, and the last entry folded.
  let total = 0;
  let through: StoredLedgerEntry | undefined;
  let folded = 0;
  await walkOld(store, cutoff, (entry, event) => {
    if (entry.seq >= firstOpen || entry.seq > lastOld) return false;
    if (event.type === 'budget.resetTotal') total = 0;
    else if (event.type === 'budget.commit' && typeof event.actual === 'number') {
      total += event.actual;
    }
    through = entry;
    folded++;
    return true;
  });
  if (through === undefined || folded < MIN_FOLD) return 0;
  const at = through.at;
  await store.compactLedger(through.seq, {
    at,
    event: { type: 'budget.commit', at, taskId: '', actual: total },
  });
  return folded;
}
