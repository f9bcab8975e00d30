// Configuration documents: the list with each document's rollout state (applied / pending /
// rejected terminals), and one document's page: its JSON (editable by operators, saved with the
// version it was loaded at as precondition so concurrent edits are refused, not lost), its
// versions, and its group/terminal assignments.

import { ApiError, can, get, getOptional, post, put, has } from '../api.js';
import { h, replace, section, table, timeEl, notify, field, isoTime, badge } from '../dom.js';
import { onFleet } from '../live.js';
import { progressBar } from '../charts.js';

function rolloutBar(r) {
  if (!r) return '—';
  return h('div', { class: 'bar-cell' }, progressBar('Configuration rollout', [
    { label: 'applied', value: r.applied, kind: 'ok' },
    { label: 'rejected', value: r.rejected, kind: 'bad' },
    { label: 'pending', value: r.pending, kind: 'info' },
  ], r.terminals), h('small', { text: `${r.applied}/${r.terminals} applied${r.rejected ? `, ${r.rejected} rejected` : ''}` }));
}

export async function render(main, params) {
  if (!(await has('GET', '/api/v1/configs'))) {
    replace(main, h('h1', { text: 'Configuration' }), h('p', { class: 'muted', text: 'Configuration documents are not available on this server.' }));
    return;
  }
  return params.id === undefined ? list(main) : one(main, params.id);
}

async function list(main) {
  const body = h('div');
  const parts = [h('h1', { text: 'Configuration' }), section('Documents', body)];
  if (can('operate')) {
    const id = h('input', { type: 'text', required: true, pattern: '[a-z0-9][a-z0-9_-]{0,63}', autocomplete: 'off' });
    const name = h('input', { type: 'text', required: true, maxlength: 128 });
    const doc = h('textarea', { rows: 12, required: true, spellcheck: 'false', class: 'code', value: '{\n  "v": 1\n}' });
    const form = h('form', { class: 'stack', 'aria-label': 'New configuration document', onSubmit: async (e) => {
      e.preventDefault();
      let parsed;
      try { parsed = JSON.parse(doc.value); } catch (err) { notify(`Not valid JSON: ${err.message}`, 'error'); doc.focus(); return; }
      try {
        const r = await post('/api/v1/configs', { id: id.value.trim(), name: name.value.trim(), document: parsed });
        notify(`Created ${r.id} version ${r.version}.`, 'ok');
        location.hash = `#/config/${encodeURIComponent(r.id)}`;
      } catch (err) { notify(`Not created: ${err.message}`, 'error'); }
    } }, field('Id', id, 'lower case, digits, - and _'), field('Name', name), field('Document (JSON)', doc, 'Validated against the terminal configuration schema.'), h('button', { type: 'submit', class: 'primary', text: 'Create' }));
    parts.push(h('details', { class: 'card' }, h('summary', { text: 'New document' }), form));
  }
  replace(main, ...parts);
  async function draw() {
    try {
      const r = await get('/api/v1/configs');
      const docs = await Promise.all(r.configs.map((d) => get(`/api/v1/configs/${encodeURIComponent(d.id)}`).catch(() => d)));
      replace(body, table('!Configuration documents', [
        { label: 'Document', cell: (d) => h('a', { href: `#/config/${encodeURIComponent(d.id)}`, text: `${d.name} (${d.id})` }) },
        { label: 'Version', cell: (d) => String(d.version), class: 'num' },
        { label: 'Updated', cell: (d) => timeEl(d.updatedAt) },
        { label: 'By', cell: (d) => d.updatedBy },
        { label: 'Assigned to', cell: (d) => (d.assignments ?? []).map((a) => `${a.scope}:${a.target}`).join(', ') || '—' },
        { label: 'Rollout', cell: (d) => rolloutBar(d.rollout) },
      ], docs, 'No configuration documents yet.'));
    } catch (e) { replace(body, h('p', { class: 'error', text: `Could not load: ${e.message}` })); }
  }
  await draw();
  return onFleet((k) => { if (k.includes('config')) draw(); });
}

async function one(main, id) {
  let doc;
  try { doc = await get(`/api/v1/configs/${encodeURIComponent(id)}`); } catch (e) {
    if (e instanceof ApiError && e.status === 404) { replace(main, h('h1', { text: id }), h('p', { text: 'No such configuration document.' })); return; }
    throw e;
  }
  const operator = can('operate');
  const head = h('div');
  const rolloutBox = h('div');
  const editor = h('textarea', { rows: 24, spellcheck: 'false', class: 'code', readonly: !operator, 'aria-describedby': 'doc-hint' });
  const hint = h('small', { id: 'doc-hint', class: 'hint' });
  const versions = h('div');
  const assignments = h('div');
  let loadedVersion = doc.version;

  const save = h('button', { type: 'submit', class: 'primary', text: 'Save new version' });
  const form = h('form', { class: 'stack', 'aria-label': 'Edit document', onSubmit: async (e) => {
    e.preventDefault();
    let parsed;
    try { parsed = JSON.parse(editor.value); } catch (err) { notify(`Not valid JSON: ${err.message}`, 'error'); editor.focus(); return; }
    try {
      const r = await put(`/api/v1/configs/${encodeURIComponent(id)}`, { document: parsed, expectedVersion: loadedVersion });
      notify(`Saved version ${r.version}; pushed to ${r.pushed} terminal(s).`, 'ok');
      await reload();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'SRV_ERR_VERSION_MISMATCH') notify('Someone saved a newer version meanwhile. Reload to see it; your edit was not saved.', 'error');
      else notify(`Not saved: ${err.message}`, 'error');
    }
  } }, field('Document (JSON)', editor), hint, operator ? h('div', { class: 'buttons' }, save, h('button', { type: 'button', onClick: () => reload(), text: 'Reload' })) : null);

  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/config', text: 'Configuration' }), ' / ', id), head,
    section('Document', form),
    h('div', { class: 'grid2' }, section('Assignments', assignments), section('Versions', versions)));

  function drawHead() {
    replace(head, h('h1', {}, `${doc.name} `, h('small', { class: 'muted', text: `${doc.id} · version ${doc.version}` })),
      h('p', {}, 'sha256 ', h('code', { text: doc.sha256 })), rolloutBox);
    replace(rolloutBox, rolloutBar(doc.rollout));
    editor.value = JSON.stringify(doc.document, null, 2);
    // Secrets (the library's SIP2 password) are never sent to the page: only whether one is set.
    const secret = ' The SIP2 password shows as {"set": true}: leave it to keep the password, write the new one as text to replace it, or {"set": false} to clear it.';
    hint.textContent = operator ? `Editing version ${loadedVersion}; saving creates a new version only if nobody saved since.${doc.document?.library === undefined ? '' : secret}` : 'Read only for your role.';
  }

  async function drawAssignments() {
    const rows = doc.assignments ?? [];
    const parts = [table('!Assignments', [
      { label: 'Scope', cell: (a) => a.scope },
      { label: 'Target', cell: (a) => (a.scope === 'terminal' ? h('a', { href: `#/terminals/${encodeURIComponent(a.target)}`, text: a.target }) : a.target) },
    ], rows, 'Not assigned.')];
    if (operator) {
      const groups = await get('/api/v1/groups').catch(() => ({ groups: [] }));
      const sel = h('select', {}, groups.groups.map((g) => h('option', { value: g.id, text: `${g.name} (${g.id})` })));
      parts.push(h('form', { class: 'inline', onSubmit: async (e) => {
        e.preventDefault();
        try {
          const r = await put(`/api/v1/groups/${encodeURIComponent(sel.value)}/config`, { configId: id });
          notify(`Assigned to group ${sel.value}; pushed to ${r.pushed} terminal(s).`, 'ok');
          await reload();
        } catch (err) { notify(`Not assigned: ${err.message}`, 'error'); }
      } }, field('Assign to group', sel), h('button', { type: 'submit', text: 'Assign' })));
    }
    replace(assignments, parts);
  }

  async function drawVersions() {
    const r = await getOptional('GET', '/api/v1/configs/{id}/versions', `/api/v1/configs/${encodeURIComponent(id)}/versions`);
    replace(versions, r === undefined ? h('p', { class: 'muted', text: 'Not available.' }) : table('!Versions', [
      { label: 'Version', cell: (v) => (v.version === doc.version ? [String(v.version), ' ', badge('current', 'ok')] : String(v.version)) },
      { label: 'Created', cell: (v) => isoTime(v.createdAt) },
      { label: 'By', cell: (v) => v.createdBy },
      { label: 'sha256', cell: (v) => h('code', { text: v.sha256.slice(0, 12) }) },
    ], r.versions));
  }

  async function reload() {
    doc = await get(`/api/v1/configs/${encodeURIComponent(id)}`);
    loadedVersion = doc.version;
    drawHead();
    await Promise.all([drawAssignments(), drawVersions()]);
  }
  drawHead();
  await Promise.all([drawAssignments(), drawVersions()]);
  return onFleet(async (k) => {
    if (!k.includes('config')) return;
    const fresh = await get(`/api/v1/configs/${encodeURIComponent(id)}`).catch(() => null);
    if (fresh) replace(rolloutBox, rolloutBar(fresh.rollout));
  });
}
