/**
 * Why a running job stops, and how: Ctrl-C (the first drains, the second cancels the running
 * calls), a provider that refuses every call (a bad key, no credit; a refused model fails only its
 * own tasks), a write to the store or to the results that fails. Once the job stops, no task is
 * left to wait for ever in the paused queue.
 */

import type { AITaskManager, Statistics } from '../index.js';
import type { CliIO } from './io.js';
import { interruptLine, refusalOf } from './job-report.js';
import type { JobTasks } from './job-tasks.js';
import type { ProgressDisplay } from './progress.js';
import type { ResultsWriter } from './results.js';

/** What a job's stop acts on and reads. */
export interface JobStopContext {
  manager: AITaskManager;
  jobTasks: JobTasks;
  display: ProgressDisplay;
  /** `--quiet`: the interrupt lines are not said (the reasons a job stops on its own are). */
  quiet: boolean;
  /** The job's store's path; `undefined` without a store. */
  storePath: string | undefined;
  results: Pick<ResultsWriter, 'failure'>;
  /**
   * Stops admitting and cancels what waits; calls already running finish, or with
   * `cancelRunning` are cancelled. Resolves once every cancellation it asked for has landed.
   */
  drain: (options?: { cancelRunning?: boolean }) => Promise<void>;
  /** The statistics drawn last, for the running tasks when they cannot be read. */
  latest: () => Statistics | undefined;
}

/** The reasons a running job stops, as they come. */
export class JobStop {
  /** Ctrl-C (or SIGTERM) so far. */
  interrupts = 0;
  /** Set once a write to the store failed (a full disk): the job stops, as for the results. */
  storeFailure: string | undefined;
  /** Set once the provider refused every call (a bad key, no credit): the job stops early. */
  private authError: { status?: number | undefined; message: string } | undefined;
  /** The refusals of one model already told (a model not found). */
  private readonly modelRefusals = new Set<string>();
  /** The interrupt lines, said in order. */
  private announced = Promise.resolve();

  constructor(private readonly job: JobStopContext) {}

  /**
   * Whether the job cancels what runs: a second Ctrl-C, or a write to the results or the store
   * that failed. Its last stop then aborts the calls still running (a task an earlier run left
   * that no record claimed yet is not one of the job's, and no drain cancelled it).
   */
  cancelling(): boolean {
    return (
      this.interrupts > 1 ||
      this.job.results.failure !== undefined ||
      this.storeFailure !== undefined
    );
  }

  /** Whether the job stops: interrupted, refused, or unable to write its results or its store. */
  stopping(): boolean {
    return (
      this.interrupts > 0 ||
      this.authError !== undefined ||
      this.job.results.failure !== undefined ||
      this.storeFailure !== undefined
    );
  }

  /**
   * Listens to Ctrl-C (and SIGTERM) and to the manager's events that stop the job or that a
   * stopping job must answer; returns the functions that stop listening.
   */
  listen(io: CliIO): Array<() => void> {
    const { manager, jobTasks, display } = this.job;
    const offs = (['SIGINT', 'SIGTERM'] as const).map((s) =>
      io.onSignal(s, () => this.interrupt()),
    );
    // A refused key fails every call alike: stop at the first (of any task, child tasks included).
    offs.push(
      manager.on('task.failed', (event) => {
        const refusal = refusalOf(event.error);
        if (this.authError !== undefined || refusal === undefined) return;
        const message = event.error?.message ?? '';
        if (refusal.scope === 'model') {
          // The queue fails that model's tasks at once; the others go on. Said once per answer
          // (the provider's message names the model).
          if (this.modelRefusals.has(message)) return;
          this.modelRefusals.add(message);
          display.say(`aitq: ${refusal.what}: its tasks fail, the others go on (${message})\n`);
          return;
        }
        this.authError = { status: event.error?.status, message };
        // Always said (even with --quiet): it is why the job stops.
        display.say(`aitq: ${refusal.what}: stopping, no more tasks are sent (${message})\n`);
        // Not from inside the manager's own event.
        queueMicrotask(() => void this.job.drain());
      }),
      // Once the job stops, a task whose call failed gets no other attempt: it would wait for ever
      // in the paused queue.
      manager.on('task.retrying', (event) => {
        if (!this.stopping() || !jobTasks.has(event.taskId)) return;
        queueMicrotask(() => void manager.cancelTask(event.taskId));
      }),
      // Nor does a child that a running composite task submits after the drain began.
      manager.on('task.submitted', (event) => {
        if (!this.stopping() || event.parentId === undefined || !jobTasks.has(event.taskId)) return;
        queueMicrotask(() => void manager.cancelTask(event.taskId));
      }),
      manager.on('store.error', (event) => this.storeFailed(event.error.message)),
    );
    return offs;
  }

  /** A write to the store failed: said at once (even with --quiet), and the job stops. */
  storeFailed(message: string): void {
    const { storePath, display } = this.job;
    if (this.storeFailure !== undefined || storePath === undefined) return;
    this.storeFailure = message;
    display.say(
      `aitq: store ${JSON.stringify(storePath)}: cannot write (${message.replace(/\s+/g, ' ')}): stopping, the tasks in flight are cancelled\n`,
    );
    queueMicrotask(() => void this.job.drain({ cancelRunning: true }));
  }

  /** First signal: stop feeding, cancel what waits, let running calls finish. Second: cancel those. */
  private interrupt(): void {
    this.interrupts++;
    if (this.interrupts === 1) {
      void this.announce(1);
      void this.job.drain();
    } else if (this.interrupts === 2) {
      // Every task of the job is cancelled before the stop: a stop leaves what waits in line (for
      // a later run) and tells its waiters the queue stopped, so a task whose cancellation of the
      // first Ctrl-C was still reading the store would end as failed. The forced stop then aborts
      // what runs besides (a task an earlier run left that no record claimed yet).
      void this.announce(2)
        .then(() => this.job.drain({ cancelRunning: true }))
        .then(() => this.job.manager.stop({ force: true }))
        // The job's own last stop reports what a stop cannot do.
        .catch(() => {});
    }
  }

  /** Says the interrupt line, in order, with the running tasks counted when it came. */
  private async announce(press: 1 | 2): Promise<void> {
    if (this.job.quiet) return;
    const running = this.job.manager.getStatistics().then(
      (stats) => stats.concurrency.runningTasks,
      () => this.job.latest()?.concurrency.runningTasks ?? 0,
    );
    this.announced = this.announced
      .then(async () => {
        this.job.display.say(`${press === 1 ? '\n' : ''}${interruptLine(press, await running)}`);
      })
      .catch(() => {});
    // Counted before the caller acts on the signal (a second one aborts the running calls).
    await running;
  }
}
