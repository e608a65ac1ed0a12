// Dashboard: the buttons: cancel, pause or resume a task (from any row or the detail panel), pause
// or resume the queue, open and close a task's detail.

import { post } from './api.js';
import { closeDetail, openDetail } from './detail.js';
import { $, toast } from './dom.js';
import { shortId } from './format.js';
import { dirty, LIST_REFRESH_MS, schedule, state } from './state.js';
import { busy, renderHeaderButtons } from './stats.js';
import { refreshLists } from './waiting.js';

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

export function bindActions() {
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const btn = target.closest('[data-cancel],[data-pause],[data-resume],[data-task-id]');
    if (!btn) return;
    if (btn.hasAttribute('data-cancel')) taskAction('cancel', btn.getAttribute('data-cancel'), btn);
    else if (btn.hasAttribute('data-pause'))
      taskAction('pause', btn.getAttribute('data-pause'), btn);
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
}
