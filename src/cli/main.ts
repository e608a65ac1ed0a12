#!/usr/bin/env node
/** The `aitq` bin. */

import { runCli } from './cli.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`aitq: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
