/**
 * One error tree for the whole library. Every error the public API throws or rejects with is a
 * `TaskQueueError`; each class has a stable `code`, so errors reloaded from a store (where the
 * prototype is lost) still classify by `code`.
 *
 * | class | code | retryable |
 * |---|---|---|
 * | ValidationError | VALIDATION | no |
 * | QueueFullError | QUEUE_FULL | no |
 * | QueueStoppedError | QUEUE_STOPPED | no |
 * | BudgetExceededError | BUDGET_EXCEEDED | no |
 * | TaskNotFoundError | TASK_NOT_FOUND | no |
 * | WaitTimeoutError | WAIT_TIMEOUT | no |
 * | TaskTimeoutError | TASK_TIMEOUT | yes |
 * | TaskCancelledError | TASK_CANCELLED | no |
 * | ProviderError | PROVIDER_ERROR | per status |
 * | ProviderRefusedError | PROVIDER_REFUSED | no |
 * | InvalidAnswerError | INVALID_ANSWER | yes |
 * | NonRetryableError | NON_RETRYABLE | no |
 * | ServerWaitError | SERVER_WAIT | no |
 * | StoreError | STORE | no |
 */

export type ErrorCode =
  | 'VALIDATION'
  | 'QUEUE_FULL'
  | 'QUEUE_STOPPED'
  | 'BUDGET_EXCEEDED'
  | 'TASK_NOT_FOUND'
  | 'WAIT_TIMEOUT'
  | 'TASK_TIMEOUT'
  | 'TASK_CANCELLED'
  | 'PROVIDER_ERROR'
  | 'PROVIDER_REFUSED'
  | 'INVALID_ANSWER'
  | 'NON_RETRYABLE'
  | 'SERVER_WAIT'
  | 'STORE'
  | 'INTERNAL';

export interface TaskQueueErrorOptions {
  cause?: unknown;
}

/** The root of the tree. `retryable` tells the task machine whether another attempt may help. */
export class TaskQueueError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(
    message: string,
    code: ErrorCode = 'INTERNAL',
    retryable = false,
    options?: TaskQueueErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/** One problem found while validating input: the field's path and the value received. */
export interface ValidationIssue {
  path: string;
  message: string;
  received?: unknown;
}

/** Bad input: names the field and the value received. Nothing was changed. */
export class ValidationError extends TaskQueueError {
  readonly issues: readonly ValidationIssue[];
  constructor(message: string, issues: readonly ValidationIssue[] = []) {
    super(message, 'VALIDATION', false);
    this.issues = issues;
  }
}

/** The waiting line is at `maxQueueSize`; nothing was enqueued. */
export class QueueFullError extends TaskQueueError {
  constructor(message: string) {
    super(message, 'QUEUE_FULL', false);
  }
}

/** The queue was stopped; it accepts no more tasks. */
export class QueueStoppedError extends TaskQueueError {
  constructor(message = 'the queue is stopped and accepts no more tasks') {
    super(message, 'QUEUE_STOPPED', false);
  }
}

/** A task's worst-case cost does not fit a budget (at submit, or at admission for the total). */
export class BudgetExceededError extends TaskQueueError {
  constructor(message: string) {
    super(message, 'BUDGET_EXCEEDED', false);
  }
}

export class TaskNotFoundError extends TaskQueueError {
  readonly taskId: string;
  constructor(taskId: string) {
    super(`no task with id '${taskId}'`, 'TASK_NOT_FOUND', false);
    this.taskId = taskId;
  }
}

/** `waitForTask`'s own timeout ran out; the task itself goes on. */
export class WaitTimeoutError extends TaskQueueError {
  constructor(taskId: string, timeoutSeconds: number) {
    super(`waited ${timeoutSeconds} s for task '${taskId}'; it has not finished`, 'WAIT_TIMEOUT');
  }
}

/** One attempt ran longer than the task's `timeout`, or the task passed its `deadline`. */
export class TaskTimeoutError extends TaskQueueError {
  constructor(message: string, retryable = true) {
    super(message, 'TASK_TIMEOUT', retryable);
  }
}

export class TaskCancelledError extends TaskQueueError {
  constructor(taskId: string) {
    super(`task '${taskId}' was cancelled`, 'TASK_CANCELLED', false);
  }
}

export interface ProviderErrorOptions extends TaskQueueErrorOptions {
  status?: number | undefined;
  providerCode?: string | undefined;
  requestId?: string | undefined;
  retryAfterMs?: number | undefined;
  retryable?: boolean | undefined;
}

/**
 * A failed call to a model provider. Retryable for 408, 409, 429, 5xx, connection errors and
 * timeouts; not for 400, 401, 403, 404, 422.
 */
export class ProviderError extends TaskQueueError {
  /** The `code` of this class's errors. */
  protected static readonly errorCode: ErrorCode = 'PROVIDER_ERROR';
  readonly status: number | undefined;
  /** The provider's own error code (`rate_limit_exceeded`, `invalid_api_key`…). */
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: ProviderErrorOptions = {}) {
    super(
      message,
      (new.target as unknown as { errorCode: ErrorCode }).errorCode,
      options.retryable ?? isRetryableStatus(options.status),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.status = options.status;
    this.providerCode = options.providerCode;
    this.requestId = options.requestId;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** True for HTTP 429: the task is put back without using up a retry. */
  get rateLimited(): boolean {
    return this.status === 429;
  }
}

/** Who a refusal stops: every call to the provider (the key, the account) or one model's. */
export type RefusalScope = 'provider' | 'model';

/** Provider error codes of a 429 that no wait cures: the account has no credit left. */
const OUT_OF_CREDIT = new Set(['insufficient_quota', 'billing_hard_limit_reached']);

/**
 * Whether a provider's answer refuses every later call too, so that waiting or retrying cannot
 * help, and whom it stops: 401 (the key), 403 (the key may not use this), a 429 of
 * `insufficient_quota` / `billing_hard_limit_reached` (the account) stop the provider; 404 (no
 * such model, or no such endpoint for it) stops that model. `undefined` for anything else.
 */
export function refusalScope(
  status: number | undefined,
  providerCode: string | undefined,
): RefusalScope | undefined {
  if (status === 401 || status === 403) return 'provider';
  if (status === 429 && providerCode !== undefined && OUT_OF_CREDIT.has(providerCode)) {
    return 'provider';
  }
  if (status === 404) return 'model';
  return undefined;
}

/**
 * The provider refuses, and will refuse every later call until something changes outside the
 * queue (a key, credit, a model name): see {@link refusalScope}. The task fails at once, without
 * retries; the queue then admits nothing more of that provider (`scope: 'provider'`) or model
 * (`'model'`) and fails those waiting tasks with the same error, until `adjustSettings` or
 * `resume()` is called.
 */
export class ProviderRefusedError extends ProviderError {
  protected static override readonly errorCode: ErrorCode = 'PROVIDER_REFUSED';
  constructor(message: string, options: Omit<ProviderErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: false });
  }

  /** Who the refusal stops. */
  get scope(): RefusalScope {
    return refusalScope(this.status, this.providerCode) ?? 'model';
  }
}

/**
 * The stored form of a refusal no wait cures, if `info` is one: a `ProviderRefusedError`'s as it
 * is, and a plain `ProviderError` with such a status (a custom client's) as a
 * `ProviderRefusedError`'s. `undefined` for anything else.
 */
export function asRefusal(info: SerializedError): SerializedError | undefined {
  if (info.code === 'PROVIDER_REFUSED') return info;
  if (
    info.code !== 'PROVIDER_ERROR' ||
    refusalScope(info.status, info.providerCode) === undefined
  ) {
    return undefined;
  }
  return { ...info, name: 'ProviderRefusedError', code: 'PROVIDER_REFUSED', retryable: false };
}

/** A `ProviderError` for a call that failed with `status`, refused or not (see {@link refusalScope}). */
export function providerErrorFor(message: string, options: ProviderErrorOptions): ProviderError {
  return refusalScope(options.status, options.providerCode) === undefined
    ? new ProviderError(message, options)
    : new ProviderRefusedError(message, options);
}

export interface InvalidAnswerErrorOptions extends TaskQueueErrorOptions {
  /** Default `true`: another answer may be valid. `false` when retrying cannot help. */
  retryable?: boolean | undefined;
}

/**
 * The model's answer did not parse or did not match the output schema (retryable), or a task
 * type's result cannot be serialised (a BigInt, a cycle: a bug in the task type, not retried).
 */
export class InvalidAnswerError extends TaskQueueError {
  /** The raw text of the answer, kept for diagnosis. */
  readonly raw: string;
  constructor(message: string, raw: string, options?: InvalidAnswerErrorOptions) {
    super(
      message,
      'INVALID_ANSWER',
      options?.retryable ?? true,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.raw = raw;
  }
}

/** Thrown by a task type to fail the task at once, without retries. */
export class NonRetryableError extends TaskQueueError {
  constructor(message: string, options?: TaskQueueErrorOptions) {
    super(message, 'NON_RETRYABLE', false, options);
  }
}

/**
 * A provider asked for a wait longer than `maxServerWait` (a `retry-after`, or an
 * `x-ratelimit-reset-*` with nothing remaining): the tasks of that model fail with it rather than
 * wait silently. `retryAfterMs` is the server's wait; raise `maxServerWait` to wait that long.
 */
export class ServerWaitError extends TaskQueueError {
  /** The wait the server asked for, in milliseconds. */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message, 'SERVER_WAIT', false);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Why a store refused to open or to write. */
export type StoreErrorReason =
  /** The file is not a database, or a page of it is damaged. */
  | 'corrupt'
  /** The file is a database, but not one of this library's stores. */
  | 'foreign'
  /** Written by a newer version of the library (a schema this one does not know). */
  | 'newer-schema'
  /** Another process has the store open. */
  | 'locked'
  /** The file or its directory cannot be written. */
  | 'read-only'
  /** The disk is full. */
  | 'full'
  /** The store was closed. */
  | 'closed'
  /** The server cannot be reached, or refused the connection's credentials (Redis). */
  | 'unreachable'
  /** The server may drop what it holds (Redis with a `maxmemory-policy` that evicts keys). */
  | 'unsafe'
  /** Any other input or output error. */
  | 'io';

/**
 * A store could not be opened, read or written. Nothing already committed is lost: a write that
 * fails changes nothing. `path` names the file when the store has one (for Redis: the server,
 * without its password, and the key prefix).
 */
export class StoreError extends TaskQueueError {
  readonly reason: StoreErrorReason;
  readonly path: string | undefined;
  constructor(
    message: string,
    reason: StoreErrorReason,
    path?: string,
    options?: TaskQueueErrorOptions,
  ) {
    super(message, 'STORE', false, options);
    this.reason = reason;
    this.path = path;
  }
}

/**
 * The error for a server's wait of `waitMs` that is above `maxServerWaitMs`. `until` is when the
 * wait ends (epoch ms), shown when it is a date.
 */
export function serverWaitTooLong(
  model: string,
  waitMs: number,
  maxServerWaitMs: number,
  until: number,
): ServerWaitError {
  const when = Number.isNaN(new Date(until).getTime())
    ? ''
    : ` (until ${new Date(until).toISOString()})`;
  return new ServerWaitError(
    `the server asked to wait ${formatWait(waitMs)} before the next call to model '${model}'${when}, longer than maxServerWait (${maxServerWaitMs / 1000} s): raise maxServerWait to wait that long`,
    waitMs,
  );
}

/** `42 s`, `3.5 h`, `1157.4 days`. */
function formatWait(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 3600) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 86_400 * 2) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

/** HTTP statuses that another attempt may fix. `undefined` (no response: connection error) is one. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The plain, serialisable form of an error, as kept in stores and shown in task status. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** The provider's own error code, for a `ProviderError`. */
  providerCode?: string;
  /** The provider's request id (`x-request-id`), for a `ProviderError`. */
  requestId?: string;
}

/** The message of a thrown value that cannot be turned into text. */
export const UNSHOWABLE_MESSAGE = 'a value was thrown that could not be shown';

/**
 * A thrown value as text, whatever it is: an `Error`'s message, else `String(value)`. Never
 * throws: a value whose `message` getter or `String()` conversion throws (`Object.create(null)`,
 * a hostile proxy) gives `undefined`, and callers say that it could not be shown.
 */
export function describeThrown(value: unknown): string | undefined {
  try {
    if (value instanceof Error) {
      const message: unknown = value.message;
      return typeof message === 'string' ? message : String(message);
    }
    return String(value);
  } catch {
    return undefined;
  }
}

/** An `Error`'s `name`, or `fallback` when reading it throws or gives no string. */
function nameOf(error: Error, fallback: string): string {
  try {
    const name: unknown = error.name;
    return typeof name === 'string' && name !== '' ? name : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Reduces any thrown value to its serialisable form. Never includes secrets or stack traces, and
 * never throws: a value that cannot be shown (its `String()` or its getters throw) becomes a
 * non-retryable `INTERNAL` error whose message says so, like any thrown non-`Error`.
 */
export function serializeError(error: unknown): SerializedError {
  try {
    return serializeKnown(error);
  } catch {
    return { name: 'Error', code: 'INTERNAL', message: UNSHOWABLE_MESSAGE, retryable: false };
  }
}

function serializeKnown(error: unknown): SerializedError {
  if (error instanceof TaskQueueError) {
    const out: SerializedError = {
      name: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
    };
    if (error instanceof ServerWaitError) out.retryAfterMs = error.retryAfterMs;
    if (error instanceof ProviderError) {
      if (error.status !== undefined) out.status = error.status;
      if (error.retryAfterMs !== undefined) out.retryAfterMs = error.retryAfterMs;
      if (error.providerCode !== undefined) out.providerCode = error.providerCode;
      if (error.requestId !== undefined) out.requestId = error.requestId;
    }
    return out;
  }
  const message = describeThrown(error);
  if (message === undefined) {
    const name = error instanceof Error ? nameOf(error, 'Error') : 'Error';
    return { name, code: 'INTERNAL', message: UNSHOWABLE_MESSAGE, retryable: false };
  }
  if (error instanceof Error) {
    return { name: nameOf(error, 'Error'), code: 'INTERNAL', message, retryable: true };
  }
  return { name: 'Error', code: 'INTERNAL', message, retryable: false };
}

/**
 * Rebuilds a typed error from its stored form, so `instanceof`, `code` and the class's own fields
 * (a `ProviderError`'s `status` and `retryAfterMs`) all work. An error that was not of the tree
 * comes back as a `TaskQueueError` with code `INTERNAL` and its original `name`.
 */
export function reviveError(info: SerializedError, taskId: string): TaskQueueError {
  switch (info.code) {
    case 'TASK_CANCELLED':
      return new TaskCancelledError(taskId);
    case 'TASK_TIMEOUT':
      return new TaskTimeoutError(info.message, info.retryable);
    case 'BUDGET_EXCEEDED':
      return new BudgetExceededError(info.message);
    case 'PROVIDER_ERROR':
      return new ProviderError(info.message, {
        status: info.status,
        retryAfterMs: info.retryAfterMs,
        providerCode: info.providerCode,
        requestId: info.requestId,
        retryable: info.retryable,
      });
    case 'PROVIDER_REFUSED':
      return new ProviderRefusedError(info.message, {
        status: info.status,
        providerCode: info.providerCode,
        requestId: info.requestId,
      });
    case 'INVALID_ANSWER':
      return new InvalidAnswerError(info.message, '', { retryable: info.retryable });
    case 'NON_RETRYABLE':
      return new NonRetryableError(info.message);
    case 'SERVER_WAIT':
      return new ServerWaitError(info.message, info.retryAfterMs ?? 0);
    case 'VALIDATION':
      return new ValidationError(info.message);
    case 'QUEUE_STOPPED':
      return new QueueStoppedError(info.message);
    case 'STORE':
      // The reason and the path are not kept in the stored form.
      return new StoreError(info.message, 'io');
    default: {
      const error = new TaskQueueError(info.message, 'INTERNAL', info.retryable);
      error.name = info.name;
      return error;
    }
  }
}
