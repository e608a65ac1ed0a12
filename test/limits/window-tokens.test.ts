import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/limits/rate-limiter.js';
import type { WindowTokens } from '../../src/limits/types.js';

/** A configured window of 100 tokens a second, and one call that reserved 80. */
function afterOneCall(windowTokens: WindowTokens | undefined, used: number): RateLimiter {
  return RateLimiter.of({
    windows: [{ tokens: 100, windowMs: 1_000 }],
    models: {},
    ...(windowTokens === undefined ? {} : { windowTokens }),
  })
    .reserve(0, { taskId: 't', model: 'm', requests: 1, tokens: 80 })
    .reconcile('t', used);
}

describe('what a configured window counts of a finished call (windowTokens)', () => {
  it("'reserved' (the default) keeps the reservation for the whole window, as OpenAI counts", () => {
    for (const limiter of [afterOneCall(undefined, 10), afterOneCall('reserved', 10)]) {
      expect(limiter.check(10, 'm', 1, 30)).toMatchObject({ ok: false, retryAt: 1_000 });
      expect(limiter.check(1_000, 'm', 1, 30).ok).toBe(true);
    }
  });

  it("'used' gives back what the call did not use", () => {
    expect(afterOneCall('used', 10).check(10, 'm', 1, 30).ok).toBe(true);
    expect(afterOneCall('used', 10).check(10, 'm', 1, 91).ok).toBe(false);
  });

  it('either way, a call that used more than it reserved counts more', () => {
    for (const mode of ['reserved', 'used'] as const) {
      const limiter = afterOneCall(mode, 95);
      expect(limiter.check(10, 'm', 1, 6).ok).toBe(false);
      expect(limiter.check(10, 'm', 1, 5).ok).toBe(true);
    }
  });
});
