/**
 * Reading the CLI's input files: a JSON array or JSON Lines, streamed (a file of any size is read
 * a chunk at a time; only the item being parsed is held in memory, and an item larger than the
 * maximum record size is refused before it is built). Every error names the file and the line,
 * and for a JSON array the item's index.
 */

import { constants as bufferConstants } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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

/** One item of an input file and where it was found. */
export interface InputItem<T = unknown> {
  value: T;
  /** 1-based line where the item starts. */
  line: number;
  /** 0-based position of the item in the file (array index, or n-th non-blank line). */
  index: number;
}

const BOM = '\uFEFF';
const JSON_WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const LF = 0x0a;
const CR = 0x0d;
/** Bytes read from the file at a time. */
const CHUNK_BYTES = 64 * 1024;

/** The largest record (a JSON Lines line, an item of a JSON array) read by default: 64 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
/**
 * The largest maximum record size: V8's longest string, in UTF-16 code units. A record of no
 * more bytes of UTF-8 decodes to no more code units, so it can always be built and parsed.
 */
export const LARGEST_MAX_RECORD_BYTES = bufferConstants.MAX_STRING_LENGTH;

export interface ReadOptions {
  /**
   * The largest record in bytes (UTF-8): a JSON Lines line without its line break, an item of a
   * JSON array from its first character to its last. A larger one is refused as soon as it
   * passes the limit, without being read further or held in memory.
   * @default DEFAULT_MAX_RECORD_BYTES (64 MiB)
   */
  maxRecordBytes?: number;
}

function tooLarge(
  file: string,
  maxBytes: number,
  where: { line: number; index?: number | undefined },
): CliInputError {
  return new CliInputError(
    file,
    `the record is over ${maxBytes} bytes, the maximum record size (--max-record-size)`,
    where,
  );
}

/**
 * A JSON error message on one line, without V8's copy of a long source text, and without its
 * position, line and column: those count from the start of the item, not of the file.
 */
function oneLine(message: string): string {
  const flat = message
    .replace(/\s+/g, ' ')
    .replace(/ (?:in JSON )?at position \d+(?: \(line \d+ column \d+\))?/g, '')
    .trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}

/**
 * The line and column in the file of `position` inside `text`, whose first character is at
 * `firstLine`, `firstColumn` (both 1-based).
 */
function placeOf(
  text: string,
  position: number,
  firstLine: number,
  firstColumn: number,
): { line: number; column: number } {
  let line = firstLine;
  let lineStart = -1;
  const end = Math.min(position, text.length);
  for (let i = 0; i < end; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i;
    }
  }
  return { line, column: lineStart === -1 ? firstColumn + position : position - lineStart };
}

/** Whether parsing `prefix` fails for a reason other than running out of text. */
function failsBeforeEnd(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return false;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes('end of JSON')) return false;
    const position = /at position (\d+)/.exec(message)?.[1];
    return position === undefined || Number(position) < prefix.length;
  }
}

/**
 * Where in `text` (which does not parse) the JSON goes wrong: the end of its shortest prefix that
 * already fails for a reason other than ending early. V8 does not always say (`Unexpected token`).
 */
function errorOffset(text: string): number {
  let lo = 1;
  let hi = text.length;
  if (!failsBeforeEnd(text)) return text.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (failsBeforeEnd(text.slice(0, mid))) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/**
 * Where and why `text` (which starts at `line`, `column`, 1-based) is not JSON: the message on
 * one line, and the line and column of the fault.
 */
export function jsonFault(
  text: string,
  error: unknown,
  line = 1,
  column = 1,
): { message: string; line: number; column: number } {
  const message = oneLine(error instanceof Error ? error.message : String(error));
  return { message, ...placeOf(text, errorOffset(text), line, column) };
}

/** Parses one item whose text starts at `line`, `column` of `file` (1-based). */
function parseItem(
  file: string,
  text: string,
  line: number,
  column: number,
  index?: number,
): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const { message, ...at } = jsonFault(text, error, line, column);
    throw new CliInputError(file, `bad JSON: ${message}`, { ...at, index });
  }
}

async function openChecked(file: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliInputError(
      file,
      code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(error)})`,
    );
  }
  if (info.isDirectory()) throw new CliInputError(file, 'is a directory, not a file');
}

/** The first non-whitespace character of the file (`undefined` when it has none). */
async function firstSignificantChar(file: string): Promise<string | undefined> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 });
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const match = /[^\s\uFEFF]/.exec(chunk);
      if (match) return match[0];
    }
    return undefined;
  } finally {
    stream.destroy();
  }
}

/**
 * The lines of `file`, split where readline splits them (`\n`, `\r\n`, `\r`), read as bytes: a
 * line is decoded only once it is whole, and one longer than `maxBytes` is refused as soon as it
 * passes them.
 */
async function* readLines(
  file: string,
  maxBytes: number,
): AsyncGenerator<{ text: string; line: number }> {
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  /** The current line's bytes from earlier chunks, and how many. */
  let parts: Buffer[] = [];
  let size = 0;
  let line = 1;
  /** The last line ended with `\r`: a `\n` right after it ends nothing. */
  let afterCR = false;
  const add = (piece: Buffer): void => {
    size += piece.length;
    if (size > maxBytes) throw tooLarge(file, maxBytes, { line });
    if (piece.length > 0) parts.push(piece);
  };
  const take = (): string => {
    const text = (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size)).toString(
      'utf8',
    );
    parts = [];
    size = 0;
    return text;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === LF && afterCR) {
          afterCR = false;
          start = i + 1;
          continue;
        }
        afterCR = false;
        if (byte !== LF && byte !== CR) continue;
        add(chunk.subarray(start, i));
        yield { text: take(), line };
        line++;
        start = i + 1;
        afterCR = byte === CR;
      }
      add(chunk.subarray(start));
    }
  } finally {
    stream.destroy();
  }
  if (size > 0) yield { text: take(), line };
}

async function* readJsonLines(file: string, maxBytes: number): AsyncGenerator<InputItem> {
  let index = 0;
  for await (const { text: raw, line } of readLines(file, maxBytes)) {
    const text = line === 1 && raw.startsWith(BOM) ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    yield { value: parseItem(file, text, line, 1), line, index: index++ };
  }
}

const CLOSER: Record<string, string> = { '[': ']', '{': '}' };

/**
 * The items of a top-level JSON array, one at a time: a scanner finds where each item ends
 * (tracking strings and brackets), and only that item's text is parsed.
 */
async function* readJsonArray(file: string, maxBytes: number): AsyncGenerator<InputItem> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  const fail = (message: string, line: number, column: number, index?: number): never => {
    throw new CliInputError(file, `bad JSON: ${message}`, { line, column, index });
  };
  let line = 1;
  /** 1-based column of the character being read (0 before the first one of a line). */
  let column = 0;
  /** Open brackets; the outer array is the first. */
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  let closed = false;
  let afterComma = false;
  /** The item being read: its text so far (earlier chunks) and its size in bytes, its first line. */
  let parts: string[] = [];
  let size = 0;
  let itemLine = 0;
  let itemColumn = 0;
  let inItem = false;
  let index = 0;

  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const ready: InputItem[] = [];
      let start = 0;
      /** Adds the item's text from `start` to `end` of this chunk; refuses it once too large. */
      const add = (end?: number): void => {
        const piece = chunk.slice(start, end);
        size += Buffer.byteLength(piece);
        if (size > maxBytes) throw tooLarge(file, maxBytes, { line: itemLine, index });
        parts.push(piece);
      };
      const finishItem = (end: number): void => {
        add(end);
        const text = parts.join('');
        ready.push({
          value: parseItem(file, text, itemLine, itemColumn, index),
          line: itemLine,
          index,
        });
        index++;
        parts = [];
        size = 0;
        inItem = false;
      };
      // A fault later in the chunk waits until the items before it have been handed out (and
      // checked): errors come in file order, as in JSON Lines.
      let fault: unknown;
      try {
        for (let i = 0; i < chunk.length; i++) {
          const ch = chunk[i] as string;
          if (ch === '\n') {
            line++;
            column = 0;
          } else if (!(ch === BOM && line === 1 && column === 0)) column++;
          if (inString) {
            if (escaped) escaped = false;
            else if (ch === '\\') escaped = true;
            else if (ch === '"') inString = false;
            continue;
          }
          if (JSON_WHITESPACE.has(ch) || (ch === BOM && stack.length === 0 && !closed)) continue;
          if (closed) fail('unexpected text after the closing ]', line, column);
          if (stack.length === 0) {
            if (ch !== '[') {
              fail(`expected the file to start with [ or {, found '${ch}'`, line, column);
            }
            stack.push(ch);
            continue;
          }
          if (stack.length === 1 && !inItem) {
            if (ch === ']' && !afterComma) {
              stack.pop();
              closed = true;
              continue;
            }
            if (ch === ',' || ch === ']') fail(`unexpected '${ch}'`, line, column, index);
            inItem = true;
            itemLine = line;
            itemColumn = column;
            start = i;
          }
          if (ch === '"') inString = true;
          else if (ch === '[' || ch === '{') stack.push(ch);
          else if (ch === ']' || ch === '}') {
            const open = stack.pop() as string;
            if (CLOSER[open] !== ch) fail(`unexpected '${ch}'`, line, column, index);
            if (stack.length === 0) {
              finishItem(i);
              closed = true;
            }
          } else if (ch === ',' && stack.length === 1) {
            finishItem(i);
            afterComma = true;
            continue;
          }
          afterComma = false;
        }
      } catch (error) {
        fault = error;
      }
      yield* ready;
      if (fault !== undefined) throw fault;
      if (inItem) add();
    }
  } finally {
    stream.destroy();
  }
  if (!closed) {
    fail('the array is not closed (missing ])', line, column + 1, inItem ? index : undefined);
  }
}

/**
 * Every item of `file`, which holds one JSON array or JSON Lines (one value per line; blank lines
 * skipped), streamed.
 *
 * @throws CliInputError naming the file and the line: missing file, bad JSON, a record larger
 * than `maxRecordBytes`.
 */
export async function* readJsonItems(
  file: string,
  { maxRecordBytes = DEFAULT_MAX_RECORD_BYTES }: ReadOptions = {},
): AsyncGenerator<InputItem> {
  await openChecked(file);
  try {
    const first = await firstSignificantChar(file);
    yield* first === '['
      ? readJsonArray(file, maxRecordBytes)
      : readJsonLines(file, maxRecordBytes);
  } catch (error) {
    // A file that cannot be opened or read (permissions, an I/O error) is bad input, as a
    // missing one is: exit 2, one line.
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof CliInputError || typeof code !== 'string') throw error;
    throw new CliInputError(file, `cannot read it (${code})`);
  }
}

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
export async function* readRepositories(
  file: string,
  options: ReadOptions = {},
): AsyncGenerator<InputItem<Repository>> {
  for await (const item of readJsonItems(file, options)) {
    yield { ...item, value: checkItem(RepositorySchema, file, item, 'repository') };
  }
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
export async function* readTaskLines(
  file: string,
  options: ReadOptions = {},
): AsyncGenerator<InputItem<TaskLine>> {
  for await (const item of readJsonItems(file, options)) {
    yield { ...item, value: checkItem(TaskLineSchema, file, item, 'task') };
  }
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
