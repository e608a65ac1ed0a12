import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type TaskMachineInput, taskMachine } from '../../machines/task.machine.js';
import { firstRunningSnapshot, waitingSnapshot } from '../../src/runtime/task-snapshots.js';

const inputArb: fc.Arbitrary<TaskMachineInput> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 12 }),
  at: fc.integer({ min: 0, max: 2 ** 40 }),
  retry: fc.record({
    maxRetries: fc.nat(5),
    maxRateLimitRetries: fc.nat(10),
    retryDelay: fc.double({ min: 0, max: 10, noNaN: true }),
    maxRetryDelay: fc.double({ min: 0, max: 60, noNaN: true }),
  }),
});

function restore(snapshot: unknown, input: TaskMachineInput) {
  return createActor(taskMachine, {
    snapshot: snapshot as ReturnType<
      ReturnType<typeof createActor<typeof taskMachine>>['getSnapshot']
    >,
    input,
  }).start();
}

describe('snapshots derived from a record equal the task machine own', () => {
  it('a never-moved task: equal to starting the machine with its input', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const fromMachine = createActor(taskMachine, { input }).start().getPersistedSnapshot();
        expect(waitingSnapshot(input)).toEqual(fromMachine);
      }),
    );
  });

  it('a first admission: equal to restoring the waiting task and sending task.admit', () => {
    fc.assert(
      fc.property(inputArb, fc.nat(10_000), (input, wait) => {
        const actor = restore(waitingSnapshot(input), input);
        actor.send({ type: 'task.admit', at: input.at + wait });
        expect(firstRunningSnapshot(input, input.at + wait)).toEqual(actor.getPersistedSnapshot());
      }),
    );
  });

  it('and behaves the same afterwards, whatever the outcome', () => {
    const outcomeArb = fc.oneof(
      fc.constant({ ok: true as const, at: 5 }),
      fc.record({
        ok: fc.constant(false as const),
        at: fc.constant(5),
        error: fc.record({
          name: fc.constant('ProviderError'),
          code: fc.constant('PROVIDER_ERROR'),
          message: fc.constant('x'),
          retryable: fc.boolean(),
        }),
        rateLimited: fc.boolean(),
        jitter: fc.double({ min: 0, max: 0.999, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(inputArb, outcomeArb, (input, outcome) => {
        const derived = restore(firstRunningSnapshot(input, input.at), input);
        const real = restore(waitingSnapshot(input), input);
        real.send({ type: 'task.admit', at: input.at });
        derived.send({ type: 'task.outcome', outcome });
        real.send({ type: 'task.outcome', outcome });
        expect(derived.getPersistedSnapshot()).toEqual(real.getPersistedSnapshot());
      }),
    );
  });
});
