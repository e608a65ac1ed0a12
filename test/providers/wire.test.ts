import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import { startSimulator } from '../../src/providers/simulator/index.js';
import { headerValue, onSocketWrite } from '../../src/providers/wire.js';

describe('the adapter on the wire', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads one header from undici raw headers, as a string or as a flat array', () => {
    const raw = 'host: x\r\nX-AITQ-Task-Id: abc\r\nxx-aitq-attempt: 9\r\nx-aitq-attempt: 2\r\n';
    expect(headerValue(raw, 'x-aitq-task-id')).toBe('abc');
    // A name that only ends with the one asked for is another header.
    expect(headerValue(raw, 'x-aitq-attempt')).toBe('2');
    expect(headerValue('host: x\r\n', 'x-aitq-task-id')).toBeUndefined();
    expect(headerValue('x-aitq-task-id: last', 'x-aitq-task-id')).toBe('last');
    expect(headerValue(['host', 'x', 'x-aitq-task-id', 'def'], 'x-aitq-task-id')).toBe('def');
    expect(headerValue(['host', 'x'], 'x-aitq-task-id')).toBeUndefined();
    expect(headerValue(undefined, 'x-aitq-task-id')).toBeUndefined();
  });

  it("hears of a request's write to its socket, by its call number, once", async () => {
    const heard: string[] = [];
    const forgetFirst = onSocketWrite('c1', () => heard.push('c1'));
    const forgetOther = onSocketWrite('c2', () => heard.push('c2'));
    const post = (call: string) =>
      fetch(url, { method: 'POST', body: '{}', headers: { 'x-aitq-call': call } }).then((r) =>
        r.text(),
      );
    await post('c1');
    await post('c1');
    expect(heard).toEqual(['c1']);
    forgetFirst();
    forgetOther();
    await post('c2');
    expect(heard).toEqual(['c1']);
    // A listener that throws costs only its call's count from the write: the process goes on.
    onSocketWrite('c3', () => {
      throw new Error('a failing listener');
    });
    await post('c3');
    await post('c3');
  });

  it('tells a call of its hand-off (onSend) and, with Node fetch, of its write (onWrite)', async () => {
    const sim = await startSimulator({ latency: { kind: 'fixed', ms: 0 } });
    try {
      const request = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user' as const, content: 'hi' }],
        maxTokens: 5,
      };
      const told: string[] = [];
      const options = (name: string) => ({
        signal: new AbortController().signal,
        taskId: 'task-w',
        attempt: 1,
        onSend: () => told.push(`${name} sent`),
        onWrite: () => told.push(`${name} written`),
      });
      const client = new OpenAICompatibleClient({ baseURL: sim.url });
      await client.chat(request, options('a'));
      expect(told).toEqual(['a sent', 'a written']);
      // Two calls of one attempt at once: each hears of its own write.
      told.length = 0;
      await Promise.all([client.chat(request, options('b')), client.chat(request, options('c'))]);
      expect(told.filter((t) => t.endsWith('written')).sort()).toEqual(['b written', 'c written']);
      expect(told.indexOf('b sent')).toBeLessThan(told.indexOf('b written'));
      // A fetch of one's own that goes through Node's: Node's still tells of the write.
      told.length = 0;
      const wrapped = new OpenAICompatibleClient({
        baseURL: sim.url,
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          return new Response(await response.text(), response);
        },
      });
      await wrapped.chat(request, options('d'));
      expect(told).toEqual(['d sent', 'd written']);
      // A fetch that is not Node's: the hand-off only.
      told.length = 0;
      await new OpenAICompatibleClient({
        baseURL: sim.url,
        fetch: async () =>
          new Response(JSON.stringify({ choices: [] }), {
            status: 200,
            headers: { 'content-type': 'application/json' },
          }),
      })
        .chat(request, options('e'))
        .catch(() => undefined);
      expect(told).toEqual(['e sent']);
    } finally {
      await sim.close();
    }
  });
});
