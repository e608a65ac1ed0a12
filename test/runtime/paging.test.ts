/**
 * The waiting line pages from a durable store (issue 16): with `waitingInMemory: W`, at most W
 * due tasks stay in memory and the rest wait in the SQLite file, read back a page at a time, in
 * the same strict order (priority, then submission) as without paging. Virtual time.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatedClock } from 'xstate';
import type { Priority } from '../../machines/task-status.js';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { TaskStore } from '../../src/stores/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, advanceUntil, createClock, flush } from '../helpers/virtual-time.js';

/** Virtual time: the store answers within the turn, on this thread (not its worker). */
const ON_THIS_THREAD = { thread: 'main' } as const;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aitq-paging-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const PRIORITIES: readonly Priority[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];
const RANK: Record<Priority, number> = { URGENT: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

interface Run {
  engine: Engine;
  client: ScriptedClient;
  events: EngineEvent[];
}

async function openEngine(
  store: TaskStore,
  clock: SimulatedClock,
  settings: EngineSettingsInput = {},
  script: (prompt: string) => 'ok' | 'fail' = () => 'ok',
): Promise<Run> {
  const client = new ScriptedClient(clock, (request) => {
    const prompt = String((request as { messages: { content: string }[] }).messages[0]?.content);
    return script(prompt) === 'ok'
      ? { kind: 'ok', latencyMs: 10, content: prompt }
      : { kind: 'error', status: 503, latencyMs: 10 };
  });
  const engine = new Engine(
    { model: 'm', maxConcurrent: 1, waitingInMemory: 8, ...settings },
    { client, clock, random: seededRandom(5), store, taskTypes: [echoTaskType] },
  );
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  await engine.open();
  return { engine, client, events };
}

function promptsOf(client: ScriptedClient): string[] {
  return client.log.map((c) =>
    String((c.request as { messages: { content: string }[] }).messages[0]?.content),
  );
}

/** `count` tasks named by their priority and number, priorities cycling; returns the inputs. */
function tasks(count: number, from = 0) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const priority = PRIORITIES[i % PRIORITIES.length] as Priority;
    return { taskType: 'ECHO', data: { prompt: `${priority}-${i}` }, priority };
  });
}

/** The order a strict line admits these prompts in: priority, then submission. */
function admissionOrder(prompts: readonly string[]): string[] {
  return prompts
    .map((p, i) => ({ p, i, rank: RANK[p.split('-')[0] as Priority] }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((e) => e.p);
}

async function runAll(run: Run, clock: SimulatedClock, count: number): Promise<void> {
  await advanceUntil(
    clock,
    () => run.events.filter((e) => e.type === 'task.completed').length === count,
  );
}

describe('a line that pages from SQLite', () => {
  it('keeps the window in memory, the rest on disk, and admits in strict order', async () => {
    const clock = createClock();
    const run = await openEngine(openSqliteStore(join(dir, 'a.db'), ON_THIS_THREAD), clock);
    run.engine.pause();
    run.engine.start();
    const inputs = tasks(40);
    await run.engine.submitMany(inputs);
    expect(run.engine.waitingCount).toBe(40);
    expect(run.engine.waitingByPriority()).toEqual({ URGENT: 10, HIGH: 10, MEDIUM: 10, LOW: 10 });
    run.engine.resume();
    await runAll(run, clock, 40);
    expect(promptsOf(run.client)).toEqual(admissionOrder(inputs.map((t) => t.data.prompt)));
    expect(run.engine.waitingCount).toBe(0);
    await run.engine.stop();
    await run.engine.store.close();
  });

  it('lets later urgent tasks in before the backlog, pushing the last ones out', async () => {
    const clock = createClock();
    const run = await openEngine(openSqliteStore(join(dir, 'b.db'), ON_THIS_THREAD), clock);
    run.engine.pause();
    run.engine.start();
    const low = Array.from({ length: 20 }, (_, i) => ({
      taskType: 'ECHO',
      data: { prompt: `LOW-${i}` },
      priority: 'LOW' as const,
    }));
    const urgent = Array.from({ length: 12 }, (_, i) => ({
      taskType: 'ECHO',
      data: { prompt: `URGENT-${20 + i}` },
      priority: 'URGENT' as const,
    }));
    await run.engine.submitMany(low);
    for (const task of urgent) await run.engine.submit(task);
    run.engine.resume();
    await runAll(run, clock, 32);
    expect(promptsOf(run.client)).toEqual([
      ...urgent.map((t) => t.data.prompt),
      ...low.map((t) => t.data.prompt),
    ]);
    await run.engine.stop();
    await run.engine.store.close();
  });

  it('keeps order with retries that leave and rejoin the line', async () => {
    const clock = createClock();
    const failedOnce = new Set<string>();
    const run = await openEngine(
      openSqliteStore(join(dir, 'c.db'), ON_THIS_THREAD),
      clock,
      { maxConcurrent: 2, taskDefaults: { maxRetries: 2, retryDelay: 0.05 } },
      (prompt) => {
        if (prompt.endsWith('0') && !failedOnce.has(prompt)) {
          failedOnce.add(prompt);
          return 'fail';
        }
        return 'ok';
      },
    );
    run.engine.start();
    await run.engine.submitMany(tasks(30));
    await runAll(run, clock, 30);
    const completed = run.events.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : []));
    expect(new Set(completed).size).toBe(30);
    expect(failedOnce.size).toBe(3);
    await run.engine.stop();
    await run.engine.store.close();
  });

  it('reads a task that went to disk while every task in memory had started', async () => {
    const clock = createClock();
    const run = await openEngine(openSqliteStore(join(dir, 'h.db'), ON_THIS_THREAD), clock, {
      maxConcurrent: 4,
      waitingInMemory: 2,
    });
    run.engine.start();
    await run.engine.submitMany(tasks(4));
    await flush();
    // The four run; the window's end stays where the last page ended, so this one goes to disk.
    await run.engine.submit({ taskType: 'ECHO', data: { prompt: 'LOW-4' }, priority: 'LOW' });
    await runAll(run, clock, 5);
    expect(run.engine.waitingCount).toBe(0);
    await run.engine.stop();
    await run.engine.store.close();
  });

  it('cancels a task that waits on disk; it never runs', async () => {
    const clock = createClock();
    const run = await openEngine(openSqliteStore(join(dir, 'd.db'), ON_THIS_THREAD), clock);
    run.engine.pause();
    run.engine.start();
    const ids = await run.engine.submitMany(tasks(20));
    const last = ids[19] as string;
    expect(await run.engine.cancel(last)).toBe(true);
    expect((await run.engine.getTask(last))?.status).toBe('cancelled');
    expect(run.engine.waitingCount).toBe(19);
    run.engine.resume();
    await runAll(run, clock, 19);
    expect(run.client.log).toHaveLength(19);
    expect(promptsOf(run.client)).not.toContain('LOW-19');
    await run.engine.stop();
    await run.engine.store.close();
  });

  it('after a restart, reads back only the window and resumes the backlog in order', async () => {
    const path = join(dir, 'e.db');
    const clock = createClock();
    const first = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    first.engine.pause();
    first.engine.start();
    const inputs = tasks(60);
    await first.engine.submitMany(inputs);
    await first.engine.stop();
    await first.engine.store.close();

    const second = await openEngine(openSqliteStore(path, ON_THIS_THREAD), clock);
    expect(second.events.find((e) => e.type === 'queue.recovered')).toMatchObject({
      requeued: 60,
    });
    expect(second.engine.waitingCount).toBe(60);
    second.engine.start();
    await runAll(second, clock, 60);
    expect(promptsOf(second.client)).toEqual(admissionOrder(inputs.map((t) => t.data.prompt)));
    await advance(clock, 10);
    await second.engine.stop();
    await second.engine.store.close();
  });

  it('has no limit on the waiting tasks with a durable store unless one is set', async () => {
    const clock = createClock();
    const unlimited = await openEngine(openSqliteStore(join(dir, 'f.db'), ON_THIS_THREAD), clock);
    expect(unlimited.engine.currentSettings.maxQueueSize).toBe(Number.POSITIVE_INFINITY);
    unlimited.engine.adjustSettings({ maxConcurrent: 2 });
    expect(unlimited.engine.currentSettings.maxQueueSize).toBe(Number.POSITIVE_INFINITY);
    await unlimited.engine.stop();
    await unlimited.engine.store.close();
    const limited = await openEngine(openSqliteStore(join(dir, 'g.db'), ON_THIS_THREAD), clock, {
      maxQueueSize: 5,
    });
    limited.engine.pause();
    limited.engine.start();
    await expect(limited.engine.submitMany(tasks(6))).rejects.toThrow(/maxQueueSize/);
    await limited.engine.stop();
    await limited.engine.store.close();
  });
});
