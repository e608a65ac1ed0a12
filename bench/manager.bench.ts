/**
 * The manager as p-queue users call `add`: `submitTask` not awaited, 100,000 zero-latency tasks
 * of a custom type with payload `{ i }`, four priorities, concurrency 100, `keepCompleted:
 * { count: 1000 }`, `maxQueueSize` above the task count; side by side with p-queue 9, rounds
 * alternating, each from a collected heap. Then heap per waiting task with that payload (a
 * paused manager; a p-queue that does not start). Run with `npm run bench:manager`. Options:
 * `--tasks N` (default 100,000), `--rounds N` (default 5; medians are reported).
 */
import PQueue from 'p-queue';
import { AITaskManager } from '../src/manager.js';
import { instantClient, median, PRIORITIES, parseArgs, payloadType } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 100_000);
const ROUNDS = Number(args.get('rounds') ?? 5);
const CONCURRENCY = 100;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc (npm run bench:manager does)');
  process.exit(2);
}

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function createManager(): AITaskManager {
  return new AITaskManager({
    aiClient: instantClient,
    taskTypes: [payloadType],
    builtinTaskTypes: false,
    maxConcurrent: CONCURRENCY,
    maxQueueSize: TASKS + 1,
    keepCompleted: { count: 1000 },
  });
}

async function managerRate(): Promise<number> {
  const manager = createManager();
  await manager.start();
  heapUsed();
  const t0 = performance.now();
  const accepted: Promise<string>[] = [];
  for (let i = 0; i < TASKS; i++) {
    accepted.push(
      manager.submitTask({ taskType: 'PAYLOAD', data: { i }, priority: PRIORITIES[i % 4] }),
    );
  }
  await Promise.all(accepted);
  await manager.onIdle();
  const rate = TASKS / ((performance.now() - t0) / 1000);
  if ((await manager.getStatistics()).performance.totalSucceeded !== TASKS) {
    throw new Error('not every task completed');
  }
  await manager.stop();
  return rate;
}

/** Adds `TASKS` jobs with payload `{ i }` to `queue`, each one zero-latency chat call. */
function addAll(queue: PQueue): void {
  const signal = new AbortController().signal;
  for (let i = 0; i < TASKS; i++) {
    const payload = { i };
    void queue.add(
      () =>
        instantClient.chat(
          {
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: `${payload.i}` }],
            maxTokens: 16,
          },
          { signal },
        ),
      { priority: i % 4 },
    );
  }
}

async function pQueueRate(): Promise<number> {
  const queue = new PQueue({ concurrency: CONCURRENCY });
  heapUsed();
  const t0 = performance.now();
  addAll(queue);
  await queue.onIdle();
  return TASKS / ((performance.now() - t0) / 1000);
}

async function managerBytesPerWaiting(): Promise<number> {
  const before = heapUsed();
  const manager = createManager();
  manager.pause();
  await manager.start();
  for (let i = 0; i < TASKS; i++) {
    await manager.submitTask({ taskType: 'PAYLOAD', data: { i }, priority: PRIORITIES[i % 4] });
  }
  const bytes = (heapUsed() - before) / TASKS;
  await manager.stop({ force: true });
  return bytes;
}

function pQueueBytesPerWaiting(): number {
  const before = heapUsed();
  const queue = new PQueue({ concurrency: CONCURRENCY, autoStart: false });
  addAll(queue);
  const bytes = (heapUsed() - before) / TASKS;
  queue.clear();
  return bytes;
}

const manager: number[] = [];
const pqueue: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const m = await managerRate();
  const p = await pQueueRate();
  manager.push(m);
  pqueue.push(p);
  ratios.push(m / p);
}
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
console.log(
  `node ${process.version}, ${TASKS.toLocaleString('en-US')} tasks, concurrency ${CONCURRENCY}, submitTask not awaited, ${ROUNDS} rounds`,
);
console.log(`manager tasks/s: ${manager.map(k).join(' ')}; median ${k(median(manager))}`);
console.log(`p-queue tasks/s: ${pqueue.map(k).join(' ')}; median ${k(median(pqueue))}`);
console.log(
  `manager ÷ p-queue per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}`,
);
const mb = await managerBytesPerWaiting();
const pb = pQueueBytesPerWaiting();
console.log(
  `heap per waiting task with payload { i }: manager ${Math.round(mb)} B, p-queue ${Math.round(pb)} B`,
);
