/** `aitq`: parse the command line, run the command, turn errors into one line and an exit code. */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../index.js';
import { parseCliArgs } from './args.js';
import { EXIT_CODES, type ExitCode } from './errors.js';
import { COMMAND_HELP, HELP } from './help.js';
import { type CliIO, processIO } from './io.js';
import { runJob } from './job.js';
import { runSimulate } from './simulate.js';
import { runWorker } from './worker.js';

/** The package's version, from the nearest `package.json` of ai-task-queue above this file. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'ai-task-queue' && pkg.version !== undefined) return pkg.version;
    } catch {
      // not here: look one level up
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/**
 * Runs `aitq` with `argv` (without `node` and the script) and resolves with the exit code. Bad
 * input (options, config file, input file) is one line on stderr and exit 2, nothing started.
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<ExitCode> {
  try {
    const args = parseCliArgs(argv, io.env, io.cwd);
    switch (args.command) {
      case 'help':
        io.stdout.write(args.topic === undefined ? HELP : COMMAND_HELP[args.topic]);
        return EXIT_CODES.ok;
      case 'version':
        io.stdout.write(`${packageVersion()}\n`);
        return EXIT_CODES.ok;
      case 'simulate':
        return await runSimulate(args.host, args.simulator, io);
      case 'worker':
        return await runWorker(args, io);
      default:
        return await runJob(args, io);
    }
  } catch (error) {
    if (error instanceof ValidationError) {
      io.stderr.write(`aitq: ${error.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return EXIT_CODES.badInput;
    }
    throw error;
  }
}
