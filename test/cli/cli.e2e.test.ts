import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { DryRunSchema } from '../../src/cli/estimate.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { type CliProcess, ROOT, runCliToEnd, startCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXAMPLE = 'examples/repos.json';
const exampleNames = (
  JSON.parse(readFileSync(join(ROOT, EXAMPLE), 'utf8')) as { name: string }[]
).map((r) => r.name);

const ResultLineSchema = z.strictObject({
  index: z.int().nonnegative(),
  line: z.int().positive(),
  taskId: z.string().nullable(),
  taskType: z.string(),
  status: z.enum(['completed', 'failed', 'cancelled']),
  result: z.unknown().optional(),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  cost: z.number().nonnegative().optional(),
  tokens: z.int().nonnegative().optional(),
  metadata: z.record(z.string(), z.unknown()),
});

function resultLines(path: string) {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => ResultLineSchema.parse(JSON.parse(line)));
}

describe('aitq simulate', () => {
  it('prints its URL, answers /v1/models, and exits 0 on SIGINT', async () => {
    const sim = startCli(['simulate', '--sim-rpm', '100', '--seed', '3']);
    await sim.waitFor((out) => /listening on http:\/\/127\.0\.0\.1:\d+\/v1/.test(out));
    const url = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(sim.stdout())?.[1];
    expect(sim.stdout().trim().split('\n')).toHaveLength(1);
    const response = await fetch(`${url}/models`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    const body = (await response.json()) as { data: { id: string }[] };
    expect(body.data.map((m) => m.id)).toContain('gpt-4o-mini');
    sim.child.kill('SIGINT');
    expect(await sim.exited).toBe(EXIT_CODES.ok);
  });
});

describe('aitq analyze against the built-in simulator', () => {
  it('analyses the example file: one valid result line per repository, a summary that matches', async () => {
    const out = join(dir, 'repos.results.jsonl');
    const run = await runCliToEnd(['analyze', EXAMPLE, '--simulator', '--json', '--out', out]);
    expect(run.stderr).toContain('using the built-in simulator at http://127.0.0.1:');
    expect(run.code).toBe(EXIT_CODES.ok);
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
    const lines = resultLines(out);
    expect(lines.map((l) => l.metadata.name).sort()).toEqual([...exampleNames].sort());
    expect(
      lines.every((l) => l.status === 'completed' && l.taskType === 'REPOSITORY_ANALYSIS'),
    ).toBe(true);
    expect(summary).toMatchObject({
      total: exampleNames.length,
      completed: lines.length,
      failed: 0,
      cancelled: 0,
      notFinished: 0,
      interrupted: false,
      resultsFile: out,
    });
    const cost = lines.reduce((sum, l) => sum + (l.cost ?? 0), 0);
    const tokens = lines.reduce((sum, l) => sum + (l.tokens ?? 0), 0);
    expect(summary.cost).toBeCloseTo(cost, 9);
    expect(summary.tokens.total).toBe(tokens);
  });

  it('writes results next to the input by default and takes `run` lines of any task type', async () => {
    const input = join(dir, 'tasks.jsonl');
    writeFileSync(
      input,
      [
        {
          taskType: 'TEXT_CLASSIFICATION',
          data: { text: 'the queue drops tasks', categories: ['bug', 'feature'] },
        },
        { taskType: 'EMBEDDING_GENERATION', data: { text: ['alpha', 'beta'] }, priority: 'HIGH' },
      ]
        .map((t) => JSON.stringify(t))
        .join('\n'),
    );
    const run = await runCliToEnd(['run', input, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout).toMatch(/^2 tasks\n {2}completed {5}2\n/);
    const lines = resultLines(join(dir, 'tasks.results.jsonl'));
    expect(lines.map((l) => [l.taskType, l.status]).sort()).toEqual([
      ['EMBEDDING_GENERATION', 'completed'],
      ['TEXT_CLASSIFICATION', 'completed'],
    ]);
  });

  it('estimates with --dry-run and sends nothing (the URL points nowhere)', async () => {
    const run = await runCliToEnd([
      'analyze',
      EXAMPLE,
      '--dry-run',
      '--json',
      '--rpm',
      '30',
      '--base-url',
      'http://127.0.0.1:9/v1',
    ]);
    expect(run.code).toBe(EXIT_CODES.ok);
    const figures = DryRunSchema.parse(JSON.parse(run.stdout));
    expect(figures.tasks).toBe(exampleNames.length);
    expect(figures.worstCaseCost).toBeGreaterThan(figures.promptCost);
    expect(figures.limits).toEqual([{ limit: '30 requests per 1m00s', seconds: 120 }]);
  });
});

describe('aitq: interrupted', () => {
  /**
   * `aitq analyze` of the example file against `aitq simulate` answering after `latencyMs`, two
   * calls at once; `interrupt` sends the signals; both processes have ended when it resolves.
   */
  async function interruptedRun(
    latencyMs: number,
    out: string,
    interrupt: (run: CliProcess) => Promise<void>,
  ): Promise<CliProcess> {
    const sim = startCli(['simulate', '--latency', `fixed:${latencyMs}`]);
    try {
      await sim.waitFor((output) => output.includes('listening on'));
      const url = /(http:\/\/\S+\/v1)/.exec(sim.stdout())?.[1] ?? '';
      const run = startCli([
        'analyze',
        EXAMPLE,
        ...['--base-url', url, '--concurrency', '2', '--json', '--progress', 'plain'],
        ...['--out', out],
      ]);
      await interrupt(run);
      expect(await run.exited).toBe(EXIT_CODES.interrupted);
      return run;
    } finally {
      sim.child.kill('SIGINT');
      await sim.exited;
    }
  }

  it('drains on SIGINT, writes the summary and the partial results, exits 130', async () => {
    const out = join(dir, 'interrupted.jsonl');
    const run = await interruptedRun(250, out, async (cli) => {
      await cli.waitFor((output) => /ok [1-9]/.test(output));
      cli.child.kill('SIGINT');
    });
    expect(run.stderr()).toContain('interrupted: finishing running calls');
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout()));
    const lines = resultLines(out);
    expect(summary.interrupted).toBe(true);
    expect(summary.completed).toBeGreaterThan(0);
    expect(summary.completed).toBeLessThan(exampleNames.length);
    expect(lines.filter((l) => l.status === 'completed')).toHaveLength(summary.completed);
    expect(lines.filter((l) => l.status === 'cancelled')).toHaveLength(summary.cancelled);
    expect(summary.completed + summary.cancelled + summary.notFinished).toBe(exampleNames.length);
  });

  it('cancels the running calls on a second SIGINT', async () => {
    const out = join(dir, 'cancelled.jsonl');
    const run = await interruptedRun(20_000, out, async (cli) => {
      await cli.waitFor((output) => output.includes('running 2/2'));
      cli.child.kill('SIGINT');
      await cli.waitFor((output) => output.includes('finishing running calls'));
      cli.child.kill('SIGINT');
    });
    expect(run.stderr()).toContain('cancelling running calls');
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout()));
    expect(summary).toMatchObject({ interrupted: true, completed: 0, failed: 0 });
    expect(resultLines(out).every((l) => l.status === 'cancelled')).toBe(true);
    expect(summary.cancelled + summary.notFinished).toBe(exampleNames.length);
  });
});

describe('aitq: bad input is one line on stderr and exit 2, nothing started', () => {
  const badJson = join(dir, 'bad.jsonl');
  const noName = join(dir, 'noname.json');
  writeFileSync(badJson, '{"name":"a"}\n{"name":"b"}\n{"name": ,}\n');
  const unknownType = join(dir, 'unknown.jsonl');
  writeFileSync(unknownType, '{"taskType": "SUMMARISE", "data": {"text": "x"}}\n');
  writeFileSync(noName, '[\n  {"name": "a"},\n  {"description": "nameless"}\n]\n');

  it.each([
    [['analyze', join(dir, 'missing.json')], /: no such file$/],
    [['analyze', badJson], /bad\.jsonl: line 3: bad JSON: /],
    [
      ['analyze', noName],
      /noname\.json: line 3 \(index 1\): repository field "name": a repository needs a "name"/,
    ],
    [
      ['run', unknownType],
      /unknown\.jsonl: line 1 \(index 0\): invalid taskType: unknown task type "SUMMARISE"/,
    ],
    [
      ['analyze', EXAMPLE, '--out', join(dir, 'no/such/dir.jsonl')],
      /^aitq: --out: cannot write ".*no\/such\/dir\.jsonl" \(ENOENT\)$/,
    ],
    [['analyze', EXAMPLE, '--turbo'], /^aitq: unknown option '--turbo' \(see aitq --help\)$/],
    [
      ['analyze', EXAMPLE, '--concurrency', '0'],
      /^aitq: --concurrency: Too small: .*\(received 0\)$/,
    ],
    [['simulate', '--latency', 'soon'], /^aitq: --latency: expected fixed:MS/],
  ])('%j', async (args, message) => {
    const out = join(dir, `never-${Math.random()}.jsonl`);
    const ownOut = args[0] === 'simulate' || args.includes('--out');
    const run = await runCliToEnd([...args, ...(ownOut ? [] : ['--out', out])]);
    expect(run.code).toBe(EXIT_CODES.badInput);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('aitq --help, --version', () => {
  it('prints the usage and the package version, exit 0', async () => {
    const help = await runCliToEnd(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('aitq analyze <file> [options]');
    const version = await runCliToEnd(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout).toBe(`${pkg.version}\n`);
  });
});

describe('aitq in a pseudo-terminal', () => {
  it.runIf(existsSync('/usr/bin/script'))(
    'draws the live bar and redraws it in place',
    async () => {
      const out = join(dir, 'tty.jsonl');
      const command = `${process.execPath} --import tsx src/cli/main.ts analyze ${EXAMPLE} --simulator --out ${out}`;
      const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
        cwd: ROOT,
        env: { ...process.env, OPENAI_API_KEY: '' },
      });
      expect(stdout).toMatch(/\[█+░*\] \d+\/75 /);
      expect(stdout).toContain('] 75/75 100%');
      expect(stdout).toContain('\u001b[3F\u001b[0J');
      expect(stdout).toContain('completed     75');
    },
  );
});
