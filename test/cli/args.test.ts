import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CliArgs,
  defaultOutFile,
  type JobArgs,
  parseCliArgs,
  parseLatency,
} from '../../src/cli/args.js';
import { CliUsageError } from '../../src/cli/errors.js';
import { LARGEST_MAX_RECORD_BYTES } from '../../src/cli/input.js';

const cwd = mkdtempSync(join(tmpdir(), 'aitq-args-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const noEnv = {};
/** The refusal of a job without a key and without a URL. */
const NO_KEY =
  /^an API key is required for api\.openai\.com: OPENAI_API_KEY is not set; set OPENAI_API_KEY or pass --api-key; use --base-url for a local server .*; or --simulator /;

function job(argv: string[], env: NodeJS.ProcessEnv = noEnv, dir = cwd): JobArgs {
  const args = parseCliArgs(argv, env, dir);
  if (args.command !== 'analyze' && args.command !== 'run') throw new Error(args.command);
  return args;
}

function problem(argv: string[], env: NodeJS.ProcessEnv = noEnv, dir = cwd): string {
  try {
    parseCliArgs(argv, env, dir);
  } catch (error) {
    if (error instanceof CliUsageError) return error.message;
    throw error;
  }
  throw new Error('expected a CliUsageError');
}

describe('parseCliArgs: analyze and run', () => {
  it('maps every limit flag to its ManagerOptionsSchema key', () => {
    const args = job([
      'analyze',
      'repos.json',
      '--simulator',
      '--concurrency=3',
      '--rpm',
      '60',
      '--rph',
      '1000',
      '--tpm',
      '90000',
      '--budget',
      '0.5',
      '--daily-budget',
      '2',
      '--hourly-budget',
      '1',
      '--model',
      'gpt-4o',
      '--max-retries',
      '2',
      '--timeout',
      '30',
    ]);
    expect(args.manager).toEqual({
      maxConcurrent: 3,
      requestsPerMinute: 60,
      requestsPerHour: 1000,
      tokensPerMinute: 90_000,
      budgetLimit: 0.5,
      dailyLimit: 2,
      hourlyLimit: 1,
      model: 'gpt-4o',
      taskDefaults: { maxRetries: 2, timeout: 30 },
      timeout: 30,
    });
    expect(args.settings.taskDefaults).toMatchObject({ maxRetries: 2, timeout: 30, retryDelay: 1 });
    expect(args.simulator).toBe(true);
    expect(args.out).toBe('repos.results.jsonl');
  });

  it('uses the simulator only when asked to (--simulator), whatever the key', () => {
    expect(job(['run', 't.jsonl', '--base-url', 'http://127.0.0.1:11434/v1']).simulator).toBe(
      false,
    );
    const keyed = job(['run', 't.jsonl'], { OPENAI_API_KEY: 'sk-env' });
    expect(keyed.simulator).toBe(false);
    expect(keyed.manager.apiKey).toBe('sk-env');
    expect(
      job(['run', 't.jsonl', '--api-key', 'sk-flag'], { OPENAI_API_KEY: 'sk-env' }).manager.apiKey,
    ).toBe('sk-flag');
    expect(job(['run', 't.jsonl', '--simulator'], { OPENAI_API_KEY: 'sk-env' }).simulator).toBe(
      true,
    );
    expect(job(['run', 't.jsonl', '--simulator']).simulator).toBe(true);
  });

  it('reads the CLI options', () => {
    const args = job([
      'run',
      'dir/tasks.jsonl',
      '--priority',
      'high',
      '--json',
      '--progress',
      'plain',
      '--quiet',
      '--dry-run',
      '--out',
      'x.jsonl',
    ]);
    expect(args).toMatchObject({
      command: 'run',
      file: 'dir/tasks.jsonl',
      priority: 'HIGH',
      json: true,
      progress: 'plain',
      quiet: true,
      dryRun: true,
      out: 'x.jsonl',
    });
    expect(job(['run', 'dir/tasks.jsonl', '--simulator']).progress).toBe('auto');
  });

  it('reads --timeout as seconds or as a duration with units', () => {
    for (const [text, seconds] of [
      ['45', 45],
      ['90s', 90],
      ['1m30s', 90],
      ['500ms', 0.5],
    ] as const) {
      const args = job(['run', 'tasks.jsonl', '--simulator', '--timeout', text]);
      expect(args.settings.taskDefaults.timeout).toBe(seconds);
    }
    expect(problem(['analyze', 'r.json', '--timeout', 'soon'])).toMatch(/^--timeout: .*"soon"/);
  });

  it('reads --max-record-size in bytes, 64 MiB by default', () => {
    expect(job(['run', 'tasks.jsonl', '--simulator']).maxRecordBytes).toBe(64 * 1024 * 1024);
    expect(
      job(['run', 'tasks.jsonl', '--simulator', '--max-record-size', '1024']).maxRecordBytes,
    ).toBe(1024);
  });

  it.each(['0', '-1', '1.5', 'big', '', String(LARGEST_MAX_RECORD_BYTES + 1)])(
    'refuses --max-record-size %j',
    (text) => {
      expect(problem(['run', 'tasks.jsonl', '--max-record-size', text])).toBe(
        `--max-record-size: expected a whole number of bytes from 1 to ${LARGEST_MAX_RECORD_BYTES} (received ${JSON.stringify(text)})`,
      );
    },
  );

  it('puts the results next to the input by default', () => {
    expect(defaultOutFile('examples/repos.json')).toBe('examples/repos.results.jsonl');
    expect(defaultOutFile('/a/b/tasks.jsonl')).toBe('/a/b/tasks.results.jsonl');
    expect(defaultOutFile('list.txt')).toBe('list.txt.results.jsonl');
  });

  it('reads ./aitq.config.json under the flags, or the file --config names', () => {
    const dir = mkdtempSync(join(cwd, 'cfg-'));
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({ maxConcurrent: 2, requestsPerMinute: 30, taskDefaults: { maxRetries: 1 } }),
    );
    const args = job(
      ['analyze', 'r.json', '--simulator', '--rpm', '45', '--max-retries', '4'],
      noEnv,
      dir,
    );
    expect(args.configFile).toBe('aitq.config.json');
    expect(args.manager).toMatchObject({
      maxConcurrent: 2,
      requestsPerMinute: 45,
      taskDefaults: { maxRetries: 4 },
    });
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ budgetLimit: 3 }));
    expect(
      job(['analyze', 'r.json', '--simulator', '--config', other], noEnv, dir).manager,
    ).toEqual({ budgetLimit: 3 });
    expect(job(['analyze', 'r.json', '--simulator'], noEnv, cwd).configFile).toBeUndefined();
  });

  it.each([
    [['analyze', 'r.json', '--concurrency', '0'], /^--concurrency: Too small: .* \(received 0\)$/],
    [
      ['analyze', 'r.json', '--concurrency', 'lots'],
      /^--concurrency: expected a number \(received "lots"\)$/,
    ],
    [['analyze', 'r.json', '--rpm', '1.5'], /^--rpm: .*int.* \(received 1.5\)$/],
    [['analyze', 'r.json', '--budget', '-1'], /^--budget: .* \(received -1\)$/],
    [['analyze', 'r.json', '--timeout', '0'], /^--timeout: Too small: .* \(received 0\)$/],
    [['analyze', 'r.json', '--hourly-budget', '-2'], /^--hourly-budget: .* \(received -2\)$/],
    [
      ['analyze', 'r.json', '--priority', 'soon'],
      /^--priority: expected LOW, MEDIUM, HIGH or URGENT \(received "soon"\)$/,
    ],
    [
      ['analyze', 'r.json', '--progress', 'fancy'],
      /^--progress: expected auto, tty, plain or none \(received "fancy"\)$/,
    ],
    [['analyze', 'r.json', '--frobnicate'], /^unknown option '--frobnicate' \(see aitq --help\)$/],
    [
      ['analyze', 'r.json', '--concurency', '4'],
      /^unknown option '--concurency' \(did you mean --concurrency\?\)$/,
    ],
    [['run', 't.jsonl', '--budjet=5'], /^unknown option '--budjet' \(did you mean --budget\?\)$/],
    [['analyze', 'r.json', '--dryrun'], /^unknown option '--dryrun' \(did you mean --dry-run\?\)$/],
    [['simulate', '--pot', '80'], /^unknown option '--pot' \(did you mean --port\?\)$/],
    [['analyze', 'r.json', '--rpm'], /^option '--rpm' needs a value$/],
    [['analyze'], /^'analyze' needs an input file: aitq analyze <file>$/],
    [['analyze', 'a.json', 'b.json'], /^'analyze' takes one file \(received also "b.json"\)$/],
    [
      ['analyse', 'r.json'],
      /^unknown command 'analyse' \(did you mean 'analyze'\? expected analyze, run or simulate\)$/,
    ],
    [['frob', 'r.json'], /^unknown command 'frob' \(expected analyze, run or simulate\)$/],
    [[], /^missing a command/],
    [['analyze', 'r.json', '--port', '80'], /^option '--port' does not apply to 'analyze'$/],
    [['analyze', 'r.json', '--config', 'missing.json'], /^missing.json: no such file$/],
  ])('refuses %j in one line naming the flag', (argv, message) => {
    expect(problem(argv)).toMatch(message);
  });

  it('reads a config file that starts with a byte-order mark', () => {
    const dir = mkdtempSync(join(cwd, 'bom-'));
    writeFileSync(join(dir, 'aitq.config.json'), '\uFEFF{"maxConcurrent": 4}');
    expect(job(['analyze', 'r.json', '--simulator'], noEnv, dir).manager).toMatchObject({
      maxConcurrent: 4,
    });
  });

  it('leaves a config value that is not an object for the schema to refuse, even under a flag', () => {
    const dir = mkdtempSync(join(cwd, 'defaults-'));
    writeFileSync(join(dir, 'aitq.config.json'), JSON.stringify({ taskDefaults: 'x' }));
    for (const argv of [
      ['analyze', 'r.json'],
      ['analyze', 'r.json', '--max-retries', '2'],
    ]) {
      expect(problem(argv, noEnv, dir), argv.join(' ')).toMatch(
        /^aitq.config.json: taskDefaults: .*expected object/,
      );
    }
  });

  it('never shows a malformed defaultHeaders value from the config file (a header may hold a key)', () => {
    const dir = mkdtempSync(join(cwd, 'headers-'));
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({ defaultHeaders: { 'api-key': ['sk-secret-in-a-header'] } }),
    );
    const message = problem(['analyze', 'r.json'], noEnv, dir);
    expect(message).toMatch(/^aitq.config.json: defaultHeaders.*\[redacted\]/);
    expect(message).not.toContain('sk-secret-in-a-header');
  });

  it('names the config file’s key and value when the file is wrong', () => {
    const dir = mkdtempSync(join(cwd, 'bad-'));
    writeFileSync(join(dir, 'aitq.config.json'), JSON.stringify({ maxConcurent: 2 }));
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: \(root\): Unrecognized key: "maxConcurent" \(did you mean "maxConcurrent"\?\)/,
    );
    writeFileSync(join(dir, 'aitq.config.json'), JSON.stringify({ dailyLimit: 'ten' }));
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: dailyLimit: .* \(received "ten"\)$/,
    );
    writeFileSync(join(dir, 'aitq.config.json'), '{ "maxConcurrent": ');
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: line 1, column \d+: bad JSON: /,
    );
    writeFileSync(join(dir, 'aitq.config.json'), '{\n  "maxConcurrent": 2,\n  model: "x"\n}\n');
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: line 3, column 3: bad JSON: /,
    );
    writeFileSync(join(dir, 'aitq.config.json'), JSON.stringify({ apiKey: 42 }));
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: apiKey: .* \(received \[redacted\]\)$/,
    );
    expect(
      problem(['analyze', 'r.json', '--api-key', 'sk-secret', '--rpm', '0'], noEnv, dir),
    ).not.toContain('sk-secret');
    writeFileSync(join(dir, 'aitq.config.json'), '[1]');
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toBe(
      'aitq.config.json: expected a JSON object of manager options',
    );
  });
});

describe('parseCliArgs: the results file and the API settings are checked before anything starts', () => {
  it('refuses an --out that is the input file, however it is spelt', () => {
    const dir = mkdtempSync(join(cwd, 'same-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'in.jsonl'), '{"name":"a"}\n');
    symlinkSync(join(dir, 'in.jsonl'), join(dir, 'link.jsonl'));
    linkSync(join(dir, 'in.jsonl'), join(dir, 'hard.jsonl'));
    for (const out of [
      'in.jsonl',
      './sub/../in.jsonl',
      join(dir, 'in.jsonl'),
      'link.jsonl',
      'hard.jsonl',
    ]) {
      const message = problem(['analyze', 'in.jsonl', '--out', out], noEnv, dir);
      expect(message).toMatch(
        /^--out: ".*" is the input file \(.*\); the results would overwrite it/,
      );
      expect(message).toContain(JSON.stringify(out));
    }
    // Through a symlink to the input given as the input, too.
    expect(problem(['run', 'link.jsonl', '--out', 'in.jsonl'], noEnv, dir)).toMatch(/^--out: /);
    // Another file (existing or not) is fine.
    expect(
      job(['analyze', 'in.jsonl', '--simulator', '--out', 'sub/in.jsonl'], noEnv, dir).out,
    ).toBe('sub/in.jsonl');
    expect(job(['analyze', 'in.jsonl', '--simulator'], noEnv, dir).out).toBe('in.results.jsonl');
  });

  it('takes an empty --api-key (or config apiKey) as no key', () => {
    expect(problem(['run', 't.jsonl', '--api-key', ''])).toMatch(NO_KEY);
    expect(
      job(['run', 't.jsonl', '--api-key', ''], { OPENAI_API_KEY: 'sk-env' }).manager.apiKey,
    ).toBe('sk-env');
    const dir = mkdtempSync(join(cwd, 'emptykey-'));
    writeFileSync(join(dir, 'aitq.config.json'), JSON.stringify({ apiKey: '' }));
    expect(problem(['run', 't.jsonl'], noEnv, dir)).toMatch(NO_KEY);
    const simulate = parseCliArgs(['simulate', '--api-key', '']);
    expect(simulate.command === 'simulate' && simulate.simulator.apiKey).toBeUndefined();
  });

  it('refuses a job with no key and no URL, saying how to proceed (no silent simulator)', () => {
    expect(problem(['analyze', 'r.json'])).toBe(
      'an API key is required for api.openai.com: OPENAI_API_KEY is not set; set OPENAI_API_KEY or pass --api-key; use --base-url for a local server (e.g. http://127.0.0.1:11434/v1, no key needed); or --simulator for a trial run on the built-in simulator (simulated answers, nothing sent)',
    );
    expect(problem(['run', 't.jsonl', '--concurrency', '2'])).toMatch(NO_KEY);
    // OPENAI_BASE_URL without a key: the same refusal, naming that host.
    expect(
      problem(['run', 't.jsonl'], { OPENAI_BASE_URL: 'https://proxy.example.com/v1' }),
    ).toMatch(
      /^an API key is required for proxy\.example\.com: OPENAI_API_KEY is not set; set OPENAI_API_KEY or pass --api-key; use --base-url/,
    );
    // What is not refused: the simulator, a dry run (sends nothing), a loopback server, a key.
    expect(job(['analyze', 'r.json', '--simulator']).simulator).toBe(true);
    expect(job(['analyze', 'r.json', '--dry-run']).dryRun).toBe(true);
    for (const url of [
      'http://127.0.0.1:11434/v1',
      'http://127.8.9.10:8080/v1',
      'http://localhost:8080/v1',
      'http://[::1]:8080/v1',
    ]) {
      const local = job(['analyze', 'r.json', '--base-url', url]);
      expect(local.simulator, url).toBe(false);
      expect(local.manager.baseURL, url).toBe(url);
    }
    expect(
      job(['analyze', 'r.json'], { OPENAI_BASE_URL: 'http://localhost:11434/v1' }).simulator,
    ).toBe(false);
    expect(job(['analyze', 'r.json', '--api-key', 'sk-flag']).manager).toMatchObject({
      apiKey: 'sk-flag',
      baseURL: 'https://api.openai.com/v1',
    });
    // Not loopback: a look-alike host name, another private address.
    for (const url of ['http://127.0.0.1.example.com/v1', 'http://10.0.0.1/v1']) {
      expect(problem(['analyze', 'r.json', '--base-url', url]), url).toMatch(
        /^--base-url: an API key is required for /,
      );
    }
  });

  it('refuses a real endpoint without a key, naming the flag or the config key and the URL', () => {
    expect(problem(['analyze', 'r.json', '--base-url', 'https://api.example.com/v1'])).toBe(
      `--base-url: an API key is required for api.example.com: the environment's OPENAI_API_KEY is sent only to OpenAI (https://api.openai.com/v1), never to another URL; pass --api-key or set apiKey in the config file, or use --simulator (received "https://api.example.com/v1")`,
    );
    expect(
      problem(['analyze', 'r.json', '--base-url', 'https://api.example.com/v1', '--api-key', '']),
    ).toMatch(/^--base-url: an API key is required/);
    const dir = mkdtempSync(join(cwd, 'nokey-'));
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({ baseURL: 'https://llm.example.org/v1' }),
    );
    expect(problem(['analyze', 'r.json'], noEnv, dir)).toMatch(
      /^aitq.config.json: baseURL: an API key is required for llm.example.org: .* \(received "https:\/\/llm.example.org\/v1"\)$/,
    );
    // The environment's key is not sent to that URL: the same refusal.
    expect(problem(['analyze', 'r.json'], { OPENAI_API_KEY: 'sk-env' }, dir)).toMatch(
      /^aitq.config.json: baseURL: an API key is required for llm.example.org: the environment's OPENAI_API_KEY is sent only to OpenAI/,
    );
    // With a key, a loopback URL, the simulator, or a dry run (which builds no client): fine.
    expect(job(['analyze', 'r.json', '--api-key', 'sk-flag'], noEnv, dir).simulator).toBe(false);
    expect(job(['analyze', 'r.json', '--base-url', 'http://localhost:8080/v1']).simulator).toBe(
      false,
    );
    expect(job(['analyze', 'r.json', '--simulator'], noEnv, dir).simulator).toBe(true);
    expect(job(['analyze', 'r.json', '--dry-run'], noEnv, dir).dryRun).toBe(true);
  });
});

describe('parseCliArgs: where the API key goes (resolveApiKey, as the client decides)', () => {
  const env = { OPENAI_API_KEY: 'sk-env' };
  const keyOf = (args: JobArgs) => ({ apiKey: args.manager.apiKey, baseURL: args.manager.baseURL });

  it("sends OPENAI_API_KEY to OpenAI's URL only, pinned in the options", () => {
    expect(keyOf(job(['run', 't.jsonl'], env))).toStrictEqual({
      apiKey: 'sk-env',
      baseURL: 'https://api.openai.com/v1',
    });
    expect(
      keyOf(job(['run', 't.jsonl', '--base-url', 'https://api.openai.com/v1/'], env)),
    ).toStrictEqual({
      apiKey: 'sk-env',
      baseURL: 'https://api.openai.com/v1/',
    });
    expect(problem(['run', 't.jsonl', '--base-url', 'https://llm.example.org/v1'], env)).toMatch(
      /^--base-url: an API key is required for llm\.example\.org: the environment's OPENAI_API_KEY is sent only to OpenAI \(https:\/\/api\.openai\.com\/v1\), never to another URL; pass --api-key/,
    );
  });

  it('pairs OPENAI_API_KEY with OPENAI_BASE_URL, the default URL then', () => {
    const paired = { ...env, OPENAI_BASE_URL: 'https://proxy.example.com/v1' };
    expect(keyOf(job(['run', 't.jsonl'], paired))).toStrictEqual({
      apiKey: 'sk-env',
      baseURL: 'https://proxy.example.com/v1',
    });
    expect(problem(['run', 't.jsonl', '--base-url', 'https://api.openai.com/v1'], paired)).toMatch(
      /^--base-url: an API key is required for api\.openai\.com: the environment's OPENAI_API_KEY is sent only to OPENAI_BASE_URL \(https:\/\/proxy\.example\.com\/v1\)/,
    );
    // An explicit key goes to the default URL, which is OPENAI_BASE_URL.
    expect(
      keyOf(
        job(['run', 't.jsonl', '--api-key', 'sk-flag'], {
          OPENAI_BASE_URL: paired.OPENAI_BASE_URL,
        }),
      ),
    ).toStrictEqual({ apiKey: 'sk-flag', baseURL: 'https://proxy.example.com/v1' });
    expect(
      problem(['run', 't.jsonl', '--api-key', 'sk-flag'], { OPENAI_BASE_URL: 'ftp://x.example' }),
    ).toMatch(/^OPENAI_BASE_URL: expected an http\(s\) URL/);
  });

  it('sends a loopback server no environment key (the client sends sk-local)', () => {
    const local = job(['run', 't.jsonl', '--base-url', 'http://127.0.0.1:11434/v1'], env);
    expect(local.simulator).toBe(false);
    expect(keyOf(local)).toStrictEqual({ apiKey: undefined, baseURL: 'http://127.0.0.1:11434/v1' });
  });

  it('sends an explicit key (flag or config file) wherever the URL says', () => {
    const other = 'https://llm.example.org/v1';
    expect(
      keyOf(job(['run', 't.jsonl', '--base-url', other, '--api-key', 'sk-flag'], env)),
    ).toStrictEqual({ apiKey: 'sk-flag', baseURL: other });
    const dir = mkdtempSync(join(cwd, 'keyed-'));
    writeFileSync(
      join(dir, 'aitq.config.json'),
      JSON.stringify({ baseURL: other, apiKey: 'sk-file' }),
    );
    expect(keyOf(job(['run', 't.jsonl'], env, dir))).toStrictEqual({
      apiKey: 'sk-file',
      baseURL: other,
    });
  });
});

describe('parseCliArgs: the in-process simulator of analyze and run', () => {
  it('takes the simulator flags (latency, faults, limits, seed) for the built-in simulator', () => {
    const args = job([
      'analyze',
      'r.json',
      '--simulator',
      '--latency',
      'uniform:100-400',
      '--error-rate',
      '0.05',
      '--sim-rpm',
      '500',
      '--seed',
      '3',
    ]);
    expect(args.simulator).toBe(true);
    expect(args.simulatorOptions).toMatchObject({
      latency: { kind: 'uniform', minMs: 100, maxMs: 400 },
      faults: { error500: 0.05 },
      limits: { requests: 500 },
      seed: 3,
    });
    expect(job(['analyze', 'r.json', '--simulator']).simulatorOptions.faults.error500).toBe(0);
  });

  it('refuses simulator flags when a real endpoint is used', () => {
    expect(
      problem(['analyze', 'r.json', '--base-url', 'http://127.0.0.1:1/v1', '--latency', 'fixed:5']),
    ).toBe("option '--latency' shapes the built-in simulator; add --simulator to use it");
    expect(problem(['analyze', 'r.json', '--simulator', '--error-rate', '2'])).toMatch(
      /^--error-rate: .* \(received 2\)$/,
    );
  });
});

describe('parseCliArgs: the store, --fresh and --key', () => {
  it('keeps the store next to the results file by default, or where --store says', () => {
    const dir = mkdtempSync(join(cwd, 'store-'));
    writeFileSync(join(dir, 'in.jsonl'), '{"name":"a"}\n');
    const base = ['analyze', 'in.jsonl', '--simulator'];
    expect(job(base, noEnv, dir)).toMatchObject({
      out: 'in.results.jsonl',
      store: 'in.results.jsonl.db',
      fresh: false,
      key: undefined,
    });
    expect(job([...base, '-o', 'r.jsonl'], noEnv, dir).store).toBe('r.jsonl.db');
    expect(job([...base, '--store', 'q.db', '--fresh'], noEnv, dir)).toMatchObject({
      store: 'q.db',
      fresh: true,
    });
    expect(job([...base, '--no-store'], noEnv, dir).store).toBeUndefined();
    // Results that go to a device get no store beside it (none is made in /dev).
    expect(job([...base, '-o', '/dev/null'], noEnv, dir).store).toBeUndefined();
    expect(job([...base, '-o', '/dev/null', '--store', 'q.db'], noEnv, dir).store).toBe('q.db');
  });

  it('reads --key as a field name or a dotted path', () => {
    expect(job(['run', 't.jsonl', '--simulator', '--key', 'metadata.id']).key).toEqual([
      'metadata',
      'id',
    ]);
    expect(job(['analyze', 'r.json', '--simulator', '--key', 'full_name']).key).toEqual([
      'full_name',
    ]);
  });

  it.each([
    [['--store', ''], /^--store: expected a file path \(received ""\)$/],
    [['--store', 'q.db', '--no-store'], /^--store and --no-store: choose one$/],
    [['--store', 'in.jsonl'], /^--store: "in\.jsonl" is the input file: choose another file$/],
    [
      ['--store', './r.jsonl', '-o', 'r.jsonl'],
      /^--store: "\.\/r\.jsonl" is the results file: choose another file$/,
    ],
    [['--key', ''], /^--key: expected a field name, or a dotted path such as metadata\.id/],
    [['--key', 'metadata..id'], /^--key: expected a field name, or a dotted path/],
    [['--key', '__proto__.x'], /^--key: expected a field name, or a dotted path/],
    [['--key'], /^option '--key' needs a value$/],
  ])('refuses %j', (flags, message) => {
    const dir = mkdtempSync(join(cwd, 'store-bad-'));
    writeFileSync(join(dir, 'in.jsonl'), '{"name":"a"}\n');
    expect(problem(['analyze', 'in.jsonl', '--simulator', ...flags], noEnv, dir)).toMatch(message);
  });

  it.each(['--store', '--fresh', '--no-store', '--key'])('refuses %s for simulate', (flag) => {
    const argv = ['simulate', flag, ...(flag === '--store' || flag === '--key' ? ['x'] : [])];
    expect(problem(argv)).toBe(`option '${flag}' does not apply to 'simulate'`);
  });
});

describe('parseCliArgs: simulate, help, version', () => {
  it('maps the simulator flags to SimulatorOptionsSchema', () => {
    const args = parseCliArgs([
      'simulate',
      '--port',
      '8089',
      '--host',
      '0.0.0.0',
      '--sim-rpm',
      '100',
      '--sim-tpm',
      '50000',
      '--sim-window',
      '1000',
      '--latency',
      'uniform:20-80',
      '--per-token-ms',
      '0.5',
      '--error-rate',
      '0.1',
      '--fault-503',
      '0.01',
      '--fault-429',
      '0.02',
      '--fault-timeout',
      '0.03',
      '--fault-malformed',
      '0.04',
      '--fault-no-usage',
      '0.05',
      '--seed',
      '7',
      '--api-key',
      'sk-sim',
    ]) as Extract<CliArgs, { command: 'simulate' }>;
    expect(args.host).toBe('0.0.0.0');
    expect(args.simulator).toMatchObject({
      port: 8089,
      apiKey: 'sk-sim',
      limits: { requests: 100, tokens: 50_000, windowMs: 1000 },
      latency: { kind: 'uniform', minMs: 20, maxMs: 80 },
      perOutputTokenMs: 0.5,
      faults: {
        error500: 0.1,
        error503: 0.01,
        error429: 0.02,
        timeout: 0.03,
        malformed: 0.04,
        noUsage: 0.05,
      },
      seed: 7,
    });
    const plain = parseCliArgs(['simulate']) as Extract<CliArgs, { command: 'simulate' }>;
    expect(plain.host).toBe('127.0.0.1');
    expect(plain.simulator.port).toBe(0);
  });

  it.each([
    ['50', { kind: 'fixed', ms: 50 }],
    ['fixed:0', { kind: 'fixed', ms: 0 }],
    ['uniform:5-10', { kind: 'uniform', minMs: 5, maxMs: 10 }],
    ['lognormal:100', { kind: 'lognormal', medianMs: 100 }],
    ['lognormal:100,0.8', { kind: 'lognormal', medianMs: 100, sigma: 0.8 }],
  ])('reads --latency %s', (text, latency) => {
    expect(parseLatency(text)).toEqual(latency);
  });

  it.each([
    [['simulate', '--port', '70000'], /^--port: Too big: .* \(received 70000\)$/],
    [
      ['simulate', '--latency', 'uniform:80-20'],
      /^--latency: minMs must not exceed maxMs \(received 20\)$/,
    ],
    [
      ['simulate', '--latency', 'gauss:3'],
      /^--latency: expected fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN\[,SIGMA\] \(received "gauss:3"\)$/,
    ],
    [
      ['simulate', '--error-rate', '1.5'],
      /^--error-rate: expected a probability between 0 and 1 \(received 1.5\)$/,
    ],
    [
      ['simulate', '--error-rate', '0.6', '--fault-503', '0.6'],
      /^--error-rate and --fault-\*: the fault probabilities must sum to at most 1$/,
    ],
    [['simulate', '--sim-window', 'soon'], /^--sim-window: expected a number \(received "soon"\)$/],
    [['simulate', 'file.json'], /^'simulate' takes no file \(received "file.json"\)$/],
    [['simulate', '--budget', '1'], /^option '--budget' does not apply to 'simulate'$/],
    [
      ['simulate', '--max-record-size', '1024'],
      /^option '--max-record-size' does not apply to 'simulate'$/,
    ],
  ])('refuses %j', (argv, message) => {
    expect(problem(argv)).toMatch(message);
  });

  it('answers --help and --version before anything else', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['analyze', '--frobnicate=1', '-h']).command).toBe('help');
    expect(parseCliArgs(['-v'])).toEqual({ command: 'version' });
  });
});
