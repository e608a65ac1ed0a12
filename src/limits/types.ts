/**
 * The data shapes shared by the resource actors' logic (`machines/rate-limit.logic.ts`,
 * `machines/budget.logic.ts`) and their implementations here (`rate-limiter.ts`,
 * `budget-book.ts`). They live in `src/limits/` so the arrow points one way: `machines/` imports
 * them type-only, and `src/limits/` imports no other folder of the project.
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
  /** Spread the window's requests and tokens evenly (see `WindowLimit.paced`). */
  paced?: boolean | undefined;
}

/** The windows in force: one global set, and optional sets per model. */
export interface RateLimitSettings {
  windows: RateWindowData[];
  models: Record<string, RateWindowData[]>;
  /**
   * Milliseconds added to a request's send time in every window: room for the spread between
   * when the queue hands a request to the HTTP client and when the server counts it. Default 0.
   */
  marginMs?: number | undefined;
  /**
   * What a configured window counts of a request's tokens once its call has ended: `'reserved'`
   * keeps its reservation (prompt + `max_tokens`) for the whole window, more if it used more, as
   * OpenAI counts; `'used'` replaces it by what the call used, for a provider that counts real
   * usage. Default `'reserved'`. Learned windows always count `'reserved'`.
   */
  windowTokens?: WindowTokens | undefined;
}

/** What a configured window counts of a finished call's tokens (see `RateLimitSettings`). */
export type WindowTokens = 'reserved' | 'used';

export interface RateRequest {
  taskId: string;
  model: string;
  requests: number;
  tokens: number;
}

/**
 * What the model's calls sent after the one whose answer carried some headers still hold: the
 * server may have written its `remaining` counts before they arrived, so they are taken off.
 */
/**
 * A request of one model handed to the HTTP client at `at` (on the windows' clock), with the
 * tokens it asked for (prompt and `max_tokens`).
 */
export interface SentRequest {
  at: number;
  tokens: number;
  /** The running task whose call it is (its reservation, if it holds one, gets the take). */
  taskId?: string | undefined;
  /**
   * It may have waited for a new connection (a process's first burst, more calls at once than
   * before, the first after a pause): its arrival is only known to come before its answer.
   */
  cold?: boolean | undefined;
}

export interface SentSince {
  requests: number;
  tokens: number;
}

/** The serialised error of a provider's refusal, as the `rateLimit` actor keeps it. */
export interface RefusalErrorData {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  status?: number;
  providerCode?: string;
  requestId?: string;
}

/** A provider's refusal that no wait cures (a bad key, no credit, no such model). */
export interface RefusalData {
  /** The model it stops; `undefined`: every model of the provider. */
  model: string | undefined;
  /** What every task it stops fails with. */
  error: RefusalErrorData;
}

/**
 * The window state the `rateLimit` actor owns, as an immutable value: every change returns the
 * next state. Implemented in `src/limits/rate-limiter.ts`.
 */
export interface RateLimiterState {
  /** Records a reservation (the caller checked it first). */
  reserve(at: number, request: RateRequest): RateLimiterState;
  /**
   * The task's call is being sent at `at`: its reservation counts from then (plus the margin in
   * force), not from its admission. Only ever moves a reservation later. `request` (its model and
   * tokens) counts a call that holds no take in its model's learned windows (it was admitted
   * before they were learned, or with no reservation) in those windows from then on.
   */
  sent(taskId: string, at: number, request?: { model: string; tokens: number }): RateLimiterState;
  /**
   * Replaces a task's reserved tokens with its real usage (sent at `sentAt`, when known);
   * `answeredAt`, for a call sent cold (see {@link SentRequest.cold}): its take in a learned
   * window counts from its answer, if that is later.
   */
  reconcile(
    taskId: string,
    actualTokens: number,
    sentAt?: number,
    answeredAt?: number,
  ): RateLimiterState;
  /**
   * Applies a provider's rate-limit headers (or a 429's retry-after) for one model; `sentSince`:
   * what its calls sent after the answered one still hold; `sends`: every call of the model in
   * flight (the answered one included), counted in a window these headers teach for the first
   * time; `first`: no call of the model was answered before this one, so `sends` is every call
   * the process has sent it.
   */
  applyHints(
    at: number,
    model: string,
    hints: RateLimitHintsData,
    sentSince?: SentSince,
    sends?: readonly SentRequest[],
    first?: boolean,
  ): RateLimiterState;
  /** Replaces the configured windows; what was taken stays counted. */
  configure(settings: RateLimitSettings): RateLimiterState;
  /** Records a refusal: its model (or every model) admits nothing more. */
  refuse(refusal: RefusalData): RateLimiterState;
  /** Forgets every refusal (settings changed, or the queue was resumed). */
  clearRefusals(): RateLimiterState;
}

/** Limits in integer micro-dollars; `undefined` = no limit. */
export interface BudgetLimitsData {
  total?: number | undefined;
  daily?: number | undefined;
  hourly?: number | undefined;
}

/**
 * The money state the `budget` actor owns, as an immutable value: every change returns the next
 * state. Implemented in `src/limits/budget-book.ts`.
 */
export interface BudgetLedgerState {
  hold(at: number, taskId: string, amount: number): BudgetLedgerState;
  /** Ends a task's hold and charges what it really cost. */
  commit(at: number, taskId: string, actual: number): BudgetLedgerState;
  /** Ends a task's hold without charging it. */
  release(taskId: string): BudgetLedgerState;
  configure(limits: BudgetLimitsData): BudgetLedgerState;
  resetTotal(): BudgetLedgerState;
}
