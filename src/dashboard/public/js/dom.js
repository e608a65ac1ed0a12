// Dashboard: DOM helpers (element lookup and creation, writes only when a value changed) and the
// toasts. Every string reaches the DOM through textContent or setAttribute, never innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (id) => document.getElementById(id);

/** Sets an element's text only when it changed (no layout work for unchanged values). */
export function setText(el, value) {
  const text = value == null ? '' : String(value);
  if (el.__text !== text) {
    el.textContent = text;
    el.__text = text;
  }
}

export function setAttr(el, name, value) {
  const v = value == null ? null : String(value);
  const key = `__attr_${name}`;
  if (el[key] === v) return;
  el[key] = v;
  if (v === null) el.removeAttribute(name);
  else el.setAttribute(name, v);
}

export function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}

export function toggleClass(el, name, on) {
  if (el.classList.contains(name) !== on) el.classList.toggle(name, on);
}

export function h(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text != null) el.textContent = String(text);
  return el;
}

export function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function toast(message, kind = 'error') {
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
