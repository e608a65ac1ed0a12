import { z } from 'zod';
import { PRIORITIES_HIGH_FIRST } from '../../machines/task-status.js';
import { DurationMsSchema, DurationSecondsSchema } from '../internal/duration.js';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();
const positiveNumber = z.number().positive();
/** Seconds > 0, as a number or a string with units (`'90s'`, `'1h30m'`). */
const positiveSeconds = DurationSecondsSchema.pipe(positiveNumber);
/** Whole milliseconds > 0, as a number or a string with units (`'1s'`, `'1m'`). */
export const positiveWholeMs = DurationMsSchema.pipe(
  z.number().int({ error: 'expected a whole number of milliseconds' }).positive(),
);
/**
 * A budget in US dollars. Money is counted in integer micro-dollars, which stay exact up to
 * about $9 billion; a billion is the cap.
 */
const budgetDollars = positiveNumber.max(1e9, {
  error: 'expected at most 1000000000 (US dollars; money is counted in whole micro-dollars)',
});
/** A price in US dollars per million tokens; a million is the cap (today's dearest are ~$600). */
const priceDollars = nonNegative.max(1e6, {
  error: 'expected at most 1000000 (US dollars per million tokens)',
});

/** Whether `zone` is an IANA time zone this runtime knows. */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * One sliding window: at most `requests` and `tokens` in any `windowMs` span (milliseconds, or a
 * string with units: `'1m'`).
 */
export const WindowLimitSchema = z
  .object({
    requests: positiveInt.optional(),
    tokens: positiveInt.optional(),
    windowMs: positiveWholeMs,
    /**
     * Spread the window's requests and tokens evenly (a burst of 5 % of the limit, at least 1)
     * instead of letting the whole limit go at once. Omitted: as `pacing` says.
     */
    paced: z.boolean().optional(),
  })
  .strict()
  .refine((w) => w.requests !== undefined || w.tokens !== undefined, {
    message: 'a window needs `requests`, `tokens` or both',
  });

/**
 * The default `windowMarginMs`: room for the spread between a request's write to its socket (its
 * hand-off to the HTTP client, for a client that cannot tell) and the server's arrival stamp.
 * Measured on loopback against the simulator on its own thread (docs/limits.md, "Margin"): the
 * server stamps a request up to ~15 ms after its write at times (its own pauses); at 10, 12 and
 * 13 ms some runs got answers of 429 at window edges, at 15 ms none since the simulator's work
 * takes turns of its event loop.
 */
export const DEFAULT_WINDOW_MARGIN_MS = 15;

/** Rate limits: named shorthands plus any windows. */
export const RateLimitsSchema = z
  .object({
    requestsPerMinute: positiveInt.optional(),
    requestsPerHour: positiveInt.optional(),
    tokensPerMinute: positiveInt.optional(),
    windows: z.array(WindowLimitSchema).optional(),
  })
  .strict();

/** A price in US dollars per million tokens. */
export const PriceSchema = z.object({ input: priceDollars, output: priceDollars }).strict();

/**
 * How many finished tasks to keep, and for how long (seconds), BullMQ's removeOnComplete idea:
 * older ones are removed from the store as new ones finish. Omitted: keep all.
 */
export const RetentionSchema = z
  .object({
    count: z.number().int().nonnegative().optional(),
    age: positiveSeconds.optional(),
  })
  .strict();

/**
 * The most tokens one task may count (prompt, or `max_tokens`): ten times today's largest context
 * windows, and far below where a cost in micro-dollars stops being exact.
 */
export const MAX_TASK_TOKENS = 10_000_000;
const taskTokens = z
  .number()
  .int()
  .nonnegative()
  .max(MAX_TASK_TOKENS, {
    error: `expected at most ${MAX_TASK_TOKENS} tokens`,
  });

/** Per-task settings; durations in seconds (or strings with units: `'500ms'`, `'1h30m'`). */
const taskConfigFields = {
  maxRetries: z.number().int().nonnegative(),
  retryDelay: DurationSecondsSchema,
  maxRetryDelay: DurationSecondsSchema,
  maxRateLimitRetries: z.number().int().nonnegative(),
  timeout: positiveSeconds,
  deadline: positiveSeconds,
  estimatedTokens: taskTokens,
  maxTokens: taskTokens.positive(),
  model: z.string().min(1),
};

export const TaskConfigSchema = z
  .object({
    maxRetries: taskConfigFields.maxRetries.default(3),
    retryDelay: taskConfigFields.retryDelay.default(1),
    maxRetryDelay: taskConfigFields.maxRetryDelay.default(60),
    maxRateLimitRetries: taskConfigFields.maxRateLimitRetries.default(10),
    timeout: taskConfigFields.timeout.default(60),
    deadline: taskConfigFields.deadline.optional(),
    estimatedTokens: taskConfigFields.estimatedTokens.optional(),
    maxTokens: taskConfigFields.maxTokens.optional(),
    model: taskConfigFields.model.optional(),
  })
  .strict();

/**
 * A task's own settings, laid over the queue's `taskDefaults`: every key optional and none
 * defaulted (zod's `.partial()` of `TaskConfigSchema` would keep its defaults, and they would
 * override `taskDefaults`).
 */
export const TaskConfigOverridesSchema = z.object(taskConfigFields).partial().strict();

export type TaskConfigInput = z.input<typeof TaskConfigSchema>;

export const PrioritySchema = z.enum(PRIORITIES_HIGH_FIRST as [string, ...string[]]);

/**
 * The engine's settings: the single source of truth for limits, budgets and defaults.
 * The manager's options extend this schema. Money in US dollars, durations in seconds (or
 * strings with units, `'90s'`), `windowMs` in milliseconds.
 */
export const EngineSettingsSchema = z
  .object({
    /** Calls running at once. */
    maxConcurrent: positiveInt.default(5),
    /**
     * Waiting tasks (queued, paused, retrying) accepted before `QueueFullError`. Default 10,000,
     * or no limit with a durable store (its backlog waits on disk).
     */
    maxQueueSize: positiveInt.optional(),
    /**
     * With a durable store: how many due waiting tasks stay in memory; the rest of the backlog
     * waits in the store and is read back a page at a time.
     */
    waitingInMemory: positiveInt.default(10_000),
    requestsPerMinute: positiveInt.optional(),
    requestsPerHour: positiveInt.optional(),
    tokensPerMinute: positiveInt.optional(),
    /** More windows, e.g. `{ requests: 10, windowMs: 1000 }`. */
    windows: z.array(WindowLimitSchema).optional(),
    /** Windows that apply only to calls to one model. */
    modelLimits: z.record(z.string(), RateLimitsSchema).optional(),
    /**
     * Which windows spread their requests and tokens evenly (a burst of 5 % of the limit, at
     * least 1, then one at a time at the window's rate): `'auto'` paces windows of a minute or
     * longer (providers may enforce a per-minute limit over shorter periods), `true` every
     * window, `false` none. A window's own `paced` wins. See docs/limits.md.
     */
    pacing: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /**
     * Milliseconds every request counts for in a window beyond the window's length, from when it
     * is handed to the HTTP client: room for the spread between sending and the server's count.
     */
    windowMarginMs: z.number().finite().nonnegative().max(60_000).default(DEFAULT_WINDOW_MARGIN_MS),
    /**
     * What a configured window counts of a request's tokens once its call has ended:
     * `'reserved'` (the default) keeps the prompt + `max_tokens` counted for the whole window, as
     * OpenAI counts; `'used'` counts what the call used, for a provider that counts real usage.
     */
    windowTokens: z.enum(['reserved', 'used']).default('reserved'),
    /** Total budget in US dollars. */
    budgetLimit: budgetDollars.optional(),
    dailyLimit: budgetDollars.optional(),
    hourlyLimit: budgetDollars.optional(),
    /** IANA time zone of the calendar day and hour that `dailyLimit` and `hourlyLimit` count. */
    budgetTimeZone: z
      .string()
      .refine(isTimeZone, { error: 'expected an IANA time zone such as "UTC" or "Europe/Paris"' })
      .default('UTC'),
    /** Prices that override or extend the built-in table, dollars per 1M tokens. */
    prices: z.record(z.string(), PriceSchema).optional(),
    /** Chat model used when a task does not name one. */
    model: z.string().min(1).default('gpt-4o-mini'),
    embeddingModel: z.string().min(1).default('text-embedding-3-small'),
    /** `max_tokens` of a call when the task does not set it. */
    maxTokens: taskTokens.positive().default(1024),
    /** Finished tasks to keep (completed). Omitted: keep all. */
    keepCompleted: RetentionSchema.optional(),
    /** Finished tasks to keep (failed or cancelled). Omitted: keep all. */
    keepFailed: RetentionSchema.optional(),
    /**
     * Seconds: the longest wait a provider may ask for (`retry-after`, or `x-ratelimit-reset-*`
     * with nothing remaining) before the tasks of that model fail with `ServerWaitError` instead
     * of waiting. Raise it for providers with per-day limits.
     */
    maxServerWait: positiveSeconds.default(3600),
    /** Defaults for every task's config. */
    taskDefaults: TaskConfigSchema.default({
      maxRetries: 3,
      retryDelay: 1,
      maxRetryDelay: 60,
      maxRateLimitRetries: 10,
      timeout: 60,
    }),
  })
  .strict();

export type EngineSettingsInput = z.input<typeof EngineSettingsSchema>;
/** The settings in force: as parsed, with `maxQueueSize` resolved for the store (see there). */
export type EngineSettings = z.output<typeof EngineSettingsSchema> & { maxQueueSize: number };

/** `maxQueueSize` when none is given: 10,000, or no limit with a durable store. */
export function defaultMaxQueueSize(durableStore: boolean): number {
  return durableStore ? Number.POSITIVE_INFINITY : 10_000;
}

/** The settings `adjustSettings` may change at run time (limits and budgets). */
export const AdjustableSettingsSchema = EngineSettingsSchema.pick({
  maxConcurrent: true,
  maxQueueSize: true,
  requestsPerMinute: true,
  requestsPerHour: true,
  tokensPerMinute: true,
  windows: true,
  modelLimits: true,
  pacing: true,
  windowMarginMs: true,
  windowTokens: true,
  budgetLimit: true,
  dailyLimit: true,
  hourlyLimit: true,
  maxServerWait: true,
})
  .partial()
  .strict();

export type AdjustableSettings = z.input<typeof AdjustableSettingsSchema>;
