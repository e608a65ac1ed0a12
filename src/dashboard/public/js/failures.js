// Dashboard: the recent failures table (GET /api/failures, then the stream's), a page at a time.

import { api } from './api.js';
import { $, h, setAttr, setHidden, setText, toast } from './dom.js';
import { fmtClock, fmtDateTime, shortId, toMs } from './format.js';
import { dirty, MAX_FAILURES, PAGE_ROWS, schedule, state } from './state.js';

const failureKey = (f) => `${f.taskId}|${f.at}|${f.attempts}`;

export function addFailures(list, prepend) {
  const fresh = [];
  for (const f of list) {
    if (!f || typeof f !== 'object') continue;
    const k = failureKey(f);
    if (state.failureKeys.has(k)) continue;
    state.failureKeys.add(k);
    fresh.push(f);
  }
  if (!fresh.length) return;
  state.failures = prepend ? [...fresh, ...state.failures] : [...state.failures, ...fresh];
  state.failures.sort((a, b) => toMs(b.at) - toMs(a.at));
  if (state.failures.length > MAX_FAILURES) {
    for (const f of state.failures.splice(MAX_FAILURES)) state.failureKeys.delete(failureKey(f));
  }
  dirty.failures = true;
}

const failureRows = (() => {
  const body = $('failures');
  const rows = [];
  for (let i = 0; i < PAGE_ROWS; i++) {
    const tr = h('tr');
    tr.hidden = true;
    const time = h('td', 'mono muted');
    const idCell = h('td');
    const link = h('button', 'task-link mono');
    link.type = 'button';
    idCell.append(link);
    const type = h('td', 'ellipsis');
    const att = h('td', 'mono');
    const code = h('td');
    const codeTag = h('span', 'code-tag');
    code.append(codeTag);
    const msg = h('td', 'ellipsis msg');
    tr.append(time, idCell, type, att, code, msg);
    body.append(tr);
    rows.push({ tr, time, link, type, att, codeTag, msg });
  }
  return rows;
})();

export function renderFailures() {
  const all = state.failures;
  const pages = Math.max(1, Math.ceil(all.length / PAGE_ROWS));
  if (state.failuresPage >= pages) state.failuresPage = pages - 1;
  const start = state.failuresPage * PAGE_ROWS;
  for (let i = 0; i < PAGE_ROWS; i++) {
    const r = failureRows[i];
    const f = all[start + i];
    if (!f) {
      setHidden(r.tr, true);
      continue;
    }
    setHidden(r.tr, false);
    const id = String(f.taskId ?? '');
    setText(r.time, fmtClock(toMs(f.at)));
    setAttr(r.time, 'title', fmtDateTime(f.at));
    setText(r.link, shortId(id));
    setAttr(r.link, 'data-task-id', id);
    setAttr(r.link, 'title', id);
    setAttr(r.tr, 'data-failure', id);
    setText(r.type, f.taskType ?? '');
    setText(r.att, f.attempts ?? '');
    setText(r.codeTag, f.error?.code ?? f.error?.name ?? '—');
    const msg = f.error?.message ?? '';
    setText(r.msg, msg);
    setAttr(r.msg, 'title', msg);
  }
  setText($('failures-count'), `${all.length} kept`);
  setText($('failures-page'), `${state.failuresPage + 1}/${pages}`);
  $('failures-prev').disabled = state.failuresPage === 0;
  $('failures-next').disabled = state.failuresPage >= pages - 1;
  setHidden($('failures-empty'), all.length > 0);
  setHidden($('failures-table'), all.length === 0);
}

export async function loadFailures() {
  try {
    const f = await api('/api/failures');
    addFailures(Array.isArray(f?.failures) ? f.failures : [], false);
  } catch (err) {
    toast(`Failures: ${err.message}`);
  } finally {
    dirty.failures = true;
    schedule();
  }
}

export function bindFailurePager() {
  $('failures-prev').addEventListener('click', () => {
    state.failuresPage = Math.max(0, state.failuresPage - 1);
    dirty.failures = true;
    schedule();
  });
  $('failures-next').addEventListener('click', () => {
    state.failuresPage++;
    dirty.failures = true;
    schedule();
  });
}
