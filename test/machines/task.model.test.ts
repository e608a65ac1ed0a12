import { describe, expect, it } from 'vitest';
import type { SimulatedClock } from 'xstate';
import { getAdjacencyMap, getShortestPaths } from 'xstate/graph';
import { type TaskMachineEvent, taskMachine } from '../../machines/task.machine.js';
import type { TaskStatus } from '../../machines/task-status.js';
import type { Engine } from '../../src/runtime/engine.js';
import { createTestEngine } from '../helpers/engine.js';
import type { Script } from '../helpers/scripted-client.js';
import { advance, flush } from '../helpers/virtual-time.js';

/**
 * Model-based test of the task machine against the running engine: every transition of the
 * lifecycle graph (xstate/graph), reached by its shortest path, is replayed through the engine's
 * public methods (submit, cancel, pauseTask, resumeTask, pause/resume of the queue) with a scripted
 * client deciding each attempt's outcome, on virtual time. After every step the task's stored
 * status and its history (`historyOf`) must be the path's states, in order.
 */

const retry = { maxRetries: 1, maxRateLimitRetries: 1, retryDelay: 1, maxRetryDelay: 60 };
const input = { id: 't', at: 0, retry };

const error = { name: 'ProviderError', code: 'PROVIDER_ERROR', message: 'boom' };

/** An attempt's failure as the engine reports a provider error of `status`. */
function failed(status: number, retryable: boolean, extra: { retryAfterMs?: number } = {}) {
  const rateLimited = status === 429;
  return {
    type: 'task.outcome',
    outcome: {
      ok: false,
      at: 2,
      error: { ...error, retryable, status },
      rateLimited,
      jitter: 0.5,
      ...extra,
    },
  } as const;
}

/** The kinds of event the model knows, each named by how the engine is made to produce it. */
const MODEL_EVENTS = {
  admit: { type: 'task.admit', at: 1e12 },
  ok: { type: 'task.outcome', outcome: { ok: true, at: 2 } },
  retryable: failed(503, true),
  fatal: failed(400, false),
  rateLimited: failed(429, true, { retryAfterMs: 100 }),
  pause: { type: 'task.pause', at: 3 },
  resume: { type: 'task.resume', at: 4 },
  cancel: { type: 'task.cancel', at: 5 },
  expire: {
    type: 'task.expire',
    at: 6,
    error: { ...error, retryable: false, code: 'TASK_TIMEOUT' },
  },
} satisfies Record<string, TaskMachineEvent>;

type EventName = keyof typeof MODEL_EVENTS;

function nameOf(event: TaskMachineEvent): EventName {
  const found = (Object.keys(MODEL_EVENTS) as EventName[]).find(
    (name) => JSON.stringify(MODEL_EVENTS[name]) === JSON.stringify(event),
  );
  if (found === undefined) throw new Error(`not a model event: ${JSON.stringify(event)}`);
  return found;
}

type TaskSnapshot = ReturnType<typeof taskMachine.transition>;

/**
 * A state of the model: where the task is, what it has used up, and (while paused) where it
 * returns to. History, times and errors are left out, so the graph stays finite.
 */
function serialize(snapshot: TaskSnapshot): string {
  const c = snapshot.context;
  const resumeTo = snapshot.value === 'paused' ? c.resumeTo : null;
  return JSON.stringify([snapshot.value, c.retriesUsed, c.rateLimitRetries, resumeTo]);
}

interface ModelStep {
  event: EventName;
  /** The state the machine is in after the event. */
  status: TaskStatus;
}

interface ModelPath {
  /** `from --event--> to`, with the model state's counters. */
  name: string;
  from: string;
  steps: ModelStep[];
}

const graphOptions = {
  input,
  events: Object.values(MODEL_EVENTS) as TaskMachineEvent[],
  serializeState: serialize as never,
};

/**
 * One path per transition of the graph (an event that changes the model state): the shortest path
 * to its source state, then that event. Events a state ignores are not transitions.
 */
function transitionPaths(): ModelPath[] {
  const adjacency = getAdjacencyMap(taskMachine, graphOptions);
  const shortest = new Map(
    getShortestPaths(taskMachine, graphOptions).map((path) => [
      serialize(path.state as TaskSnapshot),
      // The first step of every path is the machine's own `xstate.init`.
      path.steps
        .filter((s) => (s.event as { type: string }).type !== 'xstate.init')
        .map((s) => ({
          event: nameOf(s.event as TaskMachineEvent),
          status: (s.state as TaskSnapshot).value as TaskStatus,
        })),
    ]),
  );
  const paths: ModelPath[] = [];
  for (const [from, node] of Object.entries(adjacency)) {
    const prefix = shortest.get(from);
    if (prefix === undefined) throw new Error(`no shortest path to ${from}`);
    for (const transition of Object.values(node.transitions)) {
      const { event, state } = transition as { event: TaskMachineEvent; state: TaskSnapshot };
      const to = serialize(state);
      if (to === from) continue;
      const name = nameOf(event);
      paths.push({
        name: `${from} --${name}--> ${to}`,
        from,
        steps: [...prefix, { event: name, status: state.value as TaskStatus }],
      });
    }
  }
  return paths;
}

/**
 * Transitions the engine cannot be made to take from outside, by source status and event.
 *
 * `paused --expire-->`: the machine lets a whole-task deadline fail a paused task, but the engine
 * checks deadlines only for tasks in the waiting line (`takeExpired` at admission); a paused task
 * is held out of the line, so its deadline can pass and it stays paused. It expires only once
 * `resumeTask` puts it back in line (from `queued` or `retrying`). The test below shows it.
 *
 * Not a transition, so not in the list: `retrying --admit-->` before the retry is due (the
 * machine's `isDue` guard refuses it and nothing changes). The engine only admits due retries.
 */
const NOT_PRODUCIBLE: ReadonlyMap<string, string> = new Map([
  [
    'paused/expire',
    'a paused task is out of the waiting line, where the engine checks deadlines; it expires only after resumeTask',
  ],
]);

function producible(path: ModelPath): boolean {
  const last = path.steps.at(-1) as ModelStep;
  const from = (JSON.parse(path.from) as [TaskStatus])[0];
  return !NOT_PRODUCIBLE.has(`${from}/${last.event}`);
}

// ─── the driver ──────────────────────────────────────────────────────────────────────────────

const LATENCY_MS = 100;
/** The whole-task deadline of tasks whose path ends by expiring; every earlier step ends sooner. */
const DEADLINE_S = 30;

/** What the client does with the attempt that the next step ends (or leaves running). */
function scriptFor(next: EventName | undefined): Script {
  switch (next) {
    case 'ok':
      return { kind: 'ok', latencyMs: LATENCY_MS, content: 'done' };
    case 'retryable':
      return { kind: 'error', status: 503, latencyMs: LATENCY_MS };
    case 'fatal':
      return { kind: 'error', status: 400, latencyMs: LATENCY_MS };
    case 'rateLimited':
      return { kind: 'error', status: 429, retryAfterMs: 100, latencyMs: LATENCY_MS };
    default:
      // Cancelled while in flight, or the path ends with the task running.
      return { kind: 'hang' };
  }
}

interface Run {
  engine: Engine;
  clock: SimulatedClock;
  id: string;
  /** Scripts for the attempts to come, in order. */
  plan: Script[];
}

async function statusOf(run: Run): Promise<TaskStatus | undefined> {
  return (await run.engine.getTask(run.id))?.status;
}

/** Makes the engine take one step of the path. The queue is paused between steps. */
async function perform(run: Run, step: ModelStep, next: EventName | undefined): Promise<void> {
  const { engine, clock } = run;
  switch (step.event) {
    case 'admit':
      // The queue admits the task as soon as it may (a retry once its backoff has passed).
      run.plan.push(scriptFor(next));
      engine.resume();
      await flush();
      for (let i = 0; i < 10_000 && (await statusOf(run)) !== 'running'; i++) {
        await advance(clock, 10, 10);
      }
      engine.pause();
      break;
    case 'ok':
    case 'retryable':
    case 'fatal':
    case 'rateLimited':
      // The scripted call answers after LATENCY_MS.
      await advance(clock, LATENCY_MS, 10);
      break;
    case 'pause':
      expect(engine.pauseTask(run.id)).toBe(true);
      break;
    case 'resume':
      expect(engine.resumeTask(run.id)).toBe(true);
      break;
    case 'cancel':
      expect(await engine.cancel(run.id)).toBe(true);
      break;
    case 'expire': {
      // Past the deadline with the queue paused, then one admission round.
      const record = await engine.getTask(run.id);
      const due = (record?.createdAt ?? 0) + DEADLINE_S * 1000 + 1 - clock.now();
      await advance(clock, Math.max(1, due), 1000);
      engine.resume();
      await flush();
      engine.pause();
      break;
    }
  }
  await flush();
}

interface Replayed {
  statuses: TaskStatus[];
  history: TaskStatus[];
  attempts: number;
}

async function replay(path: ModelPath): Promise<Replayed> {
  const plan: Script[] = [];
  const expires = path.steps.some((s) => s.event === 'expire');
  const { engine, clock } = createTestEngine(
    {
      maxConcurrent: 1,
      taskDefaults: { ...retry, timeout: 600, ...(expires ? { deadline: DEADLINE_S } : {}) },
    },
    () => plan.shift() ?? { kind: 'hang' },
  );
  engine.pause();
  const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'p' }, id: 'task' });
  const run: Run = { engine, clock, id, plan };
  const statuses: TaskStatus[] = [(await statusOf(run)) as TaskStatus];
  for (const [i, step] of path.steps.entries()) {
    await perform(run, step, path.steps[i + 1]?.event);
    statuses.push((await statusOf(run)) as TaskStatus);
  }
  const record = await engine.getTask(id);
  const history = record === undefined ? [] : engine.historyOf(record).map((h) => h.status);
  await engine.stop({ force: true });
  return { statuses, history, attempts: record?.attempts ?? -1 };
}

describe('task machine paths replayed through the engine (xstate/graph)', () => {
  const paths = transitionPaths();
  const replayed = paths.filter(producible);
  const skipped = paths.filter((p) => !producible(p));

  it('covers every transition of the lifecycle graph: replayed, or named as not producible', () => {
    expect(paths.length).toBeGreaterThan(40);
    // Every status is the source and target of some replayed transition.
    const sources = new Set(replayed.map((p) => (JSON.parse(p.from) as [string])[0]));
    expect([...sources].sort()).toEqual(['paused', 'queued', 'retrying', 'running']);
    const targets = new Set(replayed.map((p) => p.steps.at(-1)?.status));
    expect(targets.size).toBe(7);
    // Every event kind is replayed somewhere.
    const kinds = new Set(replayed.map((p) => p.steps.at(-1)?.event));
    expect([...kinds].sort()).toEqual(Object.keys(MODEL_EVENTS).sort());
    // What is not replayed is exactly what NOT_PRODUCIBLE names, from each paused state.
    expect(skipped.map((p) => p.name).every((n) => /^\["paused".*--expire-->/.test(n))).toBe(true);
    expect(skipped.length).toBeGreaterThan(0);
  });

  it.each(replayed.map((p) => [p.name, p] as const))(
    '%s',
    async (_name, path) => {
      const { statuses, history, attempts } = await replay(path);
      const expected: TaskStatus[] = ['queued', ...path.steps.map((s) => s.status)];
      expect(statuses, 'stored status after each step').toEqual(expected);
      // The history records every change of state; a path's states never repeat consecutively.
      expect(history, 'historyOf').toEqual(expected);
      expect(attempts, 'attempts').toBe(path.steps.filter((s) => s.event === 'admit').length);
    },
    20_000,
  );

  describe('not producible from outside: the engine is driven to it and does not take it', () => {
    it.each(skipped.map((p) => [p.name, p] as const))('%s', async (_name, path) => {
      const from = (JSON.parse(path.from) as [TaskStatus])[0];
      const reason = NOT_PRODUCIBLE.get(`${from}/${path.steps.at(-1)?.event}`);
      expect(reason).toBeDefined();
      const { statuses, history } = await replay(path);
      const before: TaskStatus[] = ['queued', ...path.steps.slice(0, -1).map((s) => s.status)];
      // The deadline passed and the queue ran an admission round: the task is still paused.
      expect(statuses).toEqual([...before, from]);
      expect(history).toEqual(before);
    });

    it('a paused task past its deadline expires once resumed, from queued', async () => {
      const { engine, clock } = createTestEngine({
        maxConcurrent: 1,
        taskDefaults: { ...retry, deadline: 1 },
      });
      engine.pause();
      const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'p' }, id: 'task' });
      expect(engine.pauseTask(id)).toBe(true);
      engine.resume();
      await advance(clock, 5_000, 100);
      expect((await engine.getTask(id))?.status).toBe('paused');
      expect(engine.resumeTask(id)).toBe(true);
      await flush();
      const record = await engine.getTask(id);
      expect(record?.status).toBe('failed');
      expect(record?.error?.code).toBe('TASK_TIMEOUT');
      expect(record && engine.historyOf(record).map((h) => h.status)).toEqual([
        'queued',
        'paused',
        'queued',
        'failed',
      ]);
      await engine.stop();
    });
  });
});
