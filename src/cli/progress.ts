/** The live display of a job on stderr: redrawn in place on a TTY, a line now and then otherwise. */

import type { JobArgs } from './args.js';
import type { CliIO } from './io.js';

/** How often the live display is redrawn on a TTY, and a plain line printed otherwise. */
const TTY_REFRESH_MS = 200;
const PLAIN_REFRESH_MS = 2_000;

/** Draws the progress: redrawn in place on a TTY, a line now and then otherwise. */
export class ProgressDisplay {
  private drawn = 0;

  constructor(
    private readonly io: CliIO,
    readonly mode: 'tty' | 'plain' | 'none',
  ) {}

  get intervalMs(): number {
    return this.mode === 'tty' ? TTY_REFRESH_MS : PLAIN_REFRESH_MS;
  }

  /** The escape sequence that erases what was drawn in place (on a TTY). */
  private erase(): string {
    const erase = this.mode === 'tty' && this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[0J` : '';
    this.drawn = 0;
    return erase;
  }

  draw(text: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'tty') {
      this.io.stderr.write(`${this.erase()}${text}\n`);
      this.drawn = text.split('\n').length;
    } else this.io.stderr.write(`${text}\n`);
  }

  /**
   * Writes a notice (whatever the mode): on a TTY in place of the display, which is drawn again
   * below it, so that the next redraw does not erase it.
   */
  say(text: string): void {
    this.io.stderr.write(`${this.erase()}${text}`);
  }
}

export function progressMode(args: JobArgs, io: CliIO): 'tty' | 'plain' | 'none' {
  if (args.quiet || args.progress === 'none') return 'none';
  if (args.progress === 'tty' || args.progress === 'plain') return args.progress;
  if (io.stderr.isTTY === true) return 'tty';
  return args.json ? 'none' : 'plain';
}
