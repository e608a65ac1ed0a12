import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SlidingWindowLimiter,
  type WindowEntry,
  type WindowLimit,
} from '../../src/limits/rate-window.js';

/** Window lengths used by the properties (fixed, so every window's history is always known). */
const LENGTHS = [1000, 2500, 6000] as const;

interface Taken {
  at: number;
  requests: number;
  reserved: number;
  tokens: number;
  entry: WindowEntry;
  /** The windows in force when it was taken. */
  limits: readonly WindowLimit[];
}

type Step =
  | { kind: 'advance'; ms: number }
  | { kind: 'take'; requests: number; tokens: number }
  | { kind: 'reconcile'; pick: number; ratio: number }
  | { kind: 'configure'; windows: WindowLimit[] };

const windowsArb = fc
  .tuple(
    ...LENGTHS.map((windowMs) =>
      fc.record({
        present: fc.boolean(),
        requests: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        tokens: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
        windowMs: fc.constant(windowMs),
      }),
    ),
  )
  .map((ws) =>
    ws
      .filter((w) => w.present)
      .map(({ requests, tokens, windowMs }) => {
        const w: WindowLimit = { windowMs };
        if (requests !== undefined) w.requests = requests;
        if (tokens !== undefined) w.tokens = tokens;
        return w;
      }),
  );

/** Time steps, often landing exactly on a window's edge. */
const advanceArb = fc.oneof(
  fc.integer({ min: 0, max: 1500 }),
  fc.constantFrom(1, 250, 500, 1000, 1500, 2500, 3500, 6000),
);

/** `maxRatio` bounds reconciled usage relative to the reservation (1 = never more). */
const stepArb = (maxRatio: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: advanceArb,
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('take' as const),
        requests: fc.integer({ min: 0, max: 3 }),
        tokens: fc.integer({ min: 0, max: 60 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('reconcile' as const),
        pick: fc.nat(),
        ratio: fc.double({ min: 0, max: maxRatio, noNaN: true }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('configure' as const), windows: windowsArb }),
    },
  );

function inside(list: readonly Taken[], windowMs: number, now: number): Taken[] {
  return list.filter((e) => now < e.at + windowMs);
}

function sums(list: readonly Taken[]): { requests: number; tokens: number } {
  return list.reduce(
    (s, e) => ({ requests: s.requests + e.requests, tokens: s.tokens + e.tokens }),
    {
      requests: 0,
      tokens: 0,
    },
  );
}

function fitsAt(
  list: readonly Taken[],
  windows: readonly WindowLimit[],
  t: number,
  requests: number,
  tokens: number,
): boolean {
  return windows.every((w) => {
    const s = sums(inside(list, w.windowMs, t));
    return (
      (w.requests === undefined || s.requests + requests <= w.requests) &&
      (w.tokens === undefined || s.tokens + tokens <= w.tokens)
    );
  });
}

/** The brute-force answer: fits now, or the earliest later time it fits, or never. */
function bruteRetryAt(
  list: readonly Taken[],
  windows: readonly WindowLimit[],
  now: number,
  requests: number,
  tokens: number,
): number | 'ok' {
  if (fitsAt(list, windows, now, requests, tokens)) return 'ok';
  const candidates = [
    ...new Set(windows.flatMap((w) => list.map((e) => e.at + w.windowMs).filter((t) => t > now))),
  ].sort((a, b) => a - b);
  for (const t of candidates) if (fitsAt(list, windows, t, requests, tokens)) return t;
  return Number.POSITIVE_INFINITY;
}

function run(initial: WindowLimit[], steps: Step[], checkInvariant: boolean): void {
  const limiter = new SlidingWindowLimiter(initial);
  let windows: readonly WindowLimit[] = initial;
  let now = 0;
  let list: Taken[] = [];
  // The limiter remembers takes for as long as the longest window it has ever had.
  let retention = Math.max(0, ...initial.map((w) => w.windowMs));
  const forget = (): void => {
    list = list.filter((e) => now < e.at + retention);
  };
  for (const step of steps) {
    switch (step.kind) {
      case 'advance':
        now += step.ms;
        break;
      case 'take': {
        forget();
        const verdict = limiter.check(now, step.requests, step.tokens);
        const brute = bruteRetryAt(list, windows, now, step.requests, step.tokens);
        if (brute === 'ok') {
          expect(verdict).toEqual({ ok: true });
          const entry = limiter.take(now, step.requests, step.tokens);
          list.push({
            at: now,
            requests: step.requests,
            reserved: step.tokens,
            tokens: step.tokens,
            entry,
            limits: windows,
          });
        } else {
          expect(verdict.ok).toBe(false);
          if (!verdict.ok) expect(verdict.retryAt).toBe(brute);
        }
        break;
      }
      case 'reconcile': {
        const taken = list[step.pick % Math.max(1, list.length)];
        if (taken === undefined) break;
        const actual = Math.floor(taken.reserved * step.ratio);
        limiter.reconcile(taken.entry, actual);
        taken.tokens = actual;
        break;
      }
      case 'configure':
        limiter.setWindows(step.windows);
        windows = step.windows;
        retention = Math.max(retention, ...step.windows.map((w) => w.windowMs));
        break;
    }
    // Usage always equals the brute-force sums.
    forget();
    const usage = limiter.usage(now);
    expect(usage.map((u) => u.window)).toEqual(windows);
    for (const u of usage) {
      expect({ requests: u.requests, tokens: u.tokens }).toEqual(
        sums(inside(list, u.window.windowMs, now)),
      );
    }
    if (!checkInvariant) continue;
    // Every window of every length ending at `now` respects the limit that was in force when
    // its newest entry was taken (limits lowered later bind only later takes).
    for (const windowMs of LENGTHS) {
      const recent = inside(list, windowMs, now);
      const newest = recent[recent.length - 1];
      if (newest === undefined) continue;
      const s = sums(recent);
      for (const w of newest.limits.filter((l) => l.windowMs === windowMs)) {
        if (w.requests !== undefined) expect(s.requests).toBeLessThanOrEqual(w.requests);
        if (w.tokens !== undefined) expect(s.tokens).toBeLessThanOrEqual(w.tokens);
      }
    }
  }
}

describe('SlidingWindowLimiter properties (virtual time, brute-force model)', () => {
  it('never lets a window exceed the limit in force when its entries were taken; check matches brute force', () => {
    fc.assert(
      fc.property(windowsArb, fc.array(stepArb(1), { maxLength: 120 }), (initial, steps) => {
        run(initial, steps, true);
      }),
      { numRuns: 500 },
    );
  });

  it('check and usage match brute force when real usage exceeds the reservation', () => {
    fc.assert(
      fc.property(windowsArb, fc.array(stepArb(3), { maxLength: 120 }), (initial, steps) => {
        run(initial, steps, false);
      }),
      { numRuns: 500 },
    );
  });

  it('retryAt is tight: refused at retryAt − 1, accepted at retryAt', () => {
    fc.assert(
      fc.property(
        windowsArb,
        fc.array(
          fc.record({
            gap: advanceArb,
            requests: fc.integer({ min: 0, max: 3 }),
            tokens: fc.integer({ min: 0, max: 60 }),
          }),
          { maxLength: 40 },
        ),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 60 }),
        (windows, takes, requests, tokens) => {
          const limiter = new SlidingWindowLimiter(windows);
          let now = 0;
          for (const t of takes) {
            now += t.gap;
            if (limiter.check(now, t.requests, t.tokens).ok)
              limiter.take(now, t.requests, t.tokens);
          }
          const verdict = limiter.check(now, requests, tokens);
          if (verdict.ok || !Number.isFinite(verdict.retryAt)) return;
          expect(verdict.retryAt).toBeGreaterThan(now);
          expect(limiter.check(verdict.retryAt - 1, requests, tokens).ok).toBe(false);
          expect(limiter.check(verdict.retryAt, requests, tokens)).toEqual({ ok: true });
        },
      ),
      { numRuns: 500 },
    );
  });
});
