/**
 * `aitq run --shared-limits`: two runs of the CLI at once, each a process of its own with its own
 * input, against one simulator that enforces 10 requests a second, each configured with that
 * window and given the same shared limits on the local Redis. Together they keep to it, by the
 * simulator's own count: no answer of 429. And the flags refuse what they cannot use. Real
 * processes over loopback; nothing asserts on timings.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { dropPrefix, freePort, freshPrefix, REDIS_URL } from '../helpers/redis.js';
import { runCliToEnd } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-shared-cli-'));
const prefix = freshPrefix('cli');
const admin = new Redis(REDIS_URL);
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    limits: { requests: 10, windowMs: 1_000 },
    latency: { kind: 'fixed', ms: 5 },
    logLimit: 1_000,
  });
});

afterAll(async () => {
  await sim.close();
  await dropPrefix(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `aitq run` of 15 records against the simulator, with `more` flags. */
function runOf(name: string, more: readonly string[]) {
  const input = file(
    `${name}.jsonl`,
    Array.from({ length: 15 }, (_, i) => JSON.stringify({ name: `${name}-${i}` })).join('\n'),
  );
  return runCliToEnd([
    'run',
    input,
    '--prompt',
    'Say {{name}}',
    '--base-url',
    sim.url,
    '--api-key',
    'sk-test',
    '--progress',
    'none',
    '--json',
    '--no-store',
    '--out',
    join(dir, `${name}.results.jsonl`),
    ...more,
  ]);
}

describe('aitq run --shared-limits', () => {
  it('keeps two runs at once to one window: no 429 from a server that enforces it', async () => {
    // Two CLI processes, the simulator and (in the suite) other tests' processes on two cores: a
    // call may reach the simulator more than half a second after its send (a CI run saw a 429).
    const config = file(
      'config.json',
      JSON.stringify({ windows: [{ requests: 10, windowMs: 1000 }], windowMarginMs: 750 }),
    );
    const shared = ['--shared-limits', REDIS_URL, '--shared-prefix', prefix, '--config', config];
    const [a, b] = await Promise.all([runOf('a', shared), runOf('b', shared)]);
    expect(a?.code, a?.stderr).toBe(EXIT_CODES.ok);
    expect(b?.code, b?.stderr).toBe(EXIT_CODES.ok);
    const { log } = sim.stats();
    expect(log.filter((e) => e.status === 200)).toHaveLength(30);
    expect(log.filter((e) => e.status === 429)).toEqual([]);
  }, 60_000);

  it('refuses a URL that is not Redis, a prefix alone, and a Redis that does not answer', async () => {
    const notRedis = await runOf('c', ['--shared-limits', 'http://127.0.0.1:6379']);
    expect(notRedis.code).toBe(EXIT_CODES.badInput);
    expect(notRedis.stderr).toContain('--shared-limits: expected a redis:// or rediss:// URL');
    const prefixAlone = await runOf('d', ['--shared-prefix', 'x']);
    expect(prefixAlone.code).toBe(EXIT_CODES.badInput);
    expect(prefixAlone.stderr).toContain('--shared-prefix: give --shared-limits too');
    const port = await freePort();
    const down = await runOf('e', ['--shared-limits', `redis://127.0.0.1:${port}`]);
    expect(down.code).toBe(EXIT_CODES.badInput);
    expect(down.stderr).toContain('cannot be reached');
  }, 60_000);
});
