/**
 * `--dry-run`: what a job would cost and how long its limits make it take, from each task's own
 * estimate (`estimateCost`: prompt tokens counted with the provider's tokenizer, `max_tokens`,
 * prices). Pure arithmetic; nothing is sent.
 */

import { z } from 'zod';
import type { ResolvedManagerOptions } from '../index.js';
import { pacedWindowMinimumMs, resolveWindows } from '../limits/index.js';
import { formatCount, formatDuration, formatUsd } from './render.js';

/** One task's estimate, as `estimateCost` gives it (dollars; `undefined` when unpriced). */
export interface TaskEstimateFigures {
  promptTokens: number;
  maxTokens: number;
  promptCost: number | undefined;
  worstCaseCost: number | undefined;
}

/** The running sums of a job's estimates. */
export interface EstimateTotals {
  tasks: number;
  promptTokens: number;
  maxTokens: number;
  promptCost: number;
  worstCaseCost: number;
  /** Tasks whose model has no price (their cost is not in the sums). */
  unpriced: number;
  /** The largest single reservation: prompt tokens + `max_tokens`. */
  largestTokens: number;
  /** The largest single worst-case cost (dollars), over the priced tasks. */
  largestCost: number;
}

export function emptyTotals(): EstimateTotals {
  return {
    tasks: 0,
    promptTokens: 0,
    maxTokens: 0,
    promptCost: 0,
    worstCaseCost: 0,
    unpriced: 0,
    largestTokens: 0,
    largestCost: 0,
  };
}

export function addEstimate(totals: EstimateTotals, task: TaskEstimateFigures): void {
  totals.tasks++;
  totals.promptTokens += task.promptTokens;
  totals.maxTokens += task.maxTokens;
  totals.largestTokens = Math.max(totals.largestTokens, task.promptTokens + task.maxTokens);
  if (task.promptCost === undefined || task.worstCaseCost === undefined) totals.unpriced++;
  else {
    totals.promptCost += task.promptCost;
    totals.worstCaseCost += task.worstCaseCost;
    totals.largestCost = Math.max(totals.largestCost, task.worstCaseCost);
  }
}

/**
 * Whether a time figure is a lower bound (`atLeast`: every task needs at least one request) or an
 * upper bound (`atMost`: figured as if every answer used all of its `max_tokens`; shorter answers
 * wait less, and retries are not counted).
 */
export const TIME_BOUNDS = ['atLeast', 'atMost'] as const;
export type TimeBound = (typeof TIME_BOUNDS)[number];

/** The `--dry-run --json` object. */
export const DryRunSchema = z.strictObject({
  tasks: z.int().nonnegative(),
  promptTokens: z.int().nonnegative(),
  /** Sum of the tasks' `max_tokens`: the most the answers can use. */
  maxTokens: z.int().nonnegative(),
  /** The cost of the prompts alone: what the job costs at least (answers add to it). */
  promptCost: z.number().nonnegative(),
  /** Every answer at `max_tokens`, one attempt each: what admission holds against the budget. */
  worstCaseCost: z.number().nonnegative(),
  unpricedTasks: z.int().nonnegative(),
  /**
   * The time each limit in force imposes on the job (seconds), longest first: a request window's
   * is a lower bound (`atLeast`); a token window's and a periodic budget's are figured from the
   * worst case, whole tasks to a window (a task's share is never split), so they are upper bounds
   * (`atMost`).
   */
  limits: z.array(
    z.strictObject({
      limit: z.string(),
      seconds: z.number().nonnegative(),
      bound: z.enum(TIME_BOUNDS),
    }),
  ),
  /** Tasks the total budget pays for at worst case, when it cannot pay for all. */
  budgetCoversTasks: z.int().nonnegative().nullable(),
});

export type DryRun = z.output<typeof DryRunSchema>;

/** `(⌈amount / limit⌉ − 1)` whole windows: the first window's worth starts at once. */
function windowsNeeded(amount: number, limit: number, windowMs: number): number {
  return (Math.max(0, Math.ceil(amount / limit) - 1) * windowMs) / 1000;
}

/**
 * The most windows `tasks` can need when a task's share (its token reservation, its worst-case
 * cost) cannot be split across windows and the line is strict: each window takes at least
 * ⌊limit / largest share⌋ of them, so ⌈tasks / that⌉ − 1 windows after the first. (Dividing the
 * total by the limit would assume the shares could be cut to fill every window.)
 */
function windowsForShares(tasks: number, limit: number, largest: number, windowMs: number): number {
  if (largest <= 0) return 0;
  // The epsilon keeps 0.001 / 0.0005 at 2, not 1.999….
  const perWindow = Math.max(1, Math.floor(limit / largest + 1e-9));
  return windowsNeeded(tasks, perWindow, windowMs);
}

/**
 * The dry-run figures: totals, and for each rate window and periodic budget in force the time it
 * imposes on this many tasks (the first window's quota starts at once). Requests are counted
 * exactly, so a request window gives the least time; tokens and money are counted at worst case
 * (every answer at `max_tokens`, as admission reserves them), so a token window or a periodic
 * budget gives the most time it can impose.
 */
export function dryRun(totals: EstimateTotals, settings: ResolvedManagerOptions): DryRun {
  const limits: DryRun['limits'] = [];
  const windows = resolveWindows(
    { ...settings, requestsPerMinute: settings.requestsPerMinute ?? settings.rateLimit },
    { pacing: settings.pacing },
  );
  const priced = totals.tasks - totals.unpriced;
  for (const { windowMs, requests, tokens, paced } of windows) {
    const span = `${formatDuration(windowMs / 1000)}${paced === true ? ', paced' : ''}`;
    if (requests !== undefined) {
      limits.push({
        limit: `${requests} requests per ${span}`,
        seconds: pacedWindowMinimumMs(totals.tasks, { windowMs, requests, paced }) / 1000,
        bound: 'atLeast',
      });
    }
    if (tokens !== undefined) {
      // Each task at its worst case, the largest one's: the most time the window can impose.
      const share = { requests: 0, tokens: totals.largestTokens };
      limits.push({
        limit: `${tokens} tokens per ${span}`,
        seconds: pacedWindowMinimumMs(totals.tasks, { windowMs, tokens, paced }, share) / 1000,
        bound: 'atMost',
      });
    }
  }
  if (settings.hourlyLimit !== undefined) {
    limits.push({
      limit: `${formatUsd(settings.hourlyLimit)} per hour`,
      seconds: windowsForShares(priced, settings.hourlyLimit, totals.largestCost, 3_600_000),
      bound: 'atMost',
    });
  }
  if (settings.dailyLimit !== undefined) {
    limits.push({
      limit: `${formatUsd(settings.dailyLimit)} per day`,
      seconds: windowsForShares(priced, settings.dailyLimit, totals.largestCost, 86_400_000),
      bound: 'atMost',
    });
  }
  limits.sort((a, b) => b.seconds - a.seconds);
  const perTask = priced === 0 ? 0 : totals.worstCaseCost / priced;
  const budget = settings.budgetLimit;
  return {
    tasks: totals.tasks,
    promptTokens: totals.promptTokens,
    maxTokens: totals.maxTokens,
    // To the micro-dollar, as the queue counts money (sums of floats drift below that).
    promptCost: Math.round(totals.promptCost * 1e6) / 1e6,
    worstCaseCost: Math.round(totals.worstCaseCost * 1e6) / 1e6,
    unpricedTasks: totals.unpriced,
    limits,
    budgetCoversTasks:
      budget !== undefined && totals.worstCaseCost > budget && perTask > 0
        ? // The epsilon keeps 0.04 / 0.0005 at 80, not 79.999….
          Math.floor(budget / perTask + 1e-9)
        : null,
  };
}

/** One time figure as text: what it is, and which limit gives it. */
function timeText(entry: DryRun['limits'][number]): string {
  if (entry.seconds === 0) return `no wait: the job fits in one window (${entry.limit})`;
  return entry.bound === 'atLeast'
    ? `at least ${formatDuration(entry.seconds)} (${entry.limit})`
    : `up to ${formatDuration(entry.seconds)} (${entry.limit}, if every answer reaches max_tokens)`;
}

/** The dry run as text. */
export function renderDryRun(run: DryRun, model: string): string {
  const lines = [
    `dry run: ${formatCount(run.tasks)} tasks, nothing sent (model ${model} unless a task names another)`,
    `  prompt tokens   ${formatCount(run.promptTokens)} (answers up to ${formatCount(run.maxTokens)} more)`,
    `  prompt cost     ${formatUsd(run.promptCost)} (the prompts alone: the least it can cost; answers add to it)`,
    `  worst case      ${formatUsd(run.worstCaseCost)} (every answer at max_tokens, one attempt each: what admission holds)`,
  ];
  if (run.unpricedTasks > 0) {
    lines.push(
      `  unpriced        ${formatCount(run.unpricedTasks)} of them name a model with no price`,
    );
  }
  if (run.budgetCoversTasks !== null) {
    lines.push(
      `  budget          covers about ${formatCount(run.budgetCoversTasks)} of them at worst case`,
    );
  }
  const [slowest, ...others] = run.limits;
  if (slowest === undefined) {
    lines.push(
      '  time            no rate limit or periodic budget set: concurrency and latency decide',
    );
  } else {
    lines.push(`  time            ${timeText(slowest)}`);
    for (const other of others) lines.push(`                  ${timeText(other)}`);
  }
  return lines.join('\n');
}
