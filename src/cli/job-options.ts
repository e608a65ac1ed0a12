/**
 * The manager's options of `analyze` and `run`: an optional `aitq.config.json` underneath the
 * flags, the API key routed as the client routes it, and every value validated by the library's
 * own zod schemas. A bad value is one line that names the flag (or the config file's key) and the
 * value received.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
// The CLI imports only the package's public entries (root, `/config`, `/simulator`):
// `npm run lint:deps` enforces it.
import {
  APIConfigSchema,
  DEFAULT_BASE_URL,
  describeValue,
  isRedactedPath,
  type KeyRoute,
  ManagerOptionsSchema,
  REDACTED,
  resolveApiKey,
  SECRET_OPTIONS,
  valueAt,
  withHint,
} from '../config/index.js';
import type { AITaskManagerOptions, ResolvedManagerOptions, ValidationIssue } from '../index.js';
import { StructuredOutputModeSchema } from '../task-types/index.js';
import type { CliUsageError } from './errors.js';
import {
  DURATION_FLAGS,
  MANAGER_FLAGS,
  NUMERIC_MANAGER_FLAGS,
  usage,
  type Values,
} from './flags.js';
import { readJsonFile } from './input.js';
import type { StructuredSettings } from './own-task-type.js';

/** The config file read when `--config` is not given and it exists in the working directory. */
export const DEFAULT_CONFIG_FILE = 'aitq.config.json';

/** What the refusal of a job without an API key (and without a URL) tells to do instead. */
export const NO_KEY_HOW_TO =
  'set OPENAI_API_KEY or pass --api-key; use --base-url for a local server (e.g. http://127.0.0.1:11434/v1, no key needed); or --simulator for a trial run on the built-in simulator (simulated answers, nothing sent)';

/** The first problem, as one line naming the flag (or key) and the value received. */
export function issueLine(
  issues: readonly ValidationIssue[],
  labelOf: (path: string) => string,
): string {
  const issue = issues[0];
  if (issue === undefined) return 'invalid options';
  const { received } = issue;
  const shown =
    received === '[redacted]'
      ? ' (received [redacted])'
      : received !== null && typeof received === 'object'
        ? ''
        : ` (received ${describeValue(received)})`;
  return `${labelOf(issue.path)}: ${issue.message}${shown}`;
}

export function numberOf(flag: string, text: string): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw usage(`--${flag}: expected a number (received ${describeValue(text)})`);
  }
  return value;
}

/**
 * A numeric flag's value; a duration flag's text that is not a number is passed on as it is,
 * and the options schema reads it as a duration (or refuses it, naming the flag).
 */
function numberOrDuration(flag: string, text: string): number | string {
  if (DURATION_FLAGS.has(flag) && text.trim() !== '' && !Number.isFinite(Number(text))) {
    return text;
  }
  return numberOf(flag, text);
}

export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    // Something other than an object in the way (`"taskDefaults": "x"` in the config file) is
    // left for the schema to refuse; a flag must not quietly replace it.
    if (next !== undefined && (next === null || typeof next !== 'object' || Array.isArray(next))) {
      return;
    }
    const child = { ...((next as Record<string, unknown> | undefined) ?? {}) };
    node[key] = child;
    node = child;
  }
  node[keys[keys.length - 1] as string] = value;
}

function readConfigFile(path: string, label: string): Record<string, unknown> {
  const value = readJsonFile(path, label);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw usage(`${label}: expected a JSON object of manager options`);
  }
  return value as Record<string, unknown>;
}

/** `--api-key`; an empty one (`--api-key ""`) counts as none. */
export function apiKeyFlag(values: Values): string | undefined {
  const key = values['api-key'];
  return typeof key === 'string' && key !== '' ? key : undefined;
}

type Refuse = (
  input: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
) => CliUsageError;

/**
 * The client settings a real endpoint gets, checked as the client will check them
 * (`APIConfigSchema`), so that a job never starts (nor opens its results file) to fail on them.
 * A key is needed unless the URL is a loopback address: `route` is the client's own rule
 * (`resolveApiKey`), applied by {@link routeApiKey}.
 */
function checkAPIConfig(
  merged: Record<string, unknown>,
  settings: ResolvedManagerOptions,
  route: KeyRoute,
  labelOf: (path: string) => string,
  refuse: Refuse,
): void {
  const baseURL = settings.baseURL ?? route.baseURL;
  if (route.source === 'none' && merged.baseURL === undefined) {
    // No URL given at all (nor a key): the job would go to OpenAI, or to OPENAI_BASE_URL.
    throw usage(`${route.problem}; ${NO_KEY_HOW_TO}`);
  }
  if (route.source === 'none') {
    throw usage(
      `${labelOf('baseURL')}: ${route.problem}; pass --api-key or set apiKey in the config file, or use --simulator (received ${describeValue(baseURL)})`,
    );
  }
  const config: Record<string, unknown> = {
    baseURL,
    model: settings.model,
    embeddingModel: settings.embeddingModel,
  };
  for (const key of ['apiKey', 'timeout', 'organization', 'defaultHeaders'] as const) {
    if (settings[key] !== undefined) config[key] = settings[key];
  }
  const checked = APIConfigSchema.safeParse(config);
  if (!checked.success) {
    throw refuse(
      { ...config, baseURL: merged.baseURL ?? baseURL },
      checked.error.issues,
      APIConfigSchema,
    );
  }
}

/**
 * Which key the job's client gets, by the client's own rule (`resolveApiKey`) with this command
 * line's environment: `--api-key`, else the config file's `apiKey` (an empty one is none),
 * else `OPENAI_API_KEY` only when the base URL is the environment's endpoint (`OPENAI_BASE_URL`,
 * else OpenAI's). A key goes into `merged` with the URL it was resolved for, so that the client
 * sends it exactly there; `flagOfKey` learns where each came from.
 */
function routeApiKey(
  merged: Record<string, unknown>,
  flagOfKey: Map<string, string>,
  flagKey: string | undefined,
  env: NodeJS.ProcessEnv,
): KeyRoute {
  // An empty key (in the config file, or `--api-key ""`) is no key, as it is for the client.
  if (merged.apiKey === '') delete merged.apiKey;
  if (flagKey !== undefined) {
    merged.apiKey = flagKey;
    flagOfKey.set('apiKey', '--api-key');
  }
  // A key or URL of the wrong type is the options schema's to refuse; the rule sees none.
  const given = {
    apiKey: typeof merged.apiKey === 'string' ? merged.apiKey : undefined,
    baseURL: typeof merged.baseURL === 'string' ? merged.baseURL : undefined,
  };
  const route = resolveApiKey(given, env);
  if (route.source === 'environment' && merged.apiKey === undefined) {
    merged.apiKey = route.apiKey;
    flagOfKey.set('apiKey', 'OPENAI_API_KEY');
  }
  // A key goes to the URL it was resolved for (`OPENAI_BASE_URL` or OpenAI's when none is given).
  const keyed = route.source === 'explicit' || route.source === 'environment';
  if (keyed && merged.baseURL === undefined) {
    merged.baseURL = route.baseURL;
    if (route.baseURL !== DEFAULT_BASE_URL) flagOfKey.set('baseURL', 'OPENAI_BASE_URL');
  }
  return route;
}

/**
 * What the config file holds: the manager's options, and the chat task types' structured-output
 * settings (`structuredOutputs`, `countSchemaTokens`: the factories' options, which the CLI gives
 * the built-in chat types and an own `--schema` prompt). A misspelt key of either is refused with
 * the nearest known key.
 */
const ConfigFileSchema = ManagerOptionsSchema.extend({
  structuredOutputs: StructuredOutputModeSchema.optional(),
  countSchemaTokens: z.boolean({ error: 'expected true or false' }).optional(),
});

/** The manager's options of a job, validated; the client's settings are checked on demand. */
export interface JobManagerOptions {
  /** What the manager gets (validated). */
  manager: AITaskManagerOptions;
  /** The same with every default applied. */
  settings: ResolvedManagerOptions;
  /** The config file that was read, if any. */
  configFile: string | undefined;
  /** The config file's structured-output settings of the chat task types. */
  structured: StructuredSettings;
  /**
   * Checks where the calls go and with which key (as the client will); called last, once every
   * other option is known good, and only for a job that builds a client.
   * @throws CliUsageError
   */
  checkClient(): void;
}

/**
 * The config file (`--config`, else `./aitq.config.json` when it exists) with the manager flags
 * laid over it, key by key, and the API key routed.
 *
 * @throws CliUsageError an unreadable config file, a bad value (naming the flag or the key)
 */
export function jobManagerOptions(
  values: Values,
  env: NodeJS.ProcessEnv,
  cwd: string,
): JobManagerOptions {
  const explicitConfig = typeof values.config === 'string' ? values.config : undefined;
  const defaultConfig = join(cwd, DEFAULT_CONFIG_FILE);
  const configFile =
    explicitConfig ?? (existsSync(defaultConfig) ? DEFAULT_CONFIG_FILE : undefined);
  const fromConfig =
    configFile === undefined ? {} : readConfigFile(explicitConfig ?? defaultConfig, configFile);

  const merged: Record<string, unknown> = { ...fromConfig };
  /** Which flag set each key, to name it in errors. */
  const flagOfKey = new Map<string, string>();
  for (const [flag, keys] of Object.entries(MANAGER_FLAGS)) {
    const text = values[flag as keyof Values];
    if (typeof text !== 'string') continue;
    const value = NUMERIC_MANAGER_FLAGS.has(flag) ? numberOrDuration(flag, text) : text;
    for (const key of keys) {
      setPath(merged, key, value);
      flagOfKey.set(key, `--${flag}`);
    }
  }
  const keyRoute = routeApiKey(merged, flagOfKey, apiKeyFlag(values), env);

  /** The flag (or the config file's key) that set `path`, for error messages. */
  const labelOf = (path: string): string => {
    const flag = flagOfKey.get(path);
    if (flag !== undefined) return flag;
    return configFile === undefined ? path : `${configFile}: ${path === '' ? '(root)' : path}`;
  };
  /** Zod issues over `input` as one usage error naming the flag or key and the value. */
  const refuse: Refuse = (input, zodIssues, schema) => {
    const issues: ValidationIssue[] = zodIssues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const received = valueAt(input, issue.path);
      return {
        path,
        message: withHint(issue, schema),
        received: isRedactedPath(path, SECRET_OPTIONS) ? REDACTED : received,
      };
    });
    return usage(issueLine(issues, labelOf));
  };

  const parsed = ConfigFileSchema.safeParse(merged);
  if (!parsed.success) throw refuse(merged, parsed.error.issues, ConfigFileSchema);
  const { structuredOutputs, countSchemaTokens, ...settings } = parsed.data;
  const structured: StructuredSettings = {
    ...(structuredOutputs === undefined ? {} : { structuredOutputs }),
    ...(countSchemaTokens === undefined ? {} : { countSchemaTokens }),
  };
  delete merged.structuredOutputs;
  delete merged.countSchemaTokens;
  return {
    manager: merged as AITaskManagerOptions,
    settings,
    configFile,
    structured,
    checkClient: () => checkAPIConfig(merged, settings, keyRoute, labelOf, refuse),
  };
}
