/**
 * Recovery: what the engine does when it opens a durable store that an earlier process wrote.
 *
 * 1. The ledger is replayed into the `rateLimit` and `budget` actors, event by event, so the
 *    windows and the total, daily and hourly spending are what they were. A hold that was never
 *    settled belongs to an attempt the process did not see end: its call may have been paid, so
 *    it is charged at its worst case (the budget never under-counts), and its window reservation
 *    keeps its reserved tokens. Both settlements go to the ledger too.
 * 2. The unfinished tasks come back: queued and retrying ones in line (in their priority order,
 *    a retry not before it is due; with paging, only the first `window` queued ones come to
 *    memory, the rest stay in the store as the line's backlog), paused ones paused. A task that
 *    was running goes back in line
 *    for a new attempt (`task.interrupt`: at-least-once; the interrupted attempt stays in its
 *    history). A child of a composite task is cancelled: its parent's attempt ended with the
 *    process, and the parent's next attempt submits its own children.
 * 3. New tasks are numbered after the stored ones.
 *
 * Finished tasks stay as they were. Nothing here runs for a store that is not durable.
 */

import { TASK_MACHINE_VERSION, type TaskMachineEvent } from '../../machines/task.machine.js';
import {
  PRIORITIES_HIGH_FIRST,
  type Priority,
  type TaskStatus,
} from '../../machines/task-status.js';
import { StoreError } from '../errors.js';
import type { StoredLedgerEntry, TaskRecord, TaskStore, WaitingPosition } from '../stores/types.js';
import { type Clock, monotonicNow } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { LedgerEvent } from './resources.js';
import { machineInput } from './task-actors.js';
import { firstRunningSnapshot } from './task-snapshots.js';

/** Ledger entries and tasks are read this many at a time. */
const PAGE = 1_000;

/** The unfinished tasks that are not simply queued. */
const OTHERS: readonly TaskStatus[] = ['retrying', 'paused', 'running'];

export interface RecoveryDeps {
  store: TaskStore;
  clock: Clock;
  /** Sends a replayed ledger event to its actor (not to the ledger: it is there already). */
  replay(event: LedgerEvent): void;
  /** Sends a ledger event to its actor and writes it to the ledger. */
  settle(at: number, event: LedgerEvent): void;
  /** Applies an event to a waiting task through its machine (updates status, history, snapshot). */
  transition(record: TaskRecord, event: TaskMachineEvent): void;
  /** Puts a task in line (a retry, not before `notBefore`). */
  enqueue(record: TaskRecord, notBefore: number): void;
  /** Holds a paused task out of the line. */
  hold(record: TaskRecord): void;
  persist(record: TaskRecord): void;
  /** Numbers new tasks after `seq`. */
  continueAfter(seq: number): void;
  /** With paging: how many queued tasks come back to memory at most; the rest stay stored. */
  window: number | undefined;
  /** With paging: the stored queued tasks left in the store, by priority, all after `after`. */
  addBacklog(counts: Record<Priority, number>, after: WaitingPosition): void;
  emit(event: EngineEvent): void;
}

/** What recovery found, as the `queue.recovered` event reports it. */
export interface RecoveryCounts {
  /** Tasks back in line: queued, retrying and interrupted ones. */
  requeued: number;
  /** Of those, tasks whose attempt the process did not see end. */
  interrupted: number;
  paused: number;
  /** Children of interrupted composite tasks, cancelled. */
  cancelled: number;
  /** Holds settled at their worst case, and the micro-dollars they were charged. */
  openHolds: number;
  openHoldMicros: number;
}

/** A hold or reservation the ledger shows no settlement for, by task. */
interface OpenTakes {
  holds: Map<string, number>;
  reservations: Map<string, number>;
}

function isLedgerEvent(event: unknown): event is LedgerEvent {
  if (typeof event !== 'object' || event === null || !('type' in event)) return false;
  const { type } = event;
  return (
    type === 'rate.reserve' ||
    type === 'rate.reconcile' ||
    type === 'rate.hints' ||
    type === 'budget.hold' ||
    type === 'budget.commit' ||
    type === 'budget.resetTotal'
  );
}

async function replayLedger(deps: RecoveryDeps): Promise<OpenTakes> {
  const open: OpenTakes = { holds: new Map(), reservations: new Map() };
  let after = 0;
  for (;;) {
    const page: StoredLedgerEntry[] = await deps.store.readLedger({ after, limit: PAGE });
    for (const entry of page) {
      after = entry.seq;
      const { event } = entry;
      if (!isLedgerEvent(event)) continue;
      deps.replay(event);
      switch (event.type) {
        case 'rate.reserve':
          open.reservations.set(event.taskId, event.tokens);
          break;
        case 'rate.reconcile':
          open.reservations.delete(event.taskId);
          break;
        case 'budget.hold':
          open.holds.set(event.taskId, event.amount);
          break;
        case 'budget.commit':
          open.holds.delete(event.taskId);
          break;
        default:
          break;
      }
    }
    if (page.length < PAGE) return open;
  }
}

/** Brings back what an earlier process left in a durable store (see the module's header). */
export async function recover(deps: RecoveryDeps): Promise<RecoveryCounts> {
  const counts: RecoveryCounts = {
    requeued: 0,
    interrupted: 0,
    paused: 0,
    cancelled: 0,
    openHolds: 0,
    openHoldMicros: 0,
  };
  const now = deps.clock.now();
  const open = await replayLedger(deps);
  for (const [taskId, amount] of open.holds) {
    deps.settle(now, { type: 'budget.commit', at: now, taskId, actual: amount });
    counts.openHolds++;
    counts.openHoldMicros += amount;
  }
  // A call in flight when the process ended may have been sent at any moment until then: it
  // counts in the windows as sent now, the latest it can have been.
  const sentAt = monotonicNow(deps.clock);
  for (const [taskId, tokens] of open.reservations) {
    deps.settle(now, { type: 'rate.reconcile', taskId, tokens, sentAt });
  }
  deps.continueAfter(await deps.store.lastSeq());

  // The tasks that ran, were held or wait to retry (as many as ran at once, were paused, wait
  // for a retry): all of them come back to memory.
  const others = await readAll(deps.store, OTHERS);
  // The queued ones: the first `window` in admission order; the rest stay in the store, counted.
  const window = deps.window ?? Number.POSITIVE_INFINITY;
  let loaded = 0;
  let last: TaskRecord | undefined;
  let more = false;
  const inMemory: Record<Priority, number> = { URGENT: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
  let cursor: string | undefined;
  do {
    const limit = Math.min(PAGE, window - loaded);
    const page = await deps.store.listWaiting({ statuses: ['queued'], cursor, limit });
    for (const record of page.items) {
      bringBack(record, now, deps, counts);
      // Counted as stored even if it is a child cancelled here (its cancel is not written yet).
      inMemory[record.priority]++;
      last = record;
    }
    loaded += page.items.length;
    cursor = page.nextCursor ?? undefined;
    more = cursor !== undefined;
  } while (more && loaded < window);
  if (more && last !== undefined) {
    const stored = await deps.store.countWaiting(['queued']);
    const backlog = { ...stored };
    for (const p of PRIORITIES_HIGH_FIRST) backlog[p] = Math.max(0, stored[p] - inMemory[p]);
    deps.addBacklog(backlog, { priority: last.priority, seq: last.seq, id: last.id });
    counts.requeued += Object.values(backlog).reduce((a, b) => a + b, 0);
  }
  // After the backlog is counted: an interrupted task beyond the window joins the backlog (the
  // store has it queued once the journal's next commit lands, before any page is read).
  for (const record of others) bringBack(record, now, deps, counts);
  deps.emit({ type: 'queue.recovered', at: now, ...counts });
  return counts;
}

/** Every task in these statuses, in admission order. */
async function readAll(store: TaskStore, statuses: readonly TaskStatus[]): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listWaiting({ statuses, cursor, limit: PAGE });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** Refuses a task whose machine snapshot a newer task machine wrote. */
function checkSnapshotVersion(record: TaskRecord): void {
  const version = (record.snapshot as { context?: { machineVersion?: unknown } } | undefined)
    ?.context?.machineVersion;
  if (typeof version === 'number' && version > TASK_MACHINE_VERSION) {
    throw new StoreError(
      `task '${record.id}' was saved by a newer task machine (version ${version}; this library has ${TASK_MACHINE_VERSION}): upgrade ai-task-queue to resume this store`,
      'newer-schema',
    );
  }
}

function bringBack(
  record: TaskRecord,
  now: number,
  deps: RecoveryDeps,
  counts: RecoveryCounts,
): void {
  checkSnapshotVersion(record);
  if (record.parentId !== undefined) {
    deps.transition(record, { type: 'task.cancel', at: now });
    record.completedAt = now;
    record.notBefore = undefined;
    deps.persist(record);
    counts.cancelled++;
    return;
  }
  switch (record.status) {
    case 'paused':
      deps.hold(record);
      counts.paused++;
      return;
    case 'running': {
      // The snapshot written when the attempt started; a store written without one gets the
      // snapshot of a first attempt started then.
      if (record.snapshot === undefined) {
        record.snapshot = firstRunningSnapshot(
          machineInput(record),
          record.startedAt ?? record.createdAt,
        );
      }
      deps.transition(record, { type: 'task.interrupt', at: now });
      record.notBefore = undefined;
      deps.persist(record);
      deps.enqueue(record, 0);
      counts.interrupted++;
      counts.requeued++;
      return;
    }
    case 'retrying':
      deps.enqueue(record, Math.max(record.notBefore ?? 0, 1));
      counts.requeued++;
      return;
    default:
      deps.enqueue(record, 0);
      counts.requeued++;
  }
}
