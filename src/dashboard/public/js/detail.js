// Dashboard: the task detail panel (GET /api/tasks/:id): status, metrics, error, history, metadata
// and result, with the task's own buttons.

import { api } from './api.js';
import { $, h, setHidden, setText, toast } from './dom.js';
import { fmtCompact, fmtDateTime, fmtSeconds, fmtUntil, fmtUsd, toMs } from './format.js';
import { state, TERMINAL } from './state.js';

function dl(entries) {
  const el = h('dl', 'dl');
  for (const [k, v, cls] of entries) {
    el.append(h('dt', null, k));
    const dd = h('dd', cls ?? null, v == null || v === '' ? '—' : v);
    el.append(dd);
  }
  return el;
}

function section(title, ...children) {
  const s = h('section', 'detail-section');
  s.append(h('h3', null, title), ...children);
  return s;
}

function jsonPreview(v) {
  let text;
  try {
    text = JSON.stringify(v, null, 2);
  } catch {
    text = String(v);
  }
  if (text === undefined) text = String(v);
  if (text.length > 4000) text = `${text.slice(0, 4000)}\n…`;
  return h('pre', 'json', text);
}

function renderDetail(t) {
  const body = $('task-detail-body');
  setText($('detail-id'), t.taskId);
  const frag = document.createDocumentFragment();

  const head = h('div', 'detail-head');
  const st = h('span', 'badge badge-lg', t.status);
  st.id = 'detail-status';
  st.setAttribute('data-status', t.status);
  head.append(
    st,
    h('span', `prio prio-${t.priority}`, t.priority),
    h('span', 'detail-type', t.taskType),
  );
  const actions = h('span', 'spacer');
  head.append(actions);
  if (!TERMINAL.has(t.status)) {
    if (t.status === 'paused') {
      const b = h('button', 'btn btn-xs', 'Resume');
      b.type = 'button';
      b.setAttribute('data-resume', t.taskId);
      head.append(b);
    } else if (t.status === 'queued' || t.status === 'retrying') {
      const b = h('button', 'btn btn-xs', 'Pause');
      b.type = 'button';
      b.setAttribute('data-pause', t.taskId);
      head.append(b);
    }
    const c = h('button', 'btn btn-xs btn-danger', 'Cancel');
    c.type = 'button';
    c.setAttribute('data-cancel', t.taskId);
    head.append(c);
  }
  frag.append(head);

  const attempts = dl([
    ['attempts', String(t.attempts ?? 0)],
    ['position', t.position == null ? null : `#${t.position}`],
    ['waiting for', t.waitingFor],
    [
      'waiting until',
      t.waitingUntil ? `${fmtDateTime(t.waitingUntil)} (${fmtUntil(t.waitingUntil)})` : null,
    ],
    ['created', fmtDateTime(t.createdAt)],
    ['started', t.startedAt ? fmtDateTime(t.startedAt) : null],
    ['completed', t.completedAt ? fmtDateTime(t.completedAt) : null],
    ['parent', t.parentId],
  ]);
  attempts.id = 'detail-attempts';
  frag.append(section('Status', attempts));

  const m = t.metrics ?? {};
  const metrics = dl([
    ['queue time', fmtSeconds(m.queueTime)],
    ['execution time', fmtSeconds(m.executionTime)],
    [
      'tokens',
      `${fmtCompact(m.tokensUsed)} (${fmtCompact(m.promptTokens)} in · ${fmtCompact(m.completionTokens)} out)${m.usageEstimated ? ' · estimated' : ''}`,
    ],
    ['estimated cost', `${fmtUsd(m.estimatedCost)} (worst case)`],
    ['actual cost', fmtUsd(m.actualCost)],
    ['calls', String(m.calls ?? 0)],
  ]);
  metrics.id = 'detail-metrics';
  frag.append(section('Metrics', metrics));

  if (t.error) {
    const e = t.error;
    const err = h('div', 'detail-error');
    err.id = 'detail-error';
    const line = h('div', 'detail-error-head');
    line.append(
      h('span', 'code-tag', e.code ?? e.name ?? 'error'),
      h(
        'span',
        'muted',
        `${e.name ?? ''}${e.retryable ? ' · retryable' : ''}${e.status ? ` · HTTP ${e.status}` : ''}${e.retryAfterMs != null ? ` · retry after ${e.retryAfterMs} ms` : ''}`,
      ),
    );
    err.append(line, h('div', 'detail-error-msg', e.message ?? ''));
    frag.append(section('Error', err));
  }

  const hist = h('ol', 'timeline');
  hist.id = 'detail-history';
  const history = Array.isArray(t.history) ? t.history : [];
  let prev = null;
  for (const entry of history) {
    const li = h('li', 'tl-item');
    li.setAttribute('data-status', entry.status);
    const dot = h('span', 'tl-dot');
    const main = h('div', 'tl-main');
    const top = h('div', 'tl-top');
    top.append(h('span', 'badge', entry.status));
    top.setAttribute('data-status', entry.status);
    top.firstChild.setAttribute('data-status', entry.status);
    if (entry.reason) top.append(h('span', 'tl-reason', entry.reason));
    const at = toMs(entry.at);
    const sub = h(
      'div',
      'tl-time mono',
      `${fmtDateTime(entry.at)}${prev != null && Number.isFinite(at) ? `  +${fmtSeconds((at - prev) / 1000)}` : ''}`,
    );
    prev = Number.isFinite(at) ? at : prev;
    main.append(top, sub);
    li.append(dot, main);
    hist.append(li);
  }
  frag.append(section(`History (${history.length})`, hist));

  if (t.metadata && Object.keys(t.metadata).length)
    frag.append(section('Metadata', jsonPreview(t.metadata)));
  if (t.status === 'completed' && t.result !== undefined && t.result !== null)
    frag.append(section('Result', jsonPreview(t.result)));

  body.replaceChildren(frag);
}

export async function openDetail(id, { quiet = false } = {}) {
  const panel = $('task-detail');
  if (state.detailId !== id) {
    state.detailTask = null;
    $('task-detail-body').replaceChildren(h('div', 'empty-note', 'loading…'));
    setText($('detail-id'), id);
  }
  state.detailId = id;
  panel.hidden = false;
  setHidden($('task-detail-error'), true);
  if (state.detailInFlight) {
    // One request at a time; the one in flight fetches this id again when it ends.
    state.detailAgain = true;
    return;
  }
  state.detailInFlight = true;
  state.detailAgain = false;
  try {
    const t = await api(`/api/tasks/${encodeURIComponent(id)}`);
    if (state.detailId !== id) return;
    state.detailTask = t;
    state.detailFetchedAt = performance.now();
    renderDetail(t);
  } catch (err) {
    if (state.detailId !== id) return;
    const e = $('task-detail-error');
    e.textContent =
      err.status === 404 ? `Task ${id} not found (it may have been removed).` : err.message;
    e.hidden = false;
    if (!state.detailTask) $('task-detail-body').replaceChildren();
    if (!quiet && err.status !== 404) toast(err.message);
  } finally {
    state.detailInFlight = false;
    if (state.detailAgain && state.detailId !== null) openDetail(state.detailId, { quiet: true });
  }
}

export function closeDetail() {
  state.detailId = null;
  state.detailTask = null;
  $('task-detail').hidden = true;
}
