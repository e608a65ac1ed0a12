import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CostTally,
  costMicros,
  type ModelPrice,
  worstCaseCostMicros,
} from '../../src/limits/cost.js';
import { DEFAULT_PRICES } from '../../src/limits/prices.js';

const gpt4o = DEFAULT_PRICES['gpt-4o'] as ModelPrice;
const mini = DEFAULT_PRICES['gpt-4o-mini'] as ModelPrice;

describe('costMicros', () => {
  it('prices prompt and completion tokens', () => {
    // 1000 × $2.50/1M + 500 × $10/1M = $0.0025 + $0.005.
    expect(costMicros(gpt4o, 1000, 500)).toBe(7500);
    expect(costMicros(gpt4o, 0, 0)).toBe(0);
  });

  it('rounds a fraction of a micro-dollar up', () => {
    // 1 token × $0.15/1M = 0.15 micro-dollars.
    expect(costMicros(mini, 1, 0)).toBe(1);
    expect(costMicros(mini, 20, 0)).toBe(3);
    expect(costMicros({ inputPerMillion: 1_000_000, outputPerMillion: 0 }, 7, 0)).toBe(7);
  });

  it('stays exact beyond 2^53', () => {
    const price = { inputPerMillion: 150_000_000, outputPerMillion: 600_000_000 };
    // 10^9 × 6×10^8 = 6×10^17 > 2^53; the cost is 10^9 × 150 + (10^9 + 1) × 600, rounded up.
    expect(costMicros(price, 1_000_000_000, 1_000_000_001)).toBe(750_000_000_600);
  });

  it('rejects counts and prices that are not integers ≥ 0', () => {
    expect(() => costMicros(gpt4o, -1, 0)).toThrow(RangeError);
    expect(() => costMicros(gpt4o, 1.5, 0)).toThrow(RangeError);
    expect(() => costMicros(gpt4o, 0, Number.NaN)).toThrow(RangeError);
    expect(() => costMicros({ inputPerMillion: 0.5, outputPerMillion: 0 }, 1, 0)).toThrow(
      RangeError,
    );
  });

  it('equals ceil((p × in + c × out) / 10^6) computed with BigInt', () => {
    const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 2_000_000 }), count),
        fc.oneof(fc.integer({ min: 0, max: 2_000_000 }), count),
        fc.integer({ min: 0, max: 600_000_000 }),
        fc.integer({ min: 0, max: 600_000_000 }),
        (prompt, completion, input, output) => {
          const exact = BigInt(prompt) * BigInt(input) + BigInt(completion) * BigInt(output);
          const expected = (exact + 999_999n) / 1_000_000n;
          const price = { inputPerMillion: input, outputPerMillion: output };
          if (expected > BigInt(Number.MAX_SAFE_INTEGER)) {
            expect(() => costMicros(price, prompt, completion)).toThrow(RangeError);
            return;
          }
          const got = costMicros(price, prompt, completion);
          expect(BigInt(got)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('worstCaseCostMicros', () => {
  it('prices the prompt plus max_tokens of output, and bounds every real cost', () => {
    expect(worstCaseCostMicros(gpt4o, 1000, 500)).toBe(7500);
    fc.assert(
      fc.property(
        fc.nat(100_000),
        fc.nat(100_000),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (prompt, maxTokens, used) => {
          const completion = Math.floor(maxTokens * used);
          expect(costMicros(gpt4o, prompt, completion)).toBeLessThanOrEqual(
            worstCaseCostMicros(gpt4o, prompt, maxTokens),
          );
        },
      ),
    );
  });
});

describe('CostTally', () => {
  const embedding = DEFAULT_PRICES['text-embedding-3-small'] as ModelPrice;

  it('rounds the sum of several calls up once, not each call', () => {
    // 2 + 2 + 3 tokens at $0.02/1M: 0.14 micro-dollars in all, one micro-dollar (not three).
    const tally = new CostTally();
    for (const tokens of [2, 2, 3]) tally.add(embedding, tokens, 0);
    expect(tally.micros).toBe(1);
    expect([2, 2, 3].reduce((sum, t) => sum + costMicros(embedding, t, 0), 0)).toBe(3);
  });

  it('is the cost of the summed tokens for calls at one price, and never above a hold of them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(50_000), fc.nat(50_000)), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(mini, gpt4o, embedding),
        (calls, price) => {
          const tally = new CostTally();
          for (const [p, c] of calls) tally.add(price, p, c);
          const prompt = calls.reduce((s, [p]) => s + p, 0);
          const completion = calls.reduce((s, [, c]) => s + c, 0);
          expect(tally.micros).toBe(costMicros(price, prompt, completion));
          expect(tally.micros).toBeLessThanOrEqual(worstCaseCostMicros(price, prompt, completion));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stays exact past 2^53 millionths', () => {
    const dear: ModelPrice = { inputPerMillion: 1_000_000_000_000, outputPerMillion: 0 };
    const tally = new CostTally();
    tally.add(dear, 5_000, 0);
    tally.add(dear, 5_000, 0);
    expect(tally.micros).toBe(costMicros(dear, 10_000, 0));
  });
});
