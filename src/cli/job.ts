/**
 * `aitq analyze` and `aitq run`: check the whole input file first (nothing starts on bad input),
 * open the job's store (resuming what an earlier run left), then feed its tasks to the manager as
 * room frees up, write each outcome as a JSON line, draw the progress, and end with a summary.
 * Ctrl-C once drains, twice cancels. Getting ready is `job-input.ts` and `job-setup.ts`'s; why
 * and how a running job stops, `job-stop.ts`'s.
 */

import {
  type AITaskManagerOptions,
  BudgetExceededError,
  type Statistics,
  serializeError,
  TaskCancelledError,
  type TaskInfo,
} from '../index.js';
import type { JobArgs } from './args.js';
import { EXIT_CODES, type ExitCode } from './errors.js';
import { DryRunSchema, dryRun, type EstimateTotals, renderDryRun } from './estimate.js';
import type { CliIO } from './io.js';
import { checkInput, entriesOf, type JobEntry, type JobInput } from './job-input.js';
import { lineFromInfo, resumeLine } from './job-report.js';
import {
  checkResultsFile,
  connect,
  type JobStore,
  managerOptionsOf,
  openJobStore,
  startJobManager,
} from './job-setup.js';
import { JobStop } from './job-stop.js';
import { JobTasks } from './job-tasks.js';
import { loadOwnTaskType, structuredBuiltins } from './own-task-type.js';
import { ProgressDisplay, progressMode } from './progress.js';
import { runQueueJob } from './queue-job.js';
import type { CliTask } from './records.js';
import { type JobCounts, jobExitCode, renderProgress, renderSummary, summarize } from './render.js';
import { checkWritable, type ResultLine, ResultsWriter } from './results.js';
import { type InputSource, inputSource, SpoolInterrupted, STDIO } from './stdio.js';
import { idsByKey, storeReasonOf } from './store.js';
import { JobWatch } from './watch.js';

export { CLI_RETENTION } from './job-setup.js';
export type { ResultLine } from './results.js';

/** Tasks kept waiting in the queue at most, however large the file. */
const FEED_HIGH_WATER = 1_000;
/** Records looked up at a time in the store once the job stops feeding. */
const TAIL_BATCH = 500;

/**
 * Runs `analyze` or `run`: the input made readable (stdin copied to a temporary file, deleted at
 * the end), the own task type loaded, then {@link runInput}.
 *
 * @throws CliInputError / CliUsageError before anything starts (exit 2 in `runCli`).
 */
export async function runJob(args: JobArgs, io: CliIO): Promise<ExitCode> {
  let source: InputSource;
  try {
    source = await inputSource(args.file, args.spool, io);
  } catch (error) {
    if (!(error instanceof SpoolInterrupted)) throw error;
    io.stderr.write('\naitq: interrupted while reading the input: nothing started\n');
    return EXIT_CODES.interrupted;
  }
  try {
    const own =
      args.own === undefined ? undefined : await loadOwnTaskType(args.own, args.structured, io.cwd);
    const options: AITaskManagerOptions = {
      ...args.manager,
      taskTypes: [
        ...(args.manager.taskTypes ?? []),
        ...structuredBuiltins(args.structured),
        ...(own === undefined ? [] : [own.definition]),
      ],
    };
    return await runInput(args, { source, own }, options, io);
  } finally {
    await source.remove();
  }
}

/** Checks the input, then estimates it (`--dry-run`) or runs it. */
async function runInput(
  args: JobArgs,
  input: JobInput,
  options: AITaskManagerOptions,
  io: CliIO,
): Promise<ExitCode> {
  const totals = await checkInput(args, input, options);
  if (args.dryRun) {
    const figures = DryRunSchema.parse(dryRun(totals, args.settings));
    io.stdout.write(
      args.json
        ? `${JSON.stringify(figures)}\n`
        : `${renderDryRun(figures, args.settings.model)}\n`,
    );
    return EXIT_CODES.ok;
  }
  checkWritable(args.out);
  // With a shared queue, Redis holds the tasks: the same command again resumes from it.
  if (args.queue !== undefined) return runQueueJob(args, input, totals.tasks, io);
  checkResultsFile(args);
  const store = await openJobStore(args, input, io);
  try {
    return await runTasks(args, input, options, io, totals, store);
  } finally {
    await store?.store.close().catch(() => {});
  }
}

async function runTasks(
  args: JobArgs,
  input: JobInput,
  jobOptions: AITaskManagerOptions,
  io: CliIO,
  totals: EstimateTotals,
  store: JobStore | undefined,
): Promise<ExitCode> {
  const total = totals.tasks;
  const priced = totals.tasks - totals.unpriced;
  /** What a task takes of the limits on average, for the ETA they allow. */
  const perTask = {
    tokens: total === 0 ? 0 : (totals.promptTokens + totals.maxTokens) / total,
    worstCaseCost: priced === 0 ? undefined : totals.worstCaseCost / priced,
  };
  const watch = await JobWatch.start(args.watch, io);
  const { options, helpers } = await connect(args, jobOptions, io).catch(async (error) => {
    await watch.close({ wait: false });
    throw error;
  });
  const display = new ProgressDisplay(io, progressMode(args, io));
  const notice = (line: string) => {
    if (!args.quiet) display.say(line);
  };
  /** What started before the manager, closed when the job cannot go on. */
  const closeHelpers = async () => {
    await watch.close({ wait: false });
    await helpers.close();
  };
  const { manager, recovered } = await startJobManager(
    { ...managerOptionsOf(options, store, notice), ...watch.managerOptions() },
    store,
    closeHelpers,
  );
  /** The job cannot start: stops the manager and what started before it, then throws. */
  const abandon = async (error: unknown): Promise<never> => {
    await manager.stop();
    await closeHelpers();
    throw error;
  };
  await watch.attach(manager).catch(abandon);
  /** Tasks left waiting before the next record is fed: `maxQueueSize` as the queue resolved it. */
  const maxWaiting = Math.min(FEED_HIGH_WATER, (await manager.getQueueStatus()).maxSize);
  /** Whether the job has ended: a write that fails then loses lines, and stops nothing. */
  let ended = false;
  let results: ResultsWriter;
  // Opened last: a job that fails on its configuration leaves an existing results file alone
  // (and the lines go to a partial file until the end, so a run that dies leaves it too).
  try {
    // Said at once (even with --quiet), and the job stops: the results would be lost. Only a
    // write can fail, and the first comes from a task that ended: `drain` is defined by then.
    results = new ResultsWriter(
      args.out,
      (error) => {
        display.say(
          `aitq: --out: cannot write ${args.out === STDIO ? 'stdout' : JSON.stringify(args.out)} (${error.message}): ${ended ? 'the last results are lost' : 'stopping, the tasks in flight are cancelled'}\n`,
        );
        if (!ended) void drain({ cancelRunning: true });
      },
      io.stdout,
    );
  } catch (error) {
    return abandon(error);
  }
  const jobTasks = new JobTasks(manager);
  const startedAt = new Date();
  const counts: JobCounts = { completed: 0, failed: 0, cancelled: 0 };
  /** Completed results of an earlier run written again (not run again). */
  let reused = 0;
  const pending = new Map<string, Promise<void>>();
  let latest: Statistics | undefined;

  /** Records an earlier run completed: the display counts this run's work (`M to run`). */
  const alreadyDone = Math.min(total, store?.prepared?.done ?? 0);
  const draw = async () => {
    latest = await manager.getStatistics();
    display.draw(
      renderProgress(latest, {
        total: total - alreadyDone,
        startedAt,
        now: new Date(),
        // Plain lines go to logs: never cut.
        width: display.mode === 'tty' ? Math.max(40, io.stderr.columns ?? 100) : 1_000,
        mode: display.mode === 'tty' ? 'tty' : 'plain',
        done: Math.max(0, counts.completed + counts.failed - reused),
        cancelled: counts.cancelled,
        perTask,
        model: args.settings.model,
      }),
    );
  };
  // Ref'd: the system clock's timers are unref'd, and this one keeps the process alive while the
  // job runs.
  const ticker = setInterval(() => {
    draw().catch(() => {});
  }, display.intervalMs);

  const record = (line: ResultLine) => {
    counts[line.status]++;
    results.write(line);
  };
  /** Writes the line of a task that ended already; counts a completion of an earlier run. */
  const recordFinished = (info: TaskInfo, entry: JobEntry) => {
    if (info.status === 'completed' && (info.completedAt?.getTime() ?? 0) < startedAt.getTime()) {
      reused++;
    }
    record(lineFromInfo(info, entry));
  };

  /**
   * What a task cost: summed from its events (a task of this run), or, for a task an earlier run
   * submitted, what the store holds (every attempt, earlier runs' included).
   */
  const spentOn = async (id: string, adopted: boolean) => {
    const own = jobTasks.take(id);
    if (!adopted) return own;
    const info = await manager.getTaskStatus(id).catch(() => null);
    return info === null ? own : { cost: info.metrics.actualCost, tokens: info.metrics.tokensUsed };
  };

  const follow = (id: string, { item, task }: JobEntry, adopted: boolean) => {
    const base = { index: item.index, line: item.line, taskId: id, taskType: task.taskType };
    const settled = manager.waitForTask(id).then(
      async (result) => {
        const spent = await spentOn(id, adopted);
        record({ ...base, status: 'completed', result, ...spent, metadata: task.metadata });
      },
      async (error: unknown) => {
        const { code, message } = serializeError(error);
        const spent = await spentOn(id, adopted);
        record({
          ...base,
          status: error instanceof TaskCancelledError ? 'cancelled' : 'failed',
          error: { code, message },
          ...spent,
          metadata: task.metadata,
        });
      },
    );
    pending.set(
      id,
      settled.finally(() => pending.delete(id)),
    );
  };

  /** Resolves once the job stops: the feed no longer waits for room in the line. */
  let stopFeeding = () => {};
  const feedStopped = new Promise<void>((resolve) => {
    stopFeeding = resolve;
  });

  /** Cancels a task unless its call is running (a first Ctrl-C lets running calls finish). */
  const cancelWaiting = async (id: string) => {
    const info = await manager.getTaskStatus(id);
    if (info === null || info.status === 'running') return;
    await manager.cancelTask(id);
  };

  /**
   * Stops admitting and cancels what waits (child tasks of a running composite task too, so that
   * it can end); calls already running finish, or with `cancelRunning` are cancelled (aborted).
   */
  const drain = async ({ cancelRunning = false } = {}): Promise<void> => {
    stopFeeding();
    manager.pause();
    // Settled, not all: one that throws (the queue stopped meanwhile) does not end the wait.
    await Promise.allSettled(
      jobTasks.ids().map((id) => (cancelRunning ? manager.cancelTask(id) : cancelWaiting(id))),
    );
  };

  const jobStop = new JobStop({
    manager,
    jobTasks,
    display,
    quiet: args.quiet,
    storePath: store?.path,
    results,
    drain,
    latest: () => latest,
  });
  const offs = jobStop.listen(io);

  /**
   * Submits `task` under its key. While the total budget cannot hold its worst case only because
   * tasks in flight hold theirs, waits for one of them to end and tries again; `undefined` when
   * the job stops meanwhile.
   * @throws what `submitTask` throws, `BudgetExceededError` once nothing is in flight
   */
  const submit = async (task: CliTask, key: string): Promise<string | undefined> => {
    for (;;) {
      try {
        return await manager.submitTask({ ...task, idempotencyKey: key });
      } catch (error) {
        if (!(error instanceof BudgetExceededError) || pending.size === 0) throw error;
        if (neverFits(task)) throw error;
        await Promise.race(pending.values());
        if (jobStop.stopping()) return undefined;
      }
    }
  };
  /** Whether the task's worst case exceeds a budget limit outright: waiting cannot help. */
  const neverFits = (task: CliTask): boolean => {
    const worst = manager.estimateCost(task).worstCaseCost;
    const { budgetLimit, dailyLimit, hourlyLimit } = args.settings;
    return (
      worst !== undefined &&
      [budgetLimit, dailyLimit, hourlyLimit].some((limit) => limit !== undefined && worst > limit)
    );
  };

  /** Feeds one record: a new task, or the one an earlier run left under its key. */
  const feed = async (entry: JobEntry): Promise<boolean> => {
    const { item, task, key } = entry;
    let id: string | undefined;
    try {
      id = await submit(task, key);
    } catch (error) {
      if (storeReasonOf(error) !== undefined) {
        jobStop.storeFailed(error instanceof Error ? error.message : String(error));
        return false;
      }
      const { code, message } = serializeError(error);
      record({
        index: item.index,
        line: item.line,
        taskId: null,
        taskType: task.taskType,
        status: 'failed',
        error: { code, message },
        metadata: task.metadata,
      });
      return true;
    }
    if (id === undefined) return false;
    if (jobTasks.has(id)) {
      follow(id, entry, false);
      // Submitted while the job began to stop: it would wait for ever in the paused queue.
      if (jobStop.stopping()) void manager.cancelTask(id);
      return true;
    }
    // The key's task is an earlier run's: finished (its line is written as it is), or brought
    // back by the manager (waiting or running again), which the job follows as its own.
    const info = await manager.getTaskStatus(id);
    if (info !== null && ['completed', 'failed', 'cancelled'].includes(info.status)) {
      recordFinished(info, entry);
      return true;
    }
    jobTasks.adopt(id);
    follow(id, entry, true);
    if (jobStop.stopping()) void cancelWaiting(id).catch(() => {});
    return true;
  };

  /**
   * Once the job stops feeding, the records not fed yet whose task an earlier run completed are
   * written too (looked up in the store by key): the results file keeps every result paid for.
   */
  let tail: JobEntry[] = [];
  const writeTail = async () => {
    const batch = tail;
    tail = [];
    if (store === undefined || batch.length === 0) return;
    // A store that cannot be read any more leaves those lines out; the job is stopping anyway.
    const ids = await idsByKey(
      store.store,
      batch.map((entry) => entry.key),
    ).catch(() => new Map<string, string>());
    for (const entry of batch) {
      const id = ids.get(entry.key);
      if (id === undefined) continue;
      const info = await manager.getTaskStatus(id).catch(() => null);
      if (info?.status === 'completed') recordFinished(info, entry);
    }
  };

  // Said once Ctrl-C drains (the handlers are in place), before the first record is fed.
  // A store with nothing of this input (a run that stopped before it began) is no resume.
  const prepared = store?.prepared;
  const found =
    prepared === undefined
      ? 0
      : prepared.done + prepared.rerun + prepared.dropped + recovered.requeued + recovered.paused;
  if (store !== undefined && prepared !== undefined && found > 0) {
    notice(resumeLine(store.path, total, prepared, recovered.interrupted));
  }
  try {
    for await (const entry of entriesOf(args, input)) {
      if (!jobStop.stopping()) {
        // Tasks an earlier run left wait in the line too, and a drain does not cancel those
        // that no record claimed yet: a stop ends the wait.
        await Promise.race([manager.onSizeLessThan(maxWaiting), feedStopped]);
      }
      if (!jobStop.stopping() && (await feed(entry))) continue;
      if (store === undefined) break;
      tail.push(entry);
      if (tail.length >= TAIL_BATCH) await writeTail();
    }
    await writeTail();
    while (pending.size > 0) await Promise.all(pending.values());
  } catch (error) {
    await watch.close({ wait: false });
    throw error;
  } finally {
    clearInterval(ticker);
    // Ctrl-C is still heard while the stop waits for the calls running (a second one cancels
    // them); without a handler, Node would end the process at once, with no summary.
    try {
      await manager.stop(jobStop.cancelling() ? { force: true } : {});
    } finally {
      for (const off of offs) off();
    }
    jobTasks.close();
    await draw().catch(() => {});
    ended = true;
    await results.close();
    await helpers.close();
  }

  const summary = summarize(latest ?? (await manager.getStatistics()), {
    total,
    startedAt,
    now: new Date(),
    interrupted: jobStop.interrupts > 0,
    resultsFile: args.out,
    counts,
    reused,
    store: store?.path ?? null,
  });
  // With the results on stdout (`-o -`), stdout holds them alone: the summary goes to stderr.
  const report = args.out === STDIO ? io.stderr : io.stdout;
  report.write(args.json ? `${JSON.stringify(summary)}\n` : `${renderSummary(summary)}\n`);
  await watch.close({ wait: jobStop.interrupts === 0 });
  // Results (or tasks) that could not be written fail the job, whatever the tasks did.
  return results.failure === undefined && jobStop.storeFailure === undefined
    ? jobExitCode(summary)
    : EXIT_CODES.someFailed;
}
