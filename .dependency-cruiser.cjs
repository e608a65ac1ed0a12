/**
 * The layering rules of ai-task-queue (docs/architecture.md, "Layering and the public API"),
 * checked by `npm run lint:deps` (scripts/check-layers.mjs), which `npm test` runs. The folder
 * cycle rule is computed by that script on dependency-cruiser's graph, with the same units.
 *
 * Type-only imports count as dependencies everywhere (`tsPreCompilationDeps`), except where a
 * rule says otherwise.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** Source files of the package's public entries, from package.json `exports` (`types`). */
function publicEntries() {
  const pkg = JSON.parse(readFileSync(join(__dirname, 'package.json'), 'utf8'));
  return Object.values(pkg.exports)
    .filter((target) => typeof target === 'object' && typeof target.types === 'string')
    .map((target) => target.types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts'));
}

const escapeRegExp = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PUBLIC_ENTRIES = publicEntries().map((file) => `^${escapeRegExp(file)}$`);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'machines-import-only-xstate-and-zod',
      comment:
        'machines/ holds the statecharts only: it imports xstate and zod, its own files, and ' +
        'type-only the shared data types of src/limits/ (no I/O, no clock, no providers).',
      severity: 'error',
      from: { path: '^machines/' },
      to: {
        pathNot: ['^machines/', '^node_modules/(xstate|zod)/', '^src/limits/'],
      },
    },
    {
      name: 'machines-import-limits-type-only',
      comment:
        'machines/ may name the shared data types of src/limits/, never run its code: ' +
        'write `import type`.',
      severity: 'error',
      from: { path: '^machines/' },
      to: { path: '^src/limits/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'limits-import-no-other-folder',
      comment:
        'src/limits/ is the pure window, cost, token and backoff math at the bottom: it imports ' +
        'no other folder of the project (packages such as gpt-tokenizer are fine).',
      severity: 'error',
      from: { path: '^src/limits/' },
      to: { path: '^(src|machines)/', pathNot: '^src/limits/' },
    },
    {
      name: 'cli-imports-public-entries-only',
      comment:
        'The CLI is a user of the package: it imports only the entries that package.json ' +
        '`exports` maps (src/index.ts, src/config/index.ts, …). Export what it needs there.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^(src|machines)/', pathNot: ['^src/cli/', ...PUBLIC_ENTRIES] },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves (a typo must not hide a dependency from these rules).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
