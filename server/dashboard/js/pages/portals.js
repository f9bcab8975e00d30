// Portals (card login, docs/login.md): the department portals registered with the OneCard OpenID
// Provider, the terminal groups allowed to authenticate card holders, and the provider's signing
// keys. Viewers and operators see the lists; admins register and change portals (a confidential
// portal's client secret is shown once) and rotate the signing key; operators allow groups.
// Server routes: server/src/routes/relying-parties.ts.

import { ApiError, get, post, put } from '../api.js';
import { h, replace, section, table, notify, field, isoTime, badge } from '../dom.js';

const CLAIMS = [['name', 'Name'], ['id_number', 'ID number']];
const METHODS = [['terminal', 'Card + PIN at a terminal (acr high)'], ['ecard', 'E-card app (acr substantial)']];
const lines = (text) => [...new Set(text.split(/[\s,]+/).filter((u) => u.length > 0))];

function checks(legend, options, name) {
  const boxes = options.map(([value, label]) => ({ value, input: h('input', { type: 'checkbox', name, value }), label }));
  const el = h('fieldset', {}, h('legend', { text: legend }),
    ...boxes.map((b) => h('label', { class: 'check' }, b.input, ` ${b.label}`)));
  return { el, values: () => boxes.filter((b) => b.input.checked).map((b) => b.value), reset: () => boxes.forEach((b) => { b.input.checked = false; }) };
}

export async function render(main, _params, { can }) {
  const admin = can('admin');
  const operate = can('operate');
  const portals = h('div');
  const groups = h('div');
  const keys = h('div');
  const issued = h('div', { 'aria-live': 'polite' });
  let form = null;
  if (admin) {
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 80, autocomplete: 'off' });
    const redirects = h('textarea', { name: 'redirectUris', required: true, rows: 2, spellcheck: 'false' });
    const logouts = h('textarea', { name: 'postLogoutRedirectUris', rows: 2, spellcheck: 'false' });
    const claims = checks('Claims the portal may receive', CLAIMS, 'claims');
    const methods = checks('Ways to log in', METHODS, 'methods');
    const acr = h('select', { name: 'minAcr' }, h('option', { value: 'substantial', text: 'substantial (e-card or card + PIN)' }), h('option', { value: 'high', text: 'high (card + PIN only)' }));
    const pub = h('input', { type: 'checkbox', name: 'public' });
    form = h('form', { 'aria-label': 'Register a portal', onSubmit: async (e) => {
      e.preventDefault();
      if (methods.values().length === 0) { notify('Choose at least one way to log in.', 'error'); return; }
      try {
        const r = await post('/api/v1/relying-parties', {
          name: name.value.trim(), redirectUris: lines(redirects.value), postLogoutRedirectUris: lines(logouts.value),
          allowedClaims: claims.values(), methods: methods.values(), minAcr: acr.value, public: pub.checked,
        });
        replace(issued, h('div', { class: 'secret', role: 'alert' },
          h('p', { text: `Registered ${r.name}: client_id ${r.id}${r.clientSecret ? ' — give the portal its client secret now, it is not shown again:' : ' (public client: PKCE, no secret).'}` }),
          r.clientSecret ? h('code', { class: 'token-value', id: 'portal-secret-value', text: r.clientSecret }) : null));
        name.value = ''; redirects.value = ''; logouts.value = ''; claims.reset(); methods.reset(); pub.checked = false;
        await draw();
      } catch (err) { notify(`Not registered: ${err.message}`, 'error'); }
    } },
    field('Name', name, 'Shown to card holders on the login and consent pages.'),
    field('Redirect URIs', redirects, 'https, one host; one per line.'),
    field('Post-logout redirect URIs', logouts, 'Optional; one per line.'),
    claims.el, methods.el,
    field('Minimum assurance', acr),
    h('label', { class: 'check' }, pub, ' Public client (no secret; PKCE only)'),
    h('button', { type: 'submit', class: 'primary', text: 'Register portal' }));
  }
  replace(main, h('h1', { text: 'Portals' }),
    h('p', { text: 'Department portals log card holders in with the OneCard OpenID Provider (issuer /oidc). Each portal gets a pairwise subject and only the claims it is registered for; every login and every claim released is in the audit log.' }),
    form === null ? null : section('Register a portal', form, issued),
    section('Registered portals', portals),
    section('Terminal groups that may authenticate card holders', groups),
    section('Signing keys', keys));

  async function drawPortals() {
    let r;
    try { r = await get('/api/v1/relying-parties'); } catch (e) {
      replace(portals, h('p', { class: 'error', text: e instanceof ApiError && e.status === 403 ? 'Your role cannot see portals.' : `Could not load portals: ${e.message}` }));
      return;
    }
    replace(portals, table('!Registered portals', [
      { label: 'Name', cell: (p) => p.name },
      { label: 'client_id', cell: (p) => h('code', { text: p.id }) },
      { label: 'Redirect URIs', cell: (p) => p.redirectUris.join(' ') },
      { label: 'Claims', cell: (p) => (p.allowedClaims.length ? p.allowedClaims.join(', ') : 'sub only') },
      { label: 'Methods', cell: (p) => `${p.methods.join(', ')}; at least ${p.minAcr}` },
      { label: 'State', cell: (p) => badge(p.status, p.status === 'active' ? 'ok' : 'muted') },
      ...(admin ? [{ label: 'Action', cell: (p) => h('button', { type: 'button', class: 'small', 'aria-label': `${p.status === 'active' ? 'Disable' : 'Enable'} ${p.name}`, onClick: async () => {
        const status = p.status === 'active' ? 'disabled' : 'active';
        try {
          await put(`/api/v1/relying-parties/${encodeURIComponent(p.id)}`, { name: p.name, redirectUris: p.redirectUris, postLogoutRedirectUris: p.postLogoutRedirectUris, allowedClaims: p.allowedClaims, methods: p.methods, minAcr: p.minAcr, public: p.public, status });
          notify(`${p.name} ${status}.`, 'ok');
          await drawPortals();
        } catch (e) { notify(`Not changed: ${e.message}`, 'error'); }
      }, text: p.status === 'active' ? 'Disable' : 'Enable' }) }] : []),
    ], r.relyingParties, 'No portals registered yet.'));
  }

  async function drawGroups() {
    let r;
    let all;
    try { [r, all] = await Promise.all([get('/api/v1/login-groups'), get('/api/v1/groups')]); } catch (e) {
      replace(groups, h('p', { class: 'error', text: `Could not load groups: ${e.message}` }));
      return;
    }
    const allowed = new Map(r.groups.map((g) => [g.groupId, g]));
    replace(groups, table('!Login groups', [
      { label: 'Group', cell: (g) => g.id },
      { label: 'Card login', cell: (g) => (allowed.get(g.id)?.allowed ? badge('allowed', 'ok') : badge('not allowed', 'muted')) },
      ...(operate ? [{ label: 'Action', cell: (g) => {
        const on = allowed.get(g.id)?.allowed === true;
        return h('button', { type: 'button', class: 'small', 'aria-label': `${on ? 'Forbid' : 'Allow'} card login at terminals of ${g.id}`, onClick: async () => {
          try { await put(`/api/v1/login-groups/${encodeURIComponent(g.id)}`, { allowed: !on }); await drawGroups(); } catch (e) { notify(`Not changed: ${e.message}`, 'error'); }
        }, text: on ? 'Forbid' : 'Allow' });
      } }] : []),
    ], all.groups, 'No terminal groups.'));
  }

  async function drawKeys() {
    let r;
    try { r = await get('/api/v1/oidc/keys'); } catch (e) {
      replace(keys, h('p', { class: 'error', text: `Could not load keys: ${e.message}` }));
      return;
    }
    replace(keys, table('!Provider signing keys', [
      { label: 'Key id', cell: (k) => h('code', { text: k.kid }) },
      { label: 'Status', cell: (k) => badge(k.status, k.status === 'current' ? 'ok' : 'muted') },
      { label: 'Created', cell: (k) => isoTime(k.createdAt) },
      { label: 'Retired', cell: (k) => (k.retiredAt ? isoTime(k.retiredAt) : '') },
    ], r.keys, 'No key yet: the first one is made on the first login.'),
    admin ? h('button', { type: 'button', class: 'small', text: 'Rotate signing key', onClick: async () => {
      if (!confirm('Rotate the signing key? The current key keeps being published while retiring; the retiring one is retired.')) return;
      try { const k = await post('/api/v1/oidc/keys/rotate'); notify(`New signing key ${k.kid}.`, 'ok'); await drawKeys(); } catch (e) { notify(`Not rotated: ${e.message}`, 'error'); }
    } }) : null);
  }

  const draw = () => Promise.all([drawPortals(), drawGroups(), drawKeys()]);
  await draw();
}
