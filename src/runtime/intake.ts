/**
 * Task intake: what `submit` checks and computes before a task joins the line. Pure but for the
 * task type's own `estimate()` (and the id it draws): the settings and limits come in `ctx`.
 */

import { z } from 'zod';
import type { Priority } from '../../machines/task-status.js';
import {
  type EngineSettings,
  MAX_TASK_TOKENS,
  PrioritySchema,
  TaskConfigSchema,
} from '../config/engine-options.js';
import { describeThrown, UNSHOWABLE_MESSAGE, ValidationError } from '../errors.js';
import { LruCache } from '../internal/lru.js';
import { newTaskId } from '../internal/task-id.js';
import { parseOrThrow } from '../internal/validate.js';
import { type ModelPrice, worstCaseCostMicros } from '../limits/cost.js';
import type { WindowLimit } from '../limits/window-limits.js';
import type {
  ResolvedTaskConfig,
  TaskRecord,
  TaskReservation,
  TaskUsage,
} from '../stores/types.js';
import type { AnyTaskTypeDefinition, TaskEnvironment, TaskEstimate } from '../task-types/types.js';
import { aboveWindow } from './admission.js';

/**
 * The usage of a task that has made no call yet: one shared, frozen object (a waiting task costs
 * less memory); `addUsage` gives a task its own once it has used something.
 */
export const NO_USAGE: TaskUsage = Object.freeze({
  promptTokens: 0,
  completionTokens: 0,
  estimated: false,
  calls: 0,
});

/** Adds `used` to the record's usage (a new object: a record's usage is never changed in place). */
export function addUsage(record: TaskRecord, used: TaskUsage): void {
  const usage = record.usage;
  record.usage = {
    promptTokens: usage.promptTokens + used.promptTokens,
    completionTokens: usage.completionTokens + used.completionTokens,
    estimated: usage.estimated || used.estimated,
    calls: usage.calls + used.calls,
  };
}

/**
 * Reservations by value: tasks of one kind reserve the same, and a waiting task then holds a
 * shared, frozen reservation instead of its own (reservations are never changed).
 */
const reservations = new LruCache<string, TaskReservation>(256);

function reservationOf(
  model: string,
  promptTokens: number,
  maxTokens: number,
  worstCaseMicros: number,
  limited: boolean,
): TaskReservation {
  const last = lastReservation;
  if (
    last !== undefined &&
    last.promptTokens === promptTokens &&
    last.maxTokens === maxTokens &&
    last.worstCaseMicros === worstCaseMicros &&
    last.limited === limited &&
    last.model === model
  ) {
    return last;
  }
  const key = `${limited ? 1 : 0}|${promptTokens}|${maxTokens}|${worstCaseMicros}|${model}`;
  lastReservation = reservations.getOrCreate(key, () =>
    Object.freeze({ model, promptTokens, maxTokens, worstCaseMicros, limited }),
  );
  return lastReservation;
}

/** The reservation made last: a batch of one kind asks for the same one again and again. */
let lastReservation: TaskReservation | undefined;

/** A task as the engine accepts it (already camelCase). */
export interface SubmitInput {
  taskType: string;
  data: unknown;
  priority?: Priority | undefined;
  config?: unknown;
  metadata?: Record<string, unknown> | undefined;
  /** Set by composite tasks for their children. */
  parentId?: string | undefined;
  /** Used as the task id when given (must be unique). */
  id?: string | undefined;
  /** A task already stored with this key is returned instead of a new one (see `submission.ts`). */
  idempotencyKey?: string | undefined;
}

/** The longest idempotency key accepted (characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

/** What intake reads of the engine. */
export interface IntakeContext {
  readonly settings: EngineSettings;
  /** The resolved `taskDefaults`, shared by every task submitted without its own config. */
  readonly defaultConfig: ResolvedTaskConfig;
  taskType(name: string): AnyTaskTypeDefinition | undefined;
  taskTypeNames(): string[];
  environment(config: ResolvedTaskConfig): TaskEnvironment;
  priceOf(model: string): ModelPrice | undefined;
  /** Whether a total, daily or hourly budget is set. */
  hasBudget(): boolean;
  /** The window a request of this size can never fit, if any. */
  canEverFit(model: string, requests: number, tokens: number): WindowLimit | undefined;
}

const PRIORITY_SET: ReadonlySet<string> = new Set(['LOW', 'MEDIUM', 'HIGH', 'URGENT']);

/** `object` without its keys whose value is `undefined`. */
function definedEntries(object: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (value !== undefined) out[key] = value;
  return out;
}

/** The fast check of an estimate; `EstimateSchema` explains what is wrong when it fails. */
function isSoundEstimate(e: TaskEstimate): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.model === 'string' &&
    e.model.length > 0 &&
    typeof e.promptTokens === 'number' &&
    e.promptTokens >= 0 &&
    e.promptTokens <= MAX_TASK_TOKENS &&
    typeof e.maxTokens === 'number' &&
    e.maxTokens >= 0 &&
    e.maxTokens <= MAX_TASK_TOKENS
  );
}

/** What a task type's `estimate()` must return. */
const EstimateSchema = z.object({
  model: z.string().min(1),
  promptTokens: z.number().nonnegative().max(MAX_TASK_TOKENS),
  maxTokens: z.number().nonnegative().max(MAX_TASK_TOKENS),
});

/**
 * Validates one submitted task and makes its record: the task type, priority, config (laid over
 * the queue's `taskDefaults`), data, and the reservation its estimate gives (model, prompt tokens,
 * `max_tokens`, worst-case cost), refusing what the settings can never run (a model without a
 * price under a budget, a token reservation above a window). `prefix` names the field path in a
 * batch (`tasks[3]`). Throws `ValidationError` naming the field and the value; changes nothing.
 */
export function prepareTask(
  input: SubmitInput,
  now: number,
  prefix: string,
  ctx: IntakeContext,
): TaskRecord {
  const field = (name: string): string => (prefix ? `${prefix}.${name}` : name);
  if (input === null || typeof input !== 'object') {
    throw new ValidationError(`invalid task: expected an object (received ${String(input)})`, [
      { path: prefix || 'task', message: 'expected an object', received: input },
    ]);
  }
  const definition = ctx.taskType(input.taskType);
  if (definition === undefined) {
    throw new ValidationError(
      `invalid ${field('taskType')}: unknown task type ${JSON.stringify(input.taskType)} (known: ${ctx.taskTypeNames().join(', ')})`,
      [{ path: field('taskType'), message: 'unknown task type', received: input.taskType }],
    );
  }
  const priority =
    input.priority === undefined
      ? 'MEDIUM'
      : PRIORITY_SET.has(input.priority)
        ? input.priority
        : (parseOrThrow(PrioritySchema, input.priority, field('priority')) as Priority);
  const own = input.config;
  if (own !== undefined && (own === null || typeof own !== 'object' || Array.isArray(own))) {
    throw new ValidationError(
      `invalid ${field('config')}: expected an object (received ${String(own)})`,
      [{ path: field('config'), message: 'expected an object', received: own }],
    );
  }
  const config: ResolvedTaskConfig =
    own === undefined
      ? ctx.defaultConfig
      : parseOrThrow(
          TaskConfigSchema,
          // A key given as `undefined` leaves the queue's default in force.
          { ...ctx.settings.taskDefaults, ...definedEntries(own) },
          field('config'),
        );
  const data = parseOrThrow(definition.input, input.data, field('data'));
  if (input.id !== undefined && (typeof input.id !== 'string' || input.id.length === 0)) {
    throw new ValidationError(`invalid ${field('id')}: expected a non-empty string`, [
      { path: field('id'), message: 'expected a non-empty string', received: input.id },
    ]);
  }
  const key = input.idempotencyKey;
  if (
    key !== undefined &&
    (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
  ) {
    throw new ValidationError(
      `invalid ${field('idempotencyKey')}: expected a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
      [
        {
          path: field('idempotencyKey'),
          message: `expected a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
          received: key,
        },
      ],
    );
  }
  const env = ctx.environment(config);
  const estimate = estimateOf(definition, data, env);
  const estimated = isSoundEstimate(estimate)
    ? estimate
    : parseOrThrow(EstimateSchema, estimate, `${definition.name}.estimate()`, {
        pathPrefix: `${definition.name}.estimate()`,
      });
  // Token counts are whole: a fractional estimate is rounded up, never down.
  const promptTokens = config.estimatedTokens ?? Math.ceil(estimated.promptTokens);
  const maxTokens = Math.ceil(estimated.maxTokens);
  const model = estimated.model;
  const limited = (definition.kind ?? 'call') === 'call';
  const price = ctx.priceOf(model);
  // Not a limit of the moment but of the settings: estimates are refused alike.
  if (limited && price === undefined && ctx.hasBudget()) {
    // Name the setting the model came from: the task's own, or a queue default.
    const ownModel = (input.config as { model?: unknown } | undefined)?.model !== undefined;
    const from =
      !ownModel && model === ctx.settings.model
        ? 'model'
        : !ownModel && model === ctx.settings.embeddingModel
          ? 'embeddingModel'
          : field('config.model');
    throw new ValidationError(
      `invalid ${from}: model ${JSON.stringify(model)} has no price, so a budget cannot be kept; add it to the 'prices' option`,
      [{ path: from, message: 'no price for model', received: model }],
    );
  }
  const worstCaseMicros =
    limited && price !== undefined ? worstCaseCostMicros(price, promptTokens, maxTokens) : 0;
  if (limited) {
    const never = ctx.canEverFit(model, 1, promptTokens + maxTokens);
    if (never !== undefined) {
      throw aboveWindow(`invalid ${field('config')}: the task`, field('config'), never, {
        promptTokens,
        maxTokens,
      });
    }
  }
  const record: TaskRecord = {
    id: input.id ?? newTaskId(now),
    type: definition.name,
    priority,
    status: 'queued',
    seq: 0,
    data,
    metadata: input.metadata,
    config,
    reservation: reservationOf(model, promptTokens, maxTokens, worstCaseMicros, limited),
    parentId: input.parentId,
    ...(key === undefined ? {} : { idempotencyKey: key }),
    createdAt: now,
    attempts: 0,
    usage: NO_USAGE,
    costMicros: 0,
  };
  return record;
}

/**
 * A task type's `estimate()`, whose throw is bad input for that task (a `ValidationError` naming
 * the task type and what it threw), never a raw error out of `submit`.
 */
function estimateOf(
  definition: AnyTaskTypeDefinition,
  data: unknown,
  env: TaskEnvironment,
): TaskEstimate {
  try {
    return definition.estimate(data, env);
  } catch (error) {
    const path = `${definition.name}.estimate()`;
    const message = `threw: ${describeThrown(error) ?? UNSHOWABLE_MESSAGE}`;
    throw new ValidationError(`invalid task: ${path} ${message}`, [{ path, message }]);
  }
}
