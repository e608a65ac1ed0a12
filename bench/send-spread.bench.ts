/**
 * How long after the queue stamps a request does the server count it? The spread between the
 * moment a call is made (what admission-time stamps used), the moment the OpenAI adapter hands
 * it to `fetch` (its first `CallOptions.onSend`), the moment Node's `fetch` writes it to the
 * socket (its second, what the windows count from) and the moment a loopback server sees the
 * request arrive. It decides `windowMarginMs` (docs/limits.md, "Margin").
 *
 * ```bash
 * npm run bench:spread -- [--requests 500] [--concurrency 50]
 * ```
 *
 * The server runs on a worker thread (its own event loop, as a real server has); both threads
 * stamp with `performance.timeOrigin + performance.now()`. A fresh client's first call is
 * reported apart (the SDK's first request, a new connection); then one round at the concurrency
 * given opens the connections, and the next round is the steady state.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { OpenAICompatibleClient } from '../src/providers/openai.js';
import { parseArgs } from './fixtures.js';

/** Milliseconds on a clock both threads share: the wall time at start plus the elapsed time. */
const stamp = (): number => performance.timeOrigin + performance.now();

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

/** The server's thread: stamps each request when it arrives and reports it. */
function serve(): void {
  const server = createServer((req, res) => {
    parentPort?.postMessage({ id: String(req.headers['x-aitq-task-id']), at: stamp() });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(COMPLETION);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    parentPort?.postMessage({ port: (server.address() as AddressInfo).port });
  });
  parentPort?.on('message', () => server.close(() => process.exit(0)));
}

interface Sample {
  id: string;
  called: number;
  /** The adapter's first `onSend`: the hand-off to `fetch`. */
  handedOff: number;
  /** Its last: the write to the socket, with Node's `fetch`. */
  sent: number;
}

function quantiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const f = (v: number | undefined) => (v ?? Number.NaN).toFixed(2);
  return `p50 ${f(at(0.5))} · p99 ${f(at(0.99))} · max ${f(sorted[sorted.length - 1])} ms`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const requests = Number(args.get('requests') ?? 500);
  const concurrency = Number(args.get('concurrency') ?? 50);
  const worker = new Worker(new URL(import.meta.url));
  const arrivals = new Map<string, number>();
  const port = await new Promise<number>((resolve) => {
    worker.on('message', (m: { port?: number; id?: string; at?: number }) => {
      if (m.port !== undefined) resolve(m.port);
      else arrivals.set(m.id as string, m.at as number);
    });
  });
  const client = new OpenAICompatibleClient({
    apiKey: 'sk-bench',
    baseURL: `http://127.0.0.1:${port}/v1`,
  });
  const call = async (id: string): Promise<Sample> => {
    const sample: Sample = { id, called: stamp(), handedOff: Number.NaN, sent: Number.NaN };
    await client.chat(
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 },
      {
        signal: new AbortController().signal,
        taskId: id,
        onSend: () => {
          sample.sent = stamp();
          if (Number.isNaN(sample.handedOff)) sample.handedOff = sample.sent;
        },
      },
    );
    return sample;
  };
  const round = async (name: string): Promise<Sample[]> => {
    const samples: Sample[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) samples.push(await call(`${name}${next++}`));
      }),
    );
    return samples;
  };
  const first = await call('first');
  await round('warm');
  const steady = await round('steady');
  // Let the last arrival messages come in.
  await new Promise((resolve) => setTimeout(resolve, 100));
  worker.postMessage('stop');
  const arrival = (s: Sample) => arrivals.get(s.id) as number;
  console.log(
    `loopback, server on a worker thread, ${requests} requests at concurrency ${concurrency} (Node ${process.version})`,
  );
  console.log(
    `a fresh client's first call: call → arrival ${(arrival(first) - first.called).toFixed(2)} ms, hand-off → arrival ${(arrival(first) - first.handedOff).toFixed(2)} ms, write → arrival ${(arrival(first) - first.sent).toFixed(2)} ms`,
  );
  console.log(`steady, call → arrival: ${quantiles(steady.map((s) => arrival(s) - s.called))}`);
  console.log(
    `steady, hand-off → arrival: ${quantiles(steady.map((s) => arrival(s) - s.handedOff))}`,
  );
  console.log(`steady, write → arrival: ${quantiles(steady.map((s) => arrival(s) - s.sent))}`);
}

if (isMainThread) await main();
else serve();
