/**
 * The command line of `aitq`: `node:util` `parseArgs` (strict: an unknown option is an error),
 * flags mapped to `ManagerOptionsSchema` keys, an optional `aitq.config.json` underneath the
 * flags, and every value validated by the library's own zod schemas. A bad value is one line that
 * names the flag (or the config file's key) and the value received.
 */

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { z } from 'zod';
// The CLI imports only the package's public entries (root, `/config`, `/simulator`):
// `npm run lint:deps` enforces it.
import {
  APIConfigSchema,
  DEFAULT_BASE_URL,
  describeValue,
  isRedactedPath,
  type KeyRoute,
  ManagerOptionsSchema,
  PrioritySchema,
  REDACTED,
  resolveApiKey,
  SECRET_OPTIONS,
  valueAt,
  withHint,
} from '../config/index.js';
import {
  type AITaskManagerOptions,
  type Priority,
  type ResolvedManagerOptions,
  ValidationError,
  type ValidationIssue,
} from '../index.js';
import {
  type ResolvedSimulatorOptions,
  resolveSimulatorOptions,
  type SimulatorOptions,
} from '../providers/simulator/index.js';
import { CliUsageError } from './errors.js';
import { DEFAULT_MAX_RECORD_BYTES, jsonFault, LARGEST_MAX_RECORD_BYTES } from './input.js';

/** The config file read when `--config` is not given and it exists in the working directory. */
export const DEFAULT_CONFIG_FILE = 'aitq.config.json';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** Flags of `analyze` and `run` that set a `ManagerOptionsSchema` key (dotted for nested keys). */
export const MANAGER_FLAGS = {
  concurrency: ['maxConcurrent'],
  rpm: ['requestsPerMinute'],
  rph: ['requestsPerHour'],
  tpm: ['tokensPerMinute'],
  budget: ['budgetLimit'],
  'daily-budget': ['dailyLimit'],
  'hourly-budget': ['hourlyLimit'],
  model: ['model'],
  'base-url': ['baseURL'],
  'max-retries': ['taskDefaults.maxRetries'],
  timeout: ['timeout', 'taskDefaults.timeout'],
} as const satisfies Record<string, readonly string[]>;

/** Flags of `simulate` that set a `SimulatorOptionsSchema` key. */
export const SIMULATOR_FLAGS = {
  port: 'port',
  'sim-rpm': 'limits.requests',
  'sim-tpm': 'limits.tokens',
  'sim-window': 'limits.windowMs',
  latency: 'latency',
  'per-token-ms': 'perOutputTokenMs',
  'error-rate': 'faults.error500',
  'fault-503': 'faults.error503',
  'fault-429': 'faults.error429',
  'fault-timeout': 'faults.timeout',
  'fault-malformed': 'faults.malformed',
  'fault-no-usage': 'faults.noUsage',
  seed: 'seed',
} as const;

const NUMERIC_MANAGER_FLAGS = new Set([
  'concurrency',
  'rpm',
  'rph',
  'tpm',
  'budget',
  'daily-budget',
  'hourly-budget',
  'max-retries',
  'timeout',
]);

const JOB_ONLY = [
  ...Object.keys(MANAGER_FLAGS),
  'simulator',
  'priority',
  'json',
  'progress',
  'quiet',
  'out',
  'dry-run',
  'config',
  'max-record-size',
];
/** Simulator flags that only `simulate` takes; the others also shape an in-process simulator. */
const SIMULATE_ONLY = ['port', 'host'];

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  'api-key': { type: 'string' },
  ...Object.fromEntries(Object.keys(MANAGER_FLAGS).map((f) => [f, { type: 'string' }])),
  simulator: { type: 'boolean' },
  priority: { type: 'string' },
  json: { type: 'boolean' },
  progress: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  out: { type: 'string', short: 'o' },
  'dry-run': { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  'max-record-size': { type: 'string' },
  host: { type: 'string' },
  ...Object.fromEntries(Object.keys(SIMULATOR_FLAGS).map((f) => [f, { type: 'string' }])),
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type Values = Partial<Record<keyof typeof OPTIONS, string | boolean>>;

/** What `analyze` and `run` were asked to do. */
export interface JobArgs {
  command: 'analyze' | 'run';
  file: string;
  /** What the manager gets (validated), before `baseURL` / `apiKey` of an in-process simulator. */
  manager: AITaskManagerOptions;
  /** The same with every default applied. */
  settings: ResolvedManagerOptions;
  /**
   * Run against the built-in simulator in this process (`--simulator`). Never chosen for want of
   * a key: without one (and without a loopback URL) the job is refused.
   */
  simulator: boolean;
  /** The in-process simulator's options (`--latency`, `--error-rate`, `--sim-rpm`…). */
  simulatorOptions: ResolvedSimulatorOptions;
  /** The config file that was read, if any. */
  configFile: string | undefined;
  /** Priority of tasks that set none. */
  priority: Priority | undefined;
  json: boolean;
  progress: ProgressMode;
  quiet: boolean;
  /** Where results go (JSONL). */
  out: string;
  dryRun: boolean;
  /** The largest record of the input file, in bytes (`--max-record-size`, default 64 MiB). */
  maxRecordBytes: number;
}

/** What `aitq` was asked to do. */
export type CliArgs =
  | { command: 'help' }
  | { command: 'version' }
  | { command: 'simulate'; host: string; simulator: ResolvedSimulatorOptions }
  | JobArgs;

/** `<dir>/<name>.results.jsonl` next to the input file. */
export function defaultOutFile(input: string): string {
  const ext = extname(input);
  const stem = ext === '.json' || ext === '.jsonl' ? basename(input, ext) : basename(input);
  return join(dirname(input), `${stem}.results.jsonl`);
}

function usage(message: string): CliUsageError {
  return new CliUsageError(message);
}

/** The first problem, as one line naming the flag (or key) and the value received. */
function issueLine(issues: readonly ValidationIssue[], labelOf: (path: string) => string): string {
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

function numberOf(flag: string, text: string): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw usage(`--${flag}: expected a number (received ${describeValue(text)})`);
  }
  return value;
}

/** Flags that are durations: a number in seconds, or a string with units (`90s`, `1m30s`). */
const DURATION_FLAGS = new Set(['timeout']);

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

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw usage(`${label}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}`);
  }
  let value: unknown;
  // A byte-order mark (Windows editors write one) is not JSON; input files drop it too.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  try {
    value = JSON.parse(text);
  } catch (error) {
    const { message, line, column } = jsonFault(text, error);
    throw usage(`${label}: line ${line}, column ${column}: bad JSON: ${message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw usage(`${label}: expected a JSON object of manager options`);
  }
  return value as Record<string, unknown>;
}

/** `--max-record-size`: a whole number of bytes, up to V8's longest string. */
function maxRecordBytesOf(values: Values): number {
  const text = values['max-record-size'];
  if (typeof text !== 'string') return DEFAULT_MAX_RECORD_BYTES;
  const bytes = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > LARGEST_MAX_RECORD_BYTES) {
    throw usage(
      `--max-record-size: expected a whole number of bytes from 1 to ${LARGEST_MAX_RECORD_BYTES} (received ${describeValue(text)})`,
    );
  }
  return bytes;
}

/** `fixed:50`, `uniform:20-80`, `lognormal:100` or `lognormal:100,0.8` (or a bare number: fixed). */
export function parseLatency(text: string): unknown {
  const bad = () =>
    usage(
      `--latency: expected fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN[,SIGMA] (received ${describeValue(text)})`,
    );
  const [kind, spec] = text.includes(':') ? text.split(':', 2) : ['fixed', text];
  const numbers = (spec ?? '').split(kind === 'uniform' ? '-' : ',').map((part) => {
    const value = part.trim() === '' ? Number.NaN : Number(part);
    if (!Number.isFinite(value)) throw bad();
    return value;
  });
  const [a, b] = numbers;
  if (kind === 'fixed' && numbers.length === 1) return { kind, ms: a };
  if (kind === 'uniform' && numbers.length === 2) return { kind, minMs: a, maxMs: b };
  if (kind === 'lognormal' && numbers.length <= 2) {
    return b === undefined ? { kind, medianMs: a } : { kind, medianMs: a, sigma: b };
  }
  throw bad();
}

/** `--api-key`; an empty one (`--api-key ""`) counts as none. */
function apiKeyFlag(values: Values): string | undefined {
  const key = values['api-key'];
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** Where `path` leads: the real path of the file, or of its folder when it does not exist yet. */
function realPathOf(path: string, cwd: string): string {
  const full = resolve(cwd, path);
  try {
    return realpathSync(full);
  } catch {
    try {
      return join(realpathSync(dirname(full)), basename(full));
    } catch {
      return full;
    }
  }
}

/** Whether `out` would write over `input`: the same path once resolved, or the same file. */
function isSameFile(input: string, out: string, cwd: string): boolean {
  if (realPathOf(input, cwd) === realPathOf(out, cwd)) return true;
  try {
    const a = statSync(resolve(cwd, input));
    const b = statSync(resolve(cwd, out));
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

function simulateArgs(values: Values): CliArgs {
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  if (host.trim() === '') throw usage('--host: expected a host name or address (received "")');
  return { command: 'simulate', host, simulator: simulatorOptionsOf(values, apiKeyFlag(values)) };
}

/** The simulator flags given, as validated simulator options. */
function simulatorOptionsOf(values: Values, apiKey: string | undefined): ResolvedSimulatorOptions {
  const options: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(SIMULATOR_FLAGS)) {
    const text = values[flag as keyof Values];
    if (typeof text !== 'string') continue;
    setPath(options, key, flag === 'latency' ? parseLatency(text) : numberOf(flag, text));
  }
  if (apiKey !== undefined) options.apiKey = apiKey;
  try {
    return resolveSimulatorOptions(options as SimulatorOptions);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const flagOf = (path: string) => {
      const entry = Object.entries(SIMULATOR_FLAGS).find(
        ([, key]) => path === key || path.startsWith(`${key}.`),
      );
      if (path === 'apiKey') return '--api-key';
      if (path === 'faults') return '--error-rate and --fault-*';
      return entry === undefined ? path : `--${entry[0]}`;
    };
    throw usage(issueLine(error.issues, flagOf));
  }
}

/** What the refusal of a job without an API key (and without a URL) tells to do instead. */
export const NO_KEY_HOW_TO =
  'set OPENAI_API_KEY or pass --api-key; use --base-url for a local server (e.g. http://127.0.0.1:11434/v1, no key needed); or --simulator for a trial run on the built-in simulator (simulated answers, nothing sent)';

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
  refuse: (
    input: Record<string, unknown>,
    issues: readonly z.core.$ZodIssue[],
    schema: z.ZodType,
  ) => CliUsageError,
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

function jobArgs(
  command: 'analyze' | 'run',
  file: string,
  values: Values,
  env: NodeJS.ProcessEnv,
  cwd: string,
): JobArgs {
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
  const refuse = (
    input: Record<string, unknown>,
    zodIssues: readonly z.core.$ZodIssue[],
    schema: z.ZodType,
  ): CliUsageError => {
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

  const parsed = ManagerOptionsSchema.safeParse(merged);
  if (!parsed.success) throw refuse(merged, parsed.error.issues, ManagerOptionsSchema);

  const priorityText = values.priority;
  let priority: Priority | undefined;
  if (typeof priorityText === 'string') {
    const checked = PrioritySchema.safeParse(priorityText.toUpperCase());
    if (!checked.success) {
      throw usage(
        `--priority: expected LOW, MEDIUM, HIGH or URGENT (received ${describeValue(priorityText)})`,
      );
    }
    priority = checked.data as Priority;
  }
  const progress = values.progress ?? 'auto';
  if (!PROGRESS_MODES.includes(progress as ProgressMode)) {
    throw usage(
      `--progress: expected auto, tty, plain or none (received ${describeValue(progress)})`,
    );
  }
  // Only when asked for: a job without a key is refused below, never answered by the simulator.
  const simulator = values.simulator === true;
  const simulatorFlag = Object.keys(SIMULATOR_FLAGS).find(
    (flag) => typeof values[flag as keyof Values] === 'string',
  );
  if (!simulator && simulatorFlag !== undefined) {
    throw usage(
      `option '--${simulatorFlag}' shapes the built-in simulator; add --simulator to use it`,
    );
  }
  const dryRun = values['dry-run'] === true;
  const out = typeof values.out === 'string' ? values.out : defaultOutFile(file);
  if (isSameFile(file, out, cwd)) {
    throw usage(
      `--out: ${describeValue(out)} is the input file (${realPathOf(out, cwd)}); the results would overwrite it: choose another file`,
    );
  }
  const maxRecordBytes = maxRecordBytesOf(values);
  // Last, once every option is known good: where the calls go, and with which key. A dry run
  // builds no client, so it needs no key.
  if (!simulator && !dryRun) {
    checkAPIConfig(merged, parsed.data, keyRoute, labelOf, refuse);
  }
  return {
    command,
    file,
    manager: merged as AITaskManagerOptions,
    settings: parsed.data,
    simulator,
    simulatorOptions: simulatorOptionsOf(values, undefined),
    configFile,
    priority,
    json: values.json === true,
    progress: progress as ProgressMode,
    quiet: values.quiet === true,
    out,
    dryRun,
    maxRecordBytes,
  };
}

/** Lets a negative number follow an option (`--budget -1`), which `parseArgs` finds ambiguous. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const next = argv[i + 1];
    const name = token.startsWith('--') ? token.slice(2) : undefined;
    const option = name === undefined ? undefined : OPTIONS[name as keyof typeof OPTIONS];
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${token}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

function parseTokens(argv: readonly string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(argv),
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Values, positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown !== undefined) throw usage(`unknown option '${unknown}' (see aitq --help)`);
    const missing = /Option '(-\S+?)(?:, -\S+)?(?: <value>)?' argument missing/.exec(message)?.[1];
    if (missing !== undefined) throw usage(`option '${missing}' needs a value`);
    throw usage(message.split('\n')[0] ?? message);
  }
}

/** Whether `argv` asks for `flags` before any `--`, even among options `parseArgs` would refuse. */
function asks(argv: readonly string[], flags: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((token) => flags.includes(token));
}

/**
 * Parses `argv` (without `node` and the script).
 *
 * @throws CliUsageError with the one line to print: an unknown option or command, a missing file
 * argument, an option that does not apply to the command, a bad value (naming the flag or the
 * config file's key, and the value received), a config file that cannot be read.
 */
export function parseCliArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): CliArgs {
  if (asks(argv, ['--help', '-h'])) return { command: 'help' };
  if (asks(argv, ['--version', '-v'])) return { command: 'version' };
  const { values, positionals } = parseTokens(argv);
  const [command, ...rest] = positionals;
  if (command === undefined)
    throw usage('missing a command: analyze, run or simulate (see aitq --help)');
  if (command !== 'analyze' && command !== 'run' && command !== 'simulate') {
    throw usage(`unknown command '${command}' (expected analyze, run or simulate)`);
  }
  const given = Object.keys(values);
  const foreign = given.find((f) =>
    (command === 'simulate' ? JOB_ONLY : SIMULATE_ONLY).includes(f),
  );
  if (foreign !== undefined) throw usage(`option '--${foreign}' does not apply to '${command}'`);
  if (command === 'simulate') {
    if (rest.length > 0)
      throw usage(`'simulate' takes no file (received ${describeValue(rest[0])})`);
    return simulateArgs(values);
  }
  const [file, ...extra] = rest;
  if (file === undefined) throw usage(`'${command}' needs an input file: aitq ${command} <file>`);
  if (extra.length > 0)
    throw usage(`'${command}' takes one file (received also ${describeValue(extra[0])})`);
  return jobArgs(command, file, values, env, cwd);
}

/** `aitq --help`. */
export const HELP = `aitq: run LLM tasks from a file under concurrency, rate limits and budgets

Usage:
  aitq analyze <file> [options]   one REPOSITORY_ANALYSIS task per repository (JSON array or JSONL)
  aitq run <file> [options]       any task types, JSONL lines
                                  { taskType, data, priority?, config?, metadata? }
  aitq simulate [options]         the built-in OpenAI-compatible simulator on a port
  aitq --help | --version         (-h, -v)

Options of analyze and run:
  --concurrency <n>      calls running at once (maxConcurrent)
  --rpm <n>              requests per minute (requestsPerMinute)
  --rph <n>              requests per hour (requestsPerHour)
  --tpm <n>              tokens per minute (tokensPerMinute)
  --budget <usd>         total budget in dollars (budgetLimit)
  --daily-budget <usd>   per calendar day (dailyLimit)
  --hourly-budget <usd>  per calendar hour (hourlyLimit)
  --model <name>         chat model (model)
  --base-url <url>       OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 (baseURL)
  --api-key <key>        API key (apiKey); default OPENAI_API_KEY; "" counts as none
  --simulator            use the built-in simulator in this process, whatever the key;
                         without it, a job with no key and no loopback --base-url is refused
  --priority <p>         LOW, MEDIUM, HIGH or URGENT for tasks that set none
  --max-retries <n>      retries after the first attempt (taskDefaults.maxRetries)
  --timeout <s>          how long one attempt may take: seconds, or with units (90s, 1m30s)
  -o, --out <file>       results as JSONL (default <input>.results.jsonl next to the input;
                         never the input file itself)
  --json                 print the summary as one JSON object
  --progress <mode>      auto, tty, plain or none (default auto; progress goes to stderr)
  -q, --quiet            no progress and no notices: only the summary
  --dry-run              estimate cost and time, send nothing
  -c, --config <file>    manager options as JSON (default ./${DEFAULT_CONFIG_FILE} if present);
                         flags win over the file
  --max-record-size <bytes>
                         the largest line (or array item) of the input file, in bytes
                         (default ${DEFAULT_MAX_RECORD_BYTES}: 64 MiB); a larger one is bad input

Options of simulate (all but --port, --host and --api-key also shape the built-in simulator
of analyze and run when it is used):
  --port <n>             port (default 0: a free one)    --host <addr>  default 127.0.0.1
  --sim-rpm <n>          requests per window             --sim-tpm <n>  tokens per window
  --sim-window <ms>      window length (default 60000)
  --latency <spec>       fixed:MS | uniform:MIN-MAX | lognormal:MEDIAN[,SIGMA]
  --per-token-ms <ms>    extra wait per generated token
  --error-rate <p>       probability of a 500           --fault-503 <p>, --fault-429 <p>,
  --fault-timeout <p>, --fault-malformed <p>, --fault-no-usage <p>   other faults (0..1)
  --seed <n>             seed of answers, faults and latency
  --api-key <key>        require this key (401 otherwise)

Exit codes: 0 every task completed, 1 some tasks failed, were cancelled or never ended
(e.g. the provider refused the API key: 401/403 stops the job), 2 bad input, 130 interrupted.
`;
