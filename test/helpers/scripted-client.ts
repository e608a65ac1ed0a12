import { ProviderError, providerErrorFor } from '../../src/errors.js';
import type {
  AIClient,
  CallOptions,
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
  RateLimitHints,
} from '../../src/providers/types.js';
import type { Clock } from '../../src/time/clock.js';

/** What one scripted call does. Latency runs on the injected (simulated) clock. */
export type Script =
  | {
      kind: 'ok';
      /** Time before the request is handed to the network (`onSend`), like an SDK's first call. */
      sendDelayMs?: number;
      latencyMs?: number;
      content?: string;
      promptTokens?: number;
      completionTokens?: number;
      /** Omit `usage` from the answer. */
      noUsage?: boolean;
      hints?: RateLimitHints;
    }
  | {
      kind: 'error';
      status?: number;
      sendDelayMs?: number;
      latencyMs?: number;
      retryAfterMs?: number;
      message?: string;
      /** The provider's error code (`insufficient_quota`…), as the OpenAI adapter reads it. */
      providerCode?: string;
    }
  /** Never answers: only an abort ends it (timeout or cancel). */
  | { kind: 'hang' };

export interface CallLogEntry {
  at: number;
  /** When the request was handed to the network (`CallOptions.onSend`), if it was. */
  sentAt?: number;
  request: ChatRequest | EmbedRequest;
  script: Script;
  outcome: 'ok' | 'error' | 'aborted';
  endedAt?: number;
}

/**
 * A test double for `AIClient`: every call asks `next(request, index)` what to do.
 * Keeps a log of calls with their start and end times on the simulated clock.
 */
export class ScriptedClient implements AIClient {
  readonly log: CallLogEntry[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly clock: Clock,
    private readonly next: (request: ChatRequest | EmbedRequest, index: number) => Script = () => ({
      kind: 'ok',
    }),
  ) {}

  chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    return this.call(request, options, (script) => ({
      content: script.content ?? '{"ok":true}',
      finishReason: 'stop',
      model: request.model,
      ...(script.noUsage
        ? {}
        : {
            usage: {
              promptTokens: script.promptTokens ?? 10,
              completionTokens: script.completionTokens ?? 5,
              totalTokens: (script.promptTokens ?? 10) + (script.completionTokens ?? 5),
            },
          }),
      ...(script.hints ? { hints: script.hints } : {}),
    }));
  }

  embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResponse> {
    return this.call(request, options, (script) => ({
      vectors: request.input.map(() => [1, 0, 0]),
      model: request.model,
      ...(script.noUsage
        ? {}
        : {
            usage: {
              promptTokens: script.promptTokens ?? 10,
              totalTokens: script.promptTokens ?? 10,
            },
          }),
    }));
  }

  private call<T>(
    request: ChatRequest | EmbedRequest,
    options: CallOptions,
    answer: (script: Extract<Script, { kind: 'ok' }>) => T,
  ): Promise<T> {
    const script = this.next(request, this.log.length);
    const entry: CallLogEntry = { at: this.clock.now(), request, script, outcome: 'ok' };
    this.log.push(entry);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<T>((resolve, reject) => {
      let timer: unknown;
      const end = (): void => {
        this.inFlight--;
        entry.endedAt = this.clock.now();
        options.signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        entry.outcome = 'aborted';
        end();
        reject(
          new ProviderError('Request was aborted.', {
            retryable: true,
            cause: options.signal.reason,
          }),
        );
      };
      if (options.signal.aborted) {
        onAbort();
        return;
      }
      options.signal.addEventListener('abort', onAbort);
      if (script.kind === 'hang') return;
      const settle = (): void => {
        timer = undefined;
        end();
        if (script.kind === 'ok') {
          resolve(answer(script));
        } else {
          entry.outcome = 'error';
          reject(
            // Classified as the OpenAI adapter does: a refusal no wait cures is its own class.
            providerErrorFor(script.message ?? `scripted ${script.status ?? 'connection'} error`, {
              status: script.status,
              retryAfterMs: script.retryAfterMs,
              providerCode: script.providerCode,
            }),
          );
        }
      };
      const send = (): void => {
        timer = undefined;
        entry.sentAt = this.clock.now();
        options.onSend?.();
        const latency = script.latencyMs ?? 0;
        if (latency <= 0) queueMicrotask(settle);
        else timer = this.clock.setTimeout(settle, latency);
      };
      const sendDelay = script.sendDelayMs ?? 0;
      if (sendDelay <= 0) send();
      else timer = this.clock.setTimeout(send, sendDelay);
    });
  }
}
