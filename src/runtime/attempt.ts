/**
 * Running one attempt of a task: its abort switch (a cancel, or its timeout on the injected clock),
 * the task type's `run` raced against it, the result checked against the output schema, and any
 * failure reduced to the outcome the task machine decides on. What `run` gets to call the model
 * with is `attempt-context.ts`.
 */

import type { AttemptOutcome, TaskErrorInfo } from '../../machines/task.machine.js';
import {
  asRefusal,
  describeThrown,
  InvalidAnswerError,
  type ProviderError,
  serializeError,
  serverWaitTooLong,
  TaskQueueError,
  TaskTimeoutError,
} from '../errors.js';
import type { TaskRecord } from '../stores/types.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import type { Clock, RandomSource } from '../time/clock.js';
import {
  type AttemptAbort,
  AttemptContext,
  type AttemptContextDeps,
  type AttemptMeter,
} from './attempt-context.js';

export type { AttemptMeter } from './attempt-context.js';

/** What attempts need from the engine; one object for all of them. */
export interface AttemptDeps extends AttemptContextDeps {
  clock: Clock;
  random: RandomSource;
  /** The longest wait a server may ask for (`maxServerWait`), in milliseconds. */
  maxServerWaitMs(): number;
  /**
   * Resolves once the store has what admission wrote for task `id` (its `running` state, its
   * hold), and a shared queue its running record: nothing is sent before (write-ahead). Rejects
   * with the store's error if that write failed.
   */
  written(id: string): Promise<void>;
}

/**
 * One attempt's abort switch. `abort(reason)` fires the attempt's `AbortSignal` (so the call in
 * flight is aborted) and settles the attempt at once, even if the task type ignores the signal.
 */
export class AttemptHandle implements AttemptAbort {
  /** Made on first use: an `AbortSignal` costs ~3 µs, and a call that never reads it needs none. */
  private controller: AbortController | undefined;
  private rejectRun: ((reason: unknown) => void) | undefined;
  private abortReason: unknown;
  private aborted = false;

  /** The attempt's signal: aborted when the task is cancelled or the attempt times out. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.rejectRun?.(reason);
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  /** Settles with `work`, or rejects with the abort reason if the attempt is aborted first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.aborted) {
      work.catch(() => undefined);
      return Promise.reject(this.abortReason);
    }
    return new Promise<T>((resolve, reject) => {
      this.rejectRun = reject;
      work.then(resolve, reject);
    });
  }
}

export interface AttemptResult {
  outcome: AttemptOutcome;
  meter: AttemptMeter;
  result?: unknown;
}

/** Reduces any failure to the form the task machine decides on. Never throws. */
export function classifyFailure(error: unknown, at: number, jitter: number): AttemptOutcome {
  const info: TaskErrorInfo = serializeError(error);
  // A custom client's plain ProviderError for a refusal no wait cures is one, as the OpenAI
  // adapter's would be: not retried (its provider or model is stopped where the call failed).
  const refusal = asRefusal(info);
  if (refusal !== undefined) return { ok: false, at, error: refusal, rateLimited: false, jitter };
  // `serializeError` read a ProviderError's fields already; a value it could not read is no
  // ProviderError, so these reads cannot throw.
  const provider = info.code === 'PROVIDER_ERROR' ? (error as ProviderError) : undefined;
  const rateLimited = provider?.status === 429;
  const retryAfterMs = provider?.retryAfterMs;
  const outcome: AttemptOutcome = { ok: false, at, error: info, rateLimited, jitter };
  if (retryAfterMs !== undefined) outcome.retryAfterMs = retryAfterMs;
  return outcome;
}

/**
 * A failure whose server asked for a wait above `maxWaitMs` fails the task with
 * `ServerWaitError` instead of retrying that far in the future.
 */
function boundServerWait(
  outcome: AttemptOutcome,
  model: string,
  maxWaitMs: number,
): AttemptOutcome {
  if (outcome.ok || outcome.retryAfterMs === undefined || outcome.retryAfterMs <= maxWaitMs) {
    return outcome;
  }
  const waitMs = outcome.retryAfterMs;
  const error = serverWaitTooLong(model, waitMs, maxWaitMs, outcome.at + waitMs);
  return {
    ok: false,
    at: outcome.at,
    error: serializeError(error),
    rateLimited: false,
    jitter: outcome.jitter,
  };
}

/**
 * Why a task type's result cannot be kept (a BigInt, a cycle: `JSON.stringify` throws), or
 * `undefined` when it can. Results are stored and written out as JSON.
 */
function unserialisable(value: unknown): string | undefined {
  if (typeof value === 'bigint') return 'a BigInt';
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    JSON.stringify(value);
    return undefined;
  } catch (error) {
    return describeThrown(error) ?? 'JSON.stringify threw';
  }
}

/** `run`'s return value as a promise: a task type may also return its result synchronously. */
function asPromise<T>(value: T | PromiseLike<T>): Promise<T> {
  return value instanceof Promise ? value : Promise.resolve(value);
}

/** `instanceof` without throwing (a proxy's `getPrototypeOf` trap may throw). */
function isTaskQueueError(value: unknown): boolean {
  try {
    return value instanceof TaskQueueError;
  } catch {
    return false;
  }
}

/** A result that failed its schema, as text for the error's `raw` (never throws). */
function rawText(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return describeThrown(raw) ?? '';
  }
}

/**
 * Runs one attempt of a task: builds its context (metered, limited calls), enforces the attempt's
 * timeout on the injected clock, validates the result against the task type's output schema,
 * and reports an outcome. Never rejects.
 */
export async function runAttempt(
  definition: AnyTaskTypeDefinition,
  record: TaskRecord,
  attempt: number,
  handle: AttemptHandle,
  timeoutMs: number | undefined,
  deps: AttemptDeps,
): Promise<AttemptResult> {
  const ctx = new AttemptContext(record, attempt, handle, deps);
  const { meter } = ctx;

  let timer: unknown;
  if (timeoutMs !== undefined) {
    timer = deps.clock.setTimeout(() => {
      handle.abort(
        new TaskTimeoutError(
          `task '${record.id}' attempt ${attempt} timed out after ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
  }

  try {
    await handle.race(deps.written(record.id));
    const raw = await handle.race(asPromise(definition.run(ctx)));
    const parsed = definition.output.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidAnswerError(
        `the result of task '${record.id}' does not match the ${definition.name} output schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        rawText(raw),
      );
    }
    const why = unserialisable(parsed.data);
    if (why !== undefined) {
      throw new InvalidAnswerError(
        `the result of task '${record.id}' cannot be serialised (${why}): a bug in the ${definition.name} task type, not retried`,
        '',
        { retryable: false },
      );
    }
    return { outcome: { ok: true, at: deps.clock.now() }, meter, result: parsed.data };
  } catch (thrown) {
    // Whatever was still in flight when the attempt was aborted owes its prompt.
    if (handle.isAborted) ctx.payInFlight();
    const error =
      handle.isAborted && !isTaskQueueError(thrown) ? (handle.reason ?? thrown) : thrown;
    const outcome = classifyFailure(error, deps.clock.now(), deps.random());
    return {
      outcome: boundServerWait(outcome, record.reservation.model, deps.maxServerWaitMs()),
      meter,
    };
  } finally {
    if (timer !== undefined) deps.clock.clearTimeout(timer);
  }
}
