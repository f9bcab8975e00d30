// One terminal: state and health, versions, readers, configuration (desired vs reported, with
// assignment for operators), jobs (when the server has a jobs API), the latest telemetry
// counters and the recent events with personal data masked. Operators can disable/enable it.

import { ApiError, api, can, get, getOptional, post, put, del, qs } from '../api.js';
import { h, replace, section, table, badge, timeEl, notify, field, isoTime } from '../dom.js';
import { fleet, onFleet } from '../live.js';
import { summarizeBody } from '../mask.js';
import { terminalState, STATE_KIND, versionsOf } from './overview.js';

const RECENT = 50;

async function recentEvents(id) {
  // The API lists ascending; walk the last 24 h forward and keep the newest.
  let after;
  let keep = [];
  for (let page = 0; page < 10; page++) {
    const r = await get(`/api/v1/events${qs({ terminal: id, from: Date.now() - 86_400_000, limit: 1000, after })}`);
    keep = keep.concat(r.events).slice(-RECENT);
    if (r.next === null) break;
    after = r.next;
  }
  return keep.reverse();
}

export async function render(main, params) {
  const id = params.id;
  let t;
  try {
    t = await get(`/api/v1/terminals/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      replace(main, h('h1', { text: `Terminal ${id}` }), h('p', { text: 'No such terminal.' }), h('a', { href: '#/', text: 'Back to the overview' }));
      return;
    }
    throw e;
  }
  const head = h('div', { class: 'page-head' });
  const summary = h('div');
  const readers = h('div');
  const config = h('div');
  const jobs = h('div');
  const tele = h('div');
  const events = h('div');
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/', text: 'Overview' }), ' / ', id), head,
    h('div', { class: 'grid2' }, section('Health and versions', summary), section('Readers', readers)),
    h('div', { class: 'grid2' }, section('Configuration', config), section('Jobs', jobs)),
    section('Telemetry counters', tele),
    section('Recent events', h('p', { class: 'muted', text: 'Personal data (ID numbers, names, card numbers) is masked.' }), events));

  function drawHead() {
    const live = fleet.terminals.get(id);
    if (live) t = { ...t, ...live };
    const s = terminalState(t);
    const actions = h('div', { class: 'actions' });
    if (can('operate')) {
      if (t.status === 'active') actions.append(h('button', { type: 'button', class: 'danger', onClick: () => setStatus('disable'), text: 'Disable terminal' }));
      else actions.append(h('button', { type: 'button', onClick: () => setStatus('enable'), text: 'Enable terminal' }));
      actions.append(h('button', { type: 'button', onClick: rekey, text: 'Issue re-key token' }));
      actions.append(h('button', { type: 'button', onClick: rename, text: 'Rename' }));
    }
    replace(head, h('h1', {}, `Terminal ${id}${t.name ? ` (${t.name})` : ''} `, h('span', { id: 'terminal-state', 'data-state': s }, badge(s, STATE_KIND[s]))), actions);
    const v = versionsOf(t);
    replace(summary, h('dl', { class: 'kv' },
      h('dt', { text: 'Name' }), h('dd', { id: 'terminal-name', text: t.name ?? '—' }),
      h('dt', { text: 'Group' }), h('dd', { text: t.groupId }),
      h('dt', { text: 'Kind' }), h('dd', { text: t.reported?.kind ?? t.kind }),
      h('dt', { text: 'Tags' }), h('dd', { text: t.tags.join(', ') || '—' }),
      h('dt', { text: 'Health' }), h('dd', {}, fleet.health.has(id) ? badge(fleet.health.get(id), fleet.health.get(id) === 'ok' ? 'ok' : fleet.health.get(id) === 'degraded' ? 'warn' : 'bad') : 'no telemetry yet'),
      h('dt', { text: 'Software' }), h('dd', { text: String(v.software) }),
      h('dt', { text: 'Config / keys / hotlist' }), h('dd', { text: `${v.config} / ${v.keys} / ${v.hotlist}` }),
      h('dt', { text: 'Last seen' }), h('dd', {}, timeEl(t.lastSeen)),
      h('dt', { text: 'Enrolled' }), h('dd', { text: isoTime(t.createdAt) }),
      h('dt', { text: 'Connection epoch' }), h('dd', { text: String(t.epoch) })));
    const rs = t.reported?.readers ?? [];
    replace(readers, table('!Readers', [
      { label: 'Reader', cell: (r) => r.id },
      { label: 'Link', cell: (r) => r.link },
      { label: 'Status', cell: (r) => badge(r.status, r.status === 'ok' ? 'ok' : r.status === 'absent' ? 'warn' : 'bad') },
      { label: 'Card', cell: (r) => (r.card === undefined ? '—' : r.card ? 'present' : 'none') },
      { label: 'PSAM', cell: (r) => (r.psam === undefined ? '—' : r.psam ? 'yes' : 'no') },
    ], rs, 'No readers reported.'));
  }

  async function setStatus(action) {
    if (action === 'disable' && !confirm(`Disable ${id}? It is disconnected and refused until enabled.`)) return;
    try {
      t = await post(`/api/v1/terminals/${encodeURIComponent(id)}/${action}`);
      fleet.terminals.set(id, { ...fleet.terminals.get(id), ...t });
      notify(`Terminal ${id} ${action}d.`, 'ok');
      drawHead();
    } catch (e) { notify(`Could not ${action}: ${e.message}`, 'error'); }
  }

  async function rename() {
    const name = prompt(`Name for terminal ${id} (empty to clear):`, t.name ?? '');
    if (name === null) return;
    try {
      t = await api('PATCH', `/api/v1/terminals/${encodeURIComponent(id)}`, { name: name.trim() === '' ? null : name.trim() });
      fleet.terminals.set(id, { ...fleet.terminals.get(id), ...t });
      notify(`Terminal ${id} renamed.`, 'ok');
      drawHead();
    } catch (e) { notify(`Not renamed: ${e.message}`, 'error'); }
  }

  async function rekey() {
    try {
      const r = await post(`/api/v1/terminals/${encodeURIComponent(id)}/rekey`);
      replace(summary, h('div', { class: 'secret', role: 'alert' },
        h('p', { text: 'Re-key token (shown once; give it to the terminal\'s installer):' }),
        h('code', { text: r.token }), h('p', { class: 'muted', text: `Expires ${isoTime(r.expiresAt)}.` }),
        h('button', { type: 'button', onClick: drawHead, text: 'Done' })));
    } catch (e) { notify(`Could not issue a re-key token: ${e.message}`, 'error'); }
  }

  async function drawConfig() {
    try {
      const c = await get(`/api/v1/terminals/${encodeURIComponent(id)}/config`);
      const rep = c.reported;
      const body = [h('dl', { class: 'kv' },
        h('dt', { text: 'Desired' }), h('dd', {}, c.desired ? h('a', { href: `#/config/${encodeURIComponent(c.desired.docId)}`, text: `${c.desired.docId} v${c.desired.version}` }) : 'none assigned'),
        h('dt', { text: 'Applied' }), h('dd', { text: c.appliedVersion === null ? '—' : `v${c.appliedVersion}` }),
        h('dt', { text: 'Last report' }), h('dd', {}, rep ? [badge(rep.status, rep.status === 'applied' ? 'ok' : 'bad'), ` v${rep.version} `, timeEl(rep.at), rep.errorCode ? h('span', { class: 'error', text: ` ${rep.errorCode}` }) : null] : '—'),
        h('dt', { text: 'In sync' }), h('dd', {}, c.inSync ? badge('yes', 'ok') : badge(c.desired ? 'pending' : 'n/a', c.desired ? 'warn' : 'muted')))];
      // Per changed field of the last report: live, at the end of the card session, after a restart, or pinned locally.
      if (rep && Array.isArray(rep.changes) && rep.changes.length > 0) {
        body.push(table('What took effect', [
          { label: 'Field', cell: (x) => h('code', { text: x.field }) },
          { label: 'Effect', cell: (x) => badge(x.effect, x.effect === 'pinned' ? 'muted' : x.at === undefined ? 'warn' : 'ok') },
          { label: 'When', cell: (x) => (x.at === undefined ? (x.effect === 'pinned' ? 'not applied (local file)' : 'pending') : timeEl(x.at)) },
        ], rep.changes));
      }
      if (can('operate')) {
        const docs = await get('/api/v1/configs').catch(() => ({ configs: [] }));
        const sel = h('select', {}, h('option', { value: '', text: '(group default)' }), docs.configs.map((d) => h('option', { value: d.id, text: `${d.name} (${d.id})` })));
        const form = h('form', { class: 'inline', onSubmit: async (e) => {
          e.preventDefault();
          try {
            if (sel.value === '') await del(`/api/v1/terminals/${encodeURIComponent(id)}/config`);
            else await put(`/api/v1/terminals/${encodeURIComponent(id)}/config`, { configId: sel.value });
            notify('Assignment saved; the terminal is told to fetch it.', 'ok');
            drawConfig();
          } catch (err) { notify(`Assignment failed: ${err.message}`, 'error'); }
        } }, field('Terminal override', sel), h('button', { type: 'submit', text: 'Assign' }));
        body.push(form);
      }
      replace(config, body);
    } catch (e) {
      replace(config, h('p', { class: 'muted', text: e instanceof ApiError && e.status === 404 ? 'Configuration is not available on this server.' : `Could not load: ${e.message}` }));
    }
  }

  async function drawJobs() {
    try {
      const r = await getOptional('GET', '/api/v1/terminals/{id}/jobs', `/api/v1/terminals/${encodeURIComponent(id)}/jobs`);
      if (r === undefined) { replace(jobs, h('p', { class: 'muted', text: 'Jobs are not available on this server.' })); return; }
      replace(jobs, table('!Jobs', [
        { label: 'Job', cell: (j) => j.id ?? j.jobId },
        { label: 'Kind', cell: (j) => j.kind },
        { label: 'Version', cell: (j) => String(j.version ?? '—') },
        { label: 'Status', cell: (j) => badge(j.status, j.status === 'succeeded' ? 'ok' : j.status === 'failed' || j.status === 'rejected' ? 'bad' : 'info') },
        { label: 'Step', cell: (j) => j.step ?? '—' },
        { label: 'Updated', cell: (j) => timeEl(j.updatedAt ?? j.createdAt) },
      ], r.jobs ?? [], 'No jobs.'));
    } catch (e) { replace(jobs, h('p', { class: 'error', text: `Could not load jobs: ${e.message}` })); }
  }

  async function drawTele() {
    if (!fleet.health.has(id)) { replace(tele, h('p', { class: 'muted', text: 'No telemetry received yet.' })); return; }
    try {
      const r = await get(`/api/v1/terminals/${encodeURIComponent(id)}/telemetry`);
      const counters = Object.entries(r.counters ?? {});
      replace(tele, h('p', {}, 'Reported ', timeEl(r.receivedAt), r.outbox ? ` · outbox ${r.outbox.pending} pending${r.outbox.full ? ' (FULL)' : ''}` : ''),
        table('!Counters', [{ label: 'Counter', cell: (c) => c[0] }, { label: 'Value', cell: (c) => String(c[1]), class: 'num' }], counters, 'No counters.'));
    } catch (e) { replace(tele, h('p', { class: 'muted', text: e instanceof ApiError && e.status === 404 ? 'No telemetry received yet.' : `Could not load: ${e.message}` })); }
  }

  async function drawEvents() {
    try {
      const list = await recentEvents(id);
      replace(events, table('!Recent events, newest first', [
        { label: 'Time', cell: (e) => h('span', { title: isoTime(e.ts), text: isoTime(e.ts) }) },
        { label: 'Seq', cell: (e) => String(e.seq), class: 'num' },
        { label: 'Type', cell: (e) => e.type },
        { label: 'Details (masked)', cell: (e) => h('span', { class: 'masked', text: summarizeBody(e.body) }) },
      ], list, 'No events in the last 24 hours.'), h('p', {}, h('a', { href: `#/events?terminal=${encodeURIComponent(id)}`, text: 'All events of this terminal' })));
    } catch (e) { replace(events, h('p', { class: 'muted', text: `Events are not available: ${e.message}` })); }
  }

  drawHead();
  await Promise.all([drawConfig(), drawJobs(), drawTele(), drawEvents()]);
  let evTimer = null;
  const off = onFleet((kinds) => {
    if (kinds.includes('terminals')) drawHead();
    if (kinds.includes('config')) drawConfig();
    if (kinds.includes('jobs')) drawJobs();
    if (kinds.includes('events') && evTimer === null) evTimer = setTimeout(() => { evTimer = null; drawEvents(); drawTele(); }, 2000);
  });
  return () => { off(); clearTimeout(evTimer); };
}
