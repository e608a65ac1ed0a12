/**
 * A backlog of 1,000,000 waiting tasks in the SQLite store, through the public API (issue 16):
 *
 * 1. `fill`: a paused manager on a new file takes `--tasks` tasks by `submitBatch` (chunks of
 *    10,000, as a feeder would), then stops: the peak RSS of that process.
 * 2. `resume`: a new process opens the same file and starts the manager: the time until the
 *    first task is admitted (`task.started`), the time `start()` took, and the peak RSS. It then
 *    lets `--drain` tasks run (a client that answers at once) to show the backlog moving.
 *
 * Each phase runs in its own child process, so each peak RSS is that phase's alone. Run with
 * `npm run bench:backlog` (options: `--tasks N`, default 1,000,000; `--drain N`, default
 * 20,000). Targets in the issue: peak RSS ≤ 300 MB, first admission within 5 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AITaskManager } from '../src/manager.js';
import { openSqliteStore } from '../src/stores/sqlite/index.js';
import type { TaskTypeDefinition } from '../src/task-types/types.js';
import { parseArgs } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 1_000_000);
const DRAIN = Number(args.get('drain') ?? 20_000);
const CHUNK = 10_000;

/** A task type with a fixed estimate: the bench measures the queue, not a tokenizer. */
const note: TaskTypeDefinition<{ n: number }, string> = {
  name: 'NOTE',
  input: z.object({ n: z.number().int() }),
  output: z.string(),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 20, maxTokens: 10 }),
  run: async (ctx) => (await ctx.chat({ messages: [{ role: 'user', content: 'x' }] })).content,
};

const client = {
  chat: async (request: { model: string }) => ({
    content: 'ok',
    finishReason: 'stop' as const,
    model: request.model,
    usage: { promptTokens: 20, completionTokens: 2, totalTokens: 22 },
  }),
  embed: async () => {
    throw new Error('no embeddings here');
  },
};

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function fill(path: string): Promise<void> {
  const store = openSqliteStore(path);
  const manager = new AITaskManager({ aiClient: client, store, taskTypes: [note] });
  manager.pause();
  await manager.start();
  const started = performance.now();
  for (let from = 0; from < TASKS; from += CHUNK) {
    const size = Math.min(CHUNK, TASKS - from);
    await manager.submitBatch(
      Array.from({ length: size }, (_, i) => ({ taskType: 'NOTE', data: { n: from + i } })),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const queue = await manager.getQueueStatus();
  await manager.stop();
  await store.close();
  process.stdout.write(
    `${JSON.stringify({ phase: 'fill', seconds, waiting: queue.totalSize, peakRssMb: peakRssMb() })}\n`,
  );
}

async function resume(path: string): Promise<void> {
  const opened = performance.now();
  const store = openSqliteStore(path);
  const manager = new AITaskManager({
    aiClient: client,
    store,
    taskTypes: [note],
    maxConcurrent: 50,
  });
  let firstAdmission: number | undefined;
  let done = 0;
  let drained: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => {
    drained = resolve;
  });
  manager.on('task.started', () => {
    firstAdmission ??= performance.now() - opened;
  });
  manager.on('task.completed', () => {
    done++;
    if (done === DRAIN) drained();
  });
  await manager.start();
  const startSeconds = (performance.now() - opened) / 1000;
  const drainStarted = performance.now();
  await enough;
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const queue = await manager.getQueueStatus();
  await manager.stop({ force: true });
  await store.close();
  process.stdout.write(
    `${JSON.stringify({
      phase: 'resume',
      startSeconds,
      firstAdmissionSeconds: (firstAdmission ?? Number.NaN) / 1000,
      drained: DRAIN,
      drainPerSecond: DRAIN / drainSeconds,
      waitingAfter: queue.totalSize,
      peakRssMb: peakRssMb(),
    })}\n`,
  );
}

function child(phase: string, path: string): Record<string, number | string> {
  const run = spawnSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      phase,
      path,
      '--tasks',
      String(TASKS),
      '--drain',
      String(DRAIN),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (run.status !== 0) throw new Error(`${phase} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string);
}

const [phase, path] = process.argv.slice(2);
if (phase === 'fill' && path !== undefined) await fill(path);
else if (phase === 'resume' && path !== undefined) await resume(path);
else {
  const dir = mkdtempSync(join(tmpdir(), 'aitq-backlog-'));
  const file = join(dir, 'backlog.db');
  try {
    console.log(
      `node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${TASKS.toLocaleString('en')} tasks, drain ${DRAIN.toLocaleString('en')}`,
    );
    const filled = child('fill', file);
    console.log(
      `fill:   ${Number(filled.seconds).toFixed(1)} s (${Math.round(TASKS / Number(filled.seconds)).toLocaleString('en')} tasks/s), ` +
        `${filled.waiting} waiting, peak RSS ${Number(filled.peakRssMb).toFixed(0)} MB, file ${(statSync(file).size / 2 ** 20).toFixed(0)} MB`,
    );
    const resumed = child('resume', file);
    console.log(
      `resume: start() ${Number(resumed.startSeconds).toFixed(2)} s, first admission ${Number(resumed.firstAdmissionSeconds).toFixed(2)} s, ` +
        `peak RSS ${Number(resumed.peakRssMb).toFixed(0)} MB; drained ${resumed.drained} at ${Math.round(Number(resumed.drainPerSecond)).toLocaleString('en')} tasks/s, ${resumed.waitingAfter} left`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
