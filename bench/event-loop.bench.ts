/**
 * How long the event loop waits while the queue works through calls that answer at once (a
 * cache, a stub, a local model binding): 30,000 tasks submitted through the manager without
 * awaiting each, a zero-latency client, concurrency 100, and a `setTimeout(100)` set at the start.
 * Prints when that timer fired and when the last task ended. Run with `npm run bench:loop`.
 * Options: `--tasks N` (default 30,000), `--rounds N` (default 3; medians).
 */
import { AITaskManager } from '../src/manager.js';
import { benchType, instantClient, median, parseArgs } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 30_000);
const ROUNDS = Number(args.get('rounds') ?? 3);

async function round(): Promise<{ timerMs: number; totalMs: number }> {
  const manager = new AITaskManager({
    aiClient: instantClient,
    builtinTaskTypes: false,
    taskTypes: [benchType],
    maxConcurrent: 100,
    maxQueueSize: TASKS + 1,
    keepCompleted: { count: 1000 },
  });
  await manager.start();
  const start = performance.now();
  let timerMs = Number.NaN;
  const timer = new Promise<void>((resolve) =>
    setTimeout(() => {
      timerMs = performance.now() - start;
      resolve();
    }, 100),
  );
  const submitted: Promise<string>[] = [];
  for (let i = 0; i < TASKS; i++)
    submitted.push(manager.submitTask({ taskType: 'BENCH', data: { n: i } }));
  await Promise.all(submitted);
  await manager.onIdle();
  const totalMs = performance.now() - start;
  await timer;
  await manager.stop();
  return { timerMs, totalMs };
}

await round(); // warm-up
const runs: { timerMs: number; totalMs: number }[] = [];
for (let i = 0; i < ROUNDS; i++) runs.push(await round());
const fmt = (ms: number) => `${Math.round(ms).toLocaleString('en-US')} ms`;
console.log(
  `${TASKS.toLocaleString('en-US')} instant tasks, ${ROUNDS} rounds (medians): ` +
    `setTimeout(100) fired after ${fmt(median(runs.map((r) => r.timerMs)))}; ` +
    `the last task ended after ${fmt(median(runs.map((r) => r.totalMs)))}`,
);
