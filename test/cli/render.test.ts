import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import {
  CliSummarySchema,
  formatCount,
  formatDuration,
  formatUsd,
  jobExitCode,
  limitEta,
  renderProgress,
  renderSummary,
  summarize,
} from '../../src/cli/render.js';
import { after as later, STARTED, statistics } from './statistics.js';

/** 30 of 75 done after 2 minutes: 4 running, 41 waiting on the rate limit for 12 s more. */
const midway = statistics({
  queue: { size: 41, waitingFor: 'rateLimit', waitingUntil: later(132) },
  concurrency: { runningTasks: 4, maxConcurrent: 5, available: 1 },
  cost: {
    total: { cost: 0.01234, limit: 0.5, remaining: 0.48766, percentage: 2.468 },
    held: 0.0021,
  },
  performance: { totalProcessed: 30, totalSucceeded: 29, totalFailed: 1, totalRetries: 3 },
  tokens: { prompt: 21_000, completion: 4_500, total: 25_500 },
});

const frame = { total: 75, startedAt: STARTED, now: later(120), width: 100 };

describe('renderProgress', () => {
  it('draws three TTY lines: bar and ETA; running, waiting and why; spend', () => {
    expect(renderProgress(midway, { ...frame, mode: 'tty' })).toMatchInlineSnapshot(`
      "[██████████████████████████░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 30/75 40% · 15.0/min · ETA 3m00s
      running 4/5 · waiting 41 for the rate limit (12s) · ok 29 · failed 1 · retries 3
      spent $0.0123 of $0.5000 (2.5%), $0.0021 held · tokens 25,500 · elapsed 2m00s"
    `);
  });

  it('prints one plain line for logs', () => {
    expect(renderProgress(midway, { ...frame, width: 200, mode: 'plain' })).toMatchInlineSnapshot(
      `"30/75 (40%) · ok 29 · failed 1 · 15.0/min · ETA 3m00s · running 4/5 · waiting 41 for the rate limit (12s) · spent $0.0123 of $0.5000 (2.5%), $0.0021 held"`,
    );
  });

  it('says when nothing has finished yet, the queue waits for the budget, and no budget is set', () => {
    const early = statistics({
      queue: { size: 75, waitingFor: 'budget', waitingUntil: null },
      concurrency: { runningTasks: 0, maxConcurrent: 2, available: 2 },
    });
    expect(
      renderProgress(early, { ...frame, now: later(3), width: 80, mode: 'tty' }),
    ).toMatchInlineSnapshot(`
      "[░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/75 0% · 0.0/min · ETA --
      running 0/2 · waiting 75 for the budget · ok 0 · failed 0 · retries 0
      spent $0.0000 · tokens 0 · elapsed 3s"
    `);
  });

  it('says when the line waits for the wait a server asked for, or for a retry', () => {
    for (const [waitingFor, text] of [
      ['server', "waiting 41 for the server's requested wait (12s)"],
      ['retryDelay', 'waiting 41 for a retry (12s)'],
    ] as const) {
      const waiting = statistics({ queue: { size: 41, waitingFor, waitingUntil: later(132) } });
      expect(renderProgress(waiting, { ...frame, width: 200, mode: 'plain' })).toContain(text);
    }
  });

  it('names each model held by its own limits once two or more are', () => {
    const held = (model: string, waitingFor: 'rateLimit' | 'server', seconds: number) => ({
      model,
      taskId: `${model}-1`,
      waitingFor,
      waitingUntil: later(120 + seconds),
    });
    const one = statistics({
      queue: {
        size: 41,
        waitingFor: 'rateLimit',
        waitingUntil: later(132),
        heldModels: [held('gpt-4o', 'rateLimit', 12)],
      },
    });
    expect(renderProgress(one, { ...frame, width: 200, mode: 'plain' })).toContain(
      'waiting 41 for the rate limit (12s) · ',
    );
    const two = statistics({
      queue: {
        size: 41,
        waitingFor: 'rateLimit',
        waitingUntil: later(132),
        heldModels: [held('gpt-4o', 'rateLimit', 12), held('o3', 'server', 40)],
      },
    });
    expect(renderProgress(two, { ...frame, width: 300, mode: 'plain' })).toContain(
      "waiting 41 for the rate limit (12s); gpt-4o held by the rate limit (12s), o3 held by the server's requested wait (40s) · ",
    );
  });

  it('shows a stopping queue and counts only the job’s own tasks when told', () => {
    const stopping = statistics({
      status: { stopping: true },
      concurrency: { runningTasks: 2 },
      performance: { totalProcessed: 90, totalSucceeded: 90 },
    });
    const line = renderProgress(stopping, { ...frame, done: 10, width: 200, mode: 'plain' });
    expect(line).toMatchInlineSnapshot(
      `"10/75 (13%) · ok 90 · failed 0 · 5.0/min · ETA 13m00s · running 2/5 · waiting 0 · spent $0.0000 · stopping: finishing running calls"`,
    );
  });

  it('counts cancelled tasks apart from the done ones, in the bar, the counts and the ETA', () => {
    const interrupted = statistics({
      status: { stopping: true },
      performance: {
        totalProcessed: 200,
        totalSucceeded: 110,
        totalFailed: 10,
        totalCancelled: 80,
      },
    });
    const ctx = { ...frame, total: 200, done: 120, cancelled: 80, width: 200 } as const;
    expect(renderProgress(interrupted, { ...ctx, mode: 'plain' })).toMatchInlineSnapshot(
      `"120/200 (60%) · ok 110 · failed 10 · cancelled 80 · 60.0/min · ETA 0s · running 0/5 · waiting 0 · spent $0.0000 · stopping: finishing running calls"`,
    );
    expect(renderProgress(interrupted, { ...ctx, width: 100, mode: 'tty' })).toMatchInlineSnapshot(`
      "[████████████████████████████████████████░░░░░░░░░░░░░░░░░░░░░░░░░░] 120/200 60% · 60.0/min · ETA 0s
      running 0/5 · waiting 0 · ok 110 · failed 10 · cancelled 80 · retries 0 · stopping: finishing runni…
      spent $0.0000 · tokens 0 · elapsed 2m00s"
    `);
    // Taken from the statistics when the caller does not count: never "200/200".
    expect(
      renderProgress(interrupted, { ...frame, total: 200, width: 200, mode: 'plain' }),
    ).toMatch(/^120\/200 \(60%\) · ok 110 · failed 10 · cancelled 80 · /);
    // Cancelled tasks are not left to run: 40 left at 30/min.
    const some = statistics({ performance: { totalSucceeded: 60, totalCancelled: 100 } });
    expect(renderProgress(some, { ...frame, total: 200, width: 200, mode: 'plain' })).toContain(
      'ETA 1m20s',
    );
  });

  it('never draws a line wider than the terminal', () => {
    for (const width of [20, 40, 60, 100]) {
      for (const line of renderProgress(midway, { ...frame, width, mode: 'tty' }).split('\n')) {
        expect(line.length).toBeLessThanOrEqual(width);
      }
      expect(renderProgress(midway, { ...frame, width, mode: 'plain' }).length).toBeLessThanOrEqual(
        width,
      );
    }
  });

  it('reaches 100% and ETA 0s when every task ended', () => {
    const done = statistics({ performance: { totalProcessed: 75, totalSucceeded: 75 } });
    expect(renderProgress(done, { ...frame, mode: 'tty' }).split('\n')[0]).toMatch(
      /\] 75\/75 100% · 37\.5\/min · ETA 0s$/,
    );
  });
});

describe('ETA from the limits', () => {
  /** 30 of 75 done after 2 minutes (15/min): 45 left, 3m00s at that rate. */
  const withLimits = (changes: Parameters<typeof statistics>[0]) =>
    statistics({ performance: { totalProcessed: 30, totalSucceeded: 30 }, ...changes });
  const window = (
    windowMs: number,
    requests: [number, number | null],
    tokens: [number, number | null] = [0, null],
    model: string | null = null,
    paced = false,
  ) => ({
    model,
    windowMs,
    paced,
    requests: { current: requests[0], limit: requests[1] },
    tokens: { current: tokens[0], limit: tokens[1] },
  });
  const plain = { ...frame, width: 300, mode: 'plain' } as const;
  const perTask = { tokens: 1_000, worstCaseCost: 0.001 };

  it('counts only the burst as free now in a paced window, then its rate', () => {
    // 100 per minute, paced: a burst of 5 goes now, 40 at 100/min = 24s (unpaced: none left
    // after 45 free = 0s).
    const paced = withLimits({
      rateLimit: { windows: [window(60_000, [0, 100], [0, null], null, true)] },
    });
    expect(limitEta(paced, 45)).toEqual({ kind: 'time', seconds: 24, limit: 'rate limit' });
    const unpaced = withLimits({ rateLimit: { windows: [window(60_000, [0, 100])] } });
    expect(limitEta(unpaced, 45)).toEqual({ kind: 'time', seconds: 0, limit: 'rate limit' });
  });

  it('keeps the throughput ETA when no limit is tighter', () => {
    const stats = withLimits({ rateLimit: { windows: [window(60_000, [0, 600])] } });
    expect(renderProgress(stats, plain)).toContain('· ETA 3m00s ·');
  });

  it('takes the tightest request window when it allows less than the throughput', () => {
    // 10 per minute, 4 used: 6 go now, 39 at 10/min = 3m54s; 100 per hour, 90 used: 10 go now,
    // 35 at 100/h = 21m00s.
    const stats = withLimits({
      rateLimit: { windows: [window(60_000, [4, 10]), window(3_600_000, [90, 100])] },
    });
    expect(limitEta(stats, 45)).toEqual({ kind: 'time', seconds: 1_260, limit: 'rate limit' });
    expect(renderProgress(stats, plain)).toContain('· ETA 21m00s (rate limit) ·');
  });

  it('bounds by a token window at each task’s reservation, and by the job’s model’s windows', () => {
    // 45 tasks × 1,000 tokens, 10,000 free now, 10,000 a minute: 3m30s.
    const tokens = withLimits({ rateLimit: { windows: [window(60_000, [0, null], [0, 10_000])] } });
    expect(renderProgress(tokens, { ...plain, perTask })).toContain('ETA 3m30s (token limit)');
    // Without a task's reservation, a token window bounds nothing.
    expect(renderProgress(tokens, plain)).toContain('· ETA 3m00s ·');
    // Another model's window does not bound this job; its own model's does.
    const other = withLimits({
      rateLimit: { windows: [window(60_000, [0, 5], [0, null], 'gpt-4o')] },
    });
    expect(renderProgress(other, { ...plain, model: 'gpt-4o-mini' })).toContain('· ETA 3m00s ·');
    expect(renderProgress(other, { ...plain, model: 'gpt-4o' })).toContain(
      'ETA 8m00s (rate limit)',
    );
  });

  it('gives the limits’ ETA before anything finished', () => {
    const early = statistics({ rateLimit: { windows: [window(60_000, [0, 15])] } });
    expect(renderProgress(early, { ...plain, now: later(3) })).toContain('ETA 4m00s (rate limit)');
  });

  it('says the budget is short instead of an ETA when the worst cases exceed what is left', () => {
    const short = withLimits({
      concurrency: { runningTasks: 5 },
      cost: { total: { cost: 0.03, limit: 0.05, remaining: 0.015, percentage: 60 }, held: 0.005 },
      rateLimit: { windows: [window(60_000, [0, 10])] },
    });
    // 45 left, 5 of them running (their worst case is held): 40 × $0.001 > $0.015.
    expect(limitEta(short, 45, perTask)).toEqual({
      kind: 'overBudget',
      need: 0.04,
      left: 0.015,
      tasks: 40,
    });
    expect(renderProgress(short, { ...plain, perTask })).toContain(
      'ETA -- (budget short: up to $0.0400 for 40 not started, $0.0150 left)',
    );
    // Enough left: the limits' ETA as before.
    const enough = {
      ...short,
      cost: { ...short.cost, total: { ...short.cost.total, remaining: 0.04 } },
    };
    expect(limitEta(enough, 45, perTask)).toMatchObject({ kind: 'time', limit: 'rate limit' });
    // Unpriced tasks: no budget verdict.
    expect(limitEta(short, 45, { tokens: 1_000, worstCaseCost: undefined })?.kind).toBe('time');
  });

  it('says nothing once no task is left', () => {
    const stats = withLimits({ rateLimit: { windows: [window(60_000, [10, 10])] } });
    expect(limitEta(stats, 0, perTask)).toBeUndefined();
  });
});

describe('summary', () => {
  const finished = statistics({
    cost: { total: { cost: 0.0421, limit: 0.5, remaining: 0.4579, percentage: 8.42 } },
    performance: {
      totalProcessed: 75,
      totalSucceeded: 73,
      totalFailed: 2,
      totalRetries: 9,
    },
    tokens: { prompt: 61_234, completion: 12_001, total: 73_235 },
  });

  it('summarises a finished job and validates against the schema', () => {
    const summary = summarize(finished, {
      total: 75,
      startedAt: STARTED,
      now: later(72.4),
      interrupted: false,
      resultsFile: 'examples/repos.results.jsonl',
    });
    expect(CliSummarySchema.parse(summary)).toEqual(summary);
    expect(summary).toMatchInlineSnapshot(`
      {
        "budget": 0.5,
        "cancelled": 0,
        "completed": 73,
        "cost": 0.0421,
        "durationSeconds": 72.4,
        "failed": 2,
        "finishedAt": "2025-05-01T12:01:12.400Z",
        "interrupted": false,
        "notFinished": 0,
        "resultsFile": "examples/repos.results.jsonl",
        "retries": 9,
        "reused": 0,
        "startedAt": "2025-05-01T12:00:00.000Z",
        "store": null,
        "successRate": 97.33333333333334,
        "tokens": {
          "completion": 12001,
          "prompt": 61234,
          "total": 73235,
        },
        "total": 75,
      }
    `);
    expect(renderSummary(summary)).toMatchInlineSnapshot(`
      "75 tasks
        completed     73
        failed        2
        cancelled     0
        retries       9
        cost          $0.0421 of $0.5000
        tokens        73,235 (prompt 61,234, completion 12,001)
        duration      1m12s
        success rate  97.3%
        results       examples/repos.results.jsonl"
    `);
  });

  it('says how many results a resumed run reused, and where its store is', () => {
    const summary = summarize(finished, {
      total: 75,
      startedAt: STARTED,
      now: later(3),
      interrupted: false,
      resultsFile: 'examples/repos.results.jsonl',
      counts: { completed: 75, failed: 0, cancelled: 0 },
      reused: 40,
      store: 'examples/repos.results.jsonl.db',
    });
    expect(CliSummarySchema.parse(summary)).toMatchObject({
      reused: 40,
      store: 'examples/repos.results.jsonl.db',
    });
    expect(renderSummary(summary)).toMatchInlineSnapshot(`
      "75 tasks
        completed     75 (40 reused from the store)
        failed        0
        cancelled     0
        retries       9
        cost          $0.0421 of $0.5000
        tokens        73,235 (prompt 61,234, completion 12,001)
        duration      3s
        success rate  100.0%
        results       examples/repos.results.jsonl
        store         examples/repos.results.jsonl.db"
    `);
  });

  it('takes the job’s own counts over the statistics, and shows an interrupted run', () => {
    const summary = summarize(finished, {
      total: 75,
      startedAt: STARTED,
      now: later(10),
      interrupted: true,
      resultsFile: 'out.jsonl',
      counts: { completed: 20, failed: 0, cancelled: 3 },
    });
    expect(summary.notFinished).toBe(52);
    // 20 of the 23 that ended: cancelled tasks did not succeed.
    expect(summary.successRate).toBeCloseTo((20 / 23) * 100, 9);
    expect(renderSummary(summary)).toMatchInlineSnapshot(`
      "interrupted: 20 done, 3 cancelled of 75 tasks
        completed     20
        failed        0
        cancelled     3
        not finished  52
        retries       9
        cost          $0.0421 of $0.5000
        tokens        73,235 (prompt 61,234, completion 12,001)
        duration      10s
        success rate  87.0%
        results       out.jsonl"
    `);
  });

  it('reports cancelled tasks as cancelled, never as ended with the others', () => {
    const counts = { completed: 110, failed: 10, cancelled: 80 };
    const base = {
      total: 200,
      startedAt: STARTED,
      now: later(60),
      resultsFile: 'out.jsonl',
      counts,
    };
    const interrupted = renderSummary(summarize(finished, { ...base, interrupted: true }));
    expect(interrupted.split('\n')[0]).toBe('interrupted: 120 done, 80 cancelled of 200 tasks');
    expect(interrupted).toContain('  cancelled     80');
    expect(interrupted).not.toContain('200 of 200');
    const ran = renderSummary(summarize(finished, { ...base, interrupted: false }));
    expect(ran.split('\n')[0]).toBe('200 tasks: 120 done, 80 cancelled');
  });

  const job = {
    total: 4,
    startedAt: STARTED,
    now: later(5),
    interrupted: false,
    resultsFile: 'out.jsonl',
  };

  it('gives a success rate of 0% when every task was cancelled, and none when no task ended', () => {
    const allCancelled = summarize(finished, {
      ...job,
      counts: { completed: 0, failed: 0, cancelled: 4 },
    });
    expect(allCancelled.successRate).toBe(0);
    expect(renderSummary(allCancelled)).toContain('success rate  0.0%');
    const noneEnded = summarize(finished, {
      ...job,
      interrupted: true,
      counts: { completed: 0, failed: 0, cancelled: 0 },
    });
    expect(CliSummarySchema.parse(noneEnded).successRate).toBeNull();
    expect(renderSummary(noneEnded)).toContain('success rate  –');
  });

  it('exits 0 only when every task completed, whatever else the summary says', () => {
    const exit = (
      counts: { completed: number; failed: number; cancelled: number },
      interrupted = false,
    ) => jobExitCode(summarize(finished, { ...job, interrupted, counts }));
    expect(exit({ completed: 4, failed: 0, cancelled: 0 })).toBe(EXIT_CODES.ok);
    expect(exit({ completed: 3, failed: 1, cancelled: 0 })).toBe(EXIT_CODES.someFailed);
    expect(exit({ completed: 3, failed: 0, cancelled: 1 })).toBe(EXIT_CODES.someFailed);
    // Not interrupted, nothing failed, but one task never ended (the job stopped early).
    expect(exit({ completed: 3, failed: 0, cancelled: 0 })).toBe(EXIT_CODES.someFailed);
    expect(exit({ completed: 1, failed: 0, cancelled: 0 }, true)).toBe(EXIT_CODES.interrupted);
    expect(
      renderSummary(
        summarize(finished, { ...job, counts: { completed: 3, failed: 0, cancelled: 0 } }),
      ),
    ).toMatch(/^stopped: 3 done of 4 tasks\n[\s\S]* {2}not finished {2}1\n/);
  });

  it('refuses a summary that breaks the schema', () => {
    expect(CliSummarySchema.safeParse({ total: -1 }).success).toBe(false);
  });
});

describe('formatters', () => {
  it.each([
    [0, '$0.0000'],
    [0.00005, '$0.0001'],
    [0.9999, '$0.9999'],
    [1, '$1.00'],
    [1234.5, '$1,234.50'],
    [1.996, '$2.00'],
    [2.999, '$3.00'],
    [1234.996, '$1,235.00'],
    [999_999.999, '$1,000,000.00'],
  ])('formatUsd(%d) = %s', (value, text) => {
    expect(formatUsd(value)).toBe(text);
  });

  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [60, '1m00s'],
    [3599, '59m59s'],
    [3600, '1h00m'],
    [7_325, '2h02m'],
  ])('formatDuration(%d) = %s', (value, text) => {
    expect(formatDuration(value)).toBe(text);
  });

  it('groups thousands', () => {
    expect([0, 999, 1000, 1234567].map(formatCount)).toEqual(['0', '999', '1,000', '1,234,567']);
  });
});
