// Dashboard statecharts: the geometry of a chart before any SVG: node positions, one route per
// (source, target) with its label lines, the gaps it crosses between columns and its ports.

import { labelLines, layoutGraph, textWidth } from './statechart-layout.js';

/**
 * Places the nodes by the layers of `layoutGraph`, merges parallel transitions into one route per
 * (source, target), threads routes spanning columns through the gaps between their nodes and gives
 * each end a port on a node side, ordered by where its edge goes.
 */
export function routeGraph(graph, compact) {
  const L = layoutGraph(graph);
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
  return { L, NW, NH, labelFont, lh, nodePos, nodeBoxes, routes, ports, portPoint };
}

export function portSide(r, end) {
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
