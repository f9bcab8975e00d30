// Admin tokens (admin role only): list with role and state, create (the value is shown once),
// revoke.

import { get, post, del } from '../api.js';
import { h, replace, section, table, notify, field, isoTime, badge } from '../dom.js';

export async function render(main) {
  const body = h('div');
  const created = h('div', { 'aria-live': 'polite' });
  const name = h('input', { type: 'text', required: true, maxlength: 64, autocomplete: 'off' });
  const role = h('select', {}, ['viewer', 'operator', 'key-custodian', 'admin'].map((r) => h('option', { value: r, text: r })));
  const form = h('form', { class: 'inline', 'aria-label': 'Create an admin token', onSubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await post('/api/v1/admin/tokens', { name: name.value.trim(), role: role.value });
      replace(created, h('div', { class: 'secret', role: 'alert' }, h('p', { text: `Token for ${r.name} (${r.role}) — copy it now, it is not shown again:` }), h('code', { class: 'token-value', text: r.token })));
      name.value = '';
      draw();
    } catch (err) { notify(`Not created: ${err.message}`, 'error'); }
  } }, field('Name', name), field('Role', role), h('button', { type: 'submit', class: 'primary', text: 'Create token' }));
  replace(main, h('h1', { text: 'Admin tokens' }), section('New token', form, created), section('Tokens', body));
  async function draw() {
    const r = await get('/api/v1/admin/tokens');
    replace(body, table('!Admin tokens', [
      { label: 'Name', cell: (t) => t.name },
      { label: 'Role', cell: (t) => t.role },
      { label: 'Created', cell: (t) => isoTime(t.createdAt) },
      { label: 'State', cell: (t) => (t.revokedAt ? badge(`revoked ${isoTime(t.revokedAt)}`, 'muted') : badge('active', 'ok')) },
      { label: 'Action', cell: (t) => (t.revokedAt ? '' : h('button', { type: 'button', class: 'small danger', onClick: async () => {
        if (!confirm(`Revoke token ${t.name}? Anyone using it is signed out.`)) return;
        try { await del(`/api/v1/admin/tokens/${encodeURIComponent(t.id)}`); notify(`Revoked ${t.name}.`, 'ok'); draw(); } catch (e) { notify(`Not revoked: ${e.message}`, 'error'); }
      }, text: 'Revoke' })) },
    ], r.tokens));
  }
  await draw();
}
