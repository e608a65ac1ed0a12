import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createTestManager } from '../helpers/manager.js';

/** The message of the `ValidationError` that `submit` throws. */
async function refusal(submit: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await submit();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).message;
  }
  throw new Error('expected a ValidationError');
}

describe("the Python seed's names in submitTask", () => {
  const { manager } = createTestManager();
  const callback = () => {};

  it.each([
    ['task_type', 'taskType'],
    ['callback', 'config.onComplete'],
    ['error_callback', 'config.onError'],
    ['progress_callback', 'config.onProgress'],
  ])('refuses %s, naming %s instead', async (seed, replacement) => {
    const task = { taskType: 'ECHO', data: {}, [seed]: seed === 'task_type' ? 'ECHO' : callback };
    const message = await refusal(() => manager.submitTask(task as never));
    expect(message).toContain(`Unrecognized key: "${seed}" (did you mean "${replacement}"?)`);
  });

  it('names each of several, and the missing taskType', async () => {
    const message = await refusal(() =>
      manager.submitTask({
        task_type: 'ECHO',
        data: {},
        callback,
        error_callback: callback,
      } as never),
    );
    expect(message).toContain(
      'did you mean "taskType" for "task_type", "config.onComplete" for "callback", "config.onError" for "error_callback"?',
    );
    expect(message).toMatch(/^invalid task: taskType: /);
  });

  it('does the same in submitBatch and estimateCost', async () => {
    const batch = await refusal(() =>
      manager.submitBatch([{ taskType: 'ECHO', data: {}, callback }] as never),
    );
    expect(batch).toContain(
      'tasks.0: Unrecognized key: "callback" (did you mean "config.onComplete"?)',
    );
    const estimate = await refusal(() =>
      manager.estimateCost({ taskType: 'ECHO', data: {}, progress_callback: callback } as never),
    );
    expect(estimate).toContain('(did you mean "config.onProgress"?)');
  });

  it('still names the nearest known key for other typos', async () => {
    const message = await refusal(() =>
      manager.submitTask({ taskType: 'ECHO', data: {}, priorty: 'HIGH' } as never),
    );
    expect(message).toContain('Unrecognized key: "priorty" (did you mean "priority"?)');
  });
});
