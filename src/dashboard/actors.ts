import type { AnyActorRef } from 'xstate';
import type { Statistics } from '../stats/types.js';

/** An actor of the supervisor's system as the dashboard shows it. */
export interface ActorView {
  systemId: 'supervisor' | 'concurrency' | 'rateLimit' | 'budget' | 'tasks';
  status: string;
  /** A machine's state value (`running`, `paused`, `draining`, `stopped`); `null` for other logic. */
  state: string | null;
  summary: Record<string, number | string | null>;
}

const RESOURCE_IDS = ['concurrency', 'rateLimit', 'budget', 'tasks'] as const;

function stateText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function summaryOf(
  systemId: ActorView['systemId'],
  context: unknown,
  s: Statistics,
): ActorView['summary'] {
  switch (systemId) {
    case 'supervisor':
      return {
        waiting: s.queue.size,
        waitingFor: s.queue.waitingFor,
        heldModels: s.queue.heldModels.length,
      };
    case 'concurrency': {
      const c = context as { used?: unknown; max?: unknown } | undefined;
      return {
        used: typeof c?.used === 'number' ? c.used : null,
        max: typeof c?.max === 'number' ? c.max : null,
      };
    }
    case 'rateLimit': {
      let fullest: number | null = null;
      for (const w of s.rateLimit.windows) {
        for (const g of [w.requests, w.tokens]) {
          if (g.limit !== null && g.limit > 0)
            fullest = Math.max(fullest ?? 0, (g.current / g.limit) * 100);
        }
      }
      return {
        windows: s.rateLimit.windows.length,
        fullestPercent: fullest === null ? null : Math.round(fullest),
      };
    }
    case 'budget':
      return { spentUsd: s.cost.total.cost, heldUsd: s.cost.held, limitUsd: s.cost.total.limit };
    case 'tasks': {
      const c = context as { finished?: unknown } | undefined;
      return { finished: typeof c?.finished === 'number' ? c.finished : null };
    }
  }
}

/** The supervisor and its resource actors, read from their snapshots. */
export function actorViews(supervisor: AnyActorRef, statistics: Statistics): ActorView[] {
  const view = (systemId: ActorView['systemId'], actor: AnyActorRef | undefined): ActorView => {
    if (actor === undefined) return { systemId, status: 'stopped', state: null, summary: {} };
    const snapshot = actor.getSnapshot() as {
      status?: unknown;
      value?: unknown;
      context?: unknown;
    };
    return {
      systemId,
      status: typeof snapshot.status === 'string' ? snapshot.status : 'unknown',
      state: stateText(snapshot.value),
      summary: summaryOf(systemId, snapshot.context, statistics),
    };
  };
  return [
    view('supervisor', supervisor),
    ...RESOURCE_IDS.map((id) => view(id, supervisor.system.get(id) as AnyActorRef | undefined)),
  ];
}
