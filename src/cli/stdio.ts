/**
 * Pipes: `-` as the input is stdin, `-o -` the results on stdout. Input that can be read only
 * once (stdin, a pipe, a device such as `/dev/stdin`) is copied to a temporary file as it comes
 * (streamed: it never sits in memory whole), then read like a file: checked first, then fed, and
 * resumable when the results (or `--store`) name a store. The copy is deleted when the job ends.
 */

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliInputError } from './errors.js';
import type { CliIO } from './io.js';

/** `-`: stdin as the input, stdout as `--out`. */
export const STDIO = '-';

/**
 * Paths of the process's own stdin: read from the stream (stdin may be a socket, as a child
 * process's pipe is, which cannot be opened by path).
 */
const STDIN_PATHS = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

/** How messages name stdin. */
export const STDIN_LABEL = 'stdin';

/** How messages name the input `file` (`stdin` for `-`). */
export function inputLabel(file: string): string {
  return file === STDIO ? STDIN_LABEL : file;
}

/** The job's input as it is read: a file, or the copy of one that can be read only once. */
export interface InputSource {
  /** The file read. */
  path: string;
  /** How messages name it: the file as given, or `stdin`. */
  label: string;
  /** Deletes the copy (nothing for a file read in place). Never rejects. */
  remove(): Promise<void>;
}

/** Input copying was interrupted by Ctrl-C or SIGTERM: nothing started. */
export class SpoolInterrupted extends Error {
  override readonly name = 'SpoolInterrupted';
}

/**
 * The input `file` as a file to read: itself, or, when `spool` (stdin, a pipe, a device), a copy
 * in a new temporary folder. A first Ctrl-C while copying stops it (the copy is deleted).
 *
 * @throws CliInputError the input cannot be read; SpoolInterrupted on a signal
 */
export async function inputSource(file: string, spool: boolean, io: CliIO): Promise<InputSource> {
  const label = inputLabel(file);
  if (!spool) return { path: file, label, remove: async () => {} };
  const folder = await mkdtemp(join(tmpdir(), 'aitq-input-'));
  const remove = () => rm(folder, { recursive: true, force: true }).catch(() => {});
  const path = join(folder, 'input');
  const stdin = io.stdin ?? process.stdin;
  const fromStdin = file === STDIO || STDIN_PATHS.has(file);
  if (fromStdin && stdin.isTTY === true) {
    io.stderr.write('aitq: reading the input from the terminal (Ctrl-D to end it)\n');
  }
  const abort = new AbortController();
  const offs = (['SIGINT', 'SIGTERM'] as const).map((signal) =>
    io.onSignal(signal, () => abort.abort()),
  );
  try {
    const from: Readable = fromStdin ? stdin : createReadStream(file);
    await pipeline(from, createWriteStream(path), { signal: abort.signal });
  } catch (error) {
    await remove();
    if (abort.signal.aborted) throw new SpoolInterrupted('interrupted while reading the input');
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliInputError(label, `cannot read it (${code ?? String(error)})`);
  } finally {
    for (const off of offs) off();
  }
  return { path, label, remove };
}
