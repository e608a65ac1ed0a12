/**
 * The layering check (`npm run lint:deps`, scripts/check-layers.mjs) catches a wrong import of
 * each kind: run on a small fixture tree laid out like the project, with one bad import per rule
 * beside allowed ones, so a rule that silently stopped matching fails here.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLayers, folderOf, type LayerViolation } from '../scripts/check-layers.mjs';

const FIXTURE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
  }),
  // machines/: xstate and zod only; src/limits/ type-only.
  'machines/ok.machine.ts':
    "import type { Shape } from '../src/limits/shape.js';\nexport type S = Shape;\n",
  'machines/io.machine.ts':
    "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
  'machines/runs-limits.machine.ts':
    "import { area } from '../src/limits/shape.js';\nexport const a = area;\n",
  'machines/uses-provider.machine.ts':
    "import type { Client } from '../src/providers/client.js';\nexport type C = Client;\n",
  // src/limits/: no other folder.
  'src/limits/shape.ts':
    'export interface Shape { side: number }\nexport const area = (s: Shape) => s.side ** 2;\n',
  'src/limits/reads-machines.ts':
    "import type { S } from '../../machines/ok.machine.js';\nexport type T = S;\n",
  // The CLI: public entries only (src/index.ts, src/config/index.ts… from package.json).
  'src/index.ts': "export { manager } from './manager.js';\n",
  'src/manager.ts': "export const manager = 'm';\n",
  'src/config/index.ts': "export const config = 'c';\n",
  'src/cli/ok.ts':
    "import { config } from '../config/index.js';\nimport { manager } from '../index.js';\nexport const both = [config, manager];\n",
  'src/cli/internal.ts': "import { manager } from '../manager.js';\nexport const m = manager;\n",
  'src/cli/typo.ts': "import { nothing } from '../no-such-file.js';\nexport const n = nothing;\n",
  // Folder cycle without a module cycle: runtime/a → stats/b, stats/c → runtime/d.
  'src/providers/client.ts': 'export interface Client { call(): void }\n',
  'src/runtime/a.ts': "import { b } from '../stats/b.js';\nexport const a = b;\n",
  'src/runtime/d.ts': "export const d = 'd';\n",
  'src/stats/b.ts': "export const b = 'b';\n",
  'src/stats/c.ts': "import { d } from '../runtime/d.js';\nexport const c = d;\n",
};

let root: string;
let violations: LayerViolation[];
let messages: string[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'aitq-layers-'));
  for (const [file, text] of Object.entries(FIXTURE)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  ({ violations, messages } = await checkLayers({ baseDir: root, knownEdges: [] }));
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const flagged = (rule: string) =>
  violations
    .filter((v) => v.rule === rule)
    .map((v) => `${v.from} -> ${v.to}`)
    .sort();

describe('the layering check', () => {
  it('keeps machines/ to xstate and zod, and to type-only imports of src/limits/', () => {
    expect(flagged('machines-import-only-xstate-and-zod')).toEqual([
      'machines/io.machine.ts -> fs',
      'machines/uses-provider.machine.ts -> src/providers/client.ts',
    ]);
    expect(flagged('machines-import-limits-type-only')).toEqual([
      'machines/runs-limits.machine.ts -> src/limits/shape.ts',
    ]);
  });

  it('keeps src/limits/ from importing any other folder', () => {
    expect(flagged('limits-import-no-other-folder')).toEqual([
      'src/limits/reads-machines.ts -> machines/ok.machine.ts',
    ]);
  });

  it('lets the CLI import only the public entries, and every import resolve', () => {
    expect(flagged('cli-imports-public-entries-only')).toEqual([
      'src/cli/internal.ts -> src/manager.ts',
    ]);
    expect(flagged('resolvable')).toEqual(['src/cli/typo.ts -> ../no-such-file.js']);
  });

  it('finds a cycle between folders even without a cycle between modules', () => {
    const cycles = violations.filter((v) => v.rule === 'no-folder-cycles');
    // machines ↔ src/limits comes from src/limits/reads-machines.ts, a cycle of modules too.
    expect(cycles.map((v) => v.from)).toEqual([
      'machines <-> src/limits',
      'src/runtime <-> src/stats',
    ]);
    expect(cycles[1]?.to).toContain('src/runtime/a.ts -> src/stats/b.ts');
    expect(cycles[1]?.to).toContain('src/stats/c.ts -> src/runtime/d.ts');
  });

  it('reports nothing else, each violation in one readable line with what to do', () => {
    expect(violations).toHaveLength(8);
    expect(messages[0]).toMatch(/^error [a-z-]+: \S+ → \S+\n {4}\S/);
  });

  it('counts files directly under src/ as folders of their own', () => {
    expect(folderOf('src/manager.ts')).toBe('src/manager');
    expect(folderOf('src/providers/simulator/server.ts')).toBe('src/providers');
    expect(folderOf('machines/task.machine.ts')).toBe('machines');
    expect(folderOf('node_modules/xstate/dist/index.js')).toBeUndefined();
  });
});
