import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import { startSimulator } from '../../src/providers/simulator/index.js';
import { headerValue, onSocketWrite, sendTurn } from '../../src/providers/wire.js';

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

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

  it('gives each call started in one turn a turn of its own, in order', async () => {
    const order: string[] = [];
    await immediate();
    expect(sendTurn()).toBeUndefined();
    const second = sendTurn();
    const third = sendTurn();
    expect(second).toBeInstanceOf(Promise);
    void second?.then(() => order.push('second'));
    void third?.then(() => order.push('third'));
    // Queued after the first call's turn was taken: it runs between the second and the third.
    setImmediate(() => order.push('a turn'));
    await third;
    expect(order).toEqual(['second', 'a turn', 'third']);
    // Once the waiting calls are through, a new turn's first call goes on at once.
    await immediate();
    await immediate();
    expect(sendTurn()).toBeUndefined();
  });

  it("hears of a request's write to its socket, by its task and attempt, once", async () => {
    const heard: string[] = [];
    const forgetFirst = onSocketWrite('task-1', 1, () => heard.push('task-1/1'));
    const forgetOther = onSocketWrite('task-1', 2, () => heard.push('task-1/2'));
    const headers = { 'x-aitq-task-id': 'task-1', 'x-aitq-attempt': '1' };
    await (await fetch(url, { method: 'POST', body: '{}', headers })).text();
    await (await fetch(url, { method: 'POST', body: '{}', headers })).text();
    expect(heard).toEqual(['task-1/1']);
    forgetFirst();
    forgetOther();
    await (
      await fetch(url, {
        method: 'POST',
        body: '{}',
        headers: { 'x-aitq-task-id': 'task-1', 'x-aitq-attempt': '2' },
      })
    ).text();
    expect(heard).toEqual(['task-1/1']);
  });

  it('tells a call it is sent at its hand-off and again at its write with Node fetch, once with another fetch', async () => {
    const sim = await startSimulator({ latency: { kind: 'fixed', ms: 0 } });
    try {
      const request = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user' as const, content: 'hi' }],
        maxTokens: 5,
      };
      let sends = 0;
      const options = {
        signal: new AbortController().signal,
        taskId: 'task-w',
        attempt: 1,
        onSend: () => sends++,
      };
      await new OpenAICompatibleClient({ baseURL: sim.url }).chat(request, options);
      expect(sends).toBe(2);
      sends = 0;
      const wrapped = new OpenAICompatibleClient({
        baseURL: sim.url,
        // The same requests, through a fetch that reports nothing of its writes.
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          return new Response(await response.text(), response);
        },
      });
      await wrapped.chat(request, { ...options, taskId: 'task-x' });
      // Node's fetch still writes it and tells the channel: a second send, never a third.
      expect(sends).toBe(2);
      sends = 0;
      await new OpenAICompatibleClient({
        baseURL: sim.url,
        fetch: async () =>
          new Response(JSON.stringify({ choices: [] }), {
            status: 200,
            headers: { 'content-type': 'application/json' },
          }),
      })
        .chat(request, { ...options, taskId: 'task-y' })
        .catch(() => undefined);
      expect(sends).toBe(1);
    } finally {
      await sim.close();
    }
  });
});
