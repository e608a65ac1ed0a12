import { describe, expect, it } from 'vitest';
import { BATCH_ANALYSIS, BatchAnalysisResultSchema } from '../../src/task-types/builtin/index.js';
import { advance } from '../helpers/virtual-time.js';
import { ANALYSIS, chatRequests, createWorld, expectRefused, settle } from './helpers.js';

const REPOSITORIES = [
  {
    name: 'flask',
    description: 'A micro web framework',
    language: 'Python',
    stargazers_count: 60_000,
    readme: '# Flask\n\nFlask is a lightweight WSGI...',
  },
  {
    name: 'django',
    description: 'The Web framework for perfectionists',
    language: 'Python',
    stargazers_count: 70_000,
    readme: '# Django\n\nDjango is a high-level Python...',
  },
  { name: 'broken-repo', description: 'answers badly' },
];

/** Answers every repository soundly except `broken-repo`, which gets prose. */
function answerByRepository(request: unknown) {
  const text = JSON.stringify(request);
  return {
    kind: 'ok' as const,
    latencyMs: 100,
    content: text.includes('broken-repo') ? 'no JSON here' : JSON.stringify(ANALYSIS),
    promptTokens: 200,
    completionTokens: 50,
  };
}

describe('BATCH_ANALYSIS', () => {
  it('analyses each repository as a child task; one that fails does not fail the batch', async () => {
    const world = createWorld(answerByRepository);
    const id = await world.engine.submit({
      taskType: BATCH_ANALYSIS,
      data: { repositories: REPOSITORIES },
      priority: 'HIGH',
      config: { maxRetries: 1 },
    });
    const outcome = await settle(world, id);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const results = BatchAnalysisResultSchema.parse(outcome.result);
    expect(results.map((r) => [r.repo_name, r.success])).toEqual([
      ['flask', true],
      ['django', true],
      ['broken-repo', false],
    ]);
    expect(results[0]).toEqual({ repo_name: 'flask', success: true, result: ANALYSIS });
    const failed = results[2];
    expect(failed?.success === false && failed.code).toBe('INVALID_ANSWER');
    expect(failed?.success === false && failed.error).toContain('no JSON here');

    // one child per repository, at the parent's priority, each with its own prompt
    const submitted = world.events.flatMap((e) =>
      e.type === 'task.submitted' && e.parentId === id ? [e] : [],
    );
    expect(submitted).toHaveLength(3);
    expect(submitted.every((e) => e.priority === 'HIGH')).toBe(true);
    const prompts = chatRequests(world.client).map((r) => r.messages[1]?.content ?? '');
    expect(prompts.filter((p) => p.includes('Repository: flask'))).toHaveLength(1);
    expect(prompts.find((p) => p.includes('Repository: django'))).toContain(
      'Django is a high-level',
    );
    // broken-repo: 2 attempts (maxRetries 1); the others: 1
    expect(world.client.log).toHaveLength(4);

    // the parent's cost is the sum of its children's: 4 calls × (200 × 0.15 + 50 × 0.6) = 4 × 60
    const record = await world.engine.getTask(id);
    expect(record?.costMicros).toBe(240);
    expect(record?.usage.calls).toBe(4);
  });

  it('reports progress (progress, current, total) as each repository finishes', async () => {
    const world = createWorld(answerByRepository);
    const id = await world.engine.submit({
      taskType: BATCH_ANALYSIS,
      data: { repositories: REPOSITORIES.slice(0, 2) },
    });
    await settle(world, id);
    const progress = world.events
      .filter((e) => e.type === 'task.progress' && e.taskId === id)
      .map((e) => (e.type === 'task.progress' ? [e.progress, e.current, e.total] : []));
    expect(progress).toEqual([
      [0.5, 1, 2],
      [1, 2, 2],
    ]);
  });

  it('returns an empty list for no repositories, without calling the model', async () => {
    const world = createWorld(answerByRepository);
    const id = await world.engine.submit({ taskType: BATCH_ANALYSIS, data: { repositories: [] } });
    expect(await settle(world, id)).toEqual({ ok: true, result: [] });
    expect(world.client.log).toHaveLength(0);
  });

  it.each([
    [{}, 'data.repositories'],
    [{ repositories: [{ description: 'no name' }] }, 'data.repositories.0.name'],
    [{ repositories: [{ name: 'a', readme: 7 }] }, 'data.repositories.0.readme'],
    [{ repositories: [{ name: 'a' }, { name: 'b', topics: [1] }] }, 'data.repositories.1.topics.0'],
  ])('refuses bad data %j at submit, naming %s', (data, field) =>
    expectRefused(BATCH_ANALYSIS, data, field),
  );

  it('cancelling the batch cancels the repositories still waiting', async () => {
    const world = createWorld(answerByRepository, { maxConcurrent: 1 });
    const id = await world.engine.submit({
      taskType: BATCH_ANALYSIS,
      data: { repositories: REPOSITORIES.slice(0, 2) },
    });
    await advance(world.clock, 10);
    expect(world.client.inFlight).toBe(1);
    await world.engine.cancel(id);
    const done = settle(world, id);
    const outcome = await done;
    expect(outcome.ok).toBe(false);
    const children = world.events.filter((e) => e.type === 'task.submitted' && e.parentId === id);
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(
        (await world.engine.getTask(child.type === 'task.submitted' ? child.taskId : ''))?.status,
      ).toBe('cancelled');
    }
  });
});
