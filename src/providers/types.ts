import type { RateLimitHintsData } from '../limits/types.js';

/**
 * The small interface through which the engine calls a model. The `openai` SDK adapter and any
 * test double implement it; the engine never sees HTTP.
 */

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  name?: string;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      jsonSchema: { name: string; schema: Record<string, unknown>; strict?: boolean };
    };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** Always set: the budget's worst case and the token reservation depend on it. */
  maxTokens: number;
  temperature?: number;
  responseFormat?: ResponseFormat;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What a provider's headers said about its limits (ms, already parsed). */
export type RateLimitHints = RateLimitHintsData;

export interface ChatResponse {
  content: string;
  finishReason: string;
  model: string;
  /** The model declined to answer (OpenAI's `message.refusal`); `content` is then empty. */
  refusal?: string;
  /** Missing when the server did not report it. */
  usage?: Usage;
  hints?: RateLimitHints;
  requestId?: string;
}

export interface EmbedRequest {
  model: string;
  input: string[];
}

export interface EmbedResponse {
  vectors: number[][];
  model: string;
  usage?: Pick<Usage, 'promptTokens' | 'totalTokens'>;
  hints?: RateLimitHints;
  requestId?: string;
}

export interface CallOptions {
  /** Fires when the task is cancelled or its attempt times out. */
  signal: AbortSignal;
  /**
   * The task the call is made for, and its attempt: the OpenAI adapter sends them as
   * `x-aitq-task-id` / `x-aitq-attempt` headers, so a server's logs (the simulator's) can tell
   * which task a request served.
   */
  readonly taskId?: string | undefined;
  readonly attempt?: number | undefined;
  /**
   * Called once per request, right before it is handed to the HTTP client (the OpenAI adapter
   * calls it from inside the SDK's `fetch`, after the SDK has built the request). The queue's
   * windows count the request from this moment, not from its admission. A client that cannot
   * tell may call it when the call starts, or not at all (the admission time then counts). Call
   * it as `options.onSend()` (it may be a method of the options object).
   */
  readonly onSend?: (() => void) | undefined;
  /**
   * Called once per request when it is written to its socket, where the client can tell (the
   * OpenAI adapter does with Node's `fetch`); after `onSend`. The queue's windows then count the
   * request from this moment (a write comes after any new connection was made), never earlier
   * than they did. Call it as `options.onWrite()`.
   */
  readonly onWrite?: (() => void) | undefined;
}

/**
 * A model provider. Implementations throw `ProviderError` for failed calls (with `status`,
 * `retryAfterMs` and `retryable`), and must not retry on their own.
 */
export interface AIClient {
  chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse>;
  embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResponse>;
}
