// Transit key sets, metadata only: versions, key check values (KCVs), where each version is
// assigned, and the key jobs with per-terminal acknowledgements — never key material. The
// server's key API (docs/keys.md):
//   GET  /api/v1/key-sets   → { keySets: [{ id, version, status, deadline, keys: [{ usage, role, keyVersion, algorithmId, kcv }], assignments, terminals, acknowledged, createdAt }] }
//   GET  /api/v1/key-jobs   → { jobs: [{ id, seq, groupId, keySetId, version, status, expectedKcv, counts }] }
//   PUT  /api/v1/groups/{groupId}/key-set ← { keySetId, version }          (key custodians)
//   POST /api/v1/key-sets/{id}/rotate     ← { toVersion, retireAfterSeconds } (key custodians)
//   GET  /api/v1/key-approvals → { approvals: [{ terminalId, groupId, state, refusal?, psam, approvedBy, approvedAt, expiresAt, revokedAt, revokedBy }] }
//   PUT / DELETE /api/v1/terminals/{id}/key-approval ← { validForSeconds } (key custodians): only
//   approved terminals (soft SAM, no physical PSAM) receive key sets; dual control — the admin who
//   enrolled or re-keyed a terminal cannot approve it (docs/keys.md "Custody").
// Imports are wrapped by the custodian's tooling (clear keys never pass through a browser).
// When the server has no key routes (or no master key) the page says so.

import { ApiError, ENDPOINTS, can, del, get, getOptional, post, put } from '../api.js';
import { badge, field, h, notify, replace, section, table, timeEl } from '../dom.js';

const STATUS_KIND = { active: 'ok', retiring: 'warn', purged: 'muted', superseded: 'muted' };
const APPROVAL_KIND = { approved: 'ok', expired: 'warn', revoked: 'muted', refused: 'error', none: 'muted' };

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
  const approvals = h('div', { id: 'key-approvals' });
  const parts = [h('h1', { text: 'Key sets' }), section('Transit key sets (metadata only)', body), section('Key jobs', jobs), section('Key-delivery approvals (soft SAM)', approvals)];
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
  try {
    const a = await get('/api/v1/key-approvals');
    const revoke = async (x) => {
      if (!confirm(`Revoke key delivery to ${x.terminalId}? Pending deliveries are cancelled; keys it holds are erased at their expiry.`)) return;
      try { await del(`/api/v1/terminals/${encodeURIComponent(x.terminalId)}/key-approval`); notify(`Approval of ${x.terminalId} revoked.`, 'ok'); render(main); } catch (err) { notify(`Not revoked: ${err.message}`, 'error'); }
    };
    replace(approvals, table('!Key-delivery approvals', [
      { label: 'Terminal', cell: (x) => h('code', { text: x.terminalId }) },
      { label: 'Group', cell: (x) => x.groupId },
      { label: 'State', cell: (x) => h('span', {}, badge(x.state, APPROVAL_KIND[x.state] ?? 'muted'), x.refusal ? h('small', { text: ` (${x.refusal})` }) : null) },
      { label: 'Approved by', cell: (x) => x.approvedBy ?? '—' },
      { label: 'Until', cell: (x) => (x.expiresAt ? timeEl(x.expiresAt) : '—') },
      { label: '', cell: (x) => (can('keys') && x.state === 'approved' ? h('button', { type: 'button', class: 'danger', text: 'Revoke', onClick: () => revoke(x) }) : null) },
    ], a.approvals ?? [], 'No terminal is approved for key delivery.'), h('p', { class: 'muted', text: 'Only terminals without a physical PSAM that a key custodian approved receive purse keys, until the approval expires.' }));
    if (can('keys')) approvals.append(approveForm(() => render(main)));
  } catch (e) { replace(approvals, h('p', { class: 'error', text: `Could not load approvals: ${e.message}` })); }
}

function approveForm(onDone) {
  const terminal = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9_-]{1,64}', placeholder: 'terminal id' });
  const hours = h('input', { type: 'number', min: 1, max: 720, value: 24, required: true });
  return h('form', { class: 'stack', 'aria-label': 'Approve a terminal for key delivery', id: 'key-approve-form', onSubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await put(`/api/v1/terminals/${encodeURIComponent(terminal.value)}/key-approval`, { validForSeconds: Number(hours.value) * 3600 });
      notify(`${r.terminalId} approved for key delivery until ${new Date(r.expiresAt).toLocaleString()}.`, 'ok');
      onDone();
    } catch (err) { notify(`Not approved: ${err.message}`, 'error'); }
  } }, field('Terminal (no physical PSAM; not one you enrolled)', terminal), field('Valid for (hours)', hours), h('button', { type: 'submit', class: 'primary', text: 'Approve' }));
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
