import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from here. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running `aitq` child process (through tsx, no build needed) and what it printed so far. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once it ended. */
  exited: Promise<number | string>;
  /** Resolves once `check` holds for stdout + stderr; rejects after `ms`. */
  waitFor(check: (output: string) => boolean, ms?: number): Promise<void>;
}

/**
 * Starts `aitq` with `args`; `stdin`, when given, is piped to it (written whole, then closed),
 * otherwise its stdin is closed.
 */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  stdin?: string,
): CliProcess {
  const { OPENAI_API_KEY: _, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin?.end(stdin);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    changed();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    changed();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      changed();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (check, ms = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const test = () => {
          if (!check(out + err)) return;
          listeners.delete(test);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(test);
          reject(new Error(`timed out waiting; output so far:\n${out}\n${err}`));
        }, ms);
        listeners.add(test);
        test();
      }),
  };
}

/** Runs `aitq` to the end. */
export async function runCliToEnd(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  stdin?: string,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = startCli(args, env, stdin);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
