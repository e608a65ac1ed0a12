/**
 * Sliding-window rate limits (requests and tokens over any number of windows at once) and the
 * limits a provider announces in its response headers. Pure and clock-free: every method takes
 * the current time `now` in milliseconds.
 */

/** One window: at most `requests` requests and `tokens` tokens in any span of `windowMs`. */
export interface WindowLimit {
  /** Most requests in any `windowMs` span; `undefined` = no request limit. */
  requests?: number | undefined;
  /** Most tokens in any `windowMs` span; `undefined` = no token limit. */
  tokens?: number | undefined;
  /** Length of the window, in milliseconds (> 0). */
  windowMs: number;
}

/** The usual ways of writing rate limits, as the public options spell them. */
export interface RateLimitShorthands {
  /** Requests per 60 s. */
  requestsPerMinute?: number | undefined;
  /** Requests per 3600 s. */
  requestsPerHour?: number | undefined;
  /** Tokens per 60 s. */
  tokensPerMinute?: number | undefined;
  /** Further windows of any length. */
  windows?: readonly WindowLimit[] | undefined;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The windows the shorthands stand for: requests and tokens per minute share one 60 s window,
 * requests per hour make a 3600 s window, and explicit `windows` follow as given.
 */
export function resolveWindows(s: RateLimitShorthands): WindowLimit[] {
  const out: WindowLimit[] = [];
  if (s.requestsPerMinute !== undefined || s.tokensPerMinute !== undefined) {
    const minute: WindowLimit = { windowMs: MINUTE_MS };
    if (s.requestsPerMinute !== undefined) minute.requests = s.requestsPerMinute;
    if (s.tokensPerMinute !== undefined) minute.tokens = s.tokensPerMinute;
    out.push(minute);
  }
  if (s.requestsPerHour !== undefined) {
    out.push({ requests: s.requestsPerHour, windowMs: HOUR_MS });
  }
  for (const w of s.windows ?? []) out.push({ ...w });
  return out;
}

/**
 * Whether a request fits. When it does not, `retryAt` is the earliest time (ms) at which it would
 * fit given what is already recorded (no new takes assumed), or `Infinity` when it can never fit
 * (more requests or tokens than `window` allows at all); `window` is the window that decides it.
 */
export type WindowVerdict = { ok: true } | { ok: false; retryAt: number; window: WindowLimit };

/** A recorded take, as returned by {@link SlidingWindowLimiter.take}. */
export interface WindowEntry {
  /** When it was taken (ms). */
  readonly at: number;
  /** Requests it counts. */
  readonly requests: number;
  /** Tokens it counts: the reservation, or the real usage once reconciled. */
  readonly tokens: number;
}

/** What one window holds at a given time. */
export interface WindowLoad {
  window: WindowLimit;
  requests: number;
  tokens: number;
}

class Entry implements WindowEntry {
  constructor(
    readonly owner: SlidingWindowLimiter,
    readonly seq: number,
    readonly at: number,
    readonly requests: number,
    public tokens: number,
  ) {}
}

/** One configured window and the running sums of the entries inside it. */
interface WindowState {
  readonly limit: WindowLimit;
  /** Sequence number of the oldest entry still inside the window. */
  start: number;
  requests: number;
  tokens: number;
}

/** Drop dead entries from the front of the log once this many have piled up. */
const COMPACT_AT = 1024;

function assertAmount(name: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
}

function normalizeWindow(w: WindowLimit): WindowLimit {
  if (!(w.windowMs > 0) || !Number.isFinite(w.windowMs)) {
    throw new RangeError(`windowMs must be a finite number > 0, got ${w.windowMs}`);
  }
  const out: WindowLimit = { windowMs: w.windowMs };
  if (w.requests !== undefined) {
    assertAmount('requests limit', w.requests);
    out.requests = w.requests;
  }
  if (w.tokens !== undefined) {
    assertAmount('tokens limit', w.tokens);
    out.tokens = w.tokens;
  }
  return Object.freeze(out);
}

/**
 * Several sliding windows over one log of takes. An entry taken at time `t` counts in a window of
 * length `windowMs` while `now < t + windowMs`.
 *
 * Every operation costs amortised O(1) per window: the log is a queue in time order, each window
 * keeps the index of its oldest entry and running sums of requests and tokens, and entries are
 * dropped as time passes them. `check` walks from a window's oldest entry only as far as it must
 * to find when a refused request would fit.
 *
 * Time is expected not to go backwards: a `now` earlier than one already seen is treated as the
 * latest time seen (entries that have left a window are never counted again).
 */
export class SlidingWindowLimiter {
  private states: WindowState[] = [];
  private limits: readonly WindowLimit[] = [];
  /** The log; `log[i]` has sequence number `firstSeq + i`; entries before `head` are dead. */
  private log: Entry[] = [];
  private head = 0;
  private firstSeq = 0;
  private nextSeq = 0;
  /** Entries are kept as long as the longest window ever configured, so a window set later sees them. */
  private retentionMs = 0;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(windows: readonly WindowLimit[]) {
    this.setWindows(windows);
  }

  /** The windows in force. */
  get windows(): readonly WindowLimit[] {
    return this.limits;
  }

  /** How many takes the log still remembers (for tests and statistics). */
  get retained(): number {
    return this.log.length - this.head;
  }

  /**
   * Replaces the windows in force. The log is kept: everything already taken stays counted in
   * every window it falls in, so a lowered limit never cancels a take, it only blocks new ones
   * until enough of the log has left the window.
   */
  setWindows(windows: readonly WindowLimit[]): void {
    const limits = windows.map(normalizeWindow);
    for (const w of limits) this.retentionMs = Math.max(this.retentionMs, w.windowMs);
    this.limits = Object.freeze(limits);
    this.states = limits.map((limit) => {
      const state: WindowState = { limit, start: this.nextSeq, requests: 0, tokens: 0 };
      // Walk back from the newest entry over those still inside this window.
      for (let i = this.log.length - 1; i >= this.head; i--) {
        const entry = this.log[i] as Entry;
        if (entry.at + limit.windowMs <= this.latest) break;
        state.start = entry.seq;
        state.requests += entry.requests;
        state.tokens += entry.tokens;
      }
      return state;
    });
  }

  /**
   * Whether `requests` and `tokens` fit every window at `now`, on top of what is recorded.
   * Records nothing.
   */
  check(now: number, requests: number, tokens: number): WindowVerdict {
    assertAmount('requests', requests);
    assertAmount('tokens', tokens);
    const t = this.advance(now);
    let retryAt = t;
    let window: WindowLimit | undefined;
    for (const state of this.states) {
      const at = this.fitTime(state, requests, tokens, t);
      if (at > retryAt) {
        retryAt = at;
        window = state.limit;
      }
    }
    return window === undefined ? { ok: true } : { ok: false, retryAt, window };
  }

  /**
   * Records `requests` and `tokens` at `now` in every window, without checking: the caller checks
   * first. Returns the entry, to be passed to {@link reconcile} when the real usage is known.
   */
  take(now: number, requests: number, tokens: number): WindowEntry {
    assertAmount('requests', requests);
    assertAmount('tokens', tokens);
    const t = this.advance(now);
    const entry = new Entry(this, this.nextSeq++, t, requests, tokens);
    this.log.push(entry);
    for (const state of this.states) {
      state.requests += requests;
      state.tokens += tokens;
    }
    return entry;
  }

  /**
   * Replaces an entry's reserved tokens by the tokens it really used. The change counts only in
   * the windows the entry is still inside. Entries taken from another limiter are ignored, so a
   * caller may offer an entry to several limiters.
   */
  reconcile(entry: WindowEntry, actualTokens: number): void {
    if (!(entry instanceof Entry) || entry.owner !== this) return;
    assertAmount('actualTokens', actualTokens);
    const delta = actualTokens - entry.tokens;
    entry.tokens = actualTokens;
    if (delta === 0) return;
    for (const state of this.states) {
      if (entry.seq >= state.start) state.tokens += delta;
    }
  }

  /** What every window holds at `now`. */
  usage(now: number): WindowLoad[] {
    this.advance(now);
    return this.states.map((s) => ({ window: s.limit, requests: s.requests, tokens: s.tokens }));
  }

  /** The first window that `requests` and `tokens` exceed on their own, if any: they never fit. */
  canEverFit(requests: number, tokens: number): WindowLimit | undefined {
    return this.limits.find(
      (w) =>
        (w.requests !== undefined && requests > w.requests) ||
        (w.tokens !== undefined && tokens > w.tokens),
    );
  }

  private entryAt(seq: number): Entry {
    return this.log[seq - this.firstSeq] as Entry;
  }

  /** Moves time to `now` (never backwards): drops entries that have left each window. */
  private advance(now: number): number {
    if (now > this.latest) this.latest = now;
    const t = this.latest;
    for (const state of this.states) {
      const { windowMs } = state.limit;
      while (state.start < this.nextSeq) {
        const entry = this.entryAt(state.start);
        if (entry.at + windowMs > t) break;
        state.requests -= entry.requests;
        state.tokens -= entry.tokens;
        state.start++;
      }
      // Running sums of integers stay exact; this only guards against drift with fractions.
      if (state.start === this.nextSeq) {
        state.requests = 0;
        state.tokens = 0;
      }
    }
    while (this.head < this.log.length) {
      const entry = this.log[this.head] as Entry;
      if (entry.at + this.retentionMs > t) break;
      this.head++;
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= this.log.length) {
      this.log = this.log.slice(this.head);
      this.firstSeq += this.head;
      this.head = 0;
    }
    return t;
  }

  /** When a request fits in one window: `t` if now, `Infinity` if never. */
  private fitTime(state: WindowState, requests: number, tokens: number, t: number): number {
    const { limit } = state;
    let needRequests = 0;
    let needTokens = 0;
    if (limit.requests !== undefined) {
      if (requests > limit.requests) return Number.POSITIVE_INFINITY;
      needRequests = state.requests + requests - limit.requests;
    }
    if (limit.tokens !== undefined) {
      if (tokens > limit.tokens) return Number.POSITIVE_INFINITY;
      needTokens = state.tokens + tokens - limit.tokens;
    }
    if (needRequests <= 0 && needTokens <= 0) return t;
    // Walk from the oldest entry until enough has left the window.
    let freedRequests = 0;
    let freedTokens = 0;
    for (let seq = state.start; seq < this.nextSeq; seq++) {
      const entry = this.entryAt(seq);
      freedRequests += entry.requests;
      freedTokens += entry.tokens;
      if (freedRequests >= needRequests && freedTokens >= needTokens) {
        return entry.at + limit.windowMs;
      }
    }
    // Unreachable while the sums match the log; refuse rather than over-admit.
    return Number.POSITIVE_INFINITY;
  }
}

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
  remaining: number;
  resetAt: number;
}

/** The remembered count unless the report is lower (a report never raises a live count). */
function lowerOf(remembered: RemainingCount | undefined, reported: RemainingCount): RemainingCount {
  return remembered === undefined || reported.remaining < remembered.remaining
    ? reported
    : remembered;
}

function finiteAtLeastZero(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}

/**
 * The limits a provider announced: a `retry-after` blocks every request until it passes; a
 * remaining request or token count, with its reset time, holds back requests larger than what
 * remains until that reset time, and is forgotten once the reset time has passed. Takes made
 * after a report decrement the remembered counts, so concurrent calls do not all spend the same
 * remainder, and a later report cannot raise a count before its reset time (it was written before
 * the requests in flight arrived). A remaining count reported without a reset time is ignored (it would block forever).
 */
export class ServerHints {
  private blockedUntil = Number.NEGATIVE_INFINITY;
  private requests: RemainingCount | undefined;
  private tokens: RemainingCount | undefined;

  /**
   * Records what the server said at `now`. A `retryAfterMs` extends the block (the later of the
   * two deadlines wins). A reported remaining count replaces the remembered one when it is lower
   * or when the remembered one has expired; a higher one is ignored until then: the server wrote
   * it before the requests sent since arrived (which `take` already counted), so it is stale.
   */
  apply(now: number, hints: ServerHintsInput): void {
    if (finiteAtLeastZero(hints.retryAfterMs)) {
      this.blockedUntil = Math.max(this.blockedUntil, now + hints.retryAfterMs);
    }
    this.forgetExpired(now);
    if (finiteAtLeastZero(hints.remainingRequests) && finiteAtLeastZero(hints.resetRequestsMs)) {
      this.requests = lowerOf(this.requests, {
        remaining: hints.remainingRequests,
        resetAt: now + hints.resetRequestsMs,
      });
    }
    if (finiteAtLeastZero(hints.remainingTokens) && finiteAtLeastZero(hints.resetTokensMs)) {
      this.tokens = lowerOf(this.tokens, {
        remaining: hints.remainingTokens,
        resetAt: now + hints.resetTokensMs,
      });
    }
  }

  /**
   * Whether `requests` and `tokens` may go at `now`. When several hints refuse, the one that
   * lifts last decides `retryAt`.
   */
  check(now: number, requests: number, tokens: number): ServerHintsVerdict {
    this.forgetExpired(now);
    let verdict: ServerHintsVerdict = { ok: true };
    const refuse = (retryAt: number, reason: 'retryAfter' | 'serverRequests' | 'serverTokens') => {
      if (verdict.ok || retryAt > verdict.retryAt) verdict = { ok: false, retryAt, reason };
    };
    if (now < this.blockedUntil) refuse(this.blockedUntil, 'retryAfter');
    if (this.requests !== undefined && requests > this.requests.remaining) {
      refuse(this.requests.resetAt, 'serverRequests');
    }
    if (this.tokens !== undefined && tokens > this.tokens.remaining) {
      refuse(this.tokens.resetAt, 'serverTokens');
    }
    return verdict;
  }

  /** Counts a request just sent against the remembered remaining counts. */
  take(requests: number, tokens: number): void {
    if (this.requests !== undefined) {
      this.requests.remaining = Math.max(0, this.requests.remaining - requests);
    }
    if (this.tokens !== undefined) {
      this.tokens.remaining = Math.max(0, this.tokens.remaining - tokens);
    }
  }

  private forgetExpired(now: number): void {
    if (this.requests !== undefined && now >= this.requests.resetAt) this.requests = undefined;
    if (this.tokens !== undefined && now >= this.tokens.resetAt) this.tokens = undefined;
  }
}
