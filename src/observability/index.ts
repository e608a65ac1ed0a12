/**
 * `ai-task-queue/observability`: Prometheus metrics of a manager (`createMetrics`), OpenTelemetry
 * spans of its tasks (`traceTasks`, with `@opentelemetry/api` as an optional peer), and the Stately
 * inspector (`statelyInspector`). See docs/observability.md.
 */

export {
  type StatelyInspector,
  type StatelyInspectorOptions,
  statelyInspector,
} from './inspector.js';
export {
  type InspectorViewer,
  type InspectorViewerOptions,
  serveInspectorViewer,
} from './inspector-viewer.js';
export {
  createMetrics,
  type MetricsSource,
  type QueueMetrics,
  type QueueMetricsOptions,
} from './metrics.js';
export { type TaskTracing, type TraceTasksOptions, traceTasks } from './tracing.js';
