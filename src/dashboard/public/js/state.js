// Dashboard: the page's shared state (what the server sent, what the page shows), the dirty
// flags of each panel, and the render scheduling (at most one DOM update per animation frame).

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const PRIORITIES = ['URGENT', 'HIGH', 'MEDIUM', 'LOW'];
export const MAX_POINTS = 600;
export const MAX_FAILURES = 50;
export const PAGE_ROWS = 20;
export const LIST_LIMIT = 20;
export const LIST_REFRESH_MS = 2000;

export const state = {
  stats: null,
  actors: [],
  /** Server clock (ms) of `stats.at`, and the local monotonic time it arrived. */
  serverAt: 0,
  recvAt: 0,
  points: [],
  seriesLoaded: false,
  pendingPoints: [],
  failures: [],
  failureKeys: new Set(),
  failuresPage: 0,
  lists: Object.fromEntries(PRIORITIES.map((p) => [p, []])),
  listsFetchedAt: 0,
  listsInFlight: false,
  /** Optimistic per-task status after a button press, until the next list refresh. */
  optimistic: new Map(),
  taskGraph: null,
  supervisorGraph: null,
  detailId: null,
  detailFetchedAt: 0,
  detailTask: null,
  detailInFlight: false,
  detailAgain: false,
};

export const dirty = {
  stats: false,
  actors: false,
  points: false,
  failures: false,
  lists: false,
  clock: false,
};

/** What a frame renders: the entry module's `render`, set once at the start. */
let renderFrame = () => {};
let frameRequested = false;

export function setRenderer(render) {
  renderFrame = render;
}

function frame() {
  frameRequested = false;
  renderFrame();
}

/** Asks for a render at the next animation frame (once, however often it is asked). */
export function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

/** The server's clock now, from the latest statistics' `at` (the queue may use its own clock). */
export function serverNow() {
  if (!state.recvAt) return Date.now();
  return state.serverAt + (performance.now() - state.recvAt);
}
