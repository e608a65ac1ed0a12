/**
 * The money ledger: total, daily and hourly budgets in integer micro-dollars, with holds for the
 * worst-case cost of running calls. Pure and clock-free: every method that depends on time takes
 * `now` in milliseconds. Days and hours are calendar periods in an IANA time zone.
 */

/** Budget limits in integer micro-dollars; `undefined` = no limit. */
export interface BudgetLimits {
  /** Over the ledger's lifetime (until {@link BudgetLedger.resetTotal}). */
  total?: number | undefined;
  /** Per calendar day of the ledger's time zone. */
  daily?: number | undefined;
  /** Per calendar hour of the ledger's time zone. */
  hourly?: number | undefined;
}

/** A budget period. */
export type BudgetPeriod = 'total' | 'daily' | 'hourly';

/**
 * Whether an amount fits. When it does not, `period` is the budget that refuses and `retryAt`
 * the start of the next calendar day or hour (ms) for `daily` / `hourly`, or `Infinity` for
 * `total` (time alone never restores the total budget; ending holds may).
 */
export type BudgetVerdict = { ok: true } | { ok: false; period: BudgetPeriod; retryAt: number };

/** Spending or headroom per period, in micro-dollars. */
export interface BudgetAmounts {
  total: number;
  daily: number;
  hourly: number;
}

/** What is left per limit (`undefined` where there is no limit), in micro-dollars. */
export interface BudgetRemaining {
  total: number | undefined;
  daily: number | undefined;
  hourly: number | undefined;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Longer than any calendar day (25 h on a daylight-saving day) or hour, to bound searches. */
const SEARCH_SPAN_MS = 27 * HOUR_MS;

type PeriodKind = 'hour' | 'day';

/** The millisecond within its second of an integer instant (0–999, also before 1970). */
function millisOf(ms: number): number {
  return ((ms % 1000) + 1000) % 1000;
}

const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Etc/Universal', 'Etc/Zulu']);

/** Local wall-clock fields of an instant in one time zone. */
interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Local time minus UTC, in ms. */
  offset: number;
}

/**
 * Calendar hours and days of one IANA time zone. UTC is pure arithmetic; other zones read their
 * wall-clock fields (and so their offset) through `Intl.DateTimeFormat`, guess where the current
 * period ends by arithmetic and confirm it, falling back to a binary search when the offset
 * changes within the period (daylight-saving days). The ledger caches the end of the current
 * hour and day, so this runs about once an hour.
 */
class Calendar {
  private readonly format: Intl.DateTimeFormat | undefined;

  constructor(timeZone: string) {
    // Throws RangeError for a time zone the runtime does not know.
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    this.format = UTC_NAMES.has(format.resolvedOptions().timeZone) ? undefined : format;
  }

  /** The first instant (ms) after `t` that is in the next calendar hour or day. */
  nextBoundary(t: number, kind: PeriodKind): number {
    const ms = Math.floor(t);
    const length = kind === 'hour' ? HOUR_MS : DAY_MS;
    if (this.format === undefined) return (Math.floor(ms / length) + 1) * length;
    const local = this.local(ms);
    const key = this.key(local, kind);
    const intoPeriod =
      (kind === 'day' ? local.hour * HOUR_MS : 0) +
      local.minute * 60_000 +
      local.second * 1000 +
      millisOf(ms);
    // Right unless the offset changes within the period (a daylight-saving day, say).
    const guess = ms - intoPeriod + length;
    if (guess > ms && this.keyAt(guess - 1, kind) === key && this.keyAt(guess, kind) !== key) {
      return guess;
    }
    return this.firstLeaving(ms, ms + SEARCH_SPAN_MS, key, kind);
  }

  private local(ms: number): LocalTime {
    const fields: Record<string, number> = {};
    for (const part of (this.format as Intl.DateTimeFormat).formatToParts(ms)) {
      if (part.type !== 'literal') fields[part.type] = Number(part.value);
    }
    const year = fields.year ?? 1970;
    const month = fields.month ?? 1;
    const day = fields.day ?? 1;
    const hour = fields.hour ?? 0;
    const minute = fields.minute ?? 0;
    const second = fields.second ?? 0;
    const wall = Date.UTC(year, month - 1, day, hour, minute, second);
    return { year, month, day, hour, minute, second, offset: wall - (ms - millisOf(ms)) };
  }

  /** Identifies a period: the local date, plus hour and offset (a repeated hour is another period). */
  private key(local: LocalTime, kind: PeriodKind): string {
    const date = `${local.year}-${local.month}-${local.day}`;
    return kind === 'day' ? date : `${date}T${local.hour}@${local.offset}`;
  }

  private keyAt(ms: number, kind: PeriodKind): string {
    return this.key(this.local(ms), kind);
  }

  /**
   * Binary search on `(lo, hi]` for the first ms no longer in period `key`, given that `lo` is
   * in it and `hi` is not. Periods are contiguous, so the predicate is monotone.
   */
  private firstLeaving(lo: number, hi: number, key: string, kind: PeriodKind): number {
    let low = lo;
    let high = hi;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (this.keyAt(mid, kind) === key) low = mid;
      else high = mid;
    }
    return high;
  }
}

function assertMicros(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer of micro-dollars, got ${value}`);
  }
}

function assertLimits(limits: BudgetLimits): BudgetLimits {
  const out: BudgetLimits = {};
  for (const period of ['total', 'daily', 'hourly'] as const) {
    const value = limits[period];
    if (value === undefined) continue;
    assertMicros(`${period} limit`, value);
    out[period] = value;
  }
  return out;
}

/** Spending in the current calendar period, which ends at `end` (ms, exclusive). */
interface PeriodBucket {
  readonly end: number;
  readonly spent: number;
}

const NO_PERIOD: PeriodBucket = Object.freeze({ end: Number.NEGATIVE_INFINITY, spent: 0 });

/**
 * Total, daily and hourly budgets, charged in integer micro-dollars, as an immutable value:
 * `hold`, `commit`, `release`, `charge`, `withLimits`, `resetTotal` and `at` return a new ledger
 * and leave this one as it was.
 *
 * Holds (money set aside for running calls at their worst-case cost) count against every period
 * while they are held: an amount fits iff, for each limit `L`,
 * `spentInCurrentPeriod + held + amount ≤ L`. Committing a hold charges its real cost to the
 * total and to the calendar hour and day in which it is committed. So, as long as a call never
 * costs more than its hold, spending plus holds never exceed any limit, across hour and day
 * boundaries too. The ledger keeps only the sum held; which holds are outstanding is its
 * owner's to know (`BudgetBook` keeps them by task).
 *
 * Time is expected not to go backwards: a `now` earlier than one already seen is treated as the
 * latest time seen.
 */
/**
 * When the calendar hour and day that hold `t` end (ms), in `timeZone` (IANA; default `'UTC'`):
 * what names a period where budgets are counted outside this process (the shared budgets on
 * Redis key each period's spending by its end).
 * @throws RangeError for an unknown time zone
 */
export function calendarPeriodEnds(timeZone = 'UTC'): (t: number) => { hour: number; day: number } {
  const calendar = new Calendar(timeZone);
  return (t) => ({ hour: calendar.nextBoundary(t, 'hour'), day: calendar.nextBoundary(t, 'day') });
}

export class BudgetLedger {
  private constructor(
    private readonly limits: BudgetLimits,
    private readonly calendar: Calendar,
    private readonly heldTotal: number,
    private readonly totalSpent: number,
    private readonly hour: PeriodBucket,
    private readonly day: PeriodBucket,
    private readonly latest: number,
  ) {}

  /**
   * @param limits the budgets, in micro-dollars
   * @param timeZone IANA time zone of the calendar hours and days (default `'UTC'`)
   * @throws RangeError for an unknown time zone or a limit that is not an integer ≥ 0
   */
  static of(limits: BudgetLimits, timeZone = 'UTC'): BudgetLedger {
    return new BudgetLedger(
      Object.freeze(assertLimits(limits)),
      new Calendar(timeZone),
      0,
      0,
      NO_PERIOD,
      NO_PERIOD,
      Number.NEGATIVE_INFINITY,
    );
  }

  /** Other limits. Money already spent or held stays; a lower limit only refuses new holds. */
  withLimits(limits: BudgetLimits): BudgetLedger {
    return this.with({ limits: Object.freeze(assertLimits(limits)) });
  }

  /** Whether `amount` can be held at `now` on top of what is spent and held. */
  check(now: number, amount: number): BudgetVerdict {
    assertMicros('amount', amount);
    const { limits, heldTotal, totalSpent, day, hour } = this.at(now);
    const over = (limit: number | undefined, spent: number): boolean =>
      limit !== undefined && spent + heldTotal + amount > limit;
    if (over(limits.total, totalSpent)) {
      return { ok: false, period: 'total', retryAt: Number.POSITIVE_INFINITY };
    }
    // The day ends no earlier than the hour, so a refusing day decides when to come back.
    if (over(limits.daily, day.spent)) {
      return { ok: false, period: 'daily', retryAt: day.end };
    }
    if (over(limits.hourly, hour.spent)) {
      return { ok: false, period: 'hourly', retryAt: hour.end };
    }
    return { ok: true };
  }

  /** The first limit that `amount` exceeds on its own: it can never be held. */
  canEverFit(amount: number): BudgetPeriod | undefined {
    const { total, daily, hourly } = this.limits;
    if (total !== undefined && amount > total) return 'total';
    if (daily !== undefined && amount > daily) return 'daily';
    if (hourly !== undefined && amount > hourly) return 'hourly';
    return undefined;
  }

  /** `amount` set aside at `now`, without checking (the caller checks first). */
  hold(now: number, amount: number): BudgetLedger {
    assertMicros('amount', amount);
    const current = this.at(now);
    return current.with({ heldTotal: current.heldTotal + amount });
  }

  /**
   * A hold of `held` ended and `actual` (the call's real cost) charged to the total and to the
   * current calendar hour and day of `now`. The caller knows the hold is outstanding.
   */
  commit(held: number, now: number, actual: number): BudgetLedger {
    assertMicros('actual', actual);
    return this.release(held).charge(now, actual);
  }

  /** A hold of `held` ended without charging anything. */
  release(held: number): BudgetLedger {
    assertMicros('held', held);
    return this.with({ heldTotal: Math.max(0, this.heldTotal - held) });
  }

  /** `amount`, spent without a hold, charged to the total and to the current hour and day. */
  charge(now: number, amount: number): BudgetLedger {
    assertMicros('amount', amount);
    const current = this.at(now);
    if (amount === 0) return current;
    return current.with({
      totalSpent: current.totalSpent + amount,
      day: Object.freeze({ end: current.day.end, spent: current.day.spent + amount }),
      hour: Object.freeze({ end: current.hour.end, spent: current.hour.spent + amount }),
    });
  }

  /** Money spent: in total, in the current calendar day, and in the current calendar hour. */
  spent(now: number): BudgetAmounts {
    const { totalSpent, day, hour } = this.at(now);
    return { total: totalSpent, daily: day.spent, hourly: hour.spent };
  }

  /** Money currently held for running calls. */
  held(): number {
    return this.heldTotal;
  }

  /** What can still be held under each limit at `now` (limit − spent − held, at least 0). */
  remaining(now: number): BudgetRemaining {
    const { limits, heldTotal, totalSpent, day, hour } = this.at(now);
    const left = (limit: number | undefined, spent: number): number | undefined =>
      limit === undefined ? undefined : Math.max(0, limit - spent - heldTotal);
    return {
      total: left(limits.total, totalSpent),
      daily: left(limits.daily, day.spent),
      hourly: left(limits.hourly, hour.spent),
    };
  }

  /** The total spent set back to 0. The current day's and hour's spending are kept. */
  resetTotal(): BudgetLedger {
    return this.with({ totalSpent: 0 });
  }

  /**
   * The ledger seen at `now` (never earlier than the latest time seen): a new hour or day opened
   * when one has begun. `this` when nothing changes.
   */
  at(now: number): BudgetLedger {
    if (now <= this.latest) return this;
    // Reads do not store what they advance to; the last one is kept (a memo that changes no
    // answer) so that the next read does not look up the same calendar boundary again.
    const memo = this.advanced;
    if (memo !== undefined && memo.latest <= now) {
      const result = memo.at(now);
      this.advanced = result;
      return result;
    }
    const result = this.advanceTo(now);
    this.advanced = result;
    return result;
  }

  /** The last value `at` made from this one (a memo; see `at`). */
  private advanced: BudgetLedger | undefined;

  private advanceTo(now: number): BudgetLedger {
    const hour =
      now >= this.hour.end
        ? Object.freeze({ end: this.calendar.nextBoundary(now, 'hour'), spent: 0 })
        : this.hour;
    const day =
      now >= this.day.end
        ? Object.freeze({ end: this.calendar.nextBoundary(now, 'day'), spent: 0 })
        : this.day;
    return this.with({ hour, day, latest: now });
  }

  private with(changes: {
    limits?: BudgetLimits;
    heldTotal?: number;
    totalSpent?: number;
    hour?: PeriodBucket;
    day?: PeriodBucket;
    latest?: number;
  }): BudgetLedger {
    return new BudgetLedger(
      changes.limits ?? this.limits,
      this.calendar,
      changes.heldTotal ?? this.heldTotal,
      changes.totalSpent ?? this.totalSpent,
      changes.hour ?? this.hour,
      changes.day ?? this.day,
      changes.latest ?? this.latest,
    );
  }
}
