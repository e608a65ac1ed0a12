import { describe, expect, it } from 'vitest';
import {
  burstAllowance,
  PACING_BURST_FRACTION,
  pacedWindowMinimumMs,
} from '../../src/limits/index.js';
import { SlidingWindows } from '../../src/limits/rate-window.js';
import { resolveWindows, type WindowLimit } from '../../src/limits/window-limits.js';

/**
 * Takes `n` of (`requests`, `tokens`) one after another, each at the earliest time `check`
 * allows (from `start`); the value after them and the time of each take.
 */
function greedy(
  initial: SlidingWindows,
  n: number,
  requests: number,
  tokens: number,
  start = 0,
): { windows: SlidingWindows; times: number[] } {
  let windows = initial;
  let now = start;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const verdict = windows.check(now, requests, tokens);
    if (!verdict.ok) {
      expect(verdict.retryAt).toBeGreaterThan(now);
      now = verdict.retryAt;
      expect(windows.check(now, requests, tokens)).toEqual({ ok: true });
    }
    windows = windows.take(now, requests, tokens);
    times.push(now);
  }
  return { windows, times };
}

const RPM_120: WindowLimit = { requests: 120, windowMs: 60_000, paced: true };

describe('burstAllowance', () => {
  it('is 5 % of the limit, rounded down, at least 1', () => {
    expect(PACING_BURST_FRACTION).toBe(0.05);
    expect(burstAllowance(120)).toBe(6);
    expect(burstAllowance(1000)).toBe(50);
    expect(burstAllowance(39)).toBe(1);
    expect(burstAllowance(10)).toBe(1);
    expect(burstAllowance(0)).toBe(1);
  });
});

describe('paced windows', () => {
  it('--rpm 120: 6 at once, then one every 500 ms', () => {
    const { windows, times } = greedy(SlidingWindows.of([RPM_120]), 20, 1, 0);
    expect(times).toEqual([
      0, 0, 0, 0, 0, 0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 6500,
      7000,
    ]);
    expect(windows.check(7000, 1, 0)).toEqual({ ok: false, retryAt: 7500, window: RPM_120 });
    expect(windows.check(7499.999, 1, 0).ok).toBe(false);
    expect(windows.check(7500, 1, 0)).toEqual({ ok: true });
  });

  it('--rpm 120 over two minutes: the sliding window still caps every minute at 120', () => {
    const { times } = greedy(SlidingWindows.of([RPM_120]), 240, 1, 0);
    // 6 at 0, one every 500 ms up to 57 000 (120 in the first minute), then the 6 of t = 0
    // leave at 60 000 and the pattern repeats.
    expect(times[119]).toBe(57_000);
    expect(times.slice(120, 127)).toEqual([60_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_500]);
    for (let i = 0; i < times.length; i++) {
      const inMinute = times.filter(
        (t) => t <= (times[i] as number) && t > (times[i] as number) - 60_000,
      );
      expect(inMinute.length).toBeLessThanOrEqual(120);
    }
    // Between the least any admission could do and issue 15's target, (n − 1) / R × W.
    expect(times[239]).toBeGreaterThanOrEqual(pacedWindowMinimumMs(240, RPM_120));
    expect(times[239]).toBeLessThanOrEqual((239 / 120) * 60_000);
  });

  it('paces tokens the same way: a burst of 5 % of the limit, then the limit spread evenly', () => {
    // 1200 tokens a minute: 50 ms a token, a burst of 60 tokens.
    const window: WindowLimit = { tokens: 1200, windowMs: 60_000, paced: true };
    const { times } = greedy(SlidingWindows.of([window]), 10, 1, 10);
    // Each take of 10 may go while the backlog is at most (60 − 10) × 50 = 2500 ms.
    expect(times).toEqual([0, 0, 0, 0, 0, 0, 500, 1000, 1500, 2000]);
  });

  it('lets a take larger than the burst go once the backlog is empty, and holds the rest back', () => {
    const window: WindowLimit = { tokens: 1200, windowMs: 60_000, paced: true };
    let windows = SlidingWindows.of([window]);
    expect(windows.check(0, 1, 100)).toEqual({ ok: true });
    windows = windows.take(0, 1, 100);
    // tat = 100 × 50 = 5000: another 100 waits for an empty backlog, 10 tokens for 2500 ms.
    expect(windows.check(10, 1, 100)).toEqual({ ok: false, retryAt: 5000, window });
    expect(windows.check(10, 1, 10)).toEqual({ ok: false, retryAt: 2500, window });
    expect(windows.check(10, 1, 0)).toEqual({ ok: true });
    const { times } = greedy(windows, 3, 1, 100, 10);
    expect(times).toEqual([5000, 10_000, 15_000]);
    // More than the limit never fits.
    expect(windows.check(0, 1, 1201)).toMatchObject({ ok: false, retryAt: Infinity });
  });

  it('limits requests and tokens of one window together: the later bucket decides', () => {
    const window: WindowLimit = { requests: 60, tokens: 6000, windowMs: 60_000, paced: true };
    // Requests: 1000 ms each, burst 3; tokens: 10 ms each, burst 300.
    const { times } = greedy(SlidingWindows.of([window]), 6, 1, 200);
    // Tokens allow 200 while the backlog ≤ (300 − 200) × 10 = 1000 ms: 0, 1000, then every
    // 2000 ms; requests alone would let 3 go at once.
    expect(times).toEqual([0, 1000, 3000, 5000, 7000, 9000]);
    const few = greedy(SlidingWindows.of([window]), 6, 1, 1).times;
    expect(few).toEqual([0, 0, 0, 1000, 2000, 3000]);
  });

  it('reconcile gives back unused tokens, and charges extra ones', () => {
    const window: WindowLimit = { tokens: 1200, windowMs: 60_000, paced: true };
    const taken = SlidingWindows.of([window]).take(0, 1, 100);
    expect(taken.check(0, 1, 60)).toMatchObject({ ok: false, retryAt: 5000 });
    // 20 used: tat 5000 → 1000.
    const less = taken.reconcile(0, 20);
    expect(less.check(0, 1, 60)).toEqual({ ok: false, retryAt: 1000, window });
    expect(less.check(0, 1, 40)).toEqual({ ok: true });
    // 150 used: tat 5000 → 7500.
    const more = taken.reconcile(0, 150);
    expect(more.check(0, 1, 60)).toEqual({ ok: false, retryAt: 7500, window });
    // The original value is unchanged.
    expect(taken.check(0, 1, 60)).toMatchObject({ ok: false, retryAt: 5000 });
  });

  it("a give-back for an older take never cancels the newest take's own charge", () => {
    const window: WindowLimit = { tokens: 1200, windowMs: 60_000, paced: true };
    // A: 100 at 0 (tat 5000); B: 10 at 2500 (tat 5500).
    const windows = SlidingWindows.of([window]).take(0, 1, 100).take(2500, 1, 10);
    // A used nothing: 5500 − 5000 = 500, but B alone charged until 2500 + 10 × 50 = 3000.
    const given = windows.reconcile(0, 0);
    expect(given.check(2500, 1, 60)).toEqual({ ok: false, retryAt: 3000, window });
    // Reconciling the newest take gives back all of it.
    const newest = windows.reconcile(1, 0);
    expect(newest.check(2500, 1, 60)).toEqual({ ok: false, retryAt: 5000, window });
    // A take without tokens since then charged nothing: B still decides.
    const request = windows.take(2600, 1, 0).reconcile(0, 0);
    expect(request.check(2600, 1, 60)).toEqual({ ok: false, retryAt: 3000, window });
  });

  it('withWindows keeps the pacing of an unchanged window and replays the takes for a new one', () => {
    const { windows } = greedy(SlidingWindows.of([RPM_120]), 6, 1, 0);
    expect(windows.check(0, 1, 0)).toMatchObject({ ok: false, retryAt: 500 });
    // The same window (a new object): the same pacing.
    const same = windows.withWindows([{ ...RPM_120 }]);
    expect(same.check(0, 1, 0)).toMatchObject({ ok: false, retryAt: 500 });
    // Another limit: a fresh bucket fed with the 6 takes inside the window: 1000 ms each, a
    // burst of 3, so tat = 6000 and the next may go at 6000 − 2 × 1000.
    const slower: WindowLimit = { requests: 60, windowMs: 60_000, paced: true };
    expect(windows.withWindows([slower]).check(0, 1, 0)).toEqual({
      ok: false,
      retryAt: 4000,
      window: slower,
    });
    // Unpaced: only the sliding window holds.
    const unpaced = windows.withWindows([{ requests: 120, windowMs: 60_000 }]);
    expect(unpaced.check(0, 1, 0)).toEqual({ ok: true });
    // Paced again: pacing that was dropped starts afresh from the log.
    expect(unpaced.withWindows([RPM_120]).check(0, 1, 0)).toMatchObject({ retryAt: 500 });
    // A window added beside keeps the first one's pacing.
    const both = windows.withWindows([RPM_120, { requests: 1000, windowMs: 3_600_000 }]);
    expect(both.check(0, 1, 0)).toMatchObject({ retryAt: 500 });
  });

  it('a reconcile of a take older than a replayed bucket changes only the sliding sums', () => {
    // 1 ms a token, a burst of 50; the 5 s window keeps the log for 5 s.
    const window: WindowLimit = { tokens: 1000, windowMs: 1000, paced: true };
    const windows = SlidingWindows.of([{ requests: 100, windowMs: 5000 }])
      .take(0, 1, 500)
      .take(1500, 1, 20)
      .withWindows([window]);
    // The replay counts only the take at 1500 (the one at 0 has left the window): tat = 1520.
    expect(windows.check(1500, 1, 60)).toEqual({ ok: false, retryAt: 1520, window });
    expect(windows.reconcile(1, 0).check(1500, 1, 60)).toEqual({ ok: true });
    expect(windows.reconcile(0, 0).check(1500, 1, 60)).toMatchObject({ retryAt: 1520 });
    expect(windows.reconcile(0, 5000).check(1500, 1, 60)).toMatchObject({ retryAt: 1520 });
  });

  it('works on fractional times', () => {
    // 7 a minute: 8571.428… ms each, burst 1.
    const window: WindowLimit = { requests: 7, windowMs: 60_000, paced: true };
    const { times } = greedy(SlidingWindows.of([window]), 8, 1, 0, 0.25);
    expect(times[0]).toBe(0.25);
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 1] as number)).toBeCloseTo(60_000 / 7, 6);
    }
  });

  it('keeps the memo semantics of at: reads answer the same before and after it', () => {
    const windows = greedy(SlidingWindows.of([RPM_120]), 6, 1, 0).windows;
    const before = windows.check(100, 1, 0);
    const later = windows.at(400);
    expect(later.check(400, 1, 0)).toEqual(before);
    expect(windows.check(100, 1, 0)).toEqual(before);
    expect(windows.at(400).check(400, 1, 0)).toEqual(before);
  });

  it('unpaced windows behave as before: the whole limit at once, then a stall', () => {
    const window: WindowLimit = { requests: 120, windowMs: 60_000 };
    const { times } = greedy(SlidingWindows.of([window]), 121, 1, 0);
    expect(times.slice(0, 120).every((t) => t === 0)).toBe(true);
    expect(times[120]).toBe(60_000);
    const explicit = greedy(SlidingWindows.of([{ ...window, paced: false }]), 121, 1, 0).times;
    expect(explicit).toEqual(times);
  });
});

describe('resolveWindows pacing', () => {
  const shorthands = {
    requestsPerMinute: 120,
    requestsPerHour: 1000,
    windows: [
      { requests: 5, windowMs: 1000 },
      { requests: 50, windowMs: 600_000, paced: false },
      { tokens: 10, windowMs: 500, paced: true },
    ],
  };

  it("'auto' (the default) paces windows of a minute or more", () => {
    const expected = [
      { requests: 120, windowMs: 60_000, paced: true },
      { requests: 1000, windowMs: 3_600_000, paced: true },
      { requests: 5, windowMs: 1000 },
      { requests: 50, windowMs: 600_000, paced: false },
      { tokens: 10, windowMs: 500, paced: true },
    ];
    expect(resolveWindows(shorthands)).toStrictEqual(expected);
    expect(resolveWindows(shorthands, { pacing: 'auto' })).toStrictEqual(expected);
  });

  it('true paces all, false none; an explicit paced is kept', () => {
    expect(resolveWindows(shorthands, { pacing: true }).map((w) => w.paced)).toEqual([
      true,
      true,
      true,
      false,
      true,
    ]);
    expect(resolveWindows(shorthands, { pacing: false }).map((w) => w.paced)).toEqual([
      undefined,
      undefined,
      undefined,
      false,
      true,
    ]);
  });

  it('does not change the windows it is given', () => {
    const given: WindowLimit = { requests: 5, windowMs: 60_000 };
    resolveWindows({ windows: [given] });
    expect(given).toStrictEqual({ requests: 5, windowMs: 60_000 });
  });
});

describe('pacedWindowMinimumMs', () => {
  it('unpaced: ⌊(n − 1) / R⌋ × W; paced: (n − burst) / R × W, never under the unpaced figure', () => {
    const unpaced: WindowLimit = { requests: 120, windowMs: 60_000 };
    expect(pacedWindowMinimumMs(0, RPM_120)).toBe(0);
    expect(pacedWindowMinimumMs(1, RPM_120)).toBe(0);
    expect(pacedWindowMinimumMs(10, unpaced)).toBe(0);
    // A burst of 6 at once, then 4 more at 500 ms each.
    expect(pacedWindowMinimumMs(10, RPM_120)).toBe(2000);
    expect(pacedWindowMinimumMs(6, RPM_120)).toBe(0);
    expect(pacedWindowMinimumMs(121, unpaced)).toBe(60_000);
    expect(pacedWindowMinimumMs(121, RPM_120)).toBe(60_000);
    expect(pacedWindowMinimumMs(241, unpaced)).toBe(120_000);
  });

  it('counts tokens per task, takes the larger dimension, and never fits what exceeds a limit', () => {
    const window: WindowLimit = { requests: 60, tokens: 1000, windowMs: 60_000, paced: true };
    // Tokens: 300 per task → (n − 1) × 300 / 1000 × 60 000 = 18 000 per task.
    expect(pacedWindowMinimumMs(3, window, { requests: 1, tokens: 300 })).toBe(36_000);
    // Unpaced: 3 tasks a window → ⌊(n − 1) / 3⌋ windows.
    const unpaced: WindowLimit = { requests: 60, tokens: 1000, windowMs: 60_000 };
    expect(pacedWindowMinimumMs(4, unpaced, { requests: 1, tokens: 300 })).toBe(60_000);
    expect(pacedWindowMinimumMs(3, unpaced, { requests: 1, tokens: 300 })).toBe(0);
    // Paced, but the sliding window is slower: 3 tasks of 400 a window... 2 a window.
    expect(pacedWindowMinimumMs(3, window, { requests: 1, tokens: 400 })).toBe(60_000);
    expect(pacedWindowMinimumMs(2, window, { requests: 1, tokens: 1001 })).toBe(Infinity);
    expect(pacedWindowMinimumMs(5, window, { requests: 0, tokens: 0 })).toBe(0);
  });
});
