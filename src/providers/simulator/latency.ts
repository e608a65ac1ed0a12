/** How long the simulator waits before answering, drawn from the configured distribution. */

import type { RandomSource } from '../../time/clock.js';
import type { LatencyOptions } from './options.js';

/** A standard normal deviate (Box–Muller) from two uniform draws. */
function standardNormal(random: RandomSource): number {
  const u1 = 1 - random(); // (0, 1]: the logarithm stays finite
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * The base wait of one answer, in milliseconds (never negative): exactly `ms` for `fixed`,
 * uniform in [`minMs`, `maxMs`] for `uniform`, `medianMs · e^(sigma · Z)` for `lognormal`.
 */
export function sampleLatencyMs(latency: LatencyOptions, random: RandomSource): number {
  switch (latency.kind) {
    case 'fixed':
      return latency.ms;
    case 'uniform':
      return latency.minMs + (latency.maxMs - latency.minMs) * random();
    case 'lognormal':
      return latency.medianMs * Math.exp(latency.sigma * standardNormal(random));
  }
}

/** The whole wait: the base latency plus `perOutputTokenMs` for each generated token. */
export function answerDelayMs(
  baseMs: number,
  completionTokens: number,
  perOutputTokenMs: number,
): number {
  return Math.max(0, baseMs + completionTokens * perOutputTokenMs);
}
