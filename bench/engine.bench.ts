/**
 * The engine against p-queue 9, Bottleneck 2 and BullMQ 6, side by side in one run.
 *
 * 100,000 tasks, concurrency 100, the four priorities mixed, a zero-latency client that answers
 * at once with usage. Figures: tasks per second (first submit to last completion, enqueueing
 * included); heap per waiting task with 100,000 waiting (for BullMQ, Redis memory per waiting
 * job); enqueue cost per task around the 1,000th and around the 100,000th task. Run with
 * `npm run bench` (builds, then runs with `--expose-gc`). Options: `--tasks N`,
 * `--concurrency N`, `--rounds N`, `--bottleneck-tasks N`, `--bullmq-tasks N`,
 * `--redis host:port` (BullMQ is skipped when Redis does not answer there).
 */
import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import PQueue from 'p-queue';
import { AITaskManager } from '../src/manager.js';
import { Engine } from '../src/runtime/engine.js';
import {
  allCompleted,
  benchType,
  holdProcessOpen,
  instantClient,
  median,
  PRIORITIES,
  parseArgs,
  startBenchEngine,
} from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 100_000);
const CONCURRENCY = Number(args.get('concurrency') ?? 100);
const ROUNDS = Number(args.get('rounds') ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;

function createEngine(): Engine {
  return startBenchEngine(Engine, TASKS, CONCURRENCY);
}

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

interface Figures {
  tasksPerSecond: number;
  bytesPerWaiting: number;
  enqueueUsAt1k: number;
  enqueueUsAt100k: number;
}

/** Average enqueue cost (µs per task) of the 100 tasks before index `at`. */
function window100(times: Float64Array, at: number): number {
  const from = Math.max(0, at - 100);
  return (((times[at - 1] ?? 0) - (times[from] ?? 0)) / (at - 1 - from)) * 1000;
}

async function benchEngine(): Promise<Figures> {
  const release = holdProcessOpen();
  try {
    return await measureEngine();
  } finally {
    release();
  }
}

async function measureEngine(): Promise<Figures> {
  // Throughput.
  const engine = createEngine();
  // Every contender starts from a collected heap: no one pays for the previous one's garbage.
  heapUsed();
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    await engine.submit({ taskType: 'BENCH', data: { n: i }, priority: PRIORITIES[i % 4] });
  }
  // Like p-queue's onIdle(); nothing subscribes to events$ (see the manager row for that).
  await engine.onIdle();
  if ((await engine.store.countByStatus()).completed !== Math.min(TASKS, 1000)) {
    throw new Error('not every task completed');
  }
  const tasksPerSecond = TASKS / ((performance.now() - t0) / 1000);
  await engine.stop();

  // Memory and enqueue cost, with admission paused so every task waits.
  return {
    tasksPerSecond,
    ...(await enqueueFigures(() => {
      const waiting = createEngine();
      waiting.pause();
      return {
        submit: (i) =>
          waiting.submit({ taskType: 'BENCH', data: { n: i }, priority: PRIORITIES[i % 4] }),
        finish: async () => {
          if (waiting.waitingCount !== TASKS)
            throw new Error(`expected ${TASKS} waiting, got ${waiting.waitingCount}`);
          await waiting.stop();
        },
      };
    })),
  };
}

/**
 * Heap per waiting task with `TASKS` waiting (growth after `gc()`, divided by `TASKS`), and the
 * enqueue cost around the 1,000th and the last task, for a queue that never admits.
 */
async function enqueueFigures(
  create: () => { submit(i: number): Promise<unknown>; finish(): Promise<void> },
): Promise<Omit<Figures, 'tasksPerSecond'>> {
  const before = heapUsed();
  const waiting = create();
  const times = new Float64Array(TASKS);
  const s0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    await waiting.submit(i);
    times[i] = performance.now() - s0;
  }
  const bytesPerWaiting = (heapUsed() - before) / TASKS;
  await waiting.finish();
  return {
    bytesPerWaiting,
    enqueueUsAt1k: window100(times, 1000),
    enqueueUsAt100k: window100(times, TASKS),
  };
}

function createManager(): AITaskManager {
  return new AITaskManager({
    aiClient: instantClient,
    taskTypes: [benchType],
    builtinTaskTypes: false,
    maxConcurrent: CONCURRENCY,
    maxQueueSize: TASKS * 2,
    model: 'gpt-4o-mini',
    keepCompleted: { count: 1000 },
  });
}

/** The facade: zod-validated `submitTask`, the statistics collector listening to every event. */
async function benchManager(): Promise<Figures> {
  const manager = createManager();
  await manager.start();
  // Every contender starts from a collected heap: no one pays for the previous one's garbage.
  heapUsed();
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    await manager.submitTask({ taskType: 'BENCH', data: { n: i }, priority: PRIORITIES[i % 4] });
  }
  await manager.onIdle();
  const tasksPerSecond = TASKS / ((performance.now() - t0) / 1000);
  if ((await manager.getStatistics()).performance.totalSucceeded !== TASKS) {
    throw new Error('not every task completed');
  }
  await manager.stop();

  return {
    tasksPerSecond,
    ...(await enqueueFigures(() => {
      const waiting = createManager();
      return {
        submit: (i) =>
          waiting.submitTask({ taskType: 'BENCH', data: { n: i }, priority: PRIORITIES[i % 4] }),
        finish: () => waiting.stop(),
      };
    })),
  };
}

async function benchPQueue(): Promise<Figures> {
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const signal = new AbortController().signal;
  const run = () =>
    instantClient.chat({ model: 'gpt-4o-mini', messages: [], maxTokens: 16 }, { signal });
  // Every contender starts from a collected heap: no one pays for the previous one's garbage.
  heapUsed();
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) void queue.add(run, { priority: i % 4 });
  await queue.onIdle();
  const tasksPerSecond = TASKS / ((performance.now() - t0) / 1000);

  const before = heapUsed();
  const waiting = new PQueue({ concurrency: CONCURRENCY, autoStart: false });
  const times = new Float64Array(TASKS);
  const s0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    void waiting.add(run, { priority: i % 4 });
    times[i] = performance.now() - s0;
  }
  const bytesPerWaiting = (heapUsed() - before) / TASKS;
  waiting.clear();
  return {
    tasksPerSecond,
    bytesPerWaiting,
    enqueueUsAt1k: window100(times, 1000),
    enqueueUsAt100k: window100(times, TASKS),
  };
}

/**
 * Bottleneck dispatches each job through a timer and runs about 400 jobs a second here, so its
 * throughput is measured on `BOTTLENECK_TASKS` (100,000 would take four minutes a round).
 */
const BOTTLENECK_TASKS = Math.min(TASKS, Number(args.get('bottleneck-tasks') ?? 10_000));

async function benchBottleneck(): Promise<Figures> {
  const signal = new AbortController().signal;
  const run = () =>
    instantClient.chat({ model: 'gpt-4o-mini', messages: [], maxTokens: 16 }, { signal });
  const limiter = new Bottleneck({ maxConcurrent: CONCURRENCY });
  // Every contender starts from a collected heap: no one pays for the previous one's garbage.
  heapUsed();
  const t0 = performance.now();
  const all: Promise<unknown>[] = [];
  // Bottleneck's priorities are 0 (highest) to 9.
  for (let i = 0; i < BOTTLENECK_TASKS; i++) {
    all.push(limiter.schedule({ priority: 3 - (i % 4) }, run));
  }
  await Promise.all(all);
  const tasksPerSecond = BOTTLENECK_TASKS / ((performance.now() - t0) / 1000);
  await limiter.stop({ dropWaitingJobs: true });

  const before = heapUsed();
  const waiting = new Bottleneck({ maxConcurrent: 1 });
  // Hold admission: a job that never ends occupies the only slot.
  void waiting.schedule(() => new Promise(() => undefined));
  const times = new Float64Array(TASKS);
  const held: Promise<unknown>[] = [];
  const s0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    held.push(waiting.schedule({ priority: 3 - (i % 4) }, run).catch(() => undefined));
    times[i] = performance.now() - s0;
  }
  await new Promise((r) => setTimeout(r, 50));
  const bytesPerWaiting = (heapUsed() - before) / TASKS;
  // Not awaited: stop() waits for the job that never ends.
  waiting.stop({ dropWaitingJobs: true }).catch(() => undefined);
  return {
    tasksPerSecond,
    bytesPerWaiting,
    enqueueUsAt1k: window100(times, 1000),
    enqueueUsAt100k: window100(times, TASKS),
  };
}

/**
 * BullMQ keeps its jobs in Redis and runs a few thousand jobs a second here, so its throughput is
 * measured on `BULLMQ_TASKS`; its enqueue figures use the full `TASKS`. Its memory figure is
 * Redis's, not this process's heap: the growth of `used_memory` (`INFO memory`) with `TASKS` jobs
 * waiting and no worker, divided by `TASKS`.
 */
const BULLMQ_TASKS = Math.min(TASKS, Number(args.get('bullmq-tasks') ?? 10_000));
const redisAt = (args.get('redis') ?? '127.0.0.1:6379').split(':');
const REDIS = { host: redisAt[0] || '127.0.0.1', port: Number(redisAt[1] ?? 6379) };

/** A client that fails at once instead of retrying: for the probe and `INFO memory`. */
async function connectRedis(): Promise<Redis> {
  const client = new Redis({
    ...REDIS,
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the cause comes as an 'error' event.
  let cause: unknown;
  client.on('error', (error: unknown) => {
    cause = error;
  });
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    throw cause ?? error;
  }
}

/** Why BullMQ cannot run (Redis not answering), or undefined when it can. */
async function redisUnavailable(): Promise<string | undefined> {
  try {
    await (await connectRedis()).quit();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function redisUsedMemory(client: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1] ?? Number.NaN);
}

async function benchBullMQ(): Promise<Figures> {
  const signal = new AbortController().signal;
  const run = () =>
    instantClient.chat({ model: 'gpt-4o-mini', messages: [], maxTokens: 16 }, { signal });
  // BullMQ's priorities run from 1 (highest) up; 0 would mean none, served before all of them.
  const priority = (i: number) => 4 - (i % 4);

  // Throughput: a worker in this process, keeping 1,000 finished jobs as the engine does.
  const queue = new Queue(`aitq-bench-${randomUUID()}`, { connection: REDIS });
  const worker = new Worker(queue.name, async () => (await run()).content, {
    connection: REDIS,
    concurrency: CONCURRENCY,
    removeOnComplete: { count: 1000 },
  });
  const finished = allCompleted(worker, BULLMQ_TASKS);
  let tasksPerSecond: number;
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    // Every contender starts from a collected heap: no one pays for the previous one's garbage.
    heapUsed();
    const t0 = performance.now();
    for (let i = 0; i < BULLMQ_TASKS; i++) {
      await queue.add('BENCH', { n: i }, { priority: priority(i) });
    }
    await finished;
    tasksPerSecond = BULLMQ_TASKS / ((performance.now() - t0) / 1000);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }

  // Redis memory and enqueue cost, with no worker: every job waits.
  const redis = await connectRedis();
  const waiting = new Queue(`aitq-bench-${randomUUID()}`, { connection: REDIS });
  try {
    await waiting.waitUntilReady();
    const before = await redisUsedMemory(redis);
    const times = new Float64Array(TASKS);
    const s0 = performance.now();
    for (let i = 0; i < TASKS; i++) {
      await waiting.add('BENCH', { n: i }, { priority: priority(i) });
      times[i] = performance.now() - s0;
    }
    const bytesPerWaiting = ((await redisUsedMemory(redis)) - before) / TASKS;
    const count = await waiting.getPrioritizedCount();
    if (count !== TASKS) throw new Error(`expected ${TASKS} waiting, got ${count}`);
    return {
      tasksPerSecond,
      bytesPerWaiting,
      enqueueUsAt1k: window100(times, 1000),
      enqueueUsAt100k: window100(times, TASKS),
    };
  } finally {
    await waiting.obliterate({ force: true });
    await waiting.close();
    await redis.quit();
  }
}

/**
 * Runs every contender once per round, interleaved (engine, manager, p-queue, Bottleneck, BullMQ,
 * then again), so drifting load on a shared machine touches all of them alike; reports each
 * figure's median over the rounds, and the median of the per-round throughput ratios.
 */
async function measureAll(
  contenders: ReadonlyArray<[string, () => Promise<Figures>]>,
): Promise<Array<[string, Figures, number]>> {
  const runs = contenders.map(() => [] as Figures[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, fn]] of contenders.entries()) (runs[i] as Figures[]).push(await fn());
  }
  const ours = runs[0] as Figures[];
  return contenders.map(([name], i) => {
    const mine = runs[i] as Figures[];
    const pick = (k: keyof Figures) => median(mine.map((r) => r[k]));
    const ratio = median(
      mine.map((r, round) => (ours[round] as Figures).tasksPerSecond / r.tasksPerSecond),
    );
    return [
      name,
      {
        tasksPerSecond: pick('tasksPerSecond'),
        bytesPerWaiting: pick('bytesPerWaiting'),
        enqueueUsAt1k: pick('enqueueUsAt1k'),
        enqueueUsAt100k: pick('enqueueUsAt100k'),
      },
      ratio,
    ];
  });
}

const BULLMQ_ROW = `bullmq 6 (throughput on ${BULLMQ_TASKS}; memory in Redis, not heap)`;
const redisDown = await redisUnavailable();
if (redisDown !== undefined) {
  console.log(`BullMQ skipped: Redis at ${REDIS.host}:${REDIS.port} not answering (${redisDown})`);
}
const contenders: Array<[string, () => Promise<Figures>]> = [
  ['ai-task-queue (Engine)', benchEngine],
  ['ai-task-queue (AITaskManager)', benchManager],
  ['p-queue 9', benchPQueue],
  [`bottleneck 2 (throughput on ${BOTTLENECK_TASKS})`, benchBottleneck],
];
if (redisDown === undefined) contenders.push([BULLMQ_ROW, benchBullMQ]);
const results = await measureAll(contenders);
console.log(
  `node ${process.version}, ${TASKS} tasks, concurrency ${CONCURRENCY}, priorities mixed, median of ${ROUNDS}`,
);
console.log(
  '| queue | tasks/s | Engine ÷ it | heap per waiting task | enqueue µs/task at 1k | at 100k | growth |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, f, ratio] of results) {
  console.log(
    `| ${name} | ${Math.round(f.tasksPerSecond).toLocaleString('en-US')} | ${ratio.toFixed(2)} | ${Math.round(f.bytesPerWaiting)} B${name === BULLMQ_ROW ? ' (Redis)' : ''} | ${f.enqueueUsAt1k.toFixed(2)} | ${f.enqueueUsAt100k.toFixed(2)} | ${(f.enqueueUsAt100k / f.enqueueUsAt1k).toFixed(2)}× |`,
  );
}
// Bottleneck keeps a timer alive for the job that never ends.
process.exit(0);
