import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { Engine } from '../../src/runtime/engine.js';
import { type Clock, seededRandom } from '../../src/time/clock.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance } from '../helpers/virtual-time.js';
import { mostInAnyWindow } from '../helpers/window-counts.js';

/**
 * The wall clock is set an hour back, then two hours forward, in the middle of a run. The rate
 * windows run on the monotonic reading, so the run neither stalls (entries stamped "in the
 * future") nor bursts (every entry "an hour old"). Time is virtual: `SimulatedClock` is the
 * monotonic clock and the timers; the wall clock is it plus an offset the test moves.
 */
function jumpingClock(withMonotonic: boolean) {
  const sim = new SimulatedClock();
  sim.set(Date.UTC(2026, 0, 1));
  let offset = 0;
  const clock: Clock = {
    now: () => sim.now() + offset,
    ...(withMonotonic ? { monotonic: () => sim.now() } : {}),
    setTimeout: (fn, ms) => sim.setTimeout(fn, ms),
    clearTimeout: (handle) => sim.clearTimeout(handle as number),
  };
  return { sim, clock, jump: (ms: number) => (offset += ms) };
}

const LIMIT = 5;
const WINDOW_MS = 1_000;
const TASKS = 60;

async function run(withMonotonic: boolean) {
  const { sim, clock, jump } = jumpingClock(withMonotonic);
  // The server's clock: the simulated one, which no jump moves.
  const client = new ScriptedClient(sim, () => ({ kind: 'ok', latencyMs: 20 }));
  const engine = new Engine(
    {
      maxConcurrent: 20,
      windows: [{ requests: LIMIT, windowMs: WINDOW_MS }],
      windowMarginMs: 0,
    },
    { client, clock, random: seededRandom(1), taskTypes: [echoTaskType] },
  );
  engine.start();
  const t0 = sim.now();
  await engine.submitMany(
    Array.from({ length: TASKS }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
  );
  await advance(sim, 2_500, 10);
  jump(-3_600_000);
  await advance(sim, 3_000, 10);
  jump(7_200_000);
  await advance(sim, 10_000, 10);
  // Starts on the monotonic (simulated) time, which is what the server sees.
  const starts = client.log.map((call) => (call.sentAt ?? call.at) - t0);
  await engine.stop({ force: true });
  return starts;
}

describe('a wall clock that jumps mid-run', () => {
  it('neither stalls nor bursts: the windows run on the monotonic clock', async () => {
    const starts = await run(true);
    expect(starts).toHaveLength(TASKS);
    expect(mostInAnyWindow(starts, WINDOW_MS)).toBe(LIMIT);
    // No stall: the last start is where an undisturbed run puts it, ⌊(n − 1) / R⌋ windows in.
    expect(Math.max(...starts)).toBe(Math.floor((TASKS - 1) / LIMIT) * WINDOW_MS);
  });

  it('without a monotonic reading the same run stalls for the hour (what the reading prevents)', async () => {
    const starts = await run(false);
    expect(starts.length).toBeLessThan(TASKS);
  });
});
