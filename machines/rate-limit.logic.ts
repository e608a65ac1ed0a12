import { fromTransition } from 'xstate';
import type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
} from '../src/limits/types.js';

/**
 * Request and token windows (the global set and one set per model) plus what the provider's
 * headers said. The window arithmetic lives in `src/limits/` and is handed in as `limiter`; this
 * actor owns it, so every change arrives as an event the inspector can see.
 */

export type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
  RateWindowData,
} from '../src/limits/types.js';

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
