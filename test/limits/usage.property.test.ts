import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeUsage, PROMPT_FACTOR, PROMPT_SLACK, tokenCount } from '../../src/limits/usage.js';

const anyNumber = fc.oneof(
  fc.double({ noNaN: false }),
  fc.integer({ min: 0, max: 100_000 }),
  fc.double({ min: 0, max: 100_000, noNaN: true }),
  fc.constantFrom(Number.POSITIVE_INFINITY, -1, 1e15, 1e308, 50.5),
);
const reported = fc.oneof(anyNumber, fc.constantFrom('12', null, undefined, {}, true));

describe('judgeUsage (property)', () => {
  it('charges whole, finite counts never above the report, and at most what the request allowed', () => {
    fc.assert(
      fc.property(
        reported,
        reported,
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (prompt, completion, maxTokens, estimate, counted) => {
          let counts = 0;
          const judged = judgeUsage(prompt, completion, {
            maxCompletionTokens: maxTokens,
            promptEstimate: estimate,
            countPrompt: () => {
              counts++;
              return counted;
            },
          });
          const p = tokenCount(prompt);
          const c = tokenCount(completion);
          if (p === undefined || c === undefined) {
            expect(judged).toBeUndefined();
            return;
          }
          expect(judged).toBeDefined();
          const j = judged as NonNullable<typeof judged>;
          expect(Number.isSafeInteger(j.promptTokens)).toBe(true);
          expect(Number.isSafeInteger(j.completionTokens)).toBe(true);
          expect(j.completionTokens).toBe(Math.min(c, maxTokens));
          const promptAllowed = p <= estimate || p <= PROMPT_FACTOR * counted + PROMPT_SLACK;
          expect(j.promptTokens).toBe(promptAllowed ? p : counted);
          expect(j.suspect).toBe(c > maxTokens || !promptAllowed);
          // The prompt is counted only when the report is above the estimate.
          expect(counts).toBe(p > estimate ? 1 : 0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rounds fractional counts up and keeps them', () => {
    const judged = judgeUsage(50.5, 3.2, {
      maxCompletionTokens: 10,
      promptEstimate: 100,
      countPrompt: () => 100,
    });
    expect(judged).toEqual({ promptTokens: 51, completionTokens: 4, suspect: false });
  });
});
