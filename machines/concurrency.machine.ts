import { assign, setup } from 'xstate';

/**
 * The slot pool. The supervisor reads `used` and `max` to decide, then takes slots with
 * `slot.acquire`; a finished attempt gives its slot back with `slot.release`. Resizing never
 * interrupts a running task: lowering `max` below `used` only stops new admissions.
 */
export interface ConcurrencyContext {
  max: number;
  used: number;
}

export type ConcurrencyEvent =
  | { type: 'slot.acquire'; count: number }
  | { type: 'slot.release'; count: number }
  | { type: 'slot.resize'; max: number };

export const concurrencyMachine = setup({
  types: {
    context: {} as ConcurrencyContext,
    events: {} as ConcurrencyEvent,
    input: {} as { max: number },
  },
  actions: {
    acquire: assign({
      used: ({ context, event }) =>
        context.used + (event.type === 'slot.acquire' ? event.count : 0),
    }),
    release: assign({
      used: ({ context, event }) =>
        Math.max(0, context.used - (event.type === 'slot.release' ? event.count : 0)),
    }),
    resize: assign({
      max: ({ context, event }) => (event.type === 'slot.resize' ? event.max : context.max),
    }),
  },
}).createMachine({
  id: 'concurrency',
  context: ({ input }) => ({ max: input.max, used: 0 }),
  on: {
    'slot.acquire': { actions: 'acquire' },
    'slot.release': { actions: 'release' },
    'slot.resize': { actions: 'resize' },
  },
});

/** Free slots now (never negative). */
export function freeSlots(context: ConcurrencyContext): number {
  return Math.max(0, context.max - context.used);
}
