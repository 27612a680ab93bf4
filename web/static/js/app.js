// app.js: the console's shell: sign-in state, the hash router and the top bar. Each page is a
// module exporting render(root, ctx, params) that returns a cleanup function (or nothing).

import { api, token, clearToken, setUnauthorizedHandler } from './api.js';
import { h, fill, loading, problemBox, setClusterZone, toast } from './ui.js';
import * as signin from './pages/signin.js';
import * as containers from './pages/containers.js';
import * as create from './pages/create.js';
import * as detail from './pages/detail.js';
import * as monitoring from './pages/monitoring.js';

// routes: pattern → page. The first match wins.
const routes = [
  [/^#\/signin$/, signin, 'signin'],
  [/^#\/containers$/, containers, 'containers'],
  [/^#\/new$/, create, 'new'],
  [/^#\/containers\/([A-Za-z0-9_-]+)$/, detail, 'containers'],
  [/^#\/monitoring$/, monitoring, 'monitoring'],
];

const ctx = { cluster: null, go };
let cleanup = null;

/** go navigates to a hash route. */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function ensureCluster() {
  if (ctx.cluster) return ctx.cluster;
  ctx.cluster = await api.cluster();
  setClusterZone(ctx.cluster.timezone);
  return ctx.cluster;
}

function showWho() {
  const who = document.getElementById('who');
  const nav = document.getElementById('nav');
  if (!ctx.cluster) { who.hidden = true; nav.hidden = true; return; }
  const c = ctx.cluster;
  const roles = c.site_admin ? 'site admin' : (c.projects || []).map((p) => `${p.name} (${p.role})`).join(', ');
  fill(who,
    h('span', { class: 'user', title: roles }, c.user, roles ? h('small', {}, roles) : null),
    h('button', { type: 'button', class: 'btn ghost', onclick: signOut }, 'Sign out'));
  who.hidden = false;
  nav.hidden = false;
}

function signOut() {
  clearToken();
  ctx.cluster = null;
  showWho();
  go('#/signin');
}

async function route() {
  const root = document.getElementById('main');
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not block navigation */ } cleanup = null; }
  let hash = location.hash || '#/containers';
  if (!token() && hash !== '#/signin') { location.replace('#/signin'); return; }
  if (token() && hash === '#/signin') { location.replace('#/containers'); return; }
  const match = routes.map(([re, page, nav]) => [hash.match(re), page, nav]).find(([m]) => m);
  if (!match) { fill(root, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/containers' }, 'Back to containers'))); return; }
  const [m, page, nav] = match;
  document.querySelectorAll('[data-nav]').forEach((a) => a.toggleAttribute('aria-current', a.dataset.nav === nav));
  if (page !== signin) {
    if (!ctx.cluster) fill(root, loading('Connecting'));
    try { await ensureCluster(); showWho(); } catch (err) {
      if (err.status === 401) return; // the unauthorized handler has moved us to sign-in
      fill(root, problemBox(err, { retry: route }));
      return;
    }
  }
  root.replaceChildren();
  const ret = page.render(root, ctx, m.slice(1));
  cleanup = typeof ret === 'function' ? ret : null;
  document.title = `${root.querySelector('h1')?.textContent || 'batchgate'} · batchgate`;
  root.focus({ preventScroll: true });
}

setUnauthorizedHandler(() => {
  if (!token() || location.hash === '#/signin') return; // the sign-in form reports it itself
  clearToken();
  ctx.cluster = null;
  showWho();
  toast('Your token was refused: sign in again.', 'error');
  go('#/signin');
});

window.addEventListener('hashchange', route);
route();
