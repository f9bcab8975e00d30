// Data sharing: the registered departments (purposes, limits; never a secret) and the holder's
// data tracker of one card — every access by a department (purpose, call, fields released,
// outcome, when) and the holder's consents. Personal data never appears here: the tracker lists
// field names, not values. Server routes: server/src/sharing/plugin.ts, server/src/registry/plugin.ts.

import { ApiError, get } from '../api.js';
import { h, replace, section, table, notify, field, isoTime, badge } from '../dom.js';

const CARD = /^[0-9A-Z]{9}$/;

export async function render(main) {
  const depts = h('div');
  const result = h('div', { 'aria-live': 'polite' });
  const card = h('input', { type: 'text', name: 'card', required: true, maxlength: 9, autocomplete: 'off', spellcheck: 'false', pattern: '[0-9A-Z]{9}', id: 'tracker-card' });
  const form = h('form', { class: 'inline', 'aria-label': 'Show the data tracker of a card', onSubmit: async (e) => {
    e.preventDefault();
    const c = card.value.trim().toUpperCase();
    if (!CARD.test(c)) { notify('Card number: 9 characters, digits and capital letters.', 'error'); card.focus(); return; }
    await tracker(c);
  } }, field('Card number', card), h('button', { type: 'submit', class: 'primary', text: 'Show accesses' }));
  replace(main, h('h1', { text: 'Data sharing' }),
    h('p', { text: 'Departments call the data-sharing interface for a purpose they are granted; basic information needs the holder\'s consent. Every access to a person\'s data is listed in their tracker.' }),
    section('Departments', depts), section('Holder\'s data tracker', form, result));

  async function tracker(c) {
    let r;
    try {
      r = await get(`/api/v1/registry/cards/${encodeURIComponent(c)}/accesses`);
    } catch (e) {
      replace(result, h('p', { class: 'error', text: e instanceof ApiError && e.status === 404 ? `Card ${c} is not in the registry.` : `Could not load the tracker: ${e.message}` }));
      return;
    }
    replace(result,
      table(`!Accesses to the data of the holder of ${c}`, [
        { label: 'When', cell: (a) => isoTime(a.at) },
        { label: 'Department', cell: (a) => a.department },
        { label: 'Purpose', cell: (a) => a.purpose },
        { label: 'Call', cell: (a) => a.call },
        { label: 'Released', cell: (a) => a.released.join(', ') },
        { label: 'Outcome', cell: (a) => (a.outcome === 'released' ? badge('released', 'ok') : badge(a.outcome, 'muted')) },
      ], r.accesses, 'No department accessed this holder\'s data.'),
      table('!Consents', [
        { label: 'Department', cell: (x) => x.department },
        { label: 'Purpose', cell: (x) => x.purpose },
        { label: 'Granted', cell: (x) => `${isoTime(x.grantedAt)} at ${x.grantedVia}` },
        { label: 'State', cell: (x) => (x.revokedAt ? badge(`revoked ${isoTime(x.revokedAt)}`, 'muted') : x.expiresAt <= Date.now() ? badge('expired', 'muted') : badge(`until ${isoTime(x.expiresAt)}`, 'ok')) },
      ], r.consents, 'No consents.'));
  }

  try {
    const r = await get('/api/v1/sharing/departments');
    replace(depts, table('!Departments', [
      { label: 'Department', cell: (d) => `${d.name} (${d.id})` },
      { label: 'Client id', cell: (d) => d.clientId },
      { label: 'Purposes', cell: (d) => d.purposes.join(', ') },
      { label: 'Limits', cell: (d) => `${d.ratePerMinute}/min, ${d.dailyQuota}/day` },
      { label: 'State', cell: (d) => (d.disabledAt ? badge('disabled', 'muted') : badge('active', 'ok')) },
    ], r.departments, 'No departments registered.'));
  } catch (e) {
    replace(depts, h('p', { class: 'error', text: e instanceof ApiError && e.status === 503 ? 'Data sharing is off: the server has no master key.' : `Could not load departments: ${e.message}` }));
  }
}
