/**
 * `npm run lint:deps`: the layering rules of docs/architecture.md ("Layering and the public
 * API"), checked with dependency-cruiser on `src/` and `machines/`.
 *
 * 1. The module rules of `.dependency-cruiser.cjs` (machines → xstate and zod; src/limits → no
 *    other folder; the CLI → the public entries only; every import resolves).
 * 2. No cycle between folders. A folder is `machines`, a folder directly under `src/` (its
 *    subfolders included: `src/providers/simulator` is part of `src/providers`), or a file directly
 *    under `src/` (`src/manager.ts`, `src/errors.ts`, `src/index.ts`). Type-only imports count.
 *
 * Exits 1 with one line per violation (rule, importer → imported, and what to do) when any is
 * found. `test/layering.test.ts` runs the same check on a fixture with a wrong import of each
 * kind, so a rule cannot silently stop catching anything.
 */

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Imports between folders that are known and tolerated until the named change lands: any module
 * of folder `from` importing the file `to`. Any other import between the two folders still counts.
 */
export const KNOWN_FOLDER_EDGES = [];

/** The folder a module belongs to for the cycle rule, or `undefined` outside src/ and machines/. */
export function folderOf(path) {
  if (path.startsWith('machines/')) return 'machines';
  const nested = /^src\/([^/]+)\//.exec(path);
  if (nested) return `src/${nested[1]}`;
  if (/^src\/[^/]+\.[cm]?[jt]s$/.test(path)) return path.replace(/\.[cm]?[jt]s$/, '');
  return undefined;
}

/** Strongly connected components with more than one folder (Tarjan). */
function folderCycles(edges) {
  const nodes = [
    ...new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]),
  ];
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let counter = 0;
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of nodes.sort()) if (!index.has(node)) visit(node);
  return components;
}

/**
 * Runs every check on `targets` (folders relative to `baseDir`).
 * @returns {Promise<{ violations: { rule: string, from: string, to: string, comment: string }[], messages: string[] }>}
 */
export async function checkLayers({
  baseDir = ROOT,
  targets = ['src', 'machines'],
  knownEdges = KNOWN_FOLDER_EDGES,
} = {}) {
  const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
  const tsConfig = extractTSConfig(join(baseDir, 'tsconfig.json'));
  const previous = process.cwd();
  let result;
  try {
    process.chdir(baseDir);
    const reported = await cruise(
      targets,
      { ...options, baseDir, validate: true, outputType: 'json' },
      {},
      { tsConfig },
    );
    result = JSON.parse(reported.output);
  } finally {
    process.chdir(previous);
  }
  const comments = new Map(options.ruleSet.forbidden.map((rule) => [rule.name, rule.comment]));
  const violations = result.summary.violations.map((v) => ({
    rule: v.rule.name,
    from: v.from,
    to: v.to,
    comment: comments.get(v.rule.name) ?? '',
  }));

  const isKnown = (from, to) => knownEdges.some((k) => k.from === from && k.to === to);
  const edges = new Map();
  for (const module of result.modules) {
    const from = folderOf(module.source);
    if (from === undefined) continue;
    for (const dependency of module.dependencies) {
      const to = folderOf(dependency.resolved);
      if (to === undefined || to === from) continue;
      if (isKnown(from, dependency.resolved)) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      const imports = edges.get(from);
      if (!imports.has(to)) imports.set(to, []);
      imports.get(to).push(`${module.source} -> ${dependency.resolved}`);
    }
  }
  for (const component of folderCycles(edges)) {
    const members = new Set(component);
    const hops = [];
    for (const from of component) {
      for (const [to, imports] of edges.get(from) ?? []) {
        if (members.has(to))
          hops.push(`${imports[0]}${imports.length > 1 ? ` (+${imports.length - 1})` : ''}`);
      }
    }
    violations.push({
      rule: 'no-folder-cycles',
      from: component.join(' <-> '),
      to: hops.join('; '),
      comment:
        'Folders import each other. Move the shared piece below both (src/limits/, ' +
        'src/internal/, machines/) or turn one import around.',
    });
  }
  const messages = violations.map((v) => `error ${v.rule}: ${v.from} → ${v.to}\n    ${v.comment}`);
  return { violations, messages };
}

async function main() {
  const { violations, messages } = await checkLayers();
  for (const message of messages) console.error(message);
  if (violations.length > 0) {
    console.error(
      `\n✘ ${violations.length} layering violation(s). The rules: docs/architecture.md, "Layering and the public API".`,
    );
    return 1;
  }
  const known = KNOWN_FOLDER_EDGES.map(
    (k) => `\n  tolerated for now: ${k.from} → ${k.to}, until ${k.until}`,
  );
  console.log(`✔ layering: no violations in src/ and machines/${known.join('')}`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
