/** The CLI's errors and exit codes. */

import { ValidationError } from '../errors.js';

/** How `aitq` exits. */
export const EXIT_CODES = {
  /** Every task completed (or `simulate` / `--help` / `--version` / `--dry-run` ended normally). */
  ok: 0,
  /** The job ran, and some tasks failed or were cancelled. */
  someFailed: 1,
  /** Bad input: options, config file or input file. Nothing was started. */
  badInput: 2,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM; the summary and partial results were written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A bad command line or config file. The message is the one line `aitq` prints. */
export class CliUsageError extends ValidationError {}

/** A problem in an input file: the message names the file, the line and, in an array, the index. */
export class CliInputError extends ValidationError {
  readonly file: string;
  readonly line: number | undefined;
  readonly index: number | undefined;

  constructor(
    file: string,
    problem: string,
    where: { line?: number | undefined; index?: number | undefined } = {},
  ) {
    const at = [
      where.line === undefined ? '' : `line ${where.line}`,
      where.index === undefined ? '' : `(index ${where.index})`,
    ]
      .filter((part) => part !== '')
      .join(' ');
    super(`${file}${at === '' ? '' : `: ${at}`}: ${problem}`, [{ path: file, message: problem }]);
    this.file = file;
    this.line = where.line;
    this.index = where.index;
  }
}
