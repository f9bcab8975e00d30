// Events and transactions: filter by terminal, type, kind (transactions are `txn.*`) and time;
// page forward; export the same filter as CSV (downloaded with the token, since a link cannot
// carry it). Bodies are never shown raw: only a masked summary.

import { download, get, has, qs } from '../api.js';
import { h, replace, section, table, notify, field, isoTime } from '../dom.js';
import { summarizeBody } from '../mask.js';

const PAGE = 200;

function toMs(v) { return v ? new Date(v).getTime() : undefined; }

export async function render(main, _params, ctx) {
  if (!(await has('GET', '/api/v1/events'))) {
    replace(main, h('h1', { text: 'Events & transactions' }), h('p', { class: 'muted', text: 'Events are not available on this server.' }));
    return;
  }
  const q = ctx.query;
  const terminal = h('input', { type: 'text', pattern: '[A-Za-z0-9_-]{1,64}', autocomplete: 'off', value: q.get('terminal') ?? '' });
  const kind = h('select', {}, [['', 'Everything'], ['txn.', 'Transactions (txn.*)'], ['card.', 'Card events (card.*)']].map(([v, l]) => h('option', { value: v, text: l })));
  const type = h('input', { type: 'text', pattern: '[a-z][a-z0-9_.-]{0,63}', autocomplete: 'off', placeholder: 'exact type, e.g. txn.purchase', value: q.get('type') ?? '' });
  const from = h('input', { type: 'datetime-local' });
  const to = h('input', { type: 'datetime-local' });
  if (q.get('kind')) kind.value = q.get('kind');
  const results = h('div');
  const more = h('div');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  let rows = [];
  let next = null;

  const filter = () => {
    const f = { terminal: terminal.value.trim(), type: type.value.trim(), typePrefix: type.value.trim() ? '' : kind.value, from: toMs(from.value), to: toMs(to.value) };
    return f;
  };

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter events', onSubmit: (e) => { e.preventDefault(); load(true); } },
    field('Terminal', terminal), field('Kind', kind), field('Type', type), field('From', from), field('To', to),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', text: 'Apply' }),
      h('button', { type: 'button', id: 'csv-export', onClick: exportCsv, text: 'Export CSV' })));

  replace(main, h('h1', { text: 'Events & transactions' }),
    section('Filter', form),
    section('Records', h('p', { class: 'muted', text: 'Oldest first. Personal data is masked; the CSV export is audited.' }), count, results, more));

  async function exportCsv() {
    try {
      await download(`/api/v1/events/export.csv${qs(filter())}`, `onecard-events-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '')}.csv`);
      notify('CSV export downloaded.', 'ok');
    } catch (e) { notify(`Export failed: ${e.message}`, 'error'); }
  }

  function draw() {
    count.textContent = `${rows.length} record${rows.length === 1 ? '' : 's'}${next ? ' (more available)' : ''}`;
    replace(results, table('!Events', [
      { label: 'Time', cell: (e) => isoTime(e.ts) },
      { label: 'Terminal', cell: (e) => h('a', { href: `#/terminals/${encodeURIComponent(e.terminalId)}`, text: e.terminalId }) },
      { label: 'Seq', cell: (e) => String(e.seq), class: 'num' },
      { label: 'Type', cell: (e) => e.type },
      { label: 'Details (masked)', cell: (e) => h('span', { class: 'masked', text: summarizeBody(e.body) }) },
      { label: 'Received', cell: (e) => isoTime(e.receivedAt) },
    ], rows, 'No record matches.'));
    replace(more, next ? h('button', { type: 'button', onClick: () => load(false), text: 'Load more' }) : null);
  }

  async function load(reset) {
    try {
      const r = await get(`/api/v1/events${qs({ ...filter(), limit: PAGE, after: reset ? undefined : next })}`);
      rows = reset ? r.events : rows.concat(r.events);
      next = r.next;
      draw();
    } catch (e) { replace(results, h('p', { class: 'error', text: `Could not load: ${e.message}` })); }
  }
  await load(true);
}
