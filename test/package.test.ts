/**
 * What `npm pack` puts in the package (issue 17, packaging): the built code of every entry in
 * `exports` and `bin`, the README, the licence and the docs, and nothing of the tests, the
 * benchmarks or the TypeScript sources. Reads `npm pack --dry-run --json` (scripts off: `dist/`
 * is built by `npm ci`'s `prepare`). Dependencies take caret ranges, so an app's own copies are
 * shared.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli/run-cli.js';

interface PackageJson {
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

function packedFiles(): string[] {
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  const [report] = JSON.parse(run.stdout) as Array<{ files: Array<{ path: string }> }>;
  return (report?.files ?? []).map((f) => f.path);
}

describe('npm pack', () => {
  const files = packedFiles();
  const has = new Set(files);

  it('holds every file that exports and bin name', () => {
    const targets: string[] = [];
    for (const entry of Object.values(pkg.exports)) {
      if (typeof entry === 'string') targets.push(entry);
      else targets.push(...Object.values(entry));
    }
    targets.push(...Object.values(pkg.bin));
    const missing = targets
      .map((t) => t.replace(/^\.\//, ''))
      .filter((t) => t !== 'package.json' && !has.has(t));
    expect(missing).toEqual([]);
    expect(Object.keys(pkg.exports)).toContain('./sqlite');
  });

  it('holds the README, the licence and the docs, and no tests, benchmarks or sources', () => {
    expect(has.has('README.md')).toBe(true);
    expect(has.has('LICENSE')).toBe(true);
    expect(has.has('docs/stores.md')).toBe(true);
    const stray = files.filter(
      (f) =>
        f.startsWith('test/') ||
        f.startsWith('bench/') ||
        f.startsWith('src/') ||
        f.startsWith('dist/test/') ||
        f.startsWith('dist/bench/') ||
        f.startsWith('dist/examples/') ||
        f.endsWith('.db'),
    );
    expect(stray).toEqual([]);
  });

  it('asks for its dependencies with caret ranges', () => {
    // The one tilde: issue 18 pins prom-client to 15.1.x (its text format is what /metrics serves).
    const tilde: Record<string, string> = { 'prom-client': '~15.1.' };
    const pinned = Object.entries(pkg.dependencies).filter(
      ([name, range]) => !range.startsWith(tilde[name] ?? '^'),
    );
    expect(pinned).toEqual([]);
  });
});
