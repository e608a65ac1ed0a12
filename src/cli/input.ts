/**
 * Reading the CLI's input files: a JSON array or JSON Lines, streamed (a file of any size is read
 * a chunk at a time; only the item being parsed is held in memory, and an item larger than the
 * maximum record size is refused before it is built). Every error names the file and the line,
 * and for a JSON array the item's index. What each record means is `records.ts`'s.
 */

import { constants as bufferConstants } from 'node:buffer';
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CliInputError, CliUsageError } from './errors.js';

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
  /** How errors name the input (`stdin` for its copy in a temporary file). @default the path */
  label?: string | undefined;
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

/**
 * The whole text of a small file the command line names (a config file, a prompt, a schema,
 * a module), without a byte-order mark (Windows editors write one).
 * @throws CliUsageError `<label>: no such file` or `<label>: cannot read it (<code>)`
 */
export function readSmallFile(path: string, label: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliUsageError(
      `${label}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}`,
    );
  }
}

/**
 * The JSON value of a small file the command line names.
 * @throws CliUsageError as {@link readSmallFile}, or `<label>: line L, column C: bad JSON: …`
 */
export function readJsonFile(path: string, label: string): unknown {
  const text = readSmallFile(path, label);
  try {
    return JSON.parse(text);
  } catch (error) {
    const { message, line, column } = jsonFault(text, error);
    throw new CliUsageError(`${label}: line ${line}, column ${column}: bad JSON: ${message}`);
  }
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

async function openChecked(file: string, name: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliInputError(
      name,
      code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(error)})`,
    );
  }
  if (info.isDirectory()) throw new CliInputError(name, 'is a directory, not a file');
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
  name: string,
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
    if (size > maxBytes) throw tooLarge(name, maxBytes, { line });
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

async function* readJsonLines(
  file: string,
  name: string,
  maxBytes: number,
): AsyncGenerator<InputItem> {
  let index = 0;
  for await (const { text: raw, line } of readLines(file, name, maxBytes)) {
    const text = line === 1 && raw.startsWith(BOM) ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    yield { value: parseItem(name, text, line, 1), line, index: index++ };
  }
}

const CLOSER: Record<string, string> = { '[': ']', '{': '}' };

/**
 * The items of a top-level JSON array, one at a time: a scanner finds where each item ends
 * (tracking strings and brackets), and only that item's text is parsed.
 */
async function* readJsonArray(
  file: string,
  name: string,
  maxBytes: number,
): AsyncGenerator<InputItem> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  const fail = (message: string, line: number, column: number, index?: number): never => {
    throw new CliInputError(name, `bad JSON: ${message}`, { line, column, index });
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
        if (size > maxBytes) throw tooLarge(name, maxBytes, { line: itemLine, index });
        parts.push(piece);
      };
      const finishItem = (end: number): void => {
        add(end);
        const text = parts.join('');
        ready.push({
          value: parseItem(name, text, itemLine, itemColumn, index),
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
  { maxRecordBytes = DEFAULT_MAX_RECORD_BYTES, label = file }: ReadOptions = {},
): AsyncGenerator<InputItem> {
  await openChecked(file, label);
  try {
    const first = await firstSignificantChar(file);
    yield* first === '['
      ? readJsonArray(file, label, maxRecordBytes)
      : readJsonLines(file, label, maxRecordBytes);
  } catch (error) {
    // A file that cannot be opened or read (permissions, an I/O error) is bad input, as a
    // missing one is: exit 2, one line.
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof CliInputError || typeof code !== 'string') throw error;
    throw new CliInputError(label, `cannot read it (${code})`);
  }
}
