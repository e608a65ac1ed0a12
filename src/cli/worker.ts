/**
 * `aitq worker --redis <url>`: one worker of a queue shared on Redis. Its manager takes the
 * queue's tasks when it has room and keeps the limits and the budget together with every other
 * worker (the shared limits under the same prefix). Runs until Ctrl-C or SIGTERM: the first stops
 * taking, gives back what waits here and lets the running calls finish; a second gives those back
 * too (their attempts count as interrupted, and another worker runs them again).
 */

import type { AnyTaskTypeDefinition } from '../index.js';
import { createAITaskManager, type Statistics } from '../index.js';
import { startSimulator } from '../providers/simulator/index.js';
import { CliUsageError, EXIT_CODES, type ExitCode } from './errors.js';
import type { CliIO } from './io.js';
import { importModule, looksLikeTaskType } from './own-task-type.js';
import { openForFlag } from './redis.js';
import type { WorkerArgs } from './worker-args.js';

/** How often the worker says what it has done (ms), unless `--quiet`. */
const REPORT_EVERY_MS = 5_000;

/** The task types `--task-types <module>` exports: its default (one or an array), or its named ones. */
async function taskTypesOf(path: string | undefined): Promise<AnyTaskTypeDefinition[]> {
  if (path === undefined) return [];
  const flag = `--task-types ${path}`;
  const exports = await importModule(path, flag);
  const given = exports.default;
  const types =
    given === undefined
      ? Object.values(exports).filter(looksLikeTaskType)
      : Array.isArray(given)
        ? given
        : [given];
  if (types.length === 0 || !types.every(looksLikeTaskType)) {
    throw new CliUsageError(
      `${flag}: expected a task type { name, input, output, estimate, run } or an array of them as the default export (see docs/task-types.md)`,
    );
  }
  return types as AnyTaskTypeDefinition[];
}

/** A line of what the worker has done so far. */
function reportLine(stats: Statistics): string {
  const { totalSucceeded, totalFailed, totalCancelled } = stats.performance;
  const running = stats.tasks.byStatus.running;
  return `aitq worker: ${totalSucceeded} completed, ${totalFailed} failed, ${totalCancelled} cancelled, ${running} running; $${stats.cost.total.cost.toFixed(4)} spent here\n`;
}

export async function runWorker(args: WorkerArgs, io: CliIO): Promise<ExitCode> {
  const taskTypes = await taskTypesOf(args.taskTypes);
  const { url, prefix, name } = args.queue;
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    const onError = (error: unknown) => {
      io.stderr.write(
        `aitq worker: ${error instanceof Error ? error.message : String(error)} (going on)\n`,
      );
    };
    const queue = await openForFlag('--redis', 'ioredis bullmq', (redis) =>
      redis.openSharedQueue({ url, prefix, name, onError }),
    );
    closers.push(() => queue.close());
    const sharedLimits = await openForFlag('--redis', 'ioredis bullmq', (redis) =>
      redis.openSharedLimits({ url, prefix }),
    );
    closers.push(() => sharedLimits.close());
    let where = {};
    if (args.simulator) {
      const simulator = await startSimulator(args.simulatorOptions);
      closers.push(() => simulator.close());
      where = { baseURL: simulator.url, apiKey: 'sk-simulator' };
      if (!args.quiet) {
        io.stderr.write(
          `aitq worker: --simulator: using the built-in simulator at ${simulator.url}\n`,
        );
      }
    }
    const manager = await createAITaskManager({
      ...args.manager,
      ...where,
      taskTypes: [...((args.manager.taskTypes ?? []) as AnyTaskTypeDefinition[]), ...taskTypes],
      sharedQueue: queue,
      sharedLimits,
    });
    if (!args.quiet) {
      io.stderr.write(
        `aitq worker: taking the tasks of queue '${name}' at ${queue.location}, ${args.settings.maxConcurrent} at a time; Ctrl-C stops\n`,
      );
    }
    const ticker = args.quiet
      ? undefined
      : setInterval(() => {
          manager
            .getStatistics()
            .then((stats) => io.stderr.write(reportLine(stats)))
            .catch(() => {});
        }, REPORT_EVERY_MS);
    let signals = 0;
    const stopped = new Promise<void>((resolve) => {
      const onSignal = () => {
        signals++;
        if (signals === 1) {
          if (!args.quiet) {
            io.stderr.write(
              'aitq worker: stopping: no more tasks taken, what waits here goes back, running calls finish (Ctrl-C again: give them back too)\n',
            );
          }
          void manager.stop().then(resolve, resolve);
        } else if (signals === 2) {
          void manager.stop({ force: true }).then(resolve, resolve);
        }
      };
      const offs = (['SIGINT', 'SIGTERM'] as const).map((signal) => io.onSignal(signal, onSignal));
      closers.push(async () => {
        for (const off of offs) off();
      });
    });
    await stopped;
    if (ticker !== undefined) clearInterval(ticker);
    if (!args.quiet) io.stderr.write(reportLine(await manager.getStatistics()));
    return EXIT_CODES.ok;
  } finally {
    await closeAll();
  }
}
