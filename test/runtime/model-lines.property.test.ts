import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Priority, priorityRank } from '../../machines/task-status.js';
import { createTestEngine } from '../helpers/engine.js';
import { advance } from '../helpers/virtual-time.js';

/**
 * Per-model lines: a task never waits behind a task of another model that waits only for its own
 * model's window, and the order (priority, then submission) holds among the tasks of one model.
 * On virtual time, with a scripted provider that answers every call after `LATENCY_MS`.
 */

const MODELS = ['m0', 'm1', 'm2'] as const;
const LATENCY_MS = 10;
const STEP_MS = 10;

interface Workload {
  windows: { requests: number; windowMs: number }[];
  maxConcurrent: number;
  tasks: { model: number; priority: Priority }[];
}

const workload: fc.Arbitrary<Workload> = fc.record({
  windows: fc.array(
    fc.record({
      requests: fc.integer({ min: 1, max: 4 }),
      windowMs: fc.constantFrom(500, 1_000, 2_000),
    }),
    { minLength: MODELS.length, maxLength: MODELS.length },
  ),
  maxConcurrent: fc.integer({ min: 1, max: 40 }),
  tasks: fc.array(
    fc.record({
      model: fc.integer({ min: 0, max: MODELS.length - 1 }),
      priority: fc.constantFrom<Priority>('LOW', 'MEDIUM', 'HIGH', 'URGENT'),
    }),
    { minLength: 1, maxLength: 30 },
  ),
});

interface Started {
  index: number;
  model: number;
  at: number;
}

async function run(w: Workload) {
  const modelLimits = Object.fromEntries(
    MODELS.map((m, i) => [
      m,
      { windows: [w.windows[i] as { requests: number; windowMs: number }] },
    ]),
  );
  const { engine, clock, events } = createTestEngine(
    // No margin: a request counts from its send (= its admission here) for exactly its window.
    { maxConcurrent: w.maxConcurrent, modelLimits, windowMarginMs: 0 },
    () => ({ kind: 'ok', latencyMs: LATENCY_MS }),
  );
  const t0 = clock.now();
  const ids = await engine.submitMany(
    w.tasks.map((t, i) => ({
      taskType: 'ECHO',
      data: { prompt: `t${i}` },
      priority: t.priority,
      config: { model: MODELS[t.model] },
    })),
  );
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  // Long enough for the slowest model to start every task, with one slot.
  const longest = w.tasks.length * (2_000 + LATENCY_MS + STEP_MS);
  await advance(clock, longest, STEP_MS);
  const started: Started[] = events
    .filter((e) => e.type === 'task.started')
    .map((e) => {
      const index = indexOf.get((e as { taskId: string }).taskId) as number;
      return { index, model: (w.tasks[index] as { model: number }).model, at: e.at - t0 };
    });
  await engine.stop({ force: true });
  return started;
}

/** Admission order: higher priority first, then submission order. */
function isAhead(w: Workload, a: number, b: number): boolean {
  const pa = priorityRank((w.tasks[a] as { priority: Priority }).priority);
  const pb = priorityRank((w.tasks[b] as { priority: Priority }).priority);
  return pa !== pb ? pa > pb : a < b;
}

describe('per-model lines (property)', () => {
  it('a task waits only behind its own model, or behind a model that waits for something shared', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (w) => {
        const started = await run(w);
        expect(started).toHaveLength(w.tasks.length);
        const startOf = new Map(started.map((s) => [s.index, s.at]));
        for (const b of started) {
          for (let a = 0; a < w.tasks.length; a++) {
            if (a === b.index || !isAhead(w, a, b.index)) continue;
            const aStart = startOf.get(a) as number;
            if (aStart <= b.at) continue;
            // `a` was before `b` in line and still waiting when `b` started.
            const model = (w.tasks[a] as { model: number }).model;
            expect(model, `task ${b.index} started before ${a} of its own model`).not.toBe(b.model);
            // ... so `a`'s model had no room in its own window at that moment.
            const { requests, windowMs } = w.windows[model] as {
              requests: number;
              windowMs: number;
            };
            const inWindow = started.filter(
              (s) => s.model === model && s.at <= b.at && s.at > b.at - windowMs,
            ).length;
            expect(inWindow, `task ${b.index} of m${b.model} overtook ${a} of m${model}`).toBe(
              requests,
            );
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('with slots to spare, each model runs as if it were alone: the k-th starts at floor(k / R)·W', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (input) => {
        const w = { ...input, maxConcurrent: input.tasks.length };
        const started = await run(w);
        for (let model = 0; model < MODELS.length; model++) {
          const { requests, windowMs } = w.windows[model] as { requests: number; windowMs: number };
          const mine = w.tasks
            .map((t, index) => ({ ...t, index }))
            .filter((t) => t.model === model)
            .sort((a, b) => (isAhead(w, a.index, b.index) ? -1 : 1));
          const at = new Map(started.map((s) => [s.index, s.at]));
          mine.forEach((t, k) => {
            expect(at.get(t.index)).toBe(Math.floor(k / requests) * windowMs);
          });
        }
      }),
      { numRuns: 60 },
    );
  });
});
