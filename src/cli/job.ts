/**
 * `aitq analyze` and `aitq run`: check the whole input file first (nothing starts on bad input),
 * then feed its tasks to the manager as room frees up, write each outcome as a JSON line, draw
 * the progress, and end with a summary. Ctrl-C once drains, twice cancels.
 */

import { once } from 'node:events';
import {
  accessSync,
  constants,
  createWriteStream,
  openSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import {
  type AIClient,
  AITaskManager,
  type AITaskManagerOptions,
  BudgetExceededError,
  createAITaskManager,
  refusalScope,
  type Statistics,
  serializeError,
  TaskCancelledError,
  ValidationError,
} from '../index.js';
import { type Simulator, startSimulator } from '../providers/simulator/index.js';
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
import { type JobCounts, jobExitCode, renderProgress, renderSummary, summarize } from './render.js';

/** How often the live display is redrawn on a TTY, and a plain line printed otherwise. */
const TTY_REFRESH_MS = 200;
const PLAIN_REFRESH_MS = 2_000;
/** Tasks kept waiting in the queue at most, however large the file. */
const FEED_HIGH_WATER = 1_000;
/**
 * Finished tasks the CLI's manager keeps in memory, unless the config file sets `keepCompleted` /
 * `keepFailed`: each task's outcome is in the results file as soon as it ends.
 */
export const CLI_RETENTION = {
  keepCompleted: { count: 1_000 },
  keepFailed: { count: 1_000 },
} as const;

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
  const options = { maxRecordBytes: args.maxRecordBytes };
  if (args.command === 'analyze') {
    return (async function* () {
      for await (const item of readRepositories(file, options)) {
        yield { item, task: repositoryTask(item, priority) };
      }
    })();
  }
  return (async function* () {
    for await (const item of readTaskLines(file, options)) {
      yield { item, task: lineTask(item, priority) };
    }
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
      // Refuses what submitting would refuse: a model with no price under a budget, a token
      // reservation above a window, a worst case above a budget.
      addEstimate(totals, checker.estimateCost(task));
    } catch (error) {
      if (!(error instanceof ValidationError || error instanceof BudgetExceededError)) throw error;
      throw new CliInputError(args.file, error.message, { line: item.line, index: item.index });
    }
  }
  await checker.stop();
  return totals;
}

function cannotWrite(path: string, error: unknown): CliUsageError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new CliUsageError(`--out: cannot write ${JSON.stringify(path)} (${code})`);
}

/**
 * Whether the results file can be written, without touching it: an existing file is left as it
 * is until the job has passed every check and opens it.
 *
 * @throws CliUsageError naming `--out`, the path and why
 */
function checkWritable(path: string): void {
  try {
    const info = statSync(path, { throwIfNoEntry: false });
    if (info?.isDirectory()) {
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    accessSync(info === undefined ? dirname(path) : path, constants.W_OK);
    if (info === undefined && !statSync(dirname(path)).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
  } catch (error) {
    throw cannotWrite(path, error);
  }
}

/**
 * Appends JSON lines in order, waiting for the stream when it asks to. The first error writing
 * the file (a full disk, an I/O error) is handed to `onFailure`, once; nothing is written after
 * it, and nothing rejects.
 */
class ResultsWriter {
  private readonly stream: WriteStream;
  private chain: Promise<void> = Promise.resolve();
  /** The first error writing the file. */
  failure: Error | undefined;

  /** @throws CliUsageError when the file cannot be created (before anything starts). */
  constructor(
    path: string,
    private readonly onFailure: (error: Error) => void,
  ) {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (error) {
      throw cannotWrite(path, error);
    }
    this.stream = createWriteStream(path, { fd, encoding: 'utf8' });
    this.stream.on('error', (error) => this.fail(error));
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.onFailure(this.failure);
  }

  write(line: ResultLine): void {
    if (this.failure !== undefined) return;
    const text = `${JSON.stringify(line)}\n`;
    this.chain = this.chain
      .then(async () => {
        if (this.failure === undefined && !this.stream.write(text)) {
          await once(this.stream, 'drain');
        }
      })
      .catch((error: unknown) => this.fail(error));
  }

  /** Writes what is left and closes the file; resolves (never rejects) once it is closed. */
  async close(): Promise<void> {
    await this.chain;
    if (this.failure === undefined) this.stream.end();
    await finished(this.stream).catch((error: unknown) => this.fail(error));
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

  /** The escape sequence that erases what was drawn in place (on a TTY). */
  private erase(): string {
    const erase = this.mode === 'tty' && this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[0J` : '';
    this.drawn = 0;
    return erase;
  }

  draw(text: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'tty') {
      this.io.stderr.write(`${this.erase()}${text}\n`);
      this.drawn = text.split('\n').length;
    } else this.io.stderr.write(`${text}\n`);
  }

  /**
   * Writes a notice (whatever the mode): on a TTY in place of the display, which is drawn again
   * below it, so that the next redraw does not erase it.
   */
  say(text: string): void {
    this.io.stderr.write(`${this.erase()}${text}`);
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
  if (!args.simulator) return { options: args.manager, simulator: undefined };
  const simulator = await startSimulator(args.simulatorOptions);
  if (!args.quiet) {
    io.stderr.write(
      `aitq: --simulator: using the built-in simulator at ${simulator.url}; nothing leaves this machine\n`,
    );
  }
  return {
    options: { ...args.manager, baseURL: simulator.url, apiKey: 'sk-simulator' },
    simulator,
  };
}

/**
 * The job's tasks as the manager reports them, child tasks of composite task types included, and
 * what each cost: the `task.usage` events of its attempts and of its children, summed as they
 * come. The manager's store may have dropped a finished task already (retention), so a results
 * line never reads it back from there.
 */
class JobTasks {
  private readonly tasks = new Map<
    string,
    { costMicros: number; tokens: number; children: string[] }
  >();
  /** Child task → the job's task it belongs to. */
  private readonly rootOf = new Map<string, string>();
  private readonly offs: Array<() => void>;

  constructor(manager: AITaskManager) {
    this.offs = [
      manager.on('task.submitted', (event) => {
        if (event.parentId === undefined) {
          this.tasks.set(event.taskId, { costMicros: 0, tokens: 0, children: [] });
          return;
        }
        const root = this.rootOf.get(event.parentId) ?? event.parentId;
        const entry = this.tasks.get(root);
        if (entry === undefined) return;
        entry.children.push(event.taskId);
        this.rootOf.set(event.taskId, root);
      }),
      manager.on('task.usage', (event) => {
        const entry = this.tasks.get(this.rootOf.get(event.taskId) ?? event.taskId);
        if (entry === undefined) return;
        entry.costMicros += event.costMicros;
        entry.tokens += event.promptTokens + event.completionTokens;
      }),
    ];
  }

  /** Whether `id` is a task of the job (or a child of one) whose line is not written yet. */
  has(id: string): boolean {
    return this.tasks.has(id) || this.rootOf.has(id);
  }

  /** The job's tasks whose line is not written yet, and their children. */
  ids(): string[] {
    return [...this.tasks].flatMap(([id, entry]) => [id, ...entry.children]);
  }

  /** The task's cost (US dollars) and tokens so far; forgets it and its children. */
  take(id: string): { cost: number; tokens: number } {
    const entry = this.tasks.get(id);
    if (entry === undefined) return { cost: 0, tokens: 0 };
    this.tasks.delete(id);
    for (const child of entry.children) this.rootOf.delete(child);
    return { cost: entry.costMicros / 1e6, tokens: entry.tokens };
  }

  close(): void {
    for (const off of this.offs) off();
  }
}

interface FailedEventError {
  code?: string;
  status?: number | undefined;
  providerCode?: string | undefined;
  message?: string;
}

/**
 * What a refusal no wait cures (`PROVIDER_REFUSED`: a bad key, no credit, no such model) says, in
 * a few words, and whom it stops; `undefined` for any other failure.
 */
function refusalOf(
  error: FailedEventError | undefined,
): { what: string; scope: 'provider' | 'model' } | undefined {
  if (error?.code !== 'PROVIDER_REFUSED') return undefined;
  const scope = refusalScope(error.status, error.providerCode) ?? 'model';
  const http = `HTTP ${error.status ?? '?'}${error.providerCode === undefined ? '' : ` ${error.providerCode}`}`;
  if (error.status === 401 || error.status === 403) {
    return { what: `authentication failed (${http})`, scope };
  }
  if (error.status === 429) return { what: `the account is out of credit (${http})`, scope };
  return { what: `the model was not found (${http})`, scope };
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
  checkWritable(args.out);
  const { options, simulator } = await connect(args, io);
  let manager: AITaskManager;
  let results: ResultsWriter;
  try {
    manager = await createAITaskManager({ ...CLI_RETENTION, ...options });
  } catch (error) {
    await simulator?.close();
    throw error;
  }
  const display = new ProgressDisplay(io, progressMode(args, io));
  /** Whether the job has ended: a write that fails then loses lines, and stops nothing. */
  let ended = false;
  // Opened last: a job that fails on its configuration leaves an existing results file alone.
  try {
    // Said at once (even with --quiet), and the job stops: the results would be lost. Only a
    // write can fail, and the first comes from a task that ended: `drain` is defined by then.
    results = new ResultsWriter(args.out, (error) => {
      display.say(
        `aitq: --out: cannot write ${JSON.stringify(args.out)} (${error.message}): ${ended ? 'the last results are lost' : 'stopping, the tasks in flight are cancelled'}\n`,
      );
      if (!ended) drain({ cancelRunning: true });
    });
  } catch (error) {
    await manager.stop();
    await simulator?.close();
    throw error;
  }
  const jobTasks = new JobTasks(manager);
  const startedAt = new Date();
  const counts: JobCounts = { completed: 0, failed: 0, cancelled: 0 };
  const pending = new Map<string, Promise<void>>();
  let interrupts = 0;
  /** Set once the provider refused every call (a bad key, no credit): the job stops early. */
  let authError: { status?: number | undefined; message: string } | undefined;
  /** The refusals of one model already told (a model not found). */
  const modelRefusals = new Set<string>();
  const stopping = () => interrupts > 0 || authError !== undefined || results.failure !== undefined;
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
      (result) => {
        record({
          ...base,
          status: 'completed',
          result,
          ...jobTasks.take(id),
          metadata: task.metadata,
        });
      },
      (error: unknown) => {
        const { code, message } = serializeError(error);
        record({
          ...base,
          status: error instanceof TaskCancelledError ? 'cancelled' : 'failed',
          error: { code, message },
          ...jobTasks.take(id),
          metadata: task.metadata,
        });
      },
    );
    pending.set(
      id,
      settled.finally(() => pending.delete(id)),
    );
  };

  /**
   * Stops admitting and cancels what waits (child tasks of a running composite task too, so that
   * it can end); calls already running finish, or with `cancelRunning` are cancelled (aborted).
   */
  const drain = ({ cancelRunning = false } = {}) => {
    manager.pause();
    void Promise.all(
      jobTasks.ids().map(async (id) => {
        if (!cancelRunning) {
          const info = await manager.getTaskStatus(id);
          if (info === null || info.status === 'running') return;
        }
        await manager.cancelTask(id);
      }),
    ).catch(() => {});
  };

  /** First signal: stop feeding, cancel what waits, let running calls finish. Second: cancel those. */
  const interrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      if (!args.quiet) {
        display.say('\naitq: interrupted: finishing running calls (Ctrl-C again to cancel them)\n');
      }
      drain();
    } else if (interrupts === 2) {
      if (!args.quiet) display.say('aitq: cancelling running calls\n');
      void manager.stop({ force: true });
    }
  };
  const offs = (['SIGINT', 'SIGTERM'] as const).map((s) => io.onSignal(s, interrupt));
  // A refused key fails every call alike: stop at the first (of any task, child tasks included).
  offs.push(
    manager.on('task.failed', (event) => {
      const refusal = refusalOf(event.error);
      if (authError !== undefined || refusal === undefined) return;
      const message = event.error?.message ?? '';
      if (refusal.scope === 'model') {
        // The queue fails that model's tasks at once; the others go on. Said once per answer
        // (the provider's message names the model).
        if (modelRefusals.has(message)) return;
        modelRefusals.add(message);
        display.say(`aitq: ${refusal.what}: its tasks fail, the others go on (${message})\n`);
        return;
      }
      authError = { status: event.error?.status, message };
      // Always said (even with --quiet): it is why the job stops.
      display.say(`aitq: ${refusal.what}: stopping, no more tasks are sent (${message})\n`);
      // Not from inside the manager's own event.
      queueMicrotask(() => drain());
    }),
    // Once the job stops, a task whose call failed gets no other attempt: it would wait for ever
    // in the paused queue.
    manager.on('task.retrying', (event) => {
      if (!stopping() || !jobTasks.has(event.taskId)) return;
      queueMicrotask(() => void manager.cancelTask(event.taskId));
    }),
    // Nor does a child that a running composite task submits after the drain began.
    manager.on('task.submitted', (event) => {
      if (!stopping() || event.parentId === undefined || !jobTasks.has(event.taskId)) return;
      queueMicrotask(() => void manager.cancelTask(event.taskId));
    }),
  );

  /**
   * Submits `task`. While the total budget cannot hold its worst case only because tasks in
   * flight hold theirs, waits for one of them to end and tries again; `undefined` when the job
   * stops meanwhile.
   * @throws what `submitTask` throws, `BudgetExceededError` once nothing is in flight
   */
  const submit = async (task: CliTask): Promise<string | undefined> => {
    for (;;) {
      try {
        return await manager.submitTask(task);
      } catch (error) {
        if (!(error instanceof BudgetExceededError) || pending.size === 0) throw error;
        if (neverFits(task)) throw error;
        await Promise.race(pending.values());
        if (stopping()) return undefined;
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

  try {
    for await (const { item, task } of tasksOf(args)) {
      if (stopping()) break;
      await manager.onSizeLessThan(
        Math.min(FEED_HIGH_WATER, args.settings.maxQueueSize ?? FEED_HIGH_WATER),
      );
      if (stopping()) break;
      let id: string | undefined;
      try {
        id = await submit(task);
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
        continue;
      }
      if (id === undefined) break;
      follow(id, item, task);
      // Submitted while the job began to stop: it would wait for ever in the paused queue.
      if (stopping()) void manager.cancelTask(id);
    }
    while (pending.size > 0) await Promise.all(pending.values());
  } finally {
    for (const off of offs) off();
    clearInterval(ticker);
    await manager.stop();
    jobTasks.close();
    await draw().catch(() => {});
    ended = true;
    await results.close();
    await simulator?.close();
  }

  const summary = summarize(latest ?? (await manager.getStatistics()), {
    total,
    startedAt,
    now: new Date(),
    interrupted: interrupts > 0,
    resultsFile: args.out,
    counts,
  });
  io.stdout.write(args.json ? `${JSON.stringify(summary)}\n` : `${renderSummary(summary)}\n`);
  // Results that could not be written fail the job, whatever the tasks did.
  return results.failure === undefined ? jobExitCode(summary) : EXIT_CODES.someFailed;
}
