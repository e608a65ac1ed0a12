import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../machines/retry-policy.js';

// The retry arithmetic lives in machines/retry-policy.ts, the task machine's own import-free
// module (machines/ imports nothing but xstate and zod, and src/limits/ nothing of machines/).

/** Attempt `attempt`'s full-jitter backoff with sample `sample`, in milliseconds. */
const backoffDelayMs = (
  attempt: number,
  retryDelay: number,
  maxRetryDelay: number,
  sample: number,
) => retryDelayMs({ retryDelay, maxRetryDelay }, attempt, sample);

describe('backoffDelayMs', () => {
  it('doubles from retryDelay with full jitter', () => {
    expect(backoffDelayMs(1, 1, 60, 0.5)).toBe(500);
    expect(backoffDelayMs(2, 1, 60, 0.5)).toBe(1000);
    expect(backoffDelayMs(3, 1, 60, 0.5)).toBe(2000);
    expect(backoffDelayMs(3, 1, 60, 0)).toBe(0);
  });

  it('is capped by maxRetryDelay', () => {
    expect(backoffDelayMs(10, 1, 60, 0.999)).toBe(59_940);
    expect(backoffDelayMs(5000, 1, 60, 0.5)).toBe(30_000);
  });

  it('treats attempts below 1 as the first, and clamps samples outside [0, 1]', () => {
    expect(backoffDelayMs(0, 2, 60, 0.5)).toBe(1000);
    expect(backoffDelayMs(1, 2, 60, 1.7)).toBe(2000);
    expect(backoffDelayMs(1, 2, 60, -1)).toBe(0);
    expect(backoffDelayMs(1, 2, 60, Number.NaN)).toBe(0);
  });

  it('always lies in [0, min(cap, base × 2^(n−1)) × 1000]', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 100_000 })),
        fc.double({ min: 0, max: 120, noNaN: true }),
        fc.double({ min: 0, max: 3600, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, cap, sample) => {
          const delay = backoffDelayMs(attempt, base, cap, sample);
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
});

describe('retryDelayMs', () => {
  const settings = { retryDelay: 1, maxRetryDelay: 60 };

  it("lets the server's retryAfterMs win, uncapped, whatever the sample", () => {
    expect(retryDelayMs(settings, 1, 0.5, 90_000)).toBe(90_000);
    expect(retryDelayMs(settings, 9, 0.5, 0)).toBe(0);
    expect(retryDelayMs(settings, 1, 0.5, 1.2)).toBe(2);
  });

  it('falls back to the backoff without a usable retryAfterMs', () => {
    expect(retryDelayMs(settings, 3, 0.5)).toBe(2000);
    expect(retryDelayMs(settings, 3, 0.5, undefined)).toBe(2000);
    expect(retryDelayMs(settings, 3, 0.5, -5)).toBe(2000);
    expect(retryDelayMs(settings, 3, 0.5, Number.NaN)).toBe(2000);
  });
});
