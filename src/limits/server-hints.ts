/**
 * What a provider's rate-limit headers said, as an immutable value: a `retry-after` that blocks
 * every request until it passes, and remaining request and token counts until their reset times.
 * Pure and clock-free: every method takes the current time in milliseconds.
 */

/** What a provider's rate-limit headers (or a 429's `retry-after`) said, in milliseconds. */
export interface ServerHintsInput {
  /** Wait this long before sending anything (`retry-after`, `retry-after-ms`). */
  retryAfterMs?: number | undefined;
  /** `x-ratelimit-limit-requests`: informational, not enforced on its own. */
  limitRequests?: number | undefined;
  /** `x-ratelimit-remaining-requests`. */
  remainingRequests?: number | undefined;
  /** `x-ratelimit-reset-requests`: until the request count is restored. */
  resetRequestsMs?: number | undefined;
  /** `x-ratelimit-limit-tokens`: informational, not enforced on its own. */
  limitTokens?: number | undefined;
  /** `x-ratelimit-remaining-tokens`. */
  remainingTokens?: number | undefined;
  /** `x-ratelimit-reset-tokens`: until the token count is restored. */
  resetTokensMs?: number | undefined;
}

/** Whether the server's last word lets a request through, and if not, until when and why. */
export type ServerHintsVerdict =
  | { ok: true }
  | { ok: false; retryAt: number; reason: 'retryAfter' | 'serverRequests' | 'serverTokens' };

interface RemainingCount {
  readonly remaining: number;
  readonly resetAt: number;
}

/**
 * The remembered count unless the report is lower (a report never raises a live count). A report
 * of the same count with a later reset keeps the later reset: requests that reached the server
 * after the remembered report was written (the first burst of a process arrives spread out) keep
 * its window full for longer.
 */
function lowerOf(remembered: RemainingCount | undefined, reported: RemainingCount): RemainingCount {
  if (remembered === undefined || reported.remaining < remembered.remaining) return reported;
  if (reported.remaining === remembered.remaining && reported.resetAt > remembered.resetAt) {
    return reported;
  }
  return remembered;
}

function finiteAtLeastZero(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}

/** A remembered count still in force at `now`. */
function live(count: RemainingCount | undefined, now: number): RemainingCount | undefined {
  return count !== undefined && now < count.resetAt ? count : undefined;
}

/** A remembered count less what was just sent. */
function less(count: RemainingCount | undefined, amount: number): RemainingCount | undefined {
  return count === undefined
    ? undefined
    : Object.freeze({ remaining: Math.max(0, count.remaining - amount), resetAt: count.resetAt });
}

/**
 * The limits a provider announced, as an immutable value: a `retry-after` blocks every request
 * until it passes; a remaining request or token count, with its reset time, holds back requests
 * larger than what remains until that reset time, and is forgotten once the reset time has
 * passed. Takes made after a report decrement the remembered counts, so concurrent calls do not
 * all spend the same remainder, and a later report cannot raise a count before its reset time (it
 * was written before the requests in flight arrived). A remaining count reported without a reset
 * time is ignored (it would block forever).
 */
export class ServerHints {
  static readonly NONE = new ServerHints(Number.NEGATIVE_INFINITY, undefined, undefined);

  private constructor(
    private readonly blockedUntil: number,
    private readonly requests: RemainingCount | undefined,
    private readonly tokens: RemainingCount | undefined,
  ) {}

  /**
   * What the server said at `now`, on top of what it said before. A `retryAfterMs` extends the
   * block (the later of the two deadlines wins). A reported remaining count replaces the
   * remembered one when it is lower (or the same with a later reset) or when the remembered one
   * has expired; a higher one is
   * ignored until then: the server wrote it before the requests sent since arrived (which `take`
   * already counted), so it is stale.
   */
  apply(now: number, hints: ServerHintsInput): ServerHints {
    const blockedUntil = finiteAtLeastZero(hints.retryAfterMs)
      ? Math.max(this.blockedUntil, now + hints.retryAfterMs)
      : this.blockedUntil;
    let requests = live(this.requests, now);
    let tokens = live(this.tokens, now);
    if (finiteAtLeastZero(hints.remainingRequests) && finiteAtLeastZero(hints.resetRequestsMs)) {
      requests = lowerOf(requests, {
        remaining: hints.remainingRequests,
        resetAt: now + hints.resetRequestsMs,
      });
    }
    if (finiteAtLeastZero(hints.remainingTokens) && finiteAtLeastZero(hints.resetTokensMs)) {
      tokens = lowerOf(tokens, {
        remaining: hints.remainingTokens,
        resetAt: now + hints.resetTokensMs,
      });
    }
    return new ServerHints(blockedUntil, requests, tokens);
  }

  /**
   * Whether `requests` and `tokens` may go at `now`. When several hints refuse, the one that
   * lifts last decides `retryAt`.
   */
  check(now: number, requests: number, tokens: number): ServerHintsVerdict {
    let verdict: ServerHintsVerdict = { ok: true };
    const refuse = (retryAt: number, reason: 'retryAfter' | 'serverRequests' | 'serverTokens') => {
      if (verdict.ok || retryAt > verdict.retryAt) verdict = { ok: false, retryAt, reason };
    };
    if (now < this.blockedUntil) refuse(this.blockedUntil, 'retryAfter');
    const remainingRequests = live(this.requests, now);
    if (remainingRequests !== undefined && requests > remainingRequests.remaining) {
      refuse(remainingRequests.resetAt, 'serverRequests');
    }
    const remainingTokens = live(this.tokens, now);
    if (remainingTokens !== undefined && tokens > remainingTokens.remaining) {
      refuse(remainingTokens.resetAt, 'serverTokens');
    }
    return verdict;
  }

  /**
   * The same hints without the remembered remaining count of requests and/or tokens (a later
   * header showed that the server counts nothing beyond this process's own sends, which a learned
   * window holds); a `retry-after` stays.
   */
  forget(requests: boolean, tokens: boolean): ServerHints {
    if ((!requests || this.requests === undefined) && (!tokens || this.tokens === undefined)) {
      return this;
    }
    return new ServerHints(
      this.blockedUntil,
      requests ? undefined : this.requests,
      tokens ? undefined : this.tokens,
    );
  }

  /** The same hints with a request just sent counted against the remembered remaining counts. */
  take(requests: number, tokens: number): ServerHints {
    if (this.requests === undefined && this.tokens === undefined) return this;
    return new ServerHints(
      this.blockedUntil,
      less(this.requests, requests),
      less(this.tokens, tokens),
    );
  }
}
