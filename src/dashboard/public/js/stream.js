// Dashboard: the live stream (server-sent events at /events): each update marks what changed, and
// the connection reconnects when the browser gives up.

import { $, setAttr, setText, toggleClass } from './dom.js';
import { addFailures } from './failures.js';
import { toMs } from './format.js';
import { mergePoints } from './series.js';
import { dirty, schedule, state } from './state.js';
import { refreshLists } from './waiting.js';

export function setConnected(on) {
  state.connected = on;
  const el = $('conn-state');
  setText(el, on ? 'live' : 'disconnected');
  setAttr(el, 'data-connected', on ? 'true' : 'false');
  toggleClass(document.body, 'offline', !on);
}

function onUpdate(msg) {
  if (!msg || typeof msg !== 'object') return;
  if (!state.connected) setConnected(true);
  if (msg.statistics && typeof msg.statistics === 'object') {
    state.stats = msg.statistics;
    const at = toMs(msg.statistics.at);
    state.serverAt = Number.isFinite(at) ? at : Date.now();
    state.recvAt = performance.now();
    dirty.stats = true;
  }
  if (Array.isArray(msg.actors)) {
    state.actors = msg.actors;
    dirty.actors = true;
  }
  if (Array.isArray(msg.points) && msg.points.length) {
    if (state.seriesLoaded) {
      mergePoints(msg.points);
      dirty.points = true;
    } else state.pendingPoints.push(...msg.points);
  }
  if (Array.isArray(msg.failures) && msg.failures.length) addFailures(msg.failures, true);
  schedule();
  // The first figures: fill the lanes without waiting for the timer.
  if (state.listsFetchedAt === 0) refreshLists(true);
}

let source = null;
let reconnectTimer = null;

export function connect() {
  clearTimeout(reconnectTimer);
  if (source) source.close();
  const es = new EventSource('/events');
  source = es;
  es.addEventListener('open', () => setConnected(true));
  es.addEventListener('update', (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onUpdate(msg);
  });
  es.addEventListener('error', () => {
    if (es !== source) return;
    setConnected(es.readyState === EventSource.OPEN);
    // CLOSED means the browser gave up (e.g. a 401 or a non-stream answer): try again later.
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      reconnectTimer = setTimeout(connect, 3000);
    }
  });
}
