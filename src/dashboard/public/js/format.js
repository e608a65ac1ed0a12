// Dashboard: number, money, duration and time formatting (countdowns use the server's clock).

import { serverNow } from './state.js';

export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const compactFmt = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const groupFmt = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

export function fmtInt(v) {
  return String(Math.round(num(v)));
}

export function fmtCompact(v) {
  const n = num(v);
  return Math.abs(n) < 10000 ? groupFmt.format(n) : compactFmt.format(n);
}

/** Dollars: `$` and a plain decimal (no separators), more decimals for small amounts. */
export function fmtUsd(v) {
  const n = num(v);
  if (n === 0) return '$0.00';
  const abs = Math.abs(n);
  return `$${n.toFixed(abs >= 100 ? 2 : abs >= 1 ? 3 : 4)}`;
}

export function fmtSeconds(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const s = Math.max(0, v);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function fmtUptime(v) {
  const s = Math.max(0, Math.floor(num(v)));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p = (x) => String(x).padStart(2, '0');
  return d > 0 ? `${d}d ${p(hh)}:${p(mm)}:${p(ss)}` : `${p(hh)}:${p(mm)}:${p(ss)}`;
}

export function fmtWindow(ms) {
  const s = num(ms) / 1000;
  if (s < 120) return `${+s.toFixed(1)} s`;
  if (s < 7200) return `${+(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

export function fmtClock(ms) {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const p = (x) => String(x).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDateTime(v) {
  const ms = toMs(v);
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const ms3 = String(d.getMilliseconds()).padStart(3, '0');
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${fmtClock(ms)}.${ms3}`;
}

export function toMs(v) {
  if (v == null) return Number.NaN;
  if (typeof v === 'number') return v;
  return Date.parse(v);
}

export function fmtUntil(v) {
  const until = toMs(v);
  if (!Number.isFinite(until)) return '';
  const diff = (until - serverNow()) / 1000;
  if (diff <= 0.05) return 'now';
  if (diff < 60) return `in ${diff.toFixed(1)} s`;
  return `in ${fmtSeconds(diff)}`;
}

/** An id's last 8 characters: the random end of the queue's time-ordered ids (their start is the time). */
export const shortId = (id) => (typeof id === 'string' ? id.slice(-8) : '');
