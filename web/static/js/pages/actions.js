// actions.js: the container actions shared by the list and the detail page, each reporting its
// outcome (a toast on success, the problem on failure: never silent).

import { api } from '../api.js';
import { h, toast, confirmDialog } from '../ui.js';

/** availableActions lists what can be done to a container in its state. */
export function availableActions(c) {
  switch (c.state) {
    case 'Inactive': return ['start', 'delete', 'refresh'];
    case 'Ready':
    case 'Running': return ['stop', 'refresh'];
    default: return ['refresh'];
  }
}

const labels = { start: 'Start', stop: 'Stop', delete: 'Delete', refresh: 'Refresh' };

/** run performs action on container c; onDone(result) is called on success. */
export async function run(action, c, onDone) {
  if (action === 'delete' && !(await confirmDialog(`Delete container “${c.name}”? Its tasks stay in the usage history.`, 'Delete'))) return;
  if (action === 'stop' && !(await confirmDialog(`Stop “${c.name}”? Its waiting or running task is cancelled.`, 'Stop'))) return;
  try {
    const result = await api[action === 'delete' ? 'remove' : action](c.id);
    toast({ start: `Started “${c.name}”: task submitted.`, stop: `Stopped “${c.name}”.`, delete: `Deleted “${c.name}”.`, refresh: `Refreshed “${c.name}” from Slurm.` }[action]);
    onDone?.(result);
  } catch (err) {
    const fields = (err.errors || []).map((e) => `${e.field}: ${e.detail}`).join('; ');
    toast(`${labels[action]} “${c.name}” failed: ${err.title}${err.detail ? ` — ${err.detail}` : ''}${fields ? ` (${fields})` : ''}`, 'error');
  }
}

/** actionButtons renders the buttons for c's available actions. */
export function actionButtons(c, onDone, { compact = false } = {}) {
  return h('div', { class: 'actions' }, availableActions(c).map((a) => {
    const btn = h('button', {
      type: 'button', class: `btn ${compact ? 'small' : ''} ${a === 'delete' || a === 'stop' ? 'danger-outline' : a === 'start' ? 'primary' : ''}`,
      'aria-label': `${labels[a]} ${c.name}`, 'data-action': a,
    }, labels[a]);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try { await run(a, c, onDone); } finally { btn.disabled = false; }
    });
    return btn;
  }));
}
