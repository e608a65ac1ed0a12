/**
 * The journal: every write the engine makes to its store after submission goes through here.
 * Changed tasks, removals and ledger entries (the resource events a durable store keeps, see
 * `ledger.ts`) collect during a turn of the event loop and land in the store as one
 * `commit`: one transaction in a durable store, so the store is not the bottleneck. A store that
 * keeps commits in order is handed one every {@link COMMIT_TASKS} changed tasks within a turn.
 *
 * It is also where the write-ahead promises are kept: `written()` resolves once everything
 * recorded so far is in the store. An attempt waits for it before its call is sent (its hold and
 * its `running` status are committed first), and a durable store's result is committed before
 * its task counts as completed (see `running.ts`).
 *
 * A store that keeps the engine's own record objects (the memory store) has nothing to write
 * for a changed task; a store that is not durable gets no ledger (nothing replays it).
 */

import { serializeError } from '../errors.js';
import type { LedgerEntry, TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import { COMPACT_EVERY_ENTRIES } from './ledger-compaction.js';

const DONE: Promise<void> = Promise.resolve();

/**
 * The most changed tasks a commit to a store that keeps commits in order takes before it is
 * handed over, without waiting for the end of the turn. A wave of tasks (calls that end together,
 * and the tasks admitted into their slots) then goes in commits of about this size, one after
 * another: the store's thread commits the first while the engine records the next, where one
 * commit a wave had the two threads take turns: at concurrency 50 the SQLite line ran a median
 * 17% more tasks a second; at 10 and 400 the same within the noise (docs/benchmarks.md).
 */
export const COMMIT_TASKS = 32;

export interface JournalDeps {
  store: TaskStore;
  clock: Clock;
  emit(event: EngineEvent): void;
  /** Called each time `COMPACT_EVERY_ENTRIES` more ledger entries have been written. */
  compact(): void;
  /**
   * Runs, just before the turn's commit takes what was recorded (not before a mid-turn hand-over),
   * the work of this turn whose writes belong in it: the supervisor's admission step for the
   * slots given back in this turn (`AdmissionLoop.flushSettled`), so the `running` records of
   * the tasks it admits go in the same commit as the results of the tasks whose calls just ended.
   */
  beforeCommit?(): void;
}

export class Journal {
  private readonly updates = new Map<string, TaskRecord>();
  private removals: string[] = [];
  private entries: LedgerEntry[] = [];
  /** The commit that will take what is recorded now (made on the first record of a turn). */
  private next: Promise<void> | undefined;
  /** How `next` is settled, once its commit is handed to the store. */
  private settleNext: { resolve(): void; reject(error: unknown): void } | undefined;
  /** The commit in flight (its promise settles when the store has it). */
  private last: Promise<void> = DONE;
  /** Set while a commit takes what was recorded (what its `beforeCommit` records joins it). */
  private taking = false;
  private readonly byReference: boolean;
  /** Whether the store applies commits in call order (a commit need not wait for the last). */
  private readonly ordered: boolean;
  /** Ledger entries recorded since the ledger was last compacted. */
  private sinceCompaction = 0;
  /** Whether the store outlives the process: only then are ledger entries kept. */
  readonly durable: boolean;

  constructor(private readonly deps: JournalDeps) {
    this.byReference = deps.store.holdsRecordsByReference === true;
    this.ordered = deps.store.ordersCommits === true;
    this.durable = deps.store.durable;
  }

  /** Records that a stored task changed; written with the turn's commit. */
  persist(record: TaskRecord): void {
    if (this.byReference) return;
    this.updates.set(record.id, record);
    this.schedule();
    if (this.ordered && !this.taking && this.updates.size >= COMMIT_TASKS) this.handOver();
  }

  /** Records a resource event for the ledger (only a durable store keeps one). */
  ledger(entry: LedgerEntry): void {
    if (!this.durable) return;
    this.entries.push(entry);
    this.schedule();
    if (++this.sinceCompaction >= COMPACT_EVERY_ENTRIES) {
      this.sinceCompaction = 0;
      this.deps.compact();
    }
  }

  /**
   * Removes tasks from the store with the turn's commit (a change recorded for them earlier in
   * the turn is dropped). Resolves once they are gone.
   */
  remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return DONE;
    for (const id of ids) {
      this.updates.delete(id);
      this.removals.push(id);
    }
    return this.schedule();
  }

  /**
   * Resolves once everything recorded so far is in the store; rejects with the store's error
   * when the commit that carried it failed.
   */
  written(): Promise<void> {
    return this.next ?? this.last;
  }

  /** Whether a commit is pending or in flight (the stop waits for it). */
  async settled(): Promise<void> {
    await this.written().catch(() => undefined);
  }

  private schedule(): Promise<void> {
    if (this.next !== undefined) return this.next;
    const previous = this.last;
    // One commit per turn, after the commits before it (a store may take its time); handed over
    // at once to a store that keeps them in order anyway.
    const next = new Promise<void>((resolve, reject) => {
      const settle = { resolve, reject };
      this.settleNext = settle;
      queueMicrotask(() => {
        // Handed over already (`handOver`): what was recorded since has a commit of its own.
        if (this.settleNext !== settle) return;
        this.settleNext = undefined;
        const flushed = this.ordered
          ? this.flush()
          : previous.catch(() => undefined).then(() => this.flush());
        flushed.then(resolve, reject);
      });
    });
    this.next = next;
    this.last = next;
    // A failed commit is reported as `store.error` events; whoever waits for it sees it too.
    next.catch(() => undefined);
    return next;
  }

  /**
   * Hands the pending commit to a store that keeps commits in order now, before the end of the
   * turn (see {@link COMMIT_TASKS}); what is recorded after it goes in the next one.
   */
  private handOver(): void {
    const settle = this.settleNext;
    if (settle === undefined) return;
    this.settleNext = undefined;
    // Not `beforeCommit`: this runs inside whatever recorded the change (a task mid-settlement),
    // where a supervisor step could find the queue idle before that task has settled.
    this.flush(false).then(settle.resolve, settle.reject);
  }

  /** `atTurnEnd`: the commit of the turn, made in a microtask (it runs `beforeCommit` first). */
  private async flush(atTurnEnd = true): Promise<void> {
    if (atTurnEnd) {
      // What it records joins this commit: `next` is still this commit's promise.
      this.taking = true;
      try {
        this.deps.beforeCommit?.();
      } finally {
        this.taking = false;
      }
    }
    this.next = undefined;
    const update = [...this.updates.values()];
    const remove = this.removals;
    const ledger = this.entries;
    this.updates.clear();
    this.removals = [];
    this.entries = [];
    if (update.length === 0 && remove.length === 0 && ledger.length === 0) return;
    try {
      await this.deps.store.commit({ update, remove, ledger });
    } catch (error) {
      const at = this.deps.clock.now();
      const serialized = serializeError(error);
      const ids = new Set<string>([...update.map((r) => r.id), ...remove]);
      for (const entry of ledger) if (entry.taskId !== undefined) ids.add(entry.taskId);
      if (ids.size === 0) ids.add('');
      for (const taskId of ids) {
        this.deps.emit({ type: 'store.error', at, taskId, error: serialized });
      }
      throw error;
    }
  }
}
