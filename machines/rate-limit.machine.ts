import { setup } from 'xstate';

/**
 * Request and token windows (the global set and one set per model) plus what the provider's
 * headers said. The window arithmetic lives in `src/limits/` and is handed in as `limiter`; this
 * machine is the actor that owns it, so every change arrives as an event the inspector can see.
 */

export interface RateLimitHintsData {
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

export const rateLimitMachine = setup({
  types: {
    context: {} as { limiter: RateLimiterState },
    events: {} as RateLimitEvent,
    input: {} as { limiter: RateLimiterState },
  },
  actions: {
    reserve: ({ context, event }) => {
      if (event.type === 'rate.reserve') context.limiter.reserve(event.at, event);
    },
    reconcile: ({ context, event }) => {
      if (event.type === 'rate.reconcile') context.limiter.reconcile(event.taskId, event.tokens);
    },
    applyHints: ({ context, event }) => {
      if (event.type === 'rate.hints')
        context.limiter.applyHints(event.at, event.model, event.hints);
    },
    configure: ({ context, event }) => {
      if (event.type === 'rate.configure') context.limiter.configure(event.settings);
    },
  },
}).createMachine({
  id: 'rateLimit',
  context: ({ input }) => ({ limiter: input.limiter }),
  on: {
    'rate.reserve': { actions: 'reserve' },
    'rate.reconcile': { actions: 'reconcile' },
    'rate.hints': { actions: 'applyHints' },
    'rate.configure': { actions: 'configure' },
  },
});
