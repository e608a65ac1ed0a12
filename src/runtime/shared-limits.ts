/**
 * The engine's side of the limits shared with other processes (the contract is
 * `src/limits/shared.ts`): what a take is checked against, from the settings, and the takes of
 * the tasks it started, settled when their attempts end.
 */

import type { EngineSettings } from '../config/engine-options.js';
import { dollarsToMicros } from '../limits/prices.js';
import type {
  SharedLimits,
  SharedLimitsConfig,
  SharedVerdict,
  SharedWindow,
} from '../limits/shared.js';
import type { RateLimitHintsData } from '../limits/types.js';
import type { WindowLimit } from '../limits/window-limits.js';
import type { Clock } from '../time/clock.js';
import { rateSettingsOf } from './settings.js';

function windowsOf(scope: string, windows: readonly WindowLimit[]): SharedWindow[] {
  const out: SharedWindow[] = [];
  for (const w of windows) {
    if (w.requests !== undefined) {
      out.push({ scope, kind: 'requests', limit: w.requests, windowMs: w.windowMs });
    }
    if (w.tokens !== undefined) {
      out.push({ scope, kind: 'tokens', limit: w.tokens, windowMs: w.windowMs });
    }
  }
  return out;
}

/** What a take of `model`'s task is checked against, from the settings in force. */
export function sharedConfigOf(settings: EngineSettings, model: string): SharedLimitsConfig {
  const rate = rateSettingsOf(settings);
  const micros = (dollars: number | undefined) =>
    dollars === undefined ? undefined : dollarsToMicros(dollars);
  return {
    model,
    windows: [...windowsOf('*', rate.windows), ...windowsOf(model, rate.models[model] ?? [])],
    budgets: {
      total: micros(settings.budgetLimit),
      daily: micros(settings.dailyLimit),
      hourly: micros(settings.hourlyLimit),
    },
    timeZone: settings.budgetTimeZone,
    marginMs: settings.windowMarginMs,
  };
}

/** How long a settle or a release of a take that failed waits before it is tried again (ms). */
export const SHARED_RETRY_MS = 5000;

/** What a take is asked for: a task's id and what it reserves. */
export interface SharedTask {
  id: string;
  reservation: {
    model: string;
    promptTokens: number;
    maxTokens: number;
    worstCaseMicros: number;
  };
}

/** What the engine tells of a failure of the shared limits (a `store.error` event). */
export type SharedLimitsFailure = (taskId: string, error: unknown) => void;

/**
 * The engine's side of the shared limits: a task's take with the limits the settings give its
 * model (cached until the settings change), and the settle or release of each take it made.
 */
export class SharedTakes {
  private readonly takes = new Map<string, string>();
  private configs = new Map<string, SharedLimitsConfig>();
  private configsOf: EngineSettings | undefined;

  constructor(
    private readonly limits: SharedLimits,
    private readonly settings: () => EngineSettings,
    private readonly failed: SharedLimitsFailure,
    private readonly clock: Clock,
  ) {}

  /** Whether the shared limits answer for several takes at once (`takeMany`). */
  get asksMany(): boolean {
    return this.limits.takeMany !== undefined;
  }

  /**
   * Asks for the tasks' takes, in order (each a request of its reserved tokens and a hold of its
   * worst case): a verdict for each asked, the first refusal last. Without `takeMany`, only the
   * first task is asked.
   */
  takeMany(tasks: readonly SharedTask[], now: number): Promise<SharedVerdict[]> {
    const takes = tasks.map((task) => {
      const { model, promptTokens, maxTokens, worstCaseMicros } = task.reservation;
      return {
        take: { taskId: task.id, model, tokens: promptTokens + maxTokens, micros: worstCaseMicros },
        config: this.configOf(model),
      };
    });
    if (this.limits.takeMany !== undefined) return this.limits.takeMany(takes, now);
    const first = takes[0];
    if (first === undefined) return Promise.resolve([]);
    return this.limits.take(first.take, first.config, now).then((verdict) => [verdict]);
  }

  /** Tells of a failure of the shared limits for task `id` (a `store.error` event). */
  report(id: string, error: unknown): void {
    this.failed(id, error);
  }

  /** Task `id` started with `take`: its settle comes when its attempt ends. */
  keep(id: string, take: string): void {
    this.takes.set(id, take);
  }

  /**
   * Task `id`'s call (of `model`) is being sent: its take's window entries count from now. A
   * failure is reported; the entries then count from the take, a little earlier.
   */
  sent(id: string, model: string, now: number): void {
    const take = this.takes.get(id);
    if (take === undefined || this.limits.sent === undefined) return;
    this.limits.sent(take, this.configOf(model), now).catch((error: unknown) => {
      this.failed(id, error);
    });
  }

  /** Task `id`'s attempt ended having cost `micros`: its take's hold is settled with that. */
  settle(id: string, model: string, micros: number, now: number): void {
    const take = this.takes.get(id);
    if (take === undefined) return;
    this.takes.delete(id);
    const config = this.configOf(model);
    this.untilDone(id, () => this.limits.settle(take, micros, config, now));
  }

  /** A provider's headers for `model`: every process of the queue hears of them. */
  hint(model: string, hints: RateLimitHintsData, now: number, taskId: string): void {
    this.limits.hint(model, hints, now).catch((error: unknown) => {
      this.failed(taskId, error);
    });
  }

  /** A take whose task did not start goes back. */
  release(id: string, model: string, take: string, now: number): void {
    const config = this.configOf(model);
    this.untilDone(id, () => this.limits.release(take, config, now));
  }

  /**
   * Runs `work` (a settle or a release) until it succeeds: one that failed (Redis gone for longer
   * than its client's own retries) is reported once and tried again every
   * {@link SHARED_RETRY_MS} ms, since a hold left behind would keep its money held for every
   * process until this one leaves.
   */
  private untilDone(id: string, work: () => Promise<void>, reported = false): void {
    work().catch((error: unknown) => {
      if (!reported) this.failed(id, error);
      this.clock.setTimeout(() => this.untilDone(id, work, true), SHARED_RETRY_MS);
    });
  }

  private configOf(model: string): SharedLimitsConfig {
    const settings = this.settings();
    if (settings !== this.configsOf) {
      this.configsOf = settings;
      this.configs = new Map();
    }
    let config = this.configs.get(model);
    if (config === undefined) {
      config = sharedConfigOf(settings, model);
      this.configs.set(model, config);
    }
    return config;
  }
}
