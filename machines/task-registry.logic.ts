import { fromTransition } from 'xstate';

/**
 * The parent of every task actor, a child of the supervisor (systemId `tasks`). Task actors join
 * the supervisor's actor system through it, so an inspector on the root sees them, without
 * `spawnChild` (which copies the parent's children map on every spawn) and without making the
 * supervisor's statechart handle a done event per task: a finished task relays its done event
 * here, where it costs a reducer step and is counted.
 */
export interface TaskRegistryContext {
  /** Task actors that reached a final state. */
  finished: number;
}

export const taskRegistryLogic = fromTransition(
  (context: TaskRegistryContext, event: { type: string }): TaskRegistryContext =>
    event.type.startsWith('xstate.done.actor.') ? { finished: context.finished + 1 } : context,
  { finished: 0 },
);
