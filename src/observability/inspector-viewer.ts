/**
 * The Stately inspector on loopback: a page on 127.0.0.1 that embeds stately.ai's viewer and feeds
 * it this process's inspection events over a WebSocket. No account and no server of stately.ai's
 * gets the events: they go from this process to the page in your browser, and from the page into
 * the viewer's frame. Only the viewer's own code loads from stately.ai.
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { type WebSocket, WebSocketServer } from 'ws';
import type { InspectionEvent, Observer } from 'xstate';
import { z } from 'zod';
import { listenHttp } from '../internal/http-listen.js';
import {
  isAllowedHost,
  isCrossOrigin,
  newToken,
  sameToken,
  tokenOf,
} from '../internal/http-security.js';
import { parseOrThrow } from '../internal/validate.js';
import { sanitizeInspectionEvent } from './inspector.js';

const InspectorViewerOptionsSchema = z
  .object({
    /** 0: a free port. */
    port: z.number().int().min(0).max(65_535).default(0),
    host: z.string().min(1).default('127.0.0.1'),
    /** Send task data, results, prompts and errors' details too. */
    includeData: z.boolean().default(false),
    /** Events kept for a page that opens late (the oldest go first). */
    keep: z.number().int().positive().max(1_000_000).default(20_000),
    /** The viewer embedded in the page. */
    viewerUrl: z.url({ protocol: /^https?$/ }).default('https://stately.ai/inspect'),
  })
  .strict();

export type InspectorViewerOptions = z.input<typeof InspectorViewerOptionsSchema>;

/** A running loopback viewer. */
export interface InspectorViewer {
  /** The manager's `inspect` option. */
  readonly inspect: Observer<InspectionEvent>;
  /** The page to open, with its token (`http://127.0.0.1:PORT/?token=…`). */
  readonly url: string;
  /** Closes the page's connections and the server. */
  stop(): Promise<void>;
}

function pageHtml(viewerUrl: string): string {
  const viewer = JSON.stringify(viewerUrl);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ai-task-queue · Stately inspector</title>
<style>html,body{margin:0;height:100%}iframe{border:0;width:100%;height:100%}</style></head>
<body><iframe id="viewer"></iframe>
<script>
const frame = document.getElementById('viewer');
frame.src = ${viewer};
const pending = [];
let ready = false;
window.addEventListener('message', (e) => {
  if (e.source === frame.contentWindow && e.data && e.data.type === '@statelyai.connected') {
    ready = true;
    for (const event of pending.splice(0)) frame.contentWindow.postMessage(event, '*');
  }
});
const token = new URLSearchParams(location.search).get('token') || '';
const socket = new WebSocket(\`ws://\${location.host}/events?token=\${encodeURIComponent(token)}\`);
socket.onmessage = (m) => {
  const event = JSON.parse(m.data);
  if (ready) frame.contentWindow.postMessage(event, '*');
  else pending.push(event);
};
</script></body></html>`;
}

/**
 * Serves the Stately inspector's viewer for this process on loopback; pass its `inspect` to the
 * manager and open its `url`. Events are sanitized as `statelyInspector`'s are (no task data,
 * results, prompts, error messages or keys unless `includeData`). The page needs the token of
 * `url`; requests under foreign host names or from other origins are refused.
 *
 * @example
 * const viewer = await serveInspectorViewer();
 * const manager = await createAITaskManager({ inspect: viewer.inspect });
 * console.log(`watch it at ${viewer.url}`);
 */
export async function serveInspectorViewer(
  options: InspectorViewerOptions = {},
): Promise<InspectorViewer> {
  const parsed = parseOrThrow(InspectorViewerOptionsSchema, options, 'options');
  const token = newToken();
  const noHosts = new Set<string>();
  /** The last `keep` messages: a ring, `next` the slot the next one goes in. */
  const kept: string[] = [];
  let next = 0;
  const sockets = new Set<WebSocket>();
  const html = pageHtml(parsed.viewerUrl);

  const authorized = (request: IncomingMessage): boolean => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const given = tokenOf(request, url);
    return (
      isAllowedHost(request.headers.host, noHosts) &&
      !isCrossOrigin(request) &&
      given !== undefined &&
      sameToken(given, token)
    );
  };

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (!authorized(request)) {
      response.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('open the URL printed with its token\n');
      return;
    }
    if (path !== '/' || request.method !== 'GET') {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('not found\n');
      return;
    }
    response.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
    });
    response.end(html);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/events' || !authorized(request)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
      // Oldest first: from `next` round to it (before the ring is full, `next` is its length).
      for (let i = 0; i < kept.length; i++) ws.send(kept[(next + i) % kept.length] as string);
    });
  });
  const { origin } = await listenHttp(server, parsed.port, parsed.host);

  let stopped = false;
  const inspector = createInspector(
    {
      send(event: StatelyInspectionEvent) {
        if (stopped) return;
        const message = JSON.stringify(event);
        // O(1) however many are kept (an array's shift moves them all).
        kept[next] = message;
        next = (next + 1) % parsed.keep;
        for (const ws of sockets) ws.send(message);
      },
    },
    { serialize: (event) => sanitizeInspectionEvent(event, parsed.includeData) },
  );
  return {
    inspect: inspector.inspect,
    url: `${origin}/?token=${token}`,
    stop() {
      stopped = true;
      return new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
