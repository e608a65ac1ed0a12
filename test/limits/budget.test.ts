import { describe, expect, it } from 'vitest';
import { BudgetLedger } from '../../src/limits/budget.js';
import { BudgetBook } from '../../src/limits/budget-book.js';

const at = (iso: string): number => Date.parse(iso);

describe('BudgetLedger in UTC', () => {
  it('rolls the hourly budget over at the top of the hour', () => {
    let ledger = BudgetLedger.of({ hourly: 100 });
    ledger = ledger.charge(at('2026-03-10T10:15:00Z'), 60);
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
    let ledger = BudgetLedger.of({ daily: 1000, hourly: 800 });
    ledger = ledger.charge(at('2026-03-10T22:00:00Z'), 700);
    ledger = ledger.charge(at('2026-03-10T23:30:00Z'), 200);
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
    let ledger = BudgetLedger.of({ total: 500, daily: 300, hourly: 200 });
    ledger = ledger.charge(0, 450);
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
    let ledger = BudgetLedger.of({ hourly: 100 });
    ledger = ledger.hold(at('2026-03-10T10:30:00Z'), 80);
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
    ledger = ledger.commit(80, at('2026-03-10T11:05:00Z'), 50);
    expect(ledger.held()).toBe(0);
    expect(ledger.spent(at('2026-03-10T11:06:00Z'))).toEqual({ total: 50, daily: 50, hourly: 50 });
    expect(ledger.check(at('2026-03-10T11:06:00Z'), 50)).toEqual({ ok: true });
    expect(ledger.check(at('2026-03-10T11:06:00Z'), 51).ok).toBe(false);
  });

  // "Settles a hold only once" moved to BudgetBook below: the ledger keeps only the sum held.
  it('releases a hold without charging', () => {
    let ledger = BudgetLedger.of({ total: 100 }).hold(0, 70);
    expect(ledger.remaining(0)).toEqual({ total: 30, daily: undefined, hourly: undefined });
    ledger = ledger.release(70);
    expect(ledger.spent(1)).toEqual({ total: 0, daily: 0, hourly: 0 });
    expect(ledger.held()).toBe(0);
    expect(ledger.remaining(1)).toEqual({ total: 100, daily: undefined, hourly: undefined });
  });

  it('ends one of several holds by its amount', () => {
    let ledger = BudgetLedger.of({ total: 100 }).hold(0, 30).hold(0, 50);
    expect(ledger.check(0, 21)).toMatchObject({ ok: false, period: 'total' });
    ledger = ledger.commit(30, 1, 10);
    expect(ledger.held()).toBe(50);
    expect(ledger.spent(1).total).toBe(10);
    expect(ledger.check(1, 40)).toEqual({ ok: true });
    expect(ledger.check(1, 41).ok).toBe(false);
  });

  it('charges a commit that costs more than its hold in full', () => {
    let ledger = BudgetLedger.of({ total: 100 });
    ledger = ledger.hold(0, 10).commit(10, 1, 25);
    expect(ledger.held()).toBe(0);
    expect(ledger.spent(1).total).toBe(25);
  });

  it('reports what remains, never below 0', () => {
    let ledger = BudgetLedger.of({ total: 1000, daily: 400, hourly: 100 });
    ledger = ledger.charge(0, 90);
    ledger = ledger.hold(0, 5);
    expect(ledger.remaining(0)).toEqual({ total: 905, daily: 305, hourly: 5 });
    ledger = ledger.charge(0, 50);
    expect(ledger.remaining(0)).toEqual({ total: 855, daily: 255, hourly: 0 });
  });

  it('resets the total only', () => {
    let ledger = BudgetLedger.of({ total: 100, hourly: 100 });
    ledger = ledger.charge(0, 100);
    ledger = ledger.resetTotal();
    expect(ledger.spent(0)).toEqual({ total: 0, daily: 100, hourly: 100 });
    expect(ledger.check(0, 1)).toMatchObject({ ok: false, period: 'hourly' });
  });

  it('keeps spending when limits are lowered: new holds are refused, nothing is cancelled', () => {
    let ledger = BudgetLedger.of({ total: 1000 });
    ledger = ledger.charge(0, 300);
    ledger = ledger.hold(0, 200);
    ledger = ledger.withLimits({ total: 400 });
    expect(ledger.check(0, 1).ok).toBe(false);
    expect(ledger.held()).toBe(200);
    ledger = ledger.commit(200, 1, 50);
    expect(ledger.check(1, 50)).toEqual({ ok: true });
    ledger = ledger.withLimits({});
    expect(ledger.check(1, 1e12)).toEqual({ ok: true });
  });

  it('treats a time earlier than one already seen as the latest time seen', () => {
    let ledger = BudgetLedger.of({ hourly: 100 });
    ledger = ledger.charge(at('2026-03-10T11:00:00Z'), 100);
    ledger = ledger.charge(at('2026-03-10T10:59:00Z'), 1);
    expect(ledger.spent(at('2026-03-10T10:00:00Z'))).toMatchObject({ hourly: 101 });
  });

  it('rejects amounts that are not integer micro-dollars, and unknown time zones', () => {
    const ledger = BudgetLedger.of({});
    expect(() => ledger.check(0, 1.5)).toThrow(RangeError);
    expect(() => ledger.hold(0, -1)).toThrow(RangeError);
    expect(() => ledger.charge(0, Number.NaN)).toThrow(RangeError);
    expect(() => ledger.release(-1)).toThrow(RangeError);
    expect(() => ledger.commit(0, 0, 1.5)).toThrow(RangeError);
    expect(() => ledger.withLimits({ hourly: 0.5 })).toThrow(RangeError);
    expect(() => BudgetLedger.of({ daily: -5 })).toThrow(RangeError);
    expect(() => BudgetLedger.of({}, 'Mars/Olympus_Mons')).toThrow(RangeError);
  });

  it('leaves the ledger it was called on as it was', () => {
    const empty = BudgetLedger.of({ total: 1000, hourly: 100 });
    const charged = empty.charge(at('2026-03-10T10:15:00Z'), 60);
    const held = charged.hold(at('2026-03-10T10:20:00Z'), 30);
    const committed = held.commit(30, at('2026-03-10T10:25:00Z'), 25);
    const lowered = committed.withLimits({ total: 50 });
    const reset = lowered.resetTotal();
    const nextHour = reset.at(at('2026-03-10T11:00:00Z'));
    const t = at('2026-03-10T10:30:00Z');
    expect(empty.spent(t)).toEqual({ total: 0, daily: 0, hourly: 0 });
    expect(empty.check(t, 100)).toEqual({ ok: true });
    expect(charged.spent(t)).toEqual({ total: 60, daily: 60, hourly: 60 });
    expect(charged.held()).toBe(0);
    expect(held.held()).toBe(30);
    expect(held.remaining(t)).toEqual({ total: 910, daily: undefined, hourly: 10 });
    expect(committed.held()).toBe(0);
    expect(committed.spent(t)).toEqual({ total: 85, daily: 85, hourly: 85 });
    expect(committed.check(t, 15)).toEqual({ ok: true });
    expect(lowered.check(t, 1)).toMatchObject({ ok: false, period: 'total' });
    expect(reset.spent(t)).toEqual({ total: 0, daily: 85, hourly: 85 });
    expect(nextHour.spent(t)).toEqual({ total: 0, daily: 85, hourly: 0 });
    // The new hour seen by one version is not seen by the one it came from.
    expect(reset.spent(t).hourly).toBe(85);
    expect(committed.spent(t)).toEqual({ total: 85, daily: 85, hourly: 85 });
  });

  it('accepts UTC under its other names', () => {
    for (const zone of ['UTC', 'Etc/UTC', 'utc', 'GMT']) {
      let ledger = BudgetLedger.of({ daily: 10 }, zone);
      ledger = ledger.charge(at('2026-03-10T23:00:00Z'), 10);
      expect(ledger.check(at('2026-03-10T23:30:00Z'), 1)).toMatchObject({
        retryAt: at('2026-03-11T00:00:00Z'),
      });
    }
  });
});

describe("BudgetLedger in 'America/New_York'", () => {
  const NY = 'America/New_York';

  it('starts the day at local midnight: 05:00 UTC in winter, 04:00 UTC in summer', () => {
    let winter = BudgetLedger.of({ daily: 100 }, NY);
    winter = winter.charge(at('2026-01-15T04:59:00Z'), 100); // 23:59 EST on the 14th
    expect(winter.check(at('2026-01-15T04:59:30Z'), 1)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-01-15T05:00:00Z'),
    });
    expect(winter.spent(at('2026-01-15T05:00:00Z')).daily).toBe(0);

    let summer = BudgetLedger.of({ daily: 100 }, NY);
    summer = summer.charge(at('2026-07-15T03:59:00Z'), 100);
    expect(summer.check(at('2026-07-15T03:59:30Z'), 1)).toMatchObject({
      retryAt: at('2026-07-15T04:00:00Z'),
    });
    expect(summer.spent(at('2026-07-15T04:00:00Z')).daily).toBe(0);
  });

  it('knows the 23-hour day when clocks spring forward (2026-03-08)', () => {
    let ledger = BudgetLedger.of({ daily: 100, hourly: 100 }, NY);
    ledger = ledger.charge(at('2026-03-08T05:00:00Z'), 100); // 00:00 EST
    expect(ledger.check(at('2026-03-08T12:00:00Z'), 1)).toEqual({
      ok: false,
      period: 'daily',
      retryAt: at('2026-03-09T04:00:00Z'), // 00:00 EDT on the 9th
    });
    expect(ledger.spent(at('2026-03-09T03:59:59.999Z')).daily).toBe(100);
    expect(ledger.spent(at('2026-03-09T04:00:00Z')).daily).toBe(0);
  });

  it('goes from 01:59 EST straight to 03:00 EDT: one hour ends, the next begins', () => {
    let ledger = BudgetLedger.of({ hourly: 10 }, NY);
    ledger = ledger.charge(at('2026-03-08T06:30:00Z'), 10); // 01:30 EST
    expect(ledger.check(at('2026-03-08T06:59:00Z'), 1)).toMatchObject({
      retryAt: at('2026-03-08T07:00:00Z'), // 03:00 EDT
    });
    expect(ledger.spent(at('2026-03-08T07:00:00Z')).hourly).toBe(0);
  });

  it('knows the 25-hour day when clocks fall back (2026-11-01), and its repeated hour', () => {
    let ledger = BudgetLedger.of({ daily: 1000, hourly: 10 }, NY);
    ledger = ledger.charge(at('2026-11-01T04:00:00Z'), 500); // 00:00 EDT
    ledger = ledger.charge(at('2026-11-01T05:30:00Z'), 10); // 01:30 EDT
    expect(ledger.check(at('2026-11-01T05:45:00Z'), 1)).toEqual({
      ok: false,
      period: 'hourly',
      retryAt: at('2026-11-01T06:00:00Z'), // 01:00 EST, the second 1 o'clock
    });
    // The second 01:00–02:00 is another hour, with its own budget.
    expect(ledger.spent(at('2026-11-01T06:30:00Z'))).toEqual({ total: 510, daily: 510, hourly: 0 });
    ledger = ledger.charge(at('2026-11-01T06:30:00Z'), 490);
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
    let ledger = BudgetLedger.of({ daily: 100, hourly: 50 }, 'Asia/Kolkata');
    ledger = ledger.charge(at('2026-03-10T10:10:00Z'), 50); // 15:40 IST
    expect(ledger.check(at('2026-03-10T10:20:00Z'), 1)).toMatchObject({
      period: 'hourly',
      retryAt: at('2026-03-10T10:30:00Z'),
    });
    ledger = ledger.charge(at('2026-03-10T10:30:00Z'), 50);
    expect(ledger.check(at('2026-03-10T11:00:00Z'), 1)).toMatchObject({
      period: 'daily',
      retryAt: at('2026-03-10T18:30:00Z'),
    });
  });
});

describe('BudgetBook', () => {
  it("keeps each task's hold, and a commit ends the hold of the task it names", () => {
    let book = BudgetBook.of({ total: 100 }, 'UTC');
    book = book.hold(0, 'a', 30).hold(0, 'b', 50);
    expect(book.openHolds).toBe(2);
    expect(book.ledger.held()).toBe(80);
    expect(book.check(0, 21)).toMatchObject({ ok: false, period: 'total' });
    book = book.commit(1, 'a', 10);
    expect(book.openHolds).toBe(1);
    expect(book.ledger.held()).toBe(50);
    expect(book.ledger.spent(1).total).toBe(10);
    book = book.release('b');
    expect(book.openHolds).toBe(0);
    expect(book.ledger.held()).toBe(0);
    expect(book.ledger.spent(1).total).toBe(10);
  });

  // Was BudgetLedger's "settles a hold only once" (commit or release of a hold that is not
  // outstanding, or from another ledger, returned false): the book knows which holds are
  // outstanding, by task.
  it('settles a hold only once: a task with no hold has nothing to release', () => {
    const held = BudgetBook.of({ total: 100 }, 'UTC').hold(0, 'a', 70);
    const released = held.release('a');
    expect(released.ledger.held()).toBe(0);
    expect(released.openHolds).toBe(0);
    // Released again, or a task the book never saw: the same book.
    expect(released.release('a')).toBe(released);
    expect(released.release('elsewhere')).toBe(released);
    // A commit of 0 with no hold changes nothing either.
    expect(released.commit(1, 'a', 0)).toBe(released);
    expect(released.commit(1, 'elsewhere', 0)).toBe(released);
    expect(released.ledger.spent(1)).toEqual({ total: 0, daily: 0, hourly: 0 });
    // A second commit after a commit does not end the hold twice (another task's stays held).
    const two = BudgetBook.of({ total: 100 }, 'UTC').hold(0, 'a', 20).hold(0, 'b', 30);
    const once = two.commit(1, 'a', 20);
    expect(once.ledger.held()).toBe(30);
    expect(once.commit(1, 'a', 0)).toBe(once);
    expect(once.release('a')).toBe(once);
    expect(once.ledger.held()).toBe(30);
    expect(once.openHolds).toBe(1);
  });

  it('charges a commit with no hold (money spent without one), holding nothing', () => {
    const book = BudgetBook.of({ total: 100 }, 'UTC').hold(0, 'a', 40);
    const charged = book.commit(1, 'unknown', 25);
    expect(charged.ledger.spent(1).total).toBe(25);
    expect(charged.ledger.held()).toBe(40);
    expect(charged.openHolds).toBe(1);
  });

  it("replaces a task's hold when it holds again", () => {
    const book = BudgetBook.of({ total: 100 }, 'UTC').hold(0, 'a', 40).hold(1, 'a', 60);
    expect(book.ledger.held()).toBe(60);
    expect(book.openHolds).toBe(1);
    const done = book.commit(2, 'a', 60);
    expect(done.ledger.held()).toBe(0);
    expect(done.ledger.spent(2).total).toBe(60);
  });

  it('configures limits and resets the total, keeping the holds', () => {
    let book = BudgetBook.of({ total: 100 }, 'UTC').hold(0, 'a', 40).commit(0, 'a', 40);
    book = book.hold(0, 'b', 30).configure({ total: 60 });
    expect(book.check(0, 1)).toMatchObject({ ok: false, period: 'total' });
    book = book.resetTotal();
    expect(book.ledger.spent(0).total).toBe(0);
    expect(book.openHolds).toBe(1);
    expect(book.check(0, 30)).toEqual({ ok: true });
    expect(book.check(0, 31).ok).toBe(false);
    expect(() => book.configure({ total: -1 })).toThrow(RangeError);
    expect(() => BudgetBook.of({}, 'Mars/Olympus_Mons')).toThrow(RangeError);
  });

  it('leaves the book it was called on as it was', () => {
    const empty = BudgetBook.of({ total: 100 }, 'UTC');
    const held = empty.hold(0, 'a', 70);
    const committed = held.commit(1, 'a', 50);
    const released = held.release('a');
    expect(empty.openHolds).toBe(0);
    expect(empty.ledger.held()).toBe(0);
    expect(held.openHolds).toBe(1);
    expect(held.ledger.held()).toBe(70);
    expect(held.check(1, 31).ok).toBe(false);
    expect(committed.ledger.spent(1).total).toBe(50);
    expect(released.ledger.spent(1).total).toBe(0);
    expect(released.ledger.held()).toBe(0);
    // The hold is still outstanding in `held`: it can be committed from there again.
    expect(held.commit(2, 'a', 10).ledger.spent(2).total).toBe(10);
  });
});
