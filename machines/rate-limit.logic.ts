import { fromTransition } from 'xstate';
import type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
  RefusalData,
  SentRequest,
  SentSince,
} from '../src/limits/types.js';

/**
 * Request and token windows (the global set and one set per model) plus what the provider's
 * headers said. The state is an immutable value whose arithmetic lives in `src/limits/` (handed
 * in as `limiter`); each event makes the next value, so every change arrives as an event the
 * inspector can see, and a snapshot read earlier never changes.
 */

export type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
  RateWindowData,
  RefusalData,
  RefusalErrorData,
} from '../src/limits/types.js';

export type RateLimitEvent =
  | ({ type: 'rate.reserve'; at: number } & RateRequest)
  /**
   * The task's call is being sent now: its reservation counts from `at`; `model` and `tokens`
   * count it in learned windows it holds no take in (see `RateLimiterState.sent`).
   */
  | { type: 'rate.sent'; taskId: string; at: number; model?: string; tokens?: number }
  /**
   * The call ended: its real tokens replace the reservation; `sentAt`: when it was sent, if it
   * was; `answeredAt`: when it was answered, for a call that may have waited for a new
   * connection (a learned window counts it from then).
   */
  | { type: 'rate.reconcile'; taskId: string; tokens: number; sentAt?: number; answeredAt?: number }
  /**
   * A provider's rate-limit headers; `sentSince`: what the model's calls sent after the answered
   * one still hold (the server may not have counted them); `sends`: the model's calls in flight,
   * when it has no learned window yet (a first one starts with them); `first`: no call of the
   * model had been answered before this one.
   */
  | {
      type: 'rate.hints';
      at: number;
      model: string;
      hints: RateLimitHintsData;
      sentSince?: SentSince;
      sends?: readonly SentRequest[];
      first?: boolean;
    }
  | { type: 'rate.configure'; settings: RateLimitSettings }
  /** A call was refused in a way no wait cures: its model (or every model) admits nothing more. */
  | { type: 'rate.refused'; refusal: RefusalData }
  /** Settings changed or the queue was resumed: refused models may be tried again. */
  | { type: 'rate.clearRefusals' };

/** The limiter after one event: a new immutable value (or the same one when nothing changed). */
export function rateLimitTransition(
  context: { limiter: RateLimiterState },
  event: RateLimitEvent,
): { limiter: RateLimiterState } {
  const { limiter } = context;
  switch (event.type) {
    case 'rate.reserve':
      return { limiter: limiter.reserve(event.at, event) };
    case 'rate.sent':
      return {
        limiter: limiter.sent(
          event.taskId,
          event.at,
          event.model === undefined || event.tokens === undefined
            ? undefined
            : { model: event.model, tokens: event.tokens },
        ),
      };
    case 'rate.reconcile':
      return {
        limiter: limiter.reconcile(event.taskId, event.tokens, event.sentAt, event.answeredAt),
      };
    case 'rate.hints':
      return {
        limiter: limiter.applyHints(
          event.at,
          event.model,
          event.hints,
          event.sentSince,
          event.sends,
          event.first,
        ),
      };
    case 'rate.configure':
      return { limiter: limiter.configure(event.settings) };
    case 'rate.refused':
      return { limiter: limiter.refuse(event.refusal) };
    case 'rate.clearRefusals':
      return { limiter: limiter.clearRefusals() };
    default:
      return context;
  }
}

/**
 * The `rateLimit` actor: a reducer over the window state (`fromTransition`), for the reason given
 * in `concurrency.logic.ts`.
 */
export const rateLimitLogic = fromTransition(
  rateLimitTransition,
  ({ input }: { input: { limiter: RateLimiterState } }) => ({ limiter: input.limiter }),
);

export type RateLimitLogic = typeof rateLimitLogic;
