/**
 * `ai-task-queue/config`: the options' zod schemas and the helpers that read options the way the
 * library does, for an app that takes them from a file or flags (the `aitq` CLI does). Messages
 * name the option and the value received; secrets (`SECRET_OPTIONS`) are shown as `[redacted]`.
 * See `docs/api.md` and `docs/configuration.md`.
 */

export {
  DurationHoursSchema,
  DurationMsSchema,
  type DurationSchema,
  DurationSecondsSchema,
  type DurationString,
  type DurationUnit,
  parseDurationMs,
} from '../internal/duration.js';
export {
  closestName,
  describeValue,
  isRedactedPath,
  OwnKeysRecordSchema,
  type ParseOptions,
  parseOrThrow,
  REDACTED,
  valueAt,
  withHint,
} from '../internal/validate.js';
export {
  type APIConfig,
  APIConfigSchema,
  DEFAULT_BASE_URL,
  type KeyEnvironment,
  type KeyRoute,
  type ResolvedAPIConfig,
  resolveApiKey,
} from '../providers/openai.js';
export {
  AdjustableSettingsSchema,
  EngineSettingsSchema,
  PrioritySchema,
  TaskConfigSchema,
  WindowLimitSchema,
} from './engine-options.js';
export {
  ManagerOptionsSchema,
  type ResolvedManagerOptions,
  SECRET_OPTIONS,
} from './manager-options.js';
