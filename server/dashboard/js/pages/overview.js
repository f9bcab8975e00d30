// Fleet overview: counts (online, offline, degraded, disabled) overall and by group, the two
// live charts, recent activity, and the filterable terminal list with status, versions and last
// seen. Everything re-renders from the shared live fleet state; the filter inputs stay put.

import { h, replace, section, table, badge, timeEl, field } from '../dom.js';
import { fleet, onFleet, onlineCount } from '../live.js';
import { lineChart, minuteBars } from '../charts.js';
import { venuesLine } from './venues-line.js';

const MAX_ROWS = 500;

/** 'disabled' | 'degraded' | 'online' | 'offline' for a terminal. */
export function terminalState(t, health = fleet.health.get(t.id)) {
  if (t.status === 'disabled') return 'disabled';
  if (!t.online) return 'offline';
  if (health === 'degraded' || health === 'failed') return 'degraded';
  return 'online';
}

export const STATE_KIND = { online: 'ok', offline: 'bad', degraded: 'warn', disabled: 'muted' };

export function versionsOf(t) {
  const v = t.reported?.versions ?? {};
  return { software: v.software ?? '—', config: v.config ?? '—', keys: v.keys ?? '—', hotlist: v.hotlist ?? '—' };
}

export async function render(main) {
  const tiles = h('div', { class: 'tiles', 'aria-live': 'off' });
  const groups = h('div');
  const onlineChart = h('div', { class: 'chart-box' });
  const eventsChart = h('div', { class: 'chart-box' });
  const activity = h('ul', { class: 'activity', 'aria-label': 'Recent activity' });
  const list = h('div');
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'terminal-count' });

  const search = h('input', { type: 'search', placeholder: 'id, tag or software version', autocomplete: 'off' });
  const groupSel = h('select', {}, h('option', { value: '', text: 'All groups' }));
  const stateSel = h('select', {}, ['', 'online', 'offline', 'degraded', 'disabled'].map((s) => h('option', { value: s, text: s === '' ? 'Any status' : s })));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter terminals', onSubmit: (e) => e.preventDefault() },
    field('Search', search), field('Group', groupSel), field('Status', stateSel));
  for (const el of [search, groupSel, stateSel]) el.addEventListener('input', () => drawList());

  replace(main,
    h('h1', { text: 'Fleet overview' }),
    tiles,
    h('div', { class: 'grid2' },
      section('Online terminals', onlineChart),
      section('Records ingested per minute', eventsChart)),
    h('div', { class: 'grid2' }, section('By group', groups), section('Live activity', activity)),
    section('Venues', venuesLine()),
    section('Terminals', filters, count, list));

  function drawGroupOptions() {
    const have = new Set([...groupSel.options].map((o) => o.value));
    const ids = new Set([...fleet.groups.map((g) => g.id), ...[...fleet.terminals.values()].map((t) => t.groupId)]);
    for (const id of [...ids].sort()) if (!have.has(id)) groupSel.append(h('option', { value: id, text: fleet.groups.find((g) => g.id === id)?.name ? `${fleet.groups.find((g) => g.id === id).name} (${id})` : id }));
  }

  function drawCounts() {
    const c = { online: 0, offline: 0, degraded: 0, disabled: 0 };
    const byGroup = new Map();
    for (const t of fleet.terminals.values()) {
      const s = terminalState(t);
      c[s]++;
      let g = byGroup.get(t.groupId);
      if (!g) { g = { id: t.groupId, total: 0, online: 0, offline: 0, degraded: 0, disabled: 0 }; byGroup.set(t.groupId, g); }
      g.total++;
      g[s]++;
    }
    const tile = (label, n, kind, id) => h('div', { class: `tile tile-${kind}`, id }, h('span', { class: 'tile-n', text: String(n) }), h('span', { class: 'tile-l', text: label }));
    replace(tiles,
      tile('terminals', fleet.terminals.size, 'info', 'tile-total'),
      tile('online', c.online + c.degraded, 'ok', 'tile-online'),
      tile('offline', c.offline, 'bad', 'tile-offline'),
      tile('degraded', c.degraded, 'warn', 'tile-degraded'),
      tile('disabled', c.disabled, 'muted', 'tile-disabled'));
    replace(groups, table('!Terminals by group', [
      { label: 'Group', cell: (g) => h('a', { href: '#/', onClick: (e) => { e.preventDefault(); groupSel.value = g.id; drawList(); search.focus(); }, text: fleet.groups.find((x) => x.id === g.id)?.name ?? g.id }) },
      { label: 'Terminals', cell: (g) => String(g.total), class: 'num' },
      { label: 'Online', cell: (g) => String(g.online + g.degraded), class: 'num' },
      { label: 'Offline', cell: (g) => String(g.offline), class: 'num' },
      { label: 'Degraded', cell: (g) => String(g.degraded), class: 'num' },
      { label: 'Disabled', cell: (g) => String(g.disabled), class: 'num' },
    ], [...byGroup.values()].sort((a, b) => a.id.localeCompare(b.id)), fleet.loaded ? 'No terminals enrolled yet.' : 'Loading…'));
  }

  function drawCharts() {
    replace(onlineChart, lineChart('Online terminals', fleet.online.concat(fleet.loaded ? [{ t: Date.now(), v: onlineCount() }] : []), 'online'));
    replace(eventsChart, minuteBars('Records per minute', fleet.perMinute));
  }

  function drawActivity() {
    replace(activity, fleet.activity.length === 0 ? h('li', { class: 'muted', text: 'Waiting for changes…' }) : fleet.activity.slice(0, 12).map((a) => h('li', {}, timeEl(a.at), ' ', a.text)));
  }

  function drawList() {
    const q = search.value.trim().toLowerCase();
    const g = groupSel.value;
    const st = stateSel.value;
    const rows = [];
    let n = 0;
    for (const t of fleet.terminals.values()) {
      if (g && t.groupId !== g) continue;
      const s = terminalState(t);
      if (st && s !== st) continue;
      if (q && !(t.id.toLowerCase().includes(q) || (t.name ?? '').toLowerCase().includes(q) || t.tags.some((x) => x.toLowerCase().includes(q)) || String(versionsOf(t).software).toLowerCase().includes(q))) continue;
      n++;
      if (rows.length < MAX_ROWS) rows.push(t);
    }
    rows.sort((a, b) => a.id.localeCompare(b.id));
    count.textContent = n > rows.length ? `Showing ${rows.length} of ${n} terminals; narrow the filter to see the rest.` : `${n} terminal${n === 1 ? '' : 's'}`;
    replace(list, table('!Terminals', [
      { label: 'Terminal', cell: (t) => h('a', { href: `#/terminals/${encodeURIComponent(t.id)}`, text: t.id }) },
      { label: 'Name', cell: (t) => t.name ?? '—' },
      { label: 'Status', cell: (t) => { const s = terminalState(t); return h('span', { class: 'state', 'data-terminal': t.id, 'data-state': s }, badge(s, STATE_KIND[s])); } },
      { label: 'Group', cell: (t) => t.groupId },
      { label: 'Kind', cell: (t) => t.reported?.kind ?? t.kind },
      { label: 'Software', cell: (t) => String(versionsOf(t).software) },
      { label: 'Config', cell: (t) => String(versionsOf(t).config), class: 'num' },
      { label: 'Keys', cell: (t) => String(versionsOf(t).keys), class: 'num' },
      { label: 'Hotlist', cell: (t) => String(versionsOf(t).hotlist), class: 'num' },
      { label: 'Last seen', cell: (t) => timeEl(t.lastSeen) },
    ], rows, fleet.loaded ? 'No terminal matches.' : 'Loading…'));
  }

  function all() { drawGroupOptions(); drawCounts(); drawCharts(); drawActivity(); drawList(); }
  all();
  const off = onFleet((kinds) => {
    if (kinds.includes('terminals')) { drawGroupOptions(); drawCounts(); drawList(); drawActivity(); drawCharts(); }
    else if (kinds.includes('online') || kinds.includes('events')) { drawCharts(); drawActivity(); }
    else drawActivity();
  });
  const tick = setInterval(drawCharts, 15_000);
  return () => { off(); clearInterval(tick); };
}
