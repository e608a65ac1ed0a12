/**
 * A task of a shared queue as a BullMQ job: its data (the task as submitted, then its record once
 * a worker has taken it), its priority, its id, and how a job's state reads as a task's status.
 */

import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Priority, TaskStatus } from '../../machines/task-status.js';
import { PrioritySchema, TaskConfigOverridesSchema } from '../config/engine-options.js';
import { ValidationError } from '../errors.js';
import { OwnKeysRecordSchema } from '../internal/validate.js';
import type { SubmitInput } from '../runtime/intake.js';
import type { TaskRecord } from '../stores/types.js';

/** The version of the job data this library writes (a newer one is refused by a worker). */
export const JOB_DATA_VERSION = 1;

/** A task as a submitter hands it to a shared queue: JSON only (no callbacks, no signal). */
export const SharedTaskSchema = z
  .object({
    taskType: z.string({ error: 'expected a task type name' }).min(1),
    data: z.unknown(),
    priority: PrioritySchema.optional(),
    config: TaskConfigOverridesSchema.optional(),
    metadata: OwnKeysRecordSchema.optional(),
    /** The task's id (the job's id); default a time-ordered UUID (version 7). Not a number, no `:`. */
    id: z
      .string()
      .min(1)
      .max(256)
      .refine((id) => !id.includes(':'), { error: "a job id may not contain ':'" })
      .refine((id) => !/^\d+$/.test(id), { error: 'a job id may not be a whole number' })
      .optional(),
    /** Submitting a key the queue holds returns that task's id and adds nothing. */
    idempotencyKey: z.string().min(1).max(512).optional(),
  })
  .strict();

export type SharedTaskInput = z.input<typeof SharedTaskSchema>;

/** What a job carries. */
export interface JobData {
  v: number;
  /** The task as submitted, until a worker first takes it. */
  input?: SubmitInput | undefined;
  /** When it was submitted (ms on the submitter's clock). */
  createdAt: number;
  /**
   * The task's record, from the first time a worker took it: written when an attempt starts
   * (`running`, with its machine's snapshot), when it is to retry, and when it ends.
   */
  record?: TaskRecord | undefined;
}

/** BullMQ's priority of a task: 1 is taken first; all four are "prioritized" (FIFO within one). */
export const JOB_PRIORITY: Record<Priority, number> = { URGENT: 1, HIGH: 2, MEDIUM: 3, LOW: 4 };

/** The job id of a task submitted with an idempotency key (and no id of its own). */
export function idOfKey(key: string): string {
  return `k-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** A job's data, checked: a job this library did not write (or a newer one wrote) is refused. */
export function readJobData(jobId: string, data: unknown): JobData {
  const d = data as Partial<JobData> | null;
  if (d === null || typeof d !== 'object' || typeof d.v !== 'number') {
    throw new ValidationError(`job '${jobId}' is not a task of ai-task-queue`, [
      { path: 'job.data', message: 'not a task', received: data },
    ]);
  }
  if (d.v > JOB_DATA_VERSION) {
    throw new ValidationError(
      `job '${jobId}' was written by a newer ai-task-queue (data version ${d.v}; this one knows up to ${JOB_DATA_VERSION}): upgrade this worker`,
      [{ path: 'job.data.v', message: 'newer version', received: d.v }],
    );
  }
  return d as JobData;
}

/** BullMQ's states of a job. */
export type JobState =
  | 'waiting'
  | 'prioritized'
  | 'paused'
  | 'delayed'
  | 'active'
  | 'completed'
  | 'failed'
  | 'waiting-children'
  | 'unknown';

/**
 * A task's status from its job's state and data: a delayed job is a task waiting to retry, an
 * active one runs once its worker has started its attempt (until then it waits in that worker's
 * line), a finished one has its record.
 */
export function statusOf(state: JobState, data: JobData, ended?: TaskRecord): TaskStatus {
  switch (state) {
    case 'completed':
      return ended?.status ?? 'completed';
    case 'failed':
      return data.record?.status === 'cancelled' ? 'cancelled' : 'failed';
    case 'delayed':
      return 'retrying';
    case 'active':
      return data.record?.status === 'running' ? 'running' : 'queued';
    default:
      return data.record?.status === 'retrying' ? 'retrying' : 'queued';
  }
}
