// Dashboard: the waiting line: what the queue waits for, the held models, the count per priority
// and the first tasks of each priority lane (refreshed from GET /api/tasks every 2 s at most).

import { api } from './api.js';
import { $, h, setAttr, setHidden, setText, toggleClass } from './dom.js';
import { fmtClock, fmtInt, fmtUntil, num, shortId } from './format.js';
import {
  dirty,
  LIST_LIMIT,
  LIST_REFRESH_MS,
  PRIORITIES,
  schedule,
  state,
  TERMINAL,
} from './state.js';

const heldEls = [];
const heldUntilEls = [];

function taskLink(id, className = 'task-link mono') {
  const b = h('button', className, shortId(id));
  b.type = 'button';
  b.setAttribute('data-task-id', id);
  b.title = id;
  return b;
}

export function renderWaitHead() {
  const q = state.stats.queue ?? {};
  const wf = $('queue-waiting-for');
  setText(wf, q.waitingFor ?? 'nothing');
  setAttr(wf, 'data-reason', q.waitingFor ?? 'none');
  const held = Array.isArray(q.heldModels) ? q.heldModels : [];
  const box = $('held-models');
  const sig = held.map((m) => `${m.model}|${m.taskId}|${m.waitingFor}`).join('\u0000');
  if (box.__sig !== sig) {
    box.__sig = sig;
    heldEls.length = 0;
    heldUntilEls.length = 0;
    if (held.length === 0) {
      box.replaceChildren(h('span', 'muted', 'none'));
    } else {
      const frag = document.createDocumentFragment();
      for (const m of held.slice(0, 12)) {
        const chip = h('span', 'held');
        chip.setAttribute('data-model', String(m.model));
        chip.append(h('span', 'held-model', m.model), h('span', 'wait-tag', m.waitingFor ?? '—'));
        const until = h('span', 'muted');
        heldUntilEls.push(until);
        chip.append(until, taskLink(m.taskId));
        frag.append(chip);
        heldEls.push(chip);
      }
      if (held.length > 12) frag.append(h('span', 'muted', `+${held.length - 12} more`));
      box.replaceChildren(frag);
    }
  }
  held.slice(0, 12).forEach((m, i) => {
    if (heldUntilEls[i]) heldUntilEls[i].__until = m.waitingUntil;
  });
}

/** Countdowns ("in 3.2 s") move between messages: the queue's, the held models', the rows'. */
export function renderCountdowns(s) {
  setText($('queue-waiting-until'), s.queue?.waitingUntil ? fmtUntil(s.queue.waitingUntil) : '');
  for (const el of heldUntilEls) setText(el, fmtUntil(el.__until));
  for (const p of PRIORITIES) {
    for (const row of lanePools[p]) {
      if (row.el.hidden || !row.until) continue;
      setText(row.untilEl, fmtUntil(row.until));
    }
  }
}

export function renderLaneCounts() {
  const by = state.stats.queue?.byPriority ?? {};
  for (const p of PRIORITIES) {
    const el = $(`prio-count-${p}`);
    setText(el, fmtInt(by[p]));
    setAttr(el, 'data-value', num(by[p]));
  }
}

/** 20 reusable rows per lane; their texts and attributes change in place. */
const lanePools = Object.fromEntries(
  PRIORITIES.map((p) => {
    const list = $(`prio-list-${p}`);
    const rows = [];
    for (let i = 0; i < LIST_LIMIT; i++) {
      const el = h('div', 'task-row');
      el.hidden = true;
      const line1 = h('div', 'row-line');
      const link = h('button', 'task-link mono');
      link.type = 'button';
      const type = h('span', 'row-type');
      const status = h('span', 'badge');
      line1.append(link, type, status);
      const line2 = h('div', 'row-line row-sub');
      const pos = h('span', 'row-pos mono');
      const wait = h('span', 'wait-tag');
      const untilEl = h('span', 'row-until');
      const spacer = h('span', 'spacer');
      const toggle = h('button', 'btn btn-xs');
      toggle.type = 'button';
      const cancel = h('button', 'btn btn-xs btn-danger', 'Cancel');
      cancel.type = 'button';
      line2.append(pos, wait, untilEl, spacer, toggle, cancel);
      el.append(line1, line2);
      list.append(el);
      rows.push({ el, link, type, status, pos, wait, untilEl, toggle, cancel, until: null });
    }
    return [p, rows];
  }),
);

export function renderLists() {
  for (const p of PRIORITIES) {
    const items = state.lists[p];
    const rows = lanePools[p];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const t = items[i];
      if (!t) {
        setHidden(r.el, true);
        r.until = null;
        continue;
      }
      setHidden(r.el, false);
      const id = String(t.taskId);
      const status = state.optimistic.get(id) ?? t.status;
      setText(r.link, shortId(id));
      setAttr(r.link, 'data-task-id', id);
      setAttr(r.link, 'title', id);
      setAttr(r.el, 'data-task-row', id);
      setText(r.type, t.taskType ?? '');
      setAttr(r.type, 'title', t.taskType ?? '');
      setText(r.status, status);
      setAttr(r.status, 'data-status', status);
      setText(r.pos, t.position == null ? '—' : `#${t.position}`);
      setText(r.wait, t.waitingFor ?? (t.position === 1 ? 'next' : '—'));
      setAttr(r.wait, 'data-reason', t.waitingFor ?? 'none');
      r.until = t.waitingUntil ?? null;
      setText(r.untilEl, r.until ? fmtUntil(r.until) : '');
      const isPaused = status === 'paused';
      const gone = TERMINAL.has(status);
      setText(r.toggle, isPaused ? 'Resume' : 'Pause');
      setAttr(r.toggle, 'data-pause', isPaused || gone ? null : id);
      setAttr(r.toggle, 'data-resume', isPaused && !gone ? id : null);
      r.toggle.disabled = gone;
      setAttr(r.cancel, 'data-cancel', id);
      r.cancel.disabled = gone;
      toggleClass(r.el, 'gone', gone);
    }
    setHidden($(`prio-empty-${p}`), items.length > 0);
  }
}

export async function refreshLists(force = false) {
  if (state.listsInFlight) return;
  if (document.visibilityState !== 'visible') return;
  const now = performance.now();
  if (!force && now - state.listsFetchedAt < LIST_REFRESH_MS) return;
  state.listsInFlight = true;
  state.listsFetchedAt = now;
  const by = state.stats?.queue?.byPriority;
  try {
    const results = await Promise.allSettled(
      PRIORITIES.map((p) => {
        // Nothing waits at this priority and nothing is shown: no request.
        if (by && num(by[p]) === 0 && state.lists[p].length === 0) return Promise.resolve(null);
        return api(
          `/api/tasks?status=queued,retrying,paused&priority=${encodeURIComponent(p)}&limit=${LIST_LIMIT}`,
        );
      }),
    );
    let failed = null;
    results.forEach((r, i) => {
      const p = PRIORITIES[i];
      if (r.status === 'fulfilled') {
        if (r.value === null) return;
        state.lists[p] = Array.isArray(r.value?.items) ? r.value.items.slice(0, LIST_LIMIT) : [];
      } else failed = r.reason;
    });
    state.optimistic.clear();
    setText(
      $('lists-note'),
      failed
        ? `refresh failed: ${failed.message}`
        : `first ${LIST_LIMIT} per priority · refreshed ${fmtClock(Date.now())}`,
    );
    dirty.lists = true;
    schedule();
  } finally {
    state.listsInFlight = false;
    state.listsFetchedAt = performance.now();
  }
}
