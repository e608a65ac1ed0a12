import { createActor } from 'xstate';
import { type TaskMachineInput, taskMachine } from '../../machines/task.machine.js';

/** A persisted snapshot of the task machine, as `createActor(taskMachine, { snapshot })` takes it. */
export type PersistedTaskSnapshot = ReturnType<
  ReturnType<typeof createActor<typeof taskMachine>>['getSnapshot']
>;

const templateInput: TaskMachineInput = {
  id: 'template',
  at: 0,
  retry: { maxRetries: 0, maxRateLimitRetries: 0, retryDelay: 0, maxRetryDelay: 0 },
};

let templates: { waiting: PersistedTaskSnapshot; running: PersistedTaskSnapshot } | undefined;

/**
 * The task machine's own snapshots of a task that has never moved and of one just admitted for the
 * first time, computed once by running the machine. Per-task snapshots are these templates with
 * the task's own data put in: nothing here decides a transition.
 */
function getTemplates(): { waiting: PersistedTaskSnapshot; running: PersistedTaskSnapshot } {
  if (templates === undefined) {
    const actor = createActor(taskMachine, { input: templateInput }).start();
    const waiting = actor.getPersistedSnapshot() as PersistedTaskSnapshot;
    actor.send({ type: 'task.admit', at: 0 });
    const running = actor.getPersistedSnapshot() as PersistedTaskSnapshot;
    actor.stop();
    templates = { waiting, running };
  }
  return templates;
}

/**
 * The persisted snapshot of a task that has never moved: what `createActor(taskMachine, { input })`
 * would start in, derived from its record without running the machine.
 */
export function waitingSnapshot(input: TaskMachineInput): PersistedTaskSnapshot {
  const { waiting } = getTemplates();
  return {
    ...waiting,
    context: {
      ...waiting.context,
      id: input.id,
      retry: input.retry,
      history: [{ status: 'queued', at: input.at }],
    },
  };
}

/**
 * The persisted snapshot of a never-moved task right after its first `task.admit` at `at`:
 * what restoring `waitingSnapshot(input)` and sending `task.admit` gives (a property test checks
 * this against the machine), at the cost of one actor start instead of a start and a transition.
 */
export function firstRunningSnapshot(input: TaskMachineInput, at: number): PersistedTaskSnapshot {
  const { running } = getTemplates();
  return {
    ...running,
    context: {
      ...running.context,
      id: input.id,
      retry: input.retry,
      history: [
        { status: 'queued', at: input.at },
        { status: 'running', at },
      ],
    },
  };
}
