// Dashboard statecharts: the layered layout of a machine's graph (BFS layers, barycentre order),
// text measuring, edge label lines and small geometry helpers.

const measureCtx = document.createElement('canvas').getContext('2d');

export function textWidth(text, font) {
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

/** Layers by BFS from `initial`, finals in the last column, barycentre ordering inside a layer. */
export function layoutGraph(graph) {
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

export function cubicAt(a, c1, c2, b, t) {
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

export function boxesOverlap(a, b, pad = 0) {
  return (
    a.x < b.x + b.w + pad && a.x + a.w + pad > b.x && a.y < b.y + b.h + pad && a.y + a.h + pad > b.y
  );
}

/** The lines of an edge label: one per event, its guards inline (or below when too wide). */
export function labelLines(transitions, font, maxWidth) {
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
