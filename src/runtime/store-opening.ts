/**
 * Opening the store: with a durable one, what an earlier process left comes back before anything
 * is submitted or admitted (the waiting line pages from the store, the ledger is replayed, the
 * unfinished tasks return: see recovery.ts), and the ledger's old entries are folded (see
 * ledger-compaction.ts). The one place that wires a store's contents into the running parts: a
 * store that answers later (Redis) plugs in here.
 */

import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import type { EngineSettings } from '../config/engine-options.js';
import { serializeError } from '../errors.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { Journal } from './journal.js';
import { compactLedger } from './ledger-compaction.js';
import type { Lifecycle } from './lifecycle.js';
import { type RecoveryCounts, recover } from './recovery.js';
import type { ResourceTakes } from './resources.js';
import { longestWindowMs } from './settings.js';
import type { Submission } from './submission.js';
import type { TaskActors } from './task-actors.js';
import type { WaitingTasks } from './waiting-tasks.js';

/** What opening the store needs from the engine. */
export interface StoreOpeningDeps {
  store: TaskStore;
  clock: Clock;
  settings(): EngineSettings;
  journal: Journal;
  waiting: WaitingTasks;
  lifecycle: Pick<Lifecycle, 'phase' | 'enqueue'>;
  taskActors: Pick<TaskActors, 'send'>;
  submission: Pick<Submission, 'continueAfter'>;
  resources: Pick<ResourceTakes, 'replay' | 'record'>;
  /** Sends an event to the supervisor and carries out what its actions asked for. */
  dispatch(event: SupervisorEvent): void;
  emit(event: EngineEvent): void;
  persist(record: TaskRecord): void;
}

export class StoreOpening {
  /** The store opened: with a durable store, what an earlier process left is back. */
  private opened: Promise<RecoveryCounts | undefined> | undefined;

  constructor(private readonly deps: StoreOpeningDeps) {}

  /**
   * Opens the store: with a durable one, brings back what an earlier process left (see
   * recovery.ts) before anything is submitted or admitted. Once; later calls share the first.
   * Resolves with what recovery found (`undefined` for a store that is not durable).
   */
  open(): Promise<RecoveryCounts | undefined> {
    this.opened ??= this.deps.store.durable
      ? this.recover().then(async (counts) => {
          await this.compact();
          return counts;
        })
      : Promise.resolve(undefined);
    return this.opened;
  }

  /**
   * Folds the ledger's old entries (see ledger-compaction.ts), once the journal's writes are in;
   * a failure is a `store.error` event and leaves the ledger as it was.
   */
  async compact(): Promise<void> {
    const { deps } = this;
    await deps.journal.settled();
    try {
      await compactLedger(deps.store, deps.clock.now(), longestWindowMs(deps.settings()));
    } catch (error) {
      this.storeError(error);
    }
  }

  private recover(): Promise<RecoveryCounts> {
    const { waiting, lifecycle, taskActors, journal, submission, store, resources } = this.deps;
    const window = this.deps.settings().waitingInMemory;
    waiting.line.usePaging({
      window,
      load: async (after, limit) => {
        // What the journal has not written yet (a retry that left memory) must be in the page.
        await journal.settled();
        const page = await store.listWaiting({ statuses: ['queued', 'retrying'], after, limit });
        return page.items;
      },
      refilled: () => {
        if (lifecycle.phase === 'running' || lifecycle.phase === 'stopping') {
          this.deps.dispatch({ type: 'queue.wake' });
        }
      },
      failed: (error) => this.storeError(error),
    });
    return recover({
      window,
      addBacklog: (counts, after) => waiting.line.addBacklog(counts, after),
      store,
      clock: this.deps.clock,
      // The ledger holds wall times; the windows run on this process's monotonic clock.
      replay: (stored) => resources.replay(stored),
      settle: (at, event) => resources.record(at, event),
      transition: (record, event) => taskActors.send(record, event),
      enqueue: (record, notBefore) => lifecycle.enqueue(record, notBefore),
      hold: (record) => waiting.paused.set(record.id, record),
      persist: this.deps.persist,
      continueAfter: (seq) => submission.continueAfter(seq),
      emit: this.deps.emit,
    });
  }

  private storeError(error: unknown): void {
    this.deps.emit({
      type: 'store.error',
      at: this.deps.clock.now(),
      taskId: '',
      error: serializeError(error),
    });
  }
}
