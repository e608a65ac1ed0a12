import type { Worker } from 'bullmq';
import { z } from 'zod';
import type { AIClient } from '../src/providers/types.js';
import type { Engine } from '../src/runtime/engine.js';
import type { TaskTypeDefinition } from '../src/task-types/types.js';

/** The four priorities, mixed as `PRIORITIES[i % 4]` in every benchmark. */
export const PRIORITIES = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;

/** Answers at once, with usage: the queue's own overhead is all that is measured. */
export const instantClient: AIClient = {
  chat: async (request) => ({
    content: 'ok',
    finishReason: 'stop',
    model: request.model,
    usage: { promptTokens: 10, completionTokens: 2, totalTokens: 12 },
  }),
  embed: async (request) => ({ vectors: [], model: request.model }),
};

/** One chat call per task, validated input and output. */
export const benchType: TaskTypeDefinition<{ n: number }, string> = {
  name: 'BENCH',
  input: z.object({ n: z.number() }),
  output: z.string(),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 10, maxTokens: 16 }),
  run: async (ctx) => (await ctx.chat({ messages: [{ role: 'user', content: 'x' }] })).content,
};

/** A custom task type with the payload `{ i }`: one chat call, its content as the result. */
export const payloadType: TaskTypeDefinition<{ i: number }, string> = {
  name: 'PAYLOAD',
  input: z.object({ i: z.number() }),
  output: z.string(),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 10, maxTokens: 16 }),
  run: async (ctx) => (await ctx.chat({ messages: [{ role: 'user', content: 'x' }] })).content,
};

/**
 * Holds the process open until the returned function is called. The engine's own timers (wake-ups,
 * the admission's yields to the event loop) never keep a process alive on their own; the manager
 * holds it while there is work, and a benchmark that drives the engine directly does it here.
 */
export function holdProcessOpen(): () => void {
  const timer = setInterval(() => undefined, 2 ** 30);
  return () => clearInterval(timer);
}

/** `--name value` pairs of the command line. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    args.set(String(argv[i]).replace(/^--/, ''), String(argv[i + 1]));
  }
  return args;
}

/** The median of a list (the upper one of the middle two for an even count; NaN when empty). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * A started engine as every benchmark runs it: `concurrency` slots, room for `tasks` waiting,
 * the zero-latency client, and 1,000 finished tasks kept, as a long batch job would run it
 * (p-queue and Bottleneck keep no finished jobs either).
 */
export function startBenchEngine(
  EngineClass: typeof Engine,
  tasks: number,
  concurrency: number,
): Engine {
  const engine = new EngineClass(
    {
      maxConcurrent: concurrency,
      maxQueueSize: tasks * 2,
      model: 'gpt-4o-mini',
      keepCompleted: { count: 1000 },
    },
    { client: instantClient, taskTypes: [benchType] },
  );
  engine.start();
  return engine;
}

/**
 * Resolves when a BullMQ worker has completed `count` jobs; rejects on the first failed job or
 * worker error. Attach it before adding jobs.
 */
export function allCompleted(worker: Worker, count: number): Promise<void> {
  let completed = 0;
  return new Promise<void>((resolve, reject) => {
    worker.on('completed', () => {
      if (++completed === count) resolve();
    });
    worker.on('failed', (_job, error) => reject(error));
    worker.on('error', reject);
  });
}
