// Dashboard: the gauges (concurrency, rate-limit windows, budgets) and their bars.

import { $, h, setAttr, setHidden, setText } from './dom.js';
import { fmtCompact, fmtInt, fmtUsd, fmtWindow, num } from './format.js';
import { state } from './state.js';

function level(pct) {
  return pct >= 90 ? 'crit' : pct >= 70 ? 'warn' : 'ok';
}

/** Bars scale on the compositor (transform), so a moving gauge costs no layout. */
export function setBar(fillEl, pct) {
  const clamped = Math.max(0, Math.min(100, Number.isFinite(pct) ? pct : 0));
  const w = `scaleX(${(clamped / 100).toFixed(4)})`;
  if (fillEl.__w !== w) {
    fillEl.style.transform = w;
    fillEl.__w = w;
  }
  setAttr(fillEl, 'data-level', level(pct));
}

const windowGauges = new Map();
const budgetGauges = new Map();

function makeGauge(key, attr) {
  const el = h('div', 'gauge');
  el.setAttribute(attr, key);
  const head = h('div', 'gauge-head');
  const title = h('span', 'gauge-title');
  const tag = h('span', 'tag tag-paced', 'paced');
  tag.hidden = true;
  const value = h('span', 'gauge-value');
  head.append(title, tag, value);
  el.append(head);
  return { el, title, tag, value, rows: new Map() };
}

function gaugeRow(g, key) {
  let row = g.rows.get(key);
  if (row) return row;
  const el = h('div', 'gauge-row');
  el.setAttribute('data-kind', key);
  const label = h('span', 'gauge-row-label');
  const bar = h('div', 'bar');
  const fill = h('div', 'bar-fill');
  const held = h('div', 'bar-held');
  held.hidden = true;
  bar.append(fill, held);
  el.append(label, bar);
  g.el.append(el);
  row = { el, label, fill, held };
  g.rows.set(key, row);
  return row;
}

export function renderGauges() {
  const s = state.stats;
  const c = s.concurrency ?? {};
  const max = num(c.maxConcurrent);
  const running = num(c.runningTasks);
  setText($('gauge-concurrency-text'), `${running}/${max}`);
  setBar($('gauge-concurrency-fill'), max > 0 ? (running / max) * 100 : 0);

  // Rate windows
  const windows = Array.isArray(s.rateLimit?.windows) ? s.rateLimit.windows : [];
  const seen = new Set();
  const list = $('rate-windows');
  let index = 0;
  for (const w of windows) {
    const key = `${w.model ?? '*'}|${w.windowMs}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let g = windowGauges.get(key);
    if (!g) {
      g = makeGauge(key, 'data-window');
      windowGauges.set(key, g);
    }
    if (list.children[index] !== g.el) list.insertBefore(g.el, list.children[index] ?? null);
    index++;
    const base = `${w.model ?? 'global'} · ${fmtWindow(w.windowMs)}`;
    setText(g.title, base);
    setHidden(g.tag, !w.paced);
    const parts = [];
    for (const kind of ['requests', 'tokens']) {
      const gauge = w[kind] ?? { current: 0, limit: null };
      const limited = typeof gauge.limit === 'number';
      const shown = limited || (kind === 'requests' && typeof w.tokens?.limit !== 'number');
      if (!shown) {
        const row = g.rows.get(kind);
        if (row) setHidden(row.el, true);
        continue;
      }
      const row = gaugeRow(g, kind);
      setHidden(row.el, false);
      const cur = kind === 'tokens' ? fmtCompact(gauge.current) : fmtInt(gauge.current);
      const lim = limited
        ? kind === 'tokens'
          ? fmtCompact(gauge.limit)
          : fmtInt(gauge.limit)
        : '∞';
      const text = `${kind} ${cur}/${lim}`;
      setText(row.label, text);
      setAttr(row.el, 'title', `${base} · ${text}`);
      setBar(row.fill, limited && gauge.limit > 0 ? (num(gauge.current) / gauge.limit) * 100 : 0);
      parts.push(text);
    }
    setAttr(g.el, 'aria-label', `${base} · ${parts.join(' · ')}${w.paced ? ' · paced' : ''}`);
  }
  for (const [key, g] of windowGauges) {
    if (!seen.has(key)) {
      g.el.remove();
      windowGauges.delete(key);
    }
  }
  setHidden($('rate-windows-empty'), windowGauges.size > 0);

  // Budgets
  const cost = s.cost ?? {};
  const held = num(cost.held);
  const budgets = $('budgets');
  index = 0;
  for (const period of ['total', 'daily', 'hourly']) {
    const b = cost[period];
    const limited = b && typeof b.limit === 'number';
    let g = budgetGauges.get(period);
    if (!limited) {
      if (g) {
        g.el.remove();
        budgetGauges.delete(period);
      }
      continue;
    }
    if (!g) {
      g = makeGauge(period, 'data-budget');
      budgetGauges.set(period, g);
      setText(g.title, `budget · ${period}`);
    }
    if (budgets.children[index] !== g.el)
      budgets.insertBefore(g.el, budgets.children[index] ?? null);
    index++;
    const spent = num(b.cost);
    const pct = b.limit > 0 ? (spent / b.limit) * 100 : 100;
    setText(g.value, `${fmtUsd(spent)} / ${fmtUsd(b.limit)}`);
    const row = gaugeRow(g, 'cost');
    const heldPct = b.limit > 0 ? (held / b.limit) * 100 : 0;
    setText(
      row.label,
      `${pct.toFixed(1)}% · held ${fmtUsd(held)} · left ${b.remaining == null ? '—' : fmtUsd(b.remaining)}`,
    );
    setBar(row.fill, pct);
    setHidden(row.held, heldPct <= 0 || pct >= 100);
    const hw = `${Math.max(0, Math.min(100 - Math.min(100, pct), heldPct)).toFixed(1)}%`;
    if (row.held.__w !== hw) {
      row.held.style.width = hw;
      row.held.style.left = `${Math.min(100, pct).toFixed(1)}%`;
      row.held.__w = hw;
    }
    setAttr(
      g.el,
      'title',
      `${period}: spent ${fmtUsd(spent)}, worst case held ${fmtUsd(held)}, limit ${fmtUsd(b.limit)}`,
    );
  }
  setHidden($('budgets-empty'), budgetGauges.size > 0);
}
