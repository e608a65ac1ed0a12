/** The CLI's errors and exit codes. */

import { ValidationError } from '../index.js';

/** How `aitq` exits. */
export const EXIT_CODES = {
  /** Every task completed (or `simulate` / `--help` / `--version` / `--dry-run` ended normally). */
  ok: 0,
  /**
   * The job ran, and some tasks failed, were cancelled or never ended (the job stopped early:
   * the provider refused the API key with 401 or 403). Also an unexpected internal error.
   */
  someFailed: 1,
  /** Bad input: options, config file or input file. Nothing was started. */
  badInput: 2,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM; the summary and partial results were written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A bad command line or config file. The message is the one line `aitq` prints. */
export class CliUsageError extends ValidationError {}

/**
 * A problem in an input file: the message names the file, the line (and, for bad JSON, the
 * column) and, in an array, the index.
 */
export class CliInputError extends ValidationError {
  readonly file: string;
  /** 1-based line in the file. */
  readonly line: number | undefined;
  /** 1-based column in the file (bad JSON only). */
  readonly column: number | undefined;
  readonly index: number | undefined;

  constructor(
    file: string,
    problem: string,
    where: {
      line?: number | undefined;
      column?: number | undefined;
      index?: number | undefined;
    } = {},
  ) {
    const at = [
      where.line === undefined
        ? ''
        : where.column === undefined
          ? `line ${where.line}`
          : `line ${where.line}, column ${where.column}`,
      where.index === undefined ? '' : `(index ${where.index})`,
    ]
      .filter((part) => part !== '')
      .join(' ');
    super(`${file}${at === '' ? '' : `: ${at}`}: ${problem}`, [{ path: file, message: problem }]);
    this.file = file;
    this.line = where.line;
    this.column = where.column;
    this.index = where.index;
  }
}
