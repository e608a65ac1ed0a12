import { describe, expect, it } from 'vitest';
import {
  addEstimate,
  DryRunSchema,
  dryRun,
  emptyTotals,
  renderDryRun,
} from '../../src/cli/estimate.js';
import { simulatorURL } from '../../src/cli/simulate.js';
import { ManagerOptionsSchema } from '../../src/config/manager-options.js';

function totals(tasks: number, unpriced = 0) {
  const sums = emptyTotals();
  for (let i = 0; i < tasks; i++) {
    addEstimate(sums, {
      promptTokens: 300,
      maxTokens: 700,
      promptCost: 0.0001,
      worstCaseCost: 0.0005,
    });
  }
  for (let i = 0; i < unpriced; i++) {
    addEstimate(sums, {
      promptTokens: 10,
      maxTokens: 0,
      promptCost: undefined,
      worstCaseCost: undefined,
    });
  }
  return sums;
}

describe('dryRun', () => {
  it('sums the estimates and leaves unpriced tasks out of the cost', () => {
    const run = dryRun(totals(100, 2), ManagerOptionsSchema.parse({}));
    expect(run).toMatchObject({
      tasks: 102,
      promptTokens: 30_020,
      maxTokens: 70_000,
      unpricedTasks: 2,
      limits: [],
      budgetCoversTasks: null,
    });
    expect(run.promptCost).toBeCloseTo(0.01, 12);
    expect(run.worstCaseCost).toBeCloseTo(0.05, 12);
    expect(DryRunSchema.parse(run)).toEqual(run);
  });

  it('gives the time each window and periodic budget imposes, the longest first, and which bound it is', () => {
    const settings = ManagerOptionsSchema.parse({
      requestsPerMinute: 30,
      tokensPerMinute: 20_000,
      requestsPerHour: 1_000,
      windows: [{ requests: 4, windowMs: 1_000 }],
      hourlyLimit: 0.02,
      budgetLimit: 0.04,
    });
    const run = dryRun(totals(100), settings);
    expect(run.limits).toEqual(
      [
        // 0.05 of worst case at 0.02 an hour: the first hour's share at once, then 2 more hours.
        // Answers shorter than max_tokens spend less: an upper bound.
        { limit: '$0.0200 per hour', seconds: 7_200, bound: 'atMost' },
        // 100 requests at 30 a minute, paced: a burst of 1, then one every 2 s. A lower bound.
        { limit: '30 requests per 1m00s, paced', seconds: 198, bound: 'atLeast' },
        // 100,000 tokens (prompts + max_tokens) at 20,000 a minute, paced (a burst of 1,000):
        // (100,000 − 1,000) / 20,000 minutes. An upper bound.
        { limit: '20000 tokens per 1m00s, paced', seconds: 297, bound: 'atMost' },
        // Windows under a minute are not paced: 25 windows of 4, the first at once.
        { limit: '4 requests per 1s', seconds: 24, bound: 'atLeast' },
        // 1,000 an hour, paced: a burst of 50, then one every 3.6 s.
        { limit: '1000 requests per 1h00m, paced', seconds: 180, bound: 'atLeast' },
      ].sort((a, b) => b.seconds - a.seconds),
    );
    expect(run.budgetCoversTasks).toBe(80);
  });

  it('counts whole tasks per window: a share that does not fit beside another waits a window', () => {
    // Each task reserves 1,000 tokens and holds $0.0005: one fits in 1,500 tokens or $0.0009.
    const run = dryRun(
      totals(10),
      ManagerOptionsSchema.parse({ tokensPerMinute: 1_500, hourlyLimit: 0.0009 }),
    );
    expect(run.limits).toEqual([
      // Ten windows, one task each, the first at once (10,000 / 1,500 would say 6).
      { limit: '$0.0009 per hour', seconds: 9 * 3_600, bound: 'atMost' },
      { limit: '1500 tokens per 1m00s, paced', seconds: 9 * 60, bound: 'atMost' },
    ]);
  });

  it('takes the seed’s rateLimit as requests per minute when requestsPerMinute is not set', () => {
    const run = dryRun(totals(61), ManagerOptionsSchema.parse({ rateLimit: 60 }));
    expect(run.limits).toEqual([
      { limit: '60 requests per 1m00s, paced', seconds: 60, bound: 'atLeast' },
    ]);
  });

  it('prints the figures, each saying what it is: prompt cost, worst case, least or most time', () => {
    const settings = ManagerOptionsSchema.parse({
      requestsPerMinute: 30,
      tokensPerMinute: 20_000,
      hourlyLimit: 0.02,
      budgetLimit: 0.04,
    });
    expect(renderDryRun(dryRun(totals(100, 1), settings), 'gpt-4o-mini')).toMatchInlineSnapshot(`
      "dry run: 101 tasks, nothing sent (model gpt-4o-mini unless a task names another)
        prompt tokens   30,010 (answers up to 70,000 more)
        prompt cost     $0.0100 (the prompts alone: the least it can cost; answers add to it)
        worst case      $0.0500 (every answer at max_tokens, one attempt each: what admission holds)
        unpriced        1 of them name a model with no price
        budget          covers about 80 of them at worst case
        time            up to 2h00m ($0.0200 per hour, if every answer reaches max_tokens)
                        up to 5m00s (20000 tokens per 1m00s, paced, if every answer reaches max_tokens)
                        at least 3m20s (30 requests per 1m00s, paced)"
    `);
    expect(
      renderDryRun(dryRun(totals(3), ManagerOptionsSchema.parse({})), 'gpt-4o'),
    ).toMatchInlineSnapshot(`
      "dry run: 3 tasks, nothing sent (model gpt-4o unless a task names another)
        prompt tokens   900 (answers up to 2,100 more)
        prompt cost     $0.0003 (the prompts alone: the least it can cost; answers add to it)
        worst case      $0.0015 (every answer at max_tokens, one attempt each: what admission holds)
        time            no rate limit or periodic budget set: concurrency and latency decide"
    `);
    expect(
      renderDryRun(
        dryRun(totals(3), ManagerOptionsSchema.parse({ requestsPerMinute: 60 })),
        'gpt-4o',
      ).split('\n')[4],
    ).toBe('  time            no wait: the job fits in one window (60 requests per 1m00s, paced)');
  });

  it('gives money to the micro-dollar, without the drift of summed floats', () => {
    const run = dryRun(totals(75), ManagerOptionsSchema.parse({}));
    expect(String(run.promptCost)).toMatch(/^\d+(\.\d{1,6})?$/);
    expect(String(run.worstCaseCost)).toMatch(/^\d+(\.\d{1,6})?$/);
  });
});

describe('simulatorURL', () => {
  it('brackets an IPv6 address', () => {
    expect(simulatorURL('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080/v1');
    expect(simulatorURL('::1', 8080)).toBe('http://[::1]:8080/v1');
  });
});
