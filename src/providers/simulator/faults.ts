/**
 * Fault injection: which fault, if any, a request gets. One draw per request from the seeded
 * PRNG, so a run with the same seed and the same order of requests gets the same faults.
 */

import type { RandomSource } from '../../time/clock.js';
import type { SimulatorFaults } from './options.js';

/** The faults the simulator can inject. */
export type FaultKind = keyof SimulatorFaults;

/** Every fault kind, in the order their probability ranges are laid out on [0, 1). */
export const FAULT_KINDS: readonly FaultKind[] = [
  'error500',
  'error503',
  'error429',
  'timeout',
  'malformed',
  'noUsage',
  // Last, so that adding it moved no other fault's range: a seed draws the same faults as before.
  'outOfCredit',
];

/** The fault for one request, or `undefined` for a normal answer. Always draws one number. */
export function drawFault(faults: SimulatorFaults, random: RandomSource): FaultKind | undefined {
  const draw = random();
  let upTo = 0;
  for (const kind of FAULT_KINDS) {
    const p = faults[kind];
    upTo += p;
    if (p > 0 && draw < upTo) return kind;
  }
  return undefined;
}
