import type { HistoryEntry } from '../../machines/task.machine.js';
import type { Priority, TaskStatus } from '../../machines/task-status.js';
import type { SerializedError } from '../errors.js';

/** Per-task settings after defaults were applied. Durations in seconds (the public unit). */
export interface ResolvedTaskConfig {
  maxRetries: number;
  retryDelay: number;
  maxRetryDelay: number;
  maxRateLimitRetries: number;
  /** Seconds one attempt may take. */
  timeout: number;
  /** Seconds the whole task may take from submission, across retries (`undefined` = none). */
  deadline?: number | undefined;
  /** Overrides the estimated prompt tokens. */
  estimatedTokens?: number | undefined;
  maxTokens?: number | undefined;
  model?: string | undefined;
}

/** The admission figures of a task, fixed at submit. */
export interface TaskReservation {
  model: string;
  promptTokens: number;
  maxTokens: number;
  /** Worst-case cost (prompt × input price + maxTokens × output price), micro-dollars. */
  worstCaseMicros: number;
  /** Whether the task takes a slot and passes the limits (`false` for composite parents). */
  limited: boolean;
}

export interface TaskUsage {
  promptTokens: number;
  completionTokens: number;
  /** Some calls had no `usage` and were counted with the tokenizer. */
  estimated: boolean;
  /** Calls made, all attempts included. */
  calls: number;
}

/**
 * Everything a store keeps about one task. Timestamps are milliseconds on the injected clock.
 * `snapshot` holds the task machine's persisted snapshot once the task has left its initial state
 * (a task that has never moved is derived from the record, which keeps 100,000 waiting tasks cheap).
 */
export interface TaskRecord {
  id: string;
  type: string;
  priority: Priority;
  status: TaskStatus;
  /** Submission order, strictly increasing: FIFO within a priority. */
  seq: number;
  data: unknown;
  metadata?: Record<string, unknown> | undefined;
  config: ResolvedTaskConfig;
  reservation: TaskReservation;
  parentId?: string | undefined;
  createdAt: number;
  startedAt?: number | undefined;
  completedAt?: number | undefined;
  attempts: number;
  /** When a retry may be admitted. */
  notBefore?: number | undefined;
  usage: TaskUsage;
  /** What the task really cost so far, micro-dollars. */
  costMicros: number;
  result?: unknown;
  error?: SerializedError | undefined;
  /** The task machine's persisted snapshot, once the task has left `queued` the first time. */
  snapshot?: unknown;
  /**
   * Transitions with their times. Absent while the task has never moved (its history is then
   * `[{ status: 'queued', at: createdAt }]`), which keeps waiting tasks small.
   */
  history?: HistoryEntry[] | undefined;
}

export interface TaskQuery {
  status?: TaskStatus | readonly TaskStatus[] | undefined;
  taskType?: string | undefined;
  priority?: Priority | undefined;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
  /** Page size (default 100). */
  limit?: number | undefined;
}

export interface TaskPage {
  items: TaskRecord[];
  /** `null` on the last page. */
  nextCursor: string | null;
}

/**
 * The one contract every store fulfils (memory, SQLite, Redis). The engine reads and writes tasks
 * only through it. Checked by the conformance suite `describeTaskStore` in `test/stores/`.
 */
export interface TaskStore {
  readonly name: string;
  /**
   * True when the store keeps the very record objects it was given (the memory store): a record
   * changed in place is then already stored, and the engine skips `update` calls.
   */
  readonly holdsRecordsByReference?: boolean;
  /** Adds new tasks, all or nothing. Rejects if an id exists already. */
  insert(records: readonly TaskRecord[]): Promise<void>;
  /** Replaces a stored task. Rejects if it does not exist. */
  update(record: TaskRecord): Promise<void>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Tasks in submission order, filtered, one page at a time. */
  list(query?: TaskQuery): Promise<TaskPage>;
  countByStatus(): Promise<Record<TaskStatus, number>>;
  /** Removes tasks by id; resolves with how many existed. */
  remove(ids: readonly string[]): Promise<number>;
  /** Removes finished tasks (completed, failed, cancelled) that ended before `before`. */
  removeFinishedBefore(before: number): Promise<number>;
  close(): Promise<void>;
}
