/**
 * The task types `aitq run` registers beyond the built-in ones:
 *
 * - an own prompt (`--prompt` / `--prompt-file`, optionally `--schema`): each plain record fills
 *   the template; the task is one chat call whose result is the answer text, or, with a schema,
 *   the answer parsed and validated by it (an invalid answer is retryable, as for the built-in
 *   types);
 * - a module (`--task-type ./module.mjs`) that exports a task type; each record is its data;
 * - the built-in chat types again, with the config file's `structuredOutputs` /
 *   `countSchemaTokens` (the factories' options, which the manager's options do not have).
 *
 * Each own task type has an identity (a hash of the template and the schema, or of the module's
 * source) that goes into every resume key, so a changed prompt never reuses old results.
 */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  type AnyTaskTypeDefinition,
  type ChatMessage,
  createRepositoryAnalysisTaskType,
  createTextClassificationTaskType,
  defineStructuredTaskType,
  NonRetryableError,
  resolveStructuredOutputs,
  type StructuredOutputOptions,
} from '../index.js';
import { countChatTokens } from '../limits/index.js';
import { usage, type Values } from './flags.js';
import { readSmallFile } from './input.js';
import { answerSchemaOf, type JsonSchemaFile, loadJsonSchema } from './json-schema.js';
import { canonicalJson, sha256 } from './keys.js';
import { PromptTemplate } from './template.js';

/** The task type of `--prompt` / `--prompt-file`: the name in the results' `taskType`. */
export const PROMPT_TASK_TYPE = 'PROMPT';

/** What `run` was asked to run its plain records with (read while the command line is). */
export type OwnTaskOptions =
  | { kind: 'prompt'; template: PromptTemplate; schema: JsonSchemaFile | undefined }
  | { kind: 'module'; file: string };

/** The structured-output settings of the config file (`structuredOutputs`, `countSchemaTokens`). */
export type StructuredSettings = Pick<
  StructuredOutputOptions,
  'structuredOutputs' | 'countSchemaTokens'
>;

/** A prompt file's text, without the line break (or spaces) it ends with. */
function readPromptFile(file: string, cwd: string): string {
  return readSmallFile(resolve(cwd, file), `--prompt-file ${file}`).trimEnd();
}

/**
 * `--prompt`, `--prompt-file`, `--schema`, `--task-type`: the template parsed, the schema read
 * and compiled; `undefined` when none is given (the input is task lines).
 * @throws CliUsageError two that exclude each other, a schema without a prompt, a bad template,
 * an unreadable prompt file, a bad schema file
 */
export function ownTaskOptionsOf(values: Values, cwd: string): OwnTaskOptions | undefined {
  const { prompt, schema } = values;
  const promptFile = values['prompt-file'];
  const module = values['task-type'];
  if (typeof prompt === 'string' && typeof promptFile === 'string') {
    throw usage('--prompt and --prompt-file: choose one');
  }
  const promptFlag = typeof prompt === 'string' ? '--prompt' : '--prompt-file';
  const hasPrompt = typeof prompt === 'string' || typeof promptFile === 'string';
  if (typeof module === 'string') {
    if (hasPrompt || typeof schema === 'string') {
      const other = hasPrompt ? promptFlag : '--schema';
      throw usage(`--task-type and ${other}: choose one (the module makes its own prompt)`);
    }
    if (module.trim() === '') throw usage('--task-type: expected a module file (received "")');
    return { kind: 'module', file: module };
  }
  if (!hasPrompt) {
    if (typeof schema === 'string') {
      throw usage('--schema needs --prompt or --prompt-file: the prompt the answers follow');
    }
    return undefined;
  }
  const text = typeof prompt === 'string' ? prompt : readPromptFile(promptFile as string, cwd);
  const label = typeof prompt === 'string' ? '--prompt' : `--prompt-file ${promptFile}`;
  return {
    kind: 'prompt',
    template: PromptTemplate.parse(text, label),
    schema: typeof schema === 'string' ? loadJsonSchema(schema, cwd) : undefined,
  };
}

/** An own task type, ready to register. */
export interface OwnTaskType {
  definition: AnyTaskTypeDefinition;
  /** A hash of what defines it (the template and the schema, or the module's source). */
  identity: string;
  /** The flag that names it in messages: `--prompt`, `--task-type ./module.mjs`. */
  flag: string;
  /** Why a record cannot be its data, checked before anything starts (`undefined`: it can). */
  problem(record: unknown): string | undefined;
}

/** The own prompt's task type: one chat call; the answer text, or the answer to the schema. */
function promptTaskType(
  template: PromptTemplate,
  schema: JsonSchemaFile | undefined,
  structured: StructuredSettings,
): AnyTaskTypeDefinition {
  const input = z.unknown().superRefine((record, ctx) => {
    const problem = template.problem(record);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
  const messages = (record: unknown): ChatMessage[] => [
    { role: 'user', content: template.render(record) },
  ];
  if (schema !== undefined) {
    const answer = answerSchemaOf(schema);
    return defineStructuredTaskType({
      name: PROMPT_TASK_TYPE,
      input,
      output: answer.output,
      messages,
      answer: () => answer,
      structured: resolveStructuredOutputs(structured, 'config file'),
    });
  }
  return {
    name: PROMPT_TASK_TYPE,
    kind: 'call',
    input,
    output: z.string(),
    estimate: (record, env) => ({
      model: env.model,
      promptTokens: countChatTokens(messages(record), env.model),
      maxTokens: env.maxTokens,
    }),
    run: async (ctx) => {
      const response = await ctx.chat({ messages: messages(ctx.data) });
      // A refusal is the model's answer to this prompt: another attempt would pay for it again.
      if (response.refusal !== undefined) {
        throw new NonRetryableError(`the model declined to answer: ${response.refusal}`);
      }
      return response.content;
    },
  };
}

/** Whether `value` looks like a task type (the manager checks it fully when it is registered). */
export function looksLikeTaskType(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { run?: unknown }).run === 'function'
  );
}

/**
 * A module's exports.
 * @throws CliUsageError naming `flag` when it cannot be loaded
 */
export async function importModule(path: string, flag: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw usage(`${flag}: cannot load the module (${message.split('\n')[0]})`);
  }
}

/**
 * The task type a module exports: its default export, else its one named export that is a task
 * type.
 * @throws CliUsageError a module that cannot be read or loaded, or exports no task type, or several
 */
async function moduleTaskType(file: string, cwd: string): Promise<OwnTaskType> {
  const flag = `--task-type ${file}`;
  const path = resolve(cwd, file);
  const source = readSmallFile(path, flag);
  const exports = await importModule(path, flag);
  const named = Object.entries(exports).filter(
    ([name, value]) => name !== 'default' && looksLikeTaskType(value),
  );
  let definition: unknown = exports.default;
  if (definition === undefined && named.length === 1) definition = named[0]?.[1];
  if (definition === undefined && named.length > 1) {
    throw usage(
      `${flag}: the module exports several task types (${named.map(([name]) => name).join(', ')}): export the one to run as its default export`,
    );
  }
  if (!looksLikeTaskType(definition)) {
    throw usage(
      `${flag}: the module exports no task type: export default a task type { name, input, output, estimate, run } (see docs/task-types.md)`,
    );
  }
  const task = definition as AnyTaskTypeDefinition;
  return {
    definition: task,
    identity: sha256(canonicalJson({ kind: 'module', name: task.name, source })),
    flag,
    problem: () => undefined,
  };
}

/** Builds the own task type `options` name (a module is imported now). */
export async function loadOwnTaskType(
  options: OwnTaskOptions,
  structured: StructuredSettings,
  cwd: string,
): Promise<OwnTaskType> {
  if (options.kind === 'module') return moduleTaskType(options.file, cwd);
  const { template, schema } = options;
  return {
    definition: promptTaskType(template, schema, structured),
    identity: sha256(
      canonicalJson({ kind: 'prompt', template: template.text, schema: schema?.schema ?? null }),
    ),
    flag: template.flag,
    problem: (record) => template.problem(record),
  };
}

/**
 * The built-in chat task types made again with the config file's structured-output settings
 * (registered after the built-in ones, they replace them); none when the file sets neither.
 */
export function structuredBuiltins(structured: StructuredSettings): AnyTaskTypeDefinition[] {
  if (structured.structuredOutputs === undefined && structured.countSchemaTokens === undefined) {
    return [];
  }
  return [
    createRepositoryAnalysisTaskType(structured),
    createTextClassificationTaskType(structured),
  ];
}
