// Dashboard: a time-series line chart on a canvas (devicePixelRatio aware, redrawn on resize).

import { setHidden } from './dom.js';
import { fmtClock } from './format.js';

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

export class TimeChart {
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
    /** Starts a new path through the points of one line. */
    const trace = (values) => {
      ctx.beginPath();
      for (let i = 0; i < xs.length; i++) {
        const x = X(xs[i]);
        const y = Y(values[i]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
    };
    for (const l of lines) {
      trace(l.values);
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
        trace(l.values);
      }
      ctx.strokeStyle = l.color;
      ctx.lineWidth = 1.5;
      ctx.lineJoin = 'round';
      ctx.stroke();
    }
  }
}
