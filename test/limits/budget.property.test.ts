import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BudgetHold,
  BudgetLedger,
  type BudgetLimits,
  type BudgetPeriod,
} from '../../src/limits/budget.js';

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
  | { kind: 'advance'; ms: number }
  | { kind: 'hold'; amount: number }
  | { kind: 'commit'; pick: number; ratio: number }
  | { kind: 'release'; pick: number }
  | { kind: 'limits'; total: number; daily: number; hourly: number };

const advanceArb = fc.oneof(
  fc.integer({ min: 0, max: 600_000 }),
  fc.integer({ min: 0, max: 7_200_000 }),
  fc.constantFrom(1, 1_800_000, 3_600_000, 86_400_000),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: advanceArb }) },
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
      kind: fc.constant('limits' as const),
      total: fc.integer({ min: -2000, max: 2000 }),
      daily: fc.integer({ min: -800, max: 800 }),
      hourly: fc.integer({ min: -300, max: 300 }),
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

function run(
  zone: string,
  start: number,
  initial: BudgetLimits,
  steps: Step[],
  onlyRaise: boolean,
): void {
  const ledger = new BudgetLedger(initial, zone);
  const calendar = calendarOf(zone);
  let limits = initial;
  let now = start;
  const holds: { hold: BudgetHold; amount: number }[] = [];
  const commits: { at: number; actual: number }[] = [];

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
        break;
      case 'hold': {
        const verdict = ledger.check(now, step.amount);
        const { spent, held } = model();
        const refusing = PERIODS.filter(
          ([p]) => limits[p] !== undefined && spent[p] + held + step.amount > (limits[p] as number),
        ).map(([p]) => p);
        if (refusing.length === 0) {
          expect(verdict).toEqual({ ok: true });
          holds.push({ hold: ledger.hold(now, step.amount), amount: step.amount });
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
        expect(ledger.commit(entry.hold, now, actual)).toBe(true);
        holds.splice(index, 1);
        commits.push({ at: now, actual });
        break;
      }
      case 'release': {
        const index = step.pick % Math.max(1, holds.length);
        const entry = holds[index];
        if (entry === undefined) break;
        expect(ledger.release(entry.hold)).toBe(true);
        holds.splice(index, 1);
        break;
      }
      case 'limits':
        limits = changeLimits(limits, step, onlyRaise);
        ledger.setLimits(limits);
        break;
    }
    const { spent, held } = model();
    expect(ledger.spent(now)).toEqual(spent);
    expect(ledger.held()).toBe(held);
    if (onlyRaise) expect(holdsUnder(limits)).toBe(true);
  }
}

describe('BudgetLedger properties (virtual time, brute-force model)', () => {
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
});
