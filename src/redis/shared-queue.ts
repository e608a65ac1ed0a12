/**
 * A queue whose tasks any of several processes may run, on BullMQ: `openSharedQueue` gives the
 * submitter's side (submit, read, wait, cancel, pause and resume the whole queue, statistics over
 * every worker), and, given to `createAITaskManager({ sharedQueue })`, makes that manager one of
 * its workers (see queue-worker.ts). Every task is a BullMQ job whose id is the task's id.
 */

import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { newTaskId } from '../internal/task-id.js';
import { parseOrThrow } from '../internal/validate.js';
import { microsToDollars } from '../limits/prices.js';
import type { SubmitInput } from '../runtime/intake.js';
import { type TaskInfo, taskInfoOf } from '../runtime/task-info.js';
import type {
  SharedQueueStatistics,
  TaskTransport,
  TransportHost,
  TransportLink,
} from '../runtime/transport.js';
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
} from './queue-jobs.js';
import {
  countArgs,
  defineQueueScripts,
  loadBullMQ,
  type QueueParts,
  queueKeys,
} from './queue-parts.js';
import { endedRecord, readTaskRecord } from './queue-records.js';
import { TaskWaits } from './queue-waits.js';
import { QueueWorker } from './queue-worker.js';
import { TurnBatch } from './turn-batch.js';

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

/** A shared queue on Redis and BullMQ, made by {@link openSharedQueue}. */
export class RedisSharedQueue implements TaskTransport {
  readonly name: string;
  /** The server (without its password) and the prefix. */
  readonly location: string;
  private readonly queue: Queue<JobData>;
  private readonly parts: QueueParts;
  private readonly taskTypes = new Map<string, AnyTaskTypeDefinition>();
  private readonly clock: Clock;
  private readonly waits: TaskWaits;
  private readonly workers = new Set<QueueWorker>();
  private closed = false;
  /** The last error a worker met that no caller saw (a failed report, a lost connection). */
  lastError: unknown;

  constructor(
    bull: typeof import('bullmq'),
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
    const scripts = defineQueueScripts(redis);
    const keys = queueKeys(bullPrefix, settings.name);
    const ends = new TurnBatch<TaskRecord>((records) =>
      scripts.aitqCountEnd(keys.counted, keys.stats, ...countArgs(records)),
    );
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
      countEnd: (record) => ends.add(record),
      cancelRequested: async (id) => (await redis.hexists(keys.cancelled, id)) === 1,
      heartbeat: async (workerId, held) => {
        const beat = JSON.stringify({ at: this.clock.now(), held });
        await redis.hset(keys.workers, workerId, beat).catch((e: unknown) => this.report(e));
      },
      leave: async (workerId) => {
        await redis.hdel(keys.workers, workerId).catch((e: unknown) => this.report(e));
      },
      endedRecord: (id, data, status, error) =>
        endedRecord(id, data, status, this.clock.now(), error),
    };
    this.waits = new TaskWaits({
      bull,
      redis,
      prefix: bullPrefix,
      name: settings.name,
      clock: this.clock,
      read: (taskId) => this.recordOf(taskId),
      report: (error) => this.report(error),
    });
  }

  /** Makes the engine that connects one of this queue's workers (see transport.ts). */
  connect(host: TransportHost): TransportLink {
    this.assertOpen('take tasks');
    const worker = new QueueWorker(this.parts, host);
    this.workers.add(worker);
    const close = worker.close.bind(worker);
    return {
      handOff: (record, notBefore) => worker.handOff(record, notBefore),
      written: (id) => worker.written(id),
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
        (parsed.idempotencyKey === undefined ? newTaskId(now) : idOfKey(parsed.idempotencyKey));
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
    const { timeout } = parseOrThrow(WaitSchema, options, 'options');
    this.assertOpen('wait for a task');
    return this.waits.wait(taskId, timeout);
  }

  /** The task's record wherever it is, or `undefined`. */
  private async recordOf(taskId: string): Promise<TaskRecord | undefined> {
    this.assertOpen('read a task');
    try {
      const { cancelled } = this.parts.keys;
      return await readTaskRecord(this.queue, this.redis, cancelled, taskId, this.clock.now());
    } catch (error) {
      throw toRedisStoreError(error, this.location, 'read a task', 'shared queue');
    }
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
      const record = endedRecord(taskId, data, 'cancelled', this.clock.now());
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
    await this.waits.close(closedError(this.location, 'wait for a task', 'shared queue'));
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
