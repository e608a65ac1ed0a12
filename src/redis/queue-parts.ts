/**
 * What a shared queue's sides share: the keys of its own besides BullMQ's, the script that counts
 * a task's end once, what a worker is given (`QueueParts`), and BullMQ loaded on demand.
 */

import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type SerializedError, StoreError } from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { JobData } from './queue-jobs.js';

/**
 * Counts tasks' ends, each once (a re-run after a lost report is not counted again). ARGV: six
 * fields per task: its id, its status, calls, prompt tokens, completion tokens, micro-dollars.
 */
export const COUNT_END = `
for i = 1, #ARGV, 6 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    redis.call('HINCRBY', KEYS[2], 'calls', ARGV[i + 2])
    redis.call('HINCRBY', KEYS[2], 'promptTokens', ARGV[i + 3])
    redis.call('HINCRBY', KEYS[2], 'completionTokens', ARGV[i + 4])
    redis.call('HINCRBY', KEYS[2], 'costMicros', ARGV[i + 5])
  end
end
return 1
`;

/**
 * Writes the running record into jobs whose attempts started, each only while this worker still
 * holds its lock. ARGV: three fields per job: its key, the lock's token, the job's data (JSON).
 */
export const MARK_RUNNING = `
for i = 1, #ARGV, 3 do
  if redis.call('GET', ARGV[i] .. ':lock') == ARGV[i + 1] then
    redis.call('HSET', ARGV[i], 'data', ARGV[i + 2])
  end
end
return 1
`;

/** The arguments of `COUNT_END` for some tasks' ends. */
export function countArgs(records: readonly TaskRecord[]): (string | number)[] {
  const args: (string | number)[] = [];
  for (const r of records) {
    const { calls, promptTokens, completionTokens } = r.usage;
    args.push(r.id, r.status, calls, promptTokens, completionTokens, Math.round(r.costMicros));
  }
  return args;
}

/** The queue's own scripts, defined on a connection (see `defineQueueScripts`). */
export interface QueueScripts {
  aitqCountEnd(...args: (string | number)[]): Promise<number>;
  aitqMarkRunning(...args: string[]): Promise<number>;
}

/** Defines the queue's own scripts on `redis`. */
export function defineQueueScripts(redis: Redis): Redis & QueueScripts {
  redis.defineCommand('aitqCountEnd', { numberOfKeys: 2, lua: COUNT_END });
  redis.defineCommand('aitqMarkRunning', { numberOfKeys: 0, lua: MARK_RUNNING });
  return redis as Redis & QueueScripts;
}

/** A job whose attempt started, for `MARK_RUNNING`: its id, its lock's token, its data (JSON). */
export interface RunningMark {
  id: string;
  token: string;
  data: string;
}

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
  /** Counts a task's end in the statistics, once; the ends of one turn go in one script. */
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

/** The queue's own keys, beside BullMQ's `<prefix>:<name>:…`. */
export function queueKeys(prefix: string, name: string): QueueKeys {
  const base = `${prefix}:${name}:aitq`;
  return {
    control: `${base}:control`,
    counted: `${base}:counted`,
    stats: `${base}:stats`,
    cancelled: `${base}:cancelled`,
    workers: `${base}:workers`,
  };
}

/** BullMQ, imported when a shared queue is opened: users of the store alone need not install it. */
export async function loadBullMQ(): Promise<typeof import('bullmq')> {
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
