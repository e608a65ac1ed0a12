import { describe, expect, it } from 'vitest';
import { ADMISSIONS_PER_TURN } from '../../src/runtime/admission-loop.js';
import { createTestEngine } from '../helpers/engine.js';
import { flush } from '../helpers/virtual-time.js';

describe('admission lets the event loop run', () => {
  it('takes about ADMISSIONS_PER_TURN tasks from the line, then waits for a timer of the injected clock', async () => {
    // A client that answers at once: without a yield, admitting and settling would be one chain
    // of promise callbacks until the line is empty.
    const { engine, clock, events } = createTestEngine(
      { maxConcurrent: 50, maxQueueSize: 5_000 },
      () => ({
        kind: 'ok',
      }),
    );
    const total = ADMISSIONS_PER_TURN * 4 + 10;
    await engine.submitMany(
      Array.from({ length: total }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `${i}` } })),
    );
    const started = () => events.filter((e) => e.type === 'task.started').length;
    const turns: number[] = [];
    for (let turn = 0; turn < 10 && started() < total; turn++) {
      const before = started();
      // Promise callbacks only: no timer may fire, so this is one turn of the event loop.
      await flush(5_000);
      turns.push(started() - before);
      clock.increment(0);
    }
    expect(started()).toBe(total);
    // At most the tasks of one turn plus the slots that were already running when it yielded.
    for (const count of turns) expect(count).toBeLessThanOrEqual(ADMISSIONS_PER_TURN + 50);
    // It went on after each yield: the line was emptied in a handful of turns.
    expect(turns.length).toBeLessThanOrEqual(Math.ceil(total / ADMISSIONS_PER_TURN) + 1);
    await engine.stop();
  });
});
