// The card hotlist: current version (live), search by card-number prefix with paging, and for
// operators the loss report form and a cancel button per listed card. Viewers see card numbers
// masked; operators need them in full to act on them.

import { can, get, post, qs } from '../api.js';
import { h, replace, section, table, timeEl, notify, field, badge } from '../dom.js';
import { fleet, onFleet } from '../live.js';
import { maskMiddle } from '../mask.js';

const CARD = /^[0-9A-Z]{9}$/;
const PAGE = 100;

export async function render(main) {
  const version = h('span', { id: 'hotlist-version', text: '…' });
  const results = h('div');
  const more = h('div');
  const prefix = h('input', { type: 'search', pattern: '[0-9A-Za-z]{1,9}', maxlength: 9, autocomplete: 'off', placeholder: 'e.g. A12' });
  let after = null;
  let rows = [];
  const operator = can('operate');
  const show = (c) => (operator ? c : maskMiddle(c, 1, 2));

  const searchForm = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search the hotlist', onSubmit: (e) => { e.preventDefault(); load(true); } },
    field('Card number prefix', prefix, 'Nine characters: digits and capital letters.'), h('button', { type: 'submit', text: 'Search' }));

  const parts = [h('h1', {}, 'Hotlist ', h('small', { class: 'muted' }, 'version ', version)), section('Listed cards', searchForm, results, more)];
  if (operator) {
    const cards = h('textarea', { rows: 3, required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'One or more card numbers, separated by spaces or new lines' });
    const reason = h('input', { type: 'text', required: true, maxlength: 256, value: 'reported lost by cardholder' });
    const report = h('form', { class: 'stack', 'aria-label': 'Report cards lost', id: 'report-form', onSubmit: async (e) => {
      e.preventDefault();
      const list = [...new Set(cards.value.toUpperCase().split(/[\s,;]+/).filter(Boolean))];
      const bad = list.filter((c) => !CARD.test(c));
      if (list.length === 0 || bad.length > 0) { notify(bad.length ? `Not a card number: ${bad.slice(0, 3).join(', ')}` : 'Enter a card number.', 'error'); cards.focus(); return; }
      try {
        const r = await post('/api/v1/hotlist/report', { cardNumbers: list, reason: reason.value.trim() || 'reported lost' });
        notify(`Hotlist version ${r.version}: ${r.added.length} card(s) listed${r.alreadyListed.length ? `, ${r.alreadyListed.length} already listed` : ''}.`, 'ok');
        setVersion(r.version);
        cards.value = '';
        load(true);
      } catch (err) { notify(`Report failed: ${err.message}`, 'error'); }
    } }, field('Card numbers', cards), field('Reason', reason), h('button', { type: 'submit', class: 'primary', text: 'Report lost' }));
    parts.splice(1, 0, section('Report cards lost', report));
  } else {
    parts.splice(1, 0, h('p', { class: 'muted', id: 'report-disabled', text: 'Your role can view the hotlist but not report or cancel cards.' }));
  }
  replace(main, ...parts);

  function setVersion(v) { version.textContent = String(v); }

  async function cancel(card) {
    const reason = prompt(`Cancel the loss report of ${card}? The card will be accepted again.\nReason:`, 'card found by cardholder');
    if (reason === null) return;
    try {
      const r = await post('/api/v1/hotlist/cancel', { cardNumbers: [card], reason: reason.trim() || 'cancelled' });
      notify(`Hotlist version ${r.version}: ${card} cancelled.`, 'ok');
      setVersion(r.version);
      load(true);
    } catch (e) { notify(`Cancel failed: ${e.message}`, 'error'); }
  }

  function draw() {
    const cols = [
      { label: 'Card number', cell: (e) => h('code', { class: 'card-no', text: show(e.cardNumber) }) },
      { label: 'Listed at version', cell: (e) => String(e.version), class: 'num' },
      { label: 'Reported', cell: (e) => timeEl(e.reportedAt) },
      { label: 'Source', cell: (e) => badge(e.source, e.source === 'terminal' ? 'info' : 'muted') },
      { label: 'By', cell: (e) => e.reportedBy },
      { label: 'Reason', cell: (e) => e.reason },
    ];
    if (operator) cols.push({ label: 'Action', cell: (e) => h('button', { type: 'button', class: 'small', 'aria-label': `Cancel loss report of ${e.cardNumber}`, onClick: () => cancel(e.cardNumber), text: 'Cancel' }) });
    replace(results, table('!Listed cards', cols, rows, prefix.value ? 'No listed card starts with that.' : 'The hotlist is empty.'));
    replace(more, after ? h('button', { type: 'button', onClick: () => load(false), text: 'Load more' }) : null);
  }

  async function load(reset) {
    const p = prefix.value.trim().toUpperCase();
    if (p && !/^[0-9A-Z]{1,9}$/.test(p)) { notify('A prefix is up to 9 digits and capital letters.', 'error'); return; }
    try {
      const r = await get(`/api/v1/hotlist${qs({ prefix: p, after: reset ? undefined : after, limit: PAGE })}`);
      rows = reset ? r.entries : rows.concat(r.entries);
      after = r.next;
      setVersion(r.version);
      draw();
    } catch (e) { replace(results, h('p', { class: 'error', text: `Could not load the hotlist: ${e.message}` })); }
  }

  await load(true);
  const off = onFleet((kinds) => { if (kinds.includes('hotlist') && fleet.hotlistVersion !== null && String(fleet.hotlistVersion) !== version.textContent) load(true); });
  return off;
}
