/**
 * What `aitq` shows: pure functions of a `Statistics` value and the job's frame (how many tasks,
 * since when, the time now, the terminal's width). No I/O here, so every picture is a snapshot
 * test over a hand-built `Statistics`.
 */

import { z } from 'zod';
import type { Gauge, Statistics, WaitReason, WindowStatistics } from '../index.js';
import { burstAllowance } from '../limits/index.js';
import { EXIT_CODES, type ExitCode } from './errors.js';

/** The job's frame around one `Statistics` value. */
export interface RenderContext {
  /** Tasks in the job (the input file's items). */
  total: number;
  startedAt: Date;
  now: Date;
  /** Columns available; lines are cut to fit. */
  width: number;
  mode: 'tty' | 'plain';
  /**
   * Tasks of the job that completed or failed, as the CLI counted them. Default: the statistics'
   * `performance.totalSucceeded + totalFailed` (which also count child tasks of composite task
   * types).
   */
  done?: number;
  /**
   * Tasks of the job that were cancelled: counted apart from `done` (they ran to no end, and no
   * longer wait). Default: the statistics' `performance.totalCancelled`.
   */
  cancelled?: number;
  /**
   * What one task of the job takes of the limits, on average (from the checked input's estimates):
   * its token reservation (prompt + `max_tokens`) and its worst-case cost (`undefined` unpriced).
   * Without it the ETA heeds request windows alone.
   */
  perTask?: { tokens: number; worstCaseCost: number | undefined };
  /** The job's model: windows of that model bound it too (global windows always do). */
  model?: string;
}

const WAIT_REASONS: Record<WaitReason, string> = {
  concurrency: 'a free slot',
  rateLimit: 'the rate limit',
  budget: 'the budget',
  paused: 'resume (paused)',
  server: "the server's requested wait",
  retryDelay: 'a retry',
};

/** `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Dollars: four decimals under $1, two above. */
export function formatUsd(dollars: number): string {
  if (dollars < 1) return `$${dollars.toFixed(4)}`;
  // Rounded to the cent first, so that $1.996 is $2.00, not the whole dollar of before.
  const cents = Math.round(dollars * 100);
  return `$${formatCount(Math.floor(cents / 100))}.${String(cents % 100).padStart(2, '0')}`;
}

/** `42s`, `3m05s`, `2h07m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function percent(part: number, whole: number): number {
  return whole <= 0 ? 100 : Math.min(100, (part / whole) * 100);
}

function cutToWidth(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

interface Progress {
  /** Completed or failed. */
  done: number;
  cancelled: number;
  elapsedSeconds: number;
  /** Finished tasks per minute since the start. */
  perMinute: number;
  /** Seconds left at that rate; `undefined` before anything finished. */
  etaSeconds: number | undefined;
}

function progressOf(stats: Statistics, ctx: RenderContext): Progress {
  const perf = stats.performance;
  const done = Math.min(ctx.total, ctx.done ?? perf.totalSucceeded + perf.totalFailed);
  const cancelled = Math.min(ctx.total - done, ctx.cancelled ?? perf.totalCancelled);
  const elapsedSeconds = Math.max(0, (ctx.now.getTime() - ctx.startedAt.getTime()) / 1000);
  const perMinute = elapsedSeconds > 0 ? (done / elapsedSeconds) * 60 : 0;
  // Cancelled tasks will not run: they are not left, and they do not count as throughput.
  const left = ctx.total - done - cancelled;
  const etaSeconds = left === 0 ? 0 : perMinute > 0 ? (left / perMinute) * 60 : undefined;
  return { done, cancelled, elapsedSeconds, perMinute, etaSeconds };
}

/**
 * What the limits in force allow for the `left` tasks: `time`, the least seconds the tightest
 * window makes them take (what fits in a window's unused share goes now, the rest at the window's
 * rate: requests ÷ limit × window, and tokens at `perTask.tokens` each); `overBudget` when the
 * worst cases of the tasks not started exceed what the total budget has left (held amounts are
 * already out of it); `undefined` when no limit bounds them.
 */
export type LimitEta =
  | { kind: 'time'; seconds: number; limit: 'rate limit' | 'token limit' }
  | { kind: 'overBudget'; need: number; left: number; tasks: number };

export function limitEta(
  stats: Statistics,
  left: number,
  perTask?: RenderContext['perTask'],
  model?: string,
): LimitEta | undefined {
  if (left <= 0) return undefined;
  const budgetLeft = stats.cost.total.remaining;
  const notStarted = Math.max(0, left - stats.concurrency.runningTasks);
  const worst = perTask?.worstCaseCost;
  if (worst !== undefined && budgetLeft !== null && notStarted * worst > budgetLeft + 1e-9) {
    return { kind: 'overBudget', need: notStarted * worst, left: budgetLeft, tasks: notStarted };
  }
  let eta: LimitEta | undefined;
  const bound = (
    need: number,
    gauge: Gauge,
    { windowMs, paced }: WindowStatistics,
    limit: 'rate limit' | 'token limit',
  ) => {
    if (gauge.limit === null || gauge.limit <= 0 || need <= 0) return;
    // What may start now: the room left in the window, and in a paced one no more than its burst.
    const room = Math.max(0, gauge.limit - gauge.current);
    const now = paced ? Math.min(room, burstAllowance(gauge.limit)) : room;
    const later = Math.max(0, need - now);
    const seconds = (later / gauge.limit) * (windowMs / 1000);
    if (eta === undefined || (eta.kind === 'time' && seconds > eta.seconds)) {
      eta = { kind: 'time', seconds, limit };
    }
  };
  for (const w of stats.rateLimit.windows) {
    if (w.model !== null && w.model !== model) continue;
    bound(left, w.requests, w, 'rate limit');
    if (perTask !== undefined) bound(left * perTask.tokens, w.tokens, w, 'token limit');
  }
  return eta;
}

/**
 * `ETA …`: the larger of the throughput's ETA (the rate since the start) and what the limits
 * allow, naming the limit when it decides; `ETA --` with why when the budget cannot pay for the
 * rest at worst case.
 */
function etaText(stats: Statistics, ctx: RenderContext, p: Progress): string {
  const left = ctx.total - p.done - p.cancelled;
  const limits = limitEta(stats, left, ctx.perTask, ctx.model);
  if (limits?.kind === 'overBudget') {
    return `ETA -- (budget short: up to ${formatUsd(limits.need)} for ${formatCount(limits.tasks)} not started, ${formatUsd(limits.left)} left)`;
  }
  if (limits !== undefined && (p.etaSeconds === undefined || limits.seconds > p.etaSeconds)) {
    return `ETA ${formatDuration(limits.seconds)} (${limits.limit})`;
  }
  return `ETA ${p.etaSeconds === undefined ? '--' : formatDuration(p.etaSeconds)}`;
}

/**
 * `waiting N`, why the head of the line waits, and the models whose own limits hold them while
 * other models run (`gpt-4o held by the rate limit (40s)`).
 */
function waitingText(stats: Statistics, now: Date): string {
  const { size, waitingFor, waitingUntil, heldModels } = stats.queue;
  if (size === 0) return 'waiting 0';
  const until = (at: Date | null) =>
    at === null ? '' : ` (${formatDuration((at.getTime() - now.getTime()) / 1000)})`;
  const head =
    waitingFor === null
      ? `waiting ${formatCount(size)}`
      : `waiting ${formatCount(size)} for ${WAIT_REASONS[waitingFor]}${until(waitingUntil)}`;
  // One held model is usually the head's own, which its reason already names; from two on,
  // each is named.
  if (heldModels.length < 2) return head;
  const held = heldModels.map(
    (h) => `${h.model} held by ${WAIT_REASONS[h.waitingFor]}${until(h.waitingUntil)}`,
  );
  return `${head}; ${held.join(', ')}`;
}

function spendText(stats: Statistics): string {
  const { total, held } = stats.cost;
  const against =
    total.limit === null
      ? formatUsd(total.cost)
      : `${formatUsd(total.cost)} of ${formatUsd(total.limit)} (${(total.percentage ?? 0).toFixed(1)}%)`;
  return held > 0 ? `spent ${against}, ${formatUsd(held)} held` : `spent ${against}`;
}

function bar(fraction: number, width: number): string {
  const cells = Math.max(5, width);
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * cells);
  return `[${'█'.repeat(full)}${'░'.repeat(cells - full)}]`;
}

/**
 * The live display. `tty`: three lines (bar with done/total, rate and ETA; running, waiting and
 * why; spend against budget and tokens), redrawn in place by the caller. `plain`: one line, for
 * logs, printed periodically.
 */
export function renderProgress(stats: Statistics, ctx: RenderContext): string {
  const p = progressOf(stats, ctx);
  const pct = `${Math.floor(percent(p.done, ctx.total))}%`;
  const rate = `${p.perMinute.toFixed(1)}/min`;
  const eta = etaText(stats, ctx, p);
  const perf = stats.performance;
  const running = `running ${stats.concurrency.runningTasks}/${stats.concurrency.maxConcurrent}`;
  const cancelled = p.cancelled > 0 ? ` · cancelled ${formatCount(p.cancelled)}` : '';
  const outcome = `ok ${formatCount(perf.totalSucceeded)} · failed ${formatCount(perf.totalFailed)}${cancelled}`;
  const state = stats.status.stopping ? ' · stopping: finishing running calls' : '';
  if (ctx.mode === 'plain') {
    return cutToWidth(
      [
        `${p.done}/${ctx.total} (${pct})`,
        outcome,
        rate,
        eta,
        running,
        waitingText(stats, ctx.now),
        spendText(stats),
      ].join(' · ') + state,
      ctx.width,
    );
  }
  const counts = ` ${p.done}/${ctx.total} ${pct} · ${rate} · ${eta}`;
  const lines = [
    `${bar(p.done / Math.max(1, ctx.total), ctx.width - counts.length - 2)}${counts}`,
    `${running} · ${waitingText(stats, ctx.now)} · ${outcome} · retries ${formatCount(perf.totalRetries)}${state}`,
    `${spendText(stats)} · tokens ${formatCount(stats.tokens.total)} · elapsed ${formatDuration(p.elapsedSeconds)}`,
  ];
  return lines.map((line) => cutToWidth(line, ctx.width)).join('\n');
}

/** The `--json` summary, and the numbers behind the summary table. */
export const CliSummarySchema = z.strictObject({
  /** Tasks in the input file. */
  total: z.int().nonnegative(),
  completed: z.int().nonnegative(),
  failed: z.int().nonnegative(),
  cancelled: z.int().nonnegative(),
  /**
   * Tasks that never ended: never submitted (an interrupted run, or a job stopped early because
   * the provider refused the API key) or still waiting when it stopped.
   */
  notFinished: z.int().nonnegative(),
  retries: z.int().nonnegative(),
  /**
   * completed ÷ (completed + failed + cancelled) × 100: 0 when every task was cancelled, `null`
   * when no task ended.
   */
  successRate: z.number().min(0).max(100).nullable(),
  /** US dollars. */
  cost: z.number().nonnegative(),
  /** The total budget, if one was set. */
  budget: z.number().positive().nullable(),
  tokens: z.strictObject({
    prompt: z.int().nonnegative(),
    completion: z.int().nonnegative(),
    total: z.int().nonnegative(),
  }),
  durationSeconds: z.number().nonnegative(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  interrupted: z.boolean(),
  /** Where the results were written (`null` for a dry run). */
  resultsFile: z.string().nullable(),
  /**
   * Of `completed`, the results an earlier run paid for, found in the store by their keys and
   * written again without being run again (0 on a first run).
   */
  reused: z.int().nonnegative(),
  /** The store the job resumes from next time (`null` without one: `--no-store`). */
  store: z.string().nullable(),
});

export type CliSummary = z.output<typeof CliSummarySchema>;

/** How the job's own tasks ended, as the CLI counted them from their results. */
export interface JobCounts {
  completed: number;
  failed: number;
  cancelled: number;
}

/**
 * The summary of a job from its last statistics. `counts` (the CLI's own count of its tasks'
 * outcomes) wins over the statistics' totals, which also count child tasks.
 */
export function summarize(
  stats: Statistics,
  job: {
    total: number;
    startedAt: Date;
    now: Date;
    interrupted: boolean;
    resultsFile: string | null;
    counts?: JobCounts;
    reused?: number;
    store?: string | null;
  },
): CliSummary {
  const perf = stats.performance;
  const counts = job.counts ?? {
    completed: perf.totalSucceeded,
    failed: perf.totalFailed,
    cancelled: perf.totalCancelled,
  };
  const ended = counts.completed + counts.failed + counts.cancelled;
  return {
    total: job.total,
    ...counts,
    notFinished: Math.max(0, job.total - ended),
    retries: perf.totalRetries,
    successRate: ended === 0 ? null : (counts.completed / ended) * 100,
    cost: stats.cost.total.cost,
    budget: stats.cost.total.limit,
    tokens: {
      prompt: stats.tokens.prompt,
      completion: stats.tokens.completion,
      total: stats.tokens.total,
    },
    durationSeconds: Math.max(0, (job.now.getTime() - job.startedAt.getTime()) / 1000),
    startedAt: job.startedAt.toISOString(),
    finishedAt: job.now.toISOString(),
    interrupted: job.interrupted,
    resultsFile: job.resultsFile,
    reused: job.reused ?? 0,
    store: job.store ?? null,
  };
}

/**
 * How many tasks of a job that stopped short ended, cancelled ones apart from the others:
 * `120 done, 80 cancelled of 200 tasks` (done: completed or failed).
 */
function endedText(summary: CliSummary): string {
  const done = `${formatCount(summary.completed + summary.failed)} done`;
  const cancelled = summary.cancelled > 0 ? `, ${formatCount(summary.cancelled)} cancelled` : '';
  return `${done}${cancelled} of ${formatCount(summary.total)} tasks`;
}

/** The final table. */
export function renderSummary(summary: CliSummary): string {
  const rows: Array<[string, string]> = [
    [
      'completed',
      summary.reused > 0
        ? `${formatCount(summary.completed)} (${formatCount(summary.reused)} reused from the store)`
        : formatCount(summary.completed),
    ],
    ['failed', formatCount(summary.failed)],
    ['cancelled', formatCount(summary.cancelled)],
  ];
  if (summary.notFinished > 0) rows.push(['not finished', formatCount(summary.notFinished)]);
  rows.push(
    ['retries', formatCount(summary.retries)],
    [
      'cost',
      summary.budget === null
        ? formatUsd(summary.cost)
        : `${formatUsd(summary.cost)} of ${formatUsd(summary.budget)}`,
    ],
    [
      'tokens',
      `${formatCount(summary.tokens.total)} (prompt ${formatCount(summary.tokens.prompt)}, completion ${formatCount(summary.tokens.completion)})`,
    ],
    ['duration', formatDuration(summary.durationSeconds)],
    ['success rate', summary.successRate === null ? '–' : `${summary.successRate.toFixed(1)}%`],
  );
  if (summary.resultsFile !== null) {
    rows.push(['results', summary.resultsFile === '-' ? 'stdout' : summary.resultsFile]);
  }
  if (summary.store !== null) rows.push(['store', summary.store]);
  const label = Math.max(...rows.map(([name]) => name.length));
  const title = summary.interrupted
    ? `interrupted: ${endedText(summary)}`
    : summary.notFinished > 0
      ? `stopped: ${endedText(summary)}`
      : summary.cancelled > 0
        ? `${summary.total} tasks: ${formatCount(summary.completed + summary.failed)} done, ${formatCount(summary.cancelled)} cancelled`
        : `${summary.total} tasks`;
  return [title, ...rows.map(([name, value]) => `  ${name.padEnd(label)}  ${value}`)].join('\n');
}

/**
 * How a job exits, from its summary: 130 when interrupted; 0 only when every task of the file
 * completed; 1 when any failed, was cancelled, or never ended (`notFinished`).
 */
export function jobExitCode(summary: CliSummary): ExitCode {
  if (summary.interrupted) return EXIT_CODES.interrupted;
  const unfinished = summary.failed + summary.cancelled + summary.notFinished;
  return unfinished > 0 || summary.completed < summary.total
    ? EXIT_CODES.someFailed
    : EXIT_CODES.ok;
}
