import { expect } from 'vitest';
import type { SimulatedClock } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { type TaskQueueError, ValidationError } from '../../src/errors.js';
import { countTextTokens } from '../../src/limits/tokens.js';
import { embedText } from '../../src/providers/simulator/index.js';
import type {
  CallOptions,
  ChatRequest,
  EmbedRequest,
  EmbedResponse,
} from '../../src/providers/types.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { BUILTIN_TASK_TYPES } from '../../src/task-types/builtin/index.js';
import { SCHEMA_OVERHEAD_TOKENS } from '../../src/task-types/structured.js';
import type { AnyTaskTypeDefinition, TaskContext } from '../../src/task-types/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { createClock } from '../helpers/virtual-time.js';
import { type FetchOutcome, settleTask } from '../providers/openai-engine-helpers.js';

/** A scripted client whose embeddings are the simulator's (similar texts, similar vectors). */
export class EmbeddingScriptedClient extends ScriptedClient {
  constructor(
    clock: SimulatedClock,
    next?: (request: ChatRequest | EmbedRequest, index: number) => Script,
    private readonly dimensions = 64,
  ) {
    super(clock, next);
  }

  override async embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResponse> {
    const response = await super.embed(request, options);
    return { ...response, vectors: request.input.map((t) => embedText(t, this.dimensions)) };
  }
}

export interface TaskTypeWorld {
  engine: Engine;
  clock: SimulatedClock;
  client: EmbeddingScriptedClient;
  events: EngineEvent[];
}

/**
 * An engine on virtual time with the built-in task types (or `taskTypes`) and a scripted client.
 * Retries wait 1 s (no jitter beyond the seeded random source).
 */
export function createWorld(
  script: (request: ChatRequest | EmbedRequest, index: number) => Script,
  settings: EngineSettingsInput = {},
  taskTypes: readonly AnyTaskTypeDefinition[] = BUILTIN_TASK_TYPES,
): TaskTypeWorld {
  const clock = createClock();
  const client = new EmbeddingScriptedClient(clock, script);
  const engine = new Engine(
    { model: 'gpt-4o-mini', ...settings },
    { client, clock, random: seededRandom(11), taskTypes },
  );
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  engine.start();
  return { engine, clock, client, events };
}

export type Settled = FetchOutcome;

/** Moves virtual time until task `id` ends, and returns how. */
export function settle(world: TaskTypeWorld, id: string): Promise<Settled> {
  return settleTask(world, id, 50);
}

/** The chat requests the scripted client received. */
export function chatRequests(client: ScriptedClient): ChatRequest[] {
  return client.log.map((e) => e.request).filter((r): r is ChatRequest => 'messages' in r);
}

/**
 * The prompt tokens a request's `json_schema` response format is estimated at: the tokens of
 * the `json_schema` object it carries plus the fixed overhead (0 for any other format).
 */
export function sentSchemaTokens(request: ChatRequest | undefined, model = 'gpt-4o-mini'): number {
  const format = request?.responseFormat;
  if (format?.type !== 'json_schema') return 0;
  return countTextTokens(JSON.stringify(format.jsonSchema), model) + SCHEMA_OVERHEAD_TOKENS;
}

/** The embedding requests the scripted client received. */
export function embedRequests(client: ScriptedClient): EmbedRequest[] {
  return client.log.map((e) => e.request).filter((r): r is EmbedRequest => 'input' in r);
}

/** A sound REPOSITORY_ANALYSIS answer. */
export const ANALYSIS = {
  summary: 'Flask is a lightweight WSGI web application framework.',
  category: 'web framework',
  tags: ['python', 'web', 'wsgi'],
  techStack: ['Python', 'Werkzeug', 'Jinja'],
  useCases: ['web applications', 'REST APIs'],
  audience: 'Python web developers',
  maturity: 'mature',
} as const;

/** Submits `data` and expects a `ValidationError` with an issue at `field`; nothing is called. */
export async function expectRefused(taskType: string, data: unknown, field: string): Promise<void> {
  const world = createWorld(() => ({ kind: 'ok' }));
  const error = await world.engine.submit({ taskType, data }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).issues.map((i) => i.path)).toContain(field);
  expect((error as ValidationError).message).toContain(field);
  expect(world.client.log).toHaveLength(0);
}

/** The error of a task that must have failed with `code`. */
export function failureOf(outcome: Settled, code: string): TaskQueueError {
  if (outcome.ok) throw new Error(`expected a failure with ${code}, the task completed`);
  expect(outcome.error.code).toBe(code);
  return outcome.error;
}

/** A task context for calling a task type's `run` directly (no engine). */
export function directContext<I>(data: I, calls: Partial<Pick<TaskContext, 'chat' | 'embed'>>) {
  const context: TaskContext<I> = {
    taskId: 'direct',
    data,
    attempt: 1,
    signal: new AbortController().signal,
    env: { model: 'gpt-4o-mini', embeddingModel: 'text-embedding-3-small', maxTokens: 100 },
    chat: async () => ({ content: '', finishReason: 'stop', model: 'gpt-4o-mini' }),
    embed: async () => ({ vectors: [], model: 'text-embedding-3-small' }),
    progress: () => undefined,
    runChildren: async () => [],
    ...calls,
  };
  return context;
}
