/**
 * What a task type's `run` gets for one attempt (`TaskContext`): its data, its environment, model
 * calls that are metered (tokens and cost; a usage report above what the request allowed is not
 * believed) and refused once the attempt is aborted, progress, and child tasks. Calls still in
 * flight when the attempt is aborted are charged their prompt. Running the attempt (its timeout,
 * its abort, its outcome) is `attempt.ts`.
 */

import {
  asRefusal,
  ProviderError,
  type SerializedError,
  serializeError,
  TaskTimeoutError,
} from '../errors.js';
import { CostTally, type ModelPrice } from '../limits/cost.js';
import { countChatTokens, countResponseSchemaTokens, countTextTokens } from '../limits/tokens.js';
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
  ChatCall,
  ChildOutcome,
  ChildTaskSpec,
  EmbedCall,
  TaskContext,
  TaskEnvironment,
} from '../task-types/types.js';

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

/** What the task context needs from the engine; one object for every attempt. */
export interface AttemptContextDeps {
  client: AIClient;
  environment(record: TaskRecord): TaskEnvironment;
  priceOf(model: string): ModelPrice | undefined;
  /** A provider's rate-limit headers, from the answer to task `taskId`'s call. */
  onHints(model: string, hints: RateLimitHints, taskId: string): void;
  /**
   * Task `taskId`'s call is being handed to the HTTP client now (`CallOptions.onSend`), or,
   * `written`, its request is being written to its socket (`CallOptions.onWrite`).
   */
  onSend(taskId: string, written?: boolean): void;
  /** A call to `model` was refused in a way no wait cures (`PROVIDER_REFUSED`). */
  onRefused(model: string, error: SerializedError): void;
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

/** What the context reads of its attempt's abort switch (`AttemptHandle`). */
export interface AttemptAbort {
  /** Aborted when the task is cancelled or the attempt times out. */
  readonly signal: AbortSignal;
  readonly isAborted: boolean;
  /** What the attempt was aborted with. */
  readonly reason: unknown;
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

function isAbortLike(error: unknown, handle: AttemptAbort): boolean {
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

/** A call in flight, and what it owes if the attempt is aborted under it. */
class InFlightCall {
  paid = false;
  constructor(
    private readonly meter: AttemptMeter,
    private readonly price: ModelPrice | undefined,
    private readonly model: string,
    private readonly messages: ChatCall['messages'] | undefined,
    private readonly input: readonly string[] | undefined,
    private readonly format: ChatCall['responseFormat'] = undefined,
  ) {}

  /** The prompt (or embedding input) that was sent, charged at the input price, once. */
  pay(): void {
    if (this.paid) return;
    this.paid = true;
    this.meter.estimated = true;
    charge(this.meter, this.price, this.promptTokens(), 0);
  }

  /**
   * The prompt as the provider bills it: the messages, and a `json_schema` response format, which
   * providers add to the prompt (counted as the estimate counts it, erring high).
   */
  promptTokens(): number {
    if (this.messages !== undefined) {
      const schema =
        this.format?.type === 'json_schema'
          ? countResponseSchemaTokens(this.format.jsonSchema, this.model)
          : 0;
      return countChatTokens(this.messages, this.model) + schema;
    }
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
export class AttemptContext implements TaskContext {
  readonly taskId: string;
  readonly data: unknown;
  readonly env: TaskEnvironment;
  /** What this attempt's calls used and cost. */
  readonly meter: AttemptMeter = newMeter();
  /** Calls in flight: an aborted attempt settles at once, before the client's rejection arrives, so it charges them itself. */
  private inFlight: InFlightCall[] | undefined;

  constructor(
    private readonly record: TaskRecord,
    readonly attempt: number,
    private readonly handle: AttemptAbort,
    private readonly deps: AttemptContextDeps,
  ) {
    this.taskId = record.id;
    this.data = record.data;
    this.env = deps.environment(record);
  }

  /** `CallOptions.onSend`: the client is sending one of this attempt's calls now. */
  onSend(): void {
    this.deps.onSend(this.taskId);
  }

  /** `CallOptions.onWrite`: one of this attempt's requests is being written to its socket. */
  onWrite(): void {
    this.deps.onSend(this.taskId, true);
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
    const pending = this.track(
      new InFlightCall(meter, price, model, call.messages, undefined, call.responseFormat),
    );
    try {
      const response = await deps.client.chat(request, this);
      this.untrack(pending);
      if (response.hints) deps.onHints(model, response.hints, this.taskId);
      const usage = this.judge(model, response.usage, request.maxTokens, () =>
        pending.promptTokens(),
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
      if (response.hints) deps.onHints(model, response.hints, this.taskId);
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
    if (error instanceof ProviderError) {
      // Before the attempt settles: the next head of that provider or model fails at once.
      const refusal = asRefusal(serializeError(error));
      if (refusal !== undefined) this.deps.onRefused(model, refusal);
      else if (error.retryAfterMs !== undefined) {
        this.deps.onHints(model, { retryAfterMs: error.retryAfterMs }, this.taskId);
      }
    }
    // Aborted or timed out without usage: the prompt was sent, so it is charged.
    if (isAbortLike(error, this.handle)) call.pay();
    this.untrack(call);
  }
}
