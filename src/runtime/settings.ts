/**
 * The engine's settings: what `adjustSettings` changes, and what the resource actors are told.
 * Pure functions of the settings.
 */

import type { BudgetEvent } from '../../machines/budget.logic.js';
import type { ConcurrencyEvent } from '../../machines/concurrency.logic.js';
import type { RateLimitEvent, RateLimitSettings } from '../../machines/rate-limit.logic.js';
import {
  type AdjustableSettings,
  AdjustableSettingsSchema,
  type EngineSettings,
  EngineSettingsSchema,
} from '../config/engine-options.js';
import { parseOrThrow } from '../internal/validate.js';
import type { ModelPrice } from '../limits/cost.js';
import { dollarsToMicros } from '../limits/prices.js';
import { resolveWindows } from '../limits/window-limits.js';
import type { ResolvedTaskConfig } from '../stores/types.js';
import type { TaskEnvironment } from '../task-types/types.js';

const WINDOW_KEYS = [
  'requestsPerMinute',
  'requestsPerHour',
  'tokensPerMinute',
  'windows',
  'modelLimits',
  'pacing',
  'windowMarginMs',
  'windowTokens',
] as const;
const BUDGET_KEYS = ['budgetLimit', 'dailyLimit', 'hourlyLimit'] as const;

/** What a task type's `estimate` and `run` see: its model, the embedding model, `max_tokens`. */
export function environmentOf(
  settings: EngineSettings,
  config: ResolvedTaskConfig,
): TaskEnvironment {
  return {
    model: config.model ?? settings.model,
    embeddingModel: settings.embeddingModel,
    maxTokens: config.maxTokens ?? settings.maxTokens,
  };
}

/** The prices of `settings.prices` in micro-dollars per million tokens. */
export function pricesOf(settings: EngineSettings): Record<string, ModelPrice> {
  const out: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(settings.prices ?? {})) {
    out[model] = {
      inputPerMillion: dollarsToMicros(price.input),
      outputPerMillion: dollarsToMicros(price.output),
    };
  }
  return out;
}

/** The windows in force: the global ones and each model's. */
export function rateSettingsOf(settings: EngineSettings): RateLimitSettings {
  const models: Record<string, ReturnType<typeof resolveWindows>> = {};
  const pacing = { pacing: settings.pacing };
  for (const [model, limits] of Object.entries(settings.modelLimits ?? {})) {
    models[model] = resolveWindows(limits, pacing);
  }
  return {
    windows: resolveWindows(settings, pacing),
    models,
    marginMs: settings.windowMarginMs,
    windowTokens: settings.windowTokens,
  };
}

/** The longest rate window configured (ms; 0 when none). */
export function longestWindowMs(settings: EngineSettings): number {
  const { windows, models } = rateSettingsOf(settings);
  let longest = 0;
  for (const w of [...windows, ...Object.values(models).flat()]) {
    if (w.windowMs > longest) longest = w.windowMs;
  }
  return longest;
}

/** The budgets in integer micro-dollars (`undefined`: no limit). */
export function budgetLimitsOf(settings: EngineSettings) {
  const micros = (dollars: number | undefined) =>
    dollars === undefined ? undefined : dollarsToMicros(dollars);
  return {
    total: micros(settings.budgetLimit),
    daily: micros(settings.dailyLimit),
    hourly: micros(settings.hourlyLimit),
  };
}

/** An event for one of the resource actors, by its `systemId`. */
export type ResourceEvent =
  | { to: 'concurrency'; event: ConcurrencyEvent }
  | { to: 'rateLimit'; event: RateLimitEvent }
  | { to: 'budget'; event: BudgetEvent };

/** What `adjustSettings(changes)` makes of `current`. */
export interface SettingsChange {
  next: EngineSettings;
  /** The keys given. */
  changed: string[];
  /** What the resource actors must be told, in order. */
  events: ResourceEvent[];
}

/**
 * Validates `changes` (only the adjustable keys) and lays them over `current`: only the keys
 * given change, and the schema's defaults never reset the others. Throws `ValidationError`.
 */
export function adjustedSettings(
  current: EngineSettings,
  changes: AdjustableSettings,
): SettingsChange {
  const parsed = parseOrThrow(AdjustableSettingsSchema, changes, 'settings');
  const changed = Object.keys(parsed).filter(
    (key) => (changes as Record<string, unknown>)[key] !== undefined,
  );
  const given = Object.fromEntries(changed.map((k) => [k, parsed[k as keyof typeof parsed]]));
  // No limit (a durable store's default) is not a value the schema takes: it is left out.
  const base = Number.isFinite(current.maxQueueSize)
    ? current
    : { ...current, maxQueueSize: undefined };
  const laid = parseOrThrow(EngineSettingsSchema, { ...base, ...given }, 'settings');
  const next: EngineSettings = {
    ...laid,
    maxQueueSize: laid.maxQueueSize ?? current.maxQueueSize,
  };
  const events: ResourceEvent[] = [];
  if (changed.includes('maxConcurrent')) {
    events.push({ to: 'concurrency', event: { type: 'slot.resize', max: next.maxConcurrent } });
  }
  if (changed.some((k) => (WINDOW_KEYS as readonly string[]).includes(k))) {
    events.push({
      to: 'rateLimit',
      event: { type: 'rate.configure', settings: rateSettingsOf(next) },
    });
  }
  if (changed.some((k) => (BUDGET_KEYS as readonly string[]).includes(k))) {
    events.push({
      to: 'budget',
      event: { type: 'budget.configure', limits: budgetLimitsOf(next) },
    });
  }
  return { next, changed, events };
}
