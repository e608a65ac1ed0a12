import type { SimulatedClock } from 'xstate';
import type { AITaskManagerOptions } from '../../src/config/manager-options.js';
import { countChatTokens } from '../../src/limits/tokens.js';
import { AITaskManager } from '../../src/manager.js';
import { generateFromSchema } from '../../src/providers/simulator/schema-answer.js';
import type { ChatRequest, EmbedRequest } from '../../src/providers/types.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from './scripted-client.js';
import { echoTaskType, fanOutTaskType } from './task-types.js';
import { createClock } from './virtual-time.js';

export interface TestManager {
  manager: AITaskManager;
  clock: SimulatedClock;
  client: ScriptedClient;
  events: EngineEvent[];
}

/**
 * A script that answers like a model would: a JSON answer valid against the request's schema
 * (the simulator's generator, in process), and usage counted by the library's tokenizer.
 */
export function answeringScript(
  seed = 1,
  extra: (request: ChatRequest | EmbedRequest, index: number) => Partial<Script> | undefined = () =>
    undefined,
): (request: unknown, index: number) => Script {
  const random = seededRandom(seed);
  return (request, index) => {
    const override = extra(request as ChatRequest | EmbedRequest, index);
    if (override?.kind !== undefined && override.kind !== 'ok') return override as Script;
    if ('messages' in (request as object)) {
      const chat = request as ChatRequest;
      const promptTokens = countChatTokens(chat.messages, chat.model);
      const format = chat.responseFormat;
      const words = chat.messages
        .map((m) => m.content)
        .join(' ')
        .split(/\W+/)
        .filter((w) => w.length > 3)
        .slice(0, 50);
      const source = { words: words.length > 0 ? words : ['value'], random };
      const content =
        format?.type === 'json_schema'
          ? JSON.stringify(generateFromSchema(format.jsonSchema.schema, source))
          : format?.type === 'json_object'
            ? JSON.stringify({ answer: words.slice(0, 5).join(' ') })
            : words.slice(0, 12).join(' ');
      return { kind: 'ok', content, promptTokens, completionTokens: 40, ...override } as Script;
    }
    const embed = request as EmbedRequest;
    return {
      kind: 'ok',
      promptTokens: embed.input.reduce((n, t) => n + Math.ceil(t.length / 4), 0),
      ...override,
    } as Script;
  };
}

/** A manager on virtual time with a scripted client and the ECHO and FAN_OUT task types. */
export function createTestManager(
  options: AITaskManagerOptions = {},
  script?: (request: unknown, index: number) => Script,
): TestManager {
  const clock = createClock();
  const client = new ScriptedClient(clock, script);
  const manager = new AITaskManager({
    aiClient: client,
    clock,
    random: seededRandom(7),
    taskTypes: [echoTaskType, fanOutTaskType],
    ...options,
  });
  const events: EngineEvent[] = [];
  manager.events$.subscribe((e) => events.push(e));
  return { manager, clock, client, events };
}
