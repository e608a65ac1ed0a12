import type { AttemptOutcome, TaskErrorInfo } from '../../machines/task.machine.js';
import {
  describeThrown,
  InvalidAnswerError,
  ProviderError,
  serializeError,
  serverWaitTooLong,
  TaskQueueError,
  TaskTimeoutError,
} from '../errors.js';
import { CostTally, type ModelPrice } from '../limits/cost.js';
import { countChatTokens, countTextTokens } from '../limits/tokens.js';
import { type JudgedUsage, judgeUsage, tokenCount } from '../limits/usage.js';
import type {
  AIClient,
  ChatRequest,
  ChatResponse,
  EmbedResponse,
  RateLimitHints,
  Usage,
} from '../providers/types.js';
import type { TaskRecord } from '../stores/types.js';
import type {
  AnyTaskTypeDefinition,
  ChatCall,
  ChildOutcome,
  ChildTaskSpec,
  EmbedCall,
  TaskContext,
  TaskEnvironment,
} from '../task-types/types.js';
import type { Clock, RandomSource } from '../time/clock.js';

/** What the calls of one attempt used and cost. */
export interface AttemptMeter {
  promptTokens: number;
  completionTokens: number;
  /** Micro-dollars: `cost` rounded up once. */
  costMicros: number;
  /** The exact cost of the attempt's calls, summed before rounding. */
  cost: CostTally;
  /** Some usage was counted with the tokenizer because the server did not report it. */
  estimated: boolean;
  calls: number;
}

/** What attempts need from the engine; one object for all of them. */
export interface AttemptDeps {
  clock: Clock;
  random: RandomSource;
  client: AIClient;
  environment(record: TaskRecord): TaskEnvironment;
  priceOf(model: string): ModelPrice | undefined;
  /** The longest wait a server may ask for (`maxServerWait`), in milliseconds. */
  maxServerWaitMs(): number;
  onHints(model: string, hints: RateLimitHints): void;
  onProgress(record: TaskRecord, progress: number, current: number, total: number): void;
  /** A call's reported usage was above what its request allowed; it was charged `charged`. */
  onSuspectUsage(record: TaskRecord, attempt: number, report: SuspectUsage): void;
  runChildren(
    record: TaskRecord,
    children: readonly ChildTaskSpec[],
    onChildSettled?: (outcome: ChildOutcome, done: number, total: number) => void,
  ): Promise<ChildOutcome[]>;
}

/** A usage report that was not believed, and what was charged instead. */
export interface SuspectUsage {
  model: string;
  /** What the server reported (rounded up to whole tokens). */
  reported: { promptTokens: number; completionTokens: number };
  /** What the call was charged: at most what its request allowed. */
  charged: { promptTokens: number; completionTokens: number };
  /** The request's `max_tokens` (0 for embeddings). */
  maxTokens: number;
}

/**
 * One attempt's abort switch. `abort(reason)` fires the attempt's `AbortSignal` (so the call in
 * flight is aborted) and settles the attempt at once, even if the task type ignores the signal.
 */
export class AttemptHandle {
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

function newMeter(): AttemptMeter {
  return {
    promptTokens: 0,
    completionTokens: 0,
    costMicros: 0,
    cost: new CostTally(),
    estimated: false,
    calls: 0,
  };
}

function charge(
  meter: AttemptMeter,
  price: ModelPrice | undefined,
  promptTokens: number,
  completionTokens: number,
): void {
  meter.promptTokens += promptTokens;
  meter.completionTokens += completionTokens;
  if (price === undefined) return;
  meter.cost.add(price, promptTokens, completionTokens);
  meter.costMicros = meter.cost.micros;
}

function isAbortLike(error: unknown, handle: AttemptHandle): boolean {
  if (handle.isAborted) return true;
  try {
    if (error instanceof TaskTimeoutError) return true;
    if (error instanceof ProviderError)
      return error.status === undefined && /timed? ?out|abort/i.test(error.message);
    return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
  } catch {
    // A value whose getters throw is no abort.
    return false;
  }
}

/** Reduces any failure to the form the task machine decides on. Never throws. */
export function classifyFailure(error: unknown, at: number, jitter: number): AttemptOutcome {
  const info: TaskErrorInfo = serializeError(error);
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

/** The tokens of a response schema, which providers bill as part of the prompt. */
function schemaTokens(format: ChatCall['responseFormat'], model: string): number {
  if (format?.type !== 'json_schema') return 0;
  return countTextTokens(JSON.stringify(format.jsonSchema.schema) ?? '', model);
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

/** A call in flight, and what it owes if the attempt is aborted under it. */
class InFlightCall {
  paid = false;
  constructor(
    private readonly meter: AttemptMeter,
    private readonly price: ModelPrice | undefined,
    private readonly model: string,
    private readonly messages: ChatCall['messages'] | undefined,
    private readonly input: readonly string[] | undefined,
  ) {}

  /** The prompt (or embedding input) that was sent, charged at the input price, once. */
  pay(): void {
    if (this.paid) return;
    this.paid = true;
    this.meter.estimated = true;
    charge(this.meter, this.price, this.promptTokens(), 0);
  }

  promptTokens(): number {
    if (this.messages !== undefined) return countChatTokens(this.messages, this.model);
    let tokens = 0;
    for (const text of this.input ?? []) tokens += countTextTokens(text, this.model);
    return tokens;
  }
}

/**
 * What a task type's `run` gets for one attempt: its data, metered and limited model calls,
 * progress and child tasks. One object per attempt (methods on the prototype, no closures).
 * It is also the calls' options object: clients read `signal` from it only if they abort.
 */
class AttemptContext implements TaskContext {
  readonly taskId: string;
  readonly data: unknown;
  readonly env: TaskEnvironment;
  /** Calls in flight: an aborted attempt settles at once, before the client's rejection arrives, so it charges them itself. */
  private inFlight: InFlightCall[] | undefined;

  constructor(
    private readonly record: TaskRecord,
    readonly attempt: number,
    private readonly handle: AttemptHandle,
    private readonly deps: AttemptDeps,
    private readonly meter: AttemptMeter,
  ) {
    this.taskId = record.id;
    this.data = record.data;
    this.env = deps.environment(record);
  }

  get signal(): AbortSignal {
    return this.handle.signal;
  }

  async chat(call: ChatCall): Promise<ChatResponse> {
    this.refuseIfAborted();
    const reservation = this.record.reservation;
    const model = call.model ?? reservation.model;
    const request: ChatRequest = {
      model,
      messages: call.messages,
      maxTokens: call.maxTokens ?? reservation.maxTokens,
      ...(call.responseFormat === undefined ? {} : { responseFormat: call.responseFormat }),
      ...(call.temperature === undefined ? {} : { temperature: call.temperature }),
    };
    const { meter, deps } = this;
    meter.calls++;
    const price = deps.priceOf(model);
    const pending = this.track(new InFlightCall(meter, price, model, call.messages, undefined));
    try {
      const response = await deps.client.chat(request, this);
      this.untrack(pending);
      if (response.hints) deps.onHints(model, response.hints);
      const usage = this.judge(
        model,
        response.usage,
        request.maxTokens,
        () => pending.promptTokens() + schemaTokens(call.responseFormat, model),
      );
      if (usage) {
        charge(meter, price, usage.promptTokens, usage.completionTokens);
      } else {
        meter.estimated = true;
        charge(meter, price, pending.promptTokens(), countTextTokens(response.content, model));
      }
      return response;
    } catch (error) {
      this.settleFailed(pending, model, error);
      throw error;
    }
  }

  async embed(call: EmbedCall): Promise<EmbedResponse> {
    this.refuseIfAborted();
    const { meter, deps } = this;
    const model = call.model ?? this.env.embeddingModel;
    meter.calls++;
    const price = deps.priceOf(model);
    const pending = this.track(new InFlightCall(meter, price, model, undefined, call.input));
    try {
      const response = await deps.client.embed({ model, input: call.input }, this);
      this.untrack(pending);
      if (response.hints) deps.onHints(model, response.hints);
      const reported = response.usage && {
        promptTokens: response.usage.promptTokens,
        completionTokens: 0,
      };
      const usage = this.judge(model, reported, 0, () => pending.promptTokens());
      if (usage) {
        charge(meter, price, usage.promptTokens, 0);
      } else {
        meter.estimated = true;
        charge(meter, price, pending.promptTokens(), 0);
      }
      return response;
    } catch (error) {
      this.settleFailed(pending, model, error);
      throw error;
    }
  }

  progress(progress: number, current: number, total: number): void {
    this.deps.onProgress(this.record, progress, current, total);
  }

  runChildren(
    children: readonly ChildTaskSpec[],
    onChildSettled?: (outcome: ChildOutcome, done: number, total: number) => void,
  ): Promise<ChildOutcome[]> {
    return this.deps.runChildren(this.record, children, onChildSettled);
  }

  /**
   * The usage to charge for a call's report (`undefined`: none that can be read, so the caller
   * counts the call itself). A report above what the request allowed is charged at what it
   * allowed, and told to the engine.
   */
  private judge(
    model: string,
    usage: Pick<Usage, 'promptTokens' | 'completionTokens'> | undefined,
    maxTokens: number,
    countPrompt: () => number,
  ): JudgedUsage | undefined {
    if (usage === undefined) return undefined;
    const bounds = {
      maxCompletionTokens: maxTokens,
      promptEstimate: this.record.reservation.promptTokens,
      countPrompt,
    };
    const judged = judgeUsage(usage.promptTokens, usage.completionTokens, bounds);
    if (judged?.suspect) {
      this.deps.onSuspectUsage(this.record, this.attempt, {
        model,
        reported: {
          promptTokens: tokenCount(usage.promptTokens) ?? 0,
          completionTokens: tokenCount(usage.completionTokens) ?? 0,
        },
        charged: { promptTokens: judged.promptTokens, completionTokens: judged.completionTokens },
        maxTokens,
      });
    }
    return judged;
  }

  /**
   * A call made after the attempt was aborted (a task type that ignores its signal) is refused
   * with the abort's reason, so it is never sent and never paid for.
   */
  private refuseIfAborted(): void {
    if (this.handle.isAborted) throw this.handle.reason;
  }

  /** Charges every call still in flight (the attempt was aborted under them). */
  payInFlight(): void {
    const calls = this.inFlight;
    if (calls === undefined) return;
    this.inFlight = undefined;
    for (const call of calls) call.pay();
  }

  private track(call: InFlightCall): InFlightCall {
    if (this.inFlight === undefined) this.inFlight = [call];
    else this.inFlight.push(call);
    return call;
  }

  private untrack(call: InFlightCall): void {
    call.paid = true;
    const calls = this.inFlight;
    if (calls === undefined) return;
    const i = calls.indexOf(call);
    if (i >= 0) calls.splice(i, 1);
  }

  private settleFailed(call: InFlightCall, model: string, error: unknown): void {
    if (error instanceof ProviderError && error.retryAfterMs !== undefined) {
      this.deps.onHints(model, { retryAfterMs: error.retryAfterMs });
    }
    // Aborted or timed out without usage: the prompt was sent, so it is charged.
    if (isAbortLike(error, this.handle)) call.pay();
    this.untrack(call);
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
  const meter = newMeter();
  const ctx = new AttemptContext(record, attempt, handle, deps, meter);

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
