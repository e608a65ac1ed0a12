// Dashboard: the per-second series (GET /api/series, then the stream's points) and the two charts
// drawn from it: throughput and cumulative cost.

import { api } from './api.js';
import { TimeChart } from './charts.js';
import { $, setText, toast } from './dom.js';
import { fmtInt, fmtUsd, num, toMs } from './format.js';
import { dirty, MAX_POINTS, schedule, state } from './state.js';

function pointTime(p) {
  if (p.__ms === undefined) p.__ms = toMs(p.t);
  return p.__ms;
}

export function mergePoints(incoming) {
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

export function drawCharts() {
  throughputChart.draw();
  costChart.draw();
}

export async function loadSeries() {
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
