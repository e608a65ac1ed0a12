// ai-task-queue dashboard: the entry module. It wires the ES modules of js/ (no framework, no
// external URL): what a frame renders, the buttons and forms, the stream and the slow tick.
// Every string from the server reaches the DOM through textContent or setAttribute, never innerHTML.

import { bindActions } from './js/actions.js';
import { renderActors } from './js/actors.js';
import { openDetail } from './js/detail.js';
import { $, setText } from './js/dom.js';
import { bindFailurePager, loadFailures, renderFailures } from './js/failures.js';
import { renderGauges } from './js/gauges.js';
import { loadMachines, renderStateCounts } from './js/machines.js';
import { drawCharts, loadSeries } from './js/series.js';
import { bindSettings, prefillSettings } from './js/settings.js';
import { dirty, LIST_REFRESH_MS, schedule, setRenderer, state, TERMINAL } from './js/state.js';
import { renderByType, renderClock, renderStats } from './js/stats.js';
import { connect, setConnected } from './js/stream.js';
import { refreshLists, renderLaneCounts, renderLists, renderWaitHead } from './js/waiting.js';

/** One frame: each panel whose data changed since the last one. */
function render() {
  try {
    if (dirty.stats) {
      dirty.stats = false;
      renderStats();
      renderGauges();
      renderStateCounts();
      renderWaitHead();
      renderClock(); // the held models' countdowns, just drawn
      renderLaneCounts();
      renderByType();
      prefillSettings();
    }
    if (dirty.actors) {
      dirty.actors = false;
      renderActors();
    }
    if (dirty.points) {
      dirty.points = false;
      drawCharts();
    }
    if (dirty.failures) {
      dirty.failures = false;
      renderFailures();
    }
    if (dirty.lists) {
      dirty.lists = false;
      renderLists();
    }
    if (dirty.clock) {
      dirty.clock = false;
      renderClock();
    }
  } catch (err) {
    console.error(err);
  }
}

setRenderer(render);
bindActions();
bindFailurePager();
bindSettings();

setConnected(false);
setText($('conn-state'), 'connecting…');
connect();
loadMachines();
loadSeries();
loadFailures();
dirty.failures = true;
dirty.lists = true;
schedule();

// One slow tick: countdowns and uptime between messages, the lanes' refresh, the open detail.
setInterval(() => {
  if (document.visibilityState !== 'visible') return;
  dirty.clock = true;
  schedule();
  refreshLists();
  const t = state.detailTask;
  if (
    state.detailId &&
    t &&
    !TERMINAL.has(t.status) &&
    performance.now() - state.detailFetchedAt >= LIST_REFRESH_MS
  ) {
    openDetail(state.detailId, { quiet: true });
  }
}, 500);

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    refreshLists();
    dirty.points = true;
    schedule();
  }
});
