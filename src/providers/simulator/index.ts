/**
 * The built-in OpenAI-compatible simulator: a local HTTP server (`/v1/chat/completions`,
 * `/v1/embeddings`, `/v1/models`) with deterministic answers generated from the request's JSON
 * schema, real token counts, latency, rate limits with OpenAI's headers, and fault injection.
 * See `docs/simulator.md`.
 */

import type { AddressInfo } from 'node:net';
import { resolveSimulatorOptions, type SimulatorOptions } from './options.js';
import { createSimulatorServer } from './server.js';
import type { SimulatorStats } from './stats.js';

export type { AnswerFormat } from './answer.js';
export {
  AnswerLimitError,
  MAX_ANSWER_BYTES,
  MAX_ARRAY_ITEMS,
  MAX_STRING_LENGTH,
} from './answer-limits.js';
export { formatResetDuration, parseResetDuration } from './durations.js';
export { cosineSimilarity, embedText } from './embeddings.js';
export { FAULT_KINDS, type FaultKind } from './faults.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_SIMULATOR_MODELS,
  type LatencyOptions,
  type ResolvedSimulatorOptions,
  resolveSimulatorOptions,
  type SimulatorFaults,
  type SimulatorLimits,
  type SimulatorOptions,
  SimulatorOptionsSchema,
} from './options.js';
export { SIMULATOR_OWNER } from './responses.js';
export { generateFromSchema } from './schema-answer.js';
export { createSimulatorServer, type SimulatorServer } from './server.js';
export type { SimulatorLogEntry, SimulatorStats } from './stats.js';

/** A running simulator. */
export interface Simulator {
  /** Base URL for an OpenAI client, e.g. `http://127.0.0.1:53211/v1`. */
  url: string;
  /** The port it listens on (127.0.0.1). */
  port: number;
  /**
   * Stops the server: pending answers are dropped, hanging (`timeout` fault) requests are cut
   * off, keep-alive connections are closed. Resolves once it no longer listens. Idempotent.
   */
  close(): Promise<void>;
  /** A snapshot of its counters and request log. */
  stats(): SimulatorStats;
  /** Clears the counters, the log and the rate-limit window, and restarts the seeded PRNG. */
  reset(): void;
}

/**
 * Starts an OpenAI-compatible simulator on 127.0.0.1 (an ephemeral port unless `port` is given).
 *
 * Rejects with a `ValidationError` when an option is invalid; the message names
 * the field and the value received.
 * @example
 * const sim = await startSimulator({ limits: { requests: 60 } });
 * const client = new OpenAI({ apiKey: 'sk-test', baseURL: sim.url, maxRetries: 0 });
 * // …
 * await sim.close();
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const resolved = resolveSimulatorOptions(options);
  const simulator = createSimulatorServer(resolved);
  const { server } = simulator;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    close: () => simulator.shutdown(),
    stats: () => simulator.stats(),
    reset: () => simulator.reset(),
  };
}
