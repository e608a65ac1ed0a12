/**
 * What a shared queue's sides share: the keys of its own besides BullMQ's, the script that counts
 * a task's end once, what a worker is given (`QueueParts`), and BullMQ loaded on demand.
 */

import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type SerializedError, StoreError } from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { JobData } from './queue-jobs.js';

/** Counts a task's end once (a re-run after a lost report is not counted again). */
export const COUNT_END = `
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
