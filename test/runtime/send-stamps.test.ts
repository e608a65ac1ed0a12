/**
 * A request counts in the windows from when it is handed to the HTTP client (plus the margin),
 * not from its admission: the first calls of a process reach the server later than the ones
 * after (an SDK's first request), and a window stamped at admission lets the server see a burst.
 * Virtual time; the scripted client's `sendDelayMs` models the time before a request is sent.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { Engine } from '../../src/runtime/engine.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { type Clock, seededRandom } from '../../src/time/clock.js';
import { createTestEngine } from '../helpers/engine.js';
import type { Script } from '../helpers/scripted-client.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance } from '../helpers/virtual-time.js';
import { mostInAnyWindow } from '../helpers/window-counts.js';

/** Virtual time: the store answers within the turn, on this thread (not its worker). */
const ON_THIS_THREAD = { thread: 'main' } as const;

const LIMIT = 10;
const WINDOW_MS = 1_000;

/** The first call of the process is sent 120 ms after it starts; the others at once. */
function slowFirstSend(_request: unknown, index: number): Script {
  return { kind: 'ok', latencyMs: 30, sendDelayMs: index === 0 ? 120 : 0 };
}

describe('requests count from when they are sent', () => {
  it('a late first send does not make a burst on the server’s clock', async () => {
    const { engine, clock, client } = createTestEngine(
      { maxConcurrent: 20, windows: [{ requests: LIMIT, windowMs: WINDOW_MS }] },
      slowFirstSend,
    );
    await engine.submitMany(
      Array.from({ length: 25 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
    );
    await advance(clock, 4_000, 5);
    const sent = client.log.map((c) => c.sentAt as number);
    expect(sent).toHaveLength(25);
    expect(mostInAnyWindow(sent, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    await engine.stop({ force: true });
  });

  it('stamped at admission (no send time known), the same run puts 11 in a window', async () => {
    // What the stamp prevents: a client that never calls onSend leaves the admission time.
    const { engine, clock, client } = createTestEngine(
      { maxConcurrent: 20, windows: [{ requests: LIMIT, windowMs: WINDOW_MS }] },
      slowFirstSend,
    );
    const chat = client.chat.bind(client);
    client.chat = (request, options) => chat(request, { signal: options.signal });
    await engine.submitMany(
      Array.from({ length: 25 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
    );
    await advance(clock, 4_000, 5);
    const sent = client.log.map((c) => c.sentAt as number);
    expect(mostInAnyWindow(sent, WINDOW_MS)).toBe(LIMIT + 1);
    await engine.stop({ force: true });
  });

  it('the margin keeps each request in its window that much longer', async () => {
    const margin = 40;
    const { engine, clock, client } = createTestEngine(
      {
        maxConcurrent: 5,
        windows: [{ requests: 2, windowMs: WINDOW_MS }],
        windowMarginMs: margin,
      },
      () => ({ kind: 'ok', latencyMs: 10 }),
    );
    await engine.submitMany(
      Array.from({ length: 3 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
    );
    await advance(clock, 2_000, 5);
    const t0 = client.log[0]?.at as number;
    expect(client.log.map((c) => c.at - t0)).toEqual([0, 0, WINDOW_MS + margin]);
    await engine.stop({ force: true });
  });
});

describe('the ledger keeps wall times; the windows run on the monotonic clock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aitq-stamps-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A clock whose monotonic reading is far from its wall time (another process's origin). */
  function clockWith(sim: SimulatedClock, monotonicOffset: number): Clock {
    return {
      now: () => sim.now(),
      monotonic: () => sim.now() + monotonicOffset,
      setTimeout: (fn, ms) => sim.setTimeout(fn, ms),
      clearTimeout: (handle) => sim.clearTimeout(handle as number),
    };
  }

  it('a window filled before a restart is still full after it, whatever the monotonic origin', async () => {
    const path = join(dir, 'q.db');
    const settings: EngineSettingsInput = {
      maxConcurrent: 5,
      windows: [{ requests: 2, windowMs: 60_000 }],
      pacing: false,
    };
    const sim = new SimulatedClock();
    sim.set(Date.UTC(2026, 0, 1));
    const first = new Engine(settings, {
      client: new ScriptedClient(sim, () => ({ kind: 'ok', latencyMs: 10 })),
      clock: clockWith(sim, -5_000_000),
      random: seededRandom(1),
      store: openSqliteStore(path, ON_THIS_THREAD),
      taskTypes: [echoTaskType],
    });
    await first.open();
    first.start();
    await first.submitMany([0, 1].map((i) => ({ taskType: 'ECHO', data: { prompt: `a${i}` } })));
    await advance(sim, 1_000, 10);
    await first.stop();
    await first.store.close();

    // The next process: its monotonic clock starts elsewhere.
    const client = new ScriptedClient(sim, () => ({ kind: 'ok', latencyMs: 10 }));
    const second = new Engine(settings, {
      client,
      clock: clockWith(sim, 9_000_000),
      random: seededRandom(2),
      store: openSqliteStore(path, ON_THIS_THREAD),
      taskTypes: [echoTaskType],
    });
    await second.open();
    second.start();
    await second.submit({ taskType: 'ECHO', data: { prompt: 'b' } });
    await advance(sim, 1_000, 10);
    // The two calls of the first process still fill the window.
    expect(client.log).toHaveLength(0);
    expect(second.headWait()).toMatchObject({ waitingFor: 'rateLimit' });
    await advance(sim, 60_000, 100);
    expect(client.log).toHaveLength(1);
    await second.stop();
    await second.store.close();
  });
});
