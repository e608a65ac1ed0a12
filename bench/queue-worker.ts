/**
 * One worker process of `shared-queue.bench.ts`: `ours` (a manager given `openSharedQueue`, with
 * `openSharedLimits` and a token window when `--tokens` is given) or `bullmq` (a plain BullMQ
 * worker). The work of a task is the same for both: wait `latency` ms (a call that answers then).
 * Prints `ready` once it takes tasks; stops on SIGTERM.
 *
 * argv: <ours|bullmq> <prefix> <latency ms> <concurrency> [<tokens per minute>]
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type AIClient, createAITaskManager } from '../src/index.js';
import { openSharedLimits, openSharedQueue } from '../src/redis/index.js';
import { payloadType } from './fixtures.js';

const [mode, prefix, latencyText, concurrencyText, tokensText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const URL = 'redis://127.0.0.1:6379';
const latency = Number(latencyText);
const concurrency = Number(concurrencyText);
const wait = () =>
  latency === 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, latency));

const client: AIClient = {
  chat: async (request) => {
    await wait();
    return {
      content: 'ok',
      finishReason: 'stop',
      model: request.model,
      usage: { promptTokens: 10, completionTokens: 2, totalTokens: 12 },
    };
  },
  embed: async (request) => ({ vectors: [], model: request.model }),
};

let stop: () => Promise<void>;
if (mode === 'ours') {
  const queue = await openSharedQueue({ url: URL, prefix });
  const sharedLimits =
    tokensText === undefined ? undefined : await openSharedLimits({ url: URL, prefix });
  const manager = await createAITaskManager({
    aiClient: client,
    taskTypes: [payloadType],
    builtinTaskTypes: false,
    maxConcurrent: concurrency,
    sharedQueue: queue,
    ...(sharedLimits === undefined
      ? {}
      : { sharedLimits, windows: [{ tokens: Number(tokensText), windowMs: 60_000 }] }),
  });
  stop = async () => {
    await manager.stop();
    await queue.close();
    await sharedLimits?.close();
  };
} else {
  const connection = new Redis(URL, { maxRetriesPerRequest: null });
  const worker = new Worker(
    'tasks',
    async () => {
      await wait();
      return 'ok';
    },
    { connection, prefix, concurrency },
  );
  await worker.waitUntilReady();
  stop = async () => {
    await worker.close();
    connection.disconnect();
  };
}
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void stop().then(() => process.exit(0));
});
