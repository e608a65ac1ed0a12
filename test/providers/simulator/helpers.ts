import OpenAI from 'openai';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../../src/providers/simulator/index.js';

/** The real `openai` SDK pointed at a simulator, with its own retries off. */
export function clientFor(sim: Simulator, apiKey = 'sk-test'): OpenAI {
  return new OpenAI({ apiKey, baseURL: sim.url, maxRetries: 0 });
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): {
  now: () => number;
  advance(ms: number): void;
} {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Starts a simulator for one test and closes it afterwards, even when the test fails. */
export async function withSimulator<T>(
  options: SimulatorOptions,
  run: (sim: Simulator, client: OpenAI) => Promise<T>,
): Promise<T> {
  const sim = await startSimulator(options);
  try {
    return await run(sim, clientFor(sim));
  } finally {
    await sim.close();
  }
}

/** Resolves once `check` holds, polling the event loop (no wall-clock assertion). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 2));
}

/**
 * Resolves once a simulator with a request limit has counted `taken` requests, read from the
 * headers of `GET /v1/models` (which takes nothing from the window).
 */
export async function untilTaken(url: string, taken: number): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/models`);
    await response.body?.cancel();
    const limit = Number(response.headers.get('x-ratelimit-limit-requests'));
    const remaining = Number(response.headers.get('x-ratelimit-remaining-requests'));
    if (limit - remaining >= taken) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
