import { describe, expect, it } from 'vitest';
import { DEFAULT_WINDOW_MARGIN_MS } from '../../src/config/engine-options.js';
import type { AITaskManagerOptions } from '../../src/config/manager-options.js';
import { createTestManager } from '../helpers/manager.js';
import { advance } from '../helpers/virtual-time.js';

/**
 * Per-model lines through the public API: the case (tasks for gpt-4o-mini waited 120 s
 * behind a gpt-4o task held by gpt-4o's own 2-per-minute window) and where the line stays strict.
 */

const echo = (model: string, i: number, priority?: 'LOW' | 'HIGH') => ({
  taskType: 'ECHO',
  data: { prompt: `${model} ${i}` },
  config: { model },
  ...(priority === undefined ? {} : { priority }),
});

function setup(options: AITaskManagerOptions) {
  const t = createTestManager({ maxConcurrent: 10, ...options }, () => ({
    kind: 'ok',
    latencyMs: 100,
  }));
  t.manager.start();
  const started = () =>
    t.events.filter((e) => e.type === 'task.started').map((e) => (e as { taskId: string }).taskId);
  return { ...t, started };
}

describe('per-model lines', () => {
  it('runs other models while one waits for its own window, and says what that model waits for', async () => {
    const { manager, clock, started } = setup({
      modelLimits: { 'gpt-4o': { windows: [{ requests: 2, windowMs: 10_000 }] } },
    });
    const t0 = clock.now();
    const big = await manager.submitBatch([0, 1, 2].map((i) => echo('gpt-4o', i, 'HIGH')));
    const small = await manager.submitBatch([0, 1, 2, 3].map((i) => echo('gpt-4o-mini', i, 'LOW')));
    await advance(clock, 50, 10);
    expect(started()).toEqual([big[0], big[1], ...small]);

    const stats = await manager.getStatistics();
    expect(stats.queue.size).toBe(1);
    expect(stats.queue.heldModels).toEqual([
      {
        model: 'gpt-4o',
        taskId: big[2],
        waitingFor: 'rateLimit',
        // Counted from its send, plus the margin.
        waitingUntil: new Date(t0 + 10_000 + DEFAULT_WINDOW_MARGIN_MS),
      },
    ]);
    const info = await manager.getTaskStatus(big[2] as string);
    expect(info).toMatchObject({
      waitingFor: 'rateLimit',
      waitingUntil: new Date(t0 + 10_000 + DEFAULT_WINDOW_MARGIN_MS),
    });

    // A task submitted while gpt-4o is held starts at once when its model has room.
    const late = await manager.submitTask(echo('gpt-4o-mini', 9, 'LOW'));
    await advance(clock, 10, 10);
    expect(started()).toContain(late);
    expect(started()).not.toContain(big[2]);

    await advance(clock, 10_000, 100);
    expect(started()).toContain(big[2]);
    expect((await manager.getStatistics()).queue.heldModels).toEqual([]);
    await manager.stop({ force: true });
  });

  it('keeps the line strict when the head waits for something every model shares', async () => {
    // A global window: the head's wait is shared, so nothing behind it goes first.
    const { manager, clock, started } = setup({ windows: [{ requests: 2, windowMs: 10_000 }] });
    const big = await manager.submitBatch([0, 1, 2].map((i) => echo('gpt-4o', i, 'HIGH')));
    const small = await manager.submitBatch([0, 1].map((i) => echo('gpt-4o-mini', i, 'LOW')));
    await advance(clock, 50, 10);
    expect(started()).toEqual([big[0], big[1]]);
    const stats = await manager.getStatistics();
    expect(stats.queue).toMatchObject({ waitingFor: 'rateLimit', heldModels: [] });
    await advance(clock, 10_000, 100);
    expect(started()).toEqual([big[0], big[1], big[2], small[0]]);
    await manager.stop({ force: true });
  });

  it('frees no slot for another model: a task behind a held head still waits for a slot', async () => {
    // One slot: the gpt-4o head is held by its own window, but it would also need the slot the
    // running task holds, so the mini task behind it waits for the slot as well (the line is
    // strict on what is shared).
    const { manager, clock, started } = setup({
      maxConcurrent: 1,
      modelLimits: { 'gpt-4o': { windows: [{ requests: 1, windowMs: 10_000 }] } },
    });
    const big = await manager.submitBatch([0, 1].map((i) => echo('gpt-4o', i, 'HIGH')));
    const small = await manager.submitTask(echo('gpt-4o-mini', 0, 'LOW'));
    await advance(clock, 50, 10);
    expect(started()).toEqual([big[0]]);
    // The first call ends: the slot is free, gpt-4o's window is not, so the mini task goes.
    await advance(clock, 100, 10);
    expect(started()).toEqual([big[0], small]);
    await manager.stop({ force: true });
  });
});
