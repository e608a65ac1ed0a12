/**
 * What each record of an input file means: a repository (`analyze`), a task line (`run`), or,
 * with an own task type (`run --prompt`, `--task-type`), a plain record that is the task's data.
 * Each is validated as it is read, and every error names the file, the line and the field.
 */

import { z } from 'zod';
import {
  describeValue,
  OwnKeysRecordSchema,
  PrioritySchema,
  valueAt,
  withHint,
} from '../config/index.js';
import type { Priority } from '../index.js';
import { CliInputError } from './errors.js';
import { type InputItem, type ReadOptions, readJsonItems } from './input.js';

function checkItem<S extends z.ZodType>(
  schema: S,
  file: string,
  item: InputItem,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(item.value);
  if (parsed.success) return parsed.data;
  // An unknown key first: a misspelt `task_type` is why `taskType` is missing.
  const issue =
    parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const received = valueAt(item.value, issue?.path ?? []);
  const where = path === '' ? what : `${what} field "${path}"`;
  throw new CliInputError(
    file,
    `${where}: ${issue === undefined ? 'invalid' : withHint(issue, schema)} (received ${describeValue(received)})`,
    { line: item.line, index: item.index },
  );
}

/** The items of `file`, each validated by `schema` as it is read (`what` names one in errors). */
async function* readChecked<S extends z.ZodType>(
  schema: S,
  what: string,
  file: string,
  options: ReadOptions,
): AsyncGenerator<InputItem<z.output<S>>> {
  const name = options.label ?? file;
  for await (const item of readJsonItems(file, options)) {
    yield { ...item, value: checkItem(schema, name, item, what) };
  }
}

/** A repository as `aitq analyze` reads it: the seed's repository items. Other keys are kept. */
export const RepositorySchema = z.looseObject({
  name: z
    .string({ error: 'a repository needs a "name" (a non-empty string)' })
    .min(1, { error: 'a repository needs a "name" (a non-empty string)' }),
  full_name: z.string().optional(),
  description: z.string().nullable().optional(),
  language: z.string().nullable().optional(),
  stargazers_count: z.number().int().nonnegative().optional(),
  topics: z.array(z.string()).optional(),
  readme: z.string().nullable().optional(),
});

export type Repository = z.output<typeof RepositorySchema>;

/** The repositories of `file`, validated one by one as they are read. */
export function readRepositories(
  file: string,
  options: ReadOptions = {},
): AsyncGenerator<InputItem<Repository>> {
  return readChecked(RepositorySchema, 'repository', file, options);
}

/** One line of `aitq run`'s input: a task of any registered type. */
export const TaskLineSchema = z.strictObject({
  taskType: z.string({ error: 'a task needs a "taskType" (a string)' }).min(1),
  data: z.unknown().refine((value) => value !== undefined, { error: 'a task needs "data"' }),
  priority: PrioritySchema.optional(),
  config: OwnKeysRecordSchema.optional(),
  metadata: OwnKeysRecordSchema.optional(),
});

export type TaskLine = z.output<typeof TaskLineSchema>;

/** The tasks of `file`, validated one by one as they are read. */
export function readTaskLines(
  file: string,
  options: ReadOptions = {},
): AsyncGenerator<InputItem<TaskLine>> {
  return readChecked(TaskLineSchema, 'task', file, options);
}

/** What `submitTask` takes, as the CLI builds it. */
export interface CliTask {
  taskType: string;
  data: unknown;
  priority?: Priority;
  config?: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/**
 * The `REPOSITORY_ANALYSIS` task of one repository: every field but `readme` goes to `repo_info`,
 * the readme to `readme_content`; its metadata says where it came from.
 */
export function repositoryTask(item: InputItem<Repository>, priority?: Priority): CliTask {
  const { readme, ...repoInfo } = item.value;
  return {
    taskType: 'REPOSITORY_ANALYSIS',
    data: { repo_info: repoInfo, readme_content: readme ?? '' },
    ...(priority === undefined ? {} : { priority }),
    metadata: { name: repoInfo.name, line: item.line, index: item.index },
  };
}

/** The task of one `aitq run` line; `priority` applies where the line sets none. */
export function lineTask(item: InputItem<TaskLine>, priority?: Priority): CliTask {
  const { taskType, data, config, metadata } = item.value;
  const chosen = (item.value.priority as Priority | undefined) ?? priority;
  return {
    taskType,
    data,
    ...(chosen === undefined ? {} : { priority: chosen }),
    ...(config === undefined ? {} : { config }),
    metadata: { ...metadata, line: item.line, index: item.index },
  };
}

/**
 * The task of one plain record with an own task type (`--prompt`, `--task-type`): the record is
 * the task's data; the metadata says where it came from.
 */
export function recordTask(item: InputItem, taskType: string, priority?: Priority): CliTask {
  return {
    taskType,
    data: item.value,
    ...(priority === undefined ? {} : { priority }),
    metadata: { line: item.line, index: item.index },
  };
}
