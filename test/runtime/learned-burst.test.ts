/**
 * Issue 15's open defect, on virtual time: the first burst of a process leaves before any header
 * is read, and its requests reach the server spread out (the first SDK request, new
 * connections). The provider here is a sliding window that counts a request when it arrives and
 * writes its `x-ratelimit-*` headers when it answers, the way the simulator and OpenAI do (reset:
 * until every counted request has left the window). The queue has no limit configured: what
 * holds it back after the first burst is the window it learns from those headers. No request
 * after the first burst may be refused.
 */

import { describe, expect, it } from 'vitest';
import { type Arrival, ArrivalStampedProvider, runEchoTasks } from '../helpers/arrival-provider.js';
import { createClock } from '../helpers/virtual-time.js';

interface BurstRun {
  arrivals: Arrival[];
  burstEnd: number;
  busiestWindow: number;
}

const LIMIT = 10;
const WINDOW = 1_000;
const CONCURRENCY = 15;
const TASKS = 60;

/** 60 tasks, concurrency 15, no limit configured, against the provider above (10 per second). */
async function run(
  arrivalDelay: (i: number) => number,
  latency: (i: number) => number,
  prepare?: (i: number) => number,
) {
  const clock = createClock();
  const provider = new ArrivalStampedProvider(
    clock,
    LIMIT,
    WINDOW,
    arrivalDelay,
    latency,
    undefined,
    prepare,
  );
  await runEchoTasks(clock, provider, { maxConcurrent: CONCURRENCY }, TASKS, 7);
  const burstEnd = Math.max(...provider.arrivals.slice(0, CONCURRENCY).map((a) => a.at));
  return { arrivals: provider.arrivals, burstEnd, busiestWindow: provider.busiestWindow() };
}

/**
 * The first burst goes out before any header: at most concurrency − limit refusals, all in it.
 * After it, none, and the provider never holds more than its limit.
 */
function expectOnlyTheFirstBurstRefused({ arrivals, burstEnd, busiestWindow }: BurstRun): void {
  const refused = arrivals.filter((a) => !a.ok);
  const first = arrivals[0]?.at ?? 0;
  expect(refused.filter((a) => a.at > burstEnd).map((a) => a.at - first)).toEqual([]);
  expect(refused.length).toBeLessThanOrEqual(CONCURRENCY - LIMIT);
  expect(busiestWindow).toBeLessThanOrEqual(LIMIT);
}

describe('the first burst, spread out on its way to the server', () => {
  it('answers that come back while it still arrives: their headers say when it clears', async () => {
    // It reaches the server over 42 ms (within the default margin of 50 ms), and answers come
    // back 10 ms after each arrival: the first headers are written before the last arrivals.
    expectOnlyTheFirstBurstRefused(
      await run(
        (i) => (i < CONCURRENCY ? 3 * i : 2),
        () => 10,
      ),
    );
  });

  it('a late arrival whose answer comes after the window: its send counts', async () => {
    // Nine requests arrive at once; the other six 45 ms after they were sent (a new connection);
    // the one of those the server accepts answers after 1.1 s, so no header in the first window
    // tells of it: only its send does.
    expectOnlyTheFirstBurstRefused(
      await run(
        (i) => (i < 9 ? 0 : i < CONCURRENCY ? 45 : 2),
        (i) => (i === 9 ? 1_100 : 2),
      ),
    );
  });

  it('calls admitted but not sent yet when the first headers come: they count', async () => {
    // The burst's calls are prepared one after another, 8 ms each (their turns, the SDK's work),
    // and answered 10 ms after they arrive: the first headers come back while most of the burst
    // has not left yet. A task admitted when a slot frees then must wait for the window those
    // calls will fill, not take the room they were admitted for.
    expectOnlyTheFirstBurstRefused(
      await run(
        () => 0,
        () => 10,
        (i) => (i < CONCURRENCY ? 8 * i : 0),
      ),
    );
  });
});
