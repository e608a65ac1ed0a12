// Dashboard: the settings form (POST /api/settings): prefilled from the statistics, only the
// fields the user changed are sent, a refused field is marked.

import { post } from './api.js';
import { $, setAttr } from './dom.js';
import { state } from './state.js';

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

export function prefillSettings() {
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

export function bindSettings() {
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
}
