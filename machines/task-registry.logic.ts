import { type AnyActorRef, fromTransition } from 'xstate';

/**
 * The parent of every task actor, a child of the supervisor (systemId `tasks`). Task actors join
 * the supervisor's actor system through it, so an inspector on the root sees them, without
 * `spawnChild` (which copies the parent's children map on every spawn) and without making the
 * supervisor's statechart handle a done event per task: a finished task relays its done event
 * here, where it costs a reducer step and is counted. `tasks.release` stops a task actor that is
 * let go before it ends.
 */
export interface TaskRegistryContext {
  /** Task actors that reached a final state. */
  finished: number;
}

/**
 * A child's done event (`xstate.done.actor.<id>`) is the only event here with an `output` key.
 * Telling it by that key, not by its type, spares reading a type string built per task.
 */
export function taskRegistryTransition(
  context: TaskRegistryContext,
  event: { type: string; actor?: AnyActorRef },
  scope?: { stopChild(child: AnyActorRef): void },
): TaskRegistryContext {
  if ('output' in event) return { finished: context.finished + 1 };
  // A task actor let go before it ends (a retry whose state a durable store keeps): only its
  // parent may stop it.
  if (event.type === 'tasks.release' && event.actor !== undefined) scope?.stopChild(event.actor);
  return context;
}

export const taskRegistryLogic = fromTransition(taskRegistryTransition, { finished: 0 });
