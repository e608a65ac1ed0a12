/**
 * A simulator for the CLI's end-to-end tests: started before a file's tests, closed after them,
 * with a scratch folder, and its request log read back.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import {
  type Simulator,
  type SimulatorLogEntry,
  startSimulator,
} from '../../src/providers/simulator/index.js';

export interface TestSimulator {
  /** The folder of the test file's inputs and results (deleted after its tests). */
  dir: string;
  /** The simulator (once the tests started). */
  readonly sim: Simulator;
  /** Where the request log is now: pass it to {@link TestSimulator.chatsSince}. */
  mark(): number;
  /** The chat requests the simulator got since `from` (a {@link TestSimulator.mark}). */
  chatsSince(from: number): SimulatorLogEntry[];
}

/** Registers the simulator of the test file (answers after 5 ms) and its folder. */
export function useTestSimulator(prefix: string): TestSimulator {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let started: Simulator | undefined;
  beforeAll(async () => {
    started = await startSimulator({ latency: { kind: 'fixed', ms: 5 }, logLimit: 100_000 });
  });
  afterAll(async () => {
    await started?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const sim = (): Simulator => {
    if (started === undefined) throw new Error('the simulator starts before the tests');
    return started;
  };
  return {
    dir,
    get sim() {
      return sim();
    },
    mark: () => sim().stats().log.length,
    chatsSince: (from) =>
      sim()
        .stats()
        .log.slice(from)
        .filter((entry) => entry.path.endsWith('/chat/completions')),
  };
}
