/**
 * The warnings guard (`test/setup/no-warnings.ts`, a `setupFiles` entry of vitest.config.ts)
 * fails a test that prints a process warning or XState's "sent to stopped actor", and nothing
 * else: vitest runs, in a child process and with the project's own config, over fixtures that
 * trip it (and one that only logs), so the guard cannot pass by catching nothing.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-warnings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ReportSchema = z.object({
  testResults: z.array(
    z.object({
      name: z.string(),
      status: z.string(),
      message: z.string(),
      assertionResults: z.array(
        z.object({ title: z.string(), status: z.string(), failureMessages: z.array(z.string()) }),
      ),
    }),
  ),
});

it('fails the tests that print a warning, naming the file, the test and the warning', async () => {
  const report = join(dir, 'report.json');
  const run = await promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      ...['--config', 'test/setup/fixtures/vitest.config.ts'],
      ...['--reporter', 'json', '--outputFile', report],
    ],
    { cwd: ROOT, env: { ...process.env, CI: '' } },
  ).then(
    () => 0,
    (error: { code?: number }) => error.code,
  );
  expect(run).toBe(1);
  const files = Object.fromEntries(
    ReportSchema.parse(JSON.parse(readFileSync(report, 'utf8'))).testResults.map((file) => [
      relative(ROOT, file.name),
      {
        status: file.status,
        message: file.message,
        tests: Object.fromEntries(
          file.assertionResults.map((t) => [t.title, t.failureMessages.join('\n')]),
        ),
      },
    ]),
  );
  const fixture = (name: string) => `test/setup/fixtures/${name}.fixture.ts`;
  expect(Object.keys(files).sort()).toEqual(
    ['outside-test', 'process-warning', 'quiet', 'stopped-actor'].map(fixture),
  );

  const processWarning = files[fixture('process-warning')]?.tests;
  expect(processWarning?.['adds an eleventh listener']).toContain(
    `${fixture('process-warning')} > adds an eleventh listener: MaxListenersExceededWarning: Possible EventEmitter memory leak detected. 11 tick listeners`,
  );
  expect(processWarning?.['calls something deprecated']).toContain(
    `${fixture('process-warning')} > calls something deprecated: DeprecationWarning: fixture: this API is deprecated`,
  );
  // Only the tests that warned fail.
  expect(processWarning?.['warns nothing']).toBe('');

  expect(files[fixture('stopped-actor')]?.tests['sends an event to a stopped actor']).toMatch(
    /stopped-actor\.fixture\.ts > sends an event to a stopped actor: XState: Event "LATE" was sent to stopped actor /,
  );

  // Outside any test: the file fails, naming it.
  expect(files[fixture('outside-test')]).toMatchObject({
    status: 'failed',
    tests: { 'passes on its own': '' },
  });
  expect(files[fixture('outside-test')]?.message).toContain(
    `${fixture('outside-test')}: Warning: fixture: emitted while the file loads`,
  );

  // What a test prints through the console or stderr is its own business.
  expect(files[fixture('quiet')]).toMatchObject({ status: 'passed' });
});
