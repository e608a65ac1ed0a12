import { fromTransition } from 'xstate';

/**
 * Request and token windows (the global set and one set per model) plus what the provider's
 * headers said. The window arithmetic lives in `src/limits/` and is handed in as `limiter`; this
 * actor owns it, so every change arrives as an event the inspector can see.
 */

/**
 * What a provider's headers said about its limits. Durations in milliseconds, already parsed
 * (OpenAI writes `x-ratelimit-reset-requests: 6m0s`). `src/providers` calls it `RateLimitHints`.
 */
export interface RateLimitHintsData {
  /** From `retry-after-ms` / `retry-after` (429 and 503). */
  retryAfterMs?: number;
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

/** One window: at most `requests` requests and `tokens` tokens in any `windowMs` span. */
export interface RateWindowData {
  requests?: number | undefined;
  tokens?: number | undefined;
  windowMs: number;
}

/** The windows in force: one global set, and optional sets per model. */
export interface RateLimitSettings {
  windows: RateWindowData[];
  models: Record<string, RateWindowData[]>;
}

export interface RateRequest {
  taskId: string;
  model: string;
  requests: number;
  tokens: number;
}

/** The window state the actor owns. Implemented in `src/limits/rate-limiter.ts`. */
export interface RateLimiterState {
  /** Records a reservation (the caller checked it first). */
  reserve(at: number, request: RateRequest): void;
  /** Replaces a task's reserved tokens with its real usage. */
  reconcile(taskId: string, actualTokens: number): void;
  /** Applies a provider's rate-limit headers (or a 429's retry-after) for one model. */
  applyHints(at: number, model: string, hints: RateLimitHintsData): void;
  /** Replaces the configured windows; what was taken stays counted. */
  configure(settings: RateLimitSettings): void;
}

export type RateLimitEvent =
  | ({ type: 'rate.reserve'; at: number } & RateRequest)
  | { type: 'rate.reconcile'; taskId: string; tokens: number }
  | { type: 'rate.hints'; at: number; model: string; hints: RateLimitHintsData }
  | { type: 'rate.configure'; settings: RateLimitSettings };

/** Applies one event to the limiter (in place) and returns it. */
export function rateLimitTransition(
  context: { limiter: RateLimiterState },
  event: RateLimitEvent,
): { limiter: RateLimiterState } {
  const { limiter } = context;
  switch (event.type) {
    case 'rate.reserve':
      limiter.reserve(event.at, event);
      break;
    case 'rate.reconcile':
      limiter.reconcile(event.taskId, event.tokens);
      break;
    case 'rate.hints':
      limiter.applyHints(event.at, event.model, event.hints);
      break;
    case 'rate.configure':
      limiter.configure(event.settings);
      break;
  }
  return { limiter };
}

/**
 * The `rateLimit` actor: a reducer over the window state (`fromTransition`), for the reason given
 * in `concurrency.logic.ts`.
 */
export const rateLimitLogic = fromTransition(
  rateLimitTransition,
  ({ input }: { input: { limiter: RateLimiterState } }) => ({ limiter: input.limiter }),
);
