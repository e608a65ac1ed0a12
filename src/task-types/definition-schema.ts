import { z } from 'zod';
import { functionOf } from '../internal/validate.js';
import type { AnyTaskTypeDefinition } from './types.js';

const zodSchema = (what: string) =>
  z.custom<z.ZodType>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { safeParse?: unknown }).safeParse === 'function',
    { error: `expected a zod schema for ${what}` },
  );

/**
 * What `registerTaskType` and the `taskTypes` option accept: checked when registered, so a
 * malformed definition is refused up front with the field named, never a `TypeError` when a task
 * of that type first runs.
 */
export const TaskTypeDefinitionSchema = z.looseObject({
  name: z.string({ error: 'expected a task type name' }).min(1, 'expected a non-empty name'),
  input: zodSchema('the input data'),
  output: zodSchema('the output'),
  kind: z.enum(['call', 'composite']).optional(),
  estimate: functionOf<AnyTaskTypeDefinition['estimate']>(
    'a function (data, env) => { model, promptTokens, maxTokens }',
  ),
  run: functionOf<AnyTaskTypeDefinition['run']>('an async function (ctx) => output'),
});
