/**
 * The flags `aitq` knows, and the tokens of a command line read against them with `node:util`
 * `parseArgs` (strict: an unknown option is an error). What each flag means is decided in
 * `args.ts` (the job and `simulate`) and `job-options.ts` (the manager's options).
 */

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closestName } from '../config/index.js';
import { CliUsageError } from './errors.js';

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

/** Manager flags whose value is a number (or, for a duration flag, a string with units). */
export const NUMERIC_MANAGER_FLAGS = new Set([
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

/** Flags that are durations: a number in seconds, or a string with units (`90s`, `1m30s`). */
export const DURATION_FLAGS = new Set(['timeout']);

/** Flags only `run` takes: an own task type for plain records (`own-task-type.ts`). */
export const RUN_ONLY = ['prompt', 'prompt-file', 'schema', 'task-type'];

/** Flags only `analyze` and `run` take. */
export const JOB_ONLY = [
  ...RUN_ONLY,
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
  'store',
  'no-store',
  'fresh',
  'key',
  'shared-limits',
  'shared-prefix',
  'redis',
  'prefix',
  'queue',
  'dashboard',
  'dashboard-port',
  'dashboard-wait',
  'inspect',
  'inspect-url',
];
/** Simulator flags that only `simulate` takes; the others also shape an in-process simulator. */
export const SIMULATE_ONLY = ['port', 'host'];

/** What `worker` takes: the manager's options, the in-process simulator, the queue. */
export const WORKER_FLAGS = [
  ...Object.keys(MANAGER_FLAGS),
  ...Object.keys(SIMULATOR_FLAGS).filter((flag) => !SIMULATE_ONLY.includes(flag)),
  'api-key',
  'simulator',
  'config',
  'quiet',
  'redis',
  'prefix',
  'queue',
  'task-types',
];

/** Flags only `worker` takes. */
export const WORKER_ONLY = ['task-types'];

/** `analyze` flags that make no sense when its tasks go to a shared queue (`--redis`). */
export const NOT_WITH_REDIS = [
  'simulator',
  'store',
  'no-store',
  'fresh',
  'shared-limits',
  'shared-prefix',
  'dashboard',
  'dashboard-port',
  'dashboard-wait',
  'inspect',
  'inspect-url',
  'dry-run',
  ...Object.keys(SIMULATOR_FLAGS),
];

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
  store: { type: 'string' },
  'no-store': { type: 'boolean' },
  fresh: { type: 'boolean' },
  key: { type: 'string' },
  'shared-limits': { type: 'string' },
  'shared-prefix': { type: 'string' },
  redis: { type: 'string' },
  prefix: { type: 'string' },
  queue: { type: 'string' },
  'task-types': { type: 'string' },
  dashboard: { type: 'boolean' },
  'dashboard-port': { type: 'string' },
  'dashboard-wait': { type: 'boolean' },
  inspect: { type: 'boolean' },
  'inspect-url': { type: 'string' },
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  schema: { type: 'string' },
  'task-type': { type: 'string' },
  host: { type: 'string' },
  ...Object.fromEntries(Object.keys(SIMULATOR_FLAGS).map((f) => [f, { type: 'string' }])),
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** The flags given, by name (without `--`). */
export type Values = Partial<Record<keyof typeof OPTIONS, string | boolean>>;

export function usage(message: string): CliUsageError {
  return new CliUsageError(message);
}

/**
 * Whether the built-in simulator is asked for (`--simulator`); a flag that shapes it without it
 * is refused.
 * @throws CliUsageError naming the flag
 */
export function simulatorAsked(values: Values): boolean {
  const simulator = values.simulator === true;
  const simulatorFlag = Object.keys(SIMULATOR_FLAGS).find(
    (flag) => typeof values[flag as keyof Values] === 'string',
  );
  if (!simulator && simulatorFlag !== undefined) {
    throw usage(
      `option '--${simulatorFlag}' shapes the built-in simulator; add --simulator to use it`,
    );
  }
  return simulator;
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

/**
 * The flags and positionals of `argv`.
 * @throws CliUsageError an unknown option, an option without its value
 */
export function parseTokens(argv: readonly string[]): { values: Values; positionals: string[] } {
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
    if (unknown !== undefined) throw unknownOption(unknown);
    const missing = /Option '(-\S+?)(?:, -\S+)?(?: <value>)?' argument missing/.exec(message)?.[1];
    if (missing !== undefined) throw usage(`option '${missing}' needs a value`);
    throw usage(message.split('\n')[0] ?? message);
  }
}

/** `unknown option '--concurency' (did you mean --concurrency?)`, or `(see aitq --help)`. */
function unknownOption(option: string): CliUsageError {
  const near = option.startsWith('--')
    ? closestName(option.slice(2), Object.keys(OPTIONS))
    : undefined;
  const hint = near === undefined ? 'see aitq --help' : `did you mean --${near}?`;
  return usage(`unknown option '${option}' (${hint})`);
}

/** Whether `argv` asks for `flags` before any `--`, even among options `parseArgs` would refuse. */
export function asks(argv: readonly string[], flags: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((token) => flags.includes(token));
}
