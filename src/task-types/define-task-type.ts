/** `defineTaskType`: a task type definition typed so that its name and data flow into a manager. */

import type { z } from 'zod';
import type { TaskTypeDefinition } from './types.js';

/**
 * Returns `definition` as it is, typed so that its name and its schemas' types flow into a typed
 * manager (`createAITaskManager({ taskTypes: [definition] })`): `N` stays the literal name, `data`
 * in `estimate` and `run` is the input schema's output, and `run` resolves with the output
 * schema's type. Nothing happens at run time.
 *
 * @example
 * const summarize = defineTaskType({
 *   name: 'SUMMARIZE',
 *   input: z.object({ text: z.string().min(1), words: z.number().int().default(50) }),
 *   output: z.object({ summary: z.string() }),
 *   estimate: (data, env) => ({ model: env.model, promptTokens: countTokens(data.text), maxTokens: 200 }),
 *   run: async (ctx) => ({ summary: (await ctx.chat({ messages: [...] })).content }),
 * });
 * const manager = await createAITaskManager({ taskTypes: [summarize] });
 * const id = await manager.submitTask({ taskType: 'SUMMARIZE', data: { text } }); // TaskId<'SUMMARIZE'>
 * const { summary } = await manager.waitForTask(id);
 */
export function defineTaskType<const N extends string, In extends z.ZodType, Out extends z.ZodType>(
  definition: TaskTypeDefinition<z.output<In>, z.output<Out>, N, z.input<In>> & {
    input: In;
    output: Out;
  },
): TaskTypeDefinition<z.output<In>, z.output<Out>, N, z.input<In>> {
  return definition;
}
