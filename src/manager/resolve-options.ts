/**
 * From the options of `new AITaskManager` to the parts it is built of: the options checked, the
 * engine's settings with the provider's rate limit applied, the AI client (the one given, or an
 * `OpenAICompatibleClient` built from the options), the task types to register, and the options
 * as the manager shows them (no API key, header values redacted).
 */

import type { EngineSettingsInput } from '../config/engine-options.js';
import {
  type AITaskManagerOptions,
  type Logger,
  ManagerOptionsSchema,
  type ResolvedManagerOptions,
  SECRET_OPTIONS,
} from '../config/manager-options.js';
import { parseOrThrow, REDACTED } from '../internal/validate.js';
import { OpenAICompatibleClient } from '../providers/openai.js';
import type { AIClient } from '../providers/types.js';
import type { EngineDeps } from '../runtime/engine.js';
import type { TaskTransport } from '../runtime/transport.js';
import { BUILTIN_TASK_TYPES } from '../task-types/builtin/index.js';
import type { AnyTaskTypeDefinition } from '../task-types/types.js';
import { type Clock, systemClock } from '../time/clock.js';

/** What a manager is built of, read from its options. */
export interface ManagerParts {
  /** The engine's limits, budgets and models, the provider's rate limit applied. */
  settings: EngineSettingsInput;
  /** The engine's parts but its `onFinished` hook: the client, the clock, the task types… */
  deps: Omit<EngineDeps, 'onFinished' | 'overrides'> & { clock: Clock };
  /** The options in force as the manager shows them: no API key, header values redacted. */
  shown: Omit<ResolvedManagerOptions, 'apiKey'>;
  /** Where the manager logs; default: nowhere. */
  logger: Logger;
  /** The built-in task types are registered: they count tokens at submit. */
  builtinTaskTypes: boolean;
  statsIntervalMs: number;
}

/**
 * Checks the options and reads the manager's parts from them.
 * @throws ValidationError an option is wrong (secrets are shown as `[redacted]`)
 */
export function resolveManagerOptions(options: AITaskManagerOptions): ManagerParts {
  const parsed = parseOrThrow(ManagerOptionsSchema, options, 'options', {
    redact: SECRET_OPTIONS,
  });
  const {
    apiKey,
    baseURL,
    timeout,
    rateLimit,
    organization,
    defaultHeaders,
    aiClient,
    store,
    sharedLimits,
    sharedQueue,
    clock,
    random,
    inspect,
    logger,
    taskTypes,
    builtinTaskTypes,
    statsIntervalMs,
    ...settings
  } = parsed;
  // The seed's `rateLimit`, or the one a given OpenAICompatibleClient was configured with.
  const clientRateLimit =
    aiClient instanceof OpenAICompatibleClient ? aiClient.config.rateLimit : undefined;
  const providerRpm = rateLimit ?? clientRateLimit;
  if (settings.requestsPerMinute === undefined && providerRpm !== undefined) {
    if (providerRpm >= 1) settings.requestsPerMinute = Math.floor(providerRpm);
    else {
      // Under one a minute (a client's rate may be fractional): one request per 1/rate minutes.
      const window = { requests: 1, windowMs: Math.ceil(60_000 / providerRpm) };
      settings.windows = [...(settings.windows ?? []), window];
    }
  }
  const client: AIClient =
    aiClient ??
    new OpenAICompatibleClient({
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(baseURL === undefined ? {} : { baseURL }),
      ...(timeout === undefined ? {} : { timeout }),
      ...(organization === undefined ? {} : { organization }),
      ...(defaultHeaders === undefined ? {} : { defaultHeaders }),
      model: settings.model,
      embeddingModel: settings.embeddingModel,
    });
  const { apiKey: _secret, ...shown } = parsed;
  // Header values can carry a key too (Azure's `api-key`): only their names are shown.
  if (shown.defaultHeaders !== undefined) {
    shown.defaultHeaders = Object.fromEntries(
      Object.keys(shown.defaultHeaders).map((name) => [name, REDACTED]),
    );
  }
  const types: AnyTaskTypeDefinition[] = [
    ...(builtinTaskTypes ? BUILTIN_TASK_TYPES : []),
    // The definitions as given (the schema checked them; its output is a copy), so that a
    // definition's own methods and fields stay as the user made them.
    ...((options.taskTypes as readonly AnyTaskTypeDefinition[] | undefined) ?? taskTypes),
  ];
  return {
    settings,
    deps: {
      client,
      clock: clock ?? systemClock,
      ...(random === undefined ? {} : { random }),
      ...(store === undefined ? {} : { store }),
      ...(sharedLimits === undefined ? {} : { sharedLimits }),
      ...(sharedQueue === undefined ? {} : { transport: sharedQueue as TaskTransport }),
      ...(inspect === undefined ? {} : { inspect }),
      taskTypes: types,
    },
    shown,
    logger: logger ?? {},
    builtinTaskTypes,
    statsIntervalMs,
  };
}
