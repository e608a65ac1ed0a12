/**
 * A job's input: its records read as tasks with their resume keys (one pass, streamed), and the
 * check of the whole input before anything starts.
 */

import {
  type AIClient,
  AITaskManager,
  type AITaskManagerOptions,
  BudgetExceededError,
  ValidationError,
} from '../index.js';
import type { JobArgs } from './args.js';
import { CliInputError, CliUsageError } from './errors.js';
import { addEstimate, emptyTotals } from './estimate.js';
import { type InputItem, readJsonItems } from './input.js';
import { TaskKeys } from './keys.js';
import type { OwnTaskType } from './own-task-type.js';
import {
  type CliTask,
  lineTask,
  readRepositories,
  readTaskLines,
  recordTask,
  repositoryTask,
} from './records.js';
import type { InputSource } from './stdio.js';

/** What a job reads: the input file (or stdin's copy), and the own task type of its records. */
export interface JobInput {
  source: InputSource;
  /** `run --prompt` / `--task-type`: the records are plain, each the data of this type's task. */
  own: OwnTaskType | undefined;
}

/** One record of the input file, its task and its resume key. */
export interface JobEntry {
  item: InputItem;
  task: CliTask;
  key: string;
}

/** A client for estimates only: a check or a dry run never calls a model. */
const NO_CALLS: AIClient = {
  chat: () => Promise.reject(new Error('a dry run sends nothing')),
  embed: () => Promise.reject(new Error('a dry run sends nothing')),
};

/** The file's records, their tasks and their resume keys, in order (one pass). */
export async function* entriesOf(args: JobArgs, input: JobInput): AsyncGenerator<JobEntry> {
  const { priority } = args;
  const { path, label } = input.source;
  const options = { maxRecordBytes: args.maxRecordBytes, label };
  const { own } = input;
  const keys = new TaskKeys(label, args.settings, args.key, own?.identity);
  if (own !== undefined) {
    for await (const item of readJsonItems(path, options)) {
      const problem = own.problem(item.value);
      if (problem !== undefined) {
        throw new CliInputError(label, `${own.flag}: ${problem}`, {
          line: item.line,
          index: item.index,
        });
      }
      const task = recordTask(item, own.definition.name, priority);
      yield { item, task, key: keys.next(item, task) };
    }
    return;
  }
  if (args.command === 'analyze') {
    for await (const item of readRepositories(path, options)) {
      const task = repositoryTask(item, priority);
      yield { item, task, key: keys.next(item, task) };
    }
    return;
  }
  for await (const item of readTaskLines(path, options)) {
    const task = lineTask(item, priority);
    yield { item, task, key: keys.next(item, task) };
  }
}

/** A manager that never starts nor calls a model: it checks and estimates tasks. */
function checkerOf(input: JobInput, options: AITaskManagerOptions): AITaskManager {
  try {
    return new AITaskManager({ ...options, aiClient: NO_CALLS });
  } catch (error) {
    // Only the own task type can make valid options invalid: a module's malformed definition.
    if (!(error instanceof ValidationError) || input.own === undefined) throw error;
    const message = error.message
      .replace(/\s*\n\s*/g, ' ')
      .replace(/^invalid options: /, '')
      .replace(/options\.taskTypes\.\d+\./g, '');
    throw new CliUsageError(`${input.own.flag}: the module's task type is malformed: ${message}`);
  }
}

/**
 * Reads the whole input once: every item parsed and validated, its key made (a `--key` field that
 * is missing, of the wrong type or repeated is bad input), and each task checked against its task
 * type (the same checks `submitTask` makes) by a manager that never starts.
 */
export async function checkInput(args: JobArgs, input: JobInput, options: AITaskManagerOptions) {
  const checker = checkerOf(input, options);
  const totals = emptyTotals();
  try {
    for await (const { item, task } of entriesOf(args, input)) {
      try {
        // Refuses what submitting would refuse: a model with no price under a budget, a token
        // reservation above a window, a worst case above a budget.
        addEstimate(totals, checker.estimateCost(task));
      } catch (error) {
        if (!(error instanceof ValidationError || error instanceof BudgetExceededError)) {
          throw error;
        }
        throw new CliInputError(input.source.label, error.message, {
          line: item.line,
          index: item.index,
        });
      }
    }
  } finally {
    await checker.stop();
  }
  return totals;
}
