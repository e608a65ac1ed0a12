import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import {
  type SimulatorOptions,
  SimulatorOptionsSchema,
  startSimulator,
} from '../../../src/providers/simulator/index.js';
import { answerDelayMs, sampleLatencyMs } from '../../../src/providers/simulator/latency.js';
import { resolveSimulatorOptions } from '../../../src/providers/simulator/options.js';
import { RequestLog } from '../../../src/providers/simulator/stats.js';
import { seededRandom } from '../../../src/time/clock.js';
import { clientFor, withSimulator } from './helpers.js';

describe('simulator options', () => {
  it('gives every field a default', () => {
    const resolved = SimulatorOptionsSchema.parse({});
    expect(resolved).toMatchObject({
      port: 0,
      models: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'text-embedding-3-small'],
      embeddingDimensions: 256,
      limits: { windowMs: 60_000 },
      defaultMaxTokens: 4_096,
      latency: { kind: 'fixed', ms: 0 },
      perOutputTokenMs: 0,
      faults: {
        error500: 0,
        error503: 0,
        error429: 0,
        timeout: 0,
        malformed: 0,
        noUsage: 0,
        outOfCredit: 0,
      },
      seed: 1,
      logLimit: 10_000,
    });
    expect(resolved.apiKey).toBeUndefined();
    expect(typeof resolved.now()).toBe('number');
  });

  it.each([
    [{ port: 70_000 }, 'port', '70000'],
    [{ latency: { kind: 'gaussian' } }, 'latency.kind', '"gaussian"'],
    [{ latency: { kind: 'uniform', minMs: 50, maxMs: 10 } }, 'latency.maxMs', '10'],
    [{ faults: { error500: 1.5 } }, 'faults.error500', '1.5'],
    [{ faults: { timeout: 0.7, malformed: 0.7 } }, 'faults', 'sum to at most 1'],
    [{ limits: { requests: 0 } }, 'limits.requests', '0'],
    [{ limits: { windowMs: -5 } }, 'limits.windowMs', '-5'],
    [{ embeddingDimensions: 1 }, 'embeddingDimensions', '1'],
    [{ seed: 1.5 }, 'seed', '1.5'],
    [{ now: 12 }, 'now', '12'],
    [{ latencyMs: 20 }, 'latencyMs', 'Unrecognized'],
  ])('refuses %j, naming the field and the value', async (options, field, value) => {
    const start = startSimulator(options as SimulatorOptions);
    await expect(start).rejects.toBeInstanceOf(ValidationError);
    await expect(start).rejects.toThrow(field);
    await expect(start).rejects.toThrow(value);
  });

  it('never echoes an API key, even an invalid one', () => {
    expect(() => resolveSimulatorOptions({ apiKey: '' })).toThrow(/apiKey.*\[redacted\]/);
  });

  it('listens on the port it is given', async () => {
    const first = await startSimulator();
    const port = first.port;
    await first.close();
    const sim = await startSimulator({ port });
    try {
      expect(sim.port).toBe(port);
      expect(sim.url).toBe(`http://127.0.0.1:${port}/v1`);
      await expect(startSimulator({ port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await sim.close();
    }
  });
});

describe('latency', () => {
  it('draws from the configured distribution, reproducibly', () => {
    expect(sampleLatencyMs({ kind: 'fixed', ms: 25 }, seededRandom(1))).toBe(25);
    const uniform = seededRandom(2);
    for (let i = 0; i < 500; i++) {
      const ms = sampleLatencyMs({ kind: 'uniform', minMs: 10, maxMs: 20 }, uniform);
      expect(ms).toBeGreaterThanOrEqual(10);
      expect(ms).toBeLessThanOrEqual(20);
    }
    const lognormal = seededRandom(3);
    const samples = Array.from({ length: 2_001 }, () =>
      sampleLatencyMs({ kind: 'lognormal', medianMs: 100, sigma: 0.5 }, lognormal),
    ).sort((a, b) => a - b);
    expect(samples[1_000]).toBeGreaterThan(90);
    expect(samples[1_000]).toBeLessThan(110);
    expect(samples.every((ms) => ms > 0)).toBe(true);
    const again = seededRandom(3);
    expect(sampleLatencyMs({ kind: 'lognormal', medianMs: 100, sigma: 0.5 }, again)).toBe(
      sampleLatencyMs({ kind: 'lognormal', medianMs: 100, sigma: 0.5 }, seededRandom(3)),
    );
    expect(answerDelayMs(10, 20, 0.5)).toBe(20);
  });

  it('answers normally with latency and a per-token delay configured', async () => {
    await withSimulator(
      { latency: { kind: 'uniform', minMs: 1, maxMs: 5 }, perOutputTokenMs: 0.01 },
      async (sim, client) => {
        const completion = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Slowly, please' }],
        });
        expect(completion.choices[0]?.finish_reason).toBe('stop');
        expect(sim.stats().byStatus).toEqual({ '200': 1 });
      },
    );
  });
});

describe('stats', () => {
  it('counts requests, statuses and served tokens, with the log in order', async () => {
    await withSimulator({ limits: { requests: 2 } }, async (sim) => {
      const client = clientFor(sim);
      const request = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user' as const, content: 'count me' }],
        max_tokens: 30,
      };
      const a = await client.chat.completions.create(request);
      const b = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
      await client.chat.completions.create(request).catch(() => undefined);
      const stats = sim.stats();
      expect(stats.requests).toBe(3);
      expect(stats.byStatus).toEqual({ '200': 2, '429': 1 });
      expect(stats.promptTokens).toBe(
        (a.usage?.prompt_tokens ?? 0) + (b.usage?.prompt_tokens ?? 0),
      );
      expect(stats.completionTokens).toBe(a.usage?.completion_tokens);
      expect(stats.log.map((e) => [e.path, e.model, e.status])).toEqual([
        ['/v1/chat/completions', 'gpt-4o-mini', 200],
        ['/v1/embeddings', 'text-embedding-3-small', 200],
        ['/v1/chat/completions', 'gpt-4o-mini', 429],
      ]);
      expect(stats.log[0]).toMatchObject({
        maxTokens: 30,
        completionTokens: a.usage?.completion_tokens,
      });
      expect(stats.log[1]?.maxTokens).toBeUndefined();
    });
  });

  it('keeps only the most recent logLimit entries', () => {
    const log = new RequestLog(3);
    for (let i = 0; i < 7; i++) {
      log.record({
        at: i,
        path: '/v1/models',
        model: '',
        status: 200,
        promptTokens: 0,
        completionTokens: 0,
      });
    }
    const stats = log.snapshot();
    expect(stats.requests).toBe(7);
    expect(stats.log.map((e) => e.at)).toEqual([4, 5, 6]);
    const none = new RequestLog(0);
    none.record({ at: 0, path: '/', model: '', status: 404, promptTokens: 0, completionTokens: 0 });
    expect(none.snapshot()).toMatchObject({ requests: 1, byStatus: { '404': 1 }, log: [] });
  });
});
