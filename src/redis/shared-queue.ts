/**
 * A queue whose tasks any of several processes may run, on BullMQ: `openSharedQueue` gives the
 * submitter's side (submit, read, wait, cancel, pause and resume the whole queue, statistics over
 * every worker), and, given to `createAITaskManager({ sharedQueue })`, makes that manager one of
 * its workers (see queue-worker.ts). Every task is a BullMQ job whose id is the task's id.
 */

import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { TaskStatus } from '../../machines/task-status.js';
import {
  type SerializedError,
  StoreError,
  TaskNotFoundError,
  ValidationError,
  WaitTimeoutError,
} from '../errors.js';
import { newTaskId } from '../internal/task-id.js';
import { parseOrThrow } from '../internal/validate.js';
import { microsToDollars } from '../limits/prices.js';
import type { SubmitInput } from '../runtime/intake.js';
import { type TaskInfo, taskInfoOf } from '../runtime/task-info.js';
import type { TaskTransport, TransportHost, TransportLink } from '../runtime/transport.js';
import { errorOf } from '../runtime/waiters.js';
import type { TaskRecord } from '../stores/types.js';
import { BUILTIN_TASK_TYPES } from '../task-types/builtin/index.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import { type Clock, systemClock } from '../time/clock.js';
import { closedError, toRedisStoreError } from './errors.js';
import { connectRedis, type RedisStoreOptions, resolveRedisOptions } from './open.js';
import {
  idOfKey,
  JOB_DATA_VERSION,
  JOB_PRIORITY,
  type JobData,
  type JobState,
  readJobData,
  type SharedTaskInput,
  SharedTaskSchema,
  statusOf,
} from './queue-jobs.js';
import { QueueWorker } from './queue-worker.js';

/** How to open a shared queue. */
export interface SharedQueueOptions extends RedisStoreOptions {
  /** The queue's name under the prefix (a BullMQ queue name, no `:`). @default 'tasks' */
  name?: string | undefined;
  /**
   * How long a worker holds a job without renewing its lock (ms); a worker that dies is found by
   * the stalled checker once its locks run out, and its tasks go back in line. @default 30000
   */
  lockMs?: number | undefined;
  /** How often every worker looks for stalled jobs (ms). @default lockMs */
  stalledIntervalMs?: number | undefined;
  /**
   * Task types a submitter checks tasks against besides the built-in ones (their `data` is
   * validated at submit). A worker runs the task types its own manager has.
   */
  taskTypes?: readonly AnyTaskTypeDefinition[] | undefined;
  /**
   * Told of what goes wrong in this process's side of the queue that no call returns: a worker's
   * failed fetch, report or lock extension, a connection lost. Default: kept as `lastError`.
   */
  onError?: ((error: unknown) => void) | undefined;
  /** @internal */
  clock?: Clock | undefined;
}

const QueueOnlyOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,100}$/, { error: 'expected 1 to 100 letters, digits or _ - .' })
      .optional(),
    lockMs: z.number().int().min(1000).max(600_000).optional(),
    stalledIntervalMs: z.number().int().min(500).max(600_000).optional(),
  })
  .strict();

const WaitSchema = z.object({ timeout: z.number().positive().optional() }).strict();

/** The whole queue, as `getStatistics()` of any process shows it. */
export interface SharedQueueStatistics {
  /** Tasks by status, over every worker. */
  tasks: Record<Exclude<TaskStatus, 'paused'>, number> & { total: number };
  /** Whether the queue is paused (no worker takes a task). */
  paused: boolean;
  /** Workers that renewed their heartbeat within the last lock period. */
  workers: number;
  /** What the ended tasks' calls used and cost (US dollars), all attempts. */
  usage: { calls: number; promptTokens: number; completionTokens: number; cost: number };
}

/** Counts a task's end once (a re-run after a lost report is not counted again). */
const COUNT_END = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[2], 'calls', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'promptTokens', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'completionTokens', ARGV[5])
redis.call('HINCRBY', KEYS[2], 'costMicros', ARGV[6])
return 1
`;

/** The keys of the queue's own (besides BullMQ's). */
export interface QueueKeys {
  control: string;
  counted: string;
  stats: string;
  cancelled: string;
  workers: string;
}

/** What a worker of the queue shares with it. */
export interface QueueParts {
  /** BullMQ, loaded when the queue was opened (an optional peer dependency). */
  bull: typeof import('bullmq');
  redis: Redis;
  queue: Queue<JobData>;
  name: string;
  bullPrefix: string;
  keys: QueueKeys;
  lockMs: number;
  stalledIntervalMs: number;
  report(error: unknown): void;
  countEnd(record: TaskRecord): Promise<void>;
  cancelRequested(id: string): Promise<boolean>;
  heartbeat(workerId: string, held: number): Promise<void>;
  leave(workerId: string): Promise<void>;
  endedRecord(
    id: string,
    data: JobData,
    status: 'failed' | 'cancelled',
    error?: SerializedError,
  ): TaskRecord;
}

/**
 * Opens a shared queue on Redis. Fails with a `StoreError` (`unreachable`, `unsafe`) when the
 * server cannot be reached or evicts keys.
 */
export async function openSharedQueue(
  options: SharedQueueOptions | string = {},
): Promise<RedisSharedQueue> {
  const given = typeof options === 'string' ? { url: options } : options;
  const { name, lockMs, stalledIntervalMs, taskTypes, clock, onError, ...redisOptions } = given;
  const own = parseOrThrow(QueueOnlyOptionsSchema, { name, lockMs, stalledIntervalMs }, 'options');
  if (onError !== undefined && typeof onError !== 'function') {
    throw new ValidationError(`invalid options.onError: expected a function`, [
      { path: 'options.onError', message: 'expected a function', received: onError },
    ]);
  }
  const resolved = resolveRedisOptions(redisOptions);
  const bull = await loadBullMQ();
  const redis = await connectRedis(resolved, 'shared queue');
  const lock = own.lockMs ?? 30_000;
  return new RedisSharedQueue(bull, redis, {
    prefix: resolved.prefix,
    location: resolved.location,
    name: own.name ?? 'tasks',
    lockMs: lock,
    stalledIntervalMs: own.stalledIntervalMs ?? lock,
    taskTypes: [...BUILTIN_TASK_TYPES, ...(taskTypes ?? [])],
    clock: clock ?? systemClock,
    onError,
  });
}

/** BullMQ, imported when a shared queue is opened: users of the store alone need not install it. */
async function loadBullMQ(): Promise<typeof import('bullmq')> {
  try {
    return await import('bullmq');
  } catch (error) {
    throw new StoreError(
      'a shared queue needs BullMQ, an optional peer dependency: npm install bullmq@^6',
      'io',
      undefined,
      { cause: error },
    );
  }
}

interface QueueSettings {
  prefix: string;
  location: string;
  name: string;
  lockMs: number;
  stalledIntervalMs: number;
  taskTypes: readonly AnyTaskTypeDefinition[];
  clock: Clock;
  onError: ((error: unknown) => void) | undefined;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A shared queue on Redis and BullMQ, made by {@link openSharedQueue}. */
export class RedisSharedQueue implements TaskTransport {
  readonly name: string;
  /** The server (without its password) and the prefix. */
  readonly location: string;
  private readonly queue: Queue<JobData>;
  private readonly parts: QueueParts;
  private readonly taskTypes = new Map<string, AnyTaskTypeDefinition>();
  private readonly clock: Clock;
  private eventsReady: Promise<QueueEvents> | undefined;
  private eventsConnection: Redis | undefined;
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly workers = new Set<QueueWorker>();
  private closed = false;
  /** The last error a worker met that no caller saw (a failed report, a lost connection). */
  lastError: unknown;

  constructor(
    private readonly bull: typeof import('bullmq'),
    private readonly redis: Redis,
    private readonly settings: QueueSettings,
  ) {
    this.name = `shared queue '${settings.name}'`;
    this.location = settings.location;
    this.clock = settings.clock;
    for (const definition of settings.taskTypes) this.taskTypes.set(definition.name, definition);
    // BullMQ's keys are `<prefix>:<name>:…`; the queue's own are `<prefix>:<name>:aitq:…`.
    const bullPrefix = settings.prefix;
    this.queue = new bull.Queue<JobData>(settings.name, { connection: redis, prefix: bullPrefix });
    this.queue.on('error', (error) => this.report(error));
    redis.defineCommand('aitqCountEnd', { numberOfKeys: 2, lua: COUNT_END });
    const base = `${bullPrefix}:${settings.name}:aitq`;
    const keys: QueueKeys = {
      control: `${base}:control`,
      counted: `${base}:counted`,
      stats: `${base}:stats`,
      cancelled: `${base}:cancelled`,
      workers: `${base}:workers`,
    };
    this.parts = {
      bull,
      redis,
      queue: this.queue,
      name: settings.name,
      bullPrefix,
      keys,
      lockMs: settings.lockMs,
      stalledIntervalMs: settings.stalledIntervalMs,
      report: (error) => this.report(error),
      countEnd: async (record) => {
        await (
          redis as unknown as { aitqCountEnd(...args: (string | number)[]): Promise<number> }
        ).aitqCountEnd(
          keys.counted,
          keys.stats,
          record.id,
          record.status,
          record.usage.calls,
          record.usage.promptTokens,
          record.usage.completionTokens,
          Math.round(record.costMicros),
        );
      },
      cancelRequested: async (id) => (await redis.hexists(keys.cancelled, id)) === 1,
      heartbeat: async (workerId, held) => {
        const beat = JSON.stringify({ at: this.clock.now(), held });
        await redis.hset(keys.workers, workerId, beat).catch((e: unknown) => this.report(e));
      },
      leave: async (workerId) => {
        await redis.hdel(keys.workers, workerId).catch((e: unknown) => this.report(e));
      },
      endedRecord: (id, data, status, error) => this.endedRecord(id, data, status, error),
    };
  }

  /** Makes the engine that connects one of this queue's workers (see transport.ts). */
  connect(host: TransportHost): TransportLink {
    this.assertOpen('take tasks');
    const worker = new QueueWorker(this.parts, host);
    this.workers.add(worker);
    const close = worker.close.bind(worker);
    return {
      handOff: (record, notBefore) => worker.handOff(record, notBefore),
      close: async () => {
        await close();
        this.workers.delete(worker);
      },
    };
  }

  // ─── submitting ─────────────────────────────────────────────────────────────────────────────

  /** Validates a task and adds it to the queue; resolves with its id. */
  async submitTask(task: SharedTaskInput): Promise<string> {
    const [id] = await this.submitBatch([task]);
    return id as string;
  }

  /** Validates every task first, then adds all of them (one round trip); resolves with the ids. */
  async submitBatch(tasks: readonly SharedTaskInput[]): Promise<string[]> {
    this.assertOpen('submit');
    if (!Array.isArray(tasks) || tasks.length === 0) {
      throw new ValidationError('invalid tasks: expected a non-empty array', [
        { path: 'tasks', message: 'expected a non-empty array', received: tasks },
      ]);
    }
    const now = this.clock.now();
    const jobs = tasks.map((task, index) => {
      const field = tasks.length > 1 ? `tasks[${index}]` : 'task';
      const parsed = parseOrThrow(SharedTaskSchema, task, field);
      const definition = this.taskTypes.get(parsed.taskType);
      if (definition === undefined) {
        throw new ValidationError(
          `invalid ${field}.taskType: unknown task type ${JSON.stringify(parsed.taskType)} (known: ${[...this.taskTypes.keys()].join(', ')}; a custom type is given to openSharedQueue({ taskTypes }))`,
          [{ path: `${field}.taskType`, message: 'unknown task type', received: parsed.taskType }],
        );
      }
      const data = parseOrThrow(definition.input, parsed.data, `${field}.data`);
      const id =
        parsed.id ??
        (parsed.idempotencyKey === undefined ? newTaskId() : idOfKey(parsed.idempotencyKey));
      const priority = parsed.priority ?? 'MEDIUM';
      const input: SubmitInput = {
        taskType: parsed.taskType,
        data,
        priority: priority as SubmitInput['priority'],
        config: parsed.config,
        metadata: parsed.metadata,
        idempotencyKey: parsed.idempotencyKey,
      };
      const jobData: JobData = { v: JOB_DATA_VERSION, input, createdAt: now };
      return {
        name: parsed.taskType,
        data: jobData,
        opts: {
          jobId: id,
          priority: JOB_PRIORITY[priority as keyof typeof JOB_PRIORITY],
          attempts: 1,
        },
      };
    });
    try {
      const added = await this.queue.addBulk(jobs);
      return added.map((job) => job.id as string);
    } catch (error) {
      throw toRedisStoreError(error, this.location, 'submit', 'shared queue');
    }
  }

  // ─── reading ────────────────────────────────────────────────────────────────────────────────

  /** The task as `getTaskStatus` of a manager shows it, wherever it is; `null` if unknown. */
  async getTaskStatus(taskId: string): Promise<TaskInfo | null> {
    const record = await this.recordOf(taskId);
    if (record === undefined) return null;
    const now = this.clock.now();
    const waitingFor =
      record.status === 'retrying'
        ? record.error?.retryAfterMs === undefined
          ? ('retryDelay' as const)
          : ('server' as const)
        : null;
    const wait = {
      position: null,
      waitingFor,
      waitingUntil:
        record.status === 'retrying' && record.notBefore !== undefined
          ? new Date(record.notBefore)
          : null,
    };
    return taskInfoOf(
      record,
      now,
      wait,
      record.history ?? [{ status: 'queued', at: record.createdAt }],
    );
  }

  /** The result of a completed task; `null` while it has none. */
  async getTaskResult(taskId: string): Promise<unknown> {
    const record = await this.recordOf(taskId);
    return record?.status === 'completed' ? record.result : null;
  }

  /**
   * Resolves with the task's result once it completes; rejects with its error, or
   * `TaskCancelledError`; `TaskNotFoundError` for an unknown id; `WaitTimeoutError` after
   * `timeout` seconds.
   */
  async waitForTask(taskId: string, options: { timeout?: number } = {}): Promise<unknown> {
    const { timeout: seconds } = parseOrThrow(WaitSchema, options, 'options');
    this.assertOpen('wait for a task');
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
      timer = this.clock.setTimeout(
        () => reject(new WaitTimeoutError(taskId, seconds)),
        seconds * 1000,
      );
    });
    try {
      return await Promise.race([ended, timeout]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** Answers the waiters of a task that has ended (or is unknown, when `first`). */
  private async answer(taskId: string, first: boolean): Promise<void> {
    const list = this.waiters.get(taskId);
    if (list === undefined) return;
    let record: TaskRecord | undefined;
    try {
      record = await this.recordOf(taskId);
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
    const connection = this.redis.duplicate({ maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    this.eventsConnection = connection;
    // Read from the stream's last event now, not from when the reader first asks: an end
    // between a waiter's first read of its job and that ask is not missed.
    const key = `${this.settings.prefix}:${this.settings.name}:events`;
    const last = (await this.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const events = new this.bull.QueueEvents(this.settings.name, {
      lastEventId: last,
      connection,
      prefix: this.settings.prefix,
    });
    events.on('error', (error) => this.report(error));
    const ended = ({ jobId }: { jobId: string }) => {
      if (this.waiters.has(jobId)) void this.answer(jobId, false);
    };
    events.on('completed', ended);
    events.on('failed', ended);
    events.on('removed', ended);
    await events.waitUntilReady();
    return events;
  }

  /** The task's record: the job's (its data, or its return value once completed), or a cancel's. */
  private async recordOf(taskId: string): Promise<TaskRecord | undefined> {
    this.assertOpen('read a task');
    try {
      // The state first, then the job: a job read before it completed would have no result yet.
      const state = (await this.queue.getJobState(taskId)) as JobState;
      const job =
        state === 'unknown'
          ? undefined
          : ((await this.queue.getJob(taskId)) as Job<JobData> | undefined);
      if (job === undefined || job === null) {
        const cancelled = await this.redis.hget(this.parts.keys.cancelled, taskId);
        return cancelled === null ? undefined : (JSON.parse(cancelled) as TaskRecord);
      }
      const data = readJobData(taskId, job.data);
      const ended =
        state === 'completed' ? ((job.returnvalue as TaskRecord | null) ?? undefined) : undefined;
      const status = statusOf(state, data, ended);
      if (ended !== undefined) return ended;
      if (state === 'failed' && data.record === undefined) {
        // Failed before any worker took it as a task (BullMQ refused it): its reason.
        return this.endedRecord(taskId, data, 'failed', {
          name: 'Error',
          code: 'INTERNAL',
          message: job.failedReason,
          retryable: false,
        });
      }
      return { ...(data.record ?? this.submittedRecord(taskId, data)), status };
    } catch (error) {
      throw toRedisStoreError(error, this.location, 'read a task', 'shared queue');
    }
  }

  /** The record of a task that ends without running here (from what its job carries). */
  private endedRecord(
    id: string,
    data: JobData,
    status: 'failed' | 'cancelled',
    error?: SerializedError,
  ): TaskRecord {
    const now = this.clock.now();
    if (data.record !== undefined) {
      const history = data.record.history ?? [{ status: 'queued' as const, at: data.createdAt }];
      return {
        ...data.record,
        status,
        error: error ?? data.record.error,
        completedAt: now,
        notBefore: undefined,
        snapshot: undefined,
        history: [...history, { status, at: now }],
      };
    }
    const submitted = this.submittedRecord(id, data);
    return {
      ...submitted,
      status,
      completedAt: now,
      ...(error === undefined ? {} : { error }),
      history: [...(submitted.history ?? []), { status, at: now }],
    };
  }

  /** A task as submitted, before any worker took it (its figures all zero). */
  private submittedRecord(id: string, data: JobData): TaskRecord {
    const input = data.input as SubmitInput;
    return {
      id,
      type: input.taskType,
      priority: input.priority ?? 'MEDIUM',
      status: 'queued',
      seq: 0,
      data: input.data,
      metadata: input.metadata,
      config: {
        maxRetries: 0,
        retryDelay: 0,
        maxRetryDelay: 0,
        maxRateLimitRetries: 0,
        timeout: 0,
      },
      reservation: { model: '', promptTokens: 0, maxTokens: 0, worstCaseMicros: 0, limited: false },
      createdAt: data.createdAt,
      attempts: 0,
      usage: { promptTokens: 0, completionTokens: 0, estimated: false, calls: 0 },
      costMicros: 0,
      history: [{ status: 'queued', at: data.createdAt }],
    };
  }

  // ─── control ────────────────────────────────────────────────────────────────────────────────

  /**
   * Cancels a task wherever it is: a waiting one leaves the queue at once; a running one is
   * cancelled by its worker. False when it is unknown or has ended.
   */
  async cancelTask(taskId: string): Promise<boolean> {
    this.assertOpen('cancel a task');
    const { keys } = this.parts;
    try {
      const job = (await this.queue.getJob(taskId)) as Job<JobData> | undefined;
      if (job === undefined || job === null) return false;
      const state = (await job.getState()) as JobState;
      if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
      const data = readJobData(taskId, job.data);
      const record = this.endedRecord(taskId, data, 'cancelled');
      // Written first: a worker that takes the job meanwhile (or after its worker died) sees it.
      await this.redis.hset(keys.cancelled, taskId, JSON.stringify(record));
      const removed = await this.queue.remove(taskId);
      if (removed === 1) {
        await this.parts.countEnd(record);
        return true;
      }
      // Locked: a worker holds it, and cancels it when told.
      await this.redis.publish(keys.control, JSON.stringify({ t: 'cancel', id: taskId }));
      return true;
    } catch (error) {
      throw toRedisStoreError(error, this.location, 'cancel a task', 'shared queue');
    }
  }

  /** Pauses the whole queue: no worker takes a task; running ones finish. */
  async pause(): Promise<void> {
    this.assertOpen('pause');
    await this.queue.pause();
    await this.redis.publish(this.parts.keys.control, JSON.stringify({ t: 'pause' }));
  }

  async resume(): Promise<void> {
    this.assertOpen('resume');
    await this.queue.resume();
    await this.redis.publish(this.parts.keys.control, JSON.stringify({ t: 'resume' }));
  }

  isPaused(): Promise<boolean> {
    return this.queue.isPaused();
  }

  /** The whole queue's figures, as every worker reported them. */
  async getStatistics(): Promise<SharedQueueStatistics> {
    this.assertOpen('read statistics');
    const { keys } = this.parts;
    try {
      const [counts, stats, beats, paused] = await Promise.all([
        this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
        this.redis.hgetall(keys.stats),
        this.redis.hgetall(keys.workers),
        this.queue.isPaused(),
      ]);
      const n = (value: string | number | undefined) => Number(value ?? 0);
      const now = this.clock.now();
      const workers = Object.values(beats).filter(
        (beat) => now - (JSON.parse(beat) as { at: number }).at <= this.settings.lockMs,
      ).length;
      const tasks = {
        queued: n(counts.waiting) + n(counts.prioritized),
        retrying: n(counts.delayed),
        running: n(counts.active),
        completed: n(stats.completed),
        failed: n(stats.failed),
        cancelled: n(stats.cancelled),
      };
      const total = Object.values(tasks).reduce((a, b) => a + b, 0);
      return {
        tasks: { ...tasks, total },
        paused,
        workers,
        usage: {
          calls: n(stats.calls),
          promptTokens: n(stats.promptTokens),
          completionTokens: n(stats.completionTokens),
          cost: microsToDollars(n(stats.costMicros)),
        },
      };
    } catch (error) {
      throw toRedisStoreError(error, this.location, 'read statistics', 'shared queue');
    }
  }

  /**
   * Closes this process's side: its waits are told the queue is closed. Workers close with their
   * managers (`stop()`), before this.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.waiters.keys()]) {
      this.settleWaiters(id, (w) =>
        w.reject(closedError(this.location, 'wait for a task', 'shared queue')),
      );
    }
    // A reader being opened is closed once it is.
    const events = await this.eventsReady?.catch(() => undefined);
    await events?.close();
    this.eventsConnection?.disconnect();
    await this.queue.close();
    this.redis.disconnect();
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw closedError(this.location, operation, 'shared queue');
  }

  private report(error: unknown): void {
    this.lastError = error;
    try {
      this.settings.onError?.(error);
    } catch {
      // The handler's own failure is not the queue's.
    }
  }
}
