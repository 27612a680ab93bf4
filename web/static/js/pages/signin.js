// signin.js: sign in with an API token. The token is kept in sessionStorage only: it is gone
// when the browser tab closes, and never written to a cookie or to localStorage.

import { api, setToken, clearToken } from '../api.js';
import { h, fieldError, showFieldErrors, clearFieldErrors, clearAsEdited, problemBox, fill, setClusterZone } from '../ui.js';

export function render(root, ctx) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'data-field': 'token', 'aria-describedby': 'token-help err-token' });
  const status = h('div', { class: 'form-status' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Use an API token from your administrator (batchgate admin token create).'),
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'Token'),
      input,
      h('p', { id: 'token-help', class: 'help' }, 'Kept for this browser tab only.'),
      fieldError('token')),
    status,
    h('div', { class: 'row end' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const t = input.value.trim();
    if (!t) { showFieldErrors(form, { errors: [{ field: 'token', detail: 'Enter your token.' }] }); return; }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    setToken(t);
    try {
      ctx.cluster = await api.cluster();
      setClusterZone(ctx.cluster.timezone);
      ctx.go('#/containers');
    } catch (err) {
      clearToken();
      if (err.status === 401) showFieldErrors(form, { errors: [{ field: 'token', detail: 'This token is not valid (or has expired or been revoked).' }] });
      else fill(status, problemBox(err));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  clearAsEdited(form);
  root.append(h('div', { class: 'center' }, form));
  input.focus();
}
