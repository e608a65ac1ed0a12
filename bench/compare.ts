/**
 * The engine of this working tree against the engine of another commit, in one process, with
 * the rounds alternating (A, B, A, B, …) so that drifting load on a shared machine touches both
 * alike. It answers "did this change make the engine faster?", which two separate `npm run bench`
 * runs cannot on a machine whose speed moves by a third from one minute to the next.
 *
 * ```bash
 * npm run bench:compare -- <git-ref> [--rounds 6] [--tasks 100000] [--concurrency 100] [--submit await|all]
 * ```
 *
 * A is the engine at `<git-ref>`, checked out into a temporary `git worktree` and built there
 * (the worktree is removed at the end); B is this working tree, built by the npm script. Same
 * workload as `npm run bench`: zero-latency client, the four priorities mixed, 1,000 finished
 * tasks kept. `--submit await` (default) awaits each `submit()`, as the main bench does; `all`
 * submits every task before awaiting any, as a batch job does. Prints each round's tasks/s and
 * the median of the per-round ratios B ÷ A (1.10 = B is 10% faster).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Engine } from '../src/runtime/engine.js';
import { holdProcessOpen, median, PRIORITIES, parseArgs, startBenchEngine } from './fixtures.js';

type EngineClass = typeof Engine;

const ref = process.argv[2];
if (ref === undefined || ref.startsWith('--')) {
  console.error(
    'usage: npm run bench:compare -- <git-ref> [--rounds N] [--tasks N] [--concurrency N] [--submit await|all]',
  );
  process.exit(2);
}
const args = parseArgs(process.argv.slice(3));
const TASKS = Number(args.get('tasks') ?? 100_000);
const CONCURRENCY = Number(args.get('concurrency') ?? 100);
const ROUNDS = Number(args.get('rounds') ?? 6);
const SUBMIT = args.get('submit') ?? 'await';
if (SUBMIT !== 'await' && SUBMIT !== 'all') {
  console.error(`--submit must be await or all (received ${SUBMIT})`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;

async function tasksPerSecond(EngineAt: EngineClass): Promise<number> {
  const release = holdProcessOpen();
  try {
    return await measure(EngineAt);
  } finally {
    release();
  }
}

async function measure(EngineAt: EngineClass): Promise<number> {
  const engine = startBenchEngine(EngineAt, TASKS, CONCURRENCY);
  gc?.();
  const t0 = performance.now();
  const task = (i: number) => ({ taskType: 'BENCH', data: { n: i }, priority: PRIORITIES[i % 4] });
  if (SUBMIT === 'await') {
    for (let i = 0; i < TASKS; i++) await engine.submit(task(i));
  } else {
    const accepted: Promise<string>[] = [];
    for (let i = 0; i < TASKS; i++) accepted.push(engine.submit(task(i)));
    await Promise.all(accepted);
  }
  await engine.onIdle();
  const seconds = (performance.now() - t0) / 1000;
  // The store is read directly: first the removals of the last retention step must be in it.
  await engine.written();
  if ((await engine.store.countByStatus()).completed !== Math.min(TASKS, 1000)) {
    throw new Error('not every task completed');
  }
  await engine.stop();
  return TASKS / seconds;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const worktree = mkdtempSync(join(tmpdir(), 'aitq-compare-'));
let added = false;
try {
  try {
    execFileSync('git', ['worktree', 'add', '--detach', worktree, ref], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    console.error(`bench:compare: cannot check out '${ref}': ${stderr || String(error)}`);
    process.exitCode = 2;
    throw error;
  }
  added = true;
  symlinkSync(join(root, 'node_modules'), join(worktree, 'node_modules'), 'dir');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(worktree, 'tsconfig.build.json')],
    { cwd: worktree, stdio: 'inherit' },
  );
  const engineAt = (dir: string) => join(dir, 'dist/src/runtime/engine.js');
  const A = ((await import(pathToFileURL(engineAt(worktree)).href)) as { Engine: EngineClass })
    .Engine;
  const B = ((await import(pathToFileURL(engineAt(root)).href)) as { Engine: EngineClass }).Engine;
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await tasksPerSecond(A));
    b.push(await tasksPerSecond(B));
  }
  const ratios = b.map((x, i) => x / (a[i] as number));
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(' ');
  console.log(
    `node ${process.version}, ${TASKS} tasks, concurrency ${CONCURRENCY}, submit ${SUBMIT}, ${ROUNDS} rounds`,
  );
  console.log(`A (${ref}) tasks/s: ${fmt(a)}`);
  console.log(`B (working tree) tasks/s: ${fmt(b)}`);
  console.log(
    `B ÷ A per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(3)}`,
  );
} catch (error) {
  if (process.exitCode !== 2) throw error;
} finally {
  if (added) {
    execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: root, stdio: 'pipe' });
  } else {
    rmSync(worktree, { recursive: true, force: true });
  }
}
