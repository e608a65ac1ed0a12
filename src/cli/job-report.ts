/** What a job says of its tasks: their results lines, a refusal that stops it, the resume line. */

import { refusalScope, serializeError, TaskCancelledError, type TaskInfo } from '../index.js';
import type { JobEntry } from './job-input.js';
import type { ResultLine } from './results.js';
import type { StorePreparation } from './store.js';

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
export function refusalOf(
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

/** The results line of a finished task, from what the manager reports of it. */
export function lineFromInfo(info: TaskInfo, { item, task }: JobEntry): ResultLine {
  const base = {
    index: item.index,
    line: item.line,
    taskId: info.taskId,
    taskType: task.taskType,
  };
  const spent = { cost: info.metrics.actualCost, tokens: info.metrics.tokensUsed };
  if (info.status === 'completed') {
    return { ...base, status: 'completed', result: info.result, ...spent, metadata: task.metadata };
  }
  const { code, message } =
    info.status === 'cancelled' || info.error === null
      ? serializeError(new TaskCancelledError(info.taskId))
      : info.error;
  return {
    ...base,
    status: info.status === 'cancelled' ? 'cancelled' : 'failed',
    error: { code, message },
    ...spent,
    metadata: task.metadata,
  };
}

/** What the resume line says, after what the store held: `40 done, 35 to run (…)`. */
export function resumeLine(
  path: string,
  total: number,
  prepared: StorePreparation,
  interrupted: number,
): string {
  const notes: string[] = [];
  if (prepared.rerun > 0) notes.push(`${prepared.rerun} failed or cancelled before: run again`);
  if (interrupted > 0) {
    notes.push(`${interrupted} interrupted mid-call: sent again, may be paid twice`);
  }
  if (prepared.dropped > 0) notes.push(`${prepared.dropped} no longer in the input: dropped`);
  const done = Math.min(total, prepared.done);
  return `aitq: resuming from ${path}: ${done} done, ${total - done} to run${notes.length === 0 ? '' : ` (${notes.join('; ')})`}\n`;
}

/** `1 running task`, `3 running tasks`. */
function runningTasks(n: number): string {
  return `${n} running task${n === 1 ? '' : 's'}`;
}

/**
 * What a Ctrl-C (or SIGTERM) says on stderr, one line: the first drains (`press` 1: running
 * tasks finish, Ctrl-C again cancels them), the second cancels the `running` tasks.
 */
export function interruptLine(press: 1 | 2, running: number): string {
  if (press === 1) {
    return running === 0
      ? 'aitq: draining: no task running; stopping\n'
      : `aitq: draining: waiting for ${runningTasks(running)}; Ctrl-C again to cancel them\n`;
  }
  return running === 0
    ? 'aitq: cancelling: no task running\n'
    : `aitq: cancelling ${runningTasks(running)}\n`;
}
