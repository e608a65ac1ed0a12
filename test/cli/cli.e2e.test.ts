import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { DryRunSchema } from '../../src/cli/estimate.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { resultLines } from './result-lines.js';
import { type CliProcess, ROOT, runCliToEnd, startCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXAMPLE = 'examples/repos.json';
const exampleNames = (
  JSON.parse(readFileSync(join(ROOT, EXAMPLE), 'utf8')) as { name: string }[]
).map((r) => r.name);

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
    const run = await runCliToEnd(['run', input, '--simulator', '--quiet']);
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
    // Paced (a minute's window): a burst of 1, then one every 2 s.
    const n = exampleNames.length;
    expect(figures.limits).toEqual([
      { limit: '30 requests per 1m00s, paced', seconds: (n - 1) * 2, bound: 'atLeast' },
    ]);
  });
});

describe('aitq without an API key: refused, never answered by the simulator unasked', () => {
  /** No key and no URL from this machine's environment. */
  const noKey = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };

  it('refuses with exit 2 and one line saying how to proceed; nothing written', async () => {
    const input = classificationFile('nokey.jsonl', 3);
    const run = await runCliToEnd(['run', input], noKey);
    expect(run.code).toBe(EXIT_CODES.badInput);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'aitq: an API key is required for api.openai.com: OPENAI_API_KEY is not set; set OPENAI_API_KEY or pass --api-key; use --base-url for a local server (e.g. http://127.0.0.1:11434/v1, no key needed); or --simulator for a trial run on the built-in simulator (simulated answers, nothing sent)\n',
    );
    expect(existsSync(join(dir, 'nokey.results.jsonl'))).toBe(false);
  });

  it('runs on the built-in simulator with --simulator, and says so', async () => {
    const input = classificationFile('nokey-sim.jsonl', 3);
    const run = await runCliToEnd(['run', input, '--simulator', '--json'], noKey);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stderr).toMatch(
      /^aitq: --simulator: using the built-in simulator at http:\/\/127\.0\.0\.1:\d+\/v1; nothing leaves this machine\n/,
    );
    expect(CliSummarySchema.parse(JSON.parse(run.stdout))).toMatchObject({ completed: 3 });
    expect(resultLines(join(dir, 'nokey-sim.results.jsonl'))).toHaveLength(3);
  });

  it('runs against a loopback --base-url without a key (the placeholder key is sent)', async () => {
    const sim = startCli(['simulate', '--api-key', 'sk-local'], noKey);
    try {
      await sim.waitFor((output) => output.includes('listening on'));
      const url = /(http:\/\/\S+\/v1)/.exec(sim.stdout())?.[1] ?? '';
      const input = classificationFile('nokey-local.jsonl', 3);
      const run = await runCliToEnd(['run', input, '--base-url', url, '--json'], noKey);
      expect(run.stderr).not.toMatch(/API key|simulator/);
      expect(run.code).toBe(EXIT_CODES.ok);
      expect(CliSummarySchema.parse(JSON.parse(run.stdout))).toMatchObject({ completed: 3 });
    } finally {
      sim.child.kill('SIGINT');
      await sim.exited;
    }
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
    expect(run.stderr()).toMatch(
      /aitq: draining: (waiting for \d+ running tasks?; Ctrl-C again to cancel them|no task running; stopping)\n/,
    );
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
      await cli.waitFor((output) => output.includes('Ctrl-C again to cancel them'));
      cli.child.kill('SIGINT');
    });
    // Both calls were running (`running 2/2`) when the second signal came.
    expect(run.stderr()).toContain('aitq: draining: waiting for 2 running tasks');
    expect(run.stderr()).toContain('aitq: cancelling 2 running tasks\n');
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout()));
    expect(summary).toMatchObject({ interrupted: true, completed: 0, failed: 0 });
    const lines = resultLines(out);
    expect(lines.every((l) => l.status === 'cancelled')).toBe(true);
    expect(summary.cancelled + summary.notFinished).toBe(exampleNames.length);
    // The two calls cut off in flight were charged their prompts, and their lines say so; the
    // lines add up to the summary's cost.
    expect(lines.filter((l) => (l.cost ?? 0) > 0)).toHaveLength(2);
    expect(summary.cost).toBeGreaterThan(0);
    expect(lines.reduce((sum, l) => sum + (l.cost ?? 0), 0)).toBeCloseTo(summary.cost, 9);
  });
});

describe('aitq: bad input is one line on stderr and exit 2, nothing started', () => {
  const badJson = join(dir, 'bad.jsonl');
  const noName = join(dir, 'noname.json');
  writeFileSync(badJson, '{"name":"a"}\n{"name":"b"}\n{"name": ,}\n');
  const unknownType = join(dir, 'unknown.jsonl');
  writeFileSync(unknownType, '{"taskType": "SUMMARISE", "data": {"text": "x"}}\n');
  writeFileSync(noName, '[\n  {"name": "a"},\n  {"description": "nameless"}\n]\n');
  const bigLine = join(dir, 'big.jsonl');
  writeFileSync(
    bigLine,
    [{ name: 'a' }, { name: 'b', readme: 'x'.repeat(5000) }, { name: 'c' }]
      .map((repo) => JSON.stringify(repo))
      .join('\n'),
  );
  const protoMetadata = join(dir, 'proto.jsonl');
  writeFileSync(
    protoMetadata,
    '{"taskType": "TEXT_CLASSIFICATION", "data": {"text": "x", "categories": ["a", "b"]}, "metadata": {"__proto__": {"admin": true}}}\n',
  );

  it.each([
    [['analyze', join(dir, 'missing.json'), '--simulator'], /: no such file$/],
    // A file that exists and cannot be read (an I/O error here; permissions alike).
    [
      ['analyze', '/proc/self/mem', '--simulator'],
      /^aitq: \/proc\/self\/mem: cannot read it \(EIO\)$/,
    ],
    [['analyze', badJson, '--simulator'], /bad\.jsonl: line 3, column 10: bad JSON: /],
    [
      ['analyze', noName, '--simulator'],
      /noname\.json: line 3 \(index 1\): repository field "name": a repository needs a "name"/,
    ],
    [
      ['run', unknownType, '--simulator'],
      /unknown\.jsonl: line 1 \(index 0\): invalid taskType: unknown task type "SUMMARISE"/,
    ],
    [
      ['analyze', EXAMPLE, '--simulator', '--out', join(dir, 'no/such/dir.jsonl')],
      /^aitq: --out: cannot write ".*no\/such\/dir\.jsonl" \(ENOENT\)$/,
    ],
    [
      ['analyze', bigLine, '--simulator', '--max-record-size', '1024'],
      /^aitq: .*big\.jsonl: line 2: the record is over 1024 bytes, the maximum record size \(--max-record-size\)$/,
    ],
    [
      ['analyze', bigLine, '--max-record-size', '1024', '--dry-run'],
      /^aitq: .*big\.jsonl: line 2: the record is over 1024 bytes, the maximum record size \(--max-record-size\)$/,
    ],
    [
      ['run', protoMetadata, '--dry-run'],
      /^aitq: .*proto\.jsonl: line 1 \(index 0\): task field "metadata\.__proto__": a "__proto__" key is refused/,
    ],
    [['analyze', EXAMPLE, '--turbo'], /^aitq: unknown option '--turbo' \(see aitq --help\)$/],
    [
      ['analyze', EXAMPLE, '--simulator', '--model', 'llama3.1', '--budget', '1', '--dry-run'],
      /repos\.json: line \d+ \(index 0\): invalid model: model "llama3\.1" has no price, so a budget cannot be kept/,
    ],
    [
      ['analyze', EXAMPLE, '--simulator', '--tpm', '100'],
      /repos\.json: line \d+ \(index 0\): invalid config: the task reserves \d+ tokens .*more than the window of 100 per 60000 ms allows/,
    ],
    [
      ['analyze', EXAMPLE, '--simulator', '--budget', '0.0001'],
      /repos\.json: line \d+ \(index 0\): task's worst-case cost \$0\.000\d+ exceeds the total budget/,
    ],
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

describe('aitq: what is refused never touches the input or the results file', () => {
  it('refuses an --out that is the input file (also through a symlink), exit 2, the input intact', async () => {
    const input = join(dir, 'precious.json');
    const content = readFileSync(join(ROOT, EXAMPLE), 'utf8');
    writeFileSync(input, content);
    const link = join(dir, 'precious-link.json');
    symlinkSync(input, link);
    for (const out of [input, link]) {
      const run = await runCliToEnd(['analyze', input, '--simulator', '--out', out]);
      expect(run.code).toBe(EXIT_CODES.badInput);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^aitq: --out: ".*precious(-link)?\.json" is the input file/),
      ]);
      expect(readFileSync(input, 'utf8')).toBe(content);
    }
  });

  it.each([
    ['no key and no URL', [] as { baseURL: string }[], [] as string[]],
    ['--base-url without a key', [], ['--base-url', 'https://api.example.com/v1']],
    ['a config file baseURL without a key', [{ baseURL: 'https://llm.example.org/v1' }], []],
    ['a malformed config file baseURL', [{ baseURL: 'http://' }], []],
  ])(
    'leaves an existing results file alone on a bad API configuration: %s',
    async (_, config, flags) => {
      const out = join(dir, `kept-${Math.random()}.jsonl`);
      const previous = '{"index":0,"status":"completed","note":"from yesterday"}\n';
      writeFileSync(out, previous);
      const configArgs: string[] = [];
      if (config[0] !== undefined) {
        const file = join(dir, `config-${Math.random()}.json`);
        writeFileSync(file, JSON.stringify(config[0]));
        configArgs.push('--config', file);
      }
      const run = await runCliToEnd(['analyze', EXAMPLE, ...flags, ...configArgs, '--out', out]);
      expect(run.code).toBe(EXIT_CODES.badInput);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/baseURL|--base-url/);
      expect(readFileSync(out, 'utf8')).toBe(previous);
    },
  );
});

/** `n` TEXT_CLASSIFICATION lines in a new JSONL file. */
function classificationFile(name: string, n: number): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        taskType: 'TEXT_CLASSIFICATION',
        data: { text: `ticket ${i}: the queue drops tasks`, categories: ['bug', 'feature'] },
      }),
    ).join('\n'),
  );
  return path;
}

describe('aitq: cost, budgets and a refused key', () => {
  it('writes cost and tokens on every line even when retention drops finished tasks at once', async () => {
    const input = classificationFile('kept.jsonl', 8);
    const config = join(dir, 'keep-none.json');
    writeFileSync(
      config,
      JSON.stringify({ keepCompleted: { count: 0 }, keepFailed: { count: 0 } }),
    );
    const out = join(dir, 'kept.results.jsonl');
    const run = await runCliToEnd([
      ...['run', input, '--simulator', '--json', '--config', config, '--out', out],
      // In memory: with a store, completed tasks are kept (the next run reuses them).
      '--no-store',
      // Some calls fail (no retry): failed lines need their cost and tokens too.
      ...['--error-rate', '0.3', '--max-retries', '0', '--seed', '5'],
    ]);
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
    const lines = resultLines(out);
    expect(lines).toHaveLength(8);
    for (const line of lines) {
      expect(line).toMatchObject({ cost: expect.any(Number), tokens: expect.any(Number) });
      if (line.status === 'completed') expect(line.tokens).toBeGreaterThan(0);
    }
    expect(summary.completed).toBeGreaterThan(0);
    expect(summary.cost).toBeCloseTo(
      lines.reduce((sum, l) => sum + (l.cost ?? 0), 0),
      9,
    );
    expect(summary.tokens.total).toBe(lines.reduce((sum, l) => sum + (l.tokens ?? 0), 0));
  });

  /** The file's dry-run worst case of one task (all its tasks are alike). */
  async function worstCaseOfOne(input: string): Promise<number> {
    const run = await runCliToEnd(['run', input, '--dry-run', '--json']);
    const figures = DryRunSchema.parse(JSON.parse(run.stdout));
    return figures.worstCaseCost / figures.tasks;
  }

  it('waits for tasks in flight when the budget holds only two worst cases at a time', async () => {
    const input = classificationFile('tight.jsonl', 10);
    const worst = await worstCaseOfOne(input);
    const out = join(dir, 'tight.results.jsonl');
    const run = await runCliToEnd([
      ...['run', input, '--simulator', '--json', '--out', out, '--latency', 'fixed:40'],
      ...['--budget', String(worst * 2.5)],
    ]);
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
    expect(resultLines(out).map((l) => l.status)).toEqual(Array(10).fill('completed'));
    expect(summary).toMatchObject({ completed: 10, failed: 0, notFinished: 0 });
    expect(run.code).toBe(EXIT_CODES.ok);
  });

  it('fails the rest with BUDGET_EXCEEDED only once the budget is really spent', async () => {
    const input = classificationFile('spent.jsonl', 10);
    const worst = await worstCaseOfOne(input);
    const budget = worst * 1.1;
    const out = join(dir, 'spent.results.jsonl');
    const run = await runCliToEnd([
      ...['run', input, '--simulator', '--json', '--out', out, '--latency', 'fixed:20'],
      ...['--budget', String(budget)],
    ]);
    const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
    const lines = resultLines(out);
    expect(run.code).toBe(EXIT_CODES.someFailed);
    expect(summary.completed).toBeGreaterThan(1);
    expect(summary.completed + summary.failed).toBe(10);
    expect(
      lines.filter((l) => l.status === 'failed').every((l) => l.error?.code === 'BUDGET_EXCEEDED'),
    ).toBe(true);
    // Refused only when what was spent leaves less than one more worst case.
    expect(summary.cost + worst).toBeGreaterThan(budget);
  });

  it('stops at a 401: says authentication failed, sends nothing more, exits 1', async () => {
    const sim = startCli(['simulate', '--api-key', 'sk-right']);
    try {
      await sim.waitFor((output) => output.includes('listening on'));
      const url = /(http:\/\/\S+\/v1)/.exec(sim.stdout())?.[1] ?? '';
      const input = classificationFile('auth.jsonl', 10);
      const out = join(dir, 'auth.results.jsonl');
      const config = join(dir, 'one-waiting.json');
      writeFileSync(config, JSON.stringify({ maxQueueSize: 1 }));
      const run = await runCliToEnd([
        ...['run', input, '--base-url', url, '--api-key', 'sk-wrong', '--json', '--quiet'],
        ...['--concurrency', '1', '--config', config, '--out', out],
      ]);
      expect(run.code).toBe(EXIT_CODES.someFailed);
      expect(run.stderr).toMatch(
        /^aitq: authentication failed \(HTTP 401 invalid_api_key\): stopping, no more tasks are sent \(/,
      );
      const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
      expect(summary).toMatchObject({ completed: 0, interrupted: false });
      expect(summary.failed).toBeGreaterThanOrEqual(1);
      // Stopped early: most tasks were never sent (cancelled while waiting, or never submitted).
      expect(summary.notFinished).toBeGreaterThan(0);
      expect(summary.failed + summary.cancelled + summary.notFinished).toBe(10);
      expect(resultLines(out)).toHaveLength(summary.failed + summary.cancelled);
    } finally {
      sim.child.kill('SIGINT');
      await sim.exited;
    }
  });
});

describe('aitq: the results file cannot be written', () => {
  it.runIf(existsSync('/dev/full'))(
    '-o /dev/full: one line naming the file and the error, the job drained, the summary, exit 1',
    async () => {
      const run = await runCliToEnd([
        ...['analyze', EXAMPLE, '--simulator', '--json', '--quiet', '--out', '/dev/full'],
        // Calls that take a while: the job is still running when the first line fails.
        ...['--latency', 'fixed:50'],
      ]);
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        'aitq: --out: cannot write "/dev/full" (ENOSPC: no space left on device, write): stopping, the tasks in flight are cancelled',
      ]);
      const summary = CliSummarySchema.parse(JSON.parse(run.stdout));
      expect(summary).toMatchObject({ interrupted: false, resultsFile: '/dev/full' });
      // Drained: every task submitted ended (completed, or cancelled cleanly), none was abandoned.
      expect(summary.cancelled).toBeGreaterThan(0);
      expect(summary.completed + summary.failed + summary.cancelled + summary.notFinished).toBe(
        exampleNames.length,
      );
      expect(run.code).toBe(EXIT_CODES.someFailed);
    },
  );
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

/**
 * What a terminal shows once it has printed `output`: lines, with the cursor movements the live
 * display uses (`ESC[nF` up n lines, `ESC[0J` erase below) applied.
 */
function screenOf(output: string): string[] {
  const esc = '\u001b';
  const token = new RegExp(`(${esc}\\[\\d*[A-Za-z]|\\n)`);
  const control = new RegExp(`^${esc}\\[(\\d*)([A-Za-z])$`);
  const lines: string[] = [''];
  let row = 0;
  for (const part of output.replace(/\r/g, '').split(token)) {
    const sequence = control.exec(part);
    if (part === '\n') {
      row++;
      lines[row] ??= '';
    } else if (sequence?.[2] === 'F') {
      row = Math.max(0, row - Number(sequence[1] || 1));
    } else if (sequence?.[2] === 'J') {
      lines.length = row + 1;
      lines[row] = '';
    } else if (sequence === null) lines[row] += part;
  }
  return lines;
}

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

  it.runIf(existsSync('/usr/bin/script') && existsSync('/dev/full'))(
    'keeps the line saying the results file cannot be written on screen, above the display',
    async () => {
      const command = `${process.execPath} --import tsx src/cli/main.ts analyze ${EXAMPLE} --simulator --latency fixed:500 --out /dev/full`;
      const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
        cwd: ROOT,
        env: { ...process.env, OPENAI_API_KEY: '' },
      }).catch((error: { stdout: string }) => error);
      // Calls of half a second: the display is on screen when the first line fails.
      const screen = screenOf(stdout);
      const said = screen.indexOf(
        'aitq: --out: cannot write "/dev/full" (ENOSPC: no space left on device, write): stopping, the tasks in flight are cancelled',
      );
      expect(said, screen.join('\n')).toBeGreaterThan(0);
      // The display is drawn again below it, then the summary.
      expect(screen.slice(said + 1).join('\n')).toMatch(/\] \d+\/75 [\s\S]*cancelled/);
    },
  );
});
