/**
 * The results file: one JSON line per task outcome. A regular file is never written in place: the
 * lines go to `<out>.partial` beside it, renamed over the results file once the job has ended,
 * so a run that dies (`kill -9`, a crash, a power cut) leaves the previous results file whole. A
 * device or a pipe (`-o /dev/stdout`) is written directly, and `-o -` goes to stdout.
 */

import { once } from 'node:events';
import {
  accessSync,
  constants,
  createWriteStream,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CliUsageError } from './errors.js';
import type { CliStream } from './io.js';
import { STDIO } from './stdio.js';

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

/** The suffix of the file the lines are written to before it replaces the results file. */
export const PARTIAL_SUFFIX = '.partial';

export function cannotWrite(path: string, error: unknown): CliUsageError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new CliUsageError(`--out: cannot write ${JSON.stringify(path)} (${code})`);
}

/** Whether `path` is an existing file with something in it (a device, a pipe, `-` are not). */
export function hasResults(path: string): boolean {
  if (path === STDIO) return false;
  try {
    const info = statSync(path, { throwIfNoEntry: false });
    return info?.isFile() === true && info.size > 0;
  } catch {
    return false;
  }
}

/**
 * Where the lines go until the end: `<out>.partial` beside the file `out` leads to (through a
 * symlink), or `out` itself when it is a device or a pipe.
 */
function targetsOf(out: string): { target: string; partial: string | undefined } {
  const info = statSync(out, { throwIfNoEntry: false });
  if (info !== undefined && !info.isFile()) return { target: out, partial: undefined };
  const target = info === undefined ? out : realpathSync(out);
  return { target, partial: `${target}${PARTIAL_SUFFIX}` };
}

/**
 * Whether the results file can be written, without touching it: its folder (where the partial
 * file is made and renamed), or the device itself.
 *
 * @throws CliUsageError naming `--out`, the path and why
 */
export function checkWritable(path: string): void {
  if (path === STDIO) return;
  try {
    const info = statSync(path, { throwIfNoEntry: false });
    if (info?.isDirectory()) {
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    if (info !== undefined && !info.isFile()) {
      accessSync(path, constants.W_OK);
      return;
    }
    const folder = dirname(info === undefined ? path : realpathSync(path));
    accessSync(folder, constants.W_OK);
    if (!statSync(folder).isDirectory()) {
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
export class ResultsWriter {
  /** The file's stream, or stdout (`-o -`) when it is a stream (the process's). */
  private readonly stream: Writable | undefined;
  /** Stdout when it is only something to write to (a test's). */
  private readonly plain: CliStream | undefined;
  private readonly target: string = STDIO;
  private readonly partial: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** The first error writing the file. */
  failure: Error | undefined;

  /**
   * `path` is the results file, or `-` for `stdout`.
   * @throws CliUsageError when the file cannot be created (before anything starts).
   */
  constructor(
    private readonly path: string,
    private readonly onFailure: (error: Error) => void,
    stdout?: CliStream,
  ) {
    if (path === STDIO && stdout !== undefined) {
      // Not ended at the close: the summary and the process's own writes come after.
      this.stream = stdout instanceof Writable ? stdout : undefined;
      this.plain = this.stream === undefined ? stdout : undefined;
      this.stream?.on('error', (error) => this.fail(error));
      return;
    }
    let fd: number;
    try {
      ({ target: this.target, partial: this.partial } = targetsOf(path));
      fd = openSync(this.partial ?? this.target, 'w');
    } catch (error) {
      throw cannotWrite(path, error);
    }
    const stream = createWriteStream(this.partial ?? this.target, { fd, encoding: 'utf8' });
    stream.on('error', (error) => this.fail(error));
    this.stream = stream;
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.onFailure(this.failure);
  }

  write(line: ResultLine): void {
    if (this.failure !== undefined) return;
    const text = `${JSON.stringify(line)}\n`;
    const { stream } = this;
    if (stream === undefined) {
      this.plain?.write(text);
      return;
    }
    this.chain = this.chain
      .then(async () => {
        if (this.failure === undefined && !stream.write(text)) await once(stream, 'drain');
      })
      .catch((error: unknown) => this.fail(error));
  }

  /**
   * Writes what is left, closes the file and, when every line was written, puts it in place of
   * the results file (a partial file that failed is deleted: the previous results stay).
   * Resolves (never rejects) once done.
   */
  async close(): Promise<void> {
    await this.chain;
    if (this.stream === undefined || this.target === STDIO) return;
    if (this.failure === undefined) this.stream.end();
    await finished(this.stream).catch((error: unknown) => this.fail(error));
    if (this.partial === undefined) return;
    try {
      if (this.failure === undefined) renameSync(this.partial, this.target);
      else unlinkSync(this.partial);
    } catch (error) {
      this.fail(error);
    }
  }

  /** The results file as given (`--out`). */
  get file(): string {
    return this.path;
  }
}
