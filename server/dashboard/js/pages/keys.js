// Transit key sets, metadata only: versions, key check values (KCVs), where each version is
// assigned, and the key jobs with per-terminal acknowledgements — never key material. The
// server's key API (docs/keys.md):
//   GET  /api/v1/key-sets   → { keySets: [{ id, version, status, deadline, keys: [{ usage, role, keyVersion, algorithmId, kcv }], assignments, terminals, acknowledged, createdAt }] }
//   GET  /api/v1/key-jobs   → { jobs: [{ id, seq, groupId, keySetId, version, status, expectedKcv, counts }] }
//   PUT  /api/v1/groups/{groupId}/key-set ← { keySetId, version }          (key custodians)
//   POST /api/v1/key-sets/{id}/rotate     ← { toVersion, retireAfterSeconds } (key custodians)
// Imports are wrapped by the custodian's tooling (clear keys never pass through a browser).
// When the server has no key routes (or no master key) the page says so.

import { ApiError, ENDPOINTS, can, get, getOptional, post, put } from '../api.js';
import { badge, field, h, notify, replace, section, table, timeEl } from '../dom.js';

const STATUS_KIND = { active: 'ok', retiring: 'warn', purged: 'muted', superseded: 'muted' };

function kcvList(k) {
  return (k.keys ?? []).map((x) => `${x.role ?? x.usage} v${x.keyVersion ?? '?'}: ${x.kcv ?? '—'}`).join(' · ') || '—';
}

function counts(j) {
  const c = j.counts ?? {};
  return `${c.succeeded ?? 0} ok · ${(c.failed ?? 0) + (c.rejected ?? 0) + (c['timed-out'] ?? 0)} failed · ${(c.queued ?? 0) + (c['in-progress'] ?? 0)} pending of ${c.total ?? 0}`;
}

export async function render(main) {
  const body = h('div', { id: 'key-sets' });
  const jobs = h('div', { id: 'key-jobs' });
  const parts = [h('h1', { text: 'Key sets' }), section('Transit key sets (metadata only)', body), section('Key jobs', jobs)];
  replace(main, ...parts);
  let r;
  try {
    r = await getOptional('GET', ENDPOINTS.keySets, ENDPOINTS.keySets);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'SRV_ERR_KEYS_NO_MASTER_KEY') r = undefined;
    else { replace(body, h('p', { class: 'error', text: `Could not load: ${e.message}` })); return; }
  }
  if (r === undefined) {
    replace(main, h('h1', { text: 'Key sets' }), section('Transit key sets', h('p', { class: 'muted', id: 'keys-empty', text: 'No key sets: key distribution is not available on this server.' })));
    return;
  }
  const list = r.keySets ?? [];
  if (list.length === 0) replace(body, h('p', { class: 'empty', id: 'keys-empty', text: 'No key sets imported yet.' }));
  else {
    replace(body, table('!Key sets', [
      { label: 'Key set', cell: (k) => k.id },
      { label: 'Version', cell: (k) => String(k.version ?? '—'), class: 'num' },
      { label: 'State', cell: (k) => h('span', {}, badge(k.status ?? '—', STATUS_KIND[k.status] ?? 'muted'), k.deadline ? h('small', {}, ' until ', timeEl(k.deadline)) : null) },
      { label: 'KCVs', cell: (k) => h('code', { text: kcvList(k) }) },
      { label: 'Assigned to', cell: (k) => (k.assignments ?? []).join(', ') || '—' },
      { label: 'Terminals acknowledged', cell: (k) => (k.terminals ? `${k.acknowledged ?? 0}/${k.terminals}` : '—') },
      { label: 'Imported', cell: (k) => timeEl(k.createdAt) },
    ], list), h('p', { class: 'muted', text: 'Key material never reaches the dashboard; key custodians import wrapped key sets with their tooling (docs/keys.md).' }));
  }
  if (can('keys') && list.length > 0) main.append(await custodianForms(list, () => render(main)));
  try {
    const j = await get(ENDPOINTS.keyJobs);
    replace(jobs, table('!Key jobs', [
      { label: 'Job', cell: (x) => h('code', { text: x.id }) },
      { label: 'Group', cell: (x) => x.groupId },
      { label: 'Key set', cell: (x) => `${x.keySetId} v${x.version}` },
      { label: 'State', cell: (x) => badge(x.status, x.status === 'active' ? 'info' : 'muted') },
      { label: 'Expected check value', cell: (x) => h('code', { text: x.expectedKcv }) },
      { label: 'Terminals', cell: (x) => counts(x) },
      { label: 'Created', cell: (x) => timeEl(x.createdAt) },
    ], j.jobs ?? [], 'No key jobs yet.'));
  } catch (e) { replace(jobs, h('p', { class: 'error', text: `Could not load jobs: ${e.message}` })); }
}

async function custodianForms(list, onDone) {
  const versions = list.filter((k) => k.status === 'active');
  const option = (k) => h('option', { value: `${k.id}\u0000${k.version}`, text: `${k.id} v${k.version}` });
  const groups = await get('/api/v1/groups').catch(() => ({ groups: [] }));
  const which = h('select', { required: true }, versions.map(option));
  const group = h('select', { required: true }, groups.groups.map((g) => h('option', { value: g.id, text: `${g.name} (${g.id})` })));
  const assign = h('form', { class: 'stack', 'aria-label': 'Assign a key set', id: 'key-assign-form', onSubmit: async (e) => {
    e.preventDefault();
    const [keySetId, version] = which.value.split('\u0000');
    try {
      await put(`/api/v1/groups/${encodeURIComponent(group.value)}/key-set`, { keySetId, version: Number(version) });
      notify(`Key set ${keySetId} v${version} assigned to ${group.value}.`, 'ok');
      onDone();
    } catch (err) { notify(`Not assigned: ${err.message}`, 'error'); }
  } }, field('Key-set version', which), field('Group', group), h('button', { type: 'submit', class: 'primary', text: 'Assign' }));
  const to = h('select', { required: true }, versions.map(option));
  const days = h('input', { type: 'number', min: 0, max: 366, value: 30, required: true });
  const rotate = h('form', { class: 'stack', 'aria-label': 'Rotate a key set', id: 'key-rotate-form', onSubmit: async (e) => {
    e.preventDefault();
    const [keySetId, version] = to.value.split('\u0000');
    if (!confirm(`Move every group on ${keySetId} to version ${version}? Older versions are purged after ${days.value} days.`)) return;
    try {
      const r = await post(`${ENDPOINTS.keySets}/${encodeURIComponent(keySetId)}/rotate`, { toVersion: Number(version), retireAfterSeconds: Number(days.value) * 86400 });
      notify(`Rotated ${r.groups.length} group(s) to v${version}.`, 'ok');
      onDone();
    } catch (err) { notify(`Not rotated: ${err.message}`, 'error'); }
  } }, field('New version', to), field('Keep older versions for (days)', days), h('button', { type: 'submit', class: 'danger', text: 'Rotate' }));
  return h('details', { class: 'card' }, h('summary', { text: 'Key custodian actions' }), assign, rotate);
}
