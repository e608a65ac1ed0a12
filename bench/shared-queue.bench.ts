/**
 * The shared queue (issue 19) against plain BullMQ, side by side in one run on the local Redis,
 * with worker processes (`queue-worker.ts`) doing the same work: wait `latency` ms per task.
 *
 * - **Scaling**: latency-bound tasks (`--latency`, default 200 ms; `--concurrency` 10 at a time
 *   per worker), on 1, 2 and 4 worker processes; tasks/s for each, and the ratios 2 ÷ 1, 4 ÷ 1.
 * - **Saturation**: instant tasks, 2 workers of concurrency 50, ours enforcing a shared token
 *   window (`openSharedLimits`, a window that never binds: every take is asked for) against plain
 *   BullMQ, which enforces nothing; the ratio ours ÷ BullMQ (and ours without shared limits, the
 *   queue's own cost).
 *
 * Each run submits every task (ours: `queue.submitBatch`; BullMQ: `addBulk`, 1,000 a call) and
 * ends when the queue's completed count reaches them, timed from the first submission (worker
 * start-up excluded). Rounds alternate the contenders; medians are reported. Run with
 * `npm run bench:queue`. Options: `--part scaling|saturation` (default both), `--tasks N` (scaling, default 400), `--saturation N`
 * (default 4,000), `--rounds N` (default 3), `--latency ms`, `--concurrency N`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { openSharedQueue } from '../src/redis/index.js';
import { median, parseArgs, payloadType } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 400);
const SATURATION = Number(args.get('saturation') ?? 4_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const LATENCY = Number(args.get('latency') ?? 200);
const CONCURRENCY = Number(args.get('concurrency') ?? 10);
/** `scaling`, `saturation` or both (the default). */
const PART = args.get('part') ?? 'both';
const REDIS = 'redis://127.0.0.1:6379';
const WORKER = fileURLToPath(new URL('./queue-worker.js', import.meta.url));
let runs = 0;

type Mode = 'ours' | 'bullmq';

/** Starts `n` worker processes and resolves once each says it takes tasks. */
async function startWorkers(n: number, argv: readonly string[]): Promise<ChildProcess[]> {
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [WORKER, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.stdout?.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('ready')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`a worker exited with ${code}`)));
        }),
    ),
  );
  return children;
}

async function stopWorkers(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.removeAllListeners('exit');
          child.on('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Tasks/s of one run: `workers` processes of `mode`, `tasks` tasks of `latency` ms. */
async function run(
  mode: Mode,
  workers: number,
  tasks: number,
  latency: number,
  concurrency: number,
  tokens?: number,
): Promise<number> {
  const prefix = `aitq-bench-queue-${process.pid}-${++runs}`;
  const argv = [mode, prefix, String(latency), String(concurrency)];
  if (tokens !== undefined && mode === 'ours') argv.push(String(tokens));
  const children = await startWorkers(workers, argv);
  try {
    if (mode === 'ours') {
      const queue = await openSharedQueue({ url: REDIS, prefix, taskTypes: [payloadType] });
      const t0 = performance.now();
      for (let from = 0; from < tasks; from += 1_000) {
        await queue.submitBatch(
          Array.from({ length: Math.min(1_000, tasks - from) }, (_, i) => ({
            taskType: 'PAYLOAD',
            data: { i: from + i },
          })),
        );
      }
      while ((await queue.getStatistics()).tasks.completed < tasks) await pause(5);
      const rate = tasks / ((performance.now() - t0) / 1000);
      await queue.close();
      return rate;
    }
    const connection = new Redis(REDIS);
    const queue = new Queue('tasks', { connection, prefix });
    const t0 = performance.now();
    for (let from = 0; from < tasks; from += 1_000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1_000, tasks - from) }, (_, i) => ({
          name: 'PAYLOAD',
          data: { i: from + i },
          opts: { priority: 3 },
        })),
      );
    }
    while (((await queue.getJobCounts('completed')).completed ?? 0) < tasks) await pause(5);
    const rate = tasks / ((performance.now() - t0) / 1000);
    await queue.close();
    connection.disconnect();
    return rate;
  } finally {
    await stopWorkers(children);
    await dropKeys(prefix);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS);
  const keys = await redis.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
  await redis.quit();
}

const k = (n: number) => n.toFixed(0);
console.log(
  `node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}; ${ROUNDS} rounds`,
);
// Warm-up, not counted: the server's scripts, the page cache of the worker's modules.
await run('ours', 1, 50, 0, CONCURRENCY);
await run('bullmq', 1, 50, 0, CONCURRENCY);
if (PART !== 'saturation') await scalingPart();
if (PART !== 'scaling') await saturationPart();

async function scalingPart(): Promise<void> {
  console.log(
    `scaling: ${TASKS} tasks of ${LATENCY} ms, ${CONCURRENCY} at a time per worker (the most: ${CONCURRENCY * (1000 / LATENCY)} tasks/s per worker)`,
  );
  const scaling: Record<Mode, Record<number, number[]>> = {
    ours: { 1: [], 2: [], 4: [] },
    bullmq: { 1: [], 2: [], 4: [] },
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of [1, 2, 4]) {
      for (const mode of ['ours', 'bullmq'] as const) {
        scaling[mode][workers]?.push(await run(mode, workers, TASKS, LATENCY, CONCURRENCY));
      }
    }
  }
  for (const mode of ['ours', 'bullmq'] as const) {
    const m = (w: number) => median(scaling[mode][w] ?? []);
    console.log(
      `${mode.padEnd(7)} tasks/s  1 worker ${k(m(1))}, 2 workers ${k(m(2))}, 4 workers ${k(m(4))}; 2 ÷ 1 = ${(m(2) / m(1)).toFixed(2)}, 4 ÷ 1 = ${(m(4) / m(1)).toFixed(2)}`,
    );
  }
  const ours2 = median(scaling.ours[2] ?? []);
  console.log(
    `ours ÷ bullmq at 2 workers: ${(ours2 / median(scaling.bullmq[2] ?? [])).toFixed(2)}`,
  );
}

async function saturationPart(): Promise<void> {
  console.log(
    `saturation: ${SATURATION} instant tasks, 2 workers of concurrency 50; ours with a shared token window, BullMQ plain`,
  );
  const saturation: Record<'ours' | 'ours-local' | 'bullmq', number[]> = {
    ours: [],
    'ours-local': [],
    bullmq: [],
  };
  for (let r = 0; r < ROUNDS; r++) {
    saturation.ours.push(await run('ours', 2, SATURATION, 0, 50, 1_000_000_000));
    saturation.bullmq.push(await run('bullmq', 2, SATURATION, 0, 50));
    saturation['ours-local'].push(await run('ours', 2, SATURATION, 0, 50));
  }
  for (const [mode, rates] of Object.entries(saturation)) {
    console.log(
      `${mode.padEnd(10)} tasks/s: ${rates.map(k).join(' ')}; median ${k(median(rates))}`,
    );
  }
  const over = (a: number[]) =>
    median(a.map((x, i) => x / (saturation.bullmq[i] as number))).toFixed(2);
  console.log(`ours ÷ bullmq at saturation: ${over(saturation.ours)}`);
  console.log(`ours without shared limits ÷ bullmq: ${over(saturation['ours-local'])}`);
}
