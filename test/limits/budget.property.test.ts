import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BudgetLedger, type BudgetLimits, type BudgetPeriod } from '../../src/limits/budget.js';
import { BudgetBook } from '../../src/limits/budget-book.js';

const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'] as const;

/** Starting points near daylight-saving changes (New York, Lord Howe) and a plain day. */
const STARTS = [
  Date.parse('2026-03-08T03:00:00Z'),
  Date.parse('2026-11-01T02:00:00Z'),
  Date.parse('2026-04-04T12:00:00Z'),
  Date.parse('2026-10-03T12:00:00Z'),
  Date.parse('2026-06-15T21:00:00Z'),
];

/** An independent calendar for the model: local date, and local hour with its UTC offset. */
function calendarOf(timeZone: string): (t: number) => { day: string; hour: string } {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    timeZoneName: 'longOffset',
  });
  return (t) => {
    const parts = Object.fromEntries(format.formatToParts(t).map((p) => [p.type, p.value]));
    const day = `${parts.year}-${parts.month}-${parts.day}`;
    return { day, hour: `${day}T${parts.hour} ${parts.timeZoneName}` };
  };
}

type Step =
  | { kind: 'advance'; ms: number; settle: boolean }
  | { kind: 'hold'; amount: number }
  | { kind: 'commit'; pick: number; ratio: number }
  | { kind: 'release'; pick: number }
  | { kind: 'stray'; pick: number; release: boolean; actual: number }
  | { kind: 'limits'; total: number; daily: number; hourly: number }
  | { kind: 'snapshot' }
  | { kind: 'fork'; pick: number; amount: number; ms: number };

const advanceArb = fc.oneof(
  fc.integer({ min: 0, max: 600_000 }),
  fc.integer({ min: 0, max: 7_200_000 }),
  fc.constantFrom(1, 1_800_000, 3_600_000, 86_400_000),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: advanceArb,
      // Also keep the ledger seen at the new time (which opens a new hour or day).
      settle: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      amount: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      pick: fc.nat(),
      ratio: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stray' as const),
      pick: fc.nat(),
      release: fc.boolean(),
      actual: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('limits' as const),
      total: fc.integer({ min: -2000, max: 2000 }),
      daily: fc.integer({ min: -800, max: 800 }),
      hourly: fc.integer({ min: -300, max: 300 }),
    }),
  },
);

/** The steps of the immutability property: the above plus snapshots and forks of old values. */
const versionStepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: stepArb },
  { weight: 2, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fork' as const),
      pick: fc.nat(),
      amount: fc.integer({ min: 0, max: 400 }),
      ms: advanceArb,
    }),
  },
);

const limitArb = (max: number) => fc.option(fc.integer({ min: 0, max }), { nil: undefined });
const limitsArb = fc.record({
  total: limitArb(6000),
  daily: limitArb(2500),
  hourly: limitArb(900),
});

const PERIODS = [
  ['total', 'total'],
  ['daily', 'daily'],
  ['hourly', 'hourly'],
] as const satisfies readonly (readonly [BudgetPeriod, keyof BudgetLimits])[];

function changeLimits(limits: BudgetLimits, step: Step & { kind: 'limits' }, onlyRaise: boolean) {
  const next: BudgetLimits = {};
  for (const [period] of PERIODS) {
    const current = limits[period];
    if (current === undefined) continue;
    const delta = onlyRaise ? Math.abs(step[period]) : step[period];
    next[period] = Math.max(0, current + delta);
  }
  return next;
}

/** Questions asked of a value when it is kept, and asked again at the end. */
const PROBE_AMOUNTS = [0, 100, 1000] as const;
const PROBE_DELAYS = [0, 3_600_000, 86_400_000] as const;

function answers(ledger: BudgetLedger, now: number) {
  return {
    held: ledger.held(),
    canEverFit: PROBE_AMOUNTS.map((a) => ledger.canEverFit(a)),
    at: PROBE_DELAYS.map((d) => ({
      spent: ledger.spent(now + d),
      remaining: ledger.remaining(now + d),
      verdicts: PROBE_AMOUNTS.map((a) => ledger.check(now + d, a)),
    })),
  };
}

interface Kept {
  ledger: BudgetLedger;
  book: BudgetBook;
  now: number;
  answers: ReturnType<typeof answers>;
  bookAnswers: ReturnType<typeof answers>;
  openHolds: number;
}

/**
 * Runs `steps` on a `BudgetLedger` and, in step, on a `BudgetBook` (holds by task), against a
 * model that lists every hold and commit. Every value kept by a `snapshot` step is asked again
 * at the end and must answer the same.
 */
function run(
  zone: string,
  start: number,
  initial: BudgetLimits,
  steps: Step[],
  onlyRaise: boolean,
): void {
  let ledger = BudgetLedger.of(initial, zone);
  let book = BudgetBook.of(initial, zone);
  const calendar = calendarOf(zone);
  let limits = initial;
  let now = start;
  let nextTask = 0;
  const holds: { task: string; amount: number }[] = [];
  /** Tasks whose hold has ended (committed or released). */
  const settled: string[] = [];
  const commits: { at: number; actual: number }[] = [];
  const kept: Kept[] = [];
  const keep = (): void => {
    kept.push({
      ledger,
      book,
      now,
      answers: answers(ledger, now),
      bookAnswers: answers(book.ledger, now),
      openHolds: book.openHolds,
    });
  };

  const model = () => {
    const here = calendar(now);
    const spent = { total: 0, daily: 0, hourly: 0 };
    for (const c of commits) {
      spent.total += c.actual;
      const then = calendar(c.at);
      if (then.day === here.day) spent.daily += c.actual;
      if (then.hour === here.hour) spent.hourly += c.actual;
    }
    const held = holds.reduce((sum, h) => sum + h.amount, 0);
    return { spent, held };
  };
  const holdsUnder = (l: BudgetLimits): boolean => {
    const { spent, held } = model();
    return PERIODS.every(([p]) => l[p] === undefined || spent[p] + held <= (l[p] as number));
  };

  for (const step of steps) {
    switch (step.kind) {
      case 'advance':
        now += step.ms;
        if (step.settle) ledger = ledger.at(now);
        break;
      case 'hold': {
        const verdict = ledger.check(now, step.amount);
        expect(book.check(now, step.amount)).toEqual(verdict);
        const { spent, held } = model();
        const refusing = PERIODS.filter(
          ([p]) => limits[p] !== undefined && spent[p] + held + step.amount > (limits[p] as number),
        ).map(([p]) => p);
        if (refusing.length === 0) {
          expect(verdict).toEqual({ ok: true });
          const task = `task-${nextTask++}`;
          ledger = ledger.hold(now, step.amount);
          book = book.hold(now, task, step.amount);
          holds.push({ task, amount: step.amount });
          // Holds are only taken under the limits in force: the guarantee holds right after.
          expect(holdsUnder(limits)).toBe(true);
        } else {
          expect(verdict.ok).toBe(false);
          if (verdict.ok) break;
          expect(refusing).toContain(verdict.period);
          if (verdict.period === 'total') {
            expect(verdict.retryAt).toBe(Number.POSITIVE_INFINITY);
          } else {
            // retryAt is the first instant of the next calendar day or hour.
            const unit = verdict.period === 'daily' ? 'day' : 'hour';
            expect(verdict.retryAt).toBeGreaterThan(now);
            expect(calendar(verdict.retryAt - 1)[unit]).toBe(calendar(now)[unit]);
            expect(calendar(verdict.retryAt)[unit]).not.toBe(calendar(now)[unit]);
            if (verdict.period === 'hourly') expect(refusing).not.toContain('daily');
          }
        }
        break;
      }
      case 'commit': {
        const index = step.pick % Math.max(1, holds.length);
        const entry = holds[index];
        if (entry === undefined) break;
        const actual = Math.floor(entry.amount * step.ratio);
        ledger = ledger.commit(entry.amount, now, actual);
        book = book.commit(now, entry.task, actual);
        holds.splice(index, 1);
        settled.push(entry.task);
        commits.push({ at: now, actual });
        break;
      }
      case 'release': {
        const index = step.pick % Math.max(1, holds.length);
        const entry = holds[index];
        if (entry === undefined) break;
        ledger = ledger.release(entry.amount);
        book = book.release(entry.task);
        holds.splice(index, 1);
        settled.push(entry.task);
        break;
      }
      case 'stray': {
        // A task whose hold has already ended, or one the book never saw.
        const task = settled[step.pick % Math.max(1, settled.length)] ?? 'never-held';
        // Charging without a hold may overspend: only where the run does not check for it.
        const actual = onlyRaise ? 0 : step.actual;
        if (step.release) {
          expect(book.release(task)).toBe(book);
        } else if (actual === 0) {
          expect(book.commit(now, task, 0)).toBe(book);
        } else {
          // Money spent without a hold is charged, and ends no other task's hold.
          book = book.commit(now, task, actual);
          ledger = ledger.charge(now, actual);
          commits.push({ at: now, actual });
        }
        break;
      }
      case 'limits':
        limits = changeLimits(limits, step, onlyRaise);
        ledger = ledger.withLimits(limits);
        book = book.configure(limits);
        break;
      case 'snapshot':
        keep();
        break;
      case 'fork': {
        // New operations on an old value: they must not show in it, nor in the current one.
        const old = kept[step.pick % kept.length];
        if (old === undefined) break;
        const later = now + step.ms;
        old.ledger
          .hold(now, step.amount)
          .charge(later, step.amount)
          .release(step.amount)
          .withLimits({ total: 1 })
          .resetTotal()
          .at(later + 86_400_000);
        old.book
          .hold(now, 'fork', step.amount)
          .hold(now, 'task-0', 1)
          .commit(later, 'task-0', step.amount)
          .release('fork')
          .configure({})
          .resetTotal();
        break;
      }
    }
    const { spent, held } = model();
    expect(ledger.spent(now)).toEqual(spent);
    expect(ledger.held()).toBe(held);
    expect(book.ledger.spent(now)).toEqual(spent);
    expect(book.ledger.held()).toBe(held);
    expect(book.openHolds).toBe(holds.length);
    if (onlyRaise) expect(holdsUnder(limits)).toBe(true);
  }
  if (kept.length === 0) return;
  keep();
  // Immutability: every value kept answers exactly what it answered when it was kept.
  for (const k of kept) {
    expect(answers(k.ledger, k.now)).toEqual(k.answers);
    expect(answers(k.book.ledger, k.now)).toEqual(k.bookAnswers);
    expect(k.book.openHolds).toBe(k.openHolds);
  }
}

describe('BudgetLedger and BudgetBook properties (virtual time, brute-force model)', () => {
  it('keeps spent + held within every limit across hours and days (limits only raised); spending adds up', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...STARTS),
        limitsArb,
        fc.array(stepArb, { maxLength: 80 }),
        (zone, start, initial, steps) => run(zone, start, initial, steps, true),
      ),
      { numRuns: 300 },
    );
  });

  it('keeps every new hold within the limits in force when limits are also lowered', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...STARTS),
        limitsArb,
        fc.array(stepArb, { maxLength: 80 }),
        (zone, start, initial, steps) => run(zone, start, initial, steps, false),
      ),
      { numRuns: 300 },
    );
  });

  it('is immutable: a ledger or book answers the same after later operations on it or on its successors', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...STARTS),
        limitsArb,
        fc.array(versionStepArb, { maxLength: 80 }),
        fc.boolean(),
        (zone, start, initial, steps, onlyRaise) => run(zone, start, initial, steps, onlyRaise),
      ),
      { numRuns: 200 },
    );
  });
});
