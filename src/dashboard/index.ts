/**
 * `ai-task-queue/dashboard`: a live dashboard of a manager (the page, a JSON API, server-sent
 * events and Prometheus metrics), served by Node's own HTTP server. See docs/dashboard.md.
 */
export type { ActorView } from './actors.js';
export type { RecentFailure, SeriesPoint } from './feed.js';
export type { DashboardManager } from './routes.js';
export { type DashboardOptions, type DashboardServer, serveDashboard } from './server.js';
export type { ChartGraph, ChartState, ChartTransition } from './statechart.js';
