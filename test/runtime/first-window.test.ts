/**
 * The first window of a process, on virtual time, against a provider that counts requests by
 * arrival and says so in its `x-ratelimit-*` headers, with the queue's window the same as the
 * provider's (issue 15's makespan): the window learned from the first answer counts every call
 * the process sent, so the provider's remaining counts, written while calls were still on their
 * way, do not hold the first window's last calls back until the provider's whole window clears.
 * The first burst reaches the provider long after the margin, and its successors a window later
 * do not: it counts from its answers, and the provider never refuses a call.
 */

import { describe, expect, it } from 'vitest';
import { ArrivalStampedProvider, runEchoTasks } from '../helpers/arrival-provider.js';
import { createClock } from '../helpers/virtual-time.js';

const LIMIT = 100;
const WINDOW = 10_000;
const CONCURRENCY = 20;
const TASKS = 400;
const LATENCY = 50;
/** How late a call on a new connection arrives: six times the default margin. */
const COLD_DELAY = 300;

async function run(configured: boolean, writtenBeforeArrivalMs?: number) {
  const clock = createClock();
  // The first burst arrives late (the SDK's first request, new connections); its successors a
  // window later find the connections made and arrive at once.
  const provider = new ArrivalStampedProvider(
    clock,
    LIMIT,
    WINDOW,
    (i) => (i < CONCURRENCY ? COLD_DELAY : 1),
    () => LATENCY,
    writtenBeforeArrivalMs,
  );
  const started = clock.now();
  await runEchoTasks(
    clock,
    provider,
    {
      maxConcurrent: CONCURRENCY,
      windows: configured ? [{ requests: LIMIT, windowMs: WINDOW }] : [],
    },
    TASKS,
    3,
  );
  const accepted = provider.arrivals.filter((a) => a.ok).map((a) => a.at - started);
  return { provider, accepted, makespan: clock.now() - started };
}

describe.each([
  ['with the queue limited as the provider is', true],
  ['with nothing configured (the window learned from the headers)', false],
])('the first window, %s', (_name, configured) => {
  it('sends the whole window at once, as the later windows do', async () => {
    const { accepted } = await run(configured);
    // The limit's worth leaves at concurrency 20 and 50 ms a call: five waves, not a window.
    expect(accepted[LIMIT - 1]).toBeLessThan(2 * COLD_DELAY + 5 * (LATENCY + 10));
    expect(accepted[LIMIT]).toBeGreaterThanOrEqual(WINDOW);
  });

  it('never has the provider refuse a call, though the first burst arrives late', async () => {
    const { provider, makespan } = await run(configured);
    expect(provider.arrivals.filter((a) => !a.ok)).toEqual([]);
    expect(provider.busiestWindow()).toBe(LIMIT);
    // Each window waits for the first answers of the one before (its cold calls), no more.
    expect(makespan).toBeLessThan(Math.floor((TASKS - 1) / LIMIT) * WINDOW + 2_000);
  });
});

describe.each([
  ['with the queue limited as the provider is', true],
  ['with nothing configured (the window learned from the headers)', false],
])('the first window, its writes told (Node fetch), %s', (_name, configured) => {
  it('counts the first burst from its writes, not its answers, and is never refused', async () => {
    // Written after its new connection was made, 1 ms before it arrives.
    const { provider, accepted } = await run(configured, 1);
    expect(provider.arrivals.filter((a) => !a.ok)).toEqual([]);
    expect(provider.busiestWindow()).toBe(LIMIT);
    // The second window opens one window and the margin (15 ms by default, under the 50 ms of
    // a call) after the first burst's writes, before its answers would have let it.
    expect(accepted[LIMIT]).toBeGreaterThanOrEqual(WINDOW + COLD_DELAY);
    expect(accepted[LIMIT]).toBeLessThan(WINDOW + COLD_DELAY + LATENCY);
    const { accepted: answered } = await run(configured);
    expect(answered[LIMIT]).toBeGreaterThanOrEqual(WINDOW + COLD_DELAY + LATENCY);
  });
});
