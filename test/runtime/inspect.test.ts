import { describe, expect, it, vi } from 'vitest';
import type { InspectionEvent } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { Engine } from '../../src/runtime/engine.js';
import { seededRandom } from '../../src/time/clock.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, advanceUntil, createClock } from '../helpers/virtual-time.js';

/** An engine on virtual time whose calls all answer after 10 ms, and what its inspector saw. */
function inspectedEngine(settings: EngineSettingsInput) {
  const clock = createClock();
  const seen: InspectionEvent[] = [];
  const engine = new Engine(settings, {
    client: new ScriptedClient(clock, () => ({ kind: 'ok', latencyMs: 10 })),
    clock,
    random: seededRandom(1),
    taskTypes: [echoTaskType],
    inspect: (event) => seen.push(event),
  });
  engine.start();
  return { clock, seen, engine };
}

describe('inspection', () => {
  it('an inspector on the root sees the limiter actors, every task actor and their events', async () => {
    const { clock, seen, engine } = inspectedEngine({ maxConcurrent: 2, requestsPerMinute: 100 });
    const id = await engine.submit({ taskType: 'ECHO', data: { prompt: 'x' } });
    await advance(clock, 20);
    const actors = seen
      .filter((e) => e.type === '@xstate.actor')
      .map((e) => (e.actorRef as unknown as { id: string }).id);
    expect(actors).toEqual(
      expect.arrayContaining(['concurrency', 'rateLimit', 'budget', `task-${id}`]),
    );
    const events = seen
      .filter(
        (e): e is Extract<InspectionEvent, { type: '@xstate.event' }> => e.type === '@xstate.event',
      )
      .map((e) => e.event.type);
    expect(events).toEqual(
      expect.arrayContaining([
        'task.submitted',
        'slot.acquire',
        'rate.reserve',
        'task.admit',
        'task.outcome',
        'slot.release',
      ]),
    );
    await engine.stop();
  });

  it('attempts that end in the same turn reach the supervisor as one task.settled event', async () => {
    // Every call answers after the same 10 ms: three attempts end in one turn.
    const { clock, seen, engine } = inspectedEngine({ maxConcurrent: 3 });
    const ids = await engine.submitMany(
      Array.from({ length: 6 }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `p${i}` } })),
    );
    await advance(clock, 15);
    const settledEvents = seen.filter(
      (e) => e.type === '@xstate.event' && e.event.type === 'task.settled',
    );
    expect(settledEvents).toHaveLength(1);
    // The one event admitted all three that waited, in submission order.
    const started = ids.map((id) => engine.store.get(id));
    const statuses = (await Promise.all(started)).map((r) => r?.status);
    expect(statuses).toEqual([
      'completed',
      'completed',
      'completed',
      'running',
      'running',
      'running',
    ]);
    await advance(clock, 20);
    expect((await engine.store.countByStatus()).completed).toBe(6);
    await engine.stop();
  });

  it('admits the same tasks in the same order with and without an inspector (event sent or not)', async () => {
    const run = async (inspect: boolean) => {
      const clock = createClock();
      const engine = new Engine(
        { maxConcurrent: 2, requestsPerMinute: 6 },
        {
          // Latency from the prompt: calls end at different times, some in the same turn.
          client: new ScriptedClient(clock, (request) => {
            const text = 'messages' in request ? String(request.messages[0]?.content) : '';
            return { kind: 'ok', latencyMs: 5 + (Number(text.slice(1)) % 3) * 5 };
          }),
          clock,
          random: seededRandom(1),
          taskTypes: [echoTaskType],
          ...(inspect ? { inspect: () => undefined } : {}),
        },
      );
      const started: string[] = [];
      engine.events$.subscribe((event) => {
        if (event.type === 'task.started') started.push(`${event.taskId}@${event.at}`);
      });
      const sent = vi.spyOn(engine.supervisor, 'send');
      engine.start();
      const priorities = ['LOW', 'URGENT', 'MEDIUM', 'HIGH'] as const;
      for (let i = 0; i < 12; i++) {
        await engine.submit({
          id: `t${i}`,
          taskType: 'ECHO',
          data: { prompt: `p${i}` },
          priority: priorities[i % 4],
        });
        await advance(clock, i % 3 === 0 ? 7 : 2);
      }
      await advanceUntil(clock, () => engine.runningCount === 0 && engine.waitingCount === 0);
      await engine.stop();
      const submittedEvents = sent.mock.calls.filter(([e]) => e.type === 'task.submitted').length;
      return { started, submittedEvents };
    };
    const watched = await run(true);
    expect(watched.started).toHaveLength(12);
    // Watched, admissions went through the event; unwatched, through the shortcut.
    expect(watched.submittedEvents).toBeGreaterThan(0);
    const unwatched = await run(false);
    expect(unwatched.submittedEvents).toBe(0);
    expect(unwatched.started).toEqual(watched.started);
  });
});
