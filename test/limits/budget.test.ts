import { describe, expect, it } from 'vitest';
import { BudgetLedger } from '../../src/limits/budget.js';

const at = (iso: string): number => Date.parse(iso);

describe('BudgetLedger in UTC', () => {
  it('rolls the hourly budget over at the top of the hour', () => {
    const ledger = new BudgetLedger({ hourly: 100 });
    ledger.charge(at('2026-03-10T10:15:00Z'), 60);
    expect(ledger.check(at('2026-03-10T10:59:59.999Z'), 50)).toEqual({
      ok: false,
      period: 'hourly',
      retryAt: at('2026-03-10T11:00:00Z'),
    });
    expect(ledger.check(at('2026-03-10T10:59:59.999Z'), 40)).toEqual({ ok: true });
    expect(ledger.check(at('2026-03-10T11:00:00Z'), 100)).toEqual({ ok: true });
    expect(ledger.spent(at('2026-03-10T11:00:00Z'))).toEqual({ total: 60, daily: 60, hourly: 0 });
  });

  it('rolls the daily budget over at midnight', () => {
    const ledger = new BudgetLedger({ daily: 1000, hourly: 800 });
    ledger.charge(at('2026-03-10T22:00:00Z'), 700);
    ledger.charge(at('2026-03-10T23:30:00Z'), 200);
    // Both the day (900 + 200 > 1000) and not the hour (200 + 200 ≤ 800): the day decides.
    expect(ledger.check(at('2026-03-10T23:45:00Z'), 200)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-03-11T00:00:00Z'),
    });
    expect(ledger.check(at('2026-03-11T00:00:00Z'), 800)).toEqual({ ok: true });
    expect(ledger.spent(at('2026-03-11T00:00:00Z'))).toEqual({ total: 900, daily: 0, hourly: 0 });
  });

  it('refuses for good past the total budget, and canEverFit names the limit an amount exceeds', () => {
    const ledger = new BudgetLedger({ total: 500, daily: 300, hourly: 200 });
    ledger.charge(0, 450);
    expect(ledger.check(1, 100)).toEqual({
      ok: false,
      period: 'total',
      retryAt: Number.POSITIVE_INFINITY,
    });
    expect(ledger.canEverFit(501)).toBe('total');
    expect(ledger.canEverFit(301)).toBe('daily');
    expect(ledger.canEverFit(201)).toBe('hourly');
    expect(ledger.canEverFit(200)).toBeUndefined();
  });

  it('counts outstanding holds against every period, across an hour boundary', () => {
    const ledger = new BudgetLedger({ hourly: 100 });
    const hold = ledger.hold(at('2026-03-10T10:30:00Z'), 80);
    expect(ledger.held()).toBe(80);
    expect(ledger.check(at('2026-03-10T10:45:00Z'), 30)).toMatchObject({
      ok: false,
      period: 'hourly',
    });
    // A new hour does not free money still held.
    expect(ledger.check(at('2026-03-10T11:00:00Z'), 30)).toEqual({
      ok: false,
      period: 'hourly',
      retryAt: at('2026-03-10T12:00:00Z'),
    });
    // The real cost is charged to the hour the call ends in.
    expect(ledger.commit(hold, at('2026-03-10T11:05:00Z'), 50)).toBe(true);
    expect(ledger.held()).toBe(0);
    expect(ledger.spent(at('2026-03-10T11:06:00Z'))).toEqual({ total: 50, daily: 50, hourly: 50 });
    expect(ledger.check(at('2026-03-10T11:06:00Z'), 50)).toEqual({ ok: true });
    expect(ledger.check(at('2026-03-10T11:06:00Z'), 51).ok).toBe(false);
  });

  it('releases a hold without charging, and settles a hold only once', () => {
    const ledger = new BudgetLedger({ total: 100 });
    const hold = ledger.hold(0, 70);
    expect(ledger.remaining(0)).toEqual({ total: 30, daily: undefined, hourly: undefined });
    expect(ledger.release(hold)).toBe(true);
    expect(ledger.release(hold)).toBe(false);
    expect(ledger.commit(hold, 1, 70)).toBe(false);
    expect(ledger.spent(1)).toEqual({ total: 0, daily: 0, hourly: 0 });
    expect(ledger.held()).toBe(0);
    const other = new BudgetLedger({}).hold(0, 5);
    expect(ledger.commit(other, 1, 5)).toBe(false);
    expect(ledger.held()).toBe(0);
  });

  it('charges a commit that costs more than its hold in full', () => {
    const ledger = new BudgetLedger({ total: 100 });
    const hold = ledger.hold(0, 10);
    ledger.commit(hold, 1, 25);
    expect(ledger.spent(1).total).toBe(25);
  });

  it('reports what remains, never below 0', () => {
    const ledger = new BudgetLedger({ total: 1000, daily: 400, hourly: 100 });
    ledger.charge(0, 90);
    ledger.hold(0, 5);
    expect(ledger.remaining(0)).toEqual({ total: 905, daily: 305, hourly: 5 });
    ledger.charge(0, 50);
    expect(ledger.remaining(0)).toEqual({ total: 855, daily: 255, hourly: 0 });
  });

  it('resets the total only', () => {
    const ledger = new BudgetLedger({ total: 100, hourly: 100 });
    ledger.charge(0, 100);
    ledger.resetTotal();
    expect(ledger.spent(0)).toEqual({ total: 0, daily: 100, hourly: 100 });
    expect(ledger.check(0, 1)).toMatchObject({ ok: false, period: 'hourly' });
  });

  it('keeps spending when limits are lowered: new holds are refused, nothing is cancelled', () => {
    const ledger = new BudgetLedger({ total: 1000 });
    ledger.charge(0, 300);
    const hold = ledger.hold(0, 200);
    ledger.setLimits({ total: 400 });
    expect(ledger.check(0, 1).ok).toBe(false);
    expect(ledger.held()).toBe(200);
    ledger.commit(hold, 1, 50);
    expect(ledger.check(1, 50)).toEqual({ ok: true });
    ledger.setLimits({});
    expect(ledger.check(1, 1e12)).toEqual({ ok: true });
  });

  it('treats a time earlier than one already seen as the latest time seen', () => {
    const ledger = new BudgetLedger({ hourly: 100 });
    ledger.charge(at('2026-03-10T11:00:00Z'), 100);
    ledger.charge(at('2026-03-10T10:59:00Z'), 1);
    expect(ledger.spent(at('2026-03-10T10:00:00Z'))).toMatchObject({ hourly: 101 });
  });

  it('rejects amounts that are not integer micro-dollars, and unknown time zones', () => {
    const ledger = new BudgetLedger({});
    expect(() => ledger.check(0, 1.5)).toThrow(RangeError);
    expect(() => ledger.hold(0, -1)).toThrow(RangeError);
    expect(() => ledger.charge(0, Number.NaN)).toThrow(RangeError);
    expect(() => new BudgetLedger({ daily: -5 })).toThrow(RangeError);
    expect(() => new BudgetLedger({}, 'Mars/Olympus_Mons')).toThrow(RangeError);
  });

  it('accepts UTC under its other names', () => {
    for (const zone of ['UTC', 'Etc/UTC', 'utc', 'GMT']) {
      const ledger = new BudgetLedger({ daily: 10 }, zone);
      ledger.charge(at('2026-03-10T23:00:00Z'), 10);
      expect(ledger.check(at('2026-03-10T23:30:00Z'), 1)).toMatchObject({
        retryAt: at('2026-03-11T00:00:00Z'),
      });
    }
  });
});

describe("BudgetLedger in 'America/New_York'", () => {
  const NY = 'America/New_York';

  it('starts the day at local midnight: 05:00 UTC in winter, 04:00 UTC in summer', () => {
    const winter = new BudgetLedger({ daily: 100 }, NY);
    winter.charge(at('2026-01-15T04:59:00Z'), 100); // 23:59 EST on the 14th
    expect(winter.check(at('2026-01-15T04:59:30Z'), 1)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-01-15T05:00:00Z'),
    });
    expect(winter.spent(at('2026-01-15T05:00:00Z')).daily).toBe(0);

    const summer = new BudgetLedger({ daily: 100 }, NY);
    summer.charge(at('2026-07-15T03:59:00Z'), 100);
    expect(summer.check(at('2026-07-15T03:59:30Z'), 1)).toMatchObject({
      retryAt: at('2026-07-15T04:00:00Z'),
    });
    expect(summer.spent(at('2026-07-15T04:00:00Z')).daily).toBe(0);
  });

  it('knows the 23-hour day when clocks spring forward (2026-03-08)', () => {
    const ledger = new BudgetLedger({ daily: 100, hourly: 100 }, NY);
    ledger.charge(at('2026-03-08T05:00:00Z'), 100); // 00:00 EST
    expect(ledger.check(at('2026-03-08T12:00:00Z'), 1)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-03-09T04:00:00Z'), // 00:00 EDT on the 9th
    });
    expect(ledger.spent(at('2026-03-09T03:59:59.999Z')).daily).toBe(100);
    expect(ledger.spent(at('2026-03-09T04:00:00Z')).daily).toBe(0);
  });

  it('goes from 01:59 EST straight to 03:00 EDT: one hour ends, the next begins', () => {
    const ledger = new BudgetLedger({ hourly: 10 }, NY);
    ledger.charge(at('2026-03-08T06:30:00Z'), 10); // 01:30 EST
    expect(ledger.check(at('2026-03-08T06:59:00Z'), 1)).toMatchObject({
      retryAt: at('2026-03-08T07:00:00Z'), // 03:00 EDT
    });
    expect(ledger.spent(at('2026-03-08T07:00:00Z')).hourly).toBe(0);
  });

  it('knows the 25-hour day when clocks fall back (2026-11-01), and its repeated hour', () => {
    const ledger = new BudgetLedger({ daily: 1000, hourly: 10 }, NY);
    ledger.charge(at('2026-11-01T04:00:00Z'), 500); // 00:00 EDT
    ledger.charge(at('2026-11-01T05:30:00Z'), 10); // 01:30 EDT
    expect(ledger.check(at('2026-11-01T05:45:00Z'), 1)).toEqual({
      ok: false,
      period: 'hourly',
      retryAt: at('2026-11-01T06:00:00Z'), // 01:00 EST, the second 1 o'clock
    });
    // The second 01:00–02:00 is another hour, with its own budget.
    expect(ledger.spent(at('2026-11-01T06:30:00Z'))).toEqual({ total: 510, daily: 510, hourly: 0 });
    ledger.charge(at('2026-11-01T06:30:00Z'), 490);
    expect(ledger.check(at('2026-11-01T20:00:00Z'), 1)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-11-02T05:00:00Z'), // 00:00 EST on the 2nd
    });
    expect(ledger.spent(at('2026-11-02T04:59:59.999Z')).daily).toBe(1000);
    expect(ledger.spent(at('2026-11-02T05:00:00Z')).daily).toBe(0);
  });
});

describe('BudgetLedger in a half-hour time zone', () => {
  it("rolls 'Asia/Kolkata' hours over at :30 UTC and days at 18:30 UTC", () => {
    const ledger = new BudgetLedger({ daily: 100, hourly: 50 }, 'Asia/Kolkata');
    ledger.charge(at('2026-03-10T10:10:00Z'), 50); // 15:40 IST
    expect(ledger.check(at('2026-03-10T10:20:00Z'), 1)).toMatchObject({
      period: 'hourly',
      retryAt: at('2026-03-10T10:30:00Z'),
    });
    ledger.charge(at('2026-03-10T10:30:00Z'), 50);
    expect(ledger.check(at('2026-03-10T11:00:00Z'), 1)).toMatchObject({
      period: 'daily',
      retryAt: at('2026-03-10T18:30:00Z'),
    });
  });
});
