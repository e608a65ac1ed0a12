import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countChatTokens } from '../../../src/limits/tokens.js';
import { parseResetDuration } from '../../../src/providers/simulator/index.js';
import { SimulatorRateLimits } from '../../../src/providers/simulator/limits.js';
import { RATE_LIMIT_HEADERS } from '../../helpers/rate-limit-headers.js';
import { manualClock, withSimulator } from './helpers.js';

const MESSAGES = [{ role: 'user' as const, content: 'Check the limits, please.' }];
const RATE_HEADERS = RATE_LIMIT_HEADERS;

function chat(client: OpenAI, maxTokens = 50) {
  return client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: maxTokens })
    .withResponse();
}

describe('simulator: rate limits and x-ratelimit-* headers', () => {
  it('sends every x-ratelimit-* header, counting prompt + max_tokens like OpenAI', async () => {
    const clock = manualClock();
    await withSimulator(
      { limits: { requests: 10, tokens: 10_000 }, now: clock.now },
      async (_sim, client) => {
        const { response, data } = await chat(client, 100);
        for (const name of RATE_HEADERS) expect(response.headers.get(name)).not.toBeNull();
        const prompt = countChatTokens(MESSAGES, 'gpt-4o-mini');
        expect(data.usage?.prompt_tokens).toBe(prompt);
        expect(response.headers.get('x-ratelimit-limit-requests')).toBe('10');
        expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
        expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('10000');
        expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(
          String(10_000 - prompt - 100),
        );
        expect(response.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
        expect(response.headers.get('x-ratelimit-reset-tokens')).toBe('1m0s');
        expect(response.headers.get('x-request-id')).toMatch(/^req_/);
      },
    );
  });

  it('reserves the default 4096 answer tokens when max_tokens is absent', async () => {
    const clock = manualClock();
    await withSimulator({ limits: { tokens: 100_000 }, now: clock.now }, async (_sim, client) => {
      const { response } = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: MESSAGES })
        .withResponse();
      const prompt = countChatTokens(MESSAGES, 'gpt-4o-mini');
      expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(
        String(100_000 - prompt - 4_096),
      );
      // Only configured limits are reported.
      expect(response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    });
  });

  it('counts down, answers a burst over the limit with 429 + retry-after, and resets after the window', async () => {
    const clock = manualClock();
    await withSimulator(
      { limits: { requests: 3, windowMs: 300 }, now: clock.now },
      async (sim, client) => {
        const remaining: (string | null)[] = [];
        for (let i = 0; i < 3; i++) {
          const { response } = await chat(client);
          remaining.push(response.headers.get('x-ratelimit-remaining-requests'));
          expect(parseResetDuration(response.headers.get('x-ratelimit-reset-requests') ?? '')).toBe(
            300,
          );
        }
        expect(remaining).toEqual(['2', '1', '0']);

        const error = await chat(client).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OpenAI.RateLimitError);
        const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
        expect(limited.status).toBe(429);
        expect(limited.code).toBe('rate_limit_exceeded');
        expect(limited.type).toBe('requests');
        expect(limited.headers?.get('retry-after')).toBe('1');
        expect(limited.headers?.get('retry-after-ms')).toBe('300');
        expect(limited.headers?.get('x-ratelimit-remaining-requests')).toBe('0');

        clock.advance(299);
        const stillLimited = await chat(client).catch((e: unknown) => e);
        expect(stillLimited).toBeInstanceOf(OpenAI.RateLimitError);
        expect(
          (stillLimited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get(
            'retry-after-ms',
          ),
        ).toBe('1');

        clock.advance(1);
        const { response } = await chat(client);
        expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('2');

        const stats = sim.stats();
        expect(stats.byStatus).toEqual({ '200': 4, '429': 2 });
        expect(stats.log.map((e) => e.status)).toEqual([200, 200, 200, 429, 429, 200]);
      },
    );
  });

  it('slides: a request leaves the window windowMs after it was taken', async () => {
    const clock = manualClock();
    await withSimulator(
      { limits: { requests: 5, windowMs: 300 }, now: clock.now },
      async (_sim, client) => {
        const remainingAfter = async () =>
          (await chat(client)).response.headers.get('x-ratelimit-remaining-requests');
        expect(await remainingAfter()).toBe('4'); // t = 0
        clock.advance(100);
        expect(await remainingAfter()).toBe('3'); // t = 100
        clock.advance(200);
        expect(await remainingAfter()).toBe('3'); // t = 300: the first one expired
        clock.advance(400);
        expect(await remainingAfter()).toBe('4'); // t = 700: all expired
      },
    );
  });

  it('refuses on tokens with type "tokens", and a request larger than the limit without retry-after', async () => {
    const clock = manualClock();
    await withSimulator(
      { limits: { tokens: 300, windowMs: 300 }, now: clock.now },
      async (_sim, client) => {
        await chat(client, 200);
        const error = await chat(client, 200).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OpenAI.RateLimitError);
        const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
        expect(limited.type).toBe('tokens');
        expect(limited.headers?.get('retry-after-ms')).toBe('300');

        const tooLarge = await chat(client, 1_000).catch((e: unknown) => e);
        expect(tooLarge).toBeInstanceOf(OpenAI.RateLimitError);
        const never = tooLarge as InstanceType<typeof OpenAI.RateLimitError>;
        expect(never.message).toContain('Request too large');
        expect(never.headers?.get('retry-after')).toBeNull();
      },
    );
  });

  it('counts embeddings by their input tokens', async () => {
    const clock = manualClock();
    await withSimulator({ limits: { tokens: 1_000 }, now: clock.now }, async (_sim, client) => {
      const { data, response } = await client.embeddings
        .create({ model: 'text-embedding-3-small', input: ['one two three', 'four'] })
        .withResponse();
      expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(
        String(1_000 - (data.usage?.prompt_tokens ?? 0)),
      );
    });
  });

  it('reset() clears the window and the statistics', async () => {
    const clock = manualClock();
    await withSimulator({ limits: { requests: 1 }, now: clock.now }, async (sim, client) => {
      await chat(client);
      await expect(chat(client)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
      sim.reset();
      expect(sim.stats()).toEqual({
        requests: 0,
        byStatus: {},
        promptTokens: 0,
        completionTokens: 0,
        log: [],
      });
      const { response } = await chat(client);
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    });
  });
});

describe('SimulatorRateLimits', () => {
  it('says when a refused request will fit', () => {
    const limits = new SimulatorRateLimits({ requests: 2, tokens: 100, windowMs: 1_000 });
    limits.take(10, 0);
    limits.take(10, 400);
    expect(limits.check(10, 500)).toMatchObject({ ok: false, kind: 'requests', retryAfterMs: 500 });
    expect(limits.check(10, 1_000)).toEqual({ ok: true });
    limits.take(70, 1_000);
    expect(limits.snapshot(1_100)).toEqual({
      requests: { limit: 2, remaining: 0, resetMs: 900 },
      tokens: { limit: 100, remaining: 20, resetMs: 900 },
    });
    expect(limits.snapshot(2_000)).toEqual({
      requests: { limit: 2, remaining: 2, resetMs: 0 },
      tokens: { limit: 100, remaining: 100, resetMs: 0 },
    });

    const tokens = new SimulatorRateLimits({ tokens: 100, windowMs: 1_000 });
    tokens.take(10, 400);
    tokens.take(70, 1_000);
    // Window at 1100: 10 (t=400) + 70 (t=1000) = 80 tokens; 30 more fit once t=400 expires.
    expect(tokens.check(30, 1_100)).toMatchObject({ ok: false, kind: 'tokens', retryAfterMs: 300 });
    expect(tokens.check(20, 1_100)).toEqual({ ok: true });
    expect(tokens.check(101, 1_100)).toMatchObject({ ok: false, retryAfterMs: Infinity });
  });

  it('when both limits refuse, waits until both let the request through', () => {
    // The helper's case: A (10 tokens) at 0, B (80) at 500; C (50) at 600 is over both limits.
    const limits = new SimulatorRateLimits({ requests: 2, tokens: 100, windowMs: 1_000 });
    limits.take(10, 0);
    limits.take(80, 500);
    const verdict = limits.check(50, 600);
    // Requests would fit at 1000 (A expires), tokens only at 1500 (B expires): 900 ms.
    expect(verdict).toMatchObject({ ok: false, kind: 'tokens', retryAfterMs: 900 });
    expect(limits.check(50, 1_000)).toMatchObject({ ok: false, kind: 'tokens' });
    expect(limits.check(50, 1_500)).toEqual({ ok: true });
    // More tokens than the limit never fit, whatever the request count says.
    expect(limits.check(101, 600)).toMatchObject({
      ok: false,
      kind: 'tokens',
      retryAfterMs: Infinity,
    });
  });

  it('records a request that arrived before one already counted in its arrival place', () => {
    // Counted at their arrival: one whose body took longer to read is decided after a later one.
    const limits = new SimulatorRateLimits({ requests: 3, tokens: 100, windowMs: 1_000 });
    limits.take(10, 0);
    limits.take(20, 300);
    limits.take(30, 200);
    // In arrival order (0, 200, 300): at 1,100 the first has left, the newest leaves at 1,300.
    expect(limits.check(1, 900)).toMatchObject({ ok: false, kind: 'requests', retryAfterMs: 100 });
    expect(limits.snapshot(1_100)).toEqual({
      requests: { limit: 3, remaining: 1, resetMs: 200 },
      tokens: { limit: 100, remaining: 50, resetMs: 200 },
    });
    // The one that arrived at 200 leaves at 1,200, though it was counted last.
    expect(limits.snapshot(1_250).requests).toEqual({ limit: 3, remaining: 2, resetMs: 50 });
    expect(limits.snapshot(1_300).requests).toEqual({ limit: 3, remaining: 3, resetMs: 0 });

    // An answer's headers read at a later time forget nothing that a request which arrived
    // earlier, and is decided after them, must still find counted.
    const one = new SimulatorRateLimits({ requests: 1, windowMs: 1_000 });
    one.take(1, 0);
    expect(one.snapshot(1_001).requests).toEqual({ limit: 1, remaining: 1, resetMs: 0 });
    expect(one.check(1, 999)).toMatchObject({ ok: false, kind: 'requests', retryAfterMs: 1 });

    // A request decided after one that arrived later is judged by what had arrived by its own
    // arrival: the later one is not in its window.
    const late = new SimulatorRateLimits({ requests: 3, tokens: 100, windowMs: 1_000 });
    late.take(10, 0);
    late.take(80, 500);
    expect(late.check(20, 400)).toEqual({ ok: true });
    expect(late.check(20, 600)).toMatchObject({ ok: false, kind: 'tokens', used: 90 });
  });

  it('keeps exact counts over many requests', () => {
    const limits = new SimulatorRateLimits({ requests: 1_000, windowMs: 100 });
    for (let t = 0; t < 10_000; t++) {
      expect(limits.check(1, t).ok).toBe(true);
      limits.take(1, t);
    }
    expect(limits.snapshot(9_999).requests?.remaining).toBe(900);
  });
});
