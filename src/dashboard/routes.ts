import { z } from 'zod';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { taskMachine } from '../../machines/task.machine.js';
import { PRIORITIES_HIGH_FIRST, TASK_STATUSES } from '../../machines/task-status.js';
import { ValidationError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import type { AITaskManager } from '../manager.js';
import type { Statistics } from '../stats/types.js';
import { actorViews } from './actors.js';
import { DashboardFeed, type RecentFailure, type SeriesPoint } from './feed.js';
import { type ChartGraph, chartOf } from './statechart.js';

/** What the dashboard uses of a manager: only its public API. */
export type DashboardManager = Pick<
  AITaskManager,
  | 'events$'
  | 'getStatistics'
  | 'getTasks'
  | 'getTaskStatus'
  | 'pause'
  | 'resume'
  | 'isPaused'
  | 'cancelTask'
  | 'cancelBatch'
  | 'pauseTask'
  | 'resumeTask'
  | 'adjustSettings'
  | 'supervisor'
>;

/** An answer the API gives on purpose: a status and a JSON error with a code. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export interface ApiRequest {
  method: string;
  /** The path's segments after `/api/`, decoded. */
  segments: string[];
  query: URLSearchParams;
  /** The parsed JSON body of a POST (`{}` when empty). */
  body: unknown;
}

const CHARTS: { task: ChartGraph; supervisor: ChartGraph } = {
  task: chartOf(taskMachine),
  supervisor: chartOf(supervisorMachine),
};

const TasksQuerySchema = z
  .object({
    /** Split at commas by `queryObject`. */
    status: z.array(z.enum(TASK_STATUSES)).min(1).optional(),
    type: z.string().min(1).optional(),
    priority: z.enum(PRIORITIES_HIGH_FIRST).optional(),
    limit: z.coerce.number().int().positive().max(1000).optional(),
    cursor: z.string().min(1).optional(),
  })
  .strict();
const CancelManySchema = z
  .object({ taskIds: z.array(z.string().min(1)).min(1).max(10_000) })
  .strict();
const EmptySchema = z.object({}).strict();

const iso = (ms: number) => new Date(ms).toISOString();
const pointView = (p: SeriesPoint) => ({ ...p, t: iso(p.t) });
const failureView = (f: RecentFailure) => ({ ...f, at: iso(f.at) });

/** The query as an object; `status` is a comma-separated list (`status=queued,retrying`). */
function queryObject(query: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of query) {
    out[key] = key === 'status' ? value.split(',').filter((part) => part !== '') : value;
  }
  return out;
}

function notFound(taskId: string): HttpError {
  return new HttpError(404, 'TASK_NOT_FOUND', `no task with id '${taskId}'`);
}

/** The JSON API of docs/dashboard.md, on the manager's public methods. */
export class DashboardApi {
  readonly #manager: DashboardManager;
  readonly feed: DashboardFeed;

  constructor(manager: DashboardManager, feed: DashboardFeed) {
    this.#manager = manager;
    this.feed = feed;
  }

  /** One `update` message of `/events`. */
  async update(withChanges: boolean): Promise<unknown> {
    const statistics = await this.#manager.getStatistics();
    const changes = withChanges ? this.feed.take() : { points: [], failures: [], counts: {} };
    return {
      statistics,
      actors: this.#actors(statistics),
      points: changes.points.map(pointView),
      failures: changes.failures.map(failureView),
      counts: changes.counts,
    };
  }

  async handle(request: ApiRequest): Promise<unknown> {
    const { method, segments } = request;
    const [first, second, third] = segments;
    if (method === 'GET') {
      if (segments.length === 1) {
        switch (first) {
          case 'statistics':
            return this.#manager.getStatistics();
          case 'tasks':
            return this.#tasks(request.query);
          case 'machines':
            return CHARTS;
          case 'actors':
            return { actors: this.#actors(await this.#manager.getStatistics()) };
          case 'failures':
            return { failures: this.feed.failures().map(failureView) };
          case 'series':
            return { stepMs: DashboardFeed.stepMs, points: this.feed.series().map(pointView) };
        }
      }
      if (first === 'tasks' && second !== undefined && segments.length === 2) {
        const task = await this.#manager.getTaskStatus(second);
        if (task === null) throw notFound(second);
        return task;
      }
    }
    if (method === 'POST') {
      if (segments.length === 1 && (first === 'pause' || first === 'resume')) {
        parseOrThrow(EmptySchema, request.body, 'body');
        if (first === 'pause') this.#manager.pause();
        else this.#manager.resume();
        return { paused: this.#manager.isPaused() };
      }
      if (segments.length === 1 && first === 'settings') return this.#settings(request.body);
      if (first === 'tasks' && second === 'cancel' && segments.length === 2) {
        const { taskIds } = parseOrThrow(CancelManySchema, request.body, 'body');
        return { results: await this.#manager.cancelBatch(taskIds) };
      }
      if (first === 'tasks' && second !== undefined && segments.length === 3) {
        return this.#taskAction(second, third ?? '', request.body);
      }
    }
    const known = [
      'statistics',
      'tasks',
      'machines',
      'actors',
      'failures',
      'series',
      'pause',
      'resume',
      'settings',
    ];
    if (first !== undefined && known.includes(first)) {
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on /api/${segments.join('/')}`,
      );
    }
    throw new HttpError(404, 'NOT_FOUND', `no such endpoint: /api/${segments.join('/')}`);
  }

  #actors(statistics: Statistics) {
    return actorViews(this.#manager.supervisor, statistics);
  }

  async #tasks(query: URLSearchParams) {
    const parsed = parseOrThrow(TasksQuerySchema, queryObject(query), 'query');
    return this.#manager.getTasks({
      ...(parsed.status === undefined ? {} : { status: parsed.status }),
      ...(parsed.type === undefined ? {} : { taskType: parsed.type }),
      ...(parsed.priority === undefined ? {} : { priority: parsed.priority }),
      ...(parsed.limit === undefined ? {} : { limit: parsed.limit }),
      ...(parsed.cursor === undefined ? {} : { cursor: parsed.cursor }),
    });
  }

  async #taskAction(taskId: string, action: string, body: unknown) {
    if (action !== 'cancel' && action !== 'pause' && action !== 'resume') {
      throw new HttpError(
        404,
        'NOT_FOUND',
        `no such task action: '${action}' (cancel, pause or resume)`,
      );
    }
    parseOrThrow(EmptySchema, body, 'body');
    if ((await this.#manager.getTaskStatus(taskId)) === null) throw notFound(taskId);
    switch (action) {
      case 'cancel':
        return { taskId, cancelled: await this.#manager.cancelTask(taskId) };
      case 'pause':
        return { taskId, paused: this.#manager.pauseTask(taskId) };
      case 'resume':
        return { taskId, resumed: this.#manager.resumeTask(taskId) };
    }
  }

  #settings(body: unknown) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ValidationError('invalid body: expected an object of settings', [
        { path: 'body', message: 'expected an object', received: body },
      ]);
    }
    // The manager validates every field before it changes any (a 400 changes nothing).
    this.#manager.adjustSettings(body as Parameters<DashboardManager['adjustSettings']>[0]);
    return { changed: Object.keys(body) };
  }
}
