import type { z } from 'zod';
import type {
  ChatMessage,
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
  ResponseFormat,
} from '../providers/types.js';

/** What admission needs to know about a task before it runs. */
export interface TaskEstimate {
  /** The model the call goes to: selects the price, the tokenizer and per-model windows. */
  model: string;
  /** Prompt tokens as the provider will count them. */
  promptTokens: number;
  /** The `max_tokens` the call will carry (0 for embeddings). */
  maxTokens: number;
}

/** Defaults a task type's estimate and run may use. */
export interface TaskEnvironment {
  model: string;
  embeddingModel: string;
  maxTokens: number;
}

export interface ChatCall {
  messages: ChatMessage[];
  responseFormat?: ResponseFormat;
  temperature?: number;
  /** Defaults to the task's model. */
  model?: string;
  /** Defaults to the task's `maxTokens`. */
  maxTokens?: number;
}

export interface EmbedCall {
  input: string[];
  /** Defaults to the environment's embedding model. */
  model?: string;
}

/** One child task, as a composite task type submits it. */
export interface ChildTaskSpec {
  taskType: string;
  data: unknown;
  metadata?: Record<string, unknown>;
}

/** How a child task ended, as its parent sees it. */
export type ChildOutcome =
  | { id: string; ok: true; result: unknown }
  | { id: string; ok: false; error: { name: string; code: string; message: string } };

/** What a task type's `run` gets: its data, the model calls (metered and limited), progress. */
export interface TaskContext<I = unknown> {
  readonly taskId: string;
  readonly data: I;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Fires when the task is cancelled or the attempt times out. Pass it to anything slow. */
  readonly signal: AbortSignal;
  readonly env: TaskEnvironment;
  /** Calls the chat model; usage and rate-limit headers are recorded for the task. */
  chat(call: ChatCall): Promise<ChatResponse>;
  /** Calls the embedding model; usage is recorded for the task. */
  embed(call: EmbedCall): Promise<EmbedResponse>;
  /** Reports progress in [0, 1] (`current` of `total`). */
  progress(progress: number, current: number, total: number): void;
  /**
   * Submits child tasks (they inherit this task's priority and go through the queue's own limits)
   * and resolves when every one has ended. Only for task types of kind `'composite'`.
   */
  runChildren(
    children: readonly ChildTaskSpec[],
    onChildSettled?: (outcome: ChildOutcome, done: number, total: number) => void,
  ): Promise<ChildOutcome[]>;
}

/**
 * A task type: zod input and output schemas, an estimate for admission, and `run`.
 * Built-in types and users' own are registered the same way.
 *
 * `I` is `data` as `estimate` and `run` see it (the input schema's output), `O` the result. `N`
 * (the name) and `D` (`data` as `submitTask` takes it, before the input schema's defaults and
 * transforms) are what a typed manager checks at compile time: `defineTaskType` fills them in
 * from a literal name and the schemas. Left out, they are `string` and `unknown`, and a manager
 * given such a definition accepts any `taskType` (see `TaskTypeMap`).
 */
export interface TaskTypeDefinition<
  I = unknown,
  O = unknown,
  N extends string = string,
  D = unknown,
> {
  name: N;
  input: z.ZodType<I, D>;
  output: z.ZodType<O>;
  /**
   * `'call'` (default): one or more model calls; the task takes a slot and passes the rate and
   * budget limits. `'composite'`: the task fans out child tasks and holds no slot itself.
   */
  kind?: 'call' | 'composite';
  estimate(data: I, env: TaskEnvironment): TaskEstimate;
  run(ctx: TaskContext<I>): Promise<O>;
}

/** The shape used by registries, where the generic parameters are erased. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds task types of every data shape
export type AnyTaskTypeDefinition = TaskTypeDefinition<any, any>;

/**
 * Task types by name, as a manager's type knows them: `AITaskManager<R>` checks `taskType`,
 * `data` and results against `R`. `createAITaskManager` infers it (`TaskTypeMap`).
 */
export type TaskTypeRegistry = Record<string, AnyTaskTypeDefinition>;

/**
 * The registry of a manager whose task types are not known at compile time: any `taskType`
 * string, `data` and results `unknown`. The default of `AITaskManager`, so that a manager of any
 * registry is an `AITaskManager` (as a BullMQ `Queue<Data>` is a `Queue`).
 */
// biome-ignore lint/suspicious/noExplicitAny: `any` relates every registry to this one, both ways
export type UntypedTaskTypes = any;

/** A registry's task type names. */
export type TaskTypeName<R extends TaskTypeRegistry> = keyof R & string;

/**
 * `data` as `submitTask` takes it for the task type `T`: its input schema's input type (before
 * defaults and transforms), or `I` when the schema's input type is not known.
 */
export type TaskDataOf<T extends AnyTaskTypeDefinition> =
  IsAny<T> extends true
    ? unknown
    : unknown extends z.input<T['input']>
      ? z.output<T['input']>
      : z.input<T['input']>;

/** The result of a task of the task type `T` (its output schema's output). */
export type TaskResultOf<T extends AnyTaskTypeDefinition> =
  IsAny<T> extends true ? unknown : z.output<T['output']>;

/** `true` for `any` (an untyped registry's entry), else `false`. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * The registry of a list of task types, keyed by their names. When one of them has a plain
 * `string` name (not a literal: `defineTaskType` keeps it), the names are not known at compile
 * time and the registry is `UntypedTaskTypes`.
 */
export type TaskTypeMap<T extends readonly AnyTaskTypeDefinition[]> =
  string extends T[number]['name']
    ? UntypedTaskTypes
    : { [Definition in T[number] as Definition['name']]: Definition };

/** Used by providers that need the full request. */
export type { ChatRequest, EmbedRequest };
