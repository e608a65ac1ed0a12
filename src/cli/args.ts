/**
 * The command line of `aitq`: the flags (`flags.ts`) read into what `analyze`, `run` and
 * `simulate` were asked to do. The manager's options come from `job-options.ts` (config file
 * under flags, validated by the library's schemas); the simulator's, the results file, the store
 * and the rest are checked here. A bad value is one line that names the flag and the value.
 */

import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { closestName, describeValue, PrioritySchema } from '../config/index.js';
import {
  type AITaskManagerOptions,
  type Priority,
  type ResolvedManagerOptions,
  ValidationError,
} from '../index.js';
import {
  type ResolvedSimulatorOptions,
  resolveSimulatorOptions,
  type SimulatorOptions,
} from '../providers/simulator/index.js';
import {
  asks,
  JOB_ONLY,
  NOT_WITH_REDIS,
  PROGRESS_MODES,
  type ProgressMode,
  parseTokens,
  RUN_ONLY,
  SIMULATE_ONLY,
  SIMULATOR_FLAGS,
  simulatorAsked,
  usage,
  type Values,
  WORKER_ONLY,
} from './flags.js';
import { COMMANDS, type Command } from './help.js';
import { DEFAULT_MAX_RECORD_BYTES, LARGEST_MAX_RECORD_BYTES } from './input.js';
import { apiKeyFlag, issueLine, jobManagerOptions, numberOf, setPath } from './job-options.js';
import { type OwnTaskOptions, ownTaskOptionsOf, type StructuredSettings } from './own-task-type.js';
import { STDIO } from './stdio.js';
import { type WatchArgs, watchArgsOf } from './watch.js';
import { type QueueArgs, queueOf, type WorkerArgs, workerArgs } from './worker-args.js';

export { PROGRESS_MODES, type ProgressMode } from './flags.js';
export { DEFAULT_CONFIG_FILE, NO_KEY_HOW_TO } from './job-options.js';

/** What `analyze` and `run` were asked to do. */
export interface JobArgs {
  command: 'analyze' | 'run';
  /** The input file as given; `-` is stdin. */
  file: string;
  /**
   * The input can be read only once (stdin, `-`, or a pipe or device such as `/dev/stdin`): it is
   * copied to a temporary file first, then read like a file.
   */
  spool: boolean;
  /** `run` with an own task type for plain records (`--prompt`, `--schema`, `--task-type`). */
  own: OwnTaskOptions | undefined;
  /** The config file's structured-output settings of the chat task types. */
  structured: StructuredSettings;
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
  /** Where results go (JSONL); `-` is stdout. */
  out: string;
  dryRun: boolean;
  /** The largest record of the input file, in bytes (`--max-record-size`, default 64 MiB). */
  maxRecordBytes: number;
  /**
   * The SQLite store the job keeps its tasks in, to resume from (`--store`, default `<out>.db`);
   * `undefined`: in memory (`--no-store`, or results going to a device or a pipe).
   */
  store: string | undefined;
  /**
   * Limits shared with other runs (`--shared-limits <redis url>`, `--shared-prefix`): every run
   * given the same ones keeps the rate windows and budgets together.
   */
  shared: { url: string; prefix: string } | undefined;
  /**
   * `analyze --redis <url>`: the tasks go to this shared queue, for its workers (`aitq worker`)
   * to run; this process submits them, waits and writes the results.
   */
  queue: QueueArgs | undefined;
  /** Delete the store and start over (`--fresh`). */
  fresh: boolean;
  /** The input record's field whose value keys each task (`--key`), as a path of keys. */
  key: readonly string[] | undefined;
  /** `--dashboard…` and `--inspect…`. */
  watch: WatchArgs;
}

/** What `aitq` was asked to do. */
export type CliArgs =
  | { command: 'help'; topic?: Command }
  | { command: 'version' }
  | { command: 'simulate'; host: string; simulator: ResolvedSimulatorOptions }
  | WorkerArgs
  | JobArgs;

/** `<dir>/<name>.results.jsonl` next to the input file. */
export function defaultOutFile(input: string): string {
  const ext = extname(input);
  const stem = ext === '.json' || ext === '.jsonl' ? basename(input, ext) : basename(input);
  return join(dirname(input), `${stem}.results.jsonl`);
}

/** The store next to the results file: `<out>.db`. */
export function defaultStoreFile(out: string): string {
  return `${out}.db`;
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

/** Whether `a` and `b` are the same file: the same path once resolved, or the same inode. */
function isSameFile(a: string, b: string, cwd: string): boolean {
  if (realPathOf(a, cwd) === realPathOf(b, cwd)) return true;
  try {
    const one = statSync(resolve(cwd, a));
    const other = statSync(resolve(cwd, b));
    return one.dev === other.dev && one.ino === other.ino;
  } catch {
    return false;
  }
}

/** Whether `path` exists and is something other than a regular file (a device, a pipe…). */
function isSpecialFile(path: string, cwd: string): boolean {
  try {
    const info = statSync(resolve(cwd, path), { throwIfNoEntry: false });
    return info !== undefined && !info.isFile() && !info.isDirectory();
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

/**
 * `--store`, `--no-store`: the store's path, or `undefined` for none. By default the store is
 * `<out>.db`, unless the results go to something other than a file (`-o -`, `-o /dev/stdout`): no
 * store is made beside a device. The store is never the input or the results file.
 */
function storeOf(values: Values, file: string, out: string, cwd: string): string | undefined {
  const flag = values.store;
  if (values['no-store'] === true) {
    if (typeof flag === 'string') throw usage('--store and --no-store: choose one');
    return undefined;
  }
  if (typeof flag !== 'string') {
    return out === STDIO || isSpecialFile(out, cwd) ? undefined : defaultStoreFile(out);
  }
  if (flag.trim() === '') throw usage('--store: expected a file path (received "")');
  for (const [other, what] of [
    [file, 'the input file'],
    [out, 'the results file'],
  ] as const) {
    if (other !== STDIO && isSameFile(flag, other, cwd)) {
      throw usage(`--store: ${describeValue(flag)} is ${what}: choose another file`);
    }
  }
  return flag;
}

/** `--shared-limits redis://…`, `--shared-prefix name`: the limits shared with other runs. */
function sharedOf(values: Values): { url: string; prefix: string } | undefined {
  const url = values['shared-limits'];
  const prefix = values['shared-prefix'];
  if (typeof url !== 'string') {
    if (typeof prefix === 'string') throw usage('--shared-prefix: give --shared-limits too');
    return undefined;
  }
  if (!/^rediss?:\/\/./.test(url)) {
    throw usage(
      `--shared-limits: expected a redis:// or rediss:// URL (received ${describeValue(url)})`,
    );
  }
  const name = typeof prefix === 'string' ? prefix : 'aitq';
  if (!/^[A-Za-z0-9_.:{}-]{1,100}$/.test(name)) {
    throw usage(
      `--shared-prefix: expected 1 to 100 letters, digits or _ - . : { } (received ${describeValue(name)})`,
    );
  }
  return { url, prefix: name };
}

/** `--key metadata.id`: the path of keys into each input record. */
function keyOf(values: Values): string[] | undefined {
  const text = values.key;
  if (typeof text !== 'string') return undefined;
  const path = text.split('.');
  if (path.some((part) => part.trim() === '' || part === '__proto__')) {
    throw usage(
      `--key: expected a field name, or a dotted path such as metadata.id (received ${describeValue(text)})`,
    );
  }
  return path;
}

function jobArgs(
  command: 'analyze' | 'run',
  file: string,
  values: Values,
  env: NodeJS.ProcessEnv,
  cwd: string,
): JobArgs {
  const options = jobManagerOptions(values, env, cwd);

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
  const simulator = simulatorAsked(values);
  const dryRun = values['dry-run'] === true;
  // Input that can be read only once has no file to put the results beside: stdout by default.
  const spool = file === STDIO || isSpecialFile(file, cwd);
  const out = typeof values.out === 'string' ? values.out : spool ? STDIO : defaultOutFile(file);
  if (out.trim() === '') throw usage('--out: expected a file path, or - for stdout (received "")');
  if (!spool && out !== STDIO && isSameFile(file, out, cwd)) {
    throw usage(
      `--out: ${describeValue(out)} is the input file (${realPathOf(out, cwd)}); the results would overwrite it: choose another file`,
    );
  }
  const queue = queueOf(values);
  if (queue !== undefined) {
    if (command === 'run') {
      throw usage(
        "option '--redis' applies to 'analyze' only (a shared queue's workers run built-in task types)",
      );
    }
    const clash = NOT_WITH_REDIS.find((flag) => values[flag as keyof Values] !== undefined);
    if (clash !== undefined) {
      throw usage(
        `option '--${clash}' does not apply with --redis (the queue's workers run the tasks; the results are resumed from Redis)`,
      );
    }
  }
  const store = queue === undefined ? storeOf(values, file, out, cwd) : undefined;
  const shared = sharedOf(values);
  const key = keyOf(values);
  const maxRecordBytes = maxRecordBytesOf(values);
  const own = command === 'run' ? ownTaskOptionsOf(values, cwd) : undefined;
  const watch = watchArgsOf(values);
  // Last, once every option is known good: where the calls go, and with which key. A dry run
  // builds no client, so it needs no key; nor does a job whose workers make the calls.
  if (!simulator && !dryRun && queue === undefined) options.checkClient();
  return {
    command,
    file,
    spool,
    own,
    structured: options.structured,
    manager: options.manager,
    settings: options.settings,
    simulator,
    simulatorOptions: simulatorOptionsOf(values, undefined),
    configFile: options.configFile,
    priority,
    json: values.json === true,
    progress: progress as ProgressMode,
    quiet: values.quiet === true,
    out,
    dryRun,
    maxRecordBytes,
    store,
    shared,
    queue,
    fresh: values.fresh === true,
    key,
    watch,
  };
}

function isCommand(word: string): word is Command {
  return (COMMANDS as readonly string[]).includes(word);
}

/** `unknown command 'anlyze' (did you mean 'analyze'? expected analyze, run or simulate)`. */
function unknownCommand(word: string): Error {
  const near = closestName(word, [...COMMANDS, 'help']);
  const hint = near === undefined ? '' : `did you mean '${near}'? `;
  return usage(`unknown command '${word}' (${hint}expected analyze, run or simulate)`);
}

/** `aitq help`, `aitq help <command>`. */
function helpArgs(rest: readonly string[]): CliArgs {
  const [topic, ...extra] = rest;
  if (topic === undefined) return { command: 'help' };
  if (!isCommand(topic)) throw unknownCommand(topic);
  if (extra.length > 0) {
    throw usage(`'help' takes one command (received also ${describeValue(extra[0])})`);
  }
  return { command: 'help', topic };
}

/**
 * `--help` anywhere: the help of the command given (`aitq analyze --help`), else the global one.
 * The command is the first positional when the line parses, else the first word that is one.
 */
function helpOf(argv: readonly string[]): CliArgs {
  let words: readonly string[];
  try {
    words = parseTokens(argv).positionals;
  } catch {
    const end = argv.indexOf('--');
    words = (end === -1 ? argv : argv.slice(0, end)).filter((token) => !token.startsWith('-'));
  }
  const [first, second] = words;
  const topic = first === 'help' ? second : first;
  return topic !== undefined && isCommand(topic) ? { command: 'help', topic } : { command: 'help' };
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
  if (asks(argv, ['--help', '-h'])) return helpOf(argv);
  if (asks(argv, ['--version', '-v'])) return { command: 'version' };
  const { values, positionals } = parseTokens(argv);
  const [command, ...rest] = positionals;
  if (command === undefined)
    throw usage('missing a command: analyze, run, simulate or worker (see aitq --help)');
  if (command === 'help') return helpArgs(rest);
  if (!isCommand(command)) throw unknownCommand(command);
  if (command === 'worker') {
    return workerArgs(rest, values, env, cwd, (v) => simulatorOptionsOf(v, undefined));
  }
  const given = Object.keys(values);
  const foreign = given.find(
    (f) =>
      (command === 'simulate' ? JOB_ONLY : SIMULATE_ONLY).includes(f) || WORKER_ONLY.includes(f),
  );
  if (foreign !== undefined) throw usage(`option '--${foreign}' does not apply to '${command}'`);
  const runOnly = command === 'analyze' ? given.find((f) => RUN_ONLY.includes(f)) : undefined;
  if (runOnly !== undefined) {
    throw usage(
      `option '--${runOnly}' applies to 'run' only (analyze's prompt is REPOSITORY_ANALYSIS's)`,
    );
  }
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
