/**
 * Waiting for a shared queue's tasks to end (`waitForTask`), from any process: one BullMQ
 * `QueueEvents` reader per process (opened at the first wait, reading from the stream's last event
 * then), and each waiter answered from the task's record once its job completes, fails or is
 * removed (a cancel of a waiting task).
 */

import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { type StoreError, TaskNotFoundError, WaitTimeoutError } from '../errors.js';
import { errorOf } from '../runtime/waiters.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What the waits need of their queue. */
export interface TaskWaitsDeps {
  bull: typeof import('bullmq');
  redis: Redis;
  prefix: string;
  name: string;
  clock: Clock;
  /** The task's record wherever it is (`undefined`: unknown). */
  read(taskId: string): Promise<TaskRecord | undefined>;
  report(error: unknown): void;
}

export class TaskWaits {
  private readonly waiters = new Map<string, Waiter[]>();
  private eventsReady: Promise<QueueEvents> | undefined;
  private eventsConnection: Redis | undefined;

  constructor(private readonly deps: TaskWaitsDeps) {}

  /**
   * Resolves with the task's result once it completes; rejects with its error, or
   * `TaskCancelledError`; `TaskNotFoundError` for an unknown id; `WaitTimeoutError` after
   * `timeout` seconds.
   */
  async wait(taskId: string, seconds: number | undefined): Promise<unknown> {
    await this.queueEvents();
    const ended = new Promise<unknown>((resolve, reject) => {
      const list = this.waiters.get(taskId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(taskId, list);
    });
    // Ended before the waiter was in place: answered from the job.
    await this.answer(taskId, true);
    if (seconds === undefined) return ended;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.deps.clock.setTimeout(
        () => reject(new WaitTimeoutError(taskId, seconds)),
        seconds * 1000,
      );
    });
    try {
      return await Promise.race([ended, timeout]);
    } finally {
      this.deps.clock.clearTimeout(timer);
    }
  }

  /** Answers the waiters of a task that has ended (or is unknown, when `first`). */
  private async answer(taskId: string, first: boolean): Promise<void> {
    const list = this.waiters.get(taskId);
    if (list === undefined) return;
    let record: TaskRecord | undefined;
    try {
      record = await this.deps.read(taskId);
    } catch (error) {
      this.settleWaiters(taskId, (w) => w.reject(error));
      return;
    }
    if (record === undefined) {
      if (first) this.settleWaiters(taskId, (w) => w.reject(new TaskNotFoundError(taskId)));
      return;
    }
    const done = record;
    if (done.status === 'completed') this.settleWaiters(taskId, (w) => w.resolve(done.result));
    else if (done.status === 'failed' || done.status === 'cancelled') {
      this.settleWaiters(taskId, (w) => w.reject(errorOf(done)));
    }
  }

  private settleWaiters(taskId: string, fn: (waiter: Waiter) => void): void {
    const list = this.waiters.get(taskId);
    this.waiters.delete(taskId);
    for (const waiter of list ?? []) fn(waiter);
  }

  /** One `QueueEvents` reader per process, made at the first wait. */
  private queueEvents(): Promise<QueueEvents> {
    this.eventsReady ??= this.openEvents();
    return this.eventsReady;
  }

  private async openEvents(): Promise<QueueEvents> {
    const connection = this.deps.redis.duplicate({ maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    this.eventsConnection = connection;
    // Read from the stream's last event now, not from when the reader first asks: an end
    // between a waiter's first read of its job and that ask is not missed.
    const { prefix, name } = this.deps;
    const key = `${prefix}:${name}:events`;
    const last = (await this.deps.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const events = new this.deps.bull.QueueEvents(name, { lastEventId: last, connection, prefix });
    events.on('error', (error) => this.deps.report(error));
    const ended = ({ jobId }: { jobId: string }) => {
      if (this.waiters.has(jobId)) void this.answer(jobId, false);
    };
    events.on('completed', ended);
    events.on('failed', ended);
    events.on('removed', ended);
    await events.waitUntilReady();
    return events;
  }

  /** Tells every waiter `error` (the queue closed), and closes the reader. */
  async close(error: StoreError): Promise<void> {
    for (const id of [...this.waiters.keys()]) this.settleWaiters(id, (w) => w.reject(error));
    // A reader being opened is closed once it is.
    const events = await this.eventsReady?.catch(() => undefined);
    await events?.close();
    this.eventsConnection?.disconnect();
  }
}
