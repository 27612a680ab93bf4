// monitoring.js: usage from the gateway's ledger of sacct records: totals, GPU hours by day (a
// chart), by user for admins (table and chart), own usage for members, and a CSV export. If the
// gateway has no usage endpoint (404), the page says so plainly instead of failing.

import { api } from '../api.js';
import { h, s, fill, loading, empty, problemBox, num, money, toast, getClusterZone } from '../ui.js';

const RANGES = [[7, 'Last 7 days'], [30, 'Last 30 days'], [90, 'Last 90 days']];

/** pointKey is the label of a series bucket (a day, week, month, user or project). */
export function pointKey(p) {
  return p && p.key !== undefined && p.key !== null && p.key !== '' ? String(p.key) : '?';
}

/** metric reads one figure of a usage totals or bucket object (null when absent). */
export function metric(o, name) {
  return o && typeof o[name] === 'number' ? o[name] : null;
}

function normalise(r) {
  return { totals: r.totals || {}, series: Array.isArray(r.series) ? r.series : [], currency: r.currency || 'USD' };
}

function isAdminOf(cluster, project) {
  if (cluster.site_admin) return true;
  return (cluster.projects || []).some((p) => p.name === project && p.role === 'admin') ||
    (!project && (cluster.projects || []).some((p) => p.role === 'admin'));
}

export function render(root, ctx) {
  const cluster = ctx.cluster || {};
  const projects = (cluster.projects || []).map((p) => p.name);
  const projectSel = h('select', { id: 'usage-project' },
    cluster.site_admin || projects.length > 1 ? h('option', { value: '' }, cluster.site_admin ? 'All projects' : 'All my projects') : null,
    projects.map((p) => h('option', { value: p }, p)));
  const rangeSel = h('select', { id: 'usage-range' }, RANGES.map(([d, l]) => h('option', { value: d, selected: d === 30 }, l)));
  const csv = h('button', { type: 'button', class: 'btn', id: 'usage-csv' }, 'Export CSV');
  const body = h('div', { id: 'usage-body' }, loading('Loading usage'));
  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Monitoring')),
    h('div', { class: 'toolbar' },
      h('label', { for: 'usage-project' }, 'Project'), projectSel,
      h('label', { for: 'usage-range' }, 'Period'), rangeSel, csv),
    body);

  let closed = false;
  let dateOnly = false;
  const params = (groupBy) => {
    const days = Number(rangeSel.value);
    const to = new Date();
    const from = new Date(to.getTime() - days * 86400e3);
    const fmt = (d) => (dateOnly ? d.toISOString().slice(0, 10) : d.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const p = { from: fmt(from), to: fmt(to), group_by: groupBy };
    if (projectSel.value) p.project = projectSel.value;
    if (!isAdminOf(cluster, projectSel.value)) p.user = cluster.user;
    return p;
  };
  // fetchUsage asks once more with plain dates if the gateway wants dates rather than times.
  const fetchUsage = async (groupBy) => {
    try { return normalise(await api.usage(params(groupBy))); } catch (err) {
      if (!dateOnly && (err.status === 400 || err.status === 422) && (err.errors || []).some((e) => e.field === 'from' || e.field === 'to')) {
        dateOnly = true;
        return normalise(await api.usage(params(groupBy)));
      }
      throw err;
    }
  };

  const load = async () => {
    fill(body, loading('Loading usage'));
    const admin = isAdminOf(cluster, projectSel.value);
    try {
      const [byDay, byUser] = await Promise.all([fetchUsage('day'), admin ? fetchUsage('user') : null]);
      if (closed) return;
      paint(byDay, byUser, admin);
    } catch (err) {
      if (closed) return;
      if (err.status === 404) {
        csv.disabled = true;
        const note = h('div', { class: 'notice', 'data-state': 'unavailable', role: 'status' },
          h('strong', {}, 'Usage from sacct is not available on this gateway'),
          h('p', {}, 'GET /api/v1/usage answers 404, so there is no project ledger or CSV export yet. The figures below are summed from the gateway’s own task records, for the containers you can see.'));
        fill(body, note, loading('Summing task records'));
        try {
          const local = await fromTasks(projectSel.value, Number(rangeSel.value));
          if (closed) return;
          paint(local.byDay, local.byUser, admin);
          body.prepend(note);
        } catch (err2) { if (!closed) fill(body, note, problemBox(err2, { retry: load })); }
        return;
      }
      fill(body, problemBox(err, { retry: load }));
    }
  };

  const paint = (byDay, byUser, admin) => {
    const t = byDay.totals;
    const cur = byDay.currency;
    const cards = h('div', { class: 'cards' },
      card('GPU hours', hours(metric(t, 'gpu_hours')), 'gpu-hours'),
      card('GPU count', num(metric(t, 'gpus'), 0), 'gpu-count'),
      card('CPU hours', hours(metric(t, 'cpu_hours')), 'cpu-hours'),
      card('Cost', money(metric(t, 'cost'), cur), 'cost'),
      card('Jobs', num(metric(t, 'jobs'), 0), 'jobs'));
    const days = everyDay(byDay.series, Number(rangeSel.value));
    const parts = [
      h('h2', { class: 'sr-only' }, 'Totals'),
      h('p', { class: 'muted' }, admin ? `Usage of ${projectSel.value || (cluster.site_admin ? 'all projects' : 'your projects')}, every user.` : `Your own usage (${cluster.user}).`),
      cards,
      h('section', { class: 'card', 'aria-labelledby': 'by-day' }, h('h2', { id: 'by-day' }, 'GPU hours by day'),
        byDay.series.length ? barChart(days, 'GPU hours by day', 'vertical') : empty('No usage in this period.'),
        byDay.series.length ? dataTable(['Day', 'GPU hours', 'GPU count', 'CPU hours', 'Cost'], byDay.series.map((p) => [pointKey(p).slice(0, 10), hours(metric(p, 'gpu_hours')), num(metric(p, 'gpus'), 0), hours(metric(p, 'cpu_hours')), money(metric(p, 'cost'), cur)]), 'Usage by day', true) : null),
    ];
    if (admin && byUser) {
      const users = byUser.series.map((p) => ({ label: pointKey(p), value: metric(p, 'gpu_hours') || 0 })).sort((a, b) => b.value - a.value);
      parts.push(h('section', { class: 'card', 'aria-labelledby': 'by-user' }, h('h2', { id: 'by-user' }, 'By user'),
        users.length ? barChart(users, 'GPU hours by user', 'horizontal') : empty('No usage in this period.'),
        users.length ? dataTable(['User', 'GPU hours', 'GPU count', 'CPU hours', 'Cost', 'Jobs'], byUser.series.map((p) => [pointKey(p), hours(metric(p, 'gpu_hours')), num(metric(p, 'gpus'), 0), hours(metric(p, 'cpu_hours')), money(metric(p, 'cost'), cur), num(metric(p, 'jobs'), 0)]), 'Usage by user') : null));
    }
    fill(body, parts);
  };

  csv.addEventListener('click', async () => {
    csv.disabled = true;
    try {
      const blob = await api.usageCSV(params(isAdminOf(cluster, projectSel.value) ? 'user' : 'day'));
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `usage-${projectSel.value || 'all'}-${new Date().toISOString().slice(0, 10)}.csv` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { toast(`CSV export failed: ${err.title}${err.detail ? ` — ${err.detail}` : ''}`, 'error'); } finally { csv.disabled = false; }
  });
  projectSel.addEventListener('change', load);
  rangeSel.addEventListener('change', load);
  load();
  return () => { closed = true; };
}

/**
 * fromTasks sums the accounted tasks of the containers the caller can see, by the day they ended
 * and by owner: the fallback when the gateway has no usage ledger.
 */
async function fromTasks(project, days) {
  const since = Date.now() - days * 86400e3;
  const containers = (await api.containers()).filter((c) => !project || c.project === project);
  const lists = await Promise.all(containers.map((c) => api.tasks(c.id)));
  const tasks = lists.flat().filter((t) => t.accounted && t.ended_at && new Date(t.ended_at).getTime() >= since);
  const add = (acc, t) => {
    acc.gpu_hours += t.gpu_hours || 0; acc.cpu_hours += t.cpu_hours || 0; acc.cost += t.cost || 0; acc.jobs += 1;
    acc.gpus += t.gpus || 0;
    return acc;
  };
  // The same shape as the usage API's totals and buckets.
  const zero = () => ({ gpu_hours: 0, cpu_hours: 0, cost: 0, jobs: 0, gpus: 0 });
  const group = (keyOf) => {
    const m = new Map();
    tasks.forEach((t) => { const k = keyOf(t); m.set(k, add(m.get(k) || { ...zero(), key: k }, t)); });
    return [...m.values()].sort((a, b) => String(a.key).localeCompare(String(b.key)));
  };
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: getClusterZone(), year: 'numeric', month: '2-digit', day: '2-digit' });
  const totals = tasks.reduce(add, zero());
  const currency = tasks.find((t) => t.currency)?.currency || 'USD';
  return {
    byDay: { totals, series: group((t) => day.format(new Date(t.ended_at))), currency },
    byUser: { totals, series: group((t) => t.owner), currency },
  };
}

/**
 * everyDay lays the by-day series on every day of the period (cluster zone), so that days with
 * no usage show as gaps on a timeline rather than vanishing.
 */
export function everyDay(series, days) {
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: getClusterZone(), year: 'numeric', month: '2-digit', day: '2-digit' });
  const byKey = new Map(series.map((p) => [pointKey(p).slice(0, 10), metric(p, 'gpu_hours') || 0]));
  const out = [];
  const seen = new Set();
  for (let i = days - 1; i >= 0; i--) {
    const key = fmt.format(new Date(Date.now() - i * 86400e3));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ label: key, value: byKey.get(key) || 0 });
  }
  for (const [key, value] of byKey) if (!seen.has(key)) out.push({ label: key, value });
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

/** hours shows small figures with enough digits to be seen (a 10 s GPU job is 0.0028 h). */
export function hours(x) {
  if (x === null || x === undefined) return '—';
  return num(x, Math.abs(x) < 1 ? 4 : 2);
}

function card(label, value, key) {
  return h('div', { class: 'stat', 'data-stat': key }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value));
}

function dataTable(head, rows, caption, collapsed = false) {
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'list compact' }, h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, head.map((x, i) => h('th', { scope: 'col', class: i ? 'num' : '' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((x, i) => h('td', { class: i ? 'num' : '', 'data-label': head[i] }, x)))))));
  return collapsed ? h('details', {}, h('summary', {}, 'Show the figures as a table'), table) : table;
}

/** barChart draws bars as inline SVG: vertical (one per day) or horizontal (one per user). */
export function barChart(points, title, orientation) {
  const max = Math.max(...points.map((p) => p.value), 0) || 1;
  if (orientation === 'horizontal') {
    const rowH = 26, labelW = 110, W = 640, H = points.length * rowH + 8;
    return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart horizontal', role: 'img', 'aria-label': title, preserveAspectRatio: 'xMinYMin meet' },
      s('title', {}, title),
      points.map((p, i) => {
        const w = ((W - labelW - 70) * p.value) / max;
        const y = i * rowH + 4;
        return s('g', {},
          s('text', { x: labelW - 8, y: y + 16, 'text-anchor': 'end', class: 'axis' }, p.label),
          s('rect', { x: labelW, y, width: Math.max(w, 1), height: rowH - 8, rx: 3, class: 'bar' }, s('title', {}, `${p.label}: ${hours(p.value)} GPU hours`)),
          s('text', { x: labelW + w + 6, y: y + 16, class: 'value' }, hours(p.value)));
      }));
  }
  const W = 720, H = 220, padL = 44, padB = 36, padT = 12;
  const slot = (W - padL - 8) / points.length;
  const bw = Math.max(2, Math.min(36, slot * 0.7));
  const ticks = [0, 0.5, 1].map((f) => f * max);
  const every = Math.ceil(points.length / 10);
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title },
    s('title', {}, title),
    ticks.map((v) => {
      const y = padT + (H - padT - padB) * (1 - v / max);
      return s('g', {}, s('line', { x1: padL, x2: W - 4, y1: y, y2: y, class: 'grid' }), s('text', { x: padL - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, num(v, max < 1 ? 4 : 1)));
    }),
    points.map((p, i) => {
      const bh = ((H - padT - padB) * p.value) / max;
      const x = padL + i * slot + (slot - bw) / 2;
      return s('g', {},
        s('rect', { x, y: H - padB - bh, width: bw, height: Math.max(bh, p.value ? 1 : 0), rx: 2, class: 'bar' }, s('title', {}, `${p.label}: ${hours(p.value)} GPU hours`)),
        i % every === 0 ? s('text', { x: x + bw / 2, y: H - padB + 16, 'text-anchor': 'middle', class: 'axis' }, p.label.slice(5)) : null);
    }));
}
