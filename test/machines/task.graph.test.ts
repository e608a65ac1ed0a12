import { describe, expect, it } from 'vitest';
import { getAdjacencyMap, getShortestPaths } from 'xstate/graph';
import { type TaskMachineEvent, taskMachine } from '../../machines/task.machine.js';
import { isTerminalStatus, TASK_STATUSES } from '../../machines/task-status.js';

const error = { name: 'ProviderError', code: 'PROVIDER_ERROR', message: 'boom', retryable: true };
const fatal = { ...error, retryable: false };

/** Every kind of event the lifecycle knows, at a time late enough for any retry to be due. */
const events: TaskMachineEvent[] = [
  { type: 'task.admit', at: 1e12 },
  { type: 'task.outcome', outcome: { ok: true, at: 2 } },
  { type: 'task.outcome', outcome: { ok: false, at: 2, error, rateLimited: false, jitter: 0.5 } },
  {
    type: 'task.outcome',
    outcome: { ok: false, at: 2, error: fatal, rateLimited: false, jitter: 0 },
  },
  {
    type: 'task.outcome',
    outcome: {
      ok: false,
      at: 2,
      error: { ...error, status: 429 },
      rateLimited: true,
      retryAfterMs: 100,
      jitter: 0,
    },
  },
  { type: 'task.pause', at: 3 },
  { type: 'task.resume', at: 4 },
  { type: 'task.cancel', at: 5 },
  { type: 'task.expire', at: 6, error: { ...fatal, code: 'TASK_TIMEOUT' } },
  { type: 'task.interrupt', at: 7 },
];

const input = {
  id: 't',
  at: 0,
  retry: { maxRetries: 2, maxRateLimitRetries: 2, retryDelay: 1, maxRetryDelay: 60 },
};

/** States differ by where they are and what they have used up; history and times are ignored. */
function serialize(snapshot: ReturnType<typeof taskMachine.transition>): string {
  const c = snapshot.context;
  return JSON.stringify([
    snapshot.value,
    c.retriesUsed,
    c.rateLimitRetries,
    c.resumeTo,
    c.error?.retryable,
  ]);
}

describe('task lifecycle graph (xstate/graph)', () => {
  const adjacency = getAdjacencyMap(taskMachine, {
    input,
    events,
    serializeState: serialize as never,
  });
  const nodes = Object.entries(adjacency);

  it('reaches every one of the seven states', () => {
    const reached = new Set(nodes.map(([, v]) => String(v.state.value)));
    expect([...reached].sort()).toEqual([...TASK_STATUSES].sort());
  });

  it('can reach a terminal state from every reachable state', () => {
    const canFinish = new Set<string>();
    for (const [key, value] of nodes) {
      if (isTerminalStatus(value.state.value as never)) canFinish.add(key);
    }
    let grew = true;
    while (grew) {
      grew = false;
      for (const [key, value] of nodes) {
        if (canFinish.has(key)) continue;
        const next = Object.values(value.transitions).map((t) =>
          serialize((t as { state: never }).state),
        );
        if (next.some((n) => canFinish.has(n))) {
          canFinish.add(key);
          grew = true;
        }
      }
    }
    const stuck = nodes.filter(([key]) => !canFinish.has(key)).map(([key]) => key);
    expect(stuck).toEqual([]);
  });

  it('leaves a terminal state on no event', () => {
    for (const [, value] of nodes) {
      if (!isTerminalStatus(value.state.value as never)) continue;
      for (const t of Object.values(value.transitions)) {
        expect((t as { state: { value: unknown } }).state.value).toBe(value.state.value);
      }
    }
  });

  it('uses up retries: with maxRetries 2, the third retryable failure fails the task', () => {
    const paths = getShortestPaths(taskMachine, {
      input,
      events,
      serializeState: serialize as never,
      toState: (s) =>
        s.value === 'failed' && s.context.retriesUsed === 2 && s.context.error?.retryable === true,
    });
    expect(paths.length).toBeGreaterThan(0);
    const failures = paths[0]?.steps.filter(
      (s) => s.event.type === 'task.outcome' && !s.event.outcome.ok,
    );
    expect(failures?.length).toBe(3);
  });
});
