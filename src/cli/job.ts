/**
 * `aitq analyze` and `aitq run`: check the whole input file first (nothing starts on bad input),
 * then feed its tasks to the manager as room frees up, write each outcome as a JSON line, draw
 * the progress, and end with a summary. Ctrl-C once drains, twice cancels.
 */

import { once } from 'node:events';
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { AITaskManagerOptions } from '../config/manager-options.js';
import { serializeError, TaskCancelledError, ValidationError } from '../errors.js';
import { AITaskManager, createAITaskManager } from '../manager.js';
import { type Simulator, startSimulator } from '../providers/simulator/index.js';
import type { AIClient } from '../providers/types.js';
import type { Statistics } from '../stats/types.js';
import type { JobArgs } from './args.js';
import { CliInputError, CliUsageError, EXIT_CODES, type ExitCode } from './errors.js';
import { addEstimate, DryRunSchema, dryRun, emptyTotals, renderDryRun } from './estimate.js';
import {
  type CliTask,
  type InputItem,
  lineTask,
  readRepositories,
  readTaskLines,
  repositoryTask,
} from './input.js';
import type { CliIO } from './io.js';
import { type JobCounts, renderProgress, renderSummary, summarize } from './render.js';

/** How often the live display is redrawn on a TTY, and a plain line printed otherwise. */
const TTY_REFRESH_MS = 200;
const PLAIN_REFRESH_MS = 2_000;
/** Tasks kept waiting in the queue at most, however large the file. */
const FEED_HIGH_WATER = 1_000;

/** One line of the results file. */
export interface ResultLine {
  /** Position of the task in the input file (0-based) and the line it starts on. */
  index: number;
  line: number;
  taskId: string | null;
  taskType: string;
  status: 'completed' | 'failed' | 'cancelled';
  result?: unknown;
  error?: { code: string; message: string };
  cost?: number;
  tokens?: number;
  metadata: Record<string, unknown>;
}

/** A client for estimates only: a dry run never calls a model. */
const NO_CALLS: AIClient = {
  chat: () => Promise.reject(new Error('a dry run sends nothing')),
  embed: () => Promise.reject(new Error('a dry run sends nothing')),
};

function tasksOf(args: JobArgs): AsyncIterable<{ item: InputItem; task: CliTask }> {
  const { file, priority } = args;
  if (args.command === 'analyze') {
    return (async function* () {
      for await (const item of readRepositories(file)) {
        yield { item, task: repositoryTask(item, priority) };
      }
    })();
  }
  return (async function* () {
    for await (const item of readTaskLines(file)) yield { item, task: lineTask(item, priority) };
  })();
}

/**
 * Reads the whole file once: every item parsed and validated, and each task checked against its
 * task type (the same checks `submitTask` makes) by a manager that never starts.
 */
async function checkInput(args: JobArgs) {
  const checker = new AITaskManager({ ...args.manager, aiClient: NO_CALLS });
  const totals = emptyTotals();
  for await (const { item, task } of tasksOf(args)) {
    try {
      addEstimate(totals, checker.estimateCost(task));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new CliInputError(args.file, error.message, { line: item.line, index: item.index });
    }
  }
  await checker.stop();
  return totals;
}

/** Appends JSON lines in order, waiting for the stream when it asks to. */
class ResultsWriter {
  private readonly stream: WriteStream;
  private chain: Promise<void> = Promise.resolve();

  /** @throws CliUsageError when the file cannot be created (before anything starts). */
  constructor(path: string) {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new CliUsageError(`--out: cannot write ${JSON.stringify(path)} (${code})`);
    }
    this.stream = createWriteStream(path, { fd, encoding: 'utf8' });
  }

  write(line: ResultLine): void {
    this.chain = this.chain.then(async () => {
      if (!this.stream.write(`${JSON.stringify(line)}\n`)) await once(this.stream, 'drain');
    });
  }

  async close(): Promise<void> {
    await this.chain;
    await new Promise<void>((resolve, reject) =>
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}

/** Draws the progress: redrawn in place on a TTY, a line now and then otherwise. */
class ProgressDisplay {
  private drawn = 0;

  constructor(
    private readonly io: CliIO,
    readonly mode: 'tty' | 'plain' | 'none',
  ) {}

  get intervalMs(): number {
    return this.mode === 'tty' ? TTY_REFRESH_MS : PLAIN_REFRESH_MS;
  }

  draw(text: string): void {
    if (this.mode === 'none') return;
    const erase = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[0J` : '';
    if (this.mode === 'tty') {
      this.io.stderr.write(`${erase}${text}\n`);
      this.drawn = text.split('\n').length;
    } else this.io.stderr.write(`${text}\n`);
  }
}

function progressMode(args: JobArgs, io: CliIO): 'tty' | 'plain' | 'none' {
  if (args.quiet || args.progress === 'none') return 'none';
  if (args.progress === 'tty' || args.progress === 'plain') return args.progress;
  if (io.stderr.isTTY === true) return 'tty';
  return args.json ? 'none' : 'plain';
}

/** Where the tasks go: the built-in simulator in this process, or what the options name. */
async function connect(
  args: JobArgs,
  io: CliIO,
): Promise<{ options: AITaskManagerOptions; simulator: Simulator | undefined }> {
  if (args.simulator === false) return { options: args.manager, simulator: undefined };
  const simulator = await startSimulator(args.simulatorOptions);
  if (!args.quiet) {
    const why =
      args.simulator === 'forced' ? '--simulator' : 'no --base-url and no API key (OPENAI_API_KEY)';
    io.stderr.write(
      `aitq: ${why}: using the built-in simulator at ${simulator.url}; nothing leaves this machine\n`,
    );
  }
  return {
    options: { ...args.manager, baseURL: simulator.url, apiKey: 'sk-simulator' },
    simulator,
  };
}

/**
 * Runs `analyze` or `run`.
 *
 * @throws CliInputError / CliUsageError before anything starts (exit 2 in `runCli`).
 */
export async function runJob(args: JobArgs, io: CliIO): Promise<ExitCode> {
  const totals = await checkInput(args);
  if (args.dryRun) {
    const figures = DryRunSchema.parse(dryRun(totals, args.settings));
    io.stdout.write(
      args.json
        ? `${JSON.stringify(figures)}\n`
        : `${renderDryRun(figures, args.settings.model)}\n`,
    );
    return EXIT_CODES.ok;
  }

  const total = totals.tasks;
  const results = new ResultsWriter(args.out);
  const { options, simulator } = await connect(args, io);
  const manager = await createAITaskManager(options).catch(async (error: unknown) => {
    await Promise.all([simulator?.close(), results.close()]);
    throw error;
  });
  const display = new ProgressDisplay(io, progressMode(args, io));
  const startedAt = new Date();
  const counts: JobCounts = { completed: 0, failed: 0, cancelled: 0 };
  const pending = new Map<string, Promise<void>>();
  let interrupts = 0;
  let latest: Statistics | undefined;

  const draw = async () => {
    latest = await manager.getStatistics();
    display.draw(
      renderProgress(latest, {
        total,
        startedAt,
        now: new Date(),
        // Plain lines go to logs: never cut.
        width: display.mode === 'tty' ? Math.max(40, io.stderr.columns ?? 100) : 1_000,
        mode: display.mode === 'tty' ? 'tty' : 'plain',
        done: counts.completed + counts.failed + counts.cancelled,
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

  const follow = (id: string, item: InputItem, task: CliTask) => {
    const base = { index: item.index, line: item.line, taskId: id, taskType: task.taskType };
    const settled = manager.waitForTask(id).then(
      async (result) => {
        const info = await manager.getTaskStatus(id);
        record({
          ...base,
          status: 'completed',
          result,
          ...(info === null
            ? {}
            : { cost: info.metrics.actualCost, tokens: info.metrics.tokensUsed }),
          metadata: task.metadata,
        });
      },
      async (error: unknown) => {
        const info = await manager.getTaskStatus(id).catch(() => null);
        const { code, message } = serializeError(error);
        record({
          ...base,
          status: error instanceof TaskCancelledError ? 'cancelled' : 'failed',
          error: { code, message },
          ...(info === null
            ? {}
            : { cost: info.metrics.actualCost, tokens: info.metrics.tokensUsed }),
          metadata: task.metadata,
        });
      },
    );
    pending.set(
      id,
      settled.finally(() => pending.delete(id)),
    );
  };

  /** First signal: stop feeding, cancel what waits, let running calls finish. Second: cancel those. */
  const interrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      manager.pause();
      if (!args.quiet) {
        io.stderr.write(
          '\naitq: interrupted: finishing running calls (Ctrl-C again to cancel them)\n',
        );
      }
      void Promise.all(
        [...pending.keys()].map(async (id) => {
          const info = await manager.getTaskStatus(id);
          if (info !== null && info.status !== 'running') await manager.cancelTask(id);
        }),
      );
    } else if (interrupts === 2) {
      if (!args.quiet) io.stderr.write('aitq: cancelling running calls\n');
      void manager.stop({ force: true });
    }
  };
  const offs = (['SIGINT', 'SIGTERM'] as const).map((s) => io.onSignal(s, interrupt));

  try {
    for await (const { item, task } of tasksOf(args)) {
      if (interrupts > 0) break;
      await manager.onSizeLessThan(Math.min(FEED_HIGH_WATER, args.settings.maxQueueSize));
      if (interrupts > 0) break;
      try {
        follow(await manager.submitTask(task), item, task);
      } catch (error) {
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
      }
    }
    while (pending.size > 0) await Promise.all(pending.values());
  } finally {
    for (const off of offs) off();
    clearInterval(ticker);
    await manager.stop();
    await draw().catch(() => {});
    await results.close();
    await simulator?.close();
  }

  const interrupted = interrupts > 0;
  const summary = summarize(latest ?? (await manager.getStatistics()), {
    total,
    startedAt,
    now: new Date(),
    interrupted,
    resultsFile: args.out,
    counts,
  });
  io.stdout.write(args.json ? `${JSON.stringify(summary)}\n` : `${renderSummary(summary)}\n`);
  if (interrupted) return EXIT_CODES.interrupted;
  return counts.failed + counts.cancelled > 0 ? EXIT_CODES.someFailed : EXIT_CODES.ok;
}
