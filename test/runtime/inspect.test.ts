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
        'task.outcome',
        'slot.release',
      ]),
    );
    // The task actor starts in `running` (its first admission is a snapshot the machine's own
    // `task.admit` gives, watched or not) and the inspector follows it to `completed`.
    const taskStates = seen
      .filter(
        (e): e is Extract<InspectionEvent, { type: '@xstate.snapshot' }> =>
          e.type === '@xstate.snapshot' &&
          (e.actorRef as unknown as { id: string }).id === `task-${id}`,
      )
      .map((e) => (e.snapshot as unknown as { value: string }).value);
    expect(taskStates).toContain('completed');
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

  it('one path: a mixed workload logs the same transitions, admissions and charges, watched or not', async () => {
    const run = async (inspect: boolean) => {
      const clock = createClock();
      const seen: InspectionEvent[] = [];
      let lastSupervisorEvent: string | undefined;
      const supervisorRef = () => engine.supervisor;
      const engine: Engine = new Engine(
        { maxConcurrent: 2, requestsPerMinute: 6, budgetLimit: 0.001 },
        {
          // Latency from the prompt (calls end at different times, some in the same turn); every
          // fifth first call fails with a 500 and is retried.
          client: new ScriptedClient(clock, (request, index) => {
            const text = 'messages' in request ? String(request.messages[0]?.content) : '';
            const n = Number(text.slice(1));
            if (n % 5 === 0 && index % 2 === 0) return { kind: 'error', status: 500, latencyMs: 3 };
            return {
              kind: 'ok',
              latencyMs: 5 + (n % 3) * 5,
              promptTokens: 10,
              completionTokens: 8,
            };
          }),
          clock,
          random: seededRandom(1),
          taskTypes: [echoTaskType],
          ...(inspect
            ? {
                inspect: (event: InspectionEvent) => {
                  seen.push(event);
                  if (event.type === '@xstate.event' && event.actorRef === supervisorRef()) {
                    lastSupervisorEvent = event.event.type;
                  }
                },
              }
            : {}),
        },
      );
      const log: string[] = [];
      const admittedBy: (string | undefined)[] = [];
      engine.events$.subscribe((event) => {
        const id = 'taskId' in event ? event.taskId : '';
        log.push(`${event.at} ${event.type} ${id}`);
        if (event.type === 'task.usage') log.push(`  charged ${event.costMicros}`);
        if (event.type === 'task.admitted') admittedBy.push(lastSupervisorEvent);
      });
      const sent: string[] = [];
      const send = engine.supervisor.send.bind(engine.supervisor);
      vi.spyOn(engine.supervisor, 'send').mockImplementation((event) => {
        sent.push(JSON.stringify(event));
        send(event);
      });
      engine.start();
      const priorities = ['LOW', 'URGENT', 'MEDIUM', 'HIGH'] as const;
      for (let i = 0; i < 14; i++) {
        await engine.submit({
          id: `t${i}`,
          taskType: 'ECHO',
          data: { prompt: `p${i}`, tokens: 10 },
          priority: priorities[i % 4],
          config: { maxRetries: 2, retryDelay: 0.01, maxTokens: 16 },
        });
        if (i === 6) await engine.cancel('t5');
        if (i === 8) engine.pause();
        if (i === 10) engine.resume();
        await advance(clock, i % 3 === 0 ? 7 : 2);
      }
      await advanceUntil(clock, () => engine.runningCount === 0 && engine.waitingCount === 0);
      const spent = engine.budget.ledger.spent(clock.now()).total;
      await engine.stop();
      return { log, sent, spent, seen, admittedBy, supervisor: engine.supervisor };
    };
    const watched = await run(true);
    const unwatched = await run(false);
    expect(watched.log.filter((l) => l.includes('task.completed')).length).toBeGreaterThan(8);
    expect(watched.log.some((l) => l.includes('task.retrying'))).toBe(true);
    expect(watched.log.some((l) => l.includes('task.cancelled t5'))).toBe(true);
    expect(unwatched.log).toEqual(watched.log);
    expect(unwatched.sent).toEqual(watched.sent);
    expect(unwatched.spent).toBe(watched.spent);
    // The inspector saw every event the supervisor was sent, and each admission happened in
    // the supervisor's answer to one of them.
    const supervisorEvents = watched.seen.filter(
      (e) =>
        e.type === '@xstate.event' &&
        e.actorRef === watched.supervisor &&
        !e.event.type.startsWith('xstate.'),
    );
    expect(supervisorEvents).toHaveLength(watched.sent.length);
    expect(watched.admittedBy.length).toBeGreaterThan(0);
    for (const cause of watched.admittedBy) {
      expect([
        'task.submitted',
        'task.settled',
        'queue.wake',
        'queue.resume',
        'task.cancel',
      ]).toContain(cause);
    }
  });
});
