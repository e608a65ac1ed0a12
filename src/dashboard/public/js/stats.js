// Dashboard: the header (queue state, uptime, pause/resume buttons), the counters and the tasks
// by type.

import { $, h, setAttr, setHidden, setText, toggleClass } from './dom.js';
import { fmtCompact, fmtInt, fmtSeconds, fmtUptime, fmtUsd, num } from './format.js';
import { setBar } from './gauges.js';
import { state } from './state.js';
import { renderCountdowns } from './waiting.js';

function queueState(s) {
  if (!s) return 'unknown';
  if (s.status?.stopping) return 'stopping';
  if (!s.status?.running) return 'stopped';
  if (s.status?.paused) return 'paused';
  return 'running';
}

export const busy = { pause: false, resume: false };

export function renderHeaderButtons() {
  const qs = queueState(state.stats);
  $('btn-pause').disabled = busy.pause || qs !== 'running';
  $('btn-resume').disabled = busy.resume || qs !== 'paused';
}

function setStat(id, text, value) {
  const el = $(id);
  setText(el, text);
  setAttr(el, 'data-value', value);
  if (id !== 'stat-success-rate') toggleClass(el, 'zero', value === 0);
}

export function renderStats() {
  const s = state.stats;
  if (!s) return;
  const qs = queueState(s);
  const qEl = $('queue-state');
  setText(qEl, qs);
  setAttr(qEl, 'data-state', qs);
  renderHeaderButtons();
  setText($('tasks-total'), fmtCompact(s.tasks?.total));

  const p = s.performance ?? {};
  setStat('stat-waiting', fmtInt(s.queue?.size), num(s.queue?.size));
  setText($('stat-waiting-sub'), `of ${fmtCompact(s.queue?.maxSize)} max`);
  setStat('stat-running', fmtInt(s.concurrency?.runningTasks), num(s.concurrency?.runningTasks));
  setText($('stat-running-sub'), `of ${fmtInt(s.concurrency?.maxConcurrent)} slots`);
  setStat('stat-completed', fmtInt(p.totalSucceeded), num(p.totalSucceeded));
  setText($('stat-processed-sub'), `${fmtCompact(p.totalProcessed)} finished`);
  setStat('stat-failed', fmtInt(p.totalFailed), num(p.totalFailed));
  setStat('stat-cancelled', fmtInt(p.totalCancelled), num(p.totalCancelled));
  setStat('stat-retries', fmtInt(p.totalRetries), num(p.totalRetries));
  const tpm = num(p.throughputPerMinute);
  setStat('stat-throughput', tpm >= 100 ? fmtInt(tpm) : String(+tpm.toFixed(1)), tpm);
  const sr = num(p.successRate);
  setStat('stat-success-rate', `${sr >= 99.95 || sr === 0 ? sr.toFixed(0) : sr.toFixed(1)}%`, sr);
  const srEl = $('stat-success-rate');
  toggleClass(srEl, 'c-failed', sr < 90);
  toggleClass(srEl, 'c-retrying', sr >= 90 && sr < 99);
  setStat('stat-p95-queue', fmtSeconds(p.p95QueueTime), num(p.p95QueueTime));
  setText($('stat-avg-queue'), `avg ${fmtSeconds(p.averageQueueTime)}`);
  setStat('stat-p95-exec', fmtSeconds(p.p95ExecutionTime), num(p.p95ExecutionTime));
  setText($('stat-avg-exec'), `avg ${fmtSeconds(p.averageExecutionTime)}`);
  const t = s.tokens ?? {};
  setStat('stat-tokens', fmtCompact(t.total), num(t.total));
  setText($('stat-tokens-sub'), `${fmtCompact(t.prompt)} + ${fmtCompact(t.completion)}`);
  setAttr(
    $('stat-tokens-sub'),
    'title',
    `prompt ${t.prompt ?? 0} + completion ${t.completion ?? 0}${num(t.estimatedAttempts) ? ` · ${t.estimatedAttempts} attempts counted by the tokenizer` : ''}`,
  );
  const cost = s.cost ?? {};
  setStat('stat-cost', fmtUsd(cost.total?.cost), num(cost.total?.cost));
  setText(
    $('stat-cost-sub'),
    num(cost.held) ? `${fmtUsd(cost.held)} held` : `today ${fmtUsd(cost.daily?.cost)}`,
  );
  renderClock();
}

export function renderClock() {
  const s = state.stats;
  if (!s) return;
  let up = num(s.status?.uptimeSeconds);
  if (s.status?.running && state.connected) up += (performance.now() - state.recvAt) / 1000;
  setText($('uptime'), fmtUptime(up));
  renderCountdowns(s);
}

const typeRows = new Map();

/** Tasks in the store by type: the 12 largest, rows kept and updated in place. */
export function renderByType() {
  const by = state.stats.tasks?.byType ?? {};
  const entries = Object.entries(by)
    .filter(([, n]) => typeof n === 'number')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12);
  const box = $('by-type');
  const max = entries.length ? Math.max(1, entries[0][1]) : 1;
  const seen = new Set();
  entries.forEach(([name, n], i) => {
    seen.add(name);
    let r = typeRows.get(name);
    if (!r) {
      const el = h('div', 'type-row');
      el.setAttribute('data-type', name);
      const label = h('span', 'type-name', name);
      label.title = name;
      const count = h('span', 'type-count');
      const bar = h('div', 'bar');
      const fill = h('div', 'bar-fill');
      bar.append(fill);
      el.append(label, count, bar);
      r = { el, count, fill };
      typeRows.set(name, r);
    }
    if (box.children[i] !== r.el) box.insertBefore(r.el, box.children[i] ?? null);
    setText(r.count, fmtCompact(n));
    setBar(r.fill, (n / max) * 100);
    setAttr(r.fill, 'data-level', 'ok');
  });
  for (const [name, r] of typeRows) {
    if (!seen.has(name)) {
      r.el.remove();
      typeRows.delete(name);
    }
  }
  setHidden($('by-type-empty'), typeRows.size > 0);
}
