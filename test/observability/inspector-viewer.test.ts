/**
 * `serveInspectorViewer` on loopback: the page and its WebSocket need the token, a page that
 * connects late gets what happened before, and what it receives is sanitized. The manager runs
 * on virtual time with a scripted client; the HTTP and WebSocket traffic is real.
 */

import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type InspectorViewer,
  serveInspectorViewer,
} from '../../src/observability/inspector-viewer.js';
import { createTestManager, type TestManager } from '../helpers/manager.js';
import { advanceUntil } from '../helpers/virtual-time.js';

const MARKER = 'viewer-secret-5b2e';

function get(url: URL, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens the page's WebSocket and collects what it sends until it is quiet for 300 ms. */
function receive(
  url: string,
): Promise<{ messages: Array<{ type: string; name?: string }>; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const raw: string[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        socket.close();
        resolve({ messages: raw.map((m) => JSON.parse(m)), raw });
      }, 300);
    };
    socket.on('open', settle);
    socket.on('message', (data) => {
      raw.push(data.toString());
      settle();
    });
    socket.on('error', reject);
  });
}

describe('serveInspectorViewer', () => {
  let viewer: InspectorViewer | undefined;
  let t: TestManager | undefined;

  afterEach(async () => {
    await t?.manager.stop({ force: true });
    await viewer?.stop();
    viewer = undefined;
    t = undefined;
  });

  it('serves the page with its token only, and feeds a late page every event so far, sanitized', async () => {
    viewer = await serveInspectorViewer();
    const url = new URL(viewer.url);
    expect(url.hostname).toBe('127.0.0.1');
    const token = url.searchParams.get('token') as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('https://stately.ai/inspect');
    expect((await get(new URL(url.origin))).status).toBe(401);
    expect((await get(url, { Host: `rebound.example:${url.port}` })).status).toBe(401);
    expect((await get(url, { Origin: 'http://evil.example' })).status).toBe(401);

    t = createTestManager({ inspect: viewer.inspect }, (_request, i) =>
      i === 0
        ? { kind: 'error', status: 400, message: `bad request: ${MARKER}` }
        : { kind: 'ok', content: 'fine' },
    );
    await t.manager.start();
    await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: MARKER } });
    await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'two' } });
    await advanceUntil(
      t.clock,
      () =>
        t?.events.filter((e) => e.type === 'task.completed' || e.type === 'task.failed').length ===
        2,
    );
    // The inspector hands events on from 0 ms timers: let them run.
    await new Promise((resolve) => setTimeout(resolve, 20));

    const ws = `ws://${url.host}/events?token=${token}`;
    const { messages, raw } = await receive(ws);
    // Everything since the start: both tasks' actors and outcomes, the failed one's error too.
    expect(raw.some((m) => m.includes('"task.outcome"'))).toBe(true);
    expect(raw.some((m) => m.includes('PROVIDER_ERROR'))).toBe(true);
    expect(raw.some((m) => m.includes(MARKER))).toBe(false);
    const names = new Set(messages.filter((m) => m.type === '@xstate.actor').map((m) => m.name));
    for (const name of ['supervisor', 'concurrency', 'rateLimit', 'budget', 'tasks']) {
      expect(names.has(name), name).toBe(true);
    }
    await expect(receive(`ws://${url.host}/events`)).rejects.toThrow(/401/);
  });

  it('keeps only the last `keep` events for a late page, oldest first', async () => {
    viewer = await serveInspectorViewer({ keep: 3 });
    for (let i = 0; i < 7; i++) {
      viewer.inspect.next?.({
        type: '@xstate.event',
        rootId: 'x:0',
        sourceRef: undefined,
        actorRef: { sessionId: `x:${i}` } as never,
        event: { type: `e${i}` },
      } as never);
    }
    // The inspector hands events on from 0 ms timers: let them run.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const url = new URL(viewer.url);
    const { raw } = await receive(`ws://${url.host}/events?token=${url.searchParams.get('token')}`);
    expect(raw.map((m) => (JSON.parse(m) as { event: { type: string } }).event.type)).toEqual([
      'e4',
      'e5',
      'e6',
    ]);
  });

  it('validates its options', async () => {
    await expect(serveInspectorViewer({ port: 70_000 })).rejects.toThrow(/options\.port/);
    await expect(serveInspectorViewer({ viewerUrl: 'javascript:alert(1)' })).rejects.toThrow(
      /options\.viewerUrl/,
    );
  });
});
