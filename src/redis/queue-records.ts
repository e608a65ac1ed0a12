/**
 * A shared queue's task as a record, wherever it is: read from its job (state first, then the
 * job, so that a completed job is read with its result), or made from what the job carries for a
 * task that ends without running (cancelled while it waited, refused by its worker).
 */

import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SerializedError } from '../errors.js';
import type { SubmitInput } from '../runtime/intake.js';
import type { TaskRecord } from '../stores/types.js';
import { type JobData, type JobState, readJobData, statusOf } from './queue-jobs.js';

/**
 * A task's record: its job's (the data, or the return value once completed), or a cancel's (a job
 * removed while it waited).
 */
export async function readTaskRecord(
  queue: Queue<JobData>,
  redis: Redis,
  cancelledKey: string,
  taskId: string,
  now: number,
): Promise<TaskRecord | undefined> {
  // The state first, then the job: a job read before it completed would have no result yet.
  const state = (await queue.getJobState(taskId)) as JobState;
  const job =
    state === 'unknown' ? undefined : ((await queue.getJob(taskId)) as Job<JobData> | undefined);
  if (job === undefined || job === null) {
    const cancelled = await redis.hget(cancelledKey, taskId);
    return cancelled === null ? undefined : (JSON.parse(cancelled) as TaskRecord);
  }
  const data = readJobData(taskId, job.data);
  const ended =
    state === 'completed' ? ((job.returnvalue as TaskRecord | null) ?? undefined) : undefined;
  const status = statusOf(state, data, ended);
  if (ended !== undefined) return ended;
  if (state === 'failed' && data.record === undefined) {
    // Failed before any worker took it as a task (BullMQ refused it): its reason.
    return endedRecord(taskId, data, 'failed', now, {
      name: 'Error',
      code: 'INTERNAL',
      message: job.failedReason,
      retryable: false,
    });
  }
  return { ...(data.record ?? submittedRecord(taskId, data)), status };
}

/** The record of a task that ends without running (from what its job carries), at `now`. */
export function endedRecord(
  id: string,
  data: JobData,
  status: 'failed' | 'cancelled',
  now: number,
  error?: SerializedError,
): TaskRecord {
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
  const submitted = submittedRecord(id, data);
  return {
    ...submitted,
    status,
    completedAt: now,
    ...(error === undefined ? {} : { error }),
    history: [...(submitted.history ?? []), { status, at: now }],
  };
}

/** A task as submitted, before any worker took it (its figures all zero). */
export function submittedRecord(id: string, data: JobData): TaskRecord {
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
