import { describe, expect, it } from 'vitest';
import type { SimulatedClock } from 'xstate';
import { LEARNED_WINDOW_LIFETIMES, LearnedWindows } from '../../src/limits/learned-windows.js';
import { RateLimiter } from '../../src/limits/rate-limiter.js';
import { createTestEngine } from '../helpers/engine.js';
import type { Script } from '../helpers/scripted-client.js';
import { advance } from '../helpers/virtual-time.js';

/**
 * A provider with a sliding window of `limit` requests per `windowMs` that the queue knows
 * nothing of: it answers 429 with retry-after over the limit, and every answer carries
 * `x-ratelimit-limit-requests`, `-remaining-requests` and `-reset-requests` as its state was when
 * it wrote them. Arrivals are stamped on the virtual clock when the call is made.
 */
function limitedProvider(clock: SimulatedClock, limit: number, windowMs: number) {
  const arrivals: number[] = [];
  const refusedAt: number[] = [];
  const acceptedAt: number[] = [];
  const script = (): Script => {
    const now = clock.now();
    while (arrivals.length > 0 && (arrivals[0] as number) + windowMs <= now) arrivals.shift();
    if (arrivals.length >= limit) {
      refusedAt.push(now);
      return {
        kind: 'error',
        status: 429,
        retryAfterMs: (arrivals[0] as number) + windowMs - now,
        latencyMs: 5,
      };
    }
    arrivals.push(now);
    acceptedAt.push(now);
    return {
      kind: 'ok',
      latencyMs: 40,
      hints: {
        limitRequests: limit,
        remainingRequests: limit - arrivals.length,
        resetRequestsMs: (arrivals[0] as number) + windowMs - now,
      },
    };
  };
  return { script, refusedAt, acceptedAt };
}

describe('limits learned from the provider’s headers', () => {
  it('no limit configured: 429s only in the first window, none after it', async () => {
    const LIMIT = 5;
    const WINDOW = 1_000;
    const CONCURRENCY = 20;
    const TASKS = 120;
    let provider: ReturnType<typeof limitedProvider> | undefined;
    const { engine, clock } = createTestEngine(
      { maxConcurrent: CONCURRENCY, taskDefaults: { maxRateLimitRetries: 50 } },
      () => (provider as ReturnType<typeof limitedProvider>).script(),
    );
    provider = limitedProvider(clock, LIMIT, WINDOW);
    const start = clock.now();
    const ids = await engine.submitMany(
      Array.from({ length: TASKS }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
    );
    await advance(clock, (TASKS / LIMIT + 3) * WINDOW, 10);
    for (const id of ids) expect((await engine.getTask(id))?.status).toBe('completed');
    // The first burst goes out before any header: at most concurrency − limit answers of 429.
    expect(provider.refusedAt.length).toBeLessThanOrEqual(CONCURRENCY - LIMIT);
    expect(provider.refusedAt.every((at) => at < start + WINDOW)).toBe(true);
    // The provider's window was never exceeded by what it accepted.
    const accepted = provider.acceptedAt;
    for (let i = LIMIT; i < accepted.length; i++) {
      expect((accepted[i] as number) - (accepted[i - LIMIT] as number)).toBeGreaterThanOrEqual(
        WINDOW,
      );
    }
    expect(engine.rateLimiter.learnedWindows('gpt-4o-mini')).toEqual([
      { requests: LIMIT, windowMs: WINDOW },
    ]);
    await engine.stop({ force: true });
  });

  it('counts the calls sent after the answer against what it says remains', () => {
    const limiter = RateLimiter.of({ windows: [], models: {} });
    const hints = { remainingRequests: 2, resetRequestsMs: 500, limitRequests: 100 };
    // Two calls of the model were sent after the answered one: none remain.
    const behind = limiter.applyHints(10, 'm', hints, { requests: 2, tokens: 20 });
    expect(behind.check(20, 'm', 1, 10)).toMatchObject({ ok: false, reason: 'server' });
    expect(behind.check(510, 'm', 1, 10).ok).toBe(true);
    // Nothing sent after it: the count stands.
    expect(
      limiter.applyHints(10, 'm', hints, { requests: 0, tokens: 0 }).check(20, 'm', 1, 10).ok,
    ).toBe(true);
  });

  it('does not count twice what the server had counted: own sends explain its count', () => {
    const first = { limitRequests: 10, remainingRequests: 10, resetRequestsMs: 1_000 };
    const hints = { limitRequests: 10, remainingRequests: 1, resetRequestsMs: 950 };
    // The first header teaches a window of 10 a second; a second later, 9 are sent.
    let limiter = RateLimiter.of({ windows: [], models: {} }).applyHints(0, 'm', first);
    for (let i = 0; i < 9; i++) {
      limiter = limiter.reserve(1_001, { taskId: `t${i}`, model: 'm', requests: 1, tokens: 1 });
    }
    // The first one's answer, written when all 9 had arrived: 1 remains. The 8 sent after it are
    // in the server's count already; the learned window holds the same limit.
    const own = limiter.applyHints(1_050, 'm', hints, { requests: 8, tokens: 8 });
    expect(own.check(1_060, 'm', 1, 1).ok).toBe(true);
    // Less than a window after the first header, older sends may still be in the server's
    // count: the count stands, lowered by what was sent since.
    const early = RateLimiter.of({ windows: [], models: {} })
      .applyHints(1_000, 'm', first)
      .reserve(1_001, { taskId: 'x', model: 'm', requests: 1, tokens: 1 })
      .applyHints(1_050, 'm', { ...hints, remainingRequests: 9 }, { requests: 1, tokens: 1 });
    expect(early.check(1_060, 'm', 9, 1)).toMatchObject({ ok: false, reason: 'server' });
    // Someone else's traffic: the server counted 9 while this process sent only 2. The count
    // stands.
    let shared = RateLimiter.of({ windows: [], models: {} }).applyHints(0, 'm', first);
    shared = shared.reserve(1_001, { taskId: 'a', model: 'm', requests: 1, tokens: 1 });
    shared = shared.reserve(1_001, { taskId: 'b', model: 'm', requests: 1, tokens: 1 });
    const foreign = shared.applyHints(1_050, 'm', hints, { requests: 1, tokens: 1 });
    // One remains as the server wrote it (what was sent since is taken to have arrived, as for
    // an explained count); the one after it is refused.
    expect(foreign.check(1_060, 'm', 1, 1).ok).toBe(true);
    const after = foreign.reserve(1_060, { taskId: 'c', model: 'm', requests: 1, tokens: 1 });
    expect(after.check(1_070, 'm', 1, 1)).toMatchObject({ ok: false, reason: 'server' });
  });

  it('a window learned for the first time counts the calls already on their way', () => {
    const hints = { limitRequests: 3, remainingRequests: 2, resetRequestsMs: 1_000 };
    const limiter = RateLimiter.of({ windows: [], models: {}, marginMs: 50 });
    // Three calls went out at 0, 5 and 10 before any header; the first answer teaches 3 a second.
    const sends = [0, 5, 10].map((at) => ({ at, tokens: 10 }));
    const learned = limiter.applyHints(20, 'm', hints, { requests: 0, tokens: 0 }, sends);
    // Counted from each send plus the margin: full until 1,050, one free at 1,050.
    expect(learned.check(1_040, 'm', 1, 1)).toMatchObject({ ok: false, retryAt: 1_050 });
    expect(learned.check(1_050, 'm', 1, 1).ok).toBe(true);
    expect(learned.check(1_050, 'm', 2, 1).ok).toBe(false);
    // A window already in force is not seeded again (its calls hold their own takes).
    const again = learned.applyHints(30, 'm', hints, undefined, sends);
    expect(again.check(1_050, 'm', 1, 1).ok).toBe(true);
    // A call admitted before the window was learned and sent after it: taken when it is sent.
    const late = learned.sent('t', 20, { model: 'm', tokens: 10 });
    expect(late.check(1_050, 'm', 1, 1)).toMatchObject({ ok: false, retryAt: 1_055 });
    // No learned window for the model: a send changes nothing.
    expect(limiter.sent('t', 5, { model: 'm', tokens: 10 })).toBe(limiter);
    // The margin does not move the windows' clock ahead: right after a send, an older call that
    // leaves its window within the margin still counts (checked at 1,020, not at 1,070).
    const one = RateLimiter.of({ windows: [], models: {}, marginMs: 50 })
      .applyHints(20, 'm', hints, { requests: 0, tokens: 0 }, [{ at: 0, tokens: 10 }])
      .sent('u', 1_010, { model: 'm', tokens: 10 });
    expect(one.check(1_020, 'm', 1, 1).ok).toBe(true);
    expect(one.check(1_020, 'm', 2, 1)).toMatchObject({ ok: false, retryAt: 1_050 });
  });

  it('learns the reset rounded up to a second, never refuses for ever, and forgets', () => {
    const learned = LearnedWindows.NONE.learn(0, {
      limitRequests: 3,
      resetRequestsMs: 950,
      limitTokens: 100,
      resetTokensMs: 20_000,
    });
    expect(learned.windows).toEqual([
      { requests: 3, windowMs: 1_000 },
      { tokens: 100, windowMs: 20_000 },
    ]);
    // A request above the learned token limit waits for an empty window, never for ever.
    let taken = learned.take(0, 1, 100);
    expect(taken.check(1, 1, 500)).toMatchObject({ ok: false, retryAt: 20_000 });
    expect(taken.check(20_000, 1, 500).ok).toBe(true);
    taken = taken.take(0, 1, 0).take(0, 1, 0);
    expect(taken.check(500, 1, 0)).toMatchObject({ ok: false, retryAt: 1_000 });
    // Headers that say nothing of limits teach nothing.
    expect(learned.learn(5, { remainingRequests: 1, resetRequestsMs: 10 })).toBe(learned);
    // Forgotten after LEARNED_WINDOW_LIFETIMES lengths without a header stating it.
    const late = (LEARNED_WINDOW_LIFETIMES + 1) * 20_000;
    expect(taken.check(late, 1_000, 1_000_000).ok).toBe(true);
  });
});
