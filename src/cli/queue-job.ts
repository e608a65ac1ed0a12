/**
 * `aitq analyze <file> --redis <url>`: the records go to a queue shared on Redis, whose workers
 * (`aitq worker`) run them; this process submits them, waits, and writes each result as it ends.
 * A record's task is keyed like a store's (its content, or `--key`), and the key makes the task's
 * id: the same command again submits nothing twice, writes what ended meanwhile and waits for the
 * rest. Ctrl-C once stops waiting (the tasks stay in the queue for the next run); twice cancels
 * this job's tasks that have not ended.
 */

import type { TaskInfo } from '../index.js';
import type { JobArgs } from './args.js';
import { EXIT_CODES, type ExitCode } from './errors.js';
import type { CliIO } from './io.js';
import { entriesOf, type JobEntry, type JobInput } from './job-input.js';
import { lineFromInfo } from './job-report.js';
import { openForFlag } from './redis.js';
import { ResultsWriter } from './results.js';
import { STDIO } from './stdio.js';
import type { QueueArgs } from './worker-args.js';

/** Tasks submitted in one round trip. */
const SUBMIT_BATCH = 500;
/** How often progress is said (ms), unless `--quiet`. */
const PROGRESS_EVERY_MS = 2_000;

type SharedQueue = Awaited<ReturnType<typeof import('../redis/index.js')['openSharedQueue']>>;

function openQueue({ url, prefix, name }: QueueArgs): Promise<SharedQueue> {
  return openForFlag('--redis', 'ioredis bullmq', (redis) =>
    redis.openSharedQueue({ url, prefix, name }),
  );
}

/** What the job counted. */
interface Counts {
  completed: number;
  failed: number;
  cancelled: number;
  cost: number;
}

/** Submits the input's records to the shared queue, waits for them, writes their results. */
export async function runQueueJob(
  args: JobArgs,
  input: JobInput,
  total: number,
  io: CliIO,
): Promise<ExitCode> {
  const queue = await openQueue(args.queue as QueueArgs);
  const say = (line: string) => {
    if (!args.quiet) io.stderr.write(line);
  };
  let results: ResultsWriter;
  try {
    results = new ResultsWriter(
      args.out,
      (error) => say(`aitq: --out: cannot write ${args.out} (${error.message})\n`),
      io.stdout,
    );
  } catch (error) {
    await queue.close();
    throw error;
  }
  const counts: Counts = { completed: 0, failed: 0, cancelled: 0, cost: 0 };
  const waiting = new Map<string, JobEntry>();
  const ended = new Set<Promise<void>>();
  let interrupts = 0;
  let stopWaiting = () => {};
  const stopped = new Promise<void>((resolve) => {
    stopWaiting = resolve;
  });
  const offs = (['SIGINT', 'SIGTERM'] as const).map((signal) =>
    io.onSignal(signal, () => {
      interrupts++;
      if (interrupts === 1) {
        say(
          'aitq: stopping: the tasks stay in the queue; the same command again writes their results (Ctrl-C again: cancel them)\n',
        );
        stopWaiting();
      } else if (interrupts === 2) {
        say(`aitq: cancelling the ${waiting.size} tasks of this job that have not ended\n`);
        for (const id of waiting.keys()) void queue.cancelTask(id).catch(() => false);
      }
    }),
  );
  const write = (info: TaskInfo, entry: JobEntry) => {
    const line = lineFromInfo(info, entry);
    counts[line.status]++;
    counts.cost += info.metrics.actualCost;
    results.write(line);
  };
  const follow = (id: string, entry: JobEntry) => {
    waiting.set(id, entry);
    const end = queue
      .waitForTask(id)
      .catch(() => undefined)
      .then(async () => {
        const info = await queue.getTaskStatus(id);
        if (info === null || !waiting.delete(id)) return;
        write(info, entry);
      })
      .catch(() => {})
      .finally(() => ended.delete(end));
    ended.add(end);
  };
  const progress = args.quiet
    ? undefined
    : setInterval(() => {
        queue
          .getStatistics()
          .then(({ tasks, workers }) => {
            const done = counts.completed + counts.failed + counts.cancelled;
            say(
              `aitq: ${done}/${total} ended (${counts.completed} completed, ${counts.failed} failed); the queue: ${tasks.queued} waiting, ${tasks.running} running, ${workers} workers\n`,
            );
          })
          .catch(() => {});
      }, PROGRESS_EVERY_MS);
  try {
    let batch: JobEntry[] = [];
    const submit = async () => {
      const ids = await queue.submitBatch(
        batch.map(({ task, key }) => ({
          taskType: task.taskType,
          data: task.data,
          ...(task.priority === undefined ? {} : { priority: task.priority }),
          ...(task.config === undefined ? {} : { config: task.config }),
          metadata: task.metadata,
          idempotencyKey: key,
        })),
      );
      for (const [i, id] of ids.entries()) follow(id, batch[i] as JobEntry);
      batch = [];
    };
    for await (const entry of entriesOf(args, input)) {
      if (interrupts > 0) break;
      batch.push(entry);
      if (batch.length >= SUBMIT_BATCH) await submit();
    }
    if (batch.length > 0 && interrupts === 0) await submit();
    say(
      `aitq: ${waiting.size + counts.completed + counts.failed + counts.cancelled} tasks in queue '${args.queue?.name}' at ${queue.location}; waiting for its workers (aitq worker --redis …)\n`,
    );
    while (ended.size > 0 && interrupts === 0) {
      await Promise.race([Promise.race(ended), stopped]);
    }
    if (interrupts > 1)
      await Promise.race([Promise.all(ended), new Promise((r) => setTimeout(r, 2_000))]);
  } finally {
    if (progress !== undefined) clearInterval(progress);
    for (const off of offs) off();
    await results.close();
    await queue.close();
  }
  const summary = {
    tasks: total,
    completed: counts.completed,
    failed: counts.failed,
    cancelled: counts.cancelled,
    notEnded: total - counts.completed - counts.failed - counts.cancelled,
    cost: Number(counts.cost.toFixed(6)),
    resultsFile: args.out,
    queue: `${args.queue?.name} at ${queue.location}`,
  };
  const report = args.out === STDIO ? io.stderr : io.stdout;
  report.write(
    args.json
      ? `${JSON.stringify(summary)}\n`
      : `${summary.completed} of ${summary.tasks} tasks completed, ${summary.failed} failed, ${summary.cancelled} cancelled${summary.notEnded > 0 ? `, ${summary.notEnded} not ended (still in the queue)` : ''}; $${summary.cost.toFixed(4)}; results in ${args.out === STDIO ? 'stdout' : args.out}\n`,
  );
  if (interrupts > 0) return EXIT_CODES.interrupted;
  return summary.completed === summary.tasks ? EXIT_CODES.ok : EXIT_CODES.someFailed;
}
