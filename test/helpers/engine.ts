import type { SimulatedClock } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from './scripted-client.js';
import { echoTaskType, fanOutTaskType } from './task-types.js';
import { createClock } from './virtual-time.js';

/**
 * Settings of the durable-store tests: one call at a time, a budget, and prices that make a
 * call's worst case and its real cost easy to tell apart.
 */
export const DURABLE_SETTINGS: EngineSettingsInput = {
  model: 'm',
  maxConcurrent: 1,
  budgetLimit: 100,
  prices: { m: { input: 1, output: 2 } },
  taskDefaults: { maxTokens: 100 },
};

export interface TestEngine {
  engine: Engine;
  clock: SimulatedClock;
  client: ScriptedClient;
  events: EngineEvent[];
}

/** An engine on virtual time with a scripted client, the ECHO and FAN_OUT task types. */
export function createTestEngine(
  settings: EngineSettingsInput = {},
  script?: (request: unknown, index: number) => Script,
  options: { autoStart?: boolean } = {},
): TestEngine {
  const clock = createClock();
  const client = new ScriptedClient(clock, script);
  const engine = new Engine(
    { model: 'gpt-4o-mini', ...settings },
    { client, clock, random: seededRandom(7), taskTypes: [echoTaskType, fanOutTaskType] },
  );
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  if (options.autoStart !== false) engine.start();
  return { engine, clock, client, events };
}

export function startedOrder(events: readonly EngineEvent[]): string[] {
  return events
    .filter((e) => e.type === 'task.started')
    .map((e) => (e as { taskId: string }).taskId);
}
