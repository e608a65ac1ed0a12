import { describe, expect, it } from 'vitest';
import { SlidingWindows } from '../../src/limits/rate-window.js';
import { ServerHints } from '../../src/limits/server-hints.js';
import { resolveWindows, type WindowLimit } from '../../src/limits/window-limits.js';

describe('resolveWindows', () => {
  it('merges RPM and TPM into one 60 s window, adds RPH and explicit windows', () => {
    expect(
      resolveWindows({
        requestsPerMinute: 60,
        tokensPerMinute: 90_000,
        requestsPerHour: 1000,
        windows: [{ tokens: 5, windowMs: 1000 }],
      }),
    ).toEqual([
      // Windows of a minute or more are paced by default ('auto'); shorter ones are not.
      { requests: 60, tokens: 90_000, windowMs: 60_000, paced: true },
      { requests: 1000, windowMs: 3_600_000, paced: true },
      { tokens: 5, windowMs: 1000 },
    ]);
  });

  it('makes a token-only minute window from TPM alone, and nothing from nothing', () => {
    expect(resolveWindows({ tokensPerMinute: 10 }, { pacing: false })).toEqual([
      { tokens: 10, windowMs: 60_000 },
    ]);
    expect(resolveWindows({})).toEqual([]);
  });
});

describe('SlidingWindows', () => {
  it('counts an entry while now < at + windowMs', () => {
    let windows = SlidingWindows.of([{ requests: 1, windowMs: 1000 }]);
    expect(windows.check(0, 1, 0)).toEqual({ ok: true });
    windows = windows.take(0, 1, 0);
    expect(windows.check(999, 1, 0)).toEqual({
      ok: false,
      retryAt: 1000,
      window: { requests: 1, windowMs: 1000 },
    });
    expect(windows.check(1000, 1, 0)).toEqual({ ok: true });
  });

  it('limits requests and tokens per minute, and requests per hour, at once', () => {
    let windows = SlidingWindows.of(
      resolveWindows(
        { requestsPerMinute: 2, tokensPerMinute: 100, requestsPerHour: 3 },
        { pacing: false },
      ),
    );
    windows = windows.take(0, 1, 60);
    // Tokens: 60 + 50 > 100 until the first entry leaves at 60 s.
    expect(windows.check(10, 1, 50)).toMatchObject({ ok: false, retryAt: 60_000 });
    windows = windows.take(10, 1, 10);
    // Requests per minute: 2 taken.
    expect(windows.check(20, 1, 1)).toMatchObject({ ok: false, retryAt: 60_000 });
    windows = windows.take(60_000, 1, 1);
    // Requests per hour: 3 taken; the first leaves the hour window at 3 600 000.
    const verdict = windows.check(70_010, 1, 1);
    expect(verdict).toEqual({
      ok: false,
      retryAt: 3_600_000,
      window: { requests: 3, windowMs: 3_600_000 },
    });
  });

  it('reports the window that lifts last when several refuse', () => {
    const windows = SlidingWindows.of([
      { requests: 1, windowMs: 1000 },
      { requests: 1, windowMs: 5000 },
    ]).take(0, 1, 0);
    expect(windows.check(1, 1, 0)).toMatchObject({ ok: false, retryAt: 5000 });
  });

  it('walks from the oldest entry only as far as needed', () => {
    const windows = SlidingWindows.of([{ tokens: 100, windowMs: 1000 }])
      .take(0, 1, 30)
      .take(100, 1, 30)
      .take(200, 1, 30);
    // 90 recorded; 50 more needs 40 freed: the first two entries, gone at 1100.
    expect(windows.check(300, 1, 50)).toMatchObject({ ok: false, retryAt: 1100 });
    expect(windows.check(1099, 1, 50).ok).toBe(false);
    expect(windows.check(1100, 1, 50)).toEqual({ ok: true });
  });

  it('answers Infinity for a request above a window limit, and canEverFit names that window', () => {
    const windows = SlidingWindows.of([
      { requests: 10, windowMs: 60_000 },
      { tokens: 1000, windowMs: 60_000 },
    ]);
    expect(windows.check(0, 1, 1001)).toEqual({
      ok: false,
      retryAt: Number.POSITIVE_INFINITY,
      window: { tokens: 1000, windowMs: 60_000 },
    });
    expect(windows.canEverFit(1, 1001)).toEqual({ tokens: 1000, windowMs: 60_000 });
    expect(windows.canEverFit(11, 1)).toEqual({ requests: 10, windowMs: 60_000 });
    expect(windows.canEverFit(10, 1000)).toBeUndefined();
  });

  it('numbers takes in order: a take gets the nextSeq read before it', () => {
    let windows = SlidingWindows.of([{ requests: 10, windowMs: 1000 }]);
    expect(windows.nextSeq).toBe(0);
    windows = windows.take(0, 1, 0);
    expect(windows.nextSeq).toBe(1);
    windows = windows.take(5, 1, 0).take(6, 1, 0);
    expect(windows.nextSeq).toBe(3);
    // Dropping old entries does not renumber: the next take still gets the next number.
    windows = windows.at(100_000);
    expect(windows.retained).toBe(0);
    expect(windows.nextSeq).toBe(3);
  });

  it('reconciles reserved tokens with real usage while the entry is inside the window', () => {
    let windows = SlidingWindows.of([
      { tokens: 100, windowMs: 1000 },
      { tokens: 1000, windowMs: 10_000 },
    ]);
    const seq = windows.nextSeq;
    windows = windows.take(0, 1, 80);
    expect(windows.check(10, 1, 30).ok).toBe(false);
    windows = windows.reconcile(seq, 20);
    expect(windows.check(10, 1, 30)).toEqual({ ok: true });
    expect(windows.usage(10).map((u) => u.tokens)).toEqual([20, 20]);
    // Out of the short window, still inside the long one.
    expect(windows.usage(2000).map((u) => u.tokens)).toEqual([0, 20]);
    windows = windows.at(2000).reconcile(seq, 500);
    expect(windows.usage(2000).map((u) => u.tokens)).toEqual([0, 500]);
    // Reconciling the same real usage again changes nothing.
    expect(windows.reconcile(seq, 500)).toBe(windows);
  });

  // Was: "ignores entries taken from another limiter". Takes are now numbers, so the foreign
  // entry becomes a number this value does not hold (never taken, or already dropped).
  it('ignores a take number it does not hold: not yet taken, or already dropped', () => {
    const one = SlidingWindows.of([{ tokens: 100, windowMs: 1000 }]).take(0, 1, 50);
    expect(one.reconcile(one.nextSeq, 0)).toBe(one);
    expect(one.reconcile(one.nextSeq + 7, 0)).toBe(one);
    expect(one.reconcile(-1, 0)).toBe(one);
    expect(one.usage(0)[0]?.tokens).toBe(50);
    // Take 0 leaves the (only, longest) window at 1000 and is dropped: reconciling it is a no-op.
    const later = one.at(1000).take(1000, 1, 50);
    expect(later.retained).toBe(1);
    expect(later.reconcile(0, 100)).toBe(later);
    expect(later.usage(1000)[0]?.tokens).toBe(50);
  });

  it('keeps what was taken when a limit is lowered: it only blocks new takes', () => {
    let windows = SlidingWindows.of([{ requests: 5, windowMs: 1000 }]);
    for (let i = 0; i < 4; i++) windows = windows.take(i, 1, 0);
    windows = windows.withWindows([{ requests: 2, windowMs: 1000 }]);
    expect(windows.usage(10)[0]).toMatchObject({ requests: 4 });
    // 4 recorded, limit 2: three entries must leave before one more fits; the third left at 1002.
    expect(windows.check(10, 1, 0)).toMatchObject({ ok: false, retryAt: 1002 });
    windows = windows.withWindows([{ requests: 10, windowMs: 1000 }]);
    expect(windows.check(10, 1, 0)).toEqual({ ok: true });
  });

  it('counts recent takes in a window added later', () => {
    let windows = SlidingWindows.of([{ requests: 100, windowMs: 60_000 }])
      .take(0, 1, 10)
      .take(30_000, 1, 10);
    windows = windows.withWindows([
      { requests: 100, windowMs: 60_000 },
      { requests: 2, windowMs: 10_000 },
    ]);
    expect(windows.usage(35_000).map((u) => u.requests)).toEqual([2, 1]);
    expect(windows.windows).toHaveLength(2);
  });

  it('forgets entries once they have left the longest window', () => {
    let windows = SlidingWindows.of([{ requests: 1_000_000, windowMs: 1000 }]);
    for (let t = 0; t < 5000; t++) windows = windows.take(t, 1, 1);
    expect(windows.retained).toBe(1000);
    expect(windows.usage(10_000)).toEqual([
      { window: { requests: 1_000_000, windowMs: 1000 }, requests: 0, tokens: 0 },
    ]);
    // Reading usage changes nothing; the value seen at 10 000 has dropped everything.
    expect(windows.retained).toBe(1000);
    expect(windows.at(10_000).retained).toBe(0);
  });

  it('treats a time earlier than one already seen as the latest time seen', () => {
    const windows = SlidingWindows.of([{ requests: 1, windowMs: 1000 }])
      .take(5000, 1, 0)
      .take(100, 1, 0);
    // The second take was recorded at 5000: one more request waits for both to leave, at 6000
    // (at 1100 had it been recorded at 100).
    expect(windows.check(5500, 1, 0)).toMatchObject({ ok: false, retryAt: 6000 });
    // Both count until 6000, and neither after.
    expect(windows.usage(5999)[0]).toMatchObject({ requests: 2 });
    expect(windows.usage(6000)[0]).toMatchObject({ requests: 0 });
    // And an earlier `now` reads as 5000.
    expect(windows.usage(0)[0]).toMatchObject({ requests: 2 });
  });

  it('rejects malformed windows and amounts', () => {
    expect(() => SlidingWindows.of([{ requests: 1, windowMs: 0 }])).toThrow(RangeError);
    expect(() => SlidingWindows.of([{ requests: -1, windowMs: 10 }])).toThrow(RangeError);
    const windows = SlidingWindows.of([]);
    expect(() => windows.withWindows([{ tokens: 1, windowMs: Number.NaN }])).toThrow(RangeError);
    expect(() => windows.take(0, Number.NaN, 0)).toThrow(RangeError);
    expect(() => windows.check(0, 1, -5)).toThrow(RangeError);
    expect(() => windows.reconcile(0, -1)).toThrow(RangeError);
  });

  it('lets everything through with no windows', () => {
    const windows = SlidingWindows.of([]).take(0, 1_000_000, 1_000_000);
    expect(windows.check(0, 1_000_000, 1_000_000)).toEqual({ ok: true });
    expect(windows.canEverFit(1e9, 1e9)).toBeUndefined();
  });

  it('leaves the value it was called on as it was', () => {
    const empty = SlidingWindows.of([{ requests: 2, tokens: 100, windowMs: 1000 }]);
    const one = empty.take(0, 1, 60);
    const two = one.take(10, 1, 30);
    const reconciled = two.reconcile(0, 10);
    const lowered = reconciled.withWindows([{ requests: 1, windowMs: 1000 }]);
    const later = lowered.at(5000);
    expect(empty.usage(10)[0]).toMatchObject({ requests: 0, tokens: 0 });
    expect(empty.nextSeq).toBe(0);
    expect(one.usage(10)[0]).toMatchObject({ requests: 1, tokens: 60 });
    expect(one.check(10, 1, 50)).toMatchObject({ ok: false, retryAt: 1000 });
    expect(two.usage(10)[0]).toMatchObject({ requests: 2, tokens: 90 });
    expect(reconciled.usage(10)[0]).toMatchObject({ requests: 2, tokens: 40 });
    expect(reconciled.windows).toEqual([{ requests: 2, tokens: 100, windowMs: 1000 }]);
    expect(lowered.windows).toEqual([{ requests: 1, windowMs: 1000 }]);
    expect(lowered.retained).toBe(2);
    expect(later.retained).toBe(0);
    // A later time seen by one version is not seen by the others.
    expect(two.usage(10)[0]).toMatchObject({ requests: 2, tokens: 90 });
    expect(two.retained).toBe(2);
    expect(Object.isFrozen(two.windows)).toBe(true);
  });

  it('keeps operations cheap with a long log (no full scans)', () => {
    const limits: WindowLimit[] = [{ requests: 1_000_000, tokens: 1e12, windowMs: 3_600_000 }];
    let windows = SlidingWindows.of(limits);
    const started = performance.now();
    for (let t = 0; t < 200_000; t++) {
      if (windows.check(t, 1, 10).ok) windows = windows.take(t, 1, 10);
    }
    expect(windows.retained).toBe(200_000);
    // 200k check+take pairs over a 200k-entry window; a full scan per check would take minutes.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('ServerHints', () => {
  it('a stale report cannot raise a live remaining count; a lower one or one after reset replaces it', () => {
    let hints = ServerHints.NONE.apply(0, { remainingRequests: 10, resetRequestsMs: 1000 });
    hints = hints.take(5, 0); // five requests sent since the server wrote its header
    // A header written before those five arrived still says 8: the count stays at 5.
    hints = hints.apply(10, { remainingRequests: 8, resetRequestsMs: 990 });
    expect(hints.check(20, 6, 0)).toEqual({ ok: false, retryAt: 1000, reason: 'serverRequests' });
    expect(hints.check(20, 5, 0)).toEqual({ ok: true });
    hints = hints.apply(30, { remainingRequests: 2, resetRequestsMs: 970 });
    expect(hints.check(40, 3, 0)).toMatchObject({ ok: false, reason: 'serverRequests' });
    // Past the reset time the remembered count is gone, and a new report counts whatever it says.
    hints = hints.apply(1000, { remainingRequests: 9, resetRequestsMs: 1000 });
    expect(hints.check(1001, 9, 0)).toEqual({ ok: true });
  });

  it('the same count reported with a later reset holds until that reset', () => {
    // The first answer is written while the rest of a burst is still arriving: the window is
    // full until 1,010. A later answer says it is full until 1,045 (a late arrival).
    let hints = ServerHints.NONE.apply(10, { remainingRequests: 0, resetRequestsMs: 1_000 });
    hints = hints.apply(47, { remainingRequests: 0, resetRequestsMs: 998 });
    expect(hints.check(1_020, 1, 0)).toEqual({
      ok: false,
      retryAt: 1_045,
      reason: 'serverRequests',
    });
    expect(hints.check(1_045, 1, 0)).toEqual({ ok: true });
    // A higher count stays stale, whatever its reset.
    hints = hints.apply(50, { remainingRequests: 3, resetRequestsMs: 2_000 });
    expect(hints.check(1_044, 1, 0)).toMatchObject({ ok: false, retryAt: 1_045 });
  });

  it('blocks everything until now + retryAfterMs', () => {
    const hints = ServerHints.NONE.apply(1000, { retryAfterMs: 2000 });
    expect(hints.check(1500, 0, 0)).toEqual({ ok: false, retryAt: 3000, reason: 'retryAfter' });
    expect(hints.check(3000, 1, 1)).toEqual({ ok: true });
  });

  it('keeps the later of two retry-after deadlines', () => {
    const hints = ServerHints.NONE.apply(0, { retryAfterMs: 5000 }).apply(100, {
      retryAfterMs: 1000,
    });
    expect(hints.check(2000, 1, 1)).toMatchObject({ ok: false, retryAt: 5000 });
  });

  it('holds back a request larger than the remaining count until its reset', () => {
    let hints = ServerHints.NONE.apply(0, {
      limitRequests: 100,
      remainingRequests: 1,
      resetRequestsMs: 600,
      limitTokens: 10_000,
      remainingTokens: 500,
      resetTokensMs: 6000,
    });
    expect(hints.check(10, 1, 400)).toEqual({ ok: true });
    hints = hints.take(1, 400);
    expect(hints.check(20, 1, 50)).toEqual({ ok: false, retryAt: 600, reason: 'serverRequests' });
    expect(hints.check(600, 1, 50)).toEqual({ ok: true });
    expect(hints.check(600, 1, 101)).toEqual({ ok: false, retryAt: 6000, reason: 'serverTokens' });
    expect(hints.check(6000, 1, 10_000)).toEqual({ ok: true });
  });

  it('forgets a count once its reset time has passed, so later takes do not block', () => {
    let hints = ServerHints.NONE.apply(0, { remainingRequests: 0, resetRequestsMs: 100 });
    expect(hints.check(50, 1, 0).ok).toBe(false);
    expect(hints.check(100, 1, 0).ok).toBe(true);
    hints = hints.take(5, 0);
    expect(hints.check(101, 1, 0).ok).toBe(true);
  });

  it('reports the hint that lifts last', () => {
    const hints = ServerHints.NONE.apply(0, {
      retryAfterMs: 100,
      remainingTokens: 0,
      resetTokensMs: 900,
    });
    expect(hints.check(0, 1, 1)).toEqual({ ok: false, retryAt: 900, reason: 'serverTokens' });
  });

  it('ignores a remaining count without a reset time, and malformed values', () => {
    const hints = ServerHints.NONE.apply(0, {
      remainingRequests: 0,
      retryAfterMs: Number.NaN,
    }).apply(0, { remainingTokens: 0, resetTokensMs: -5 });
    expect(hints.check(0, 1, 1)).toEqual({ ok: true });
  });

  it('leaves the hints it was called on as they were', () => {
    const reported = ServerHints.NONE.apply(0, {
      remainingRequests: 2,
      resetRequestsMs: 1000,
      remainingTokens: 100,
      resetTokensMs: 1000,
    });
    const taken = reported.take(2, 100);
    const blocked = taken.apply(10, { retryAfterMs: 500 });
    expect(ServerHints.NONE.check(10, 1e9, 1e9)).toEqual({ ok: true });
    expect(reported.check(20, 2, 100)).toEqual({ ok: true });
    expect(taken.check(20, 1, 0)).toMatchObject({ ok: false, reason: 'serverRequests' });
    expect(taken.check(20, 0, 0)).toEqual({ ok: true });
    expect(blocked.check(20, 0, 0)).toMatchObject({ ok: false, reason: 'retryAfter' });
    // No remembered count: a take is the same hints.
    expect(ServerHints.NONE.take(5, 5)).toBe(ServerHints.NONE);
  });
});

describe('SlidingWindows.restamp (a request counts from when it is sent)', () => {
  it('moves a take later, never earlier, and the window frees from the later time', () => {
    let windows = SlidingWindows.of([{ requests: 1, windowMs: 1000 }]).take(0, 1, 0);
    expect(windows.restamp(0, -5)).toBe(windows);
    windows = windows.restamp(0, 120.5);
    expect(windows.check(1000, 1, 0)).toEqual({
      ok: false,
      retryAt: 1120.5,
      window: { requests: 1, windowMs: 1000 },
    });
    expect(windows.check(1120.5, 1, 0)).toEqual({ ok: true });
  });

  it('waits for the latest of the takes it needs to leave, when a restamped one is out of order', () => {
    // Take 0 is sent late (at 500), take 1 at once (at 10): two requests per 1000 ms.
    let windows = SlidingWindows.of([{ requests: 2, windowMs: 1000 }]);
    windows = windows.take(0, 1, 0).take(10, 1, 0).restamp(0, 500);
    // A third needs one of them to leave: take 0, counted from 500, leaves at 1500.
    expect(windows.check(20, 1, 0)).toMatchObject({ ok: false, retryAt: 1500 });
    // At 1010 take 1 has left by its own time but is still counted (entries leave in order).
    expect(windows.check(1010, 1, 0)).toMatchObject({ ok: false, retryAt: 1500 });
    expect(windows.check(1500, 1, 0)).toEqual({ ok: true });
  });

  it('a window set later counts a restamped take from its send time', () => {
    let windows = SlidingWindows.of([{ requests: 5, windowMs: 1000 }]);
    windows = windows.take(0, 1, 0).take(10, 1, 0).restamp(0, 900).at(1500);
    // Take 1 (at 10) has left a 1000 ms window by 1500; take 0 (sent at 900) has not.
    const tighter = windows.withWindows([{ requests: 1, windowMs: 1000 }]);
    expect(tighter.check(1500, 1, 0)).toMatchObject({ ok: false, retryAt: 1900 });
  });
});
