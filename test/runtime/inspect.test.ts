import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { Engine } from '../../src/runtime/engine.js';
import { seededRandom } from '../../src/time/clock.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, createClock } from '../helpers/virtual-time.js';

describe('inspection', () => {
  it('an inspector on the root sees the limiter actors, every task actor and their events', async () => {
    const clock = createClock();
    const seen: InspectionEvent[] = [];
    const engine = new Engine(
      { maxConcurrent: 2, requestsPerMinute: 100 },
      {
        client: new ScriptedClient(clock, () => ({ kind: 'ok', latencyMs: 10 })),
        clock,
        random: seededRandom(1),
        taskTypes: [echoTaskType],
        inspect: (event) => seen.push(event),
      },
    );
    engine.start();
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
});
