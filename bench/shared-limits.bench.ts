/**
 * Limits shared by several processes on Redis (issue 19) against Bottleneck 2's cluster mode
 * (its limiter's state on Redis, through ioredis), side by side in one run on the local Redis.
 *
 * Each contender runs `--tasks` zero-latency tasks (one call of the instant client each) at
 * concurrency `--concurrency`, under a request window that never binds (so the figure is the
 * cost of asking Redis, not a wait), through its public API:
 * - `shared`: `createAITaskManager({ sharedLimits: await openSharedLimits(…), windows })`, tasks of
 *   a custom type submitted with `submitBatch`, until `onIdle()`;
 * - `local`: the same manager without `sharedLimits` (the same limits, this process's own);
 * - `bottleneck`: `new Bottleneck({ datastore: 'ioredis', maxConcurrent, reservoir })`, jobs
 *   scheduled with `schedule`, until the last one ends.
 * `--processes N` (default 1) runs N such managers (and N Bottleneck limiters of one id) in this
 * process at once, each with its share of the tasks, as N workers of one queue would. Rounds
 * alternate the contenders; medians are reported, and the ratios shared ÷ bottleneck and
 * shared ÷ local. Run with `npm run bench:shared`. Options: `--tasks N` (default 5,000),
 * `--rounds N` (default 3), `--concurrency N` (default 50), `--processes N` (default 1).
 */
import { cpus, loadavg } from 'node:os';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { createAITaskManager } from '../src/index.js';
import { openSharedLimits } from '../src/redis/index.js';
import { instantClient, median, PRIORITIES, parseArgs, payloadType } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 5_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const CONCURRENCY = Number(args.get('concurrency') ?? 50);
const PROCESSES = Number(args.get('processes') ?? 1);
const URL = 'redis://127.0.0.1:6379';
const PREFIX = `aitq-bench-shared-${process.pid}`;
/** A window that never binds: every take is asked for, none waits. */
const WINDOWS = [{ requests: 100_000_000, windowMs: 60_000 }];

async function managers(shared: boolean): Promise<number> {
  const limits = shared
    ? await Promise.all(
        Array.from({ length: PROCESSES }, () => openSharedLimits({ url: URL, prefix: PREFIX })),
      )
    : [];
  const queue = await Promise.all(
    Array.from({ length: PROCESSES }, (_, p) =>
      createAITaskManager({
        aiClient: instantClient,
        taskTypes: [payloadType],
        builtinTaskTypes: false,
        maxConcurrent: CONCURRENCY,
        windows: WINDOWS,
        ...(shared ? { sharedLimits: limits[p] } : {}),
      }),
    ),
  );
  const share = Math.ceil(TASKS / PROCESSES);
  const t0 = performance.now();
  await Promise.all(
    queue.map(async (manager) => {
      await manager.submitBatch(
        Array.from({ length: share }, (_, i) => ({
          taskType: 'PAYLOAD',
          data: { i },
          priority: PRIORITIES[i % 4],
        })),
      );
      await manager.onIdle();
    }),
  );
  const rate = (share * PROCESSES) / ((performance.now() - t0) / 1000);
  for (const manager of queue) await manager.stop();
  for (const l of limits) await l.close();
  return rate;
}

async function bottleneck(): Promise<number> {
  const signal = new AbortController().signal;
  const run = () =>
    instantClient.chat({ model: 'gpt-4o-mini', messages: [], maxTokens: 16 }, { signal });
  const limiters = Array.from(
    { length: PROCESSES },
    (_, p) =>
      new Bottleneck({
        id: `${PREFIX}-bottleneck`,
        datastore: 'ioredis',
        clearDatastore: p === 0,
        clientOptions: { host: '127.0.0.1', port: 6379 },
        maxConcurrent: CONCURRENCY * PROCESSES,
        reservoir: 100_000_000,
      }),
  );
  await Promise.all(limiters.map((l) => l.ready()));
  const share = Math.ceil(TASKS / PROCESSES);
  const t0 = performance.now();
  await Promise.all(
    limiters.map((limiter) =>
      Promise.all(
        Array.from({ length: share }, (_, i) => limiter.schedule({ priority: 3 - (i % 4) }, run)),
      ),
    ),
  );
  const rate = (share * PROCESSES) / ((performance.now() - t0) / 1000);
  for (const limiter of limiters) await limiter.disconnect();
  return rate;
}

async function dropKeys(): Promise<void> {
  const redis = new Redis(URL);
  for (const pattern of [`${PREFIX}:*`, `b_${PREFIX}-bottleneck*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
}

const figures: Record<'shared' | 'local' | 'bottleneck', number[]> = {
  shared: [],
  local: [],
  bottleneck: [],
};
console.log(
  `node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}; ${TASKS} tasks, concurrency ${CONCURRENCY}, ${PROCESSES} process(es), ${ROUNDS} rounds`,
);
try {
  await dropKeys();
  // Warm-up, not counted: JIT, connections, scripts loaded on the server.
  await managers(true);
  await bottleneck();
  for (let r = 0; r < ROUNDS; r++) {
    figures.shared.push(await managers(true));
    figures.bottleneck.push(await bottleneck());
    figures.local.push(await managers(false));
    await dropKeys();
  }
} finally {
  await dropKeys();
}
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
for (const [name, rates] of Object.entries(figures)) {
  console.log(`${name.padEnd(10)} tasks/s: ${rates.map(k).join(' ')}; median ${k(median(rates))}`);
}
const ratio = (a: number[], b: number[]) =>
  median(a.map((x, i) => x / (b[i] as number))).toFixed(2);
console.log(`shared ÷ bottleneck (cluster mode): ${ratio(figures.shared, figures.bottleneck)}`);
console.log(`shared ÷ local (no Redis): ${ratio(figures.shared, figures.local)}`);
