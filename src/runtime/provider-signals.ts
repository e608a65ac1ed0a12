/**
 * What the provider tells the queue while calls run, and when they leave: a call handed to the
 * HTTP client (its send time counts in the windows), and an answer's rate-limit headers (the
 * `rate.hints` event, with what the model's calls sent since still hold and, while the model has
 * no learned window, the calls already on their way). Each becomes an event of the `rateLimit`
 * actor; a wait the provider asked for also goes to the ledger, so it outlives the process.
 */

import type { RateLimiter } from '../limits/rate-limiter.js';
import type { RateLimitHintsData } from '../limits/types.js';
import { type Clock, monotonicNow } from '../time/clock.js';
import type { LedgerEvent, ResourceTakes } from './resources.js';
import type { TaskRunner } from './running.js';
import type { SharedTakes } from './shared-limits.js';

/** What the provider's signals need from the engine. */
export interface ProviderSignalsDeps {
  clock: Clock;
  runner: Pick<TaskRunner, 'running' | 'sentAfter' | 'sendsOf' | 'warm'>;
  resources: Pick<ResourceTakes, 'sent' | 'record' | 'adopt'>;
  /** The `rateLimit` actor's state now. */
  rateLimiter(): RateLimiter;
  /** Sends an event to the `rateLimit` actor (not to the ledger). */
  sendToRateLimit(event: Extract<LedgerEvent, { type: 'rate.hints' }>): void;
  /** The limits shared with other processes, which hear of the headers too. */
  shared?: SharedTakes | undefined;
}

/** Whether a provider's headers ask for a wait: a `retry-after`, or nothing left until a reset. */
export function imposesWait(hints: RateLimitHintsData): boolean {
  return (
    hints.retryAfterMs !== undefined || hints.remainingRequests === 0 || hints.remainingTokens === 0
  );
}

export class ProviderSignals {
  constructor(private readonly deps: ProviderSignalsDeps) {}

  /**
   * `CallOptions.onSend`: a call of running task `taskId` is being handed to the HTTP client;
   * `written` (`CallOptions.onWrite`): its request is being written to its socket.
   */
  readonly sent = (taskId: string, written = false): void => {
    const task = this.deps.runner.running.get(taskId);
    if (task === undefined) return;
    const { model, promptTokens, maxTokens } = task.record.reservation;
    const first = task.sentAt === undefined;
    task.sentAt = this.deps.resources.sent(taskId, model, promptTokens + maxTokens);
    // A call that may wait for a new connection can reach the server long after its send: a
    // learned window counts it from its answer (see warm-calls.ts).
    if (first && this.deps.runner.warm.sent(model, task.sentAt)) task.cold = true;
    if (written) {
      task.written = true;
      // Limits shared on Redis count the call from its hand-off: a second script a call for the
      // write would double their Redis work, and their margin (the processes' spread) covers it.
      return;
    }
    this.deps.shared?.sent(taskId, model, this.deps.clock.now());
  };

  /** The headers of an answer to task `taskId`'s call of `model`. */
  readonly hints = (model: string, hints: RateLimitHintsData, taskId: string): void => {
    const { clock, runner } = this.deps;
    const at = monotonicNow(clock);
    const teaches = hints.limitRequests !== undefined || hints.limitTokens !== undefined;
    const first = !runner.warm.answered(model);
    const event = {
      type: 'rate.hints' as const,
      at,
      model,
      hints,
      sentSince: runner.sentAfter(taskId, model),
      // A window learned for the first time starts with the calls already on their way, and
      // those admitted but not sent yet (from the model's first answer: every call the process
      // sent it or is about to).
      ...(teaches && !this.deps.rateLimiter().hasLearned(model, at)
        ? { sends: runner.sendsOf(model, at), ...(first ? { first } : {}) }
        : {}),
    };
    // A wait the provider asked for outlives the process (a durable store replays it).
    if (imposesWait(hints)) this.deps.resources.record(clock.now(), event);
    else this.deps.sendToRateLimit(event);
    if (event.sends !== undefined) this.deps.resources.adopt(event.sends);
    this.deps.shared?.hint(model, hints, clock.now(), taskId);
  };
}
