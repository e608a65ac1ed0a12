import { z } from 'zod';
import type { TaskTypeDefinition } from '../../src/task-types/types.js';

/** A task type that makes one chat call and returns its content. */
export const echoTaskType: TaskTypeDefinition<
  { prompt: string; tokens?: number | undefined },
  string
> = {
  name: 'ECHO',
  input: z.object({ prompt: z.string(), tokens: z.number().int().nonnegative().optional() }),
  output: z.string(),
  estimate: (data, env) => ({
    model: env.model,
    promptTokens: data.tokens ?? 10,
    maxTokens: env.maxTokens,
  }),
  run: async (ctx) => {
    const response = await ctx.chat({ messages: [{ role: 'user', content: ctx.data.prompt }] });
    return response.content;
  },
};

/** A composite task type: one ECHO child per prompt; returns the children's outcomes. */
export const fanOutTaskType: TaskTypeDefinition<{ prompts: string[] }, unknown[]> = {
  name: 'FAN_OUT',
  kind: 'composite',
  input: z.object({ prompts: z.array(z.string()) }),
  output: z.array(z.unknown()),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 0, maxTokens: 0 }),
  run: async (ctx) => {
    const outcomes = await ctx.runChildren(
      ctx.data.prompts.map((prompt) => ({ taskType: 'ECHO', data: { prompt } })),
      (_outcome, done, total) => ctx.progress(done / total, done, total),
    );
    return outcomes;
  },
};
