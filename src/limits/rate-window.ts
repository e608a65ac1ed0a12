/**
 * Sliding-window rate limits (requests and tokens over any number of windows at once) as an
 * immutable value, {@link SlidingWindows}, with its verdict and load types. The windows
 * themselves (`WindowLimit`, the shorthands, `resolveWindows`) are in `./window-limits.ts`. Pure
 * and clock-free: every method takes the current time `now` in milliseconds.
 */

import { type PaceBucket, paceBucket, paceReadyAt, paceTake, paceWithTat } from './pacing.js';
import { ChunkedLog } from './persistent.js';
import { assertAmount, normalizeWindow, sameLimits, type WindowLimit } from './window-limits.js';

/**
 * Whether a request fits. When it does not, `retryAt` is the earliest time (ms) at which it would
 * fit given what is already recorded (no new takes assumed), or `Infinity` when it can never fit
 * (more requests or tokens than `window` allows at all); `window` is the window that decides it
 * (by its sliding limit or by its pacing, whichever lifts later).
 */
export type WindowVerdict = { ok: true } | { ok: false; retryAt: number; window: WindowLimit };

/** A recorded take. */
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

/** One configured window and the running sums of the entries inside it. */
interface WindowSum {
  readonly limit: WindowLimit;
  /** Sequence number of the oldest entry still inside the window. */
  readonly start: number;
  readonly requests: number;
  readonly tokens: number;
  /** The window's pacing, when it is paced and limits something. */
  readonly pace: Pacing | undefined;
}

/** The pacing buckets of one paced window. */
interface Pacing {
  /** Sequence number of the first take the buckets count: reconciling an older one leaves them. */
  readonly from: number;
  /** Sequence number of the newest take that charged the token bucket (`-1`: none). */
  readonly lastTokens: number;
  readonly requests: PaceBucket | undefined;
  readonly tokens: PaceBucket | undefined;
}

/** The latest time at which a request fits a window's pacing (`-Infinity`: any time). */
function paceTime(pace: Pacing | undefined, requests: number, tokens: number): number {
  if (pace === undefined) return Number.NEGATIVE_INFINITY;
  return Math.max(paceReadyAt(pace.requests, requests), paceReadyAt(pace.tokens, tokens));
}

/** The pacing after take `seq` of `requests` and `tokens` at `t`. */
function pacedTake(
  pace: Pacing | undefined,
  seq: number,
  t: number,
  requests: number,
  tokens: number,
): Pacing | undefined {
  if (pace === undefined || (!(requests > 0) && !(tokens > 0))) return pace;
  return Object.freeze({
    from: pace.from,
    lastTokens: pace.tokens !== undefined && tokens > 0 ? seq : pace.lastTokens,
    requests: pace.requests && paceTake(pace.requests, t, requests),
    tokens: pace.tokens && paceTake(pace.tokens, t, tokens),
  });
}

/**
 * Several sliding windows over one log of takes, as an immutable value: `take`, `reconcile`,
 * `withWindows` and `at` return a new value and leave this one as it was. An entry taken at time
 * `t` counts in a window of length `windowMs` while `now < t + windowMs`.
 *
 * The log is a {@link ChunkedLog} (frozen chunks shared between versions); each window keeps the
 * sequence number of its oldest entry and running sums of requests and tokens. Moving time
 * forward drops the entries that have left each window, amortised O(1) per entry and window.
 * `check` walks from a window's oldest entry only as far as it must to find when a refused
 * request would fit.
 *
 * A paced window also keeps a GCRA bucket per limited dimension (see `./pacing.ts`), O(1) per
 * take: `check` refuses what the bucket holds back too, `take` charges it, and `reconcile` gives
 * back (or charges) the difference between reserved and real tokens.
 *
 * Time is expected not to go backwards: a `now` earlier than one already seen is treated as the
 * latest time seen (entries that have left a window are never counted again). Times may be
 * fractional (a monotonic clock's sub-millisecond readings).
 */
export class SlidingWindows {
  private constructor(
    /** The windows in force. */
    readonly windows: readonly WindowLimit[],
    private readonly sums: readonly WindowSum[],
    private readonly log: ChunkedLog<WindowEntry>,
    /** Entries are kept as long as the longest window ever configured, so a window set later sees them. */
    private readonly retentionMs: number,
    private readonly latest: number,
  ) {}

  /** The last value `at` made from this one (a memo; see `at`). */
  private advanced: SlidingWindows | undefined;

  /** No takes yet, with these windows. */
  static of(windows: readonly WindowLimit[]): SlidingWindows {
    return new SlidingWindows(
      Object.freeze([]),
      Object.freeze([]),
      ChunkedLog.empty(),
      0,
      Number.NEGATIVE_INFINITY,
    ).withWindows(windows);
  }

  /** How many takes the log still remembers (for tests and statistics). */
  get retained(): number {
    return this.log.size;
  }

  /** Sequence number the next take gets. */
  get nextSeq(): number {
    return this.log.end;
  }

  /**
   * The same log with other windows in force. Everything already taken stays counted in every
   * window it falls in, so a lowered limit never cancels a take, it only blocks new ones until
   * enough of the log has left the window. A longer window set later sees every take still in the
   * log: those inside the longest window ever set, and any older ones that no stored value has
   * moved past yet (reads do not forget; `take` and `at` do), which only ever counts more.
   *
   * A paced window whose length and limits were already in force keeps its pacing as it was;
   * any other paced window starts its buckets afresh by replaying the takes it sees (so a new or
   * changed window does not let a burst through that its pacing would have held back).
   */
  withWindows(windows: readonly WindowLimit[]): SlidingWindows {
    const limits = windows.map(normalizeWindow);
    let retentionMs = this.retentionMs;
    for (const w of limits) retentionMs = Math.max(retentionMs, w.windowMs);
    const { log, latest } = this;
    const sums = limits.map((limit): WindowSum => {
      // The oldest entry still inside this window, and everything after it (a restamped entry
      // may sit after one that has left: see `restamp`; counting that one too errs safe).
      let start = log.end;
      for (let seq = log.end - 1; seq >= log.start; seq--) {
        if (log.get(seq).at + limit.windowMs > latest) start = seq;
      }
      let requests = 0;
      let tokens = 0;
      for (let seq = start; seq < log.end; seq++) {
        const entry = log.get(seq);
        requests += entry.requests;
        tokens += entry.tokens;
      }
      return Object.freeze({ limit, start, requests, tokens, pace: this.pacingFor(limit, start) });
    });
    return new SlidingWindows(Object.freeze(limits), Object.freeze(sums), log, retentionMs, latest);
  }

  /**
   * Whether `requests` and `tokens` fit every window at `now`, on top of what is recorded.
   * Changes nothing.
   */
  check(now: number, requests: number, tokens: number): WindowVerdict {
    assertAmount('requests', requests);
    assertAmount('tokens', tokens);
    const current = this.at(now);
    const t = current.latest;
    let retryAt = t;
    let window: WindowLimit | undefined;
    for (const sum of current.sums) {
      const fits = current.fitTime(sum, requests, tokens, t);
      if (fits > retryAt) {
        retryAt = fits;
        window = sum.limit;
      }
    }
    return window === undefined ? { ok: true } : { ok: false, retryAt, window };
  }

  /** The pacing of `limit` in a new window set whose entries from `start` are inside it. */
  private pacingFor(limit: WindowLimit, start: number): Pacing | undefined {
    if (limit.paced !== true) return undefined;
    const kept = this.sums.find((s) => s.pace !== undefined && sameLimits(s.limit, limit));
    if (kept !== undefined) return kept.pace;
    const fresh: Pacing = {
      from: start,
      lastTokens: -1,
      requests: paceBucket(limit.requests, limit.windowMs),
      tokens: paceBucket(limit.tokens, limit.windowMs),
    };
    if (fresh.requests === undefined && fresh.tokens === undefined) return undefined;
    // Replay the takes inside the window, in order: O(entries), like the walk that found them.
    let pace: Pacing | undefined = Object.freeze(fresh);
    for (let seq = start; seq < this.log.end; seq++) {
      const entry = this.log.get(seq);
      pace = pacedTake(pace, seq, entry.at, entry.requests, entry.tokens);
    }
    return pace;
  }

  /**
   * Records `requests` and `tokens` at `now` in every window, without checking: the caller checks
   * first. The take is numbered {@link nextSeq} (as read before it), the number to pass to
   * {@link reconcile} when the real usage is known.
   */
  take(now: number, requests: number, tokens: number): SlidingWindows {
    assertAmount('requests', requests);
    assertAmount('tokens', tokens);
    const current = this.at(now);
    const entry: WindowEntry = Object.freeze({ at: current.latest, requests, tokens });
    const sums = current.sums.map((sum) =>
      Object.freeze({
        limit: sum.limit,
        start: sum.start,
        requests: sum.requests + requests,
        tokens: sum.tokens + tokens,
        pace: pacedTake(sum.pace, current.log.end, current.latest, requests, tokens),
      }),
    );
    return new SlidingWindows(
      current.windows,
      Object.freeze(sums),
      current.log.push(entry),
      current.retentionMs,
      current.latest,
    );
  }

  /**
   * Replaces the reserved tokens of take `seq` by the tokens it really used. The change counts
   * only in the windows the take is still inside; a take already dropped changes nothing.
   *
   * In a paced window's token bucket (that counted the take), more tokens than recorded move
   * `tat` later by the difference times the emission interval; fewer move it earlier by as much,
   * but, when a newer take has charged the bucket since, never below what that newest take alone
   * charged (`its time + its tokens × interval`): a give-back does not cancel the charge of a
   * take made after it (which may have waited for the tokens given back). That keeps the token
   * pacing within one burst of what it would have been had the take reserved its real usage
   * (exact would mean replaying every take since; the sliding limit holds regardless). O(1); a
   * `tat` left in the past changes nothing, as the next take starts from `now`.
   */
  reconcile(seq: number, actualTokens: number): SlidingWindows {
    assertAmount('actualTokens', actualTokens);
    if (seq < this.log.start || seq >= this.log.end) return this;
    const entry = this.log.get(seq);
    const delta = actualTokens - entry.tokens;
    if (delta === 0) return this;
    const sums = this.sums.map((sum) => {
      const pace = this.reconciledPace(sum.pace, seq, delta);
      if (seq < sum.start && pace === sum.pace) return sum;
      return Object.freeze({
        limit: sum.limit,
        start: sum.start,
        requests: sum.requests,
        tokens: seq >= sum.start ? sum.tokens + delta : sum.tokens,
        pace,
      });
    });
    return new SlidingWindows(
      this.windows,
      Object.freeze(sums),
      this.log.set(
        seq,
        Object.freeze({ at: entry.at, requests: entry.requests, tokens: actualTokens }),
      ),
      this.retentionMs,
      this.latest,
    );
  }

  /** As `reconcile`, but only when the take used more than it reserved (never gives back). */
  reconcileUp(seq: number, actualTokens: number): SlidingWindows {
    if (seq < this.log.start || seq >= this.log.end) return this;
    return actualTokens > this.log.get(seq).tokens ? this.reconcile(seq, actualTokens) : this;
  }

  /**
   * Take `seq` counts from `at` on, when that is later than it did: the request it stands for
   * was admitted earlier and is only now handed to the HTTP client (the server counts it from its
   * arrival, not from our admission). Only ever later, so no window counts less than before.
   *
   * The log's times are then no longer in order: a window drops entries in log order, so an
   * entry that has left stays counted until every older one has left too, and a refused
   * request's retry time is the latest time among the entries it waits for. Both err on the side
   * of counting more. A take that had already left a window before it was sent stays out of that
   * window (it was admitted more than a window ago). Pacing keeps the admission times: it
   * spreads admissions, and the sliding limit is what holds on the server's clock.
   */
  restamp(seq: number, at: number): SlidingWindows {
    if (seq < this.log.start || seq >= this.log.end) return this;
    const entry = this.log.get(seq);
    if (!(at > entry.at)) return this;
    return new SlidingWindows(
      this.windows,
      this.sums,
      this.log.set(seq, Object.freeze({ at, requests: entry.requests, tokens: entry.tokens })),
      this.retentionMs,
      this.latest,
    );
  }

  /** A window's pacing once take `seq`'s tokens change by `delta` (see `reconcile`). */
  private reconciledPace(pace: Pacing | undefined, seq: number, delta: number): Pacing | undefined {
    const bucket = pace?.tokens;
    if (pace === undefined || bucket === undefined || seq < pace.from) return pace;
    let tat = bucket.tat + delta * bucket.interval;
    if (delta < 0 && seq < pace.lastTokens) {
      // The newest charging take is newer than `seq`, so still in the log.
      const newest = this.log.get(pace.lastTokens);
      tat = Math.min(bucket.tat, Math.max(tat, newest.at + newest.tokens * bucket.interval));
    }
    const tokens = paceWithTat(bucket, tat);
    return tokens === bucket ? pace : Object.freeze({ ...pace, tokens });
  }

  /** What every window holds at `now`. */
  usage(now: number): WindowLoad[] {
    return this.at(now).sums.map((s) => ({
      window: s.limit,
      requests: s.requests,
      tokens: s.tokens,
    }));
  }

  /** The first window that `requests` and `tokens` exceed on their own, if any: they never fit. */
  canEverFit(requests: number, tokens: number): WindowLimit | undefined {
    return this.windows.find(
      (w) =>
        (w.requests !== undefined && requests > w.requests) ||
        (w.tokens !== undefined && tokens > w.tokens),
    );
  }

  /**
   * The same takes seen at `now` (never earlier than the latest time seen): entries that have
   * left a window are out of its sums, and entries older than every window are dropped. `this`
   * when nothing changes.
   *
   * Reads (`check`, `usage`) call this without storing the result; the last result is kept
   * here so that the next read goes on from it instead of walking the same entries again. A
   * memo only: it changes no answer of this value.
   */
  at(now: number): SlidingWindows {
    const t = Math.max(now, this.latest);
    const memo = this.advanced;
    const result = (memo !== undefined && memo.latest <= t ? memo : this).advanceTo(t);
    if (result !== this) this.advanced = result;
    return result;
  }

  /** Everything `at` does, from this value to `t` (not before `latest`). */
  private advanceTo(t: number): SlidingWindows {
    const { log } = this;
    let changed = t !== this.latest;
    const sums = this.sums.map((sum) => {
      const { windowMs } = sum.limit;
      let { start, requests, tokens } = sum;
      while (start < log.end) {
        const entry = log.get(start);
        if (entry.at + windowMs > t) break;
        requests -= entry.requests;
        tokens -= entry.tokens;
        start++;
      }
      if (start === sum.start) return sum;
      changed = true;
      // Running sums of integers stay exact; this only guards against drift with fractions.
      if (start === log.end)
        return Object.freeze({ limit: sum.limit, start, requests: 0, tokens: 0, pace: sum.pace });
      return Object.freeze({ limit: sum.limit, start, requests, tokens, pace: sum.pace });
    });
    if (!changed) return this;
    let head = log.start;
    while (head < log.end && log.get(head).at + this.retentionMs <= t) head++;
    return new SlidingWindows(
      this.windows,
      Object.freeze(sums),
      log.dropBefore(head),
      this.retentionMs,
      t,
    );
  }

  /**
   * When a request fits in one window, by its sliding limit and its pacing (the later of the
   * two): `t` if now, `Infinity` if never.
   */
  private fitTime(sum: WindowSum, requests: number, tokens: number, t: number): number {
    return Math.max(
      this.windowFitTime(sum, requests, tokens, t),
      paceTime(sum.pace, requests, tokens),
    );
  }

  /** When a request fits in one window's sliding limit: `t` if now, `Infinity` if never. */
  private windowFitTime(sum: WindowSum, requests: number, tokens: number, t: number): number {
    const { limit } = sum;
    let needRequests = 0;
    let needTokens = 0;
    if (limit.requests !== undefined) {
      if (requests > limit.requests) return Number.POSITIVE_INFINITY;
      needRequests = sum.requests + requests - limit.requests;
    }
    if (limit.tokens !== undefined) {
      if (tokens > limit.tokens) return Number.POSITIVE_INFINITY;
      needTokens = sum.tokens + tokens - limit.tokens;
    }
    if (needRequests <= 0 && needTokens <= 0) return t;
    // Walk from the oldest entry until enough has left the window. Entries leave in log order,
    // so the latest time among those walked decides (a restamped one may be later than its
    // successors).
    let freedRequests = 0;
    let freedTokens = 0;
    let latestAt = Number.NEGATIVE_INFINITY;
    for (let seq = sum.start; seq < this.log.end; seq++) {
      const entry = this.log.get(seq);
      freedRequests += entry.requests;
      freedTokens += entry.tokens;
      if (entry.at > latestAt) latestAt = entry.at;
      if (freedRequests >= needRequests && freedTokens >= needTokens) {
        return latestAt + limit.windowMs;
      }
    }
    // Unreachable while the sums match the log; refuse rather than over-admit.
    return Number.POSITIVE_INFINITY;
  }
}
