import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { drawFault } from '../../../src/providers/simulator/faults.js';
import { FAULT_KINDS, startSimulator } from '../../../src/providers/simulator/index.js';
import { resolveSimulatorOptions } from '../../../src/providers/simulator/options.js';
import { seededRandom } from '../../../src/time/clock.js';
import { clientFor, until, untilTaken, withSimulator } from './helpers.js';

const REQUEST = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'Please fail in some interesting way.' }],
  max_tokens: 64,
};

describe('simulator: fault injection', () => {
  it('error500 → 500 server_error', async () => {
    await withSimulator({ faults: { error500: 1 } }, async (sim, client) => {
      const error = await client.chat.completions.create(REQUEST).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      const failure = error as InstanceType<typeof OpenAI.InternalServerError>;
      expect(failure.status).toBe(500);
      expect(failure.type).toBe('server_error');
      expect(sim.stats().log[0]).toMatchObject({ status: 500, fault: 'error500', maxTokens: 64 });
    });
  });

  it('error503 → 503 with retry-after', async () => {
    await withSimulator({ faults: { error503: 1 } }, async (_sim, client) => {
      const error = await client.chat.completions.create(REQUEST).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      const failure = error as InstanceType<typeof OpenAI.APIError>;
      expect(failure.status).toBe(503);
      expect(failure.headers?.get('retry-after')).toBe('1');
      expect(failure.headers?.get('retry-after-ms')).toBe('1000');
    });
  });

  it('error429 → 429 rate_limit_exceeded with retry-after, although no limit is set', async () => {
    await withSimulator({ faults: { error429: 1 } }, async (_sim, client) => {
      const error = await client.embeddings
        .create({ model: 'text-embedding-3-small', input: 'x' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(limited.code).toBe('rate_limit_exceeded');
      expect(limited.headers?.get('retry-after')).toBe('1');
    });
  });

  it('malformed → 200 with a body that is not JSON', async () => {
    await withSimulator({ faults: { malformed: 1 } }, async (sim, client) => {
      await expect(client.chat.completions.create(REQUEST)).rejects.toThrow();
      const raw = await fetch(`${sim.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(REQUEST),
      });
      expect(raw.status).toBe(200);
      const text = await raw.text();
      expect(() => JSON.parse(text)).toThrow();
      expect(text.startsWith('{"id":"chatcmpl-')).toBe(true);
      expect(sim.stats().byStatus).toEqual({ '200': 2 });
      expect(sim.stats().log.every((e) => e.fault === 'malformed')).toBe(true);
    });
  });

  it('noUsage → a normal answer without usage', async () => {
    await withSimulator({ faults: { noUsage: 1 } }, async (_sim, client) => {
      const completion = await client.chat.completions.create(REQUEST);
      expect(completion.choices[0]?.message.content).toBeTruthy();
      expect(completion.usage).toBeUndefined();
      const embedding = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: 'x',
      });
      expect(embedding.usage).toBeUndefined();
    });
  });

  it('outOfCredit → 429 insufficient_quota without retry-after, a refusal the engine does not retry', async () => {
    await withSimulator({ faults: { outOfCredit: 1 } }, async (sim, client) => {
      const error = await client.chat.completions.create(REQUEST).then(
        () => undefined,
        (e: unknown) => e as { status?: number; code?: string; headers?: Headers },
      );
      expect(error?.status).toBe(429);
      expect(error?.code).toBe('insufficient_quota');
      expect(error?.headers?.get('retry-after')).toBeNull();
      expect(sim.stats().log.every((e) => e.fault === 'outOfCredit')).toBe(true);
    });
  });

  it('timeout → no answer until the client aborts', async () => {
    await withSimulator({ faults: { timeout: 1 } }, async (sim, client) => {
      const controller = new AbortController();
      const pending = client.chat.completions
        .create(REQUEST, { signal: controller.signal })
        .catch((e: unknown) => e);
      await until(() => sim.stats().requests === 1);
      controller.abort();
      expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
      expect(sim.stats().log[0]).toMatchObject({ status: 0, fault: 'timeout' });
      expect(sim.stats().byStatus).toEqual({ '0': 1 });
    });
  });

  it('timeout → the SDK’s own timeout fires', async () => {
    await withSimulator({ faults: { timeout: 1 } }, async (_sim, client) => {
      const error = await client.chat.completions
        .create(REQUEST, { timeout: 50 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    });
  });

  it('close() ends hanging requests and returns', async () => {
    const sim = await startSimulator({ faults: { timeout: 1 } });
    const client = clientFor(sim);
    const pending = Promise.all(
      [0, 1, 2].map(() => client.chat.completions.create(REQUEST).catch((e: unknown) => e)),
    );
    await until(() => sim.stats().requests === 3);
    await sim.close();
    for (const error of await pending) expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    await sim.close(); // idempotent
  });

  it('close() drops answers still waiting out their latency', async () => {
    const sim = await startSimulator({
      latency: { kind: 'fixed', ms: 60_000 },
      limits: { requests: 100 },
    });
    const pending = clientFor(sim)
      .chat.completions.create(REQUEST)
      .catch((e: unknown) => e);
    await untilTaken(sim.url, 1);
    await sim.close();
    // Logged by the time close() resolves: cut off by the server (499).
    expect(sim.stats().byStatus).toMatchObject({ 499: 1 });
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('injects the same faults in the same order for the same seed, also after reset()', async () => {
    const run = async (seed: number) =>
      withSimulator({ seed, faults: { error500: 0.3, error503: 0.2 } }, async (sim, client) => {
        const statuses = async () => {
          const out: number[] = [];
          for (let i = 0; i < 20; i++) {
            const result = await client.chat.completions.create(REQUEST).catch((e: unknown) => e);
            out.push(result instanceof OpenAI.APIError ? (result.status ?? -1) : 200);
          }
          return out;
        };
        const first = await statuses();
        sim.reset();
        expect(await statuses()).toEqual(first);
        return first;
      });
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 500, 503]));
    expect(await run(8)).not.toEqual(a);
  });

  it('a client that gives up during the latency is logged as 499', async () => {
    await withSimulator(
      { latency: { kind: 'uniform', minMs: 30_000, maxMs: 40_000 }, limits: { requests: 100 } },
      async (sim, client) => {
        const controller = new AbortController();
        const pending = client.chat.completions
          .create(REQUEST, { signal: controller.signal })
          .catch((e: unknown) => e);
        // Counted against the limits on arrival; logged when it ends.
        const chats = () => sim.stats().log.filter((e) => e.path === '/v1/chat/completions');
        await untilTaken(sim.url, 1);
        expect(chats()).toEqual([]);
        controller.abort();
        expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
        await until(() => chats().length === 1);
        expect(chats()[0]?.status).toBe(499);
      },
    );
  });
});

describe('drawFault', () => {
  it('lays the probabilities out on [0, 1) in FAULT_KINDS order', () => {
    const faults = resolveSimulatorOptions({ faults: { error500: 0.25, noUsage: 0.25 } }).faults;
    const random = seededRandom(3);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4_000; i++) {
      const kind = drawFault(faults, random) ?? 'none';
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['error500', 'noUsage', 'none']);
    expect(counts.get('none')).toBeGreaterThan(1_800);
    expect(counts.get('error500')).toBeGreaterThan(850);
    expect(FAULT_KINDS).toHaveLength(7);
    expect(FAULT_KINDS.at(-1)).toBe('outOfCredit');
  });
});
