/**
 * One process's worker of a shared queue: the link between its engine and the BullMQ queue (see
 * src/runtime/transport.ts).
 *
 * - **Taking.** A job is fetched only when the engine has room to start it now (a free slot,
 *   nothing of its own waiting for a limit): BullMQ's manual fetching, one job at a time, so a
 *   job never waits in a worker that could not run it. The first time a task is taken its
 *   worker validates it as `submit` does; after that the job carries its record.
 * - **Running.** When an attempt starts, the job's data gets the running record (its machine's
 *   snapshot): if this process dies, BullMQ's stalled checker (run by every worker) puts the job
 *   back in line, and the worker that takes it next records that attempt as interrupted. The lock
 *   of every job held here is extended every third of `lockMs` (queue-held.ts).
 * - **Retrying.** A failed attempt that is to retry goes back to the queue as a delayed job
 *   carrying the snapshot (retries used, the backoff), due when the machine said.
 * - **Ending.** The end is counted once in the queue's statistics, then the record goes to the
 *   job (`completed` with the record as its return value, fetching the next job in the same
 *   script when there is room; `failed` or cancelled as a failed job whose data holds the record).
 * - **Control.** `cancel`, `pause` and `resume` reach every worker on a Redis channel.
 * - **Closing.** Taking stops, what waits here goes back to the queue, and the running attempts
 *   end and are reported (or, stopped by force, go back to be run again).
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Subscription } from 'rxjs';
import { isTerminalStatus } from '../../machines/task-status.js';
import { serializeError } from '../errors.js';
import type { EngineEvent } from '../runtime/events.js';
import type { TransportHost, TransportLink } from '../runtime/transport.js';
import type { TaskRecord } from '../stores/types.js';
import { QueueControls } from './queue-controls.js';
import { type Held, HeldJobs } from './queue-held.js';
import { JOB_DATA_VERSION, type JobData, readJobData } from './queue-jobs.js';
import {
  countArgs,
  defineQueueScripts,
  type QueueParts,
  type QueueScripts,
} from './queue-parts.js';
import { TurnBatch } from './turn-batch.js';

/** The statuses of a task that waits in a worker (given back when it stops). */
const WAITING: ReadonlySet<string> = new Set(['queued', 'retrying', 'paused']);

/** Fetches that do not wait, at most at once (BullMQ's own worker fetches as many as it runs). */
const PARALLEL_FETCHES = 16;

export class QueueWorker implements TransportLink {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly worker: Worker<JobData>;
  private readonly held: HeldJobs;
  /** What the control channel said: recent cancels, paused or not. */
  private readonly controls = new QueueControls();
  private closing = false;
  /** The one close (see `close`). */
  private closed: Promise<void> | undefined;
  /** Jobs whose task the engine is taking in: `close` leaves them to `adoptOrEnd`. */
  private readonly adopting = new Set<string>();
  private tokens = 0;
  /** Fetches on their way and jobs being taken: not in the engine's line yet. */
  private pending = 0;
  /** Fetches that do not wait (see `burst`). */
  private extra = 0;
  /** Resolves once the control channel is subscribed to. */
  private readonly subscribed: Promise<void>;
  /** Reports of completed tasks that fetch the next job, on their way (see `complete`). */
  private nexts = 0;
  private wakeUp: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly events: Subscription;
  private readonly subscriber: Redis;
  private readonly connection: Redis & QueueScripts;
  /** The ends of this turn, counted in one script on the worker's connection (see `end`). */
  private readonly counts: TurnBatch<TaskRecord>;

  constructor(
    private readonly q: QueueParts,
    private readonly host: TransportHost,
  ) {
    // Its own connection (BullMQ's blocking one is made from it): closed with the worker.
    // The queue's scripts go on it too: in order with BullMQ's commands for the same jobs.
    this.connection = defineQueueScripts(q.redis.duplicate({ maxRetriesPerRequest: null }));
    const { counted, stats } = q.keys;
    this.counts = new TurnBatch((records) =>
      this.connection.aitqCountEnd(counted, stats, ...countArgs(records)),
    );
    this.connection.on('error', () => undefined);
    this.held = new HeldJobs(this.id, q, host, this.connection);
    this.worker = new q.bull.Worker<JobData>(q.name, null, {
      connection: this.connection,
      prefix: q.bullPrefix,
      lockDuration: q.lockMs,
      stalledInterval: q.stalledIntervalMs,
      // The task machine decides how often an interrupted task runs again, not BullMQ.
      maxStalledCount: 1_000_000,
      drainDelay: 1,
      autorun: false,
    });
    this.worker.on('error', (error) => q.report(error));
    this.worker.startStalledCheckTimer().catch((error: unknown) => q.report(error));
    this.events = host.events$.subscribe((event) => this.observe(event));
    this.subscriber = q.redis.duplicate();
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => this.control(message));
    this.subscribed = this.subscriber.subscribe(q.keys.control).then(
      () => undefined,
      (error: unknown) => q.report(error),
    );
    this.loop = this.run();
  }

  // ─── taking ─────────────────────────────────────────────────────────────────────────────────

  private async run(): Promise<void> {
    await this.q.heartbeat(this.id, 0);
    // Read once the channel is heard: a pause before this read is in its answer, one after it
    // comes as a message. A message heard while the read was on its way is newer than its answer.
    await this.subscribed;
    const heard = this.controls.heard;
    try {
      const paused = await this.q.queue.isPaused();
      if (paused && this.controls.heard === heard) {
        this.controls.paused = true;
        this.host.pause();
      }
    } catch (error) {
      this.q.report(error);
    }
    while (!this.closing) {
      if (this.free() <= 0) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        continue;
      }
      // The one fetch that waits for a job (BullMQ blocks on the queue's marker).
      const token = `${this.id}:${++this.tokens}`;
      this.pending++;
      let job: Job<JobData> | undefined;
      try {
        job = await this.worker.getNextJob(token, { block: true });
      } catch (error) {
        this.pending--;
        if (this.closing) break;
        this.q.report(error);
        await this.pauseFor(1000);
        continue;
      }
      if (job === undefined) {
        this.pending--;
        continue;
      }
      if (this.closing) {
        this.pending--;
        await job.moveToWait(token).catch((error: unknown) => this.q.report(error));
        break;
      }
      // A job came: more may wait behind it, fetched at once while there is room.
      this.burst();
      await this.take(job, token);
      this.pending--;
    }
  }

  /** How many more jobs to fetch now: the engine's room, less the fetches on their way. */
  private free(): number {
    if (this.controls.paused || this.closing) return 0;
    return this.host.room() - this.pending;
  }

  /**
   * Fetches without waiting, several at once, while there is room: each job that comes asks for
   * one more, and an empty answer ends that chain (the blocking fetch waits for the next job).
   */
  private burst(): void {
    while (this.extra < PARALLEL_FETCHES && this.free() > 0) {
      this.extra++;
      this.pending++;
      const token = `${this.id}:${++this.tokens}`;
      this.worker
        .getNextJob(token, { block: false })
        .then((job) => this.arrived(job, token))
        .catch((error: unknown) => {
          this.q.report(error);
          return false;
        })
        .then((more) => {
          this.extra--;
          this.pending--;
          if (more) this.burst();
          // The main loop may sleep counting this fetch: it looks again.
          else this.wake();
        });
    }
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private pauseFor(ms: number): Promise<void> {
    return new Promise((resolve) => this.host.clock.setTimeout(resolve, ms));
  }

  /**
   * A fetch answered (`job`: what it brought, if anything): the job is taken, or given back when
   * this worker is closing. Whether a job came.
   */
  private async arrived(job: Job<JobData> | undefined, token: string): Promise<boolean> {
    if (job === undefined) return false;
    if (this.closing) {
      await job.moveToWait(token);
      return false;
    }
    await this.take(job, token);
    return true;
  }

  /** A job fetched: its task joins the engine's line (or ends at once: cancelled, invalid). */
  private async take(job: Job<JobData>, token: string): Promise<void> {
    const id = job.id as string;
    let data: JobData;
    try {
      data = readJobData(id, job.data);
    } catch (error) {
      await job.moveToFailed(error as Error, token).catch((e: unknown) => this.q.report(e));
      return;
    }
    const before = this.held.get(id);
    this.held.set(id, { job, token, createdAt: data.createdAt });
    try {
      await this.adoptOrEnd(id, data, before !== undefined);
    } catch (error) {
      // Redis or the engine failed meanwhile: the job goes back for another worker (or this one).
      this.q.report(error);
      const held = this.held.get(id);
      if (held?.token === token) await this.giveBack(id, held);
    }
  }

  /** A job this worker now holds: its task joins the engine's line, or ends at once. */
  private async adoptOrEnd(id: string, data: JobData, heldBefore: boolean): Promise<void> {
    if (heldBefore && (await this.host.get(id)) !== undefined) {
      // Its lock ran out while this process still ran it (a stall longer than the lock), and the
      // job came back here: the attempt goes on, under the new lock.
      return;
    }
    const stored = data.record;
    if (stored !== undefined && isTerminalStatus(stored.status)) {
      // Its worker died between writing the end and reporting it: it ends now, as it was.
      await this.end(id, stored);
      return;
    }
    let record: TaskRecord;
    try {
      record = stored ?? this.host.prepare(data.input as never, id, data.createdAt);
    } catch (error) {
      // A task this worker cannot run (a task type it lacks, settings it refuses): it fails here,
      // where the submitter sees why.
      await this.end(id, this.q.endedRecord(id, data, 'failed', serializeError(error)));
      return;
    }
    // A cancel that came while the job was on its way here, or while it waited in Redis after
    // an earlier attempt (as a retry, or from a worker that died).
    const cancelled =
      this.controls.cancelled(id) || (stored !== undefined && (await this.q.cancelRequested(id)));
    if (cancelled) {
      await this.end(id, this.q.endedRecord(id, data, 'cancelled'));
      return;
    }
    this.adopting.add(id);
    try {
      await this.host.adopt(record);
    } finally {
      this.adopting.delete(id);
    }
    // The worker started closing while the job was on its way: `close` left it alone, so it
    // goes back to the queue now.
    if (this.closing) {
      await this.giveBackIfWaiting(id);
      return;
    }
    // A cancel told while it was being adopted.
    if (this.controls.cancelled(id)) await this.host.cancel(id);
  }

  // ─── what the engine tells ──────────────────────────────────────────────────────────────────

  private observe(event: EngineEvent): void {
    switch (event.type) {
      case 'task.started':
        if (this.held.has(event.taskId)) this.held.started(event.taskId);
        break;
      case 'task.completed':
      case 'task.failed':
      case 'task.cancelled':
        if (this.held.has(event.taskId)) void this.ended(event.taskId);
        break;
      case 'task.progress':
      case 'task.usage':
      case 'usage.suspect':
        return;
      default:
        break;
    }
    this.wake();
  }

  private async ended(id: string): Promise<void> {
    const held = this.held.get(id);
    const record = await this.host.get(id);
    if (held === undefined || record === undefined) return;
    if (record.status === 'cancelled' && this.closing && !this.controls.cancelled(id)) {
      // Stopped by force, not cancelled by anyone: the task goes back to be run again (its
      // job still says its attempt was running, so that attempt counts as interrupted).
      await this.giveBack(id, held);
      return;
    }
    await this.end(id, copy(record));
  }

  /** Reports a task's end to its job (counted once in the statistics), and lets the job go. */
  private async end(id: string, record: TaskRecord): Promise<void> {
    const held = this.held.get(id);
    if (held === undefined) return;
    this.held.delete(id);
    this.host.forget(id);
    if (!held.lost) {
      const { job, token, createdAt } = held;
      // Counted first, on the connection BullMQ's end goes on after it: a worker that dies in
      // between leaves a counted task that runs again (and is not counted again), never an end
      // that is not counted.
      const counted = this.counts.place(record);
      // Its failure is reported whatever happens to the end (never an unhandled rejection).
      const done = counted.done.catch((error: unknown) => this.q.report(error));
      try {
        await counted.sent;
        if (record.status === 'completed') {
          await this.complete(job, token, record);
        } else {
          await job.updateData({ v: JOB_DATA_VERSION, createdAt, record });
          const error = new Error(record.error?.message ?? record.status);
          await job.moveToFailed(error, token, false);
        }
      } catch (error) {
        this.q.report(error);
      }
      await done;
    }
    this.held.settled();
    this.wake();
  }

  /**
   * Moves a job to completed and, when the engine has room, fetches the next job in the same
   * script (as BullMQ's own worker does): one round trip per task instead of two.
   */
  private async complete(job: Job<JobData>, token: string, record: TaskRecord): Promise<void> {
    const fetch = this.free() > 0;
    if (!fetch) {
      await job.moveToCompleted(record, token, false);
      return;
    }
    this.pending++;
    this.nexts++;
    let next: Job<JobData> | undefined;
    try {
      const raw = (await job.moveToCompleted(record, token, true)) as unknown;
      next = await this.nextOf(raw, token);
    } catch (error) {
      this.pending--;
      this.nexts--;
      throw error;
    }
    // The job's end is reported; the next one is taken apart from it (or given back, when this
    // worker started closing meanwhile: `close` waits for it).
    void this.arrived(next, token)
      .catch((error: unknown) => this.q.report(error))
      .finally(() => {
        this.pending--;
        this.nexts--;
        this.wake();
      });
  }

  /** Task `id`'s attempt sends its first call once its running record is written. */
  written(id: string): Promise<void> | undefined {
    return this.held.written(id);
  }

  /** The job a finishing script fetched (BullMQ's `[jobData, id, …]`), if it fetched one. */
  private nextOf(raw: unknown, token: string): Promise<Job<JobData> | undefined> {
    if (!Array.isArray(raw) || raw[0] === null || raw[0] === undefined) {
      return Promise.resolve(undefined);
    }
    // BullMQ's worker makes its jobs from that answer so; the method is protected, not private.
    const worker = this.worker as unknown as {
      nextJobFromJobData(data: unknown, id: unknown, token: string): Promise<Job<JobData>>;
    };
    return worker.nextJobFromJobData(raw[0], raw[1], token);
  }

  handOff(record: TaskRecord, notBefore: number): boolean {
    const held = this.held.get(record.id);
    if (held === undefined) return false;
    this.held.delete(record.id);
    if (held.lost) this.held.settled();
    else {
      const { job, token, createdAt } = held;
      const data: JobData = { v: JOB_DATA_VERSION, createdAt, record: copy(record) };
      void job
        .updateData(data)
        .then(() => job.moveToDelayed(notBefore, token))
        .catch((error: unknown) => this.q.report(error))
        .finally(() => this.held.settled());
    }
    this.wake();
    return true;
  }

  // ─── control ────────────────────────────────────────────────────────────────────────────────

  private control(message: string): void {
    const said = this.controls.read(message);
    if (said?.t === 'cancel') {
      if (this.held.has(said.id)) {
        this.host.cancel(said.id).catch((error: unknown) => this.q.report(error));
      }
    } else if (said?.t === 'pause') {
      this.host.pause();
    } else if (said?.t === 'resume') {
      this.host.resume();
      this.wake();
    }
  }

  // ─── closing ────────────────────────────────────────────────────────────────────────────────

  /** Closes once: a second call (a forced stop after a plain one) waits for the same close. */
  close(): Promise<void> {
    this.closed ??= this.shutDown().catch((error: unknown) => {
      // A close that failed (Redis gone) may be tried again.
      this.closed = undefined;
      throw error;
    });
    return this.closed;
  }

  /** Gives job `id` back to the queue for another worker if its task waits here (not running). */
  private async giveBackIfWaiting(id: string): Promise<void> {
    const held = this.held.get(id);
    if (held === undefined) return;
    const record = await this.host.get(id);
    // Running ones end here; ended ones are being reported.
    if (record === undefined || !WAITING.has(record.status) || this.held.get(id) !== held) return;
    await this.giveBack(id, held);
  }

  /** Job `id` goes back to the queue; this engine forgets its task, `empty()` told once it waits. */
  private async giveBack(id: string, held: Held): Promise<void> {
    this.held.delete(id);
    this.host.forget(id);
    await held.job.moveToWait(held.token).catch((error: unknown) => this.q.report(error));
    this.held.settled();
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.wake();
    // What waits here (not running) goes back to the queue for another worker.
    await Promise.all(
      this.held
        .entries()
        .filter(([id]) => !this.adopting.has(id))
        .map(([id]) => this.giveBackIfWaiting(id)),
    );
    // Fetches still on their way give their job back when they come.
    while (this.extra > 0) await this.pauseFor(10);
    await this.held.empty();
    // Jobs that the last reports fetched (decided before the close) are given back.
    while (this.nexts > 0) await this.pauseFor(10);
    this.events.unsubscribe();
    this.held.stop();
    await this.worker.close();
    await this.loop;
    await this.q.leave(this.id);
    this.subscriber.disconnect();
    this.connection.disconnect();
  }
}

/** A record as JSON has it (what goes to Redis is a copy, not the live object). */
function copy(record: TaskRecord): TaskRecord {
  return JSON.parse(JSON.stringify(record)) as TaskRecord;
}
