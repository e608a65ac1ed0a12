// Dashboard: the actors panel (one card per actor: status, state and summary values).

import { $, h, setAttr, setHidden, setText } from './dom.js';
import { fmtCompact } from './format.js';
import { renderSupervisorState } from './machines.js';
import { state } from './state.js';

const actorEls = new Map();

function fmtSummaryValue(v) {
  if (v == null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? fmtCompact(v) : String(+v.toFixed(4));
  return String(v);
}

export function renderActors() {
  renderSupervisorState();
  const box = $('actors');
  const seen = new Set();
  let index = 0;
  for (const a of state.actors) {
    if (!a || typeof a.systemId !== 'string' || seen.has(a.systemId)) continue;
    seen.add(a.systemId);
    let r = actorEls.get(a.systemId);
    if (!r) {
      const el = h('div', 'actor');
      el.setAttribute('data-actor', a.systemId);
      const head = h('div', 'actor-head');
      const name = h('span', 'actor-name', a.systemId);
      const status = h('span', 'badge');
      const st = h('span', 'actor-state mono');
      head.append(name, status, st);
      const summary = h('div', 'kv');
      el.append(head, summary);
      r = { el, status, st, summary, keys: '', vals: new Map() };
      actorEls.set(a.systemId, r);
    }
    if (box.children[index] !== r.el) box.insertBefore(r.el, box.children[index] ?? null);
    index++;
    setText(r.status, a.status ?? '—');
    setAttr(r.status, 'data-status', a.status ?? 'unknown');
    setText(r.st, a.state ?? '');
    const summary = a.summary && typeof a.summary === 'object' ? a.summary : {};
    const keys = Object.keys(summary);
    const sig = keys.join('\u0000');
    if (sig !== r.keys) {
      r.keys = sig;
      r.vals.clear();
      const frag = document.createDocumentFragment();
      for (const k of keys) {
        const item = h('span', 'kv-item');
        item.append(h('span', 'kv-k', k));
        const v = h('span', 'kv-v');
        item.append(v);
        r.vals.set(k, v);
        frag.append(item);
      }
      r.summary.replaceChildren(frag);
    }
    for (const k of keys) setText(r.vals.get(k), fmtSummaryValue(summary[k]));
  }
  for (const [id, r] of actorEls) {
    if (!seen.has(id)) {
      r.el.remove();
      actorEls.delete(id);
    }
  }
  setHidden($('actors-empty'), actorEls.size > 0);
}
