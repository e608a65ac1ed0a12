// Dashboard statecharts: draws a routed chart as SVG, once (edges, labels placed clear of nodes and
// of each other, nodes with optional counts, the initial marker, hover highlighting).

import { svg } from './dom.js';
import { boxesOverlap, cubicAt } from './statechart-layout.js';
import { portSide, routeGraph } from './statechart-routes.js';

/**
 * Builds the SVG of a statechart, once. Geometry from `routeGraph`; edges leave and enter nodes by
 * ports spread along a side, with horizontal tangents, and cross intermediate columns through the
 * gaps between their nodes; parallel transitions share one path and a stacked label.
 * @returns {{ nodes: Map<string, { g: SVGGElement, count?: SVGTextElement }> }}
 */
export function buildStatechart(host, graph, opt) {
  const compact = !!opt.compact;
  const { L, NW, NH, labelFont, lh, nodePos, nodeBoxes, routes, ports, portPoint } = routeGraph(
    graph,
    compact,
  );

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
