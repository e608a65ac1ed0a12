import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/cli/args.js';
import { runCli } from '../../src/cli/cli.js';
import { CliUsageError } from '../../src/cli/errors.js';
import { JOB_ONLY, RUN_ONLY, SIMULATE_ONLY, SIMULATOR_FLAGS } from '../../src/cli/flags.js';
import { COMMAND_HELP, HELP } from '../../src/cli/help.js';
import type { CliIO } from '../../src/cli/io.js';
import { runCliToEnd } from './run-cli.js';

function problem(argv: string[]): string {
  try {
    parseCliArgs(argv, {}, process.cwd());
  } catch (error) {
    if (error instanceof CliUsageError) return error.message;
    throw error;
  }
  throw new Error('expected a CliUsageError');
}

/** Runs the CLI in this process and returns what it printed. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    onSignal: () => () => {},
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

describe('aitq help <command>, aitq <command> --help', () => {
  it.each([
    [['help', 'analyze'], 'analyze'],
    [['help', 'run'], 'run'],
    [['help', 'simulate'], 'simulate'],
    [['analyze', '--help'], 'analyze'],
    [['run', 'tasks.jsonl', '-h'], 'run'],
    [['simulate', '--port', '0', '--help'], 'simulate'],
    [['analyze', '--frobnicate', '--help'], 'analyze'],
    [['--concurrency', '2', 'run', '--help'], 'run'],
    [['help', '--help', 'simulate'], 'simulate'],
  ])('%j is the help of %s', (argv, topic) => {
    expect(parseCliArgs(argv)).toEqual({ command: 'help', topic });
  });

  it.each([[['help']], [['--help']], [['-h']], [['nosuch', '--help']]])(
    '%j is the global help',
    (argv) => {
      expect(parseCliArgs(argv)).toEqual({ command: 'help' });
    },
  );

  it('reads no --help after --', () => {
    expect(problem(['--', '--help'])).toBe(
      "unknown command '--help' (expected analyze, run or simulate)",
    );
  });

  it('refuses an unknown topic, with a did you mean when one is close', () => {
    expect(problem(['help', 'nosuch'])).toBe(
      "unknown command 'nosuch' (expected analyze, run or simulate)",
    );
    expect(problem(['help', 'anlyze'])).toBe(
      "unknown command 'anlyze' (did you mean 'analyze'? expected analyze, run or simulate)",
    );
    expect(problem(['simulat'])).toBe(
      "unknown command 'simulat' (did you mean 'simulate'? expected analyze, run or simulate)",
    );
    expect(problem(['help', 'run', 'analyze'])).toBe(
      `'help' takes one command (received also "analyze")`,
    );
  });

  it('prints the command help, exit 0; an unknown topic is exit 2', async () => {
    const analyze = await run(['help', 'analyze']);
    expect(analyze).toEqual({ code: 0, stdout: COMMAND_HELP.analyze, stderr: '' });
    expect((await run(['run', '--help'])).stdout).toBe(COMMAND_HELP.run);
    expect((await run(['help'])).stdout).toBe(HELP);
    const bad = await run(['help', 'nosuch']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("aitq: unknown command 'nosuch' (expected analyze, run or simulate)\n");
  });

  it('gives each command its usage, every flag it takes (one line each) and an example', () => {
    const jobFlags = ['api-key', ...JOB_ONLY.filter((flag) => !RUN_ONLY.includes(flag))];
    const expected = {
      analyze: jobFlags,
      run: [...jobFlags, ...RUN_ONLY],
      simulate: ['api-key', ...SIMULATE_ONLY, ...Object.keys(SIMULATOR_FLAGS)],
    };
    for (const [command, flags] of Object.entries(expected)) {
      const help = COMMAND_HELP[command as keyof typeof COMMAND_HELP];
      expect(help).toContain(`Usage:\n  aitq ${command}`);
      expect(help).toMatch(new RegExp(`Example:\\n  aitq ${command} `));
      for (const flag of flags) expect(help).toMatch(new RegExp(`^  (-\\w, )?--${flag}\\b`, 'm'));
    }
    expect(COMMAND_HELP.analyze).not.toContain('--prompt');
    expect(COMMAND_HELP.simulate).not.toContain('--budget');
  });

  it('the global help points to the per-command help', () => {
    expect(HELP).toContain('aitq help <command>');
  });
});

describe('aitq help analyze, in a child process', () => {
  it('prints the analyze help, exit 0', async () => {
    const result = await runCliToEnd(['help', 'analyze']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(COMMAND_HELP.analyze);
    expect(result.stderr).toBe('');
  });
});
