/**
 * The typed task registry: `createAITaskManager` infers the task types it was given (and the
 * built-in ones), so `submitTask` / `submitBatch` check `taskType`, `data` and `priority` at
 * compile time and `waitForTask` / `getTaskResult` give the task type's result.
 *
 * Most of this file is checked by `npm run typecheck` (tsconfig.json includes `test/`): each
 * `// @ts-expect-error` line must be an error, or the typecheck fails. The blocks passed to
 * `typeOnly` are type-checked and never run; the tests around them run a typed manager for real.
 */

import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  AITaskManager,
  type BatchTaskInput,
  type BuiltinTaskTypes,
  createAITaskManager,
  defineTaskType,
  type Priority,
  type RepositoryAnalysis,
  type SemanticSearchResult,
  type SubmitTaskInput,
  type TaskDataOf,
  type TaskId,
  type TaskResultOf,
  TaskType,
  type TaskTypeDefinition,
  type TaskTypeMap,
  type TextClassification,
} from '../../src/index.js';
import { ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { createClock } from '../helpers/virtual-time.js';

/** Type-checked by `npm run typecheck`, never called. */
function typeOnly(_check: () => Promise<unknown>): void {}

const SummaryInput = z.object({
  text: z.string().min(1),
  words: z.number().int().positive().default(50),
});
const Summary = z.object({ summary: z.string(), words: z.number() });

const summarize = defineTaskType({
  name: 'SUMMARIZE',
  input: SummaryInput,
  output: Summary,
  estimate: (data, env) => {
    // `data` is the input schema's output: the default is applied.
    expectTypeOf(data).toEqualTypeOf<{ text: string; words: number }>();
    return { model: env.model, promptTokens: data.words, maxTokens: 0 };
  },
  run: async (ctx) => {
    const words = ctx.data.text.split(/\s+/).slice(0, ctx.data.words);
    return { summary: words.join(' '), words: words.length };
  },
});

const count = defineTaskType({
  name: 'COUNT',
  input: z.object({ items: z.array(z.string()) }),
  output: z.number().int(),
  estimate: (_data, env) => ({ model: env.model, promptTokens: 0, maxTokens: 0 }),
  run: async (ctx) => ctx.data.items.length,
});

type Summarize = typeof summarize;
type Own = TaskTypeMap<[typeof summarize, typeof count]>;

/** A started manager of `summarize` and `count` only, on virtual time, that never calls a model. */
async function ownManager() {
  const clock = createClock();
  return createAITaskManager({
    aiClient: new ScriptedClient(clock),
    clock,
    builtinTaskTypes: false,
    taskTypes: [summarize, count],
  });
}

describe('defineTaskType', () => {
  it('returns the definition as it is', () => {
    const definition = {
      name: 'SAME',
      input: z.object({}),
      output: z.null(),
      estimate: () => ({ model: 'm', promptTokens: 0, maxTokens: 0 }),
      run: async () => null,
    } as const;
    expect(defineTaskType(definition)).toBe(definition);
  });

  it('keeps the literal name, the data as submitted and as run, and the result', () => {
    expectTypeOf(summarize.name).toEqualTypeOf<'SUMMARIZE'>();
    expectTypeOf(summarize).toExtend<TaskTypeDefinition>();
    // Submitted data is the input schema's input: `words` has a default, so it may be left out.
    expectTypeOf<TaskDataOf<Summarize>>().toEqualTypeOf<{
      text: string;
      words?: number | undefined;
    }>();
    expectTypeOf<TaskResultOf<Summarize>>().toEqualTypeOf<{ summary: string; words: number }>();
    expectTypeOf<TaskResultOf<typeof count>>().toEqualTypeOf<number>();
  });

  it('checks run against the output schema', () => {
    typeOnly(async () =>
      defineTaskType({
        name: 'WRONG_RESULT',
        input: z.object({ text: z.string() }),
        output: z.object({ summary: z.string() }),
        estimate: (_data, env) => ({ model: env.model, promptTokens: 0, maxTokens: 0 }),
        // @ts-expect-error run resolves with a number, not the output schema's object
        run: async () => 42,
      }),
    );
  });
});

describe('a manager of typed task types', () => {
  it('runs a task and gives its result with the task type’s output type', async () => {
    const manager = await ownManager();
    try {
      expectTypeOf(manager).toEqualTypeOf<AITaskManager<Own>>();
      const id = await manager.submitTask({
        taskType: 'SUMMARIZE',
        data: { text: 'one two three four', words: 2 },
        priority: 'HIGH',
      });
      expectTypeOf(id).toEqualTypeOf<TaskId<'SUMMARIZE'>>();
      expectTypeOf(id).toExtend<string>();
      expect(typeof id).toBe('string');

      const result = await manager.waitForTask(id, { timeout: 60 });
      expectTypeOf(result).toEqualTypeOf<{ summary: string; words: number }>();
      expect(result).toEqual({ summary: 'one two', words: 2 });

      const stored = await manager.getTaskResult(id);
      expectTypeOf(stored).toEqualTypeOf<{ summary: string; words: number } | null>();
      expect(stored).toEqual(result);

      // A plain string id is still accepted; its result is `unknown`.
      const plain: string = id;
      expectTypeOf(await manager.waitForTask(plain)).toEqualTypeOf<unknown>();
      expectTypeOf(await manager.getTaskResult(plain)).toEqualTypeOf<unknown>();
    } finally {
      await manager.stop();
    }
  });

  it('submitBatch returns ids that carry their task types', async () => {
    const manager = await ownManager();
    try {
      const ids = await manager.submitBatch(
        [
          { taskType: 'COUNT', data: { items: ['a', 'b', 'c'] } },
          { taskType: 'COUNT', data: { items: [] }, priority: 'LOW' },
        ],
        { priority: 'URGENT' },
      );
      expectTypeOf(ids).toEqualTypeOf<TaskId<'COUNT'>[]>();
      const results = await Promise.all(ids.map((id) => manager.waitForTask(id, { timeout: 60 })));
      expectTypeOf(results).toEqualTypeOf<number[]>();
      expect(results).toEqual([3, 0]);

      const mixed = await manager.submitBatch([
        { taskType: 'COUNT', data: { items: ['a'] } },
        { taskType: 'SUMMARIZE', data: { text: 'a b' } },
      ]);
      expectTypeOf(mixed).toEqualTypeOf<TaskId<'COUNT' | 'SUMMARIZE'>[]>();
      const [first] = mixed;
      if (first === undefined) throw new Error('no id');
      const either = await manager.waitForTask(first, { timeout: 60 });
      expectTypeOf(either).toEqualTypeOf<number | { summary: string; words: number }>();
      expect(either).toBe(1);
    } finally {
      await manager.stop();
    }
  });

  it('refuses a wrong taskType, data or priority at compile time', () => {
    typeOnly(async () => {
      const manager = await ownManager();
      // @ts-expect-error not a registered task type (the built-in ones are off)
      await manager.submitTask({ taskType: 'TEXT_CLASSIFICATION', data: { text: 'a' } });
      // @ts-expect-error a misspelt task type
      await manager.submitTask({ taskType: 'SUMARIZE', data: { text: 'a' } });
      // @ts-expect-error `text` is missing
      await manager.submitTask({ taskType: 'SUMMARIZE', data: { words: 3 } });
      // @ts-expect-error `words` is a number
      await manager.submitTask({ taskType: 'SUMMARIZE', data: { text: 'a', words: '3' } });
      // @ts-expect-error COUNT's data, not SUMMARIZE's
      await manager.submitTask({ taskType: 'SUMMARIZE', data: { items: ['a'] } });
      // @ts-expect-error a priority that does not exist
      await manager.submitTask({ taskType: 'COUNT', data: { items: [] }, priority: 'CRITICAL' });
      await manager.submitBatch([
        { taskType: 'COUNT', data: { items: [] } },
        // @ts-expect-error SUMMARIZE's data in a COUNT task of a batch
        { taskType: 'COUNT', data: { text: 'a' } },
      ]);
      // @ts-expect-error a wrong task type in a batch
      await manager.submitBatch([{ taskType: 'NOPE', data: {} }]);
      // @ts-expect-error the batch's default priority is a Priority too
      await manager.submitBatch([{ taskType: 'COUNT', data: { items: [] } }], { priority: 'high' });
      // @ts-expect-error estimateCost checks the same way
      manager.estimateCost({ taskType: 'COUNT', data: { items: 'a' } });
      // @ts-expect-error and so does the cost controller's
      manager.costController.estimateCost({ taskType: 'SUMMARIZE', data: {} });
      // A string that is not known to be a registered name is refused too.
      const name: string = 'COUNT';
      // @ts-expect-error `string` is not one of the registry's names
      await manager.submitTask({ taskType: name, data: { items: [] } });
    });
  });
});

describe('the built-in task types', () => {
  it('are the registry of createAITaskManager by default, with their data and results', () => {
    typeOnly(async () => {
      const manager = await createAITaskManager({ model: 'gpt-4o-mini' });
      expectTypeOf(manager).toEqualTypeOf<AITaskManager<BuiltinTaskTypes>>();

      const id = await manager.submitTask({
        taskType: TaskType.TEXT_CLASSIFICATION,
        data: { text: 'a web framework', categories: ['web', 'data'] },
      });
      expectTypeOf(await manager.waitForTask(id)).toEqualTypeOf<TextClassification>();

      // The strings work as well as the constants (the seed's style).
      const analysis = await manager.submitTask({
        taskType: 'REPOSITORY_ANALYSIS',
        data: { repo_info: { name: 'flask', stargazers_count: 60_000, owner: { login: 'x' } } },
      });
      expectTypeOf(await manager.waitForTask(analysis)).toEqualTypeOf<RepositoryAnalysis>();

      // Data as submitted: `top_k` has a default and ids may be numbers.
      const search = await manager.submitTask({
        taskType: 'SEMANTIC_SEARCH',
        data: { query: 'python', documents: [{ id: 1, text: 'Django' }] },
      });
      expectTypeOf(
        await manager.getTaskResult(search),
      ).toEqualTypeOf<SemanticSearchResult | null>();

      // @ts-expect-error TEXT_CLASSIFICATION needs categories
      await manager.submitTask({ taskType: 'TEXT_CLASSIFICATION', data: { text: 'a' } });
      // @ts-expect-error EMBEDDING_GENERATION takes `text`, not `texts`
      await manager.submitTask({ taskType: 'EMBEDDING_GENERATION', data: { texts: ['a'] } });
      // @ts-expect-error a misspelt built-in task type
      await manager.submitTask({ taskType: 'TEXT_CLASIFICATION', data: {} });
      await manager.submitTask({
        taskType: 'EMBEDDING_GENERATION',
        data: { text: 'a' },
        // @ts-expect-error priorities are upper case
        priority: 'low',
      });
    });
  });

  it('are joined by the given task types, which replace built-in ones of the same name', () => {
    typeOnly(async () => {
      const both = await createAITaskManager({ taskTypes: [summarize] });
      expectTypeOf(both).toEqualTypeOf<
        AITaskManager<BuiltinTaskTypes & TaskTypeMap<[Summarize]>>
      >();
      expectTypeOf(
        await both.waitForTask(
          await both.submitTask({ taskType: 'SUMMARIZE', data: { text: 'a' } }),
        ),
      ).toEqualTypeOf<{ summary: string; words: number }>();
      await both.submitTask({
        taskType: 'BATCH_ANALYSIS',
        data: { repositories: [{ name: 'a' }] },
      });

      const ownClassification = defineTaskType({
        ...count,
        name: 'TEXT_CLASSIFICATION',
      });
      const replaced = await createAITaskManager({ taskTypes: [ownClassification] });
      const id = await replaced.submitTask({
        taskType: 'TEXT_CLASSIFICATION',
        data: { items: ['a'] },
      });
      expectTypeOf(await replaced.waitForTask(id)).toEqualTypeOf<number>();
    });
  });
});

describe('untyped managers (seed-style code keeps compiling)', () => {
  it('new AITaskManager(...) takes any task type, data and result are unknown', () => {
    typeOnly(async () => {
      const manager = new AITaskManager({ taskTypes: [summarize] });
      const id = await manager.submitTask({ taskType: 'ANYTHING', data: 42, priority: 'LOW' });
      expectTypeOf(id).toEqualTypeOf<TaskId>();
      expectTypeOf(await manager.waitForTask(id)).toEqualTypeOf<unknown>();
      const name: string = 'SUMMARIZE';
      await manager.submitTask({ taskType: name, data: { text: 'a' } });
      const tasks: BatchTaskInput[] = [{ taskType: name, data: null }];
      expectTypeOf(await manager.submitBatch(tasks)).toEqualTypeOf<TaskId[]>();
      const task: SubmitTaskInput = { taskType: name, data: {} };
      expectTypeOf(task.priority).toEqualTypeOf<Priority | undefined>();
      await manager.submitTask(task);
      // @ts-expect-error priority is a Priority even when the task types are not known
      await manager.submitTask({ taskType: name, data: null, priority: 'CRITICAL' });
    });
  });

  it('a manager given a registry type is typed', () => {
    typeOnly(async () => {
      const manager = new AITaskManager<Own>({ taskTypes: [summarize, count] });
      // @ts-expect-error unknown to `Own`
      await manager.submitTask({ taskType: 'ECHO', data: {} });
      const id = await manager.submitTask({ taskType: 'COUNT', data: { items: [] } });
      expectTypeOf(await manager.waitForTask(id)).toEqualTypeOf<number>();
    });
  });

  it('a task type with a plain string name, or builtinTaskTypes: false alone, is untyped', () => {
    typeOnly(async () => {
      const named = await createAITaskManager({ taskTypes: [echoTaskType] });
      await named.submitTask({ taskType: 'ECHO', data: { prompt: 'hi' } });
      await named.submitTask({ taskType: 'TEXT_CLASSIFICATION', data: 'not checked' });
      const bare = await createAITaskManager({ builtinTaskTypes: false });
      await bare.submitTask({ taskType: 'ANY', data: undefined });
      const flag: boolean = Math.random() > 0.5;
      const unknownBuiltins = await createAITaskManager({ builtinTaskTypes: flag });
      await unknownBuiltins.submitTask({ taskType: 'ANY', data: undefined });
    });
  });

  it('every typed manager is an AITaskManager', () => {
    typeOnly(async () => {
      let manager: AITaskManager;
      manager = await createAITaskManager();
      manager = await ownManager();
      const id: string = await manager.submitTask({ taskType: 'X', data: null });
      return manager.waitForTask(id);
    });
  });
});
