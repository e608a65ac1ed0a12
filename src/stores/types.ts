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
  /**
   * The caller's key for this submission: a store holds at most one task per key, and submitting
   * the key again returns that task's id instead of adding one.
   */
  idempotencyKey?: string | undefined;
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
 * One entry of the ledger a durable store keeps: a resource event the engine wrote ahead (a
 * budget hold, commit or release, a rate-window take or its reconciliation). Replayed into fresh
 * resource actors when the store is opened again, so budgets and rate windows are right after a
 * restart. `event` is JSON and opaque to the store.
 */
export interface LedgerEntry {
  /** When it happened, ms on the injected clock. */
  at: number;
  /** The task it belongs to, if any. */
  taskId?: string | undefined;
  event: unknown;
}

/** A ledger entry as stored: `seq` numbers entries in the order they were appended, from 1. */
export interface StoredLedgerEntry extends LedgerEntry {
  seq: number;
}

/** Which ledger entries to read: those with `seq > after`, at most `limit` (default 1,000). */
export interface LedgerQuery {
  after?: number | undefined;
  limit?: number | undefined;
}

/**
 * Writes that land together or not at all (one transaction in a durable store): new tasks,
 * changed tasks, removed tasks, ledger entries, applied in that order.
 */
export interface StoreWrite {
  insert?: readonly TaskRecord[] | undefined;
  update?: readonly TaskRecord[] | undefined;
  remove?: readonly string[] | undefined;
  ledger?: readonly LedgerEntry[] | undefined;
}

/**
 * A page of tasks in admission order: priority (HIGH first), then `seq`. The statuses default to
 * `queued` and `retrying`; `model` keeps the tasks whose reservation names that model.
 */
export interface WaitingQuery {
  statuses?: readonly TaskStatus[] | undefined;
  model?: string | undefined;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
  /**
   * Instead of a cursor: the tasks after this place in admission order (the engine reads its
   * backlog from where its in-memory window ends).
   */
  after?: WaitingPosition | undefined;
  /** Page size (default 100, at most 1,000). */
  limit?: number | undefined;
}

/** A place in admission order: priority, then `seq`, then `id`. */
export interface WaitingPosition {
  priority: Priority;
  seq: number;
  id: string;
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
  /**
   * True when commits apply in the order they were called even while earlier ones are still in
   * flight (the SQLite store: one connection, one queue of requests). The engine then hands each
   * turn's commit over at once instead of after the one before, so a store that takes its time
   * (a worker thread) always has the next commit waiting. Such a store must fix a commit's place
   * in its order when `commit` is called, before it returns (a wrapper that awaits anything
   * before passing the write on must not claim this).
   */
  readonly ordersCommits?: boolean;
  /**
   * Whether what the store holds outlives the process (SQLite, Redis). The engine writes the
   * ledger and recovers unfinished tasks only with a durable store.
   */
  readonly durable: boolean;
  /**
   * Applies a {@link StoreWrite}, all or nothing. Rejects (and changes nothing) when an inserted
   * id or idempotency key exists already or appears twice. An updated task that is not stored is
   * skipped: it was removed while its change was on the way.
   */
  commit(write: StoreWrite): Promise<void>;
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
  /** The ids of the stored tasks that have these idempotency keys (unknown keys are left out). */
  findByIdempotencyKeys(keys: readonly string[]): Promise<Map<string, string>>;
  /** One page of tasks in admission order (see {@link WaitingQuery}). */
  listWaiting(query?: WaitingQuery): Promise<TaskPage>;
  /** How many stored tasks in these statuses there are, by priority (zeros included). */
  countWaiting(statuses: readonly TaskStatus[]): Promise<Record<Priority, number>>;
  /** The largest `seq` stored (0 when empty), so a reopened store's new tasks come after. */
  lastSeq(): Promise<number>;
  /** Ledger entries in append order (see {@link LedgerQuery}). */
  readLedger(query?: LedgerQuery): Promise<StoredLedgerEntry[]>;
  /**
   * Shortens the ledger: entries with `seq` below `throughSeq` are removed and the entry at
   * `throughSeq` is replaced by `checkpoint` (which stands for all of them), in one step. Rejects
   * if there is no entry `throughSeq`.
   */
  compactLedger(throughSeq: number, checkpoint: LedgerEntry): Promise<void>;
  close(): Promise<void>;
}
