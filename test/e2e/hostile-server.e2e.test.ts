/**
 * End to end over loopback, in real time: the manager with the `OpenAICompatibleClient` it builds
 * from `baseURL`, against a small HTTP server that answers the way hostile or broken servers do
 * (a body with `choices: [null]`, a `retry-after` of 31 years on a 200 and on a 429, fractional
 * usage, a completion 100 times `max_tokens`). Nothing here asserts on timings.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAITaskManager, type EngineEvent, type TaskTypeDefinition } from '../../src/index.js';

const echo: TaskTypeDefinition<{ prompt: string }, string> = {
  name: 'ECHO',
  input: z.object({ prompt: z.string() }),
  output: z.string(),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 20, maxTokens: env.maxTokens }),
  run: async (ctx) =>
    (await ctx.chat({ messages: [{ role: 'user', content: ctx.data.prompt }] })).content,
};

function answer(content: string, usage: Record<string, unknown>): string {
  return JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage,
  });
}

/** What the server answers, by the prompt it is sent (`a0` is task a's first call). */
function respond(
  prompt: string,
  calls: number,
): { status: number; headers: Record<string, string>; body: string } {
  switch (prompt) {
    case 'a':
      // First a body no SDK can read, then a paid answer with a retry-after (ignored on a 200).
      return calls === 1
        ? { status: 200, headers: {}, body: '{"choices":[null]}' }
        : {
            status: 200,
            headers: { 'retry-after': '1000000000' },
            body: answer('fine', {
              prompt_tokens: 50.5,
              completion_tokens: 3.2,
              total_tokens: 53.7,
            }),
          };
    case 'b':
      return {
        status: 429,
        headers: { 'retry-after': '1000000000' },
        body: JSON.stringify({ error: { message: 'slow down', type: 'requests', code: null } }),
      };
    default:
      return {
        status: 200,
        headers: {},
        body: answer('long', { prompt_tokens: 9, completion_tokens: 5_000, total_tokens: 5_009 }),
      };
  }
}

let server: Server;
let baseURL: string;
const seen: string[] = [];

beforeAll(async () => {
  const calls = new Map<string, number>();
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => {
      const body = JSON.parse(text) as { messages: { content: string }[] };
      const prompt = body.messages[0]?.content ?? '';
      const n = (calls.get(prompt) ?? 0) + 1;
      calls.set(prompt, n);
      seen.push(prompt);
      const r = respond(prompt, n);
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('a hostile server over loopback', () => {
  it('keeps paid answers, fails decades-long waits at once, bills no more than the request allowed', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const manager = await createAITaskManager({
      baseURL,
      builtinTaskTypes: false,
      taskTypes: [echo],
      maxConcurrent: 1,
      maxTokens: 50,
      budgetLimit: 1,
      prices: { 'model-a': { input: 1, output: 2 }, 'model-b': { input: 1, output: 2 } },
      model: 'model-a',
      taskDefaults: { maxRetries: 2, retryDelay: 0.01 },
    });
    const events: EngineEvent[] = [];
    manager.events$.subscribe((e) => events.push(e));
    try {
      const a = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'a' } });
      await manager.waitForTask(a);
      const b = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'b' } });
      const c = await manager.submitTask({ taskType: 'ECHO', data: { prompt: 'c' } });
      const other = await manager.submitTask({
        taskType: 'ECHO',
        data: { prompt: 'd' },
        config: { model: 'model-b' },
      });
      await manager.onIdle();

      const ta = await manager.getTaskStatus(a);
      expect(ta?.status).toBe('completed');
      expect(ta?.result).toBe('fine');
      expect(ta?.attempts).toBe(2);
      expect(ta?.metrics).toMatchObject({ promptTokens: 51, completionTokens: 4 });

      // The 429's 31 years are above maxServerWait (one hour): b fails at once, not retried, and
      // c (the same model) fails without a call; the other model is not held back.
      for (const id of [b, c]) {
        const t = await manager.getTaskStatus(id);
        expect(t?.status).toBe('failed');
        expect(t?.error?.code).toBe('SERVER_WAIT');
      }
      const td = await manager.getTaskStatus(other);
      expect(td?.status).toBe('completed');
      expect(td?.metrics.completionTokens).toBe(50);
      expect(events.filter((e) => e.type === 'usage.suspect')).toHaveLength(1);
      expect(seen).toEqual(['a', 'a', 'b', 'd']);
      const stats = await manager.getStatistics();
      expect(Number.isFinite(stats.cost.total.cost)).toBe(true);
      await manager.stop();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await manager.stop({ force: true });
    }
  });
});
