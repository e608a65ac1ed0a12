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
import type { SimulatedClock } from 'xstate';
import { ProviderError, providerErrorFor } from '../../src/errors.js';
import type {
  AIClient,
  CallOptions,
  ChatRequest,
  ChatResponse,
} from '../../src/providers/types.js';
import { Engine } from '../../src/runtime/engine.js';
import { seededRandom } from '../../src/time/clock.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advanceUntil, createClock } from '../helpers/virtual-time.js';

interface Arrival {
  at: number;
  ok: boolean;
}

/**
 * An OpenAI-compatible provider on the virtual clock: request `i` (in the order calls are sent)
 * reaches it `arrivalDelay(i)` ms after it is sent; it counts `limit` requests per `windowMs` by
 * arrival, answers 429 (with retry-after) over that, else answers `latencyMs(i)` later with
 * headers as its window is at that moment.
 */
class ArrivalStampedProvider implements AIClient {
  readonly arrivals: Arrival[] = [];
  private readonly window: number[] = [];
  private sends = 0;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly arrivalDelay: (i: number) => number,
    private readonly latencyMs: (i: number) => number,
  ) {}

  chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    const i = this.sends++;
    options.onSend?.();
    return new Promise((resolve, reject) => {
      this.clock.setTimeout(() => {
        const now = this.clock.now();
        this.prune(now);
        if (this.window.length >= this.limit) {
          this.arrivals.push({ at: now, ok: false });
          const retryAfterMs = (this.window[0] as number) + this.windowMs - now;
          this.clock.setTimeout(
            () => reject(providerErrorFor('rate limited', { status: 429, retryAfterMs })),
            5,
          );
          return;
        }
        this.window.push(now);
        this.arrivals.push({ at: now, ok: true });
        this.clock.setTimeout(() => {
          const at = this.clock.now();
          this.prune(at);
          const newest = this.window[this.window.length - 1];
          resolve({
            content: 'ok',
            finishReason: 'stop',
            model: request.model,
            usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
            hints: {
              limitRequests: this.limit,
              remainingRequests: this.limit - this.window.length,
              resetRequestsMs: newest === undefined ? 0 : newest + this.windowMs - at,
            },
          });
        }, this.latencyMs(i));
      }, this.arrivalDelay(i));
    });
  }

  embed(): Promise<never> {
    return Promise.reject(new ProviderError('no embeddings here', { retryable: false }));
  }

  /** The most requests the provider accepted in any window of its length. */
  busiestWindow(): number {
    const accepted = this.arrivals.filter((a) => a.ok).map((a) => a.at);
    let most = 0;
    for (let i = 0, j = 0; i < accepted.length; i++) {
      while ((accepted[i] as number) - (accepted[j] as number) >= this.windowMs) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  }

  private prune(now: number): void {
    while (this.window.length > 0 && (this.window[0] as number) + this.windowMs <= now) {
      this.window.shift();
    }
  }
}

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
async function run(arrivalDelay: (i: number) => number, latency: (i: number) => number) {
  const clock = createClock();
  const provider = new ArrivalStampedProvider(clock, LIMIT, WINDOW, arrivalDelay, latency);
  const engine = new Engine(
    { model: 'gpt-4o-mini', maxConcurrent: CONCURRENCY, taskDefaults: { maxRateLimitRetries: 50 } },
    { client: provider, clock, random: seededRandom(7), taskTypes: [echoTaskType] },
  );
  engine.start();
  const ids = await engine.submitMany(
    Array.from({ length: TASKS }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
  );
  let done = 0;
  for (const id of ids) void engine.waitFor(id).then(() => done++);
  await advanceUntil(clock, () => done === TASKS, 60_000, 1);
  expect(done).toBe(TASKS);
  await engine.stop({ force: true });
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
});
