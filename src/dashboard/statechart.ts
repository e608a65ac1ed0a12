import type { AnyStateMachine } from 'xstate';

/** A state of a machine's top level, as the dashboard draws it. */
export interface ChartState {
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  initial?: boolean;
}

/** A transition that changes the top-level state (targetless ones change none and are left out). */
export interface ChartTransition {
  source: string;
  target: string;
  event: string;
  guard?: string;
}

/** A machine's top-level states and the transitions between them, read from its definition. */
export interface ChartGraph {
  id: string;
  initial: string;
  states: ChartState[];
  transitions: ChartTransition[];
}

interface DefinitionTransition {
  target?: readonly string[] | undefined;
  guard?: unknown;
}

interface DefinitionNode {
  key: string;
  type: ChartState['type'];
  initial?: { target?: readonly { key: string }[] } | string | undefined;
  states: Record<string, DefinitionNode>;
  on: Record<string, readonly DefinitionTransition[]>;
}

/** The label of an eventless (`always`) transition. */
export const ALWAYS_EVENT = 'always';

/** `#task.running` → `running`: the top-level state a target names, if it names one. */
function topLevelKey(
  target: string,
  rootId: string,
  keys: ReadonlySet<string>,
): string | undefined {
  const prefix = `#${rootId}.`;
  const rest = target.startsWith(prefix) ? target.slice(prefix.length) : target;
  const key = rest.split('.')[0] ?? '';
  return keys.has(key) ? key : undefined;
}

function guardName(guard: unknown): string | undefined {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) {
    const type = (guard as { type: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

function initialKey(node: DefinitionNode): string {
  const initial = node.initial;
  if (typeof initial === 'string') return initial;
  return initial?.target?.[0]?.key ?? Object.keys(node.states)[0] ?? '';
}

/**
 * The top-level chart of a machine, from its own definition (`machine.root.definition`), so the
 * page draws exactly the states and transitions that run. Root-level transitions with a target
 * apply in every state and are listed once per source state.
 */
export function chartOf(machine: AnyStateMachine): ChartGraph {
  // The definition's JSON form names targets as `#id.key` strings (its objects hold state nodes).
  const root = JSON.parse(JSON.stringify(machine.root.definition)) as DefinitionNode & {
    id: string;
  };
  const keys = new Set(Object.keys(root.states));
  const initial = initialKey(root);
  const states: ChartState[] = Object.values(root.states).map((state) =>
    state.key === initial
      ? { key: state.key, type: state.type, initial: true }
      : { key: state.key, type: state.type },
  );
  const transitions: ChartTransition[] = [];
  const add = (source: string, on: DefinitionNode['on']) => {
    for (const [event, list] of Object.entries(on)) {
      for (const transition of list) {
        for (const target of transition.target ?? []) {
          const key = topLevelKey(target, root.id, keys);
          if (key === undefined) continue;
          const guard = guardName(transition.guard);
          transitions.push(
            guard === undefined
              ? { source, target: key, event }
              : { source, target: key, event, guard },
          );
        }
      }
    }
  };
  for (const state of Object.values(root.states)) {
    add(state.key, state.on);
    // The definition leaves eventless transitions out; the state node has them.
    const always = machine.root.states[state.key]?.always;
    if (always !== undefined) {
      add(state.key, {
        [ALWAYS_EVENT]: JSON.parse(JSON.stringify(always)) as DefinitionTransition[],
      });
    }
  }
  for (const state of Object.values(root.states)) {
    if (state.type !== 'final') add(state.key, root.on);
  }
  return { id: root.id, initial, states, transitions };
}
