/** What the simulator counts: every request, by status, the tokens it served, and a log. */

import type { FaultKind } from './faults.js';

/** One request as the simulator saw it. */
export interface SimulatorLogEntry {
  /** Arrival time (ms, from the `now` option). */
  at: number;
  /** URL path, e.g. `/v1/chat/completions`. */
  path: string;
  /** The request's model, or `''` when it named none (or was not JSON). */
  model: string;
  /**
   * The HTTP status answered; `0` when no answer was sent (the `timeout` fault), `499` when the
   * client gave up while the answer was being delayed.
   */
  status: number;
  /** Prompt (chat) or input (embeddings) tokens; 0 when not counted. */
  promptTokens: number;
  /** Of `promptTokens`, those billed for a `json_schema` response format, when there was one. */
  schemaTokens?: number;
  /** Tokens generated for the answer; 0 when none. */
  completionTokens: number;
  /** The request's `max_tokens` / `max_completion_tokens`, when it set one. */
  maxTokens?: number;
  /** The injected fault, when there was one. */
  fault?: FaultKind;
  /** The task the request was sent for (the `x-aitq-task-id` header), when it named one. */
  taskId?: string;
}

/** A snapshot of the simulator's counters (see `Simulator.stats()`). */
export interface SimulatorStats {
  /** Requests received, whatever their outcome. */
  requests: number;
  /** Requests per answered status (`'200'`, `'429'`…; `'0'` for no answer). */
  byStatus: Record<string, number>;
  /** Prompt tokens of the requests answered with status 200. */
  promptTokens: number;
  /** Completion tokens of the requests answered with status 200. */
  completionTokens: number;
  /** The most recent requests, oldest first (at most the `logLimit` option). */
  log: SimulatorLogEntry[];
}

/** Counters plus a bounded log (a ring buffer: old entries are dropped, never shifted). */
export class RequestLog {
  private requests = 0;
  private byStatus: Record<string, number> = {};
  private promptTokens = 0;
  private completionTokens = 0;
  private ring: SimulatorLogEntry[] = [];
  private next = 0;

  constructor(private readonly limit: number) {}

  /** Counts one finished (or abandoned) request. */
  record(entry: SimulatorLogEntry): void {
    this.requests++;
    const status = String(entry.status);
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (entry.status === 200) {
      this.promptTokens += entry.promptTokens;
      this.completionTokens += entry.completionTokens;
    }
    if (this.limit === 0) return;
    if (this.ring.length < this.limit) {
      this.ring.push(entry);
    } else {
      this.ring[this.next] = entry;
      this.next = (this.next + 1) % this.limit;
    }
  }

  /** A copy of the counters and the log. */
  snapshot(): SimulatorStats {
    const ordered = [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return {
      requests: this.requests,
      byStatus: { ...this.byStatus },
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      log: ordered.map((entry) => ({ ...entry })),
    };
  }

  /** Back to zero. */
  clear(): void {
    this.requests = 0;
    this.byStatus = {};
    this.promptTokens = 0;
    this.completionTokens = 0;
    this.ring = [];
    this.next = 0;
  }
}
