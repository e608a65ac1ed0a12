import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { TaskQueueError, ValidationError } from '../errors.js';
import { listenHttp } from '../internal/http-listen.js';
import {
  isAllowedHost,
  isCrossOrigin,
  newToken,
  sameToken,
  TOKEN_COOKIE,
  tokenOf,
} from '../internal/http-security.js';
import { objectWith, parseOrThrow } from '../internal/validate.js';
import { createMetrics, type QueueMetrics } from '../observability/metrics.js';
import { type Clock, systemClock } from '../time/clock.js';
import { DashboardFeed } from './feed.js';
import { DashboardApi, type DashboardManager, HttpError } from './routes.js';
import { UpdateStream } from './stream.js';

const DashboardOptionsSchema = z
  .object({
    /** 0 = a free port, chosen by the system. */
    port: z.number().int().min(0).max(65_535).default(0),
    host: z.string().min(1).default('127.0.0.1'),
    /** A token of your own; `false` turns the check off (only behind a proxy that checks). */
    token: z.union([z.string().min(16), z.literal(false)]).optional(),
    /** Host names (besides IP literals and `localhost`) the server answers to. */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** ms between two messages of `/events` (at most 4 a second). */
    updateIntervalMs: z.number().int().min(250).max(60_000).default(250),
    clock: objectWith<Clock>('a clock', ['now', 'setTimeout', 'clearTimeout']).optional(),
  })
  .strict();

/** Options of `serveDashboard`. */
export type DashboardOptions = z.input<typeof DashboardOptionsSchema>;

/** A running dashboard. */
export interface DashboardServer {
  /** The address to open, with the token (`http://127.0.0.1:PORT/?token=…`). */
  readonly url: string;
  /** `http://host:port`, without the token. */
  readonly origin: string;
  readonly port: number;
  /** The token every request needs; `null` when the check is off. */
  readonly token: string | null;
  /** The Prometheus metrics served at `/metrics`. */
  readonly metrics: QueueMetrics;
  /** Ends the event streams and stops the server. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const DISCARD_LIMIT_BYTES = 16 << 20;
const JAVASCRIPT = 'text/javascript; charset=utf-8';
const PUBLIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: JAVASCRIPT },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
/** The folder of the page's ES modules (imported by app.js), under `public/` and in the URL. */
const MODULES_DIR = 'js';
/** The names a module may have: lower-case words and dashes, `.js`; nothing else is served. */
const MODULE_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*\.js$/;
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The page's files, read once: the fixed table, and each module file of `public/js/` at
 * `/js/<name>`. Requests are answered from this map by exact path only, so nothing outside it
 * (no other folder, no `..`) can be served.
 */
function loadPublicFiles(): Map<string, { body: Buffer; type: string }> {
  const dir = new URL('./public/', import.meta.url);
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(PUBLIC_FILES)) {
    files.set(path, { body: readFileSync(new URL(file, dir)), type });
  }
  const modules = new URL(`${MODULES_DIR}/`, dir);
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isFile() || !MODULE_NAME.test(entry.name)) continue;
    const body = readFileSync(new URL(entry.name, modules));
    files.set(`/${MODULES_DIR}/${entry.name}`, { body, type: JAVASCRIPT });
  }
  return files;
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) {
    const field = error.field === undefined ? {} : { field: error.field };
    sendJson(response, error.status, {
      error: { code: error.code, message: error.message, ...field },
    });
  } else if (error instanceof ValidationError) {
    const path = error.issues[0]?.path;
    const field = path === undefined ? {} : { field: path };
    sendJson(response, 400, { error: { code: error.code, message: error.message, ...field } });
  } else if (error instanceof TaskQueueError) {
    sendJson(response, 409, { error: { code: error.code, message: error.message } });
  } else {
    sendJson(response, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
  }
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'send a JSON body with Content-Type: application/json',
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    // Over the limit: read on without keeping (so the client gets its 413), up to a point.
    if (size > DISCARD_LIMIT_BYTES) request.destroy();
    else if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) throw new HttpError(413, 'BODY_TOO_LARGE', 'the body is over 1 MiB');
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
}

/**
 * Serves a live dashboard of `manager`: the page, its JSON API, server-sent events and
 * Prometheus metrics (see docs/dashboard.md). Bound to 127.0.0.1 on a free port by default;
 * every request needs the token in `url` (a cookie once the page is open, or
 * `Authorization: Bearer <token>`), and requests from other origins or under foreign host names
 * are refused.
 *
 * @example
 * const dashboard = await serveDashboard(manager);
 * console.log(`dashboard: ${dashboard.url}`);
 * // … later
 * await dashboard.close();
 */
export async function serveDashboard(
  manager: DashboardManager,
  options: DashboardOptions = {},
): Promise<DashboardServer> {
  const parsed = parseOrThrow(DashboardOptionsSchema, options, 'options');
  const token = parsed.token === false ? null : (parsed.token ?? newToken());
  const clock = parsed.clock ?? systemClock;
  const allowedHosts = new Set(parsed.allowedHosts.map((h) => h.toLowerCase()));
  const files = loadPublicFiles();
  const feed = new DashboardFeed(manager.events$, { points: 600, failures: 50 });
  const api = new DashboardApi(manager, feed);
  const metrics = createMetrics(manager);
  const stream = new UpdateStream(feed, (withChanges) => api.update(withChanges), clock, {
    intervalMs: parsed.updateIntervalMs,
    idleMs: 1000,
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!isAllowedHost(request.headers.host, allowedHosts)) {
      throw new HttpError(
        403,
        'FORBIDDEN_HOST',
        `host '${request.headers.host ?? ''}' is not allowed (allowedHosts)`,
      );
    }
    if (isCrossOrigin(request)) {
      throw new HttpError(
        403,
        'FORBIDDEN_ORIGIN',
        `requests from origin '${request.headers.origin}' are refused`,
      );
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const given = tokenOf(request, url);
    if (token !== null && (given === undefined || !sameToken(given, token))) {
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'a valid token is required: open the URL printed with the token',
      );
    }
    // The page opened with `?token=`: keep it in a cookie and drop it from the address bar.
    if (
      method === 'GET' &&
      url.pathname === '/' &&
      url.searchParams.has('token') &&
      token !== null
    ) {
      response.writeHead(302, {
        ...SECURITY_HEADERS,
        Location: '/',
        'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      response.end();
      return;
    }
    const file = files.get(url.pathname);
    if (file !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') {
        throw new HttpError(
          405,
          'METHOD_NOT_ALLOWED',
          `${method} is not allowed on ${url.pathname}`,
        );
      }
      response.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Type': file.type,
        'Content-Length': file.body.length,
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      });
      response.end(method === 'HEAD' ? undefined : file.body);
      return;
    }
    if (url.pathname === '/events' && method === 'GET') {
      stream.add(response);
      return;
    }
    if (url.pathname === '/metrics' && method === 'GET') {
      const text = await metrics.metrics();
      response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': metrics.contentType });
      response.end(text);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      if (method !== 'GET' && method !== 'POST') {
        throw new HttpError(
          405,
          'METHOD_NOT_ALLOWED',
          `${method} is not allowed on ${url.pathname}`,
        );
      }
      let segments: string[];
      try {
        segments = url.pathname.slice('/api/'.length).split('/').map(decodeURIComponent);
      } catch {
        throw new HttpError(400, 'INVALID_PATH', `malformed path: ${url.pathname}`);
      }
      const body = method === 'POST' ? await readJsonBody(request) : undefined;
      const query = new URLSearchParams(url.searchParams);
      query.delete('token');
      sendJson(response, 200, await api.handle({ method, segments, query, body }));
      return;
    }
    throw new HttpError(404, 'NOT_FOUND', `no such path: ${url.pathname}`);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) response.end();
      else sendError(response, error);
    });
  });
  const { port, origin } = await listenHttp(server, parsed.port, parsed.host);
  let closing: Promise<void> | undefined;
  return {
    url: token === null ? `${origin}/` : `${origin}/?token=${encodeURIComponent(token)}`,
    origin,
    port,
    token,
    metrics,
    close() {
      closing ??= new Promise<void>((resolve) => {
        stream.close();
        feed.stop();
        metrics.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
