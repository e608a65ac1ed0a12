/**
 * Pipes: `-` as the input is stdin (copied to a temporary file, then read like a file), `-o -`
 * writes the results to stdout and nothing else there. The CLI runs as a child process, its stdin
 * piped, against a simulator started here. Real time, short, nothing asserted on timings.
 */

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { ResultLineSchema, resultLines } from './result-lines.js';
import { ROOT, runCliToEnd } from './run-cli.js';
import { useTestSimulator } from './test-simulator.js';

const simulator = useTestSimulator('aitq-pipes-');
const { dir, chatsSince, mark } = simulator;

/** `n` TEXT_CLASSIFICATION task lines, as JSON Lines text. */
function taskLines(n: number): string {
  return Array.from(
    { length: n },
    (_, i) =>
      `${JSON.stringify({
        taskType: 'TEXT_CLASSIFICATION',
        data: { text: `ticket ${i}: the queue drops tasks`, categories: ['bug', 'feature'] },
      })}\n`,
  ).join('');
}

/** `n` repositories, one per line. */
function repositoryLines(n: number): string {
  return Array.from(
    { length: n },
    (_, i) => `${JSON.stringify({ name: `repo-${i}`, description: 'a queue' })}\n`,
  ).join('');
}

const against = () => ['--base-url', simulator.sim.url, '--progress', 'none'];

/** The temporary copies of stdin left behind (there should be none once a run ended). */
const copiesLeft = () => readdirSync(tmpdir()).filter((name) => name.startsWith('aitq-input-'));

describe('stdin as the input', () => {
  it('`aitq analyze /dev/stdin` with 5 piped lines runs 5 tasks (the pipe is read once)', async () => {
    const out = join(dir, 'dev-stdin.results.jsonl');
    const before = copiesLeft().length;
    const run = await runCliToEnd(
      ['analyze', '/dev/stdin', ...against(), '--json', '--out', out],
      {},
      repositoryLines(5),
    );
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(CliSummarySchema.parse(JSON.parse(run.stdout))).toMatchObject({
      total: 5,
      completed: 5,
    });
    expect(
      resultLines(out)
        .map((l) => l.metadata.name)
        .sort(),
    ).toEqual(['repo-0', 'repo-1', 'repo-2', 'repo-3', 'repo-4']);
    expect(copiesLeft().length).toBeLessThanOrEqual(before);
  });

  it('`cat x.jsonl | aitq run /dev/stdin` through a shell pipe: every line read whole, once', async () => {
    const input = join(dir, 'piped.jsonl');
    const out = join(dir, 'piped.results.jsonl');
    // Long lines: a second read of the pipe would start in the middle of one.
    writeFileSync(input, taskLines(5).replaceAll('the queue drops tasks', 'x'.repeat(20_000)));
    const cli = `${process.execPath} --import tsx src/cli/main.ts`;
    const command = `cat ${input} | ${cli} run /dev/stdin ${against().join(' ')} --json --out ${out}`;
    const { stdout } = await promisify(execFile)('sh', ['-c', command], {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: '' },
    });
    expect(CliSummarySchema.parse(JSON.parse(stdout))).toMatchObject({ total: 5, completed: 5 });
    expect(resultLines(out)).toHaveLength(5);
  });

  it('`-` reads stdin and, without --out, writes the results to stdout and the summary to stderr', async () => {
    const run = await runCliToEnd(['run', '-', ...against(), '--json'], {}, taskLines(5));
    expect(run.code).toBe(EXIT_CODES.ok);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => ResultLineSchema.parse(JSON.parse(line)));
    expect(lines.map((l) => l.index).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(lines.every((l) => l.status === 'completed')).toBe(true);
    const summary = CliSummarySchema.parse(
      JSON.parse(run.stderr.trimEnd().split('\n').at(-1) ?? ''),
    );
    expect(summary).toMatchObject({ total: 5, completed: 5, resultsFile: '-', store: null });
    expect(existsSync(join(ROOT, '-'))).toBe(false);
  });

  it('is resumable with --out: the same stdin again reuses every result', async () => {
    const out = join(dir, 'stdin.results.jsonl');
    const first = await runCliToEnd(
      ['run', '-', ...against(), '--json', '-o', out],
      {},
      taskLines(4),
    );
    expect(first.code).toBe(EXIT_CODES.ok);
    expect(existsSync(`${out}.db`)).toBe(true);
    const from = mark();
    const again = await runCliToEnd(
      ['run', '-', ...against(), '--json', '-o', out],
      {},
      taskLines(4),
    );
    expect(CliSummarySchema.parse(JSON.parse(again.stdout))).toMatchObject({
      completed: 4,
      reused: 4,
    });
    expect(again.stderr).toContain(`aitq: resuming from ${out}.db: 4 done, 0 to run`);
    expect(chatsSince(from)).toHaveLength(0);
    expect(resultLines(out)).toHaveLength(4);
  });

  it('names stdin in input errors: exit 2, nothing sent', async () => {
    const from = mark();
    const run = await runCliToEnd(
      ['run', '-', ...against(), '--prompt', 'Sort {{text}}'],
      {},
      '{"text": "fine"}\n{"text": \n',
    );
    expect(run.code).toBe(EXIT_CODES.badInput);
    expect(run.stderr).toBe(
      'aitq: stdin: line 2, column 10: bad JSON: Unexpected end of JSON input\n',
    );
    expect(run.stdout).toBe('');
    expect(chatsSince(from)).toHaveLength(0);
  });
});

describe('-o -: results on stdout', () => {
  it('writes only result lines to stdout (the summary to stderr), no file named "-" and no store', async () => {
    const input = join(dir, 'input.jsonl');
    writeFileSync(input, taskLines(3));
    const run = await runCliToEnd(['run', input, ...against(), '-o', '-']);
    expect(run.code).toBe(EXIT_CODES.ok);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => ResultLineSchema.parse(JSON.parse(line)));
    expect(lines).toHaveLength(3);
    expect(run.stderr).toMatch(/^3 tasks\n {2}completed {5}3\n/m);
    expect(run.stderr).toMatch(/\n {2}results {7}stdout\n$/);
    expect(run.stderr).not.toMatch(/\n {2}store /);
    for (const name of ['-', '-.db', '-.partial']) {
      expect(existsSync(join(ROOT, name))).toBe(false);
      expect(existsSync(join(dir, name))).toBe(false);
    }
  });
});
