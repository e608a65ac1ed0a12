/**
 * What the tests that use Redis share: fresh key prefixes on the Redis at 127.0.0.1:6379 and
 * their removal, a redis-server of a test's own on a spare port, and a client whose answer is
 * always the same shape.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { ChatRequest, ChatResponse } from '../../src/providers/types.js';

/** The Redis that runs on the development and CI machines. */
export const REDIS_URL = 'redis://127.0.0.1:6379';

let prefixCount = 0;

/** A key prefix no other test (or run) uses. */
export function freshPrefix(what = 'test'): string {
  prefixCount += 1;
  return `aitq-test:${what}:${process.pid}:${Date.now().toString(36)}:${prefixCount}`;
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A TCP port nothing listens on (taken from the OS, then let go). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once a Redis answers at `url` (a few seconds at most). */
export async function waitForRedis(url: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      probe.disconnect();
      return;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A redis-server of a test's own, on a spare port, started with `args` (after its port). */
export class SpareRedis {
  readonly url: string;
  private child: ChildProcess;

  private constructor(
    private readonly args: readonly string[],
    port: number,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
    this.child = this.spawn();
  }

  /** Starts one and waits until it answers. */
  static async start(args: readonly string[]): Promise<SpareRedis> {
    const port = await freePort();
    const spare = new SpareRedis(
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...args],
      port,
    );
    await waitForRedis(spare.url);
    return spare;
  }

  /** One that writes every command to its append-only file in `dir` before answering. */
  static withAof(dir: string): Promise<SpareRedis> {
    return SpareRedis.start(['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always']);
  }

  /** Kills it (SIGKILL) and starts it again with the same arguments, on the same files. */
  async restart(): Promise<void> {
    await this.stop();
    this.child = this.spawn();
    await waitForRedis(this.url);
  }

  /** Kills it (SIGKILL). */
  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  private spawn(): ChildProcess {
    return spawn('redis-server', [...this.args], { stdio: 'ignore' });
  }
}

/** The answer of a test client: `answer to <prompt>`, 10 prompt and 5 completion tokens. */
export function answerOf(request: ChatRequest): ChatResponse {
  return {
    content: `answer to ${String(request.messages[0]?.content)}`,
    finishReason: 'stop',
    model: request.model,
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
  };
}
