// ui.js: small DOM and formatting helpers shared by the pages. Text always goes in as text
// nodes, never as HTML, so nothing from the API can inject markup.

/** h builds an element: h('button', {class: 'x', onclick: fn}, 'text', child...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(tag === 'svg' || attrs.svg ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false || k === 'svg') continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') { el[k] = !!v; if (v && !(k in el)) el.setAttribute(k, ''); }
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** s builds an SVG element. */
export function s(tag, attrs = {}, ...children) { return h(tag, { ...attrs, svg: true }, ...children); }

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** clear empties el and appends children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** loading is the placeholder shown while a request is in flight. */
export function loading(what = 'Loading') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `${what}…`);
}

/** empty is the placeholder for a list with nothing in it. */
export function empty(text, ...actions) {
  return h('div', { class: 'empty' }, h('p', {}, text), ...actions);
}

/** problemBox shows a Problem (or any error) in full: title, detail, field errors, request id. */
export function problemBox(err, { retry } = {}) {
  const p = err || {};
  return h('div', { class: 'problem', role: 'alert' },
    h('strong', {}, p.title || p.message || 'Something went wrong'),
    p.detail ? h('p', {}, p.detail) : null,
    p.errors && p.errors.length ? h('ul', {}, p.errors.map((e) => h('li', {}, h('code', {}, e.field), ' ', e.detail))) : null,
    p.requestId ? h('p', { class: 'muted small' }, `Request id: ${p.requestId}`) : null,
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry') : null);
}

/**
 * showFieldErrors puts each of a problem's field errors next to its field: the element with
 * data-field equal to the error's field (or its prefix, e.g. "env[0].name" → "env[0].name" then
 * "env"). It returns the errors that had no field on the page.
 */
export function showFieldErrors(form, problem) {
  clearFieldErrors(form);
  const rest = [];
  let first = null;
  for (const e of problem.errors || []) {
    let slot = null;
    for (let f = e.field; f && !slot; f = f.includes('.') ? f.slice(0, f.lastIndexOf('.')) : (f.includes('[') ? f.slice(0, f.indexOf('[')) : '')) {
      slot = form.querySelector(`[data-error-for="${CSS.escape(f)}"]`);
    }
    if (!slot) { rest.push(e); continue; }
    slot.append(h('span', {}, e.detail));
    slot.hidden = false;
    const input = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`) || form.querySelector(`#${CSS.escape(slot.dataset.errorFor.replace(/[.[\]]/g, '-'))}`);
    if (input) input.setAttribute('aria-invalid', 'true');
    if (!first) first = input || slot;
  }
  if (first && first.focus) first.focus();
  return rest;
}

/** clearAsEdited removes a field's error as soon as the user edits that field. */
export function clearAsEdited(form) {
  const handler = (ev) => {
    const el = ev.target.closest('[data-field]');
    if (!el) return;
    const field = el.dataset.field;
    el.removeAttribute('aria-invalid');
    form.querySelectorAll(`[data-error-for="${CSS.escape(field)}"]`).forEach((slot) => { slot.replaceChildren(); slot.hidden = true; });
  };
  form.addEventListener('input', handler);
  form.addEventListener('change', handler);
}

export function clearFieldErrors(form) {
  form.querySelectorAll('[data-error-for]').forEach((el) => { el.replaceChildren(); el.hidden = true; });
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
}

/** fieldError is the slot where a field's error appears (aria-live, linked by id). */
export function fieldError(field) {
  return h('p', { class: 'field-error', id: `err-${field.replace(/[.[\]]/g, '-')}`, 'data-error-for': field, 'aria-live': 'polite', hidden: true });
}

/** toast shows a short message at the bottom of the screen. kind: 'ok' | 'error'. */
export function toast(text, kind = 'ok') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

/** The cluster's time zone, set once the console knows it (from /api/v1/cluster). */
let clusterZone = 'UTC';
export function setClusterZone(z) { clusterZone = z || 'UTC'; }
export function getClusterZone() { return clusterZone; }
export const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const fmtCache = new Map();
function formatter(zone, opts) {
  const key = zone + JSON.stringify(opts);
  if (!fmtCache.has(key)) fmtCache.set(key, new Intl.DateTimeFormat(undefined, { timeZone: zone, ...opts }));
  return fmtCache.get(key);
}

const DT = { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };

/** when formats a time in the cluster's zone; '—' for none. */
export function when(t, zone = clusterZone) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '—';
  return formatter(zone, DT).format(d);
}

const SHORT = { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };

/** whenShort formats a time compactly for tables (no year), in the cluster's zone. */
export function whenShort(t, zone = clusterZone) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '—';
  return formatter(zone, SHORT).format(d);
}

/** whenBoth shows a time in the cluster's zone, and the browser's when that differs. */
export function whenBoth(t) {
  if (!t) return '—';
  const main = `${when(t)} ${zoneLabel(clusterZone)}`;
  if (browserZone === clusterZone) return main;
  return `${main} (${when(t, browserZone)} your time)`;
}

export function zoneLabel(z) { return z === 'UTC' || z === 'Etc/UTC' ? 'UTC' : z; }

/** duration formats seconds as 1h 02m 03s. */
export function duration(sec) {
  if (sec === null || sec === undefined) return '—';
  sec = Math.max(0, Math.round(sec));
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  if (hh) return `${hh}h ${String(mm).padStart(2, '0')}m`;
  if (mm) return `${mm}m ${String(ss).padStart(2, '0')}s`;
  return `${ss}s`;
}

export function money(x, currency = 'USD') {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '—';
  try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD' }).format(x); } catch { return `${Number(x).toFixed(2)} ${currency}`; }
}

export function num(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '—';
  return Number(x).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function bytes(n) {
  if (!n) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

/** badge shows a container or task state with its colour. */
export function badge(state) {
  const cls = String(state || '').toLowerCase().replace(/_/g, '-');
  return h('span', { class: `badge state-${cls}` }, state || '—');
}

/** describeFlavor: "1 GPU · 1 CPU · 2 GB · $2.50/h". */
export function describeFlavor(f) {
  if (!f) return '';
  const parts = [];
  parts.push(f.gpus ? `${f.gpus} GPU${f.gpus > 1 ? 's' : ''}${f.gpu_type ? ` (${f.gpu_type})` : ''}` : 'no GPU');
  parts.push(`${f.cpus} CPU${f.cpus > 1 ? 's' : ''}`);
  if (f.memory_mb) parts.push(`${num(f.memory_mb / 1000, 1)} GB`);
  parts.push(`${money(f.price_per_hour, f.currency)}/h`);
  return parts.join(' · ');
}

/** scheduleText describes a container's schedule. */
export function scheduleText(sch) {
  if (!sch || sch.kind !== 'at' || !sch.at) return 'Manual';
  return `At ${when(sch.at)} ${zoneLabel(clusterZone)}`;
}

/** confirmDialog asks a yes/no question in a native <dialog>, resolving to true or false. */
export function confirmDialog(question, yes = 'OK') {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-q' },
      h('form', { method: 'dialog' },
        h('p', { id: 'dlg-q' }, question),
        h('div', { class: 'row end' },
          h('button', { class: 'btn', value: 'no' }, 'Cancel'),
          h('button', { class: 'btn danger', value: 'yes' }, yes))));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'yes'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
