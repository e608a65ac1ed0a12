// Dashboard: the task and supervisor statechart panels (GET /api/machines): the count of tasks in
// each state, the supervisor's current state.

import { api } from './api.js';
import { $, h, setAttr, setText, toast, toggleClass } from './dom.js';
import { num } from './format.js';
import { state } from './state.js';
import { buildStatechart } from './statechart-svg.js';

let taskChart = null;
let supervisorChart = null;

export function renderStateCounts() {
  if (!taskChart || !state.stats) return;
  const by = state.stats.tasks?.byStatus ?? {};
  for (const [k, n] of taskChart.nodes) {
    const c = num(by[k]);
    if (n.count) setText(n.count, String(c));
    if (n.count) setAttr(n.count, 'data-value', c);
    toggleClass(n.g, 'active', c > 0);
  }
}

export function renderSupervisorState() {
  const sup = state.actors.find((a) => a?.systemId === 'supervisor');
  const st = sup?.state ?? null;
  setText($('supervisor-state'), st ?? '—');
  if (!supervisorChart) return;
  for (const [k, n] of supervisorChart.nodes) {
    const current = st != null && (st === k || st.split('.')[0] === k);
    toggleClass(n.g, 'current', current);
  }
}

export async function loadMachines() {
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
