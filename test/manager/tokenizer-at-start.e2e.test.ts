import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/run-cli.js';

describe('the tokenizer of the built-in task types (a fresh process)', () => {
  it('is loaded by start(), which says so, not by the first submission', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/manager/fixtures/tokenizer-at-start.ts'],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { before, after, logs } = JSON.parse(run.stdout) as {
      before: boolean;
      after: boolean;
      logs: string[];
    };
    expect(before).toBe(false);
    expect(after).toBe(true);
    expect(logs).toContain('tokenizer loaded');
  });
});
