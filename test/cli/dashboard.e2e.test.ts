/**
 * `aitq … --dashboard`: the URL (with its token) is printed, the dashboard answers while the job
 * runs and, with `--dashboard-wait`, until Ctrl-C once it ended. The CLI runs as a child process
 * against a simulator started here. Real time, short, nothing asserted on timings.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { runCliToEnd, startCli } from './run-cli.js';
import { useTestSimulator } from './test-simulator.js';

const simulator = useTestSimulator('aitq-dashboard-');

function taskFile(n: number): string {
  const file = join(simulator.dir, `tasks-${n}.jsonl`);
  writeFileSync(
    file,
    Array.from(
      { length: n },
      (_, i) =>
        `${JSON.stringify({ taskType: 'TEXT_CLASSIFICATION', data: { text: `ticket ${i}`, categories: ['bug', 'feature'] } })}\n`,
    ).join(''),
  );
  return file;
}

const URL_LINE = /aitq: --dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/;

describe('aitq --dashboard', () => {
  it('serves the dashboard during the job and, with --dashboard-wait, until Ctrl-C', async () => {
    const file = taskFile(5);
    const cli = startCli([
      'run',
      file,
      '--base-url',
      simulator.sim.url,
      '--progress',
      'none',
      '--no-store',
      '--fresh',
      '--dashboard-wait',
    ]);
    await cli.waitFor((out) => out.includes('until Ctrl-C'));
    const url = URL_LINE.exec(cli.stderr())?.[1];
    expect(url).toBeDefined();
    const { origin, searchParams } = new URL(url as string);
    const token = searchParams.get('token');
    const stats = await fetch(`${origin}/api/statistics`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(stats.status).toBe(200);
    const body = (await stats.json()) as { performance: { totalSucceeded: number } };
    expect(body.performance.totalSucceeded).toBe(5);
    expect((await fetch(`${origin}/api/statistics`)).status).toBe(401);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(EXIT_CODES.ok);
    await expect(fetch(`${origin}/api/statistics`)).rejects.toThrow();
  });

  it('refuses a bad --dashboard-port and --inspect-url before anything starts', async () => {
    const file = taskFile(1);
    const port = await runCliToEnd(['run', file, '--simulator', '--dashboard-port', 'eighty']);
    expect(port.code).toBe(EXIT_CODES.badInput);
    expect(port.stderr).toContain(
      '--dashboard-port: expected a port from 0 to 65535 (received "eighty")',
    );
    const inspect = await runCliToEnd(['run', file, '--simulator', '--inspect-url', 'http://x']);
    expect(inspect.code).toBe(EXIT_CODES.badInput);
    expect(inspect.stderr).toContain('--inspect-url: expected a ws:// or wss:// URL');
  });
});
