/**
 * `statelyInspector` on loopback: a `ws` server on 127.0.0.1 plays the inspector server, a manager
 * on virtual time with a scripted client runs a few tasks, and the assertions read the JSON
 * messages the server received (one `StatelyInspectionEvent` per message, plain JSON that
 * `safe-stable-stringify` writes, keys sorted). By default no message holds task data or
 * error messages; with `includeData` they do.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { ValidationError } from '../../src/errors.js';
import {
  OMITTED,
  sanitizeInspectionEvent,
  statelyInspector,
} from '../../src/observability/inspector.js';
import type { ChatRequest } from '../../src/providers/types.js';
import { createTestManager } from '../helpers/manager.js';
import type { Script } from '../helpers/scripted-client.js';
import { until } from '../helpers/until.js';
import { advanceUntil } from '../helpers/virtual-time.js';

/** Found in no message unless `includeData` is on. */
const MARKER = 'zq-secret-7d41c9';

interface Message {
  type: '@xstate.actor' | '@xstate.event' | '@xstate.snapshot';
  sessionId: string;
  name?: string;
  parentId?: string;
  rootId?: string;
  sourceId?: string;
  _version: string;
  createdAt: string;
  event?: { type: string; [key: string]: unknown };
  snapshot?: { status?: string; value?: unknown; context?: Record<string, unknown> };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Sockets, servers and timers alive now, by kind. */
function handles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPSocketWrap' || kind === 'TCPServerWrap' || kind === 'Timeout') {
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
  }
  return counts;
}

/** Waits until no more sockets, servers or timers are alive than in `before`. */
async function noHandlesLeftSince(before: Map<string, number>): Promise<void> {
  const extra = () => [...handles()].filter(([kind, n]) => n > (before.get(kind) ?? 0));
  await until(() => extra().length === 0, `handles to close: ${JSON.stringify(extra())}`, 2_000);
}

/** A WebSocket server on 127.0.0.1 (a free port) that keeps every message it receives. */
async function startServer() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const raw: string[] = [];
  const clients: WebSocket[] = [];
  let closed = 0;
  server.on('connection', (socket) => {
    clients.push(socket);
    socket.on('message', (data) => raw.push(data.toString()));
    socket.on('close', () => closed++);
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    raw,
    messages: () => raw.map((text) => JSON.parse(text) as Message),
    connections: () => clients.length,
    /** Client sockets the client side closed. */
    closedByClient: () => closed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/**
 * A manager watched by `statelyInspector({ url, includeData })`: three plain ECHO tasks, one whose
 * first call fails with a 500 (it retries, so its actor is sent `task.admit`), and one whose prompt
 * holds {@link MARKER} and whose call fails with a 400 that echoes the prompt, as providers do.
 */
async function watchedRun(includeData: boolean) {
  const server = await startServer();
  const inspector = statelyInspector({ url: server.url, includeData });
  expect(inspector.url).toBe(server.url);
  await until(() => server.connections() === 1, 'the inspector to connect');

  const calls = new Map<string, number>();
  const script = (request: unknown): Script => {
    const prompt = String((request as ChatRequest).messages[0]?.content);
    const n = (calls.get(prompt) ?? 0) + 1;
    calls.set(prompt, n);
    if (prompt.includes(MARKER)) {
      return { kind: 'error', status: 400, latencyMs: 20, message: `Invalid prompt: ${prompt}` };
    }
    if (prompt === 'flaky' && n === 1) return { kind: 'error', status: 500, latencyMs: 20 };
    return { kind: 'ok', latencyMs: 20, content: `answer to ${prompt}` };
  };
  const { manager, clock } = createTestManager(
    { inspect: inspector.inspect, maxConcurrent: 2, requestsPerMinute: 100 },
    script,
  );
  await manager.start();
  const prompts = ['alpha', 'beta', 'flaky', `summarize ${MARKER}`, 'gamma'];
  const ids: string[] = [];
  for (const prompt of prompts) {
    ids.push(await manager.submitTask({ taskType: 'ECHO', data: { prompt } }));
  }
  let ended = 0;
  const outcomes = ids.map((id) =>
    manager.waitForTask(id).then(
      () => {
        ended++;
        return 'completed';
      },
      () => {
        ended++;
        return 'failed';
      },
    ),
  );
  await advanceUntil(clock, () => ended === ids.length);
  expect(await Promise.all(outcomes)).toEqual([
    'completed',
    'completed',
    'completed',
    'failed',
    'completed',
  ]);
  const stopped = manager.stop();
  await advanceUntil(clock, () => !manager.isRunning(), 10_000);
  await stopped;

  // Every inspection event is handed on from a 0 ms timer: wait for the supervisor's last one.
  const supervisorDone = () =>
    server
      .messages()
      .some(
        (m) =>
          m.type === '@xstate.snapshot' &&
          m.snapshot?.status === 'done' &&
          server.messages().some((a) => a.name === 'supervisor' && a.sessionId === m.sessionId),
      );
  await until(supervisorDone, "the supervisor's final snapshot");
  inspector.stop();
  await until(() => server.closedByClient() === 1, 'the inspector to close its socket');
  await server.close();
  return { ids, raw: server.raw, messages: server.messages() };
}

describe('statelyInspector', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a url that is not ws:// or wss://, naming options.url and the value', () => {
    for (const url of ['http://127.0.0.1:8080', 'localhost:8080', '']) {
      let error: unknown;
      try {
        statelyInspector({ url });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValidationError);
      const { message, issues } = error as ValidationError;
      expect(message).toContain('options.url');
      expect(message).toContain('expected a ws:// or wss:// URL');
      expect(message).toContain(JSON.stringify(url));
      expect(issues[0]?.path).toBe('options.url');
      expect(issues[0]?.received).toBe(url);
    }
    expect(() => statelyInspector({ includData: true } as never)).toThrow(
      /options: Unrecognized key: "includData" \(did you mean "includeData"\?\)/,
    );
    expect(() => statelyInspector({ includeData: 'yes' } as never)).toThrow(ValidationError);
  });

  it('a WebSocket server sees the supervisor, its four children and every task actor, their events and snapshots, and no task data', async () => {
    const before = handles();
    const { ids, raw, messages } = await watchedRun(false);

    // Each message is one inspection event, stamped by @statelyai/inspect.
    for (const m of messages) {
      expect(['@xstate.actor', '@xstate.event', '@xstate.snapshot']).toContain(m.type);
      expect(typeof m.sessionId).toBe('string');
      expect(typeof m._version).toBe('string');
      expect(m.createdAt).toMatch(/^\d+$/);
    }

    // Registrations: the root, its four children (systemIds = actor ids) and one per task.
    const actors = messages.filter((m) => m.type === '@xstate.actor');
    const byName = (name: string) => {
      const found = actors.filter((a) => a.name === name);
      expect(found, name).toHaveLength(1);
      return found[0] as Message;
    };
    const supervisor = byName('supervisor');
    expect(supervisor.parentId).toBeUndefined();
    const children = ['concurrency', 'rateLimit', 'budget', 'tasks'].map(byName);
    for (const child of children) {
      expect(child.parentId).toBe(supervisor.sessionId);
      expect(child.rootId).toBe(supervisor.sessionId);
    }
    const tasks = children[3] as Message;
    const taskActors = ids.map((id) => byName(`task-${id}`));
    for (const actor of taskActors) expect(actor.parentId).toBe(tasks.sessionId);
    expect(actors).toHaveLength(5 + ids.length);

    const sessionOf = new Map(actors.map((a) => [a.name, a.sessionId]));
    const eventsTo = (name: string) =>
      messages
        .filter((m) => m.type === '@xstate.event' && m.sessionId === sessionOf.get(name))
        .map((m) => m.event as NonNullable<Message['event']>);
    const typesTo = (name: string) => eventsTo(name).map((e) => e.type);

    // Deliveries to the supervisor, the resource actors and the task actors.
    // (A submission that cannot start, all slots taken, does not wake the supervisor.)
    const submitted = eventsTo('supervisor').filter((e) => e.type === 'task.submitted');
    const submittedIds = submitted.flatMap((e) => e.taskIds as string[]);
    expect(submittedIds).toContain(ids[0]);
    expect(ids).toEqual(expect.arrayContaining(submittedIds));
    expect(typesTo('supervisor')).toContain('queue.stop');
    expect(typesTo('concurrency')).toEqual(
      expect.arrayContaining(['slot.acquire', 'slot.release']),
    );
    expect(typesTo('rateLimit')).toEqual(
      expect.arrayContaining(['rate.reserve', 'rate.reconcile']),
    );
    expect(typesTo('budget')).toContain('budget.commit');
    expect(typesTo('tasks')).toContain(`xstate.done.actor.task-${ids[0]}`);
    const [alpha, , flaky, secret] = ids.map((id) => `task-${id}`) as [
      string,
      string,
      string,
      string,
    ];
    expect(typesTo(flaky)).toEqual(['xstate.init', 'task.outcome', 'task.admit', 'task.outcome']);
    expect(typesTo(alpha)).toEqual(['xstate.init', 'task.outcome']);

    // Snapshots follow each task actor to its end.
    const lastSnapshot = (name: string) =>
      messages
        .filter((m) => m.type === '@xstate.snapshot' && m.sessionId === sessionOf.get(name))
        .at(-1)?.snapshot;
    for (const id of ids) {
      const name = `task-${id}`;
      expect(lastSnapshot(name), name).toMatchObject({
        status: 'done',
        value: name === secret ? 'failed' : 'completed',
        context: { id },
      });
    }
    expect(lastSnapshot(flaky)?.context).toMatchObject({ attempts: 2, retriesUsed: 1 });
    expect(lastSnapshot('supervisor')).toMatchObject({ status: 'done', value: 'stopped' });

    // The facts of the failure reach the inspector; its message (which echoes the prompt) does not.
    const failure = eventsTo(secret).find((e) => e.type === 'task.outcome');
    expect(failure?.outcome).toMatchObject({
      ok: false,
      error: {
        name: 'ProviderError',
        code: 'PROVIDER_ERROR',
        status: 400,
        retryable: false,
        message: OMITTED,
      },
    });
    expect(lastSnapshot(secret)?.context).toMatchObject({
      error: { code: 'PROVIDER_ERROR', message: OMITTED },
    });
    expect(raw.filter((text) => text.includes(MARKER))).toEqual([]);
    expect(raw.filter((text) => text.includes('answer to'))).toEqual([]);

    await noHandlesLeftSince(before);
  });

  it('with includeData: true, error messages and what they echo reach the inspector', async () => {
    const before = handles();
    const { ids, raw, messages } = await watchedRun(true);
    expect(raw.some((text) => text.includes(MARKER))).toBe(true);
    const secretSession = messages.find(
      (m) => m.type === '@xstate.actor' && m.name === `task-${ids[3]}`,
    )?.sessionId;
    const failure = messages.find(
      (m) => m.sessionId === secretSession && m.event?.type === 'task.outcome',
    );
    expect(failure?.event?.outcome).toMatchObject({
      error: { code: 'PROVIDER_ERROR', message: `Invalid prompt: summarize ${MARKER}` },
    });
    await noHandlesLeftSince(before);
  });

  it('stop() ends the retries of an inspector whose server is down', async () => {
    // A port nothing listens on any more.
    const gone = await startServer();
    await gone.close();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const inspector = statelyInspector({ url: gone.url });
    // The connection is refused: @statelyai/inspect arms its retry, 5 s later.
    for (let i = 0; i < 1_000 && vi.getTimerCount() === 0; i++) await nextTurn();
    expect(vi.getTimerCount()).toBe(1);
    inspector.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    // The retry opened a socket after stop(): it is closed at once, and arms no other retry.
    for (let i = 0; i < 200; i++) await nextTurn();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sanitizeInspectionEvent', () => {
  const stamp = { _version: '0.7.2', createdAt: '1', id: null, rootId: 'x:0', sessionId: 'x:5' };

  it('keeps the machine-level facts and replaces anything that may be user data', () => {
    const event = {
      ...stamp,
      type: '@xstate.snapshot',
      event: {
        type: 'task.outcome',
        outcome: {
          ok: false,
          at: 5,
          jitter: 0.5,
          rateLimited: false,
          error: {
            name: 'ProviderError',
            code: 'PROVIDER_ERROR',
            message: 'echo: secret',
            status: 400,
          },
        },
      },
      snapshot: {
        status: 'done',
        value: { running: 'calling' },
        tags: ['busy'],
        output: { answer: 'secret' },
        input: { prompt: 'secret' },
        error: new Error('secret'),
        historyValue: { x: [{ huge: true }] },
        context: {
          id: 't1',
          attempts: 2,
          note: 'secret',
          taskIds: ['a', 'b'],
          history: [{ status: 'failed', at: 3, reason: 'PROVIDER_ERROR' }],
          nested: { result: 'secret', count: 3, data: { prompt: 'secret' }, when: new Date(0) },
          // A fact key keeps a string, not whatever an object under it holds.
          odd: { id: { note: 'secret' }, value: { state: 'kept' } },
        },
      },
    } as never;
    const out = sanitizeInspectionEvent(event, false) as unknown as Record<string, unknown>;
    expect(out).toEqual({
      ...stamp,
      type: '@xstate.snapshot',
      event: {
        type: 'task.outcome',
        outcome: {
          ok: false,
          at: 5,
          jitter: 0.5,
          rateLimited: false,
          error: { name: 'ProviderError', code: 'PROVIDER_ERROR', message: OMITTED, status: 400 },
        },
      },
      snapshot: {
        status: 'done',
        value: { running: 'calling' },
        tags: ['busy'],
        output: OMITTED,
        input: OMITTED,
        error: { name: 'Error', message: OMITTED },
        context: {
          id: 't1',
          attempts: 2,
          note: OMITTED,
          taskIds: ['a', 'b'],
          history: [{ status: 'failed', at: 3, reason: 'PROVIDER_ERROR' }],
          nested: { result: OMITTED, count: 3, data: OMITTED, when: OMITTED },
          odd: { id: { note: OMITTED }, value: { state: 'kept' } },
        },
      },
    });
    expect(JSON.stringify(out)).not.toContain('secret');
    // Applying it again changes nothing (the adapter does, for events held until the socket opens).
    expect(sanitizeInspectionEvent(out as never, false)).toEqual(out);
  });

  it('drops API keys, authorization and headers at any depth, with includeData too', () => {
    const event = {
      ...stamp,
      type: '@xstate.event',
      event: {
        type: 'custom',
        apiKey: 'sk-1',
        config: {
          api_key: 'sk-2',
          defaultHeaders: { 'x-api-key': 'sk-3' },
          deep: [{ Authorization: 'Bearer sk-4', headers: { cookie: 'sk-5' }, tokens: 12 }],
          request: { 'X-Api-Key': 'sk-6', password: 'sk-7', token: 'sk-8' },
        },
        prompt: 'kept with includeData',
      },
    } as never;
    for (const includeData of [false, true]) {
      const text = JSON.stringify(sanitizeInspectionEvent(event, includeData));
      expect(text).not.toMatch(/sk-\d/);
      expect(text).toContain('"tokens":12');
      expect(text.includes('kept with includeData')).toBe(includeData);
    }
  });

  it('is total: cycles, depth, BigInt, throwing getters and toJSON, odd input', () => {
    const cycle: Record<string, unknown> = { id: 'c' };
    cycle.self = cycle;
    let deep: Record<string, unknown> = { id: 'leaf' };
    for (let i = 0; i < 30; i++) deep = { next: deep };
    const throwing = {
      get boom(): never {
        throw new Error('getter');
      },
      toJSON: undefined,
    };
    const badJSON = {
      toJSON() {
        throw new Error('toJSON');
      },
    };
    const actor = { toJSON: () => ({ xstate$$type: 1, id: 'child' }), secretField: 'x' };
    const event = {
      ...stamp,
      type: '@xstate.event',
      event: { type: 'odd', cycle, deep, big: 10n, throwing, badJSON, actor, fn: () => 1 },
    } as never;
    const out = sanitizeInspectionEvent(event, true) as unknown as {
      event: Record<string, unknown>;
    };
    expect(out.event.cycle).toEqual({ id: 'c', self: '[circular]' });
    expect(JSON.stringify(out.event.deep)).toContain('[truncated]');
    expect(out.event.big).toBe(10);
    expect(out.event.throwing).toEqual({ boom: OMITTED });
    expect(out.event.badJSON).toBe(OMITTED);
    expect(out.event.actor).toEqual({ xstate$$type: 1, id: 'child' });
    expect(out.event).not.toHaveProperty('fn');
    expect(() => JSON.stringify(out)).not.toThrow();
    // Its own placeholders survive another pass, with or without includeData.
    const again = sanitizeInspectionEvent(out as never, false) as unknown as typeof out;
    expect(again.event.cycle).toEqual({ id: 'c', self: '[circular]' });
    expect(JSON.stringify(again.event.deep)).toContain('[truncated]');

    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('ownKeys');
        },
      },
    );
    expect(() => sanitizeInspectionEvent(hostile as never, false)).not.toThrow();
    expect(
      sanitizeInspectionEvent({ ...stamp, type: '@xstate.event', event: hostile } as never, false),
    ).toMatchObject({ event: OMITTED });
    expect(() => sanitizeInspectionEvent(null as never, false)).not.toThrow();
  });
});
