/**
 * Limits as the server counts them: the queue, p-queue and Bottleneck send the same tasks to the
 * simulator, configured with the same limit as each of them, and the simulator stamps every
 * request when it arrives. Reported per library: the most requests (or tokens) that arrived in
 * any span of the window, the answers of 429, and the makespan against the least the window
 * allows. The makespan runs from the first request's arrival to the last task's end (before
 * the library's stop). The least the window allows is counted from the first request too, for
 * the N requests answered (a peer that does not retry loses its 429s), in the order they
 * arrived: the schedule that starts each call as early as the window and the concurrency let it
 * (see `leastInOrder`): `floor((N − 1) / R) · W` plus a call's 50 ms for a request window whose
 * calls fit in one round of the concurrency, more when they do not. What came before it (the queue's
 * manager, its tokenizer's first load, its submission; the peers' client) is printed beside
 * it as the set-up.
 *
 * ```bash
 * npm run bench:limits -- [--tasks 2000] [--concurrency 50] [--rpw 50] [--tpw 20000] [--window 1000] [--margin ms] [--hints-rpw 40] [--only name,…] [--libraries name,…] [--dump dir]
 * ```
 *
 * - `requests`: at most `--rpw` requests per `--window` ms. The queue uses a window
 *   (`windows: [{ requests, windowMs }]`), p-queue its `intervalCap` / `interval`, Bottleneck
 *   its reservoir refreshed every window.
 * - `tokens`: at most `--tpw` tokens (prompt + `max_tokens`, as the simulator counts them) per
 *   window, prompts of 20 to 400 words. The queue uses a token window; Bottleneck a reservoir of
 *   tokens with each job weighted by its tokens (counted by the queue's tokenizer); p-queue has
 *   no weights, so it sits this one out.
 * - `mixed`: both windows at once on the server and on the queue (only the queue: neither peer
 *   limits requests and tokens together).
 * - `hints`: nothing configured on the queue; the server allows `--hints-rpw` requests per window
 *   and says so in its `x-ratelimit-*` headers, which the queue learns from (p-queue beside it,
 *   with its concurrency only, shows what no limit gives). Issue 15's target: at most
 *   concurrency − limit answers of 429, all in the first window.
 * `--only requests,hints` runs some of the workloads, `--libraries ai-task-queue,p-queue` some of
 * the libraries; `--dump dir` writes each run's arrivals (`limits-<workload>-<library>.json`).
 *
 * The simulator runs on a worker thread (its own event loop, as a real server has), answering
 * after 50 ms, with its tokenizer loaded and its code warmed by 200 calls before the first run (a
 * provider is warm; otherwise the first library's first answers would wait ~300 ms for the
 * load, and its first burst be stamped up to ~140 ms late); the main thread is warmed the same
 * way, by 200 calls through the queue (and so the SDK and Node's `fetch` the peers use too)
 * before anything is measured. Both threads stamp with
 * `performance.timeOrigin + performance.now()`. The queue
 * retries its 429s (there should be none); p-queue and Bottleneck do not (a 429 is counted).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Bottleneck from 'bottleneck';
import OpenAI from 'openai';
import PQueue from 'p-queue';
import { z } from 'zod';
import { AITaskManager } from '../src/index.js';
import { countChatTokens, preloadEncoding } from '../src/limits/tokens.js';
import { type Simulator, startSimulator } from '../src/providers/simulator/index.js';
import type { TaskTypeDefinition } from '../src/task-types/types.js';
import { seededRandom } from '../src/time/clock.js';
import { parseArgs } from './fixtures.js';

const stamp = (): number => performance.timeOrigin + performance.now();
const MAX_TOKENS = 100;
/** Calls of the main thread's warm-up round, before anything is measured. */
const WARM_CALLS = 200;
/** How long the simulator takes to answer. */
const LATENCY_MS = 50;
const MODEL = 'gpt-4o-mini';

interface Limits {
  requests?: number;
  tokens?: number;
  windowMs: number;
}

interface Arrival {
  at: number;
  status: number;
  tokens: number;
}

/** The simulator's thread: serves until told to stop, hands out its log on request. */
async function serve(limits: Limits): Promise<void> {
  // The simulator bills with the tokenizer: loaded now, not on the first library's first call.
  preloadEncoding(MODEL);
  await warmUp();
  let sim: Simulator = await startSimulator({
    limits,
    latency: { kind: 'fixed', ms: LATENCY_MS },
    logLimit: 1_000_000,
    now: stamp,
  });
  parentPort?.postMessage({ url: sim.url });
  parentPort?.on('message', async (m: { type: 'log' | 'reset' | 'stop'; limits?: Limits }) => {
    if (m.type === 'log') {
      const log: Arrival[] = sim.stats().log.map((e) => ({
        at: e.at,
        status: e.status,
        tokens: e.promptTokens + (e.maxTokens ?? 0),
      }));
      parentPort?.postMessage({ log });
    } else if (m.type === 'reset') {
      await sim.close();
      sim = await startSimulator({
        limits: m.limits as Limits,
        latency: { kind: 'fixed', ms: LATENCY_MS },
        logLimit: 1_000_000,
        now: stamp,
      });
      parentPort?.postMessage({ url: sim.url });
    } else {
      await sim.close();
      process.exit(0);
    }
  });
}

/**
 * Serves bursts of calls from a throwaway simulator on this thread, so the first library
 * measured meets a server whose code is compiled, as a provider's is: cold, the simulator
 * stamped a first burst's arrivals up to ~140 ms after the requests were written, and a burst
 * one window later then met those still counted.
 */
async function warmUp(): Promise<void> {
  const warm = await startSimulator({ latency: { kind: 'fixed', ms: 1 }, now: stamp });
  const client = new OpenAI({ apiKey: 'sk-warm', baseURL: warm.url, maxRetries: 0 });
  for (let round = 0; round < 4; round++) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: promptOf(20 + i * 7, i) }],
          max_tokens: MAX_TOKENS,
        }),
      ),
    );
  }
  await warm.close();
}

/** A prompt of `words` words. */
function promptOf(words: number, i: number): string {
  return Array.from({ length: words }, (_, k) => `word${(i * 31 + k) % 997}`).join(' ');
}

/**
 * The least makespan of calls of `tokens` each, sent in this order, each taking
 * {@link LATENCY_MS}: every call starts as early as the window (`requests` and `tokens` in any
 * span of `windowMs`, counted as the simulator counts) and `concurrency` allow, and never before
 * the call before it (strict order, as the queue keeps for one model). For a request window whose
 * calls fit in one round of the concurrency this is issue 15's `floor((N − 1) / R) · W + d`
 * (more when they need several rounds: 500 calls at concurrency 50 take 10); for a token window
 * it is more than
 * `(ceil(T / R) − 1) · W + d`, since a window's last tokens stay unused when the next call does
 * not fit in them.
 */
function leastInOrder(tokens: readonly number[], limits: Limits, concurrency: number): number {
  const starts: number[] = [];
  let oldest = 0;
  let inWindow = 0;
  let start = 0;
  for (let k = 0; k < tokens.length; k++) {
    const need = tokens[k] ?? 0;
    if (k >= concurrency) start = Math.max(start, (starts[k - concurrency] ?? 0) + LATENCY_MS);
    for (;;) {
      while (oldest < k && (starts[oldest] ?? 0) + limits.windowMs <= start) {
        inWindow -= tokens[oldest] ?? 0;
        oldest++;
      }
      const overRequests = limits.requests !== undefined && k - oldest + 1 > limits.requests;
      const overTokens = limits.tokens !== undefined && inWindow + need > limits.tokens;
      if (!(overRequests || overTokens) || oldest === k) break;
      start = (starts[oldest] ?? 0) + limits.windowMs;
    }
    starts.push(start);
    inWindow += need;
  }
  return starts.length === 0 ? 0 : (starts[starts.length - 1] ?? 0) + LATENCY_MS;
}

/** The most arrivals (or their tokens) in any span `[t, t + windowMs)`. */
function mostInWindow(
  arrivals: readonly Arrival[],
  windowMs: number,
  weigh: (a: Arrival) => number,
) {
  const sorted = [...arrivals].sort((a, b) => a.at - b.at);
  let most = 0;
  let sum = 0;
  let first = 0;
  for (const a of sorted) {
    sum += weigh(a);
    while ((sorted[first] as Arrival).at <= a.at - windowMs)
      sum -= weigh(sorted[first++] as Arrival);
    most = Math.max(most, sum);
  }
  return most;
}

const promptType: TaskTypeDefinition<{ prompt: string }, string> = {
  name: 'PROMPT',
  input: z.object({ prompt: z.string() }),
  output: z.string(),
  estimate: (data, env) => ({
    model: env.model,
    promptTokens: countChatTokens([{ role: 'user', content: data.prompt }], env.model),
    maxTokens: MAX_TOKENS,
  }),
  run: async (ctx) =>
    (await ctx.chat({ messages: [{ role: 'user', content: ctx.data.prompt }] })).content,
};

type Library = 'ai-task-queue' | 'p-queue' | 'bottleneck';

/** Runs every prompt through the queue; resolves with the time the last task ended. */
async function runQueue(
  url: string,
  prompts: string[],
  limits: Limits | undefined,
  concurrency: number,
  marginMs: number | undefined,
): Promise<number> {
  const manager = new AITaskManager({
    ...(marginMs === undefined ? {} : { windowMarginMs: marginMs }),
    apiKey: 'sk-bench',
    baseURL: url,
    model: MODEL,
    maxTokens: MAX_TOKENS,
    maxConcurrent: concurrency,
    windows: limits === undefined ? [] : [limits],
    taskTypes: [promptType],
    builtinTaskTypes: false,
    taskDefaults: { maxRateLimitRetries: 100 },
  });
  await manager.start();
  const ids = await manager.submitBatch(
    prompts.map((prompt) => ({ taskType: 'PROMPT', data: { prompt } })),
  );
  await Promise.all(ids.map((id) => manager.waitForTask(id)));
  const done = stamp();
  await manager.stop();
  return done;
}

/** Runs every prompt through p-queue or Bottleneck; resolves with the time the last call ended. */
async function runPeer(
  library: 'p-queue' | 'bottleneck',
  url: string,
  prompts: string[],
  limits: Limits | undefined,
  concurrency: number,
): Promise<number> {
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL: url, maxRetries: 0 });
  const call = (prompt: string) =>
    client.chat.completions
      .create({
        model: MODEL,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: MAX_TOKENS,
      })
      .catch(() => undefined);
  if (library === 'p-queue') {
    const queue = new PQueue(
      limits === undefined
        ? { concurrency }
        : { concurrency, intervalCap: limits.requests as number, interval: limits.windowMs },
    );
    await Promise.all(prompts.map((p) => queue.add(() => call(p))));
    return stamp();
  }
  if (limits === undefined) throw new Error('Bottleneck runs with a limit only');
  const reservoir = (limits.requests ?? limits.tokens) as number;
  const weighted = limits.tokens !== undefined;
  // Bottleneck counts a job's weight against maxConcurrent too: with token weights the
  // concurrency is kept by a semaphore around the call instead.
  const limiter = new Bottleneck({
    maxConcurrent: weighted ? null : concurrency,
    reservoir,
    reservoirRefreshAmount: reservoir,
    reservoirRefreshInterval: limits.windowMs,
  });
  const slots = semaphore(concurrency);
  await Promise.all(
    prompts.map((p) => {
      if (!weighted) return limiter.schedule(() => call(p));
      const weight = countChatTokens([{ role: 'user', content: p }], MODEL) + MAX_TOKENS;
      return limiter.schedule({ weight }, () => slots(() => call(p)));
    }),
  );
  const done = stamp();
  await limiter.stop({ dropWaitingJobs: false });
  return done;
}

/** At most `n` of the functions given run at once. */
function semaphore(n: number): <T>(run: () => Promise<T>) => Promise<T> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (run) => {
    if (free === 0) await new Promise<void>((resolve) => waiting.push(resolve));
    else free--;
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next === undefined) free++;
      else next();
    }
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tasks = Number(args.get('tasks') ?? 2_000);
  const concurrency = Number(args.get('concurrency') ?? 50);
  const windowMs = Number(args.get('window') ?? 1_000);
  const rpw = Number(args.get('rpw') ?? 50);
  const tpw = Number(args.get('tpw') ?? 20_000);
  const margin = args.has('margin') ? Number(args.get('margin')) : undefined;
  const hintsRpw = Number(args.get('hints-rpw') ?? 40);
  const only = args.get('only')?.split(',');
  const libraries = args.get('libraries')?.split(',');
  const known: readonly Library[] = ['ai-task-queue', 'p-queue', 'bottleneck'];
  for (const name of libraries ?? []) {
    if (!(known as readonly string[]).includes(name)) {
      console.error(`--libraries: unknown library '${name}' (known: ${known.join(', ')})`);
      process.exit(2);
    }
  }
  const dump = args.get('dump');
  if (dump !== undefined) mkdirSync(dump, { recursive: true });
  const random = seededRandom(15);
  const prompts = Array.from({ length: tasks }, (_, i) =>
    promptOf(20 + Math.floor(random() * 380), i),
  );
  const workloads = (
    [
      {
        name: 'requests',
        limits: { requests: rpw, windowMs },
        libraries: ['ai-task-queue', 'p-queue', 'bottleneck'],
      },
      {
        name: 'tokens',
        limits: { tokens: tpw, windowMs },
        libraries: ['ai-task-queue', 'bottleneck'],
      },
      {
        name: 'mixed',
        limits: { requests: rpw, tokens: tpw, windowMs },
        libraries: ['ai-task-queue'],
      },
      {
        name: 'hints',
        limits: { requests: hintsRpw, windowMs },
        configured: false,
        libraries: ['ai-task-queue', 'p-queue'],
      },
    ] as { name: string; limits: Limits; configured?: boolean; libraries: Library[] }[]
  ).filter((w) => only === undefined || only.includes(w.name));
  const worker = new Worker(new URL(import.meta.url), { workerData: workloads[0]?.limits });
  const next = <T>(): Promise<T> =>
    new Promise((resolve) => worker.once('message', (m: T) => resolve(m)));
  let { url } = await next<{ url: string }>();
  // This thread warms too, as any benchmark's warm-up round: 200 calls through the queue (and so
  // through the SDK and Node's fetch the peers use) against an unlimited simulator. A cold
  // process prepared the first library's first window at ~2.3 ms a call instead of ~0.9.
  worker.postMessage({ type: 'reset', limits: { requests: 1_000_000, windowMs } });
  ({ url } = await next<{ url: string }>());
  await runQueue(url, prompts.slice(0, WARM_CALLS), undefined, concurrency, margin);
  console.log(
    `${tasks} tasks, concurrency ${concurrency}, simulator on a worker thread answering after ${LATENCY_MS} ms (Node ${process.version})`,
  );
  for (const workload of workloads) {
    const { limits } = workload;
    const configured = workload.configured === false ? undefined : limits;
    const units = (['requests', 'tokens'] as const).filter((u) => limits[u] !== undefined);
    console.log(
      `\n${workload.name}: at most ${units.map((u) => `${limits[u]} ${u}`).join(' and ')} per ${windowMs} ms${configured === undefined ? ' (the queue is told nothing: it learns from the headers)' : ''}`,
    );
    for (const library of workload.libraries) {
      if (libraries !== undefined && !libraries.includes(library)) continue;
      worker.postMessage({ type: 'reset', limits });
      ({ url } = await next<{ url: string }>());
      const started = stamp();
      // The end is the last task's end, before the library's stop (which the least leaves out).
      const ended =
        library === 'ai-task-queue'
          ? await runQueue(url, prompts, configured, concurrency, margin)
          : await runPeer(library, url, prompts, configured, concurrency);
      worker.postMessage({ type: 'log' });
      const { log } = await next<{ log: Arrival[] }>();
      if (dump !== undefined) {
        writeFileSync(
          join(dump, `limits-${workload.name}-${library}.json`),
          JSON.stringify({ started, ended, log }),
        );
      }
      const refusals = log.filter((a) => a.status === 429);
      const accepted = log.filter((a) => a.status === 200);
      // The least for what was answered: a library that does not retry loses its 429s, and the
      // window needs less time for fewer requests.
      const least = leastInOrder(
        accepted.sort((a, b) => a.at - b.at).map((a) => a.tokens),
        limits,
        concurrency,
      );
      const most = units
        .map((u) => {
          const n = mostInWindow(log, windowMs, u === 'requests' ? () => 1 : (a) => a.tokens);
          return `${String(n).padStart(6)} ${u} (${(n / (limits[u] as number)).toFixed(2)}×)`;
        })
        .join(', ');
      // When the 429s came, from the first request: the hints workload allows them in the first
      // window only.
      let first = Number.POSITIVE_INFINITY;
      for (const arrival of log) first = Math.min(first, arrival.at);
      if (log.length === 0) first = ended;
      const makespan = ended - first;
      const setUp = first - started;
      const lastRefusal =
        refusals.length === 0
          ? ''
          : ` (the last at ${((refusals.reduce((m, a) => Math.max(m, a.at), first) - first) / 1000).toFixed(2)} s)`;
      console.log(
        `  ${library.padEnd(14)} most in any window ${most} · 429s ${String(refusals.length).padStart(5)}${lastRefusal} · answered ${accepted.length} · makespan ${(makespan / 1000).toFixed(2)} s (${(makespan / least).toFixed(3)}× the least the window allows, ${(least / 1000).toFixed(2)} s) · set-up ${setUp.toFixed(0)} ms`,
      );
    }
  }
  worker.postMessage({ type: 'stop' });
}

if (isMainThread) await main();
else await serve(workerData as Limits);
