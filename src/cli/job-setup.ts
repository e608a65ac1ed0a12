/**
 * Getting a job ready before its first task: the results file that may be replaced, the store
 * opened (and an earlier run's tasks made ready to resume), where the calls go, and the manager's
 * options.
 */

import { existsSync } from 'node:fs';
import { AITaskManager, type AITaskManagerOptions, type TaskStore } from '../index.js';
import { startSimulator } from '../providers/simulator/index.js';
import type { JobArgs } from './args.js';
import { CliUsageError } from './errors.js';
import type { CliIO } from './io.js';
import { entriesOf, type JobInput } from './job-input.js';
import { openForFlag } from './redis.js';
import { hasResults } from './results.js';
import {
  deleteStore,
  openStore,
  prepareStore,
  type StorePreparation,
  storeProblem,
  storeReasonOf,
} from './store.js';

/**
 * Finished tasks the CLI's manager keeps in memory without a store (`--no-store`), unless the
 * config file sets `keepCompleted` / `keepFailed`: each task's outcome is in the results file as
 * soon as it ends. With a store, every finished task stays in it (completed results are reused
 * by the next run).
 */
export const CLI_RETENTION = {
  keepCompleted: { count: 1_000 },
  keepFailed: { count: 1_000 },
} as const;

/**
 * A results file that is there already is never replaced without a store to resume from (its
 * results would be lost) unless `--fresh` says so.
 * @throws CliUsageError naming `--out` and what to do
 */
export function checkResultsFile(args: JobArgs): void {
  if (args.fresh || !hasResults(args.out)) return;
  if (args.store !== undefined && existsSync(args.store)) return;
  const out = JSON.stringify(args.out);
  throw new CliUsageError(
    args.store === undefined
      ? `--out: ${out} exists and, without a store (--no-store), would be replaced: pass --fresh to replace it, or choose another --out`
      : `--out: ${out} exists but there is no store to resume from (${JSON.stringify(args.store)}): pass --fresh to replace it and start over, or choose another --out`,
  );
}

/** The job's store once opened, and what it held for the input. */
export interface JobStore {
  store: TaskStore;
  path: string;
  /** What an earlier run left, when there was one (`undefined` for a new store). */
  prepared: StorePreparation | undefined;
}

/**
 * `--fresh` (delete the store, say so), then opens the store and, when it holds an earlier run,
 * gets it ready to resume (see `prepareStore`). Before anything starts.
 * @throws CliUsageError a store that cannot be opened or read (exit 2)
 */
export async function openJobStore(
  args: JobArgs,
  input: JobInput,
  io: CliIO,
): Promise<JobStore | undefined> {
  const path = args.store;
  if (args.fresh) {
    const deleted = path === undefined ? false : await deleteStore(path);
    io.stderr.write(
      `aitq: --fresh: starting over${deleted ? ` (deleted the store ${JSON.stringify(path)})` : ''}\n`,
    );
  }
  if (path === undefined) return undefined;
  const existed = existsSync(path);
  const store = await openStore(path);
  try {
    const prepared = existed
      ? await prepareStore(
          store,
          (async function* () {
            for await (const { key } of entriesOf(args, input)) yield key;
          })(),
        )
      : undefined;
    return { store, path, prepared };
  } catch (error) {
    await store.close().catch(() => {});
    if (storeReasonOf(error) !== undefined) throw new CliUsageError(storeProblem(path, error));
    throw error;
  }
}

/** Where the tasks go: the built-in simulator in this process, or what the options name. */
export async function connect(
  args: JobArgs,
  options: AITaskManagerOptions,
  io: CliIO,
): Promise<{ options: AITaskManagerOptions; helpers: JobHelpers }> {
  const shared = await openShared(args);
  const helpers: JobHelpers = {
    close: async () => {
      await shared?.close();
    },
  };
  const withShared = shared === undefined ? options : { ...options, sharedLimits: shared };
  if (!args.simulator) return { options: withShared, helpers };
  const simulator = await startSimulator(args.simulatorOptions).catch(async (error) => {
    await helpers.close();
    throw error;
  });
  if (!args.quiet) {
    io.stderr.write(
      `aitq: --simulator: using the built-in simulator at ${simulator.url}; nothing leaves this machine\n`,
    );
  }
  return {
    options: { ...withShared, baseURL: simulator.url, apiKey: 'sk-simulator' },
    helpers: {
      close: async () => {
        await simulator.close();
        await shared?.close();
      },
    },
  };
}

/** What started beside the manager (the simulator, the shared limits), closed with the job. */
export interface JobHelpers {
  close(): Promise<void>;
}

/**
 * The limits shared with other runs, when `--shared-limits` asks for them. ioredis is loaded only
 * then (an optional peer dependency).
 * @throws CliUsageError Redis cannot be reached or used, or ioredis is not installed
 */
async function openShared(args: JobArgs) {
  const shared = args.shared;
  if (shared === undefined) return undefined;
  return openForFlag('--shared-limits', 'ioredis', (redis) => redis.openSharedLimits(shared));
}

/**
 * The manager's options: without a store, {@link CLI_RETENTION} under the config file's; with
 * one, the store, and no retention of completed tasks (a config file's `keepCompleted` is set
 * aside, and the user told): the next run reuses them.
 */
export function managerOptionsOf(
  options: AITaskManagerOptions,
  store: JobStore | undefined,
  say: (line: string) => void,
): AITaskManagerOptions {
  if (store === undefined) return { ...CLI_RETENTION, ...options };
  const { keepCompleted, ...rest } = options;
  if (keepCompleted !== undefined) {
    say(
      'aitq: keepCompleted (config file) is ignored: with a store, completed results stay in it to be reused by the next run\n',
    );
  }
  return { ...rest, store: store.store };
}

/** What a store's earlier run left that the manager brought back (`queue.recovered`). */
export interface Recovered {
  requeued: number;
  interrupted: number;
  paused: number;
}

/**
 * Creates the job's manager and starts it, noting what it brought back from the store. When it
 * cannot start, stops it and calls `cleanUp` (the simulator, the watchers) before throwing.
 * @throws CliUsageError a store that cannot be opened or read (exit 2)
 */
export async function startJobManager(
  options: AITaskManagerOptions,
  store: JobStore | undefined,
  cleanUp: () => Promise<void>,
): Promise<{ manager: AITaskManager; recovered: Recovered }> {
  let recovered: Recovered = { requeued: 0, interrupted: 0, paused: 0 };
  let manager: AITaskManager | undefined;
  try {
    manager = new AITaskManager(options);
    const off = manager.on('queue.recovered', (event) => {
      recovered = event;
    });
    try {
      await manager.start();
    } finally {
      off();
    }
    return { manager, recovered };
  } catch (error) {
    await manager?.stop().catch(() => {});
    await cleanUp();
    if (store !== undefined && storeReasonOf(error) !== undefined) {
      throw new CliUsageError(storeProblem(store.path, error));
    }
    throw error;
  }
}
