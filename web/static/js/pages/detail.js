// detail.js: one container: its configuration and actions, its tasks, a task's log (followed
// live while the task runs, downloadable once sealed) and the exact sbatch script.

import { api } from '../api.js';
import { subscribe } from '../sse.js';
import { h, fill, loading, empty, problemBox, badge, when, whenShort, whenBoth, scheduleText, num, money, toast, zoneLabel, getClusterZone } from '../ui.js';
import { actionButtons } from './actions.js';
import { stateCell } from './containers.js';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

/** shortID keeps an id's prefix and its last characters (its random part); the full id is its title. */
export function shortID(id) { return id.length > 14 ? `${id.slice(0, 4)}…${id.slice(-8)}` : id; }

export function render(root, ctx, [id]) {
  let c = null;
  let tasks = [];
  let selected = '';
  let closed = false;
  const cleanups = [];
  const title = h('h1', {}, 'Container');
  const headState = h('div', { class: 'head-state' });
  const headActions = h('div', {});
  const config = h('section', { class: 'card', 'aria-labelledby': 'cfg-h' }, h('h2', { id: 'cfg-h' }, 'Configuration'), loading());
  const tasksBox = h('section', { class: 'card', 'aria-labelledby': 'tasks-h' }, h('h2', { id: 'tasks-h' }, 'Tasks'), loading());
  const logBox = h('section', { class: 'card', 'aria-labelledby': 'log-h', id: 'log' }, h('h2', { id: 'log-h' }, 'Log'), h('p', { class: 'muted' }, 'Choose a task to see its log.'));
  const scriptBox = h('section', { class: 'card', 'aria-labelledby': 'script-h' }, h('h2', { id: 'script-h' }, 'sbatch script'), loading());
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/containers' }, '← Containers')),
    h('div', { class: 'page-head' }, h('div', { class: 'title-line' }, title, headState), headActions),
    config, tasksBox, logBox, scriptBox);

  const paintHead = () => {
    title.textContent = c.name;
    document.title = `${c.name} · batchgate`;
    const cur = tasks.find((t) => t.id === c.current_task);
    fill(headState, stateCell(c, cur));
    fill(headActions, actionButtons(c, (res) => {
      if (res && res.container_id) selected = res.id; // a start answers the new task: show its log
      if (res === null) { ctx.go('#/containers'); return; }
      reload();
    }));
  };

  const paintConfig = () => {
    const cur = tasks.find((t) => t.id === c.current_task);
    fill(config, h('h2', { id: 'cfg-h' }, 'Configuration'), h('dl', { class: 'review' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, c.id)),
      h('dt', {}, 'Project · owner'), h('dd', {}, `${c.project} · ${c.owner}`),
      h('dt', {}, 'Image'), h('dd', {}, h('code', {}, c.image)),
      h('dt', {}, 'Flavor'), h('dd', {}, c.flavor),
      h('dt', {}, 'Command'), h('dd', {}, h('pre', { class: 'code' }, c.command)),
      h('dt', {}, 'Environment'), h('dd', {}, c.env?.length ? h('ul', { class: 'plain' }, c.env.map((e) => h('li', {}, h('code', {}, `${e.name}=${e.value}`)))) : h('span', { class: 'muted' }, 'none')),
      h('dt', {}, 'Schedule'), h('dd', {}, c.schedule?.kind === 'at' ? whenBoth(c.schedule.at) : scheduleText(c.schedule)),
      h('dt', {}, 'Storage'), h('dd', {}, (ctx.cluster?.binds || []).map((b) => h('code', { class: 'chip' }, b)), h('span', { class: 'muted small' }, ' bound at the same paths')),
      h('dt', {}, 'Connection'), h('dd', {}, cur?.job_id ? `Slurm job ${cur.job_id} (account ${c.project})` : h('span', { class: 'muted' }, 'no Slurm job yet'), cur?.log_path ? h('div', { class: 'small' }, 'Log on HFS: ', h('code', {}, cur.log_path)) : null),
      h('dt', {}, 'Created'), h('dd', {}, when(c.created_at))));
  };

  const paintTasks = () => {
    if (!tasks.length) { fill(tasksBox, h('h2', { id: 'tasks-h' }, 'Tasks'), empty('No tasks yet: start the container to run one.')); return; }
    const rows = tasks.map((t) => h('tr', { 'data-task': t.id, 'data-state': t.state, class: t.id === selected ? 'selected' : '' },
      h('td', { 'data-label': 'Task' }, h('code', { class: 'small', title: t.id }, shortID(t.id)), t.job_id ? h('span', { class: 'sub' }, `job ${t.job_id}`) : null),
      h('td', { 'data-label': 'Submitted', class: 'time' }, whenShort(t.submitted_at)),
      h('td', { 'data-label': 'Eligible', class: 'time' }, whenShort(t.eligible_at || (t.state === 'PENDING' ? t.begin : null))),
      h('td', { 'data-label': 'Start', class: 'time' }, whenShort(t.started_at)),
      h('td', { 'data-label': 'End', class: 'time' }, whenShort(t.ended_at)),
      h('td', { 'data-label': 'State' }, badge(t.state)),
      h('td', { 'data-label': 'Reason' }, t.reason && t.reason !== 'None' ? t.reason : '—'),
      h('td', { 'data-label': 'Exit code', class: 'num' }, t.exit_code ?? '—'),
      h('td', { 'data-label': 'GPU hours', class: 'num' }, num(t.gpu_hours, 4)),
      h('td', { 'data-label': 'Cost', class: 'num' }, t.accounted || t.cost ? money(t.cost, t.currency) : '—'),
      h('td', { 'data-label': 'Log' }, h('button', { type: 'button', class: 'btn small', 'aria-label': `Show the log of task ${t.id}`, onclick: () => { selected = t.id; paintTasks(); showLog(); logBox.scrollIntoView({ block: 'start' }); } }, t.id === selected ? 'Showing' : 'Log'))));
    fill(tasksBox, h('h2', { id: 'tasks-h' }, 'Tasks'), h('div', { class: 'table-wrap' }, h('table', { class: 'list tasks' },
      h('thead', {}, h('tr', {}, ['Task', 'Submitted', 'Eligible', 'Start', 'End', 'State', 'Reason', 'Exit code', 'GPU hours', 'Cost', 'Log'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows))), h('p', { class: 'muted small' }, `Times in ${zoneLabel(getClusterZone())}.`));
  };

  // The log panel: follow while the task may still write, else the tail and the download.
  let stopLog = null;
  let shownFor = '';
  let shownState = '';
  const showLog = () => {
    const t = tasks.find((x) => x.id === selected);
    if (!t) return;
    const following = !TERMINAL.has(t.state);
    if (shownFor === t.id && (following || shownState === `${t.state}:${t.log_sealed}`)) return;
    if (stopLog) { stopLog(); stopLog = null; }
    shownFor = t.id;
    shownState = following ? '' : `${t.state}:${t.log_sealed}`;
    const pre = h('pre', { class: 'log', id: 'log-text', tabindex: '0', 'aria-label': `Log of task ${t.id}`, 'aria-live': following ? 'polite' : 'off' });
    const status = h('p', { class: 'log-status', role: 'status' });
    const tools = h('div', { class: 'row' });
    fill(logBox, h('div', { class: 'row between' }, h('h2', { id: 'log-h' }, 'Log ', h('code', { class: 'small' }, t.id)), tools), status, pre);
    if (following) {
      const waiting = t.state === 'PENDING' || t.state === 'SUBMITTING';
      const live = () => { status.textContent = 'Following live…'; status.className = 'log-status live open'; };
      if (waiting) status.textContent = 'The task has not started yet; its log will appear here, live, as soon as it runs.';
      else live();
      let lines = 0;
      stopLog = subscribe(`/api/v1/tasks/${encodeURIComponent(t.id)}/log?follow=1`, {
        onStatus: (st, p) => { if (st === 'retrying') status.textContent = 'Reconnecting…'; if (st === 'closed') fill(status, problemBox(p)); if (st === 'open' && lines > 0) live(); },
        onEvent: (ev) => {
          if (ev.type === 'line') {
            let line = '';
            try { line = JSON.parse(ev.data).line; } catch { return; }
            if (lines === 0) live();
            const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
            pre.append(`${line.replace(/\n$/, '')}\n`);
            if (++lines > 5000) pre.firstChild?.remove();
            if (atBottom) pre.scrollTop = pre.scrollHeight;
            return true;
          }
          if (ev.type === 'end') {
            let d = {};
            try { d = JSON.parse(ev.data); } catch { /* keep the defaults */ }
            status.className = 'log-status';
            status.textContent = `Task ended: ${d.state || ''}${d.exit_code !== undefined && d.exit_code !== null ? `, exit code ${d.exit_code}` : ''}. Waiting for the sealed copy…`;
            waitSealed(t.id, status);
            return false;
          }
          if (ev.type === 'error') { status.textContent = 'The log stream stopped; reconnecting…'; }
          return true;
        },
      });
      return;
    }
    pre.append(loading('Loading the log'));
    api.logTail(t.id, 1024).then((text) => { pre.textContent = text || '(empty log)'; pre.scrollTop = pre.scrollHeight; })
      .catch((err) => fill(pre, problemBox(err)));
    if (t.log_sealed) {
      status.textContent = 'Sealed in COS: the complete log can be downloaded.';
      tools.append(downloadButton(t.id));
    } else {
      status.textContent = 'The log is being sealed…';
      waitSealed(t.id, status);
    }
  };

  // waitSealed polls the task until its log is sealed (or gives up with a message).
  const waitSealed = async (taskID, status) => {
    for (let i = 0; i < 30 && !closed; i++) {
      await new Promise((r) => setTimeout(r, i < 5 ? 1000 : 3000));
      if (closed || shownFor !== taskID) return;
      try {
        const t = await api.task(taskID);
        tasks = tasks.map((x) => (x.id === t.id ? t : x));
        if (t.log_sealed) { paintTasks(); shownState = ''; showLog(); return; }
      } catch { /* retry */ }
    }
    if (!closed && shownFor === taskID) status.textContent = 'The sealed copy is not ready yet; the tail above is what the gateway has. Refresh later to download it.';
  };

  const downloadButton = (taskID) => {
    const out = h('span', { class: 'download-out' });
    const btn = h('button', { type: 'button', class: 'btn primary small', id: 'download-log' }, 'Download log');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const { url, expires_at: exp } = await api.logDownload(taskID);
        const a = h('a', { href: url, id: 'download-link', target: '_blank', rel: 'noopener noreferrer', download: `${taskID}.log` }, 'Open the log');
        fill(out, a, h('span', { class: 'muted small' }, ` (link valid until ${when(exp)})`));
        a.click();
      } catch (err) { toast(`Download failed: ${err.title}${err.detail ? ` — ${err.detail}` : ''}`, 'error'); } finally { btn.disabled = false; }
    });
    return h('span', { class: 'row' }, btn, out);
  };

  const paintScript = async () => {
    try {
      const text = await api.script(id);
      const pre = h('pre', { class: 'code script', id: 'script', tabindex: '0', 'aria-label': 'sbatch script' }, text);
      const copy = h('button', { type: 'button', class: 'btn small', id: 'copy-script' }, 'Copy');
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(text); copy.textContent = 'Copied'; } catch {
          const range = document.createRange(); range.selectNodeContents(pre);
          getSelection().removeAllRanges(); getSelection().addRange(range);
          copy.textContent = document.execCommand('copy') ? 'Copied' : 'Selected: press Ctrl+C';
        }
        setTimeout(() => { copy.textContent = 'Copy'; }, 2500);
      });
      const save = h('button', { type: 'button', class: 'btn small' }, 'Download');
      save.addEventListener('click', () => {
        const url = URL.createObjectURL(new Blob([text], { type: 'text/x-shellscript' }));
        const a = h('a', { href: url, download: `${c?.name || id}.sbatch` });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      });
      fill(scriptBox, h('div', { class: 'row between' }, h('h2', { id: 'script-h' }, 'sbatch script'), h('div', { class: 'row' }, copy, save)),
        h('p', { class: 'muted small' }, 'Exactly what the next start submits (rendered now, with a fresh task id); you can also submit it yourself with sbatch.'), pre);
    } catch (err) {
      fill(scriptBox, h('h2', { id: 'script-h' }, 'sbatch script'), problemBox(err, { retry: paintScript }));
    }
  };

  async function reload() {
    try {
      [c, tasks] = await Promise.all([api.container(id), api.tasks(id)]);
      if (closed) return;
      if (!selected && tasks.length) selected = c.current_task || tasks[0].id;
      paintHead(); paintConfig(); paintTasks(); showLog();
    } catch (err) {
      if (closed) return;
      if (err.status === 404) fill(root, h('h1', {}, 'Container not found'), h('p', {}, 'It may have been deleted, or you may not see it.'), h('a', { href: '#/containers' }, 'Back to containers'));
      else fill(config, h('h2', {}, 'Configuration'), problemBox(err, { retry: reload }));
    }
  }

  cleanups.push(subscribe('/api/v1/events', {
    onEvent: (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch { return; }
      if (ev.type === 'reset') { reload(); return; }
      if (d.container_id !== id || !c) return;
      if (ev.type === 'container' && d.container) {
        if (d.deleted) { toast(`“${c.name}” was deleted.`); ctx.go('#/containers'); return; }
        c = d.container;
        if (c.current_task && !tasks.some((t) => t.id === c.current_task)) { selected = c.current_task; reload(); return; }
      }
      if (ev.type === 'task' && d.task) {
        const i = tasks.findIndex((t) => t.id === d.task.id);
        if (i >= 0) tasks[i] = d.task; else tasks.unshift(d.task);
      }
      paintHead(); paintConfig(); paintTasks(); showLog();
    },
  }));
  reload();
  paintScript();
  return () => { closed = true; cleanups.forEach((f) => f()); if (stopLog) stopLog(); };
}
