import { request as httpRequest } from 'node:http';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../machines/task-status.js';
import { type DashboardServer, serveDashboard } from '../../src/dashboard/index.js';
import { createTestManager, type TestManager } from '../helpers/manager.js';
import { advanceUntil, flush } from '../helpers/virtual-time.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read back field by field
type Json = any;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Json;
}

/** One HTTP request over loopback; `headers.Host` may be overridden to test the host check. */
function call(
  server: DashboardServer,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; token?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? server.token : options.token;
  if (token !== null && headers.Authorization === undefined && headers.Cookie === undefined) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (options.body !== undefined && headers['Content-Type'] === undefined) {
    headers['Content-Type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: server.port, method, path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body),
          });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Reads server-sent events until `count` `update` messages arrived, then closes. */
function readUpdates(server: DashboardServer, count: number): Promise<Json[]> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/events',
        headers: { Authorization: `Bearer ${server.token}` },
      },
      (res) => {
        const updates: Json[] = [];
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (block.includes('event: update') && data !== undefined) {
              updates.push(JSON.parse(data.slice('data: '.length)));
            }
            end = buffer.indexOf('\n\n');
          }
          if (updates.length >= count) {
            req.destroy();
            resolve(updates);
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}

describe('serveDashboard', () => {
  let t: TestManager;
  let server: DashboardServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await t.manager.stop({ force: true });
  });

  async function setUp(options: Parameters<typeof serveDashboard>[1] = {}) {
    t = createTestManager({ maxConcurrent: 2 }, () => ({
      kind: 'ok',
      latencyMs: 100,
      content: 'hi',
    }));
    await t.manager.start();
    server = await serveDashboard(t.manager, options);
    return server;
  }

  it('binds 127.0.0.1 on a free port and prints a URL with its token', async () => {
    const s = await setUp();
    expect(s.origin).toBe(`http://127.0.0.1:${s.port}`);
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.url).toBe(`${s.origin}/?token=${s.token}`);
  });

  it('opens the page with ?token= as a cookie, then serves the page and API with it', async () => {
    const s = await setUp();
    const open = await call(s, 'GET', `/?token=${s.token}`, { token: null });
    expect(open.status).toBe(302);
    expect(open.headers.location).toBe('/');
    const cookie = String(open.headers['set-cookie']);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const pair = cookie.split(';')[0] as string;
    const page = await call(s, 'GET', '/', { headers: { Cookie: pair }, token: null });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    const stats = await call(s, 'GET', '/api/statistics', {
      headers: { Cookie: pair },
      token: null,
    });
    expect(stats.status).toBe(200);
    expect(stats.json().status.running).toBe(true);
  });

  it('answers 401 without the token, or with a wrong one, on every path', async () => {
    const s = await setUp();
    for (const path of ['/', '/app.js', '/api/statistics', '/events', '/metrics']) {
      const none = await call(s, 'GET', path, { token: null });
      expect(none.status, path).toBe(401);
      expect(none.json().error.code).toBe('UNAUTHORIZED');
      const wrong = await call(s, 'GET', path, { token: 'x'.repeat(43) });
      expect(wrong.status, path).toBe(401);
    }
    const action = await call(s, 'POST', '/api/pause', { body: '{}', token: null });
    expect(action.status).toBe(401);
    expect(t.manager.isPaused()).toBe(false);
  });

  it('needs no token when it is turned off', async () => {
    const s = await setUp({ token: false });
    expect(s.token).toBeNull();
    expect(s.url).toBe(`${s.origin}/`);
    expect((await call(s, 'GET', '/api/statistics')).status).toBe(200);
  });

  it('refuses foreign host names (DNS rebinding) and cross-origin requests (CSRF)', async () => {
    const s = await setUp({ allowedHosts: ['queue.internal'] });
    const rebound = await call(s, 'GET', '/api/statistics', {
      headers: { Host: `evil.example:${s.port}` },
    });
    expect(rebound.status).toBe(403);
    expect(rebound.json().error.code).toBe('FORBIDDEN_HOST');
    const allowed = await call(s, 'GET', '/api/statistics', {
      headers: { Host: `queue.internal:${s.port}` },
    });
    expect(allowed.status).toBe(200);
    expect(
      (await call(s, 'GET', '/api/statistics', { headers: { Host: `localhost:${s.port}` } }))
        .status,
    ).toBe(200);
    const csrf = await call(s, 'POST', '/api/pause', {
      body: '{}',
      headers: { Origin: 'http://evil.example' },
    });
    expect(csrf.status).toBe(403);
    expect(csrf.json().error.code).toBe('FORBIDDEN_ORIGIN');
    expect(t.manager.isPaused()).toBe(false);
    const sameOrigin = await call(s, 'POST', '/api/pause', {
      body: '{}',
      headers: { Origin: s.origin },
    });
    expect(sameOrigin.status).toBe(200);
    expect(t.manager.isPaused()).toBe(true);
  });

  it('lists tasks filtered by status, type and priority, a page at a time', async () => {
    const s = await setUp();
    t.manager.pause();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await t.manager.submitTask({
          taskType: 'ECHO',
          data: { prompt: `p${i}` },
          priority: i % 2 === 0 ? 'HIGH' : 'LOW',
        }),
      );
    }
    const high = (await call(s, 'GET', '/api/tasks?status=queued&priority=HIGH&limit=2')).json();
    expect(high.items.map((x: { taskId: string }) => x.taskId)).toEqual([ids[0], ids[2]]);
    expect(high.nextCursor).toEqual(expect.any(String));
    const rest = (
      await call(
        s,
        'GET',
        `/api/tasks?status=queued&priority=HIGH&limit=2&cursor=${high.nextCursor}`,
      )
    ).json();
    expect(rest.items.map((x: { taskId: string }) => x.taskId)).toEqual([ids[4]]);
    expect(rest.nextCursor).toBeNull();
    const byType = (await call(s, 'GET', '/api/tasks?type=ECHO&status=queued,running')).json();
    expect(byType.items).toHaveLength(5);
    expect(byType.items[0].waitingFor).toBe('paused');
  });

  it('answers 400 naming the parameter for a bad query, 404 for unknown ids and paths', async () => {
    const s = await setUp();
    const badStatus = await call(s, 'GET', '/api/tasks?status=sleeping');
    expect(badStatus.status).toBe(400);
    expect(badStatus.json().error.field).toBe('query.status.0');
    expect(badStatus.json().error.message).toContain('sleeping');
    const badLimit = await call(s, 'GET', '/api/tasks?limit=5000');
    expect(badLimit.status).toBe(400);
    expect(badLimit.json().error.field).toBe('query.limit');
    const unknownParam = await call(s, 'GET', '/api/tasks?colour=red');
    expect(unknownParam.status).toBe(400);
    const unknownType = await call(s, 'GET', '/api/tasks?type=NOPE');
    expect(unknownType.status).toBe(400);
    expect(unknownType.json().error.field).toBe('query.taskType');
    const missing = await call(s, 'GET', '/api/tasks/no-such-task');
    expect(missing.status).toBe(404);
    expect(missing.json().error).toEqual({
      code: 'TASK_NOT_FOUND',
      message: "no task with id 'no-such-task'",
    });
    expect((await call(s, 'POST', '/api/tasks/no-such-task/cancel', { body: '{}' })).status).toBe(
      404,
    );
    expect((await call(s, 'GET', '/api/nothing')).status).toBe(404);
    expect((await call(s, 'GET', '/nothing')).status).toBe(404);
    expect((await call(s, 'DELETE', '/api/statistics')).status).toBe(405);
    expect((await call(s, 'GET', '/api/pause')).status).toBe(405);
  });

  it('shows one task with its history, attempts, usage and cost', async () => {
    const s = await setUp();
    const id = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'hello' } });
    await advanceUntil(t.clock, () => t.events.some((e) => e.type === 'task.completed'));
    const task = (await call(s, 'GET', `/api/tasks/${encodeURIComponent(id)}`)).json();
    expect(task.taskId).toBe(id);
    expect(task.status).toBe('completed');
    expect(task.attempts).toBe(1);
    expect(task.history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'running',
      'completed',
    ]);
    expect(task.history[0].at).toBe(new Date(task.createdAt).toISOString());
    expect(task.metrics.calls).toBe(1);
    expect(task.metrics.tokensUsed).toBeGreaterThan(0);
    expect(task.metrics.actualCost).toBeGreaterThan(0);
  });

  it('pauses, resumes, and cancels one task or many', async () => {
    const s = await setUp();
    expect((await call(s, 'POST', '/api/pause', { body: '{}' })).json()).toEqual({ paused: true });
    expect(t.manager.isPaused()).toBe(true);
    const a = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'a' } });
    const b = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'b' } });
    const c = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'c' } });
    expect((await call(s, 'POST', `/api/tasks/${a}/pause`, { body: '{}' })).json()).toEqual({
      taskId: a,
      paused: true,
    });
    expect((await t.manager.getTaskStatus(a))?.status).toBe('paused');
    expect((await call(s, 'POST', `/api/tasks/${a}/resume`, { body: '' })).json()).toEqual({
      taskId: a,
      resumed: true,
    });
    expect((await call(s, 'POST', `/api/tasks/${a}/cancel`, { body: '{}' })).json()).toEqual({
      taskId: a,
      cancelled: true,
    });
    expect((await t.manager.getTaskStatus(a))?.status).toBe('cancelled');
    const many = await call(s, 'POST', '/api/tasks/cancel', {
      body: JSON.stringify({ taskIds: [b, a] }),
    });
    expect(many.json()).toEqual({ results: { [b]: true, [a]: false } });
    expect((await call(s, 'POST', '/api/resume', { body: '{}' })).json()).toEqual({
      paused: false,
    });
    await advanceUntil(t.clock, () => t.events.some((e) => e.type === 'task.completed'));
    expect((await t.manager.getTaskStatus(c))?.status).toBe('completed');
  });

  it('rejects bad action bodies with 400/413/415 and changes nothing', async () => {
    const s = await setUp();
    const notJson = await call(s, 'POST', '/api/pause', { body: '{', headers: {} });
    expect(notJson.status).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_JSON');
    const form = await call(s, 'POST', '/api/pause', {
      body: 'a=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const extra = await call(s, 'POST', '/api/pause', { body: '{"now":true}' });
    expect(extra.status).toBe(400);
    const huge = await call(s, 'POST', '/api/tasks/cancel', {
      body: JSON.stringify({ taskIds: ['x'.repeat(2 << 20)] }),
    });
    expect(huge.status).toBe(413);
    const noIds = await call(s, 'POST', '/api/tasks/cancel', { body: '{"taskIds":"a"}' });
    expect(noIds.status).toBe(400);
    expect(noIds.json().error.field).toBe('body.taskIds');
    expect(t.manager.isPaused()).toBe(false);
  });

  it('adjusts settings, and a 400 naming the field changes none of them', async () => {
    const s = await setUp();
    const ok = await call(s, 'POST', '/api/settings', {
      body: JSON.stringify({ maxConcurrent: 7, requestsPerMinute: 30 }),
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ changed: ['maxConcurrent', 'requestsPerMinute'] });
    const stats = await t.manager.getStatistics();
    expect(stats.concurrency.maxConcurrent).toBe(7);
    expect(stats.rateLimit.requestsPerMinute.limit).toBe(30);
    const bad = await call(s, 'POST', '/api/settings', {
      body: JSON.stringify({ maxConcurrent: 3, requestsPerMinute: -5 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION');
    expect(bad.json().error.field).toContain('requestsPerMinute');
    expect(bad.json().error.message).toContain('-5');
    const after = await t.manager.getStatistics();
    expect(after.concurrency.maxConcurrent).toBe(7);
    expect(after.rateLimit.requestsPerMinute.limit).toBe(30);
    const notObject = await call(s, 'POST', '/api/settings', { body: '[1]' });
    expect(notObject.status).toBe(400);
  });

  it('serves the charts from the machine definitions and the actors with their state', async () => {
    const s = await setUp();
    const machines = (await call(s, 'GET', '/api/machines')).json();
    expect(machines.task.initial).toBe('queued');
    // Every task state, in the machine's order, which is the statuses' order.
    expect(machines.task.states.map((x: { key: string }) => x.key)).toEqual([...TASK_STATUSES]);
    expect(machines.task.transitions).toContainEqual({
      source: 'running',
      target: 'retrying',
      event: 'task.outcome',
      guard: 'mayRetry',
    });
    expect(machines.supervisor.transitions).toContainEqual({
      source: 'draining',
      target: 'stopped',
      event: 'always',
      guard: 'isIdle',
    });
    t.manager.pause();
    const actors = (await call(s, 'GET', '/api/actors')).json().actors;
    expect(actors.map((a: { systemId: string }) => a.systemId)).toEqual([
      'supervisor',
      'concurrency',
      'rateLimit',
      'budget',
      'tasks',
    ]);
    expect(actors[0]).toMatchObject({ status: 'active', state: 'paused' });
    expect(actors[1]).toMatchObject({ status: 'active', summary: { used: 0, max: 2 } });
  });

  it('keeps the series and the recent failures from the event stream', async () => {
    t = createTestManager({ maxConcurrent: 2, taskDefaults: { maxRetries: 0 } }, (_r, i) =>
      i === 1
        ? { kind: 'error', status: 400, message: 'bad request' }
        : { kind: 'ok', latencyMs: 100, content: 'hi' },
    );
    await t.manager.start();
    server = await serveDashboard(t.manager);
    await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'a' } });
    const failing = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advanceUntil(
      t.clock,
      () =>
        t.events.filter((e) => e.type.startsWith('task.c') || e.type === 'task.failed').length ===
        2,
    );
    const failures = (await call(server, 'GET', '/api/failures')).json().failures;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ taskId: failing, taskType: 'ECHO', attempts: 1 });
    expect(failures[0].error.message).toContain('bad request');
    const series = (await call(server, 'GET', '/api/series')).json();
    expect(series.stepMs).toBe(1000);
    const sum = (k: string) =>
      series.points.reduce((n: number, p: Record<string, number>) => n + (p[k] as number), 0);
    expect(sum('started')).toBe(2);
    expect(sum('completed')).toBe(1);
    expect(sum('failed')).toBe(1);
    const stats = await t.manager.getStatistics();
    expect(sum('costUsd')).toBeCloseTo(stats.cost.total.cost, 9);
  });

  it('streams an update at once on connect, then what changed', async () => {
    const s = await setUp();
    const first = readUpdates(s, 2);
    await flush();
    const id = await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'x' } });
    await advanceUntil(t.clock, () => t.events.some((e) => e.type === 'task.completed'));
    const [hello, next] = await first;
    expect(hello.statistics.status.running).toBe(true);
    expect(hello.actors[0].systemId).toBe('supervisor');
    expect(hello.points).toEqual([]);
    expect(next.counts['task.completed']).toBe(1);
    expect(next.statistics.performance.totalSucceeded).toBe(1);
    expect(next.points.reduce((n: number, p: { completed: number }) => n + p.completed, 0)).toBe(1);
    expect((await t.manager.getTaskStatus(id))?.status).toBe('completed');
  });

  it('serves Prometheus text that parses and agrees with getStatistics() on a paused manager', async () => {
    t = createTestManager(
      {
        maxConcurrent: 2,
        taskDefaults: { maxRetries: 1, retryDelay: 0.01 },
        budgetLimit: 5,
        requestsPerMinute: 100,
      },
      (_r, i) =>
        i === 0
          ? { kind: 'error', status: 500, message: 'flaky' }
          : { kind: 'ok', latencyMs: 50, content: 'ok' },
    );
    await t.manager.start();
    server = await serveDashboard(t.manager);
    for (let i = 0; i < 4; i++) {
      await t.manager.submitTask({
        taskType: 'ECHO',
        data: { prompt: `m${i}` },
        priority: i < 2 ? 'HIGH' : 'LOW',
      });
    }
    await advanceUntil(
      t.clock,
      () => t.events.filter((e) => e.type === 'task.completed').length === 4,
    );
    t.manager.pause();
    await t.manager.submitTask({ taskType: 'ECHO', data: { prompt: 'waits' }, priority: 'URGENT' });
    const reply = await call(server, 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toContain('text/plain');
    const families = parsePrometheusTextFormat(reply.body) as Array<{
      name: string;
      type: string;
      metrics: Array<{
        labels?: Record<string, string>;
        value?: string;
        buckets?: Record<string, string>;
      }>;
    }>;
    const family = (name: string) => {
      const found = families.find((f) => f.name === name);
      if (found === undefined) throw new Error(`no metric ${name}`);
      return found;
    };
    const total = (name: string, where: Record<string, string> = {}) =>
      family(name)
        .metrics.filter((m) => Object.entries(where).every(([k, v]) => m.labels?.[k] === v))
        .reduce((n, m) => n + Number(m.value), 0);
    const stats = await t.manager.getStatistics();
    expect(total('aitq_tasks_submitted_total')).toBe(5);
    expect(total('aitq_tasks_completed_total')).toBe(stats.performance.totalSucceeded);
    expect(total('aitq_task_retries_total')).toBe(stats.performance.totalRetries);
    expect(stats.performance.totalRetries).toBe(1);
    expect(total('aitq_tokens_total', { kind: 'prompt' })).toBe(stats.tokens.prompt);
    expect(total('aitq_tokens_total', { kind: 'completion' })).toBe(stats.tokens.completion);
    expect(total('aitq_cost_usd_total')).toBeCloseTo(stats.cost.total.cost, 9);
    expect(total('aitq_queue_depth', { priority: 'URGENT' })).toBe(stats.queue.byPriority.URGENT);
    expect(total('aitq_queue_depth', { priority: 'URGENT' })).toBe(1);
    for (const state of ['queued', 'running', 'completed', 'failed'] as const) {
      expect(total('aitq_tasks', { state })).toBe(stats.tasks.byStatus[state]);
    }
    expect(total('aitq_paused')).toBe(1);
    expect(total('aitq_max_concurrent')).toBe(2);
    expect(total('aitq_spend_usd', { period: 'total' })).toBeCloseTo(stats.cost.total.cost, 9);
    expect(total('aitq_budget_usd', { period: 'total' })).toBe(5);
    const rpm = stats.rateLimit.windows.find((w) => w.windowMs === 60_000 && w.model === null);
    expect(total('aitq_rate_window_used', { window_seconds: '60', dimension: 'requests' })).toBe(
      rpm?.requests.current,
    );
    expect(total('aitq_rate_window_limit', { window_seconds: '60', dimension: 'requests' })).toBe(
      100,
    );
    const wait = family('aitq_task_wait_seconds');
    expect(wait.type).toBe('HISTOGRAM');
    // This parser gives a histogram's buckets (cumulative; `+Inf` is the count) without labels.
    expect(Number(wait.metrics[0]?.buckets?.['+Inf'])).toBe(4);
    const run = family('aitq_task_run_seconds');
    expect(Number(run.metrics[0]?.buckets?.['+Inf'])).toBe(4);
  });

  it('validates its options', async () => {
    t = createTestManager();
    await expect(serveDashboard(t.manager, { port: -1 })).rejects.toThrow(/options\.port/);
    await expect(serveDashboard(t.manager, { token: 'short' })).rejects.toThrow(/options\.token/);
    await expect(
      serveDashboard(t.manager, { updateIntervalMs: 10 } as Parameters<typeof serveDashboard>[1]),
    ).rejects.toThrow(/options\.updateIntervalMs/);
  });
});
