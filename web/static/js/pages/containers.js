// containers.js: the containers list. Favourites first, then newest; state with "eligible at"
// and the pending reason for Ready containers; actions; live updates from the event stream.

import { api } from '../api.js';
import { subscribe } from '../sse.js';
import { h, fill, loading, empty, problemBox, badge, when, whenBoth, scheduleText, toast } from '../ui.js';
import { actionButtons } from './actions.js';

/** reasonText explains a Slurm pending reason in words. */
export function reasonText(reason) {
  const known = {
    BeginTime: 'waiting for its scheduled hour',
    Resources: 'waiting for free GPUs or CPUs',
    Priority: 'queued behind higher-priority jobs',
    Dependency: 'waiting for another job',
    ReqNodeNotAvail: 'the requested nodes are unavailable',
    QOSMaxGRESPerUser: 'your GPU quota is in use',
    AssocGrpGRES: 'the project GPU quota is in use',
    None: '',
  };
  if (!reason) return '';
  return reason in known ? known[reason] : reason;
}

/** stateCell renders a container's state with what its current task says. */
export function stateCell(c, t) {
  const parts = [badge(c.state)];
  if (c.state === 'Ready' && t) {
    const eligible = t.eligible_at || t.begin;
    if (eligible) parts.push(h('span', { class: 'sub', 'data-eligible': eligible }, `eligible at ${whenBoth(eligible)}`));
    const why = reasonText(t.reason);
    if (why) parts.push(h('span', { class: 'sub reason', title: t.reason }, why === t.reason ? why : `${why} (${t.reason})`));
    else if (t.state === 'SUBMITTING') parts.push(h('span', { class: 'sub' }, 'submitting to Slurm'));
  }
  if (c.state === 'Running' && t?.started_at) parts.push(h('span', { class: 'sub' }, `since ${when(t.started_at)}`));
  return h('div', { class: 'state-cell' }, parts);
}

function lastTaskCell(t) {
  if (!t) return h('span', { class: 'muted' }, 'never run');
  const at = t.ended_at || t.started_at || t.submitted_at || t.created_at;
  return h('div', { class: 'state-cell' }, badge(t.state),
    h('span', { class: 'sub' }, when(at)),
    t.exit_code !== undefined && t.exit_code !== null && t.ended_at ? h('span', { class: 'sub' }, `exit ${t.exit_code}`) : null);
}

/** sortContainers puts favourites first, then the newest. */
export function sortContainers(list) {
  return [...list].sort((a, b) => (b.favorite - a.favorite) || String(b.created_at).localeCompare(String(a.created_at)));
}

function specOf(c, favorite) {
  return { project: c.project, name: c.name, image: c.image, flavor: c.flavor, command: c.command, env: c.env || [], schedule: { kind: c.schedule?.kind || 'manual', at: c.schedule?.at || '' }, favorite };
}

export function render(root) {
  const byID = new Map();
  const tasks = new Map();
  let filter = '';
  let closed = false;
  const live = h('span', { class: 'live', role: 'status' }, 'connecting…');
  const body = h('div', {}, loading('Loading containers'));
  const search = h('input', { type: 'search', id: 'filter', placeholder: 'Filter by name, image or flavor', 'aria-label': 'Filter containers' });
  search.addEventListener('input', () => { filter = search.value.trim().toLowerCase(); draw(); });

  root.append(
    h('div', { class: 'page-head' },
      h('h1', {}, 'Containers'),
      h('div', { class: 'row' }, live, h('a', { class: 'btn primary', href: '#/new' }, 'New container'))),
    h('div', { class: 'toolbar' }, search),
    body);

  async function loadTask(id) {
    if (!id || tasks.has(id)) return;
    tasks.set(id, null);
    try { tasks.set(id, await api.task(id)); draw(); } catch { tasks.delete(id); }
  }

  async function load() {
    try {
      const list = await api.containers();
      byID.clear();
      list.forEach((c) => byID.set(c.id, c));
      draw();
      await Promise.all(list.map((c) => loadTask(c.current_task)));
    } catch (err) {
      if (!closed) fill(body, problemBox(err, { retry: load }));
    }
  }

  async function toggleFavorite(c) {
    try {
      const updated = await api.update(c.id, specOf(c, !c.favorite));
      byID.set(updated.id, updated);
      draw();
    } catch (err) {
      toast(`Could not ${c.favorite ? 'unpin' : 'pin'} “${c.name}”: ${err.title}${err.errors?.length ? ` — ${err.errors.map((e) => e.detail).join('; ')}` : ''}`, 'error');
    }
  }

  let pending = false;
  function draw() {
    if (pending || closed) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; paint(); });
  }

  function paint() {
    const focused = document.activeElement?.dataset?.key;
    const all = sortContainers([...byID.values()]);
    const list = all.filter((c) => !filter || `${c.name} ${c.image} ${c.flavor}`.toLowerCase().includes(filter));
    if (!all.length) {
      fill(body, empty('No containers yet. A container is a job template: an image, a flavor, a command and a schedule.', h('a', { class: 'btn primary', href: '#/new' }, 'Create your first container')));
      return;
    }
    if (!list.length) { fill(body, empty(`No container matches “${filter}”.`)); return; }
    const rows = list.map((c) => {
      const t = c.current_task ? tasks.get(c.current_task) : null;
      const star = h('button', {
        type: 'button', class: `star ${c.favorite ? 'on' : ''}`, 'aria-pressed': String(!!c.favorite), 'data-key': `${c.id}:star`,
        'aria-label': `${c.favorite ? 'Unpin' : 'Pin'} ${c.name}`, title: c.state === 'Inactive' ? (c.favorite ? 'Unpin' : 'Pin to the top') : 'Favourites can be changed while the container is inactive',
        disabled: c.state !== 'Inactive',
      }, c.favorite ? '★' : '☆');
      star.addEventListener('click', () => toggleFavorite(c));
      const acts = actionButtons(c, () => load(), { compact: true });
      acts.querySelectorAll('button').forEach((b) => { b.dataset.key = `${c.id}:${b.dataset.action}`; });
      return h('tr', { 'data-id': c.id, 'data-state': c.state },
        h('td', { class: 'star-cell' }, star),
        h('td', { 'data-label': 'Name' }, h('a', { href: `#/containers/${c.id}`, class: 'name', 'data-key': `${c.id}:open` }, c.name), h('span', { class: 'sub' }, `${c.project} · ${c.owner}`)),
        h('td', { 'data-label': 'Image' }, h('code', {}, c.image)),
        h('td', { 'data-label': 'Flavor' }, c.flavor),
        h('td', { 'data-label': 'Schedule' }, scheduleText(c.schedule)),
        h('td', { 'data-label': 'State' }, stateCell(c, t)),
        h('td', { 'data-label': 'Last task' }, lastTaskCell(t)),
        h('td', { 'data-label': 'Actions' }, acts));
    });
    fill(body, h('div', { class: 'table-wrap' }, h('table', { class: 'list containers' },
      h('caption', { class: 'sr-only' }, 'Containers, favourites first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Favourite')), ['Name', 'Image', 'Flavor', 'Schedule', 'State', 'Last task', 'Actions'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows))));
    if (focused) body.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  const close = subscribe('/api/v1/events', {
    onStatus: (st, problem) => {
      live.textContent = { open: '● live', retrying: 'reconnecting…', closed: `live updates off${problem ? `: ${problem.title}` : ''}` }[st];
      live.className = `live ${st}`;
    },
    onEvent: (ev) => {
      if (ev.type === 'reset') { tasks.clear(); load(); return; }
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      if (ev.type === 'container' && data.container) {
        if (data.deleted) byID.delete(data.container_id);
        else { byID.set(data.container.id, data.container); loadTask(data.container.current_task); }
      } else if (ev.type === 'task' && data.task) {
        tasks.set(data.task.id, data.task);
      }
      draw();
    },
  });
  load();
  return () => { closed = true; close(); };
}
