/**
 * Recovery: what the engine does when it opens a durable store that an earlier process wrote.
 *
 * 1. The ledger is replayed into the `rateLimit` and `budget` actors, event by event, so the
 *    windows and the total, daily and hourly spending are what they were. A hold that was never
 *    settled belongs to an attempt the process did not see end: its call may have been paid, so
 *    it is charged at its worst case (the budget never under-counts), and its window reservation
 *    keeps its reserved tokens. Both settlements go to the ledger too.
 * 2. The unfinished tasks come back: queued and retrying ones in line (in their priority order,
 *    a retry not before it is due), paused ones paused. A task that was running goes back in line
 *    for a new attempt (`task.interrupt`: at-least-once; the interrupted attempt stays in its
 *    history). A child of a composite task is cancelled: its parent's attempt ended with the
 *    process, and the parent's next attempt submits its own children.
 * 3. New tasks are numbered after the stored ones.
 *
 * Finished tasks stay as they were. Nothing here runs for a store that is not durable.
 */

import type { TaskMachineEvent } from '../../machines/task.machine.js';
import type { TaskStatus } from '../../machines/task-status.js';
import type { StoredLedgerEntry, TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { LedgerEvent } from './resources.js';
import { machineInput } from './task-actors.js';
import { firstRunningSnapshot } from './task-snapshots.js';

/** Ledger entries and tasks are read this many at a time. */
const PAGE = 1_000;

const UNFINISHED: readonly TaskStatus[] = ['queued', 'retrying', 'paused', 'running'];

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
  for (const [taskId, tokens] of open.reservations) {
    deps.settle(now, { type: 'rate.reconcile', taskId, tokens });
  }
  deps.continueAfter(await deps.store.lastSeq());

  let cursor: string | undefined;
  do {
    const page = await deps.store.listWaiting({ statuses: UNFINISHED, cursor, limit: PAGE });
    for (const record of page.items) bringBack(record, now, deps, counts);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  deps.emit({ type: 'queue.recovered', at: now, ...counts });
  return counts;
}

function bringBack(
  record: TaskRecord,
  now: number,
  deps: RecoveryDeps,
  counts: RecoveryCounts,
): void {
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
