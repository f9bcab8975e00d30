// The audit log: who did what, when and from where, newest first, filterable by actor and
// action, paged backwards. Details are shown as short key=value pairs; for roles that cannot act
// on cards, card and ID numbers in targets and details are masked.

import { can, get, qs } from '../api.js';
import { h, replace, section, table, field, isoTime } from '../dom.js';
import { maskText } from '../mask.js';

export async function render(main) {
  const actor = h('input', { type: 'text', autocomplete: 'off', maxlength: 64 });
  const action = h('input', { type: 'text', autocomplete: 'off', maxlength: 64, placeholder: 'e.g. hotlist.report' });
  const results = h('div');
  const more = h('div');
  let rows = [];
  let next = null;
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log', onSubmit: (e) => { e.preventDefault(); load(true); } },
    field('Actor', actor), field('Action', action), h('button', { type: 'submit', class: 'primary', text: 'Apply' }));
  replace(main, h('h1', { text: 'Audit log' }), section('Filter', form), section('Entries', results, more));

  const details = (d) => Object.entries(d ?? {}).slice(0, 6).map(([k, v]) => `${k}=${maskText(typeof v === 'object' ? JSON.stringify(v) : String(v)).slice(0, 80)}`).join(' · ');

  async function load(reset) {
    try {
      const r = await get(`/api/v1/audit${qs({ actor: actor.value.trim(), action: action.value.trim(), limit: 100, before: reset ? undefined : next })}`);
      rows = reset ? r.entries : rows.concat(r.entries);
      next = r.entries.length === 100 ? r.next : null;
      replace(results, table('!Audit entries', [
        { label: 'When', cell: (e) => isoTime(e.ts) },
        { label: 'Actor', cell: (e) => e.actor },
        { label: 'Action', cell: (e) => e.action },
        { label: 'Target', cell: (e) => (can('operate') ? e.target : maskText(e.target)) },
        { label: 'From', cell: (e) => e.ip || '—' },
        { label: 'Details', cell: (e) => h('span', { class: 'masked', text: details(e.details) }) },
      ], rows, 'No entries.'));
      replace(more, next ? h('button', { type: 'button', onClick: () => load(false), text: 'Older entries' }) : null);
    } catch (e) { replace(results, h('p', { class: 'error', text: `Could not load: ${e.message}` })); }
  }
  await load(true);
}
