import { describe, expect, it } from 'vitest';
import {
  resolveWindows,
  ServerHints,
  SlidingWindowLimiter,
  type WindowLimit,
} from '../../src/limits/rate-window.js';

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
      { requests: 60, tokens: 90_000, windowMs: 60_000 },
      { requests: 1000, windowMs: 3_600_000 },
      { tokens: 5, windowMs: 1000 },
    ]);
  });

  it('makes a token-only minute window from TPM alone, and nothing from nothing', () => {
    expect(resolveWindows({ tokensPerMinute: 10 })).toEqual([{ tokens: 10, windowMs: 60_000 }]);
    expect(resolveWindows({})).toEqual([]);
  });
});

describe('SlidingWindowLimiter', () => {
  it('counts an entry while now < at + windowMs', () => {
    const limiter = new SlidingWindowLimiter([{ requests: 1, windowMs: 1000 }]);
    expect(limiter.check(0, 1, 0)).toEqual({ ok: true });
    limiter.take(0, 1, 0);
    expect(limiter.check(999, 1, 0)).toEqual({
      ok: false,
      retryAt: 1000,
      window: { requests: 1, windowMs: 1000 },
    });
    expect(limiter.check(1000, 1, 0)).toEqual({ ok: true });
  });

  it('limits requests and tokens per minute, and requests per hour, at once', () => {
    const limiter = new SlidingWindowLimiter(
      resolveWindows({ requestsPerMinute: 2, tokensPerMinute: 100, requestsPerHour: 3 }),
    );
    limiter.take(0, 1, 60);
    // Tokens: 60 + 50 > 100 until the first entry leaves at 60 s.
    expect(limiter.check(10, 1, 50)).toMatchObject({ ok: false, retryAt: 60_000 });
    limiter.take(10, 1, 10);
    // Requests per minute: 2 taken.
    expect(limiter.check(20, 1, 1)).toMatchObject({ ok: false, retryAt: 60_000 });
    limiter.take(60_000, 1, 1);
    // Requests per hour: 3 taken; the first leaves the hour window at 3 600 000.
    const verdict = limiter.check(70_010, 1, 1);
    expect(verdict).toEqual({
      ok: false,
      retryAt: 3_600_000,
      window: { requests: 3, windowMs: 3_600_000 },
    });
  });

  it('reports the window that lifts last when several refuse', () => {
    const limiter = new SlidingWindowLimiter([
      { requests: 1, windowMs: 1000 },
      { requests: 1, windowMs: 5000 },
    ]);
    limiter.take(0, 1, 0);
    expect(limiter.check(1, 1, 0)).toMatchObject({ ok: false, retryAt: 5000 });
  });

  it('walks from the oldest entry only as far as needed', () => {
    const limiter = new SlidingWindowLimiter([{ tokens: 100, windowMs: 1000 }]);
    limiter.take(0, 1, 30);
    limiter.take(100, 1, 30);
    limiter.take(200, 1, 30);
    // 90 recorded; 50 more needs 40 freed: the first two entries, gone at 1100.
    expect(limiter.check(300, 1, 50)).toMatchObject({ ok: false, retryAt: 1100 });
    expect(limiter.check(1099, 1, 50).ok).toBe(false);
    expect(limiter.check(1100, 1, 50)).toEqual({ ok: true });
  });

  it('answers Infinity for a request above a window limit, and canEverFit names that window', () => {
    const limiter = new SlidingWindowLimiter([
      { requests: 10, windowMs: 60_000 },
      { tokens: 1000, windowMs: 60_000 },
    ]);
    expect(limiter.check(0, 1, 1001)).toEqual({
      ok: false,
      retryAt: Number.POSITIVE_INFINITY,
      window: { tokens: 1000, windowMs: 60_000 },
    });
    expect(limiter.canEverFit(1, 1001)).toEqual({ tokens: 1000, windowMs: 60_000 });
    expect(limiter.canEverFit(11, 1)).toEqual({ requests: 10, windowMs: 60_000 });
    expect(limiter.canEverFit(10, 1000)).toBeUndefined();
  });

  it('reconciles reserved tokens with real usage while the entry is inside the window', () => {
    const limiter = new SlidingWindowLimiter([
      { tokens: 100, windowMs: 1000 },
      { tokens: 1000, windowMs: 10_000 },
    ]);
    const entry = limiter.take(0, 1, 80);
    expect(limiter.check(10, 1, 30).ok).toBe(false);
    limiter.reconcile(entry, 20);
    expect(entry.tokens).toBe(20);
    expect(limiter.check(10, 1, 30)).toEqual({ ok: true });
    expect(limiter.usage(10).map((u) => u.tokens)).toEqual([20, 20]);
    // Out of the short window, still inside the long one.
    expect(limiter.usage(2000).map((u) => u.tokens)).toEqual([0, 20]);
    limiter.reconcile(entry, 500);
    expect(limiter.usage(2000).map((u) => u.tokens)).toEqual([0, 500]);
  });

  it('ignores entries taken from another limiter', () => {
    const a = new SlidingWindowLimiter([{ tokens: 100, windowMs: 1000 }]);
    const b = new SlidingWindowLimiter([{ tokens: 100, windowMs: 1000 }]);
    const entry = a.take(0, 1, 50);
    b.take(0, 1, 50);
    b.reconcile(entry, 0);
    expect(b.usage(0)[0]?.tokens).toBe(50);
    expect(a.usage(0)[0]?.tokens).toBe(50);
  });

  it('keeps what was taken when a limit is lowered: it only blocks new takes', () => {
    const limiter = new SlidingWindowLimiter([{ requests: 5, windowMs: 1000 }]);
    for (let i = 0; i < 4; i++) limiter.take(i, 1, 0);
    limiter.setWindows([{ requests: 2, windowMs: 1000 }]);
    expect(limiter.usage(10)[0]).toMatchObject({ requests: 4 });
    // 4 recorded, limit 2: three entries must leave before one more fits; the third left at 1002.
    expect(limiter.check(10, 1, 0)).toMatchObject({ ok: false, retryAt: 1002 });
    limiter.setWindows([{ requests: 10, windowMs: 1000 }]);
    expect(limiter.check(10, 1, 0)).toEqual({ ok: true });
  });

  it('counts recent takes in a window added later', () => {
    const limiter = new SlidingWindowLimiter([{ requests: 100, windowMs: 60_000 }]);
    limiter.take(0, 1, 10);
    limiter.take(30_000, 1, 10);
    limiter.setWindows([
      { requests: 100, windowMs: 60_000 },
      { requests: 2, windowMs: 10_000 },
    ]);
    expect(limiter.usage(35_000).map((u) => u.requests)).toEqual([2, 1]);
    expect(limiter.windows).toHaveLength(2);
  });

  it('forgets entries once they have left the longest window', () => {
    const limiter = new SlidingWindowLimiter([{ requests: 1_000_000, windowMs: 1000 }]);
    for (let t = 0; t < 5000; t++) limiter.take(t, 1, 1);
    expect(limiter.retained).toBe(1000);
    expect(limiter.usage(10_000)).toEqual([
      { window: { requests: 1_000_000, windowMs: 1000 }, requests: 0, tokens: 0 },
    ]);
    expect(limiter.retained).toBe(0);
  });

  it('treats a time earlier than one already seen as the latest time seen', () => {
    const limiter = new SlidingWindowLimiter([{ requests: 1, windowMs: 1000 }]);
    limiter.take(5000, 1, 0);
    const entry = limiter.take(100, 1, 0);
    expect(entry.at).toBe(5000);
  });

  it('rejects malformed windows and amounts', () => {
    expect(() => new SlidingWindowLimiter([{ requests: 1, windowMs: 0 }])).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter([{ requests: -1, windowMs: 10 }])).toThrow(RangeError);
    const limiter = new SlidingWindowLimiter([]);
    expect(() => limiter.take(0, Number.NaN, 0)).toThrow(RangeError);
    expect(() => limiter.check(0, 1, -5)).toThrow(RangeError);
  });

  it('lets everything through with no windows', () => {
    const limiter = new SlidingWindowLimiter([]);
    limiter.take(0, 1_000_000, 1_000_000);
    expect(limiter.check(0, 1_000_000, 1_000_000)).toEqual({ ok: true });
    expect(limiter.canEverFit(1e9, 1e9)).toBeUndefined();
  });

  it('keeps operations cheap with a long log (no full scans)', () => {
    const windows: WindowLimit[] = [{ requests: 1_000_000, tokens: 1e12, windowMs: 3_600_000 }];
    const limiter = new SlidingWindowLimiter(windows);
    const started = performance.now();
    for (let t = 0; t < 200_000; t++) {
      if (limiter.check(t, 1, 10).ok) limiter.take(t, 1, 10);
    }
    expect(limiter.retained).toBe(200_000);
    // 200k check+take pairs over a 200k-entry window; a full scan per check would take minutes.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('ServerHints', () => {
  it('a stale report cannot raise a live remaining count; a lower one or one after reset replaces it', () => {
    const hints = new ServerHints();
    hints.apply(0, { remainingRequests: 10, resetRequestsMs: 1000 });
    hints.take(5, 0); // five requests sent since the server wrote its header
    // A header written before those five arrived still says 8: the count stays at 5.
    hints.apply(10, { remainingRequests: 8, resetRequestsMs: 990 });
    expect(hints.check(20, 6, 0)).toEqual({ ok: false, retryAt: 1000, reason: 'serverRequests' });
    expect(hints.check(20, 5, 0)).toEqual({ ok: true });
    hints.apply(30, { remainingRequests: 2, resetRequestsMs: 970 });
    expect(hints.check(40, 3, 0)).toMatchObject({ ok: false, reason: 'serverRequests' });
    // Past the reset time the remembered count is gone, and a new report counts whatever it says.
    hints.apply(1000, { remainingRequests: 9, resetRequestsMs: 1000 });
    expect(hints.check(1001, 9, 0)).toEqual({ ok: true });
  });

  it('blocks everything until now + retryAfterMs', () => {
    const hints = new ServerHints();
    hints.apply(1000, { retryAfterMs: 2000 });
    expect(hints.check(1500, 0, 0)).toEqual({ ok: false, retryAt: 3000, reason: 'retryAfter' });
    expect(hints.check(3000, 1, 1)).toEqual({ ok: true });
  });

  it('keeps the later of two retry-after deadlines', () => {
    const hints = new ServerHints();
    hints.apply(0, { retryAfterMs: 5000 });
    hints.apply(100, { retryAfterMs: 1000 });
    expect(hints.check(2000, 1, 1)).toMatchObject({ ok: false, retryAt: 5000 });
  });

  it('holds back a request larger than the remaining count until its reset', () => {
    const hints = new ServerHints();
    hints.apply(0, {
      limitRequests: 100,
      remainingRequests: 1,
      resetRequestsMs: 600,
      limitTokens: 10_000,
      remainingTokens: 500,
      resetTokensMs: 6000,
    });
    expect(hints.check(10, 1, 400)).toEqual({ ok: true });
    hints.take(1, 400);
    expect(hints.check(20, 1, 50)).toEqual({ ok: false, retryAt: 600, reason: 'serverRequests' });
    expect(hints.check(600, 1, 50)).toEqual({ ok: true });
    expect(hints.check(600, 1, 101)).toEqual({ ok: false, retryAt: 6000, reason: 'serverTokens' });
    expect(hints.check(6000, 1, 10_000)).toEqual({ ok: true });
  });

  it('forgets a count once its reset time has passed, so later takes do not block', () => {
    const hints = new ServerHints();
    hints.apply(0, { remainingRequests: 0, resetRequestsMs: 100 });
    expect(hints.check(50, 1, 0).ok).toBe(false);
    expect(hints.check(100, 1, 0).ok).toBe(true);
    hints.take(5, 0);
    expect(hints.check(101, 1, 0).ok).toBe(true);
  });

  it('reports the hint that lifts last', () => {
    const hints = new ServerHints();
    hints.apply(0, { retryAfterMs: 100, remainingTokens: 0, resetTokensMs: 900 });
    expect(hints.check(0, 1, 1)).toEqual({ ok: false, retryAt: 900, reason: 'serverTokens' });
  });

  it('ignores a remaining count without a reset time, and malformed values', () => {
    const hints = new ServerHints();
    hints.apply(0, { remainingRequests: 0, retryAfterMs: Number.NaN });
    hints.apply(0, { remainingTokens: 0, resetTokensMs: -5 });
    expect(hints.check(0, 1, 1)).toEqual({ ok: true });
  });
});
