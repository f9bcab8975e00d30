// Transit key sets, metadata only: versions, key check values (KCVs) and where each set is
// assigned — never key material. The server's key API is expected at
//   GET /api/v1/key-sets → { keySets: [{ id, name?, version, kcvs | keys: [{ slot|name, kcv }], assignments?, createdAt }] }
// When the server has no such route the page says "No key sets" and that the feature is missing.

import { getOptional } from '../api.js';
import { h, replace, section, table, timeEl } from '../dom.js';

function kcvList(k) {
  if (Array.isArray(k.keys)) return k.keys.map((x) => `${x.slot ?? x.name ?? x.id ?? '?'}: ${x.kcv ?? '—'}`).join(' · ');
  if (k.kcvs && typeof k.kcvs === 'object') return Object.entries(k.kcvs).map(([s, v]) => `${s}: ${v}`).join(' · ');
  return k.kcv ?? '—';
}

export async function render(main) {
  const body = h('div', { id: 'key-sets' });
  replace(main, h('h1', { text: 'Key sets' }), section('Transit key sets (metadata only)', body));
  try {
    const r = await getOptional('GET', '/api/v1/key-sets', '/api/v1/key-sets');
    if (r === undefined) { replace(body, h('p', { class: 'muted', id: 'keys-empty', text: 'No key sets: key distribution is not available on this server.' })); return; }
    const list = r.keySets ?? r.keysets ?? [];
    replace(body, table('!Key sets', [
      { label: 'Key set', cell: (k) => k.name ? `${k.name} (${k.id})` : k.id },
      { label: 'Version', cell: (k) => String(k.version ?? '—'), class: 'num' },
      { label: 'KCVs', cell: (k) => h('code', { text: kcvList(k) }) },
      { label: 'Assigned to', cell: (k) => (k.assignments ?? []).map((a) => (typeof a === 'string' ? a : `${a.scope ?? 'group'}:${a.target ?? a.groupId}`)).join(', ') || '—' },
      { label: 'Terminals acknowledged', cell: (k) => (k.acknowledged !== undefined ? `${k.acknowledged}/${k.terminals ?? '?'}` : '—') },
      { label: 'Imported', cell: (k) => timeEl(k.createdAt ?? k.importedAt) },
    ], list, 'No key sets imported yet.'), h('p', { class: 'muted', text: 'Key material never reaches the dashboard; key custodians import wrapped key sets with the CLI.' }));
  } catch (e) { replace(body, h('p', { class: 'error', text: `Could not load: ${e.message}` })); }
}
