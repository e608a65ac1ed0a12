/**
 * Records for the store tests, without vitest (a child process of a test imports it too).
 */

import type { TaskRecord } from '../../src/stores/types.js';

let recordCounter = 0;

/**
 * Builds a valid {@link TaskRecord} of a task that has never moved (no optional field set), with a
 * fresh id (`task-<n>`) and a `seq` larger than any earlier default, then applies `overrides`.
 * Every call builds new nested objects, so records never share state.
 */
export function makeRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  recordCounter += 1;
  const n = recordCounter;
  const base: TaskRecord = {
    id: `task-${n}`,
    type: 'echo',
    priority: 'MEDIUM',
    status: 'queued',
    seq: n,
    data: { n },
    config: {
      maxRetries: 3,
      retryDelay: 1,
      maxRetryDelay: 30,
      maxRateLimitRetries: 5,
      timeout: 60,
    },
    reservation: {
      model: 'test-model',
      promptTokens: 10,
      maxTokens: 100,
      worstCaseMicros: 50,
      limited: true,
    },
    createdAt: 1_000 + n,
    attempts: 0,
    usage: { promptTokens: 0, completionTokens: 0, estimated: false, calls: 0 },
    costMicros: 0,
  };
  return { ...base, ...overrides };
}
