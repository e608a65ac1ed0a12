import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelayMs as machineRetryDelayMs } from '../../machines/retry-policy.js';
import { backoffDelayMs, retryDelayMs } from '../../src/limits/backoff.js';

const fixed = (value: number) => () => value;

describe('backoffDelayMs', () => {
  it('doubles from retryDelay with full jitter', () => {
    expect(backoffDelayMs(1, 1, 60, fixed(0.5))).toBe(500);
    expect(backoffDelayMs(2, 1, 60, fixed(0.5))).toBe(1000);
    expect(backoffDelayMs(3, 1, 60, fixed(0.5))).toBe(2000);
    expect(backoffDelayMs(3, 1, 60, fixed(0))).toBe(0);
  });

  it('is capped by maxRetryDelay', () => {
    expect(backoffDelayMs(10, 1, 60, fixed(0.999))).toBe(59_940);
    expect(backoffDelayMs(5000, 1, 60, fixed(0.5))).toBe(30_000);
  });

  it('treats attempts below 1 as the first, and clamps samples outside [0, 1]', () => {
    expect(backoffDelayMs(0, 2, 60, fixed(0.5))).toBe(1000);
    expect(backoffDelayMs(1, 2, 60, fixed(1.7))).toBe(2000);
    expect(backoffDelayMs(1, 2, 60, fixed(-1))).toBe(0);
    expect(backoffDelayMs(1, 2, 60, fixed(Number.NaN))).toBe(0);
  });

  it('always lies in [0, min(cap, base × 2^(n−1)) × 1000]', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 100_000 })),
        fc.double({ min: 0, max: 120, noNaN: true }),
        fc.double({ min: 0, max: 3600, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, cap, sample) => {
          const delay = backoffDelayMs(attempt, base, cap, fixed(sample));
          // base × 2^(n−1) overflows to Infinity for huge n (and 0 × Infinity is NaN).
          const bound = base === 0 ? 0 : Math.min(cap, base * 2 ** (attempt - 1)) * 1000;
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees with the task machine’s retry policy', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 120, noNaN: true }),
        fc.double({ min: 0, max: 3600, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, retryDelay, maxRetryDelay, sample) => {
          expect(backoffDelayMs(attempt, retryDelay, maxRetryDelay, fixed(sample))).toBe(
            machineRetryDelayMs({ retryDelay, maxRetryDelay }, attempt, sample),
          );
        },
      ),
    );
  });
});

describe('retryDelayMs', () => {
  it("lets the server's retryAfterMs win, uncapped, without drawing a sample", () => {
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };
    expect(
      retryDelayMs({ attempt: 1, retryDelay: 1, maxRetryDelay: 60, retryAfterMs: 90_000, random }),
    ).toBe(90_000);
    expect(
      retryDelayMs({ attempt: 9, retryDelay: 1, maxRetryDelay: 60, retryAfterMs: 0, random }),
    ).toBe(0);
    expect(
      retryDelayMs({ attempt: 1, retryDelay: 1, maxRetryDelay: 60, retryAfterMs: 1.2, random }),
    ).toBe(2);
    expect(draws).toBe(0);
  });

  it('falls back to the backoff without a usable retryAfterMs', () => {
    const random = fixed(0.5);
    expect(retryDelayMs({ attempt: 3, retryDelay: 1, maxRetryDelay: 60, random })).toBe(2000);
    expect(
      retryDelayMs({
        attempt: 3,
        retryDelay: 1,
        maxRetryDelay: 60,
        retryAfterMs: undefined,
        random,
      }),
    ).toBe(2000);
    expect(
      retryDelayMs({ attempt: 3, retryDelay: 1, maxRetryDelay: 60, retryAfterMs: -5, random }),
    ).toBe(2000);
    expect(
      retryDelayMs({
        attempt: 3,
        retryDelay: 1,
        maxRetryDelay: 60,
        retryAfterMs: Number.NaN,
        random,
      }),
    ).toBe(2000);
  });
});
