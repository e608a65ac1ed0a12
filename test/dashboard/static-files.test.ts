/**
 * The page's static files: app.js and every ES module of src/dashboard/public/js/ (which app.js
 * imports) are served with the token, as JavaScript under the page's CSP, and refused without it;
 * every import of the page resolves to a served file, and nothing else is reachable.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, serveDashboard } from '../../src/dashboard/index.js';
import { createTestManager, type TestManager } from '../helpers/manager.js';

const PUBLIC = join(import.meta.dirname, '..', '..', 'src', 'dashboard', 'public');
const MODULES = readdirSync(join(PUBLIC, 'js'))
  .filter((name) => name.endsWith('.js'))
  .sort();
const SCRIPTS = ['/app.js', ...MODULES.map((name) => `/js/${name}`)];

interface Answer {
  status: number;
  type: string | undefined;
  csp: string;
  body: string;
}

/** GETs `path` exactly as written (no normalisation of `..` by the client). */
function get(server: DashboardServer, path: string, token: string | null): Promise<Answer> {
  const headers = token === null ? {} : { Authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          csp: String(res.headers['content-security-policy'] ?? ''),
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard page scripts', () => {
  let t: TestManager;
  let server: DashboardServer;
  let token: string;

  beforeAll(async () => {
    t = createTestManager();
    await t.manager.start();
    server = await serveDashboard(t.manager);
    token = server.token as string;
  });

  afterAll(async () => {
    await server?.close();
    await t?.manager.stop({ force: true });
  });

  it('has modules besides app.js', () => {
    expect(MODULES.length).toBeGreaterThan(1);
  });

  it('serves app.js and every module of js/ with the token, as JavaScript under the CSP', async () => {
    for (const path of SCRIPTS) {
      const answer = await get(server, path, token);
      expect(answer.status, path).toBe(200);
      expect(answer.type, path).toBe('text/javascript; charset=utf-8');
      expect(answer.csp, path).toContain("script-src 'self'");
      expect(answer.body, path).toBe(readFileSync(join(PUBLIC, path), 'utf8'));
    }
  });

  it('refuses every script without the token or with a wrong one', async () => {
    for (const path of SCRIPTS) {
      expect((await get(server, path, null)).status, path).toBe(401);
      expect((await get(server, path, 'x'.repeat(43))).status, path).toBe(401);
    }
  });

  it('serves every module the page imports, all of them from its own origin', async () => {
    for (const path of SCRIPTS) {
      const text = readFileSync(join(PUBLIC, path), 'utf8');
      for (const [, spec] of text.matchAll(/^import\s[^;]*?from\s+'([^']+)';/gms)) {
        expect(spec, `${path} imports ${spec}`).toMatch(/^\.\.?\//);
        const target = posix.join(posix.dirname(path), spec as string);
        expect(SCRIPTS, `${path} imports ${spec}`).toContain(target);
      }
    }
  });

  it('serves nothing else: no other name, folder or `..`', async () => {
    for (const path of [
      '/js',
      '/js/',
      '/js/missing.js',
      '/js/../server.ts',
      '/js/%2e%2e/server.js',
      '/js/..%2fserver.js',
      '/index.html',
      '/public/app.js',
      '/server.js',
      '/style.css/../server.js',
    ]) {
      expect((await get(server, path, token)).status, path).toBe(404);
    }
  });
});
