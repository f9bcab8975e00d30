// Staff credentials: the counter desk's sign-in credentials, one per member of staff, valid at the
// desks of the listed terminal groups. Viewers and operators see the list (never a value);
// operators issue one (the value is shown once, to hand to the member of staff) and revoke it —
// the desk refuses it at its next action. Server routes: server/src/routes/staff.ts.

import { ApiError, get, post, del } from '../api.js';
import { h, replace, section, table, notify, field, isoTime, badge } from '../dom.js';

const GROUP = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export async function render(main, _params, { can }) {
  const body = h('div');
  const issued = h('div', { 'aria-live': 'polite' });
  const operate = can('operate');
  let form = null;
  if (operate) {
    const staffId = h('input', { type: 'text', name: 'staffId', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}' });
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
    const groups = h('input', { type: 'text', name: 'groups', required: true, autocomplete: 'off', spellcheck: 'false' });
    form = h('form', { class: 'inline', 'aria-label': 'Issue a staff credential', onSubmit: async (e) => {
      e.preventDefault();
      const list = [...new Set(groups.value.split(/[\s,]+/).filter((g) => g.length > 0))];
      if (list.length === 0 || !list.every((g) => GROUP.test(g))) {
        notify('Groups: one or more terminal group ids (a-z, 0-9, - and _), separated by commas.', 'error');
        groups.focus();
        return;
      }
      try {
        const r = await post('/api/v1/staff-credentials', { staffId: staffId.value.trim(), name: name.value.trim(), groups: list });
        replace(issued, h('div', { class: 'secret', role: 'alert' },
          h('p', { text: `Credential for ${r.name} (${r.staffId}), valid at the desks of ${r.groups.join(', ')} — give it to them now, it is not shown again:` }),
          h('code', { class: 'token-value', id: 'staff-credential-value', text: r.credential })));
        staffId.value = '';
        name.value = '';
        groups.value = '';
        await draw();
      } catch (err) { notify(`Not issued: ${err.message}`, 'error'); }
    } },
    field('Staff ID', staffId, 'Their own id, e.g. the employee number; named in the audit log.'),
    field('Name', name),
    field('Terminal groups', groups, 'Group ids whose desks accept it, separated by commas.'),
    h('button', { type: 'submit', class: 'primary', text: 'Issue credential' }));
  }
  replace(main, h('h1', { text: 'Staff credentials' }),
    h('p', { text: 'Each member of staff signs in at a counter desk with their own credential; every desk action is audited with their staff ID. Revoking a credential stops it at the next desk action.' }),
    form === null ? null : section('Issue a credential', form, issued),
    section('Credentials', body));

  async function draw() {
    let r;
    try {
      r = await get('/api/v1/staff-credentials');
    } catch (e) {
      replace(body, h('p', { class: 'error', text: e instanceof ApiError && e.status === 403 ? 'Your role cannot see staff credentials.' : `Could not load the list: ${e.message}` }));
      return;
    }
    replace(body, table('!Staff credentials', [
      { label: 'Staff ID', cell: (c) => c.staffId },
      { label: 'Name', cell: (c) => c.name },
      { label: 'Groups', cell: (c) => c.groups.join(', ') },
      { label: 'Issued', cell: (c) => `${isoTime(c.createdAt)} by ${c.createdBy}` },
      { label: 'State', cell: (c) => (c.revokedAt ? badge(`revoked ${isoTime(c.revokedAt)}`, 'muted') : badge('active', 'ok')) },
      ...(operate ? [{ label: 'Action', cell: (c) => (c.revokedAt ? '' : h('button', { type: 'button', class: 'small danger', 'aria-label': `Revoke the credential of ${c.name} (${c.staffId})`, onClick: async () => {
        if (!confirm(`Revoke the credential of ${c.name} (${c.staffId})? Their desk sign-in stops at the next action.`)) return;
        try { await del(`/api/v1/staff-credentials/${encodeURIComponent(c.id)}`); notify(`Revoked the credential of ${c.name}.`, 'ok'); await draw(); } catch (e) { notify(`Not revoked: ${e.message}`, 'error'); }
      }, text: 'Revoke' })) }] : []),
    ], r.credentials, 'No staff credentials issued yet.'));
  }
  await draw();
}
