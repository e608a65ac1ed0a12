/**
 * What `aitq worker` takes (no input file: it works for a shared queue), and the queue that
 * `--redis`, `--prefix` and `--queue` name, for `worker` and for `analyze --redis`.
 */

import { resolve } from 'node:path';
import { describeValue } from '../config/index.js';
import type { AITaskManagerOptions, ResolvedManagerOptions } from '../index.js';
import type { ResolvedSimulatorOptions } from '../providers/simulator/index.js';
import { simulatorAsked, usage, type Values, WORKER_FLAGS } from './flags.js';
import { jobManagerOptions } from './job-options.js';

/** A shared queue on Redis: `--redis <url>`, `--prefix <name>`, `--queue <name>`. */
export interface QueueArgs {
  url: string;
  prefix: string;
  name: string;
}

/** What `worker` was asked to do. */
export interface WorkerArgs {
  command: 'worker';
  queue: QueueArgs;
  manager: AITaskManagerOptions;
  settings: ResolvedManagerOptions;
  simulator: boolean;
  simulatorOptions: ResolvedSimulatorOptions;
  /** A module (`--task-types`) whose default export is a task type or an array of them. */
  taskTypes: string | undefined;
  quiet: boolean;
  configFile: string | undefined;
}

/**
 * `--redis`, `--prefix`, `--queue`: the shared queue, or `undefined` when `--redis` is not given.
 * @throws CliUsageError a bad URL or name, `--prefix` / `--queue` without `--redis`
 */
export function queueOf(values: Values): QueueArgs | undefined {
  const url = values.redis;
  if (typeof url !== 'string') {
    const orphan = (['prefix', 'queue'] as const).find((f) => typeof values[f] === 'string');
    if (orphan !== undefined) throw usage(`--${orphan}: give --redis too`);
    return undefined;
  }
  if (!/^rediss?:\/\/./.test(url)) {
    throw usage(`--redis: expected a redis:// or rediss:// URL (received ${describeValue(url)})`);
  }
  const prefix = typeof values.prefix === 'string' ? values.prefix : 'aitq';
  if (!/^[A-Za-z0-9_.:{}-]{1,100}$/.test(prefix)) {
    throw usage(
      `--prefix: expected 1 to 100 letters, digits or _ - . : { } (received ${describeValue(prefix)})`,
    );
  }
  const name = typeof values.queue === 'string' ? values.queue : 'tasks';
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw usage(
      `--queue: expected 1 to 100 letters, digits or _ - . (received ${describeValue(name)})`,
    );
  }
  return { url, prefix, name };
}

/**
 * `aitq worker --redis <url> [options]`.
 * @throws CliUsageError a flag that does not apply, no `--redis`, a bad value
 */
export function workerArgs(
  rest: readonly string[],
  values: Values,
  env: NodeJS.ProcessEnv,
  cwd: string,
  simulatorOptionsOf: (values: Values) => ResolvedSimulatorOptions,
): WorkerArgs {
  if (rest.length > 0) {
    throw usage(
      `'worker' takes no file: it runs the tasks of a shared queue (received ${describeValue(rest[0])})`,
    );
  }
  const foreign = Object.keys(values).find((flag) => !WORKER_FLAGS.includes(flag));
  if (foreign !== undefined) throw usage(`option '--${foreign}' does not apply to 'worker'`);
  const queue = queueOf(values);
  if (queue === undefined) {
    throw usage("'worker' needs the queue's Redis: aitq worker --redis redis://127.0.0.1:6379");
  }
  const simulator = simulatorAsked(values);
  const options = jobManagerOptions(values, env, cwd);
  if (!simulator) options.checkClient();
  const module = values['task-types'];
  return {
    command: 'worker',
    queue,
    manager: options.manager,
    settings: options.settings,
    simulator,
    simulatorOptions: simulatorOptionsOf(values),
    taskTypes: typeof module === 'string' ? resolve(cwd, module) : undefined,
    quiet: values.quiet === true,
    configFile: options.configFile,
  };
}
