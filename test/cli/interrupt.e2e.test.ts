/**
 * `aitq analyze` in process, its signals sent by the test: two Ctrl-C back to back, so that the
 * second comes while the first one's cancellations of the waiting tasks are still reading the
 * store.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { EXIT_CODES } from '../../src/cli/errors.js';
import type { CliIO, CliSignal } from '../../src/cli/io.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { resultLines } from './result-lines.js';
import { ROOT } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aitq: two Ctrl-C at once', () => {
  it('cancels every task (none fails because the queue stopped) and exits 130', async () => {
    let stdout = '';
    let stderr = '';
    const handlers = new Map<CliSignal, Set<() => void>>();
    let running: () => void = () => {};
    const sawRunning = new Promise<void>((resolve) => {
      running = resolve;
    });
    const io: CliIO = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: {
        write: (text: string) => {
          stderr += text;
          if (stderr.includes('running 2/2')) running();
        },
      },
      env: {},
      cwd: ROOT,
      onSignal(signal, handler) {
        const set = handlers.get(signal) ?? new Set();
        handlers.set(signal, set);
        set.add(handler);
        return () => set.delete(handler);
      },
    };
    const out = join(dir, 'twice.jsonl');
    const store = join(dir, 'twice.db');
    const code = runCli(
      [
        'analyze',
        'examples/repos.json',
        ...['--simulator', '--latency', 'fixed:20000', '--concurrency', '2'],
        ...['--json', '--progress', 'plain', '--out', out, '--store', store],
      ],
      io,
    );
    await sawRunning;
    for (let press = 0; press < 2; press++) {
      for (const handler of [...(handlers.get('SIGINT') ?? [])]) handler();
    }
    expect(await code).toBe(EXIT_CODES.interrupted);
    expect(stderr).toContain('aitq: cancelling 2 running tasks\n');
    const summary = CliSummarySchema.parse(JSON.parse(stdout));
    expect(summary).toMatchObject({ interrupted: true, completed: 0, failed: 0 });
    const lines = resultLines(out);
    expect(lines.filter((l) => l.status !== 'cancelled')).toEqual([]);
    expect(summary.cancelled + summary.notFinished).toBe(75);
    expect(lines.filter((l) => (l.cost ?? 0) > 0)).toHaveLength(2);
  });
});
