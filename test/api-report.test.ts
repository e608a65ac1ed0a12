/**
 * The public API is deliberate: every entry of package.json `exports` has a checked-in report
 * under `etc/` (scripts/api-report.ts), and this test fails while a report differs from the
 * source, so every change to the public surface shows in a diff. Update: `npm run api:update`.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  collectExports,
  type ExportedName,
  type PackageEntry,
  packageEntries,
  ROOT,
  renderReport,
  withoutMachinePaths,
} from '../scripts/api-report.js';

/** The root entry's budget of runtime values (issue 13: types are not counted). */
const ROOT_VALUES_AT_MOST = 60;

const entries = packageEntries();
let exported: Map<PackageEntry, ExportedName[]>;

beforeAll(() => {
  exported = collectExports(entries);
}, 120_000);

describe('the API reports', () => {
  it('cover every entry of package.json exports, each with a documented subpath', () => {
    expect(entries.map((e) => e.specifier)).toContain('ai-task-queue');
    const docs = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    for (const entry of entries) {
      expect(existsSync(join(ROOT, entry.source)), entry.source).toBe(true);
      expect(docs, `docs/api.md names ${entry.specifier}`).toContain(`\`${entry.specifier}\``);
    }
  });

  it('are up to date (run `npm run api:update` and commit the diff)', () => {
    for (const entry of entries) {
      const path = join(ROOT, entry.report);
      const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
      const text = renderReport(entry, exported.get(entry) ?? []);
      expect(current, `${entry.report} is stale: run \`npm run api:update\``).toBe(text);
    }
  });

  it(`keep the root entry to at most ${ROOT_VALUES_AT_MOST} runtime values`, () => {
    const root = entries.find((e) => e.specifier === 'ai-task-queue');
    const values = (root && exported.get(root)?.filter((n) => n.isValue)) ?? [];
    expect(values.length).toBeGreaterThan(0);
    expect(values.length).toBeLessThanOrEqual(ROOT_VALUES_AT_MOST);
  });

  it('count as runtime values exactly what each entry exports at run time', async () => {
    for (const entry of entries) {
      const module = (await import(join(ROOT, entry.source))) as Record<string, unknown>;
      const values = (exported.get(entry) ?? []).filter((n) => n.isValue).map((n) => n.name);
      expect(values.sort(), entry.specifier).toEqual(Object.keys(module).sort());
    }
  }, 60_000);
});

describe('withoutMachinePaths', () => {
  it('names packages and project files the same way in every checkout', () => {
    const text =
      'const a: import("/home/me/ai-task-queue/node_modules/xstate/dist/xstate.cjs").AnyActor; ' +
      'const b: import("/ci/x/node_modules/@scope/pkg/lib/index").T; ' +
      'const c: import("/home/me/ai-task-queue/src/limits/types").U;';
    expect(withoutMachinePaths(text, '/home/me/ai-task-queue')).toBe(
      'const a: import("xstate").AnyActor; const b: import("@scope/pkg").T; ' +
        'const c: import("./src/limits/types").U;',
    );
  });
});
