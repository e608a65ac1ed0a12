/**
 * Limits shared with other processes: the rate windows and budgets that every process of a queue
 * counts against together (`openSharedLimits` of `ai-task-queue/redis` makes them on Redis). The
 * process's own resource actors still count what it takes itself; admission asks the shared
 * limits last, for a task its own actors admit, and starts it only once they have taken it. The
 * contract only: the engine's side is `src/runtime/shared-limits.ts`.
 */

import type { RateLimitHintsData } from './types.js';

/** One window as the shared limits count it: the queue's (`scope` `'*'`) or a model's. */
export interface SharedWindow {
  scope: string;
  kind: 'requests' | 'tokens';
  limit: number;
  windowMs: number;
}

/** What a take is checked against: the windows of the task's model, and the budgets (µ$). */
export interface SharedLimitsConfig {
  /** The model whose windows these are (the queue's, and its own). */
  model: string;
  windows: readonly SharedWindow[];
  budgets: { total?: number | undefined; daily?: number | undefined; hourly?: number | undefined };
  /** The IANA time zone of the daily and hourly budgets. */
  timeZone: string;
  /** How long after its take a call counts in the windows from (`windowMarginMs`). */
  marginMs: number;
}

/** One task's take: a request of `tokens` for `model`, and a hold of `micros`. */
export interface SharedTake {
  taskId: string;
  model: string;
  tokens: number;
  micros: number;
}

export type SharedVerdict =
  /** Taken; `take` names it for `settle` and `release`. */
  | { ok: true; take: string }
  /**
   * No room: `retryAt` (wall time of this process) says when a window has room again, if known.
   * A total budget that every process together can no longer pay says `never`.
   */
  | {
      ok: false;
      /** `server`: a provider's wait or a window learned from its headers, by any process. */
      waitingFor: 'rateLimit' | 'budget' | 'server';
      retryAt?: number | undefined;
      never?: boolean | undefined;
    };

/** Limits shared with other processes (see the module's header). */
export interface SharedLimits {
  /** Takes room in every window and a hold in every budget, all or nothing. */
  take(take: SharedTake, config: SharedLimitsConfig, now: number): Promise<SharedVerdict>;
  /**
   * Several takes in order, as `take` would each, in one answer: the first refused ends it (the
   * takes after it are not asked, so none overtakes it). Resolves with a verdict for each take
   * asked, in order: the granted ones, then the refusal, if any; an implementation may ask fewer
   * than given (the rest are asked again later). Optional: without it, admission asks for one
   * take at a time.
   */
  takeMany?(
    takes: readonly { take: SharedTake; config: SharedLimitsConfig }[],
    now: number,
  ): Promise<SharedVerdict[]>;
  /**
   * The take's call is being handed to the HTTP client now: its window entries count from now
   * (plus the margin), never earlier than they did. Optional: without it they count from the
   * take.
   */
  sent?(take: string, config: SharedLimitsConfig, now: number): Promise<void>;
  /** The take's call ended: its hold ends and `actualMicros` is charged. */
  settle(
    take: string,
    actualMicros: number,
    config: SharedLimitsConfig,
    now: number,
  ): Promise<void>;
  /** The take's task did not start: its window entries and its hold go, nothing is charged. */
  release(take: string, config: SharedLimitsConfig, now: number): Promise<void>;
  /**
   * A provider's rate-limit headers for `model`, seen by this process: a wait it asked for
   * (`retry-after`, nothing remaining until a reset) holds every process's takes of the model,
   * and the limits it states become windows every process's takes of the model count in.
   */
  hint(model: string, hints: RateLimitHintsData, now: number): Promise<void>;
  /**
   * What every process together has spent (in total, and in `timeZone`'s calendar day and hour
   * of `now`) and holds, for the statistics. Optional: without it they show this process's own.
   */
  spending?(now: number, timeZone: string): Promise<SharedSpending>;
}

/** Money in micro-dollars, spent and held by every process given the same shared limits. */
export interface SharedSpending {
  total: number;
  daily: number;
  hourly: number;
  held: number;
}
