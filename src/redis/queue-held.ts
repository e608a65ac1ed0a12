/**
 * The jobs one worker of a shared queue holds (see queue-worker.ts): taken from the queue, not
 * yet given back or ended. It keeps their locks (extended every third of `lockMs`, with the
 * worker's heartbeat; a lost lock cancels the task here, unreported), writes the running record
 * of each attempt that starts, and tells when nothing is held any more.
 */

import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TransportHost } from '../runtime/transport.js';
import { JOB_DATA_VERSION, type JobData } from './queue-jobs.js';
import type { QueueParts, QueueScripts } from './queue-parts.js';

/** A job held: its lock's token, when its task was created, whether its lock was lost. */
export interface Held {
  job: Job<JobData>;
  token: string;
  createdAt: number;
  /** Its lock was lost (the queue took this worker for dead): its end is not reported. */
  lost?: boolean;
}

export class HeldJobs {
  private readonly jobs = new Map<string, Held>();
  private lockTimer: unknown;
  /** Attempts that started since the last write of running records (see `started`). */
  private readonly starts = new Set<string>();
  private startTimer: unknown;
  /** The write of the running records `starts` holds, resolved once it is done (or failed). */
  private startsWritten: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Each started attempt's running record write, until it is done (see `written`). */
  private readonly marks = new Map<string, Promise<void>>();
  /** What `empty()` returns while something is held (one promise for every caller). */
  private emptied: { promise: Promise<void>; resolve: () => void } | undefined;
  private stopped = false;

  constructor(
    private readonly workerId: string,
    private readonly q: QueueParts,
    private readonly host: TransportHost,
    private readonly connection: Redis & QueueScripts,
  ) {
    this.armLockTimer();
  }

  get size(): number {
    return this.jobs.size;
  }

  get(id: string): Held | undefined {
    return this.jobs.get(id);
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  set(id: string, held: Held): void {
    this.jobs.set(id, held);
  }

  /** Lets job `id` go (its end or its giving back is on its way: `settled` once it is done). */
  delete(id: string): void {
    this.jobs.delete(id);
  }

  entries(): [string, Held][] {
    return [...this.jobs];
  }

  /** A job let go is done with: `empty()` resolves when it was the last. */
  settled(): void {
    if (this.jobs.size > 0) return;
    const emptied = this.emptied;
    this.emptied = undefined;
    emptied?.resolve();
  }

  /** Resolves once nothing is held (every caller, however many wait). */
  empty(): Promise<void> {
    if (this.jobs.size === 0) return Promise.resolve();
    if (this.emptied === undefined) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.emptied = { promise, resolve };
    }
    return this.emptied.promise;
  }

  /** The worker closed and holds nothing: no timer stays armed. */
  stop(): void {
    this.stopped = true;
    this.host.clock.clearTimeout(this.lockTimer);
    if (this.startTimer !== undefined) this.host.clock.clearTimeout(this.startTimer);
    // Nothing is held: no attempt waits for a record that will not be written.
    this.startsWritten?.resolve();
    this.startsWritten = undefined;
    this.marks.clear();
  }

  /**
   * An attempt started: the job keeps the running record, so a crash is seen as one. The starts
   * of one moment go in one script, from a timer of 0 ms: an attempt that ended before it (a call
   * that answers at once) has its end written instead. The script writes only under the job's
   * lock, on the connection the job's end goes on (so in order with it).
   */
  started(id: string): void {
    this.starts.add(id);
    if (this.startsWritten === undefined) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.startsWritten = { promise, resolve };
    }
    this.marks.set(id, this.startsWritten.promise);
    if (this.startTimer === undefined) {
      this.startTimer = this.host.clock.setTimeout(() => {
        this.startTimer = undefined;
        const batch = this.startsWritten;
        this.startsWritten = undefined;
        const ids = [...this.starts];
        this.starts.clear();
        void this.markStarts(ids)
          .catch((error: unknown) => this.q.report(error))
          .finally(() => {
            for (const id of ids) if (this.marks.get(id) === batch?.promise) this.marks.delete(id);
            batch?.resolve();
          });
      }, 0);
    }
  }

  /**
   * Resolves once the running record of task `id`'s attempt is written (or its write failed, which
   * is reported): its first call waits for it, so a worker that dies after the call went out
   * leaves a job that says its attempt ran, and the next worker records it as interrupted.
   */
  written(id: string): Promise<void> | undefined {
    return this.marks.get(id);
  }

  private async markStarts(ids: readonly string[]): Promise<void> {
    const running: { id: string; held: Held; data: string }[] = [];
    for (const id of ids) {
      const held = this.jobs.get(id);
      const record = held === undefined || held.lost ? undefined : await this.host.get(id);
      if (held === undefined || record?.status !== 'running') continue;
      const data: JobData = { v: JOB_DATA_VERSION, createdAt: held.createdAt, record };
      running.push({ id, held, data: JSON.stringify(data) });
    }
    // Checked again with no await before the send: a job let go meanwhile has its end (or its
    // retry) on its way, sent after this on the same connection if it was let go later.
    const args: string[] = [];
    for (const { id, held, data } of running) {
      if (this.jobs.get(id) === held && !held.lost)
        args.push(this.q.queue.toKey(id), held.token, data);
    }
    if (args.length === 0) return;
    await this.connection.aitqMarkRunning(...args).catch((e: unknown) => this.q.report(e));
  }

  /** Extends the lock of every job held, every third of `lockMs`; a lost lock ends its task. */
  private armLockTimer(): void {
    const { clock } = this.host;
    this.lockTimer = clock.setTimeout(
      () => {
        void this.extendLocks().finally(() => {
          if (!this.stopped) this.armLockTimer();
        });
      },
      Math.floor(this.q.lockMs / 3),
    );
  }

  private async extendLocks(): Promise<void> {
    const beat = this.q.heartbeat(this.workerId, this.jobs.size);
    const extensions = [...this.jobs].map(async ([id, held]) => {
      if (held.lost) return;
      const ok = await held.job.extendLock(held.token, this.q.lockMs).catch(() => 1);
      if (ok === 0) {
        // The queue took this worker for dead and gave the job to another: this attempt ends
        // here, unreported (the other worker's counts).
        held.lost = true;
        this.host.cancel(id).catch(() => undefined);
      }
    });
    await Promise.all([beat, ...extensions]);
  }
}
