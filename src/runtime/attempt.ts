import type { AttemptOutcome, TaskErrorInfo } from '../../machines/task.machine.js';
import {
  InvalidAnswerError,
  ProviderError,
  serializeError,
  TaskQueueError,
  TaskTimeoutError,
} from '../errors.js';
import { costMicros, type ModelPrice } from '../limits/cost.js';
import { countChatTokens, countTextTokens } from '../limits/tokens.js';
import type { AIClient, RateLimitHints } from '../providers/types.js';
import type { TaskRecord } from '../stores/types.js';
import type {
  AnyTaskTypeDefinition,
  ChildOutcome,
  ChildTaskSpec,
  TaskContext,
  TaskEnvironment,
} from '../task-types/types.js';
import type { Clock, RandomSource } from '../time/clock.js';

/** What the calls of one attempt used and cost. */
export interface AttemptMeter {
  promptTokens: number;
  completionTokens: number;
  /** Micro-dollars. */
  costMicros: number;
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
  onHints(model: string, hints: RateLimitHints): void;
  onProgress(record: TaskRecord, progress: number, current: number, total: number): void;
  runChildren(
    record: TaskRecord,
    children: readonly ChildTaskSpec[],
    onChildSettled?: (outcome: ChildOutcome, done: number, total: number) => void,
  ): Promise<ChildOutcome[]>;
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
  return { promptTokens: 0, completionTokens: 0, costMicros: 0, estimated: false, calls: 0 };
}

function charge(
  meter: AttemptMeter,
  price: ModelPrice | undefined,
  promptTokens: number,
  completionTokens: number,
): void {
  meter.promptTokens += promptTokens;
  meter.completionTokens += completionTokens;
  if (price !== undefined) meter.costMicros += costMicros(price, promptTokens, completionTokens);
}

function isAbortLike(error: unknown, handle: AttemptHandle): boolean {
  if (handle.isAborted) return true;
  if (error instanceof TaskTimeoutError) return true;
  if (error instanceof ProviderError)
    return error.status === undefined && /timed? ?out|abort/i.test(error.message);
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** Reduces any failure to the form the task machine decides on. */
export function classifyFailure(error: unknown, at: number, jitter: number): AttemptOutcome {
  const info: TaskErrorInfo = serializeError(error);
  const rateLimited = error instanceof ProviderError && error.status === 429;
  const retryAfterMs = error instanceof ProviderError ? error.retryAfterMs : undefined;
  const outcome: AttemptOutcome = { ok: false, at, error: info, rateLimited, jitter };
  if (retryAfterMs !== undefined) outcome.retryAfterMs = retryAfterMs;
  return outcome;
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
  // Clients read `signal` from this object only if they support aborting.
  const callOptions = {
    get signal(): AbortSignal {
      return handle.signal;
    },
  };
  const { client } = deps;
  const env = deps.environment(record);
  const reservation = record.reservation;
  // Calls in flight, each with the charge owed if the attempt is aborted under it: an aborted
  // attempt settles at once, before the client's own rejection arrives, so the prompt that was
  // sent is charged here, exactly once.
  const inFlight = new Set<() => void>();
  const owed = (tokens: () => number, price: ModelPrice | undefined) => {
    let paid = false;
    const pay = () => {
      if (paid) return;
      paid = true;
      inFlight.delete(pay);
      meter.estimated = true;
      charge(meter, price, tokens(), 0);
    };
    inFlight.add(pay);
    return {
      pay,
      settled: () => {
        paid = true;
        inFlight.delete(pay);
      },
    };
  };

  const ctx: TaskContext = {
    taskId: record.id,
    data: record.data,
    attempt,
    get signal() {
      return handle.signal;
    },
    env,
    async chat(call) {
      const model = call.model ?? reservation.model;
      const request = {
        model,
        messages: call.messages,
        maxTokens: call.maxTokens ?? reservation.maxTokens,
        ...(call.responseFormat === undefined ? {} : { responseFormat: call.responseFormat }),
        ...(call.temperature === undefined ? {} : { temperature: call.temperature }),
      };
      meter.calls++;
      const price = deps.priceOf(model);
      const debt = owed(() => countChatTokens(call.messages, model), price);
      try {
        const response = await client.chat(request, callOptions);
        debt.settled();
        if (response.hints) deps.onHints(model, response.hints);
        if (response.usage) {
          charge(meter, price, response.usage.promptTokens, response.usage.completionTokens);
        } else {
          meter.estimated = true;
          charge(
            meter,
            price,
            countChatTokens(call.messages, model),
            countTextTokens(response.content, model),
          );
        }
        return response;
      } catch (error) {
        if (error instanceof ProviderError && error.retryAfterMs !== undefined) {
          deps.onHints(model, { retryAfterMs: error.retryAfterMs });
        }
        // Aborted or timed out without usage: the prompt was sent, so it is charged.
        if (isAbortLike(error, handle)) debt.pay();
        debt.settled();
        throw error;
      }
    },
    async embed(call) {
      const model = call.model ?? env.embeddingModel;
      meter.calls++;
      const price = deps.priceOf(model);
      const inputTokens = () => call.input.reduce((n, text) => n + countTextTokens(text, model), 0);
      const debt = owed(inputTokens, price);
      try {
        const response = await client.embed({ model, input: call.input }, callOptions);
        debt.settled();
        if (response.hints) deps.onHints(model, response.hints);
        if (response.usage) {
          charge(meter, price, response.usage.promptTokens, 0);
        } else {
          meter.estimated = true;
          charge(meter, price, inputTokens(), 0);
        }
        return response;
      } catch (error) {
        if (error instanceof ProviderError && error.retryAfterMs !== undefined) {
          deps.onHints(model, { retryAfterMs: error.retryAfterMs });
        }
        if (isAbortLike(error, handle)) debt.pay();
        debt.settled();
        throw error;
      }
    },
    progress: (progress, current, total) => deps.onProgress(record, progress, current, total),
    runChildren: (children, onChildSettled) => deps.runChildren(record, children, onChildSettled),
  };

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
    const raw = await handle.race(definition.run(ctx));
    const parsed = definition.output.safeParse(raw);
    if (!parsed.success) {
      const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
      throw new InvalidAnswerError(
        `the result of task '${record.id}' does not match the ${definition.name} output schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        text,
      );
    }
    return { outcome: { ok: true, at: deps.clock.now() }, meter, result: parsed.data };
  } catch (thrown) {
    // Whatever was still in flight when the attempt was aborted owes its prompt.
    if (handle.isAborted) for (const pay of [...inFlight]) pay();
    const error =
      handle.isAborted && !(thrown instanceof TaskQueueError) ? (handle.reason ?? thrown) : thrown;
    return { outcome: classifyFailure(error, deps.clock.now(), deps.random()), meter };
  } finally {
    if (timer !== undefined) deps.clock.clearTimeout(timer);
  }
}
