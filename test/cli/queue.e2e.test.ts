/**
 * `aitq worker --redis` and `aitq analyze --redis` (issue 19): two worker processes with the
 * built-in simulator take the tasks one `analyze` process submits to a queue on the local Redis;
 * the results file has every record, once. The same command again resumes from Redis: it submits
 * nothing twice and writes the results at once. A worker stops on SIGINT. And the flags refuse
 * what does not apply. Real processes over loopback; nothing asserts on timings.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { openSharedQueue } from '../../src/redis/index.js';
import { dropPrefix, freshPrefix, REDIS_URL } from '../helpers/redis.js';
import { runCliToEnd, startCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-queue-cli-'));
const prefix = freshPrefix('qcli');
const admin = new Redis(REDIS_URL);

afterAll(async () => {
  await dropPrefix(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

const REPOS = 30;

function repos(): string {
  const path = join(dir, 'repos.jsonl');
  const lines = Array.from({ length: REPOS }, (_, i) =>
    JSON.stringify({
      name: `repo-${i}`,
      description: `A library number ${i}`,
      language: 'TypeScript',
      stars: i,
      readme: `# repo-${i}\nDoes thing ${i}.`,
    }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const QUEUE = ['--redis', REDIS_URL, '--prefix', prefix];

describe('aitq worker and analyze --redis', () => {
  it('runs a job on two workers and resumes it from Redis', async () => {
    const input = repos();
    const out = join(dir, 'out.jsonl');
    const workers = [1, 2].map(() =>
      startCli(['worker', ...QUEUE, '--simulator', '--latency', 'fixed:20', '--concurrency', '4']),
    );
    try {
      for (const worker of workers) await worker.waitFor((o) => o.includes('taking the tasks'));
      const first = await runCliToEnd(['analyze', input, ...QUEUE, '-o', out, '--json']);
      expect(first.code, first.stderr).toBe(EXIT_CODES.ok);
      expect(JSON.parse(first.stdout)).toMatchObject({ tasks: REPOS, completed: REPOS });
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(REPOS);
      expect(new Set(lines.map((l) => l.index)).size).toBe(REPOS);
      expect(lines.every((l) => l.status === 'completed')).toBe(true);

      // Again: nothing is submitted twice, the results come from Redis.
      const again = await runCliToEnd(['analyze', input, ...QUEUE, '-o', out, '--json']);
      expect(again.code, again.stderr).toBe(EXIT_CODES.ok);
      const queue = await openSharedQueue({ url: REDIS_URL, prefix });
      const stats = await queue.getStatistics();
      await queue.close();
      expect(stats.tasks).toMatchObject({ completed: REPOS, total: REPOS });
      expect(stats.usage.calls).toBe(REPOS);
      expect(stats.workers).toBe(2);
    } finally {
      for (const worker of workers) worker.child.kill('SIGINT');
    }
    for (const worker of workers) {
      expect(await worker.exited).toBe(EXIT_CODES.ok);
      expect(worker.stderr()).toContain(`completed`);
    }
  }, 90_000);

  it('refuses what does not apply', async () => {
    const input = repos();
    const cases: Array<[string[], string]> = [
      [['worker', '--simulator'], "'worker' needs the queue's Redis"],
      [['worker', ...QUEUE, '--out', 'x'], "option '--out' does not apply to 'worker'"],
      [['worker', input, ...QUEUE], "'worker' takes no file"],
      [['run', input, ...QUEUE, '--prompt', 'x'], "option '--redis' applies to 'analyze' only"],
      [
        ['analyze', input, ...QUEUE, '--store', 'x.db'],
        "option '--store' does not apply with --redis",
      ],
      [['analyze', input, '--prefix', 'x', '--simulator'], '--prefix: give --redis too'],
      [['analyze', input, '--redis', 'http://x', '--simulator'], '--redis: expected a redis://'],
      [
        ['analyze', input, '--task-types', 'm.mjs', '--simulator'],
        "option '--task-types' does not apply",
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runCliToEnd(args);
      expect(run.code, args.join(' ')).toBe(EXIT_CODES.badInput);
      expect(run.stderr).toContain(message);
    }
  }, 60_000);
});
