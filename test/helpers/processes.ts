/**
 * Child processes of the end-to-end tests: a fixture run with tsx, its stdout lines collected,
 * its exit watched from the start (it may end before anyone waits for it).
 */

import { type ChildProcess, spawn } from 'node:child_process';

export interface FixtureProcess {
  child: ChildProcess;
  /** Its stdout, line by line, as it came. */
  lines: string[];
  /** Its exit code, or the signal that ended it. */
  exited: Promise<number | string>;
}

/** Runs `script` (a path from the repository's root) with `args`; stderr goes to the test's. */
export function runFixture(script: string, args: readonly string[]): FixtureProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const running: FixtureProcess = { child, lines: [], exited };
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    running.lines.push(...parts.filter((line) => line !== ''));
  });
  return running;
}
