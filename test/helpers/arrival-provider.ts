/**
 * An OpenAI-compatible provider on the virtual clock that counts requests by their arrival, as
 * the simulator and OpenAI do, for the tests of what the server sees.
 */

import { expect } from 'vitest';
import type { SimulatedClock } from 'xstate';
import type { EngineSettingsInput } from '../../src/config/engine-options.js';
import { ProviderError, providerErrorFor } from '../../src/errors.js';
import type {
  AIClient,
  CallOptions,
  ChatRequest,
  ChatResponse,
} from '../../src/providers/types.js';
import { Engine } from '../../src/runtime/engine.js';
import { seededRandom } from '../../src/time/clock.js';
import { echoTaskType } from './task-types.js';
import { advanceUntil } from './virtual-time.js';

export interface Arrival {
  at: number;
  ok: boolean;
}

/**
 * An OpenAI-compatible provider on the virtual clock: request `i` (in the order calls are sent)
 * reaches it `arrivalDelay(i, idleMs)` ms after it is sent (`idleMs`: since its last answer,
 * `Infinity` before the first); it counts `limit` requests per `windowMs` by
 * arrival, answers 429 (with retry-after) over that, else answers `latencyMs(i)` later with
 * headers as its window is at that moment. With `writtenBeforeArrivalMs`, the client tells the
 * call of its write too (`onWrite`), as the OpenAI adapter does with Node's `fetch`, that long
 * before the request arrives. With `prepareMs`, call `i` (in the order calls are made) is sent
 * that long after it was made, as the adapter's calls wait for their turn and the SDK's work.
 */
export class ArrivalStampedProvider implements AIClient {
  readonly arrivals: Arrival[] = [];
  private readonly window: number[] = [];
  private sends = 0;
  private calls = 0;
  private lastAnswerAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly arrivalDelay: (i: number, idleMs: number) => number,
    private readonly latencyMs: (i: number) => number,
    private readonly writtenBeforeArrivalMs?: number,
    /** How long call `i` is prepared before it is sent (the SDK's work, its turn): 0 by default. */
    private readonly prepareMs?: (i: number) => number,
  ) {}

  chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    const prepare = this.prepareMs?.(this.calls++) ?? 0;
    if (prepare <= 0) return this.send(request, options);
    return new Promise((resolve, reject) => {
      this.clock.setTimeout(() => this.send(request, options).then(resolve, reject), prepare);
    });
  }

  private send(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    const i = this.sends++;
    options.onSend?.();
    const delay = this.arrivalDelay(i, this.clock.now() - this.lastAnswerAt);
    const written = this.writtenBeforeArrivalMs;
    if (written !== undefined) {
      this.clock.setTimeout(() => options.onWrite?.(), Math.max(0, delay - written));
    }
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
          this.lastAnswerAt = at;
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
      }, delay);
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

/**
 * Runs `tasks` echo tasks, submitted at once, through an engine on `clock` with `provider` as
 * its client and `settings`, until every one has ended (at most 60 s of virtual time).
 */
export async function runEchoTasks(
  clock: SimulatedClock,
  provider: AIClient,
  settings: EngineSettingsInput,
  tasks: number,
  seed: number,
): Promise<void> {
  const engine = new Engine(
    { model: 'gpt-4o-mini', taskDefaults: { maxRateLimitRetries: 50 }, ...settings },
    { client: provider, clock, random: seededRandom(seed), taskTypes: [echoTaskType] },
  );
  engine.start();
  const ids = await engine.submitMany(
    Array.from({ length: tasks }, (_, i) => ({ taskType: 'ECHO', data: { prompt: `t${i}` } })),
  );
  let done = 0;
  for (const id of ids) void engine.waitFor(id).then(() => done++);
  await advanceUntil(clock, () => done === tasks, 60_000, 1);
  expect(done).toBe(tasks);
  await engine.stop({ force: true });
}
