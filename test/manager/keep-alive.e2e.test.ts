import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/run-cli.js';

describe('the process while a task waits to retry (system clock, real time)', () => {
  it('stays alive for the retry, then ends by itself', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/manager/fixtures/retry-keeps-alive.ts'],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('result ok after 2 calls');
    expect(run.status).toBe(0);
  });
});
