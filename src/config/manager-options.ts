import type { InspectionEvent, Observer } from 'xstate';
import { z } from 'zod';
import { DurationSecondsSchema } from '../internal/duration.js';
import { functionOf, objectWith } from '../internal/validate.js';
import type { SharedLimits } from '../limits/shared.js';
import type { AIClient } from '../providers/types.js';
import type { TaskStore } from '../stores/types.js';
import { TaskTypeDefinitionSchema } from '../task-types/definition-schema.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import type { Clock, RandomSource } from '../time/clock.js';
import { EngineSettingsSchema, positiveWholeMs } from './engine-options.js';

/** Where the manager writes what it does. Any of `console`, pino or winston fits. */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/**
 * A shared queue as the options take it (`openSharedQueue` of `ai-task-queue/redis`): the engine
 * connects to it when it starts (its full contract is `TaskTransport`, src/runtime/transport.ts).
 */
export interface SharedQueueOption {
  readonly name: string;
  connect(host: never): unknown;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The options of `createAITaskManager` / `new AITaskManager`: the seed's (`apiKey`, `baseURL`,
 * `timeout`, `rateLimit`, `maxConcurrent`, `maxQueueSize`, `requestsPerMinute`, `budgetLimit`),
 * every limit and budget of the engine, and the injected parts. The one source of truth: the
 * public type is its input, `docs/configuration.md` lists every key, and the CLI's config file is
 * validated by it too. Durations in seconds (or strings with units: `'90s'`, `'1h30m'`), money in
 * US dollars.
 */
export const ManagerOptionsSchema = EngineSettingsSchema.extend({
  /**
   * API key for the default client, sent to `baseURL`. Without it, the environment's
   * `OPENAI_API_KEY` is used only for OpenAI's URL (or `OPENAI_BASE_URL`): see `resolveApiKey`.
   * Never logged or shown.
   */
  apiKey: z.string().optional(),
  /** The API's base URL for the default client, with its version path. */
  baseURL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  /** Seconds (or a string with units, `'90s'`) the default client waits for one response's headers. */
  timeout: DurationSecondsSchema.pipe(z.number().positive()).optional(),
  /** The seed's name for the provider's requests per minute: used when `requestsPerMinute` is not set. */
  rateLimit: z.number().int().positive().optional(),
  /** `OpenAI-Organization` header of the default client. */
  organization: z.string().min(1).optional(),
  /** Headers the default client sends with every request. */
  defaultHeaders: z.record(z.string(), z.string()).optional(),
  /** The client that calls models; default: an `OpenAICompatibleClient` built from the fields above. */
  aiClient: objectWith<AIClient>('an AI client', ['chat', 'embed']).optional(),
  /**
   * Where tasks live; default: a new in-memory store. A durable store (`ai-task-queue/sqlite`)
   * brings back what an earlier process left when the manager starts.
   */
  store: objectWith<TaskStore>('a task store', [
    'commit',
    'insert',
    'update',
    'get',
    'list',
    'listWaiting',
    'findByIdempotencyKeys',
    'readLedger',
  ]).optional(),
  /**
   * Rate windows and budgets shared with the other processes of the queue
   * (`openSharedLimits` of `ai-task-queue/redis`): every process given the same ones counts its
   * takes against them together. Default: none (the limits are this process's own).
   */
  sharedLimits: objectWith<SharedLimits>('shared limits', ['take', 'settle', 'release']).optional(),
  /**
   * A queue shared by several processes (`openSharedQueue` of `ai-task-queue/redis`): once
   * started, this manager is one of its workers, and takes its tasks when it has room to run
   * them. Default: none (the manager runs what is submitted to it).
   */
  sharedQueue: objectWith<SharedQueueOption>('a shared queue', ['connect']).optional(),
  /** The time source of every limit, timeout and statistic; default: the system clock. */
  clock: objectWith<Clock>('a clock', ['now', 'setTimeout', 'clearTimeout']).optional(),
  /** Uniform numbers in [0, 1) for retry jitter; default `Math.random`. */
  random: functionOf<RandomSource>('a function returning a number in [0, 1)').optional(),
  /** Inspection of the whole actor system (`@statelyai/inspect`'s `inspect`, or any observer). */
  inspect: z
    .custom<Observer<InspectionEvent> | ((event: InspectionEvent) => void)>(
      (value) => typeof value === 'function' || (typeof value === 'object' && value !== null),
      { error: 'expected an inspection observer or function' },
    )
    .optional(),
  /** Where the manager logs (settings changes, store errors, stop); default: nowhere. */
  logger: z
    .custom<Logger>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        LOG_LEVELS.every((level) => {
          const method = (value as Record<string, unknown>)[level];
          return method === undefined || typeof method === 'function';
        }),
      { error: 'expected a logger: an object whose debug, info, warn, error are functions' },
    )
    .optional(),
  /** Task types to register besides the built-in ones. */
  taskTypes: z
    .array(TaskTypeDefinitionSchema as unknown as z.ZodType<AnyTaskTypeDefinition>)
    .default([]),
  /** Register the seed's five task types (default true). */
  builtinTaskTypes: z.boolean().default(true),
  /** `stats$` emits at most once per this many milliseconds (or a string with units, `'1s'`). */
  statsIntervalMs: positiveWholeMs.default(250),
}).strict();

/** What `createAITaskManager` and `new AITaskManager` accept. */
export type AITaskManagerOptions = z.input<typeof ManagerOptionsSchema>;
/** The options with every default applied. */
export type ResolvedManagerOptions = z.output<typeof ManagerOptionsSchema>;

/**
 * Options that hold secrets: their values are never echoed in errors. Header values count (an
 * Azure `api-key`, an `Authorization` header), so nothing under `defaultHeaders` is shown.
 */
export const SECRET_OPTIONS = ['apiKey', 'defaultHeaders'] as const;
