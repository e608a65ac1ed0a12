import type { HistoryEntry } from '../../machines/task.machine.js';
import type { Priority, TaskStatus } from '../../machines/task-status.js';
import type { TaskWaitReason } from '../../machines/wait-reason.js';
import type { SerializedError } from '../errors.js';
import { microsToDollars } from '../limits/prices.js';
import type { TaskRecord } from '../stores/types.js';
import type { Engine } from './engine.js';

/**
 * A task's error as the API shows it: `{ name, code, message, retryable }`, plus `status`,
 * `retryAfterMs`, `providerCode` and `requestId` for a `ProviderError`.
 */
export type TaskErrorView = SerializedError;

/** A task's figures. Durations in seconds, money in US dollars. */
export interface TaskMetrics {
  /** From submission to the first start (so far, while it waits). */
  queueTime: number;
  /** From the first start to the end (so far, while it runs); 0 before it started. */
  executionTime: number;
  promptTokens: number;
  completionTokens: number;
  tokensUsed: number;
  /** The worst case held at admission: prompt × input price + `max_tokens` × output price. */
  estimatedCost: number;
  /** What its calls really cost, all attempts (a composite task: the sum of its children). */
  actualCost: number;
  /** Some call had no `usage` and the tokenizer counted it. */
  usageEstimated: boolean;
  /** Model calls made, all attempts. */
  calls: number;
}

/** What `getTaskStatus` returns, and what `onComplete` / `onError` receive. */
export interface TaskInfo {
  taskId: string;
  taskType: string;
  status: TaskStatus;
  priority: Priority;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Attempts started so far. */
  attempts: number;
  /** Place in line while queued and due (1 = next to start); `null` otherwise. */
  position: number | null;
  /** Why it is not running, while it waits; `null` once running or finished. */
  waitingFor: TaskWaitReason | null;
  /** When that may change (a retry's backoff, a window's rollover), if known. */
  waitingUntil: Date | null;
  error: TaskErrorView | null;
  /** The result, once completed. */
  result: unknown;
  metrics: TaskMetrics;
  metadata: Record<string, unknown>;
  parentId: string | null;
  history: Array<{ status: TaskStatus; at: Date; reason?: string }>;
}

function historyView(history: readonly HistoryEntry[]): TaskInfo['history'] {
  return history.map((h) =>
    h.reason === undefined
      ? { status: h.status, at: new Date(h.at) }
      : { status: h.status, at: new Date(h.at), reason: h.reason },
  );
}

function waiting(
  engine: Engine,
  record: TaskRecord,
  now: number,
): Pick<TaskInfo, 'position' | 'waitingFor' | 'waitingUntil'> {
  const none = { position: null, waitingFor: null, waitingUntil: null };
  switch (record.status) {
    case 'paused':
      return { ...none, waitingFor: 'paused' };
    case 'running':
      return record.reservation.limited ? none : { ...none, waitingFor: 'children' };
    case 'retrying':
    case 'queued': {
      if (record.notBefore !== undefined && record.notBefore > now) {
        // A retry after a 429 waits for what its server asked, not for a backoff of ours.
        const waitingFor = record.error?.retryAfterMs === undefined ? 'retryDelay' : 'server';
        return { ...none, waitingFor, waitingUntil: new Date(record.notBefore) };
      }
      if (!engine.isRunning) return { ...none, waitingFor: 'stopped' };
      const index = engine.positionOf(record.id);
      const position = index === undefined ? null : index + 1;
      if (engine.isPaused) return { position, waitingFor: 'paused', waitingUntil: null };
      // The line's head, or the first task of a model its own limits hold.
      const head = engine.headWait();
      const wait =
        head?.taskId === record.id ? head : engine.heldModels().get(record.reservation.model);
      if (wait?.taskId === record.id) {
        return {
          position,
          waitingFor: wait.waitingFor,
          waitingUntil: wait.until === undefined ? null : new Date(wait.until),
        };
      }
      return { position, waitingFor: position === 1 ? null : 'turn', waitingUntil: null };
    }
    default:
      return none;
  }
}

/** A task record as the API shows it: `Date`s, seconds, dollars, the live history. */
export function toTaskInfo(engine: Engine, record: TaskRecord): TaskInfo {
  const now = engine.clock.now();
  return taskInfoOf(record, now, waiting(engine, record, now), engine.historyOf(record));
}

/**
 * A task record as the API shows it, at `now`, with where it waits and its history as the
 * holder of the record knows them (an engine, or a shared queue).
 */
export function taskInfoOf(
  record: TaskRecord,
  now: number,
  wait: Pick<TaskInfo, 'position' | 'waitingFor' | 'waitingUntil'>,
  history: readonly HistoryEntry[],
): TaskInfo {
  const started = record.startedAt;
  const ended = record.completedAt;
  const prompt = record.usage.promptTokens;
  const completion = record.usage.completionTokens;
  const error = record.error;
  return {
    taskId: record.id,
    taskType: record.type,
    status: record.status,
    priority: record.priority,
    createdAt: new Date(record.createdAt),
    startedAt: started === undefined ? null : new Date(started),
    completedAt: ended === undefined ? null : new Date(ended),
    attempts: record.attempts,
    ...wait,
    error: error === undefined ? null : errorView(error),
    result: record.status === 'completed' ? record.result : null,
    metrics: {
      queueTime: ((started ?? ended ?? now) - record.createdAt) / 1000,
      executionTime: started === undefined ? 0 : ((ended ?? now) - started) / 1000,
      promptTokens: prompt,
      completionTokens: completion,
      tokensUsed: prompt + completion,
      estimatedCost: microsToDollars(record.reservation.worstCaseMicros),
      actualCost: microsToDollars(record.costMicros),
      usageEstimated: record.usage.estimated,
      calls: record.usage.calls,
    },
    metadata: record.metadata ?? {},
    parentId: record.parentId ?? null,
    history: historyView(history),
  };
}

/** The error's public fields, and only those (a store may keep others). */
function errorView(error: SerializedError): TaskErrorView {
  const { name, code, message, retryable, status, retryAfterMs, providerCode, requestId } = error;
  return {
    name,
    code,
    message,
    retryable,
    ...(status === undefined ? {} : { status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(providerCode === undefined ? {} : { providerCode }),
    ...(requestId === undefined ? {} : { requestId }),
  };
}
