// api.js: the console's only door to the gateway. Every failure becomes a Problem (RFC 9457),
// so pages can show the title, the detail, the request id and each field error where it belongs.

const TOKEN_KEY = 'batchgate.token';

/** Problem is an error answered by the gateway (or a network failure dressed as one). */
export class Problem extends Error {
  constructor({ status = 0, type = '', title = 'Request failed', detail = '', errors = [], request_id = '' } = {}) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.errors = Array.isArray(errors) ? errors : [];
    this.requestId = request_id;
  }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

// onUnauthorized is called when the gateway refuses the token (the app signs out).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** headers returns the request headers with the bearer token. */
export function authHeaders(extra = {}) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

/** problemFrom turns a failed response into a Problem, whatever its body. */
export async function problemFrom(resp) {
  let body = null;
  const ctype = resp.headers.get('Content-Type') || '';
  try {
    if (ctype.includes('json')) body = await resp.json();
    else {
      const text = (await resp.text()).trim();
      body = { detail: text.slice(0, 300) };
    }
  } catch { body = {}; }
  return new Problem({ status: resp.status, title: body.title || `HTTP ${resp.status} ${resp.statusText}`.trim(), ...body, status: resp.status });
}

/**
 * request calls the API. opts: method, body (JSON-encoded), accept ('json' | 'text' | 'blob'),
 * headers, idempotent (adds an Idempotency-Key so a retried click never acts twice), signal.
 * It resolves to the decoded answer (null for 204) or rejects with a Problem.
 */
export async function request(path, opts = {}) {
  const { method = 'GET', body, accept = 'json', headers = {}, idempotent = false, signal } = opts;
  const h = authHeaders(headers);
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (accept === 'json') h.Accept = 'application/json, application/problem+json';
  if (idempotent) h['Idempotency-Key'] = newKey();
  let resp;
  try {
    resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new Problem({ title: 'The gateway cannot be reached', detail: 'Check your connection and retry.' });
  }
  if (!resp.ok) {
    const p = await problemFrom(resp);
    if (resp.status === 401) onUnauthorized(p);
    throw p;
  }
  if (resp.status === 204) return null;
  if (accept === 'text') return resp.text();
  if (accept === 'blob') return resp.blob();
  return resp.json();
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const enc = encodeURIComponent;

/** The API, one function per route the console uses. */
export const api = {
  cluster: () => request('/api/v1/cluster'),
  flavors: () => request('/api/v1/flavors').then((r) => r.items || []),
  images: () => request('/api/v1/images').then((r) => r.items || []),
  estimate: (flavor) => request(`/api/v1/estimate?flavor=${enc(flavor)}`),
  containers: () => listAll('/api/v1/containers?limit=500'),
  container: (id) => request(`/api/v1/containers/${enc(id)}`),
  create: (spec) => request('/api/v1/containers', { method: 'POST', body: spec, idempotent: true }),
  update: (id, spec) => request(`/api/v1/containers/${enc(id)}`, { method: 'PUT', body: spec }),
  remove: (id) => request(`/api/v1/containers/${enc(id)}`, { method: 'DELETE' }),
  start: (id) => request(`/api/v1/containers/${enc(id)}/start`, { method: 'POST', idempotent: true }),
  stop: (id) => request(`/api/v1/containers/${enc(id)}/stop`, { method: 'POST' }),
  refresh: (id) => request(`/api/v1/containers/${enc(id)}/refresh`, { method: 'POST' }),
  script: (id) => request(`/api/v1/containers/${enc(id)}/script`, { accept: 'text' }),
  tasks: (id) => request(`/api/v1/containers/${enc(id)}/tasks`).then((r) => r.items || []),
  task: (id) => request(`/api/v1/tasks/${enc(id)}`),
  history: (id) => request(`/api/v1/tasks/${enc(id)}/history`).then((r) => r.items || []),
  logTail: (id, kib = 256) => request(`/api/v1/tasks/${enc(id)}/log?tail=${kib}`, { accept: 'text' }),
  logDownload: (id) => request(`/api/v1/tasks/${enc(id)}/log/download`),
  usage: (params) => request(`/api/v1/usage?${new URLSearchParams(params)}`),
  usageCSV: (params) => request(`/api/v1/usage?${new URLSearchParams(params)}`, { accept: 'blob', headers: { Accept: 'text/csv' } }),
};

async function listAll(first) {
  const items = [];
  let path = first;
  for (let i = 0; i < 20 && path; i++) {
    const page = await request(path);
    items.push(...(page.items || []));
    path = page.next_cursor ? `${first}&cursor=${enc(page.next_cursor)}` : '';
  }
  return items;
}
