/**
 * The SQLite store (issue 16) against BullMQ 6 on the local Redis, side by side in one run.
 *
 * 100,000 zero-latency tasks through the public API, as a user runs a batch:
 * `createAITaskManager({ store: openSqliteStore(file), aiClient, ... })`, `submitBatch` in chunks
 * of 1,000 (each awaited), then `onIdle()`. The same workload through BullMQ: a `Queue` and a
 * `Worker` in this process whose processor calls the same client and returns at once, `addBulk`
 * in chunks of 1,000, timed until the worker's `completed` event for the last job. The in-memory
 * store runs too, as the reference line, and the Redis store (`ai-task-queue/redis`) on the same
 * Redis as BullMQ. Every contender: the same task count, the four
 * priorities mixed (`i % 4`), the same concurrency (the manager's `maxConcurrent`, the worker's
 * `concurrency`), 1,000 finished tasks kept (`keepCompleted` / `removeOnComplete`); each run
 * starts from a collected heap; a run's database file (with its `-wal` and `-shm`) is deleted
 * after it, a BullMQ queue is obliterated after it (and keys an interrupted run left are deleted
 * before the rounds and after them). Before the rounds, each contender runs once on 10,000
 * tasks, not counted, so that JIT, connections and Redis are warm for all of them.
 *
 * Figures: tasks/s from the first submit to the last completion, as the median of the rounds,
 * and each store's ratio to BullMQ (the median of the per-round ratios; the rounds run the
 * contenders interleaved so that drifting load touches them alike); the CPU time per task of
 * this process over the same span (all its threads: the SQLite store's worker too), and of the
 * Redis server for BullMQ (`INFO cpu`); the 99th percentile of the event loop's delay over that
 * span (how long a timer or a request of the application could wait). Start (open
 * the file, `createAITaskManager`; for BullMQ, the queue and worker ready) and stop (`stop()`,
 * `close()`; `worker.close()`, `obliterate`) are not in the figure; their medians are printed
 * beside it.
 *
 * Run with `npm run bench:sqlite` (builds, then runs with `--expose-gc`). Options: `--tasks N`
 * (default 100,000), `--rounds N` (default 3), `--concurrency N` (default 50), `--chunk N`
 * (default 1,000), `--keep N` (finished tasks kept, default 1,000), `--warmup N` (default
 * 10,000; 0 for none), `--dir path` (where the
 * database files go, default the OS's temporary folder), `--redis host:port` (default
 * 127.0.0.1:6379; BullMQ is skipped when Redis does not answer), `--only a,b` (a subset of
 * `memory,normal,main,full,redis,bullmq`, e.g. to profile one of them; `main` is SQLite
 * `NORMAL` with its statements on the engine's thread, `thread: 'main'`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type AITaskManager, createAITaskManager } from '../src/index.js';
import { openRedisStore, type RedisTaskStore } from '../src/redis/index.js';
import { openSqliteStore, type SqliteTaskStore } from '../src/stores/sqlite/index.js';
import {
  allCompleted,
  instantClient,
  median,
  PRIORITIES,
  parseArgs,
  payloadType,
} from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 100_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const CONCURRENCY = Number(args.get('concurrency') ?? 50);
const CHUNK = Number(args.get('chunk') ?? 1000);
const KEEP = Number(args.get('keep') ?? 1000);
const WARMUP = Number(args.get('warmup') ?? Math.min(TASKS, 10_000));
const DIR = resolve(args.get('dir') ?? tmpdir());
const redisAt = (args.get('redis') ?? '127.0.0.1:6379').split(':');
const REDIS = { host: redisAt[0] || '127.0.0.1', port: Number(redisAt[1] ?? 6379) };
const CONTENDERS = ['memory', 'normal', 'main', 'full', 'redis', 'bullmq'] as const;
type Contender = (typeof CONTENDERS)[number];
const ONLY = new Set((args.get('only') ?? CONTENDERS.join(',')).split(','));
for (const name of ONLY) {
  if (!(CONTENDERS as readonly string[]).includes(name)) {
    console.error(`--only: unknown contender '${name}' (known: ${CONTENDERS.join(', ')})`);
    process.exit(2);
  }
}
for (const [name, value] of Object.entries({ TASKS, ROUNDS, CONCURRENCY, CHUNK, KEEP, WARMUP })) {
  if (!Number.isInteger(value) || value < (name === 'WARMUP' ? 0 : 1)) {
    console.error(`--${name.toLowerCase()} must be a positive integer (received ${value})`);
    process.exit(2);
  }
}
/** Every Redis store of this bench has a key prefix that starts with it. */
const REDIS_PREFIX = 'aitq-bench-store-';
/** Every BullMQ queue of this bench is named with it; its keys are `bull:<prefix>…`. */
const QUEUE_PREFIX = 'aitq-bench-sqlite-';
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc (npm run bench:sqlite does)');
  process.exit(2);
}

interface Run {
  tasksPerSecond: number;
  /** CPU time of this process over the timed part, µs per task. */
  cpuPerTask: number;
  /** CPU time of the Redis server over the timed part, µs per task (BullMQ only). */
  redisCpuPerTask?: number;
  startMs: number;
  stopMs: number;
  /** The 99th percentile of the event loop's delay over the timed part, ms. */
  loopP99Ms: number;
}

/** Watches the event loop's delay (10 ms resolution) until the returned function is called. */
function watchLoop(): () => number {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return () => {
    histogram.disable();
    return histogram.percentile(99) / 1e6;
  };
}

/** The CPU time this process has used, in µs. */
function processCpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The CPU time the Redis server has used, in µs (`INFO cpu`; every client's work counts). */
async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** The tasks of the chunk from `start` (of `tasks` in all), as a user builds them. */
function chunkOf(start: number, tasks: number) {
  const chunk = [];
  for (let i = start; i < Math.min(tasks, start + CHUNK); i++) {
    chunk.push({ taskType: 'PAYLOAD', data: { i }, priority: PRIORITIES[i % 4] });
  }
  return chunk;
}

async function runManager(
  kind: 'memory' | 'NORMAL' | 'FULL' | 'redis',
  tasks: number,
  thread: 'worker' | 'main' = 'worker',
): Promise<Run> {
  const dir = mkdtempSync(join(DIR, 'aitq-bench-sqlite-'));
  const prefix = `${REDIS_PREFIX}${randomUUID()}`;
  let store: SqliteTaskStore | RedisTaskStore | undefined;
  let manager: AITaskManager | undefined;
  try {
    const s0 = performance.now();
    if (kind === 'redis') {
      store = await openRedisStore({ url: `redis://${REDIS.host}:${REDIS.port}`, prefix });
    } else if (kind !== 'memory') {
      store = openSqliteStore(join(dir, 'queue.db'), { synchronous: kind, thread });
    }
    manager = await createAITaskManager({
      ...(store === undefined ? {} : { store }),
      aiClient: instantClient,
      taskTypes: [payloadType],
      builtinTaskTypes: false,
      maxConcurrent: CONCURRENCY,
      maxQueueSize: tasks,
      keepCompleted: { count: KEEP },
    });
    const startMs = performance.now() - s0;
    gc?.();
    const c0 = processCpu();
    const loop = watchLoop();
    const t0 = performance.now();
    for (let start = 0; start < tasks; start += CHUNK) {
      await manager.submitBatch(chunkOf(start, tasks));
    }
    await manager.onIdle();
    const tasksPerSecond = tasks / ((performance.now() - t0) / 1000);
    const loopP99Ms = loop();
    const cpuPerTask = (processCpu() - c0) / tasks;
    const succeeded = (await manager.getStatistics()).performance.totalSucceeded;
    if (succeeded !== tasks) throw new Error(`${kind}: ${succeeded} of ${tasks} tasks completed`);
    const kept = await manager.getTasks({ status: 'completed', limit: 1000 });
    if (kept.items.length !== Math.min(KEEP, tasks, 1000)) {
      throw new Error(`${kind}: ${kept.items.length} completed tasks kept, expected ${KEEP}`);
    }
    const e0 = performance.now();
    await manager.stop();
    manager = undefined;
    await store?.close();
    return { tasksPerSecond, cpuPerTask, startMs, stopMs: performance.now() - e0, loopP99Ms };
  } finally {
    // After a failed run: nothing left running, open or on disk.
    await manager?.stop({ force: true });
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'redis' && redis !== undefined) await deleteKeys(redis, `${prefix}:*`);
  }
}

/** A client that fails at once instead of retrying: for the probe, `INFO` and key cleanup. */
async function connectRedis(): Promise<Redis> {
  const client = new Redis({
    ...REDIS,
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

/** Deletes every key of this bench's queues and Redis stores (an interrupted run may have left some). */
async function deleteBenchKeys(client: Redis): Promise<number> {
  return (
    (await deleteKeys(client, `bull:${QUEUE_PREFIX}*`)) +
    (await deleteKeys(client, `${REDIS_PREFIX}*`))
  );
}

async function deleteKeys(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

async function runBullMQ(client: Redis, tasks: number): Promise<Run> {
  const signal = new AbortController().signal;
  const call = () =>
    instantClient.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], maxTokens: 16 },
      { signal },
    );
  const s0 = performance.now();
  const queue = new Queue(`${QUEUE_PREFIX}${randomUUID()}`, { connection: REDIS });
  const worker = new Worker(queue.name, async () => (await call()).content, {
    connection: REDIS,
    concurrency: CONCURRENCY,
    removeOnComplete: { count: KEEP },
  });
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  };
  try {
    await queue.waitUntilReady();
    await worker.waitUntilReady();
    const finished = allCompleted(worker, tasks);
    const startMs = performance.now() - s0;
    gc?.();
    const r0 = await redisCpu(client);
    const c0 = processCpu();
    const loop = watchLoop();
    const t0 = performance.now();
    for (let start = 0; start < tasks; start += CHUNK) {
      // BullMQ's priorities run from 1 (highest) up: URGENT (i % 4 = 3) → 1, LOW (0) → 4.
      await queue.addBulk(
        chunkOf(start, tasks).map((task) => ({
          name: task.taskType,
          data: task.data,
          opts: { priority: 4 - (task.data.i % 4) },
        })),
      );
    }
    await finished;
    const tasksPerSecond = tasks / ((performance.now() - t0) / 1000);
    const loopP99Ms = loop();
    const cpuPerTask = (processCpu() - c0) / tasks;
    const redisCpuPerTask = ((await redisCpu(client)) - r0) / tasks;
    const kept = await queue.getCompletedCount();
    if (kept !== Math.min(KEEP, tasks)) {
      throw new Error(`bullmq: ${kept} completed jobs kept, not ${Math.min(KEEP, tasks)}`);
    }
    const e0 = performance.now();
    await closeAll();
    const stopMs = performance.now() - e0;
    return { tasksPerSecond, cpuPerTask, redisCpuPerTask, startMs, stopMs, loopP99Ms };
  } finally {
    // After a failed run (a no-op after a good one).
    await closeAll();
  }
}

/** The file system that holds `path` (from /proc/mounts; Linux only, else 'unknown'). */
function fileSystemOf(path: string): string {
  try {
    let best = { point: '', type: 'unknown', device: '' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device = '', point = '', type = ''] = line.split(' ');
      const inside = path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
      if (inside && point.length >= best.point.length) best = { point, type, device };
    }
    return `${best.type} (${best.device} on ${best.point})`;
  } catch {
    return 'unknown';
  }
}

function machineState(): string {
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const gb = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
  return `load average ${load}; free memory ${gb(freemem())} of ${gb(totalmem())} GiB`;
}

// ─── the run ──────────────────────────────────────────────────────────────────────────────────

const require = createRequire(import.meta.url);
const versionOf = (name: string) =>
  (require(`${name}/package.json`) as { version: string }).version;
const probe = new Database(':memory:');
const sqliteVersion = String(probe.prepare('SELECT sqlite_version()').pluck().get());
probe.close();

let redis: Redis | undefined;
let redisVersion = '';
if (ONLY.has('bullmq') || ONLY.has('redis')) {
  try {
    redis = await connectRedis();
    redisVersion = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? '?';
    const stale = await deleteBenchKeys(redis);
    if (stale > 0) console.log(`deleted ${stale} Redis keys an earlier run left`);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    console.log(
      `BullMQ and the Redis store skipped: Redis at ${REDIS.host}:${REDIS.port} not answering (${why})`,
    );
    ONLY.delete('bullmq');
    ONLY.delete('redis');
    redis = undefined;
  }
}

console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}; better-sqlite3 ${versionOf('better-sqlite3')} (SQLite ${sqliteVersion}), bullmq ${versionOf('bullmq')}${redis === undefined ? '' : `, Redis ${redisVersion} at ${REDIS.host}:${REDIS.port}`}`,
);
console.log(`database files in ${DIR}: ${fileSystemOf(DIR)}`);
console.log(`before: ${machineState()}`);
console.log(
  `${TASKS.toLocaleString('en-US')} tasks, submitBatch / addBulk in chunks of ${CHUNK}, concurrency ${CONCURRENCY}, priorities mixed, ${KEEP} finished kept, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} (median) after a warm-up of ${WARMUP}`,
);

const LABELS: Record<Contender, string> = {
  memory: 'memory store',
  normal: 'SQLite, synchronous NORMAL',
  main: 'SQLite NORMAL, thread main',
  full: 'SQLite, synchronous FULL',
  redis: 'Redis store',
  bullmq: `BullMQ ${versionOf('bullmq')} (Redis)`,
};
const RUNS: Record<Contender, (tasks: number) => Promise<Run>> = {
  memory: (tasks) => runManager('memory', tasks),
  normal: (tasks) => runManager('NORMAL', tasks),
  main: (tasks) => runManager('NORMAL', tasks, 'main'),
  full: (tasks) => runManager('FULL', tasks),
  redis: (tasks) => runManager('redis', tasks),
  bullmq: (tasks) => {
    if (redis === undefined) throw new Error('BullMQ runs only with Redis');
    return runBullMQ(redis, tasks);
  },
};
const order = CONTENDERS.filter((name) => ONLY.has(name));
const results = new Map<Contender, Run[]>(order.map((name) => [name, []]));
try {
  // Each contender once on a smaller run, not counted: JIT, connections and Redis warm up alike.
  if (WARMUP > 0) for (const name of order) await RUNS[name](WARMUP);
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of order) {
      gc();
      results.get(name)?.push(await RUNS[name](TASKS));
    }
  }
} finally {
  if (redis !== undefined) {
    await deleteBenchKeys(redis);
    await redis.quit();
  }
}

const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
/** This process's CPU per task (median), and Redis's beside it for BullMQ. */
function cpuCell(runs: readonly Run[]): string {
  const own = Math.round(median(runs.map((r) => r.cpuPerTask)));
  const redisCpus = runs.flatMap((r) =>
    r.redisCpuPerTask === undefined ? [] : [r.redisCpuPerTask],
  );
  return redisCpus.length === 0 ? `${own}` : `${own} + Redis ${Math.round(median(redisCpus))}`;
}
const bullmq = results.get('bullmq');
const rows: string[][] = [
  [
    '',
    'tasks/s (median)',
    '÷ BullMQ (per round)',
    'rounds',
    'CPU µs/task',
    'loop p99 ms',
    'start ms',
    'stop ms',
  ],
];
for (const [name, runs] of results) {
  const rates = runs.map((r) => r.tasksPerSecond);
  const ratios =
    bullmq === undefined ? [] : rates.map((x, i) => x / (bullmq[i]?.tasksPerSecond ?? Number.NaN));
  rows.push([
    LABELS[name],
    Math.round(median(rates)).toLocaleString('en-US'),
    ratios.length === 0
      ? '–'
      : `${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(' ')})`,
    rates.map(k).join(' '),
    cpuCell(runs),
    Math.round(median(runs.map((r) => r.loopP99Ms))).toString(),
    Math.round(median(runs.map((r) => r.startMs))).toString(),
    Math.round(median(runs.map((r) => r.stopMs))).toString(),
  ]);
}
const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => row[c]?.length ?? 0))) ?? [];
for (const row of rows) {
  console.log(
    row
      .map((cell, c) => (c === 0 ? cell.padEnd : cell.padStart).call(cell, widths[c] ?? 0))
      .join('  '),
  );
}
console.log(`after: ${machineState()}`);
