// ai-task-queue dashboard: one ES module, no framework, no external URL.
// Every string from the server reaches the DOM through textContent or setAttribute, never innerHTML.

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const PRIORITIES = ['URGENT', 'HIGH', 'MEDIUM', 'LOW'];
const MAX_POINTS = 600;
const MAX_FAILURES = 50;
const PAGE_ROWS = 20;
const LIST_LIMIT = 20;
const LIST_REFRESH_MS = 2000;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

const state = {
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

const dirty = {
  stats: false,
  actors: false,
  points: false,
  failures: false,
  lists: false,
  clock: false,
};

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Sets an element's text only when it changed (no layout work for unchanged values). */
function setText(el, value) {
  const text = value == null ? '' : String(value);
  if (el.__text !== text) {
    el.textContent = text;
    el.__text = text;
  }
}

function setAttr(el, name, value) {
  const v = value == null ? null : String(value);
  const key = `__attr_${name}`;
  if (el[key] === v) return;
  el[key] = v;
  if (v === null) el.removeAttribute(name);
  else el.setAttribute(name, v);
}

function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}

function toggleClass(el, name, on) {
  if (el.classList.contains(name) !== on) el.classList.toggle(name, on);
}

function h(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text != null) el.textContent = String(text);
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const compactFmt = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const groupFmt = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

function fmtInt(v) {
  return String(Math.round(num(v)));
}

function fmtCompact(v) {
  const n = num(v);
  return Math.abs(n) < 10000 ? groupFmt.format(n) : compactFmt.format(n);
}

/** Dollars: `$` and a plain decimal (no separators), more decimals for small amounts. */
function fmtUsd(v) {
  const n = num(v);
  if (n === 0) return '$0.00';
  const abs = Math.abs(n);
  return `$${n.toFixed(abs >= 100 ? 2 : abs >= 1 ? 3 : 4)}`;
}

function fmtSeconds(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const s = Math.max(0, v);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtUptime(v) {
  const s = Math.max(0, Math.floor(num(v)));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p = (x) => String(x).padStart(2, '0');
  return d > 0 ? `${d}d ${p(hh)}:${p(mm)}:${p(ss)}` : `${p(hh)}:${p(mm)}:${p(ss)}`;
}

function fmtWindow(ms) {
  const s = num(ms) / 1000;
  if (s < 120) return `${+s.toFixed(1)} s`;
  if (s < 7200) return `${+(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

function fmtClock(ms) {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const p = (x) => String(x).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fmtDateTime(v) {
  const ms = toMs(v);
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const ms3 = String(d.getMilliseconds()).padStart(3, '0');
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${fmtClock(ms)}.${ms3}`;
}

function toMs(v) {
  if (v == null) return Number.NaN;
  if (typeof v === 'number') return v;
  return Date.parse(v);
}

/** The server's clock now, from the latest statistics' `at` (the queue may use its own clock). */
function serverNow() {
  if (!state.recvAt) return Date.now();
  return state.serverAt + (performance.now() - state.recvAt);
}

function fmtUntil(v) {
  const until = toMs(v);
  if (!Number.isFinite(until)) return '';
  const diff = (until - serverNow()) / 1000;
  if (diff <= 0.05) return 'now';
  if (diff < 60) return `in ${diff.toFixed(1)} s`;
  return `in ${fmtSeconds(diff)}`;
}

const shortId = (id) => (typeof id === 'string' ? id.slice(0, 8) : '');

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status, code, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, {
      credentials: 'same-origin',
      cache: 'no-store',
      ...init,
      headers: { Accept: 'application/json', ...(init.headers ?? {}) },
    });
  } catch (err) {
    throw new ApiError(`Network error: ${err?.message ?? err}`, 0, 'NETWORK');
  }
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const e = body && typeof body === 'object' ? body.error : null;
    const message = typeof e?.message === 'string' ? e.message : `${res.status} ${res.statusText}`;
    throw new ApiError(message, res.status, e?.code, e?.field);
  }
  return body;
}

function post(path, data = {}) {
  return api(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
}

function toast(message, kind = 'error') {
  const box = $('toasts');
  const el = h('div', `toast toast-${kind}`, message);
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.append(el);
  while (box.childElementCount > 4) box.firstElementChild.remove();
  setTimeout(
    () => {
      el.classList.add('toast-out');
      setTimeout(() => el.remove(), 300);
    },
    kind === 'error' ? 6000 : 3000,
  );
}

// ---------------------------------------------------------------------------------------------
// Render scheduling: at most one DOM update per animation frame
// ---------------------------------------------------------------------------------------------

let frameRequested = false;

function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(render);
}

function render() {
  frameRequested = false;
  try {
    if (dirty.stats) {
      dirty.stats = false;
      renderStats();
      renderGauges();
      renderStateCounts();
      renderWaitHead();
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
      throughputChart.draw();
      costChart.draw();
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

// ---------------------------------------------------------------------------------------------
// Header, counters
// ---------------------------------------------------------------------------------------------

function queueState(s) {
  if (!s) return 'unknown';
  if (s.status?.stopping) return 'stopping';
  if (!s.status?.running) return 'stopped';
  if (s.status?.paused) return 'paused';
  return 'running';
}

const busy = { pause: false, resume: false };

function renderHeaderButtons() {
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

function renderStats() {
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

function renderClock() {
  const s = state.stats;
  if (!s) return;
  let up = num(s.status?.uptimeSeconds);
  if (s.status?.running && state.connected) up += (performance.now() - state.recvAt) / 1000;
  setText($('uptime'), fmtUptime(up));
  // Countdowns ("in 3.2 s") move between messages.
  setText($('queue-waiting-until'), s.queue?.waitingUntil ? fmtUntil(s.queue.waitingUntil) : '');
  for (const el of heldUntilEls) setText(el, fmtUntil(el.__until));
  for (const p of PRIORITIES) {
    for (const row of lanePools[p]) {
      if (row.el.hidden || !row.until) continue;
      setText(row.untilEl, fmtUntil(row.until));
    }
  }
}

const typeRows = new Map();

/** Tasks in the store by type: the 12 largest, rows kept and updated in place. */
function renderByType() {
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

// ---------------------------------------------------------------------------------------------
// Gauges
// ---------------------------------------------------------------------------------------------

function level(pct) {
  return pct >= 90 ? 'crit' : pct >= 70 ? 'warn' : 'ok';
}

/** Bars scale on the compositor (transform), so a moving gauge costs no layout. */
function setBar(fillEl, pct) {
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

function renderGauges() {
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

// ---------------------------------------------------------------------------------------------
// Charts (canvas, devicePixelRatio aware)
// ---------------------------------------------------------------------------------------------

function niceStep(range, ticks) {
  const raw = range / Math.max(1, ticks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

const cssVars = new Map();

/** A theme colour, read once (getComputedStyle on every draw would recalc styles). */
function cssVar(name) {
  if (!cssVars.has(name))
    cssVars.set(name, getComputedStyle(document.documentElement).getPropertyValue(name).trim());
  return cssVars.get(name);
}

class TimeChart {
  /** @param {{ series: () => { xs: number[], lines: { values: number[], color: string, fill?: boolean }[] }, yFormat: (v:number)=>string, emptyEl: HTMLElement, minY?: number }} opts */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = opts;
    this.ctx = canvas.getContext('2d');
    this.cssW = 0;
    this.cssH = 0;
    const ro = new ResizeObserver(() => {
      this.resize();
      this.draw();
    });
    ro.observe(canvas.parentElement);
  }

  resize() {
    const box = this.canvas.parentElement;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, box.clientWidth);
    const hgt = Math.max(50, box.clientHeight);
    this.cssW = w;
    this.cssH = hgt;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${hgt}px`;
    const pw = Math.round(w * dpr);
    const ph = Math.round(hgt * dpr);
    if (this.canvas.width !== pw || this.canvas.height !== ph) {
      this.canvas.width = pw;
      this.canvas.height = ph;
    }
    this.dpr = dpr;
  }

  draw() {
    if (!this.cssW) this.resize();
    const { ctx } = this;
    const dpr = this.dpr || 1;
    const W = this.cssW;
    const H = this.cssH;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const { xs, lines } = this.opts.series();
    setHidden(this.opts.emptyEl, xs.length > 0);
    if (xs.length === 0) return;

    const colors = {
      grid: cssVar('--grid') || '#2a2e35',
      axis: cssVar('--muted') || '#8e9099',
    };
    let yMax = this.opts.minY ?? 1;
    for (const l of lines) for (const v of l.values) if (v > yMax) yMax = v;
    const step = niceStep(yMax, 4);
    yMax = Math.ceil(yMax / step) * step;
    const x1 = xs[xs.length - 1];
    const x0 = Math.min(xs[0], x1 - 60_000);
    ctx.font = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const label = this.opts.yFormat(yMax);
    const padL = Math.ceil(Math.max(ctx.measureText(label).width, 18)) + 10;
    const padR = 8;
    const padT = 8;
    const padB = 18;
    const pw = W - padL - padR;
    const ph = H - padT - padB;
    const X = (t) => padL + ((t - x0) / (x1 - x0 || 1)) * pw;
    const Y = (v) => padT + ph - (v / yMax) * ph;

    // grid and y labels
    ctx.lineWidth = 1;
    ctx.strokeStyle = colors.grid;
    ctx.fillStyle = colors.axis;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.beginPath();
    for (let v = 0; v <= yMax + step / 2; v += step) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.moveTo(padL, y);
      ctx.lineTo(W - padR, y);
      ctx.fillText(this.opts.yFormat(v), padL - 5, y);
    }
    ctx.stroke();

    // x labels: a "nice" time step so that labels are ~90 px apart
    const span = x1 - x0;
    const candidates = [5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 1800e3, 3600e3];
    const tStep =
      candidates.find((c) => (c / span) * pw >= 80) ?? candidates[candidates.length - 1];
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.beginPath();
    for (let t = Math.ceil(x0 / tStep) * tStep; t <= x1; t += tStep) {
      const x = Math.round(X(t)) + 0.5;
      ctx.moveTo(x, padT);
      ctx.lineTo(x, padT + ph);
      if (x > padL + 20 && x < W - padR - 20) ctx.fillText(fmtClock(t), x, padT + ph + 4);
    }
    ctx.strokeStyle = colors.grid;
    ctx.stroke();

    // series
    for (const l of lines) {
      ctx.beginPath();
      for (let i = 0; i < xs.length; i++) {
        const x = X(xs[i]);
        const y = Y(l.values[i]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      if (l.fill) {
        ctx.save();
        ctx.lineTo(X(xs[xs.length - 1]), Y(0));
        ctx.lineTo(X(xs[0]), Y(0));
        ctx.closePath();
        const grad = ctx.createLinearGradient(0, padT, 0, padT + ph);
        grad.addColorStop(0, `${l.color}55`);
        grad.addColorStop(1, `${l.color}05`);
        ctx.fillStyle = grad;
        ctx.fill();
        ctx.restore();
        ctx.beginPath();
        for (let i = 0; i < xs.length; i++) {
          const x = X(xs[i]);
          const y = Y(l.values[i]);
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
      }
      ctx.strokeStyle = l.color;
      ctx.lineWidth = 1.5;
      ctx.lineJoin = 'round';
      ctx.stroke();
    }
  }
}

function pointTime(p) {
  if (p.__ms === undefined) p.__ms = toMs(p.t);
  return p.__ms;
}

function mergePoints(incoming) {
  const pts = state.points;
  for (const p of incoming) {
    if (!p || p.t == null) continue;
    const t = pointTime(p);
    if (!Number.isFinite(t)) continue;
    const last = pts[pts.length - 1];
    if (!last || t > pointTime(last)) pts.push(p);
    else if (t === pointTime(last)) pts[pts.length - 1] = p;
    else {
      // Out of order (rare): replace the same second or insert in place.
      let i = pts.length - 1;
      while (i >= 0 && pointTime(pts[i]) > t) i--;
      if (i >= 0 && pointTime(pts[i]) === t) pts[i] = p;
      else pts.splice(i + 1, 0, p);
    }
  }
  if (pts.length > MAX_POINTS) pts.splice(0, pts.length - MAX_POINTS);
}

const C_COMPLETED = '#73bf69';
const C_FAILED = '#f2495c';
const C_COST = '#5794f2';

/** Series step (ms); the server says it in `GET /api/series`. */
let stepMs = 1000;

/**
 * Points exist only for seconds in which something happened: an idle stretch is drawn as zeros
 * (per-second values) or as a flat line (cumulative values).
 */
function withGaps(pts, value, cumulative) {
  const xs = [];
  const ys = [];
  let prevT = null;
  let prevV = 0;
  for (const p of pts) {
    const t = pointTime(p);
    const v = value(p);
    if (prevT !== null && t - prevT > stepMs * 1.5) {
      if (cumulative) {
        xs.push(t - stepMs);
        ys.push(prevV);
      } else {
        xs.push(prevT + stepMs, t - stepMs);
        ys.push(0, 0);
      }
    }
    xs.push(t);
    ys.push(v);
    prevT = t;
    prevV = v;
  }
  return { xs, ys };
}

const throughputChart = new TimeChart($('chart-throughput'), {
  emptyEl: $('chart-throughput-empty'),
  yFormat: (v) => String(+v.toFixed(2)),
  minY: 1,
  series() {
    const pts = state.points;
    const completed = withGaps(pts, (p) => num(p.completed), false);
    const failed = withGaps(pts, (p) => num(p.failed), false);
    const last = pts[pts.length - 1];
    setText($('legend-completed'), last ? fmtInt(last.completed) : '0');
    setText($('legend-failed'), last ? fmtInt(last.failed) : '0');
    return {
      xs: completed.xs,
      lines: [
        { values: completed.ys, color: C_COMPLETED, fill: true },
        { values: failed.ys, color: C_FAILED },
      ],
    };
  },
});

const costChart = new TimeChart($('chart-cost'), {
  emptyEl: $('chart-cost-empty'),
  yFormat: (v) => (v === 0 ? '$0' : v >= 10 ? `$${+v.toFixed(0)}` : `$${+v.toPrecision(2)}`),
  minY: 0.0001,
  series() {
    const pts = state.points;
    // `costUsd` is the spend of each step: the line is its running sum, anchored so that the last
    // point equals the total spend reported by the statistics (older spend left the window).
    let windowSum = 0;
    for (const p of pts) windowSum += num(p.costUsd);
    const total = num(state.stats?.cost?.total?.cost);
    let acc = total > windowSum ? total - windowSum : 0;
    const cum = new Map();
    for (const p of pts) {
      acc += num(p.costUsd);
      cum.set(p, acc);
    }
    const { xs, ys } = withGaps(pts, (p) => cum.get(p), true);
    setText($('legend-cost'), fmtUsd(ys.length ? ys[ys.length - 1] : 0));
    return { xs, lines: [{ values: ys, color: C_COST, fill: true }] };
  },
});

// ---------------------------------------------------------------------------------------------
// Statecharts (SVG, laid out from the graph once; only count texts and classes change)
// ---------------------------------------------------------------------------------------------

const measureCtx = document.createElement('canvas').getContext('2d');

function textWidth(text, font) {
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

/** Layers by BFS from `initial`, finals in the last column, barycentre ordering inside a layer. */
function layoutGraph(graph) {
  const keys = [];
  const type = new Map();
  for (const s of graph.states ?? []) {
    if (!s || typeof s.key !== 'string' || type.has(s.key)) continue;
    keys.push(s.key);
    type.set(s.key, s.type);
  }
  const edges = [];
  for (const t of graph.transitions ?? []) {
    if (!t || !type.has(t.source)) continue;
    const target = t.target == null || t.target === '' ? t.source : t.target;
    if (!type.has(target)) continue;
    edges.push({
      source: t.source,
      target,
      event: t.event || 'always',
      guard: t.guard == null ? null : String(t.guard),
    });
  }
  const initial =
    (type.has(graph.initial) && graph.initial) ||
    (graph.states ?? []).find((s) => s?.initial)?.key ||
    keys[0];
  const isFinal = (k) => type.get(k) === 'final';

  const out = new Map(keys.map((k) => [k, []]));
  for (const e of edges) if (e.source !== e.target) out.get(e.source).push(e.target);

  const layer = new Map();
  if (initial !== undefined) {
    layer.set(initial, 0);
    const queue = [initial];
    while (queue.length) {
      const k = queue.shift();
      for (const n of out.get(k)) {
        if (!layer.has(n)) {
          layer.set(n, layer.get(k) + 1);
          queue.push(n);
        }
      }
    }
  }
  // Unreachable non-final states: after their deepest placed predecessor, else the first layer.
  for (const k of keys) {
    if (layer.has(k) || isFinal(k)) continue;
    let l = 0;
    for (const e of edges)
      if (e.target === k && layer.has(e.source)) l = Math.max(l, layer.get(e.source) + 1);
    layer.set(k, l);
  }
  let maxNonFinal = 0;
  for (const k of keys) if (!isFinal(k)) maxNonFinal = Math.max(maxNonFinal, layer.get(k));
  const hasNonFinal = keys.some((k) => !isFinal(k));
  for (const k of keys) if (isFinal(k)) layer.set(k, hasNonFinal ? maxNonFinal + 1 : 0);

  const nLayers = Math.max(...keys.map((k) => layer.get(k)), 0) + 1;
  const columns = Array.from({ length: nLayers }, () => []);
  for (const k of keys) columns[layer.get(k)].push(k);

  // Barycentre passes: order each column by the mean position of its neighbours.
  const neighbours = new Map(keys.map((k) => [k, []]));
  for (const e of edges) {
    if (e.source === e.target) continue;
    neighbours.get(e.source).push(e.target);
    neighbours.get(e.target).push(e.source);
  }
  const pos = new Map();
  const updatePos = () => {
    for (const col of columns) {
      col.forEach((k, i) => {
        pos.set(k, (i + 0.5) / col.length);
      });
    }
  };
  updatePos();
  for (let pass = 0; pass < 4; pass++) {
    const order = pass % 2 === 0 ? columns.keys() : [...columns.keys()].reverse();
    for (const c of order) {
      const col = columns[c];
      if (col.length < 2) continue;
      const bary = new Map();
      for (const k of col) {
        const ns = neighbours.get(k).filter((n) => layer.get(n) !== c);
        bary.set(k, ns.length ? ns.reduce((a, n) => a + pos.get(n), 0) / ns.length : pos.get(k));
      }
      col.sort((a, b) => bary.get(a) - bary.get(b));
      col.forEach((k, i) => {
        pos.set(k, (i + 0.5) / col.length);
      });
    }
  }
  updatePos();
  return { keys, type, edges, initial, columns, layer };
}

function cubicAt(a, c1, c2, b, t) {
  const u = 1 - t;
  const w0 = u * u * u;
  const w1 = 3 * u * u * t;
  const w2 = 3 * u * t * t;
  const w3 = t * t * t;
  return {
    x: w0 * a.x + w1 * c1.x + w2 * c2.x + w3 * b.x,
    y: w0 * a.y + w1 * c1.y + w2 * c2.y + w3 * b.y,
  };
}

function boxesOverlap(a, b, pad = 0) {
  return (
    a.x < b.x + b.w + pad && a.x + a.w + pad > b.x && a.y < b.y + b.h + pad && a.y + a.h + pad > b.y
  );
}

/** The lines of an edge label: one per event, its guards inline (or below when too wide). */
function labelLines(transitions, font, maxWidth) {
  const byEvent = new Map();
  for (const t of transitions) {
    if (!byEvent.has(t.event)) byEvent.set(t.event, []);
    byEvent.get(t.event).push(t.guard);
  }
  const lines = [];
  for (const [event, guards] of byEvent) {
    // An unguarded transition to the same target: the event always leads here.
    if (guards.includes(null)) {
      lines.push({ event, guard: '' });
      continue;
    }
    const g = `[${guards.join(' | ')}]`;
    if (textWidth(`${event} ${g}`, font) <= maxWidth) lines.push({ event, guard: ` ${g}` });
    else {
      lines.push({ event, guard: '' });
      for (const one of guards) lines.push({ event: '', guard: `[${one}]` });
    }
  }
  return lines;
}

/**
 * Builds the SVG of a statechart, once. Layers from `layoutGraph`; edges leave and enter nodes by
 * ports spread along a side, with horizontal tangents, and cross intermediate columns through the
 * gaps between their nodes; parallel transitions share one path and a stacked label.
 * @returns {{ nodes: Map<string, { g: SVGGElement, count?: SVGTextElement }> }}
 */
function buildStatechart(host, graph, opt) {
  const L = layoutGraph(graph);
  const compact = !!opt.compact;
  const NW = compact ? 86 : 116;
  const NH = compact ? 30 : 50;
  const labelFont = compact ? 9 : 10;
  const lh = labelFont + 3;
  const font = `${labelFont}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  const maxLines = compact ? 2 : 4;

  // Merge parallel transitions: one route per (source, target).
  const groups = new Map();
  for (const e of L.edges) {
    const id = `${e.source}\u0000${e.target}`;
    let g = groups.get(id);
    if (!g) {
      g = { id, source: e.source, target: e.target, transitions: [], index: groups.size };
      groups.set(id, g);
    }
    g.transitions.push(e);
  }
  let widest = 0;
  for (const g of groups.values()) {
    const lines = labelLines(g.transitions, font, compact ? 110 : 150);
    const shown =
      lines.length > maxLines
        ? [
            ...lines.slice(0, maxLines - 1),
            { event: `+${lines.length - maxLines + 1} more`, guard: '' },
          ]
        : lines;
    g.lines = shown;
    g.title = g.transitions.map((t) => (t.guard ? `${t.event} [${t.guard}]` : t.event)).join('\n');
    g.w = Math.ceil(Math.max(...shown.map((l) => textWidth(l.event + l.guard, font)))) + 8;
    g.h = shown.length * lh + 4;
    if (g.source !== g.target && L.layer.get(g.source) !== L.layer.get(g.target))
      widest = Math.max(widest, g.w);
  }

  const gapX = Math.max(compact ? 60 : 80, Math.min(compact ? 150 : 230, widest + 26));
  const colStep = NW + gapX;
  const rowGap = compact ? NH + 34 : NH + 58;
  const maxRows = Math.max(...L.columns.map((c) => c.length), 1);
  const height = maxRows * rowGap;

  const nodePos = new Map();
  L.columns.forEach((col, ci) => {
    const span = height / col.length;
    col.forEach((k, i) => {
      nodePos.set(k, { x: ci * colStep, y: span * (i + 0.5) });
    });
  });
  const nodeBoxes = L.keys.map((k) => {
    const p = nodePos.get(k);
    return { k, x: p.x - NW / 2, y: p.y - NH / 2, w: NW, h: NH };
  });
  const colOf = (k) => L.layer.get(k);
  const between = (c, k1, k2) => {
    // A node of column c strictly between k1 and k2 (vertically)?
    const y1 = nodePos.get(k1).y;
    const y2 = nodePos.get(k2).y;
    return L.columns[c].some(
      (k) =>
        k !== k1 &&
        k !== k2 &&
        nodePos.get(k).y > Math.min(y1, y2) &&
        nodePos.get(k).y < Math.max(y1, y2),
    );
  };

  // 1. Route kinds and, for edges spanning columns, their gaps in the columns crossed.
  const gapUse = new Map();
  const routes = [];
  for (const g of groups.values()) {
    const cs = colOf(g.source);
    const ct = colOf(g.target);
    const a = nodePos.get(g.source);
    const b = nodePos.get(g.target);
    const r = { g, kind: '', via: [] };
    routes.push(r);
    if (g.source === g.target) {
      r.kind = 'self';
      continue;
    }
    if (cs === ct) {
      r.kind = between(cs, g.source, g.target) ? 'side' : 'vertical';
      continue;
    }
    r.kind = ct > cs ? 'forward' : 'back';
    const dir = ct > cs ? 1 : -1;
    for (let c = cs + dir; c !== ct; c += dir) {
      const x = c * colStep;
      const ideal = a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
      const ys = L.columns[c].map((k) => nodePos.get(k).y).sort((p, q) => p - q);
      const gaps = [{ y0: -NH, y1: ys[0] - NH / 2 - 8 }];
      for (let i = 0; i + 1 < ys.length; i++)
        gaps.push({ y0: ys[i] + NH / 2 + 8, y1: ys[i + 1] - NH / 2 - 8 });
      gaps.push({ y0: ys[ys.length - 1] + NH / 2 + 8, y1: height + NH });
      let best = 0;
      let bestD = Infinity;
      gaps.forEach((gp, i) => {
        const d = ideal < gp.y0 ? gp.y0 - ideal : ideal > gp.y1 ? ideal - gp.y1 : 0;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      });
      const key = `${c}:${best}`;
      const via = { x, y: 0, ideal, gap: gaps[best] };
      r.via.push(via);
      if (!gapUse.has(key)) gapUse.set(key, []);
      gapUse.get(key).push(via);
    }
  }
  // Spread the edges that share a gap.
  for (const vias of gapUse.values()) {
    vias.sort((p, q) => p.ideal - q.ideal);
    const { y0, y1 } = vias[0].gap;
    const step = Math.min(compact ? 10 : 16, (y1 - y0) / Math.max(1, vias.length));
    const mean = vias.reduce((s, v) => s + v.ideal, 0) / vias.length;
    const total = step * (vias.length - 1);
    let start = mean - total / 2;
    start = Math.max(y0, Math.min(y1 - total, start));
    vias.forEach((v, i) => {
      v.y = start + i * step;
    });
  }

  // 2. Ports: each end takes a slot on a node side, ordered by where its edge goes.
  const ports = new Map();
  const addPort = (key, side, r, end, order) => {
    const id = `${key}:${side}`;
    if (!ports.has(id)) ports.set(id, []);
    const p = { r, end, order, offset: 0 };
    ports.get(id).push(p);
    return p;
  };
  for (const r of routes) {
    const { g } = r;
    const a = nodePos.get(g.source);
    const b = nodePos.get(g.target);
    const firstY = r.via.length ? r.via[0].y : b.y;
    const lastY = r.via.length ? r.via[r.via.length - 1].y : a.y;
    if (r.kind === 'forward') {
      r.p0 = addPort(g.source, 'right', r, 'out', [firstY, g.index]);
      r.p3 = addPort(g.target, 'left', r, 'in', [lastY, g.index]);
    } else if (r.kind === 'back') {
      r.p0 = addPort(g.source, 'left', r, 'out', [firstY, g.index]);
      r.p3 = addPort(g.target, 'right', r, 'in', [lastY, g.index]);
    } else if (r.kind === 'vertical') {
      const down = b.y > a.y;
      r.down = down;
      r.p0 = addPort(g.source, down ? 'bottom' : 'top', r, 'out', [b.x, g.index]);
      r.p3 = addPort(g.target, down ? 'top' : 'bottom', r, 'in', [a.x, g.index]);
    } else if (r.kind === 'side') {
      r.p0 = addPort(g.source, 'right', r, 'out', [b.y, g.index]);
      r.p3 = addPort(g.target, 'right', r, 'in', [a.y, g.index]);
    }
  }
  for (const [id, list] of ports) {
    const vertical = id.endsWith(':left') || id.endsWith(':right');
    const len = vertical ? NH : NW;
    const span = Math.max(0, len - (compact ? 10 : 16));
    list.sort((p, q) => p.order[0] - q.order[0] || p.order[1] - q.order[1]);
    // Self-loops sit on the top or bottom side: keep their room free of ports where possible.
    list.forEach((p, i) => {
      p.offset = list.length === 1 ? 0 : -span / 2 + (span * i) / (list.length - 1);
    });
  }
  const portPoint = (key, side, offset) => {
    const n = nodePos.get(key);
    const gap = 2;
    switch (side) {
      case 'left':
        return { x: n.x - NW / 2 - gap, y: n.y + offset };
      case 'right':
        return { x: n.x + NW / 2 + gap, y: n.y + offset };
      case 'top':
        return { x: n.x + offset, y: n.y - NH / 2 - gap };
      default:
        return { x: n.x + offset, y: n.y + NH / 2 + gap };
    }
  };

  // 3. SVG
  const root = svg('svg', {
    class: `statechart${compact ? ' compact' : ''}`,
    role: 'img',
    'aria-label': opt.title,
  });
  const defs = svg('defs');
  const marker = svg('marker', {
    id: `${opt.prefix}-arrow`,
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: compact ? 6 : 7,
    markerHeight: compact ? 6 : 7,
    orient: 'auto',
    markerUnits: 'userSpaceOnUse',
  });
  marker.append(svg('path', { d: 'M0,1 L10,5 L0,9 z', class: 'sc-arrow' }));
  defs.append(marker);
  root.append(defs);
  const edgeLayer = svg('g', { class: 'sc-edges' });
  const nodeLayer = svg('g', { class: 'sc-nodes' });
  const labelLayer = svg('g', { class: 'sc-labels' });
  root.append(edgeLayer, nodeLayer, labelLayer);

  const bounds = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  const grow = (b) => {
    bounds.x0 = Math.min(bounds.x0, b.x);
    bounds.y0 = Math.min(bounds.y0, b.y);
    bounds.x1 = Math.max(bounds.x1, b.x + b.w);
    bounds.y1 = Math.max(bounds.y1, b.y + b.h);
  };
  for (const b of nodeBoxes) grow(b);

  const placed = [];
  const clashes = (box) =>
    placed.some((o) => boxesOverlap(box, o, 2)) || nodeBoxes.some((n) => boxesOverlap(box, n, 3));

  /** Tries spots along the candidate segments; the first free one wins. */
  const placeLabel = (g, segments, fallback) => {
    const { w, h: hgt } = g;
    const ts = [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8];
    const shifts = [0, -1, 1, -2, 2, -3, 3];
    let box = null;
    search: for (const s of shifts) {
      for (const seg of segments) {
        for (const t of ts) {
          const p = cubicAt(seg[0], seg[1], seg[2], seg[3], t);
          const cand = { x: p.x - w / 2, y: p.y - hgt / 2 + s * (hgt / 2 + 3), w, h: hgt };
          if (!clashes(cand)) {
            box = cand;
            break search;
          }
        }
      }
    }
    if (!box) box = { x: fallback.x - w / 2, y: fallback.y - hgt / 2, w, h: hgt };
    placed.push(box);
    grow(box);
    const lg = svg('g', { class: 'sc-label' });
    lg.setAttribute('data-edge', `${g.source}->${g.target}`);
    const title = svg('title');
    title.textContent = g.title;
    lg.append(title, svg('rect', { x: box.x, y: box.y, width: box.w, height: box.h, rx: 3 }));
    const text = svg('text', {
      x: box.x + box.w / 2,
      y: box.y + 1 + labelFont,
      'text-anchor': 'middle',
    });
    g.lines.forEach((line, i) => {
      const ts2 = svg('tspan', { x: box.x + box.w / 2, dy: i === 0 ? 0 : lh });
      if (line.event) ts2.append(document.createTextNode(line.event));
      if (line.guard) {
        const guard = svg('tspan', { class: 'sc-guard' });
        guard.textContent = line.guard;
        ts2.append(guard);
      }
      text.append(ts2);
    });
    lg.append(text);
    labelLayer.append(lg);
  };

  const f = (v) => v.toFixed(1);
  const drawn = [];
  for (const r of routes) {
    const { g } = r;
    const path = svg('path', { class: 'sc-edge', 'marker-end': `url(#${opt.prefix}-arrow)` });
    path.setAttribute('data-source', g.source);
    path.setAttribute('data-target', g.target);
    path.setAttribute('data-edge', `${g.source}->${g.target}`);
    const segs = [];
    if (r.kind === 'self') {
      const n = nodePos.get(g.source);
      const topFree = !ports.get(`${g.source}:top`)?.length;
      const bottomFree = !ports.get(`${g.source}:bottom`)?.length;
      const up = topFree || !bottomFree;
      const sy = up ? n.y - NH / 2 : n.y + NH / 2;
      const dir = up ? -1 : 1;
      const busyX = (topFree && up) || (bottomFree && !up) ? 0 : NW / 2 - 20;
      const cx = n.x + busyX;
      const rr = compact ? 20 : 26;
      const a = { x: cx - 10, y: sy };
      const b = { x: cx + 10, y: sy + dir * 2 };
      const c1 = { x: cx - 22, y: sy + dir * rr };
      const c2 = { x: cx + 22, y: sy + dir * rr };
      path.setAttribute(
        'd',
        `M ${f(a.x)} ${f(a.y)} C ${f(c1.x)} ${f(c1.y)}, ${f(c2.x)} ${f(c2.y)}, ${f(b.x)} ${f(b.y)}`,
      );
      grow({ x: cx - 22, y: Math.min(sy, sy + dir * rr), w: 44, h: rr });
      edgeLayer.append(path);
      const tip = { x: cx, y: sy + dir * (rr * 0.75) };
      drawn.push({
        g,
        segs: [],
        fallback: { x: tip.x, y: tip.y + dir * (g.h / 2 + 2) },
        self: true,
        dir,
        tip,
      });
      continue;
    }
    const p0 = portPoint(g.source, r.p0 ? portSide(r, 'out') : 'right', r.p0?.offset ?? 0);
    const p3 = portPoint(g.target, r.p3 ? portSide(r, 'in') : 'left', r.p3?.offset ?? 0);
    let d = `M ${f(p0.x)} ${f(p0.y)}`;
    if (r.kind === 'vertical') {
      const dy = (p3.y - p0.y) / 2;
      const c1 = { x: p0.x, y: p0.y + dy };
      const c2 = { x: p3.x, y: p3.y - dy };
      d += ` C ${f(c1.x)} ${f(c1.y)}, ${f(c2.x)} ${f(c2.y)}, ${f(p3.x)} ${f(p3.y)}`;
      segs.push([p0, c1, c2, p3]);
    } else if (r.kind === 'side') {
      const bulge = 40 + Math.abs(p3.y - p0.y) * 0.15;
      const c1 = { x: p0.x + bulge, y: p0.y };
      const c2 = { x: p3.x + bulge, y: p3.y };
      d += ` C ${f(c1.x)} ${f(c1.y)}, ${f(c2.x)} ${f(c2.y)}, ${f(p3.x)} ${f(p3.y)}`;
      segs.push([p0, c1, c2, p3]);
      grow({ x: p0.x, y: Math.min(p0.y, p3.y), w: bulge, h: 1 });
    } else {
      const pts = [p0, ...r.via, p3];
      for (let i = 0; i + 1 < pts.length; i++) {
        const a = pts[i];
        const b = pts[i + 1];
        const dx = (b.x - a.x) / 2;
        const c1 = { x: a.x + dx, y: a.y };
        const c2 = { x: b.x - dx, y: b.y };
        d += ` C ${f(c1.x)} ${f(c1.y)}, ${f(c2.x)} ${f(c2.y)}, ${f(b.x)} ${f(b.y)}`;
        segs.push([{ x: a.x, y: a.y }, c1, c2, { x: b.x, y: b.y }]);
        grow({
          x: Math.min(a.x, b.x),
          y: Math.min(a.y, b.y),
          w: Math.abs(b.x - a.x),
          h: Math.abs(b.y - a.y),
        });
      }
    }
    path.setAttribute('d', d);
    edgeLayer.append(path);
    // Labels go on the segment between two columns: the middle ones first.
    const order = segs
      .map((s, i) => ({ s, k: Math.abs(i - (segs.length - 1) / 2) }))
      .sort((p, q) => p.k - q.k)
      .map((o) => o.s);
    const mid = cubicAt(...order[0], 0.5);
    drawn.push({ g, segs: order, fallback: mid });
  }

  // Labels: self-loops first (their spot is fixed), then short edges, then long ones.
  drawn.sort((p, q) => (q.self ? 1 : 0) - (p.self ? 1 : 0) || p.segs.length - q.segs.length);
  for (const dEdge of drawn) {
    if (dEdge.self) {
      const { g, dir, tip } = dEdge;
      const y = dir < 0 ? tip.y - g.h - 2 : tip.y + 2;
      const seg = [
        { x: tip.x, y: y + g.h / 2 },
        { x: tip.x, y: y + g.h / 2 },
        { x: tip.x, y: y + g.h / 2 },
        { x: tip.x, y: y + g.h / 2 },
      ];
      placeLabel(g, [seg], { x: tip.x, y: y + g.h / 2 });
    } else placeLabel(dEdge.g, dEdge.segs, dEdge.fallback);
  }

  // Nodes
  const nodes = new Map();
  for (const k of L.keys) {
    const p = nodePos.get(k);
    const fin = L.type.get(k) === 'final';
    const gEl = svg('g', {
      class: `sc-node st-${k.replace(/[^a-zA-Z0-9_-]/g, '_')}${fin ? ' final' : ''}`,
    });
    gEl.setAttribute('data-state', k);
    gEl.setAttribute('id', `${opt.stateIdPrefix}${k}`);
    const title = svg('title');
    title.textContent = `${k}${fin ? ' (final)' : ''}${k === L.initial ? ' (initial)' : ''}`;
    gEl.append(title);
    gEl.append(
      svg('rect', {
        class: 'sc-box',
        x: p.x - NW / 2,
        y: p.y - NH / 2,
        width: NW,
        height: NH,
        rx: compact ? 6 : 8,
      }),
    );
    if (fin) {
      gEl.append(
        svg('rect', {
          class: 'sc-box-inner',
          x: p.x - NW / 2 + 3,
          y: p.y - NH / 2 + 3,
          width: NW - 6,
          height: NH - 6,
          rx: compact ? 4 : 6,
        }),
      );
    }
    const name = svg('text', {
      class: 'sc-name',
      x: p.x,
      y: opt.countIdPrefix ? p.y - 5 : p.y + 4,
      'text-anchor': 'middle',
    });
    name.textContent = k;
    gEl.append(name);
    let count;
    if (opt.countIdPrefix) {
      count = svg('text', { class: 'sc-count', x: p.x, y: p.y + 16, 'text-anchor': 'middle' });
      count.setAttribute('id', `${opt.countIdPrefix}${k}`);
      count.textContent = '0';
      gEl.append(count);
    }
    nodeLayer.append(gEl);
    nodes.set(k, { g: gEl, count });
  }
  // Initial marker
  if (L.initial !== undefined) {
    const p = nodePos.get(L.initial);
    const x = p.x - NW / 2;
    const leftBusy = ports.get(`${L.initial}:left`)?.length;
    const y = leftBusy ? p.y - NH / 2 - 14 : p.y;
    const tx = leftBusy ? x + 14 : x - 2;
    const ty = leftBusy ? p.y - NH / 2 - 2 : p.y;
    nodeLayer.append(svg('circle', { class: 'sc-initial', cx: x - 24, cy: y, r: 4 }));
    const d = leftBusy
      ? `M ${x - 20} ${y} L ${tx} ${y} L ${tx} ${ty}`
      : `M ${x - 20} ${y} L ${tx} ${ty}`;
    nodeLayer.append(
      svg('path', {
        class: 'sc-edge sc-initial-edge',
        d,
        'marker-end': `url(#${opt.prefix}-arrow)`,
      }),
    );
    grow({ x: x - 30, y: y - 6, w: 10, h: 12 });
  }

  const pad = 6;
  const vb = [
    bounds.x0 - pad,
    bounds.y0 - pad,
    bounds.x1 - bounds.x0 + 2 * pad,
    bounds.y1 - bounds.y0 + 2 * pad,
  ];
  root.setAttribute('viewBox', vb.map((v) => v.toFixed(1)).join(' '));
  root.setAttribute('preserveAspectRatio', 'xMidYMid meet');
  root.style.aspectRatio = `${vb[2].toFixed(1)} / ${vb[3].toFixed(1)}`;
  root.style.maxWidth = `${Math.ceil(vb[2] * (compact ? 1.15 : 1.35))}px`;
  // Hovering a path or its label highlights both.
  const linked = (el) => {
    const key = el.getAttribute('data-edge');
    return key ? root.querySelectorAll(`[data-edge="${CSS.escape(key)}"]`) : [];
  };
  root.addEventListener('pointerover', (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest('[data-edge]') : null;
    if (el) for (const x of linked(el)) x.classList.add('hl');
  });
  root.addEventListener('pointerout', (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest('[data-edge]') : null;
    if (el) for (const x of linked(el)) x.classList.remove('hl');
  });
  host.replaceChildren(root);
  return { nodes };
}

function portSide(r, end) {
  switch (r.kind) {
    case 'forward':
      return end === 'out' ? 'right' : 'left';
    case 'back':
      return end === 'out' ? 'left' : 'right';
    case 'vertical':
      return end === 'out' ? (r.down ? 'bottom' : 'top') : r.down ? 'top' : 'bottom';
    default:
      return 'right';
  }
}

let taskChart = null;
let supervisorChart = null;

function renderStateCounts() {
  if (!taskChart || !state.stats) return;
  const by = state.stats.tasks?.byStatus ?? {};
  for (const [k, n] of taskChart.nodes) {
    const c = num(by[k]);
    if (n.count) setText(n.count, String(c));
    if (n.count) setAttr(n.count, 'data-value', c);
    toggleClass(n.g, 'active', c > 0);
  }
}

function renderSupervisorState() {
  const sup = state.actors.find((a) => a?.systemId === 'supervisor');
  const st = sup?.state ?? null;
  setText($('supervisor-state'), st ?? '—');
  if (!supervisorChart) return;
  for (const [k, n] of supervisorChart.nodes) {
    const current = st != null && (st === k || st.split('.')[0] === k);
    toggleClass(n.g, 'current', current);
  }
}

async function loadMachines() {
  try {
    const m = await api('/api/machines');
    if (m?.task) {
      taskChart = buildStatechart($('task-chart'), m.task, {
        prefix: 'tsk',
        countIdPrefix: 'state-count-',
        stateIdPrefix: 'state-node-',
        title: 'Task statechart',
      });
    }
    if (m?.supervisor) {
      supervisorChart = buildStatechart($('supervisor-chart'), m.supervisor, {
        prefix: 'sup',
        compact: true,
        stateIdPrefix: 'sup-state-',
        title: 'Supervisor statechart',
      });
    }
    renderStateCounts();
    renderSupervisorState();
  } catch (err) {
    for (const id of ['task-chart', 'supervisor-chart'])
      $(id).replaceChildren(h('div', 'empty-note', `statechart unavailable: ${err.message}`));
    toast(`Statecharts: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Actors
// ---------------------------------------------------------------------------------------------

const actorEls = new Map();

function fmtSummaryValue(v) {
  if (v == null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? fmtCompact(v) : String(+v.toFixed(4));
  return String(v);
}

function renderActors() {
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

// ---------------------------------------------------------------------------------------------
// Waiting line
// ---------------------------------------------------------------------------------------------

const heldEls = [];
const heldUntilEls = [];

function taskLink(id, className = 'task-link mono') {
  const b = h('button', className, shortId(id));
  b.type = 'button';
  b.setAttribute('data-task-id', id);
  b.title = id;
  return b;
}

function renderWaitHead() {
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
  renderClock();
}

function renderLaneCounts() {
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

function renderLists() {
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

async function refreshLists(force = false) {
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

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

const failureKey = (f) => `${f.taskId}|${f.at}|${f.attempts}`;

function addFailures(list, prepend) {
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

function renderFailures() {
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

// ---------------------------------------------------------------------------------------------
// Task detail
// ---------------------------------------------------------------------------------------------

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

async function openDetail(id, { quiet = false } = {}) {
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

function closeDetail() {
  state.detailId = null;
  state.detailTask = null;
  $('task-detail').hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

async function taskAction(kind, id, button) {
  if (button) button.disabled = true;
  try {
    const res = await post(`/api/tasks/${encodeURIComponent(id)}/${kind}`, {});
    const ok = kind === 'cancel' ? res?.cancelled : kind === 'pause' ? res?.paused : res?.resumed;
    if (ok === false)
      toast(
        `Task ${shortId(id)} could not be ${kind === 'cancel' ? 'cancelled' : kind === 'pause' ? 'paused' : 'resumed'} (it moved on).`,
        'info',
      );
    else {
      state.optimistic.set(
        id,
        kind === 'cancel' ? 'cancelled' : kind === 'pause' ? 'paused' : 'queued',
      );
      dirty.lists = true;
      schedule();
    }
    // Show the new state soon; the 2 s floor still holds.
    setTimeout(
      () => refreshLists(),
      Math.max(0, LIST_REFRESH_MS - (performance.now() - state.listsFetchedAt)),
    );
    if (state.detailId === id) openDetail(id, { quiet: true });
  } catch (err) {
    toast(err.message);
  } finally {
    if (button?.isConnected) button.disabled = false;
  }
}

async function queueAction(kind) {
  busy[kind] = true;
  renderHeaderButtons();
  try {
    const res = await post(`/api/${kind}`, {});
    // Reflect at once; the next update confirms.
    if (state.stats && typeof res?.paused === 'boolean') {
      state.stats.status = { ...state.stats.status, paused: res.paused };
      dirty.stats = true;
      schedule();
    }
  } catch (err) {
    toast(err.message);
  } finally {
    busy[kind] = false;
    renderHeaderButtons();
  }
}

document.addEventListener('click', (ev) => {
  const target = ev.target instanceof Element ? ev.target : null;
  if (!target) return;
  const btn = target.closest('[data-cancel],[data-pause],[data-resume],[data-task-id]');
  if (!btn) return;
  if (btn.hasAttribute('data-cancel')) taskAction('cancel', btn.getAttribute('data-cancel'), btn);
  else if (btn.hasAttribute('data-pause')) taskAction('pause', btn.getAttribute('data-pause'), btn);
  else if (btn.hasAttribute('data-resume'))
    taskAction('resume', btn.getAttribute('data-resume'), btn);
  else openDetail(btn.getAttribute('data-task-id'));
});

$('btn-pause').addEventListener('click', () => queueAction('pause'));
$('btn-resume').addEventListener('click', () => queueAction('resume'));
$('task-detail-close').addEventListener('click', closeDetail);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && state.detailId) closeDetail();
});
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

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const SETTINGS = [
  { name: 'maxConcurrent', current: (s) => s.concurrency?.maxConcurrent, integer: true },
  {
    name: 'requestsPerMinute',
    current: (s) => s.rateLimit?.requestsPerMinute?.limit,
    integer: true,
  },
  { name: 'tokensPerMinute', current: (s) => s.rateLimit?.tokensPerMinute?.limit, integer: true },
  { name: 'budgetLimit', current: (s) => s.cost?.total?.limit, integer: false },
];

const settingsForm = $('settings-form');

function prefillSettings() {
  const s = state.stats;
  if (!s) return;
  for (const f of SETTINGS) {
    const input = $(`set-${f.name}`);
    const cur = f.current(s);
    const text = cur == null ? '' : String(cur);
    setAttr(input, 'placeholder', cur == null ? 'no limit' : text);
    if (input.dataset.dirty !== 'true' && document.activeElement !== input && input.value !== text)
      input.value = text;
  }
}

settingsForm.addEventListener('input', (ev) => {
  const input = ev.target;
  if (input instanceof HTMLInputElement) {
    input.dataset.dirty = 'true';
    input.classList.remove('invalid');
    input.removeAttribute('aria-invalid');
  }
  $('settings-error').hidden = true;
  $('settings-status').hidden = true;
});

$('settings-reset').addEventListener('click', () => {
  for (const f of SETTINGS) {
    const input = $(`set-${f.name}`);
    delete input.dataset.dirty;
    input.classList.remove('invalid');
    input.removeAttribute('aria-invalid');
  }
  $('settings-error').hidden = true;
  $('settings-status').hidden = true;
  prefillSettings();
});

settingsForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const errEl = $('settings-error');
  const okEl = $('settings-status');
  errEl.hidden = true;
  okEl.hidden = true;
  const body = {};
  for (const f of SETTINGS) {
    const input = $(`set-${f.name}`);
    if (input.dataset.dirty !== 'true') continue;
    const raw = input.value.trim();
    if (raw === '') continue;
    const n = Number(raw);
    body[f.name] = Number.isFinite(n) ? n : raw;
  }
  if (Object.keys(body).length === 0) {
    okEl.textContent = 'Nothing to change.';
    okEl.hidden = false;
    return;
  }
  const submit = $('settings-submit');
  submit.disabled = true;
  try {
    const res = await post('/api/settings', body);
    const changed = Array.isArray(res?.changed) ? res.changed : [];
    okEl.textContent = changed.length ? `Changed: ${changed.join(', ')}` : 'No change.';
    okEl.hidden = false;
    for (const f of SETTINGS) delete $(`set-${f.name}`).dataset.dirty;
  } catch (err) {
    errEl.textContent = err.message;
    errEl.hidden = false;
    if (err.field) {
      const input = document.querySelector(`#settings-form [name="${CSS.escape(err.field)}"]`);
      if (input) {
        input.classList.add('invalid');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    }
  } finally {
    submit.disabled = false;
  }
});

// ---------------------------------------------------------------------------------------------
// Live stream
// ---------------------------------------------------------------------------------------------

function setConnected(on) {
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

function connect() {
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

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

async function loadSeries() {
  try {
    const s = await api('/api/series');
    if (typeof s?.stepMs === 'number' && s.stepMs > 0) stepMs = s.stepMs;
    const pts = Array.isArray(s?.points) ? s.points : [];
    state.points = [];
    mergePoints(pts);
  } catch (err) {
    toast(`Series: ${err.message}`);
  } finally {
    state.seriesLoaded = true;
    mergePoints(state.pendingPoints);
    state.pendingPoints = [];
    dirty.points = true;
    schedule();
  }
}

async function loadFailures() {
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
