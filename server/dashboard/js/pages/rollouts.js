// Software rollouts: each rollout's phases with live progress (succeeded / failed / in progress
// / pending), its state and abort reason, and controls for operators (start, pause, resume,
// abort). The server's rollout API (docs/updates.md, server/src/updates/plugin.ts):
//   GET  /api/v1/updates/rollouts         → { rollouts: [{ id, packageId, targetVersion, status, target, phase, phases, counts: { total, started, <status>: n }, … }] }
//   GET  /api/v1/updates/rollouts/{id}    → the same with `terminals: [{ id, status, phase, … }]` (per-phase counts)
//   POST /api/v1/updates/rollouts         ← { packageId, target: { groups?, tags? }, phases: [{ percent | size }], maxFailures?, force? }
//   POST /api/v1/updates/rollouts/{id}/pause | /resume | /abort   ← { reason? }
//   GET  /api/v1/updates/packages         → { packages: [{ id, name, version }] }   (for the start form)
// When the server has no such routes the page says so; it refreshes on job progress from the
// live feed and polls every 5 s while a rollout is active.

import { ENDPOINTS, can, get, getOptional, has, post } from '../api.js';
import { h, replace, section, table, timeEl, notify, field, badge } from '../dom.js';
import { onFleet } from '../live.js';
import { progressBar } from '../charts.js';

const STATE_KIND = { active: 'info', running: 'info', paused: 'warn', aborted: 'bad', failed: 'bad', completed: 'ok', succeeded: 'ok', pending: 'muted' };

function num(...vals) { for (const v of vals) if (typeof v === 'number') return v; return 0; }

const IN_FLIGHT = ['notified', 'downloading', 'installing', 'health-check'];

/** Normalised counts of a rollout or phase (flat counts, or `{ total, byStatus }`). */
export function countsOf(x) {
  const c = x.counts ?? x.progress ?? x;
  // The server's rollout view: `{ total, started, pending, notified, …, succeeded, failed }` flat.
  const flat = typeof c.started === 'number' && c.byStatus === undefined ? { total: c.total, byStatus: c } : undefined;
  if (flat !== undefined || (c.byStatus && typeof c.byStatus === 'object')) {
    const b = (flat ?? c).byStatus;
    const succeeded = num(b.succeeded);
    const failed = num(b.failed) + num(b['rolled-back']);
    const inProgress = IN_FLIGHT.reduce((a, k) => a + num(b[k]), 0);
    const pending = num(b.pending);
    return { succeeded, failed, inProgress, pending, skipped: num(b.skipped), total: num((flat ?? c).total, succeeded + failed + inProgress + pending + num(b.skipped)) };
  }
  const succeeded = num(c.succeeded, c.success, c.successes);
  const failed = num(c.failed, c.failures);
  const inProgress = num(c.inProgress, c['in-progress'], c.running);
  const total = num(c.total, c.terminals, x.size);
  const pending = num(c.pending, Math.max(0, total - succeeded - failed - inProgress));
  return { succeeded, failed, inProgress, pending, total: Math.max(total, succeeded + failed + inProgress + pending) };
}

function bar(label, x) {
  const c = countsOf(x);
  return h('div', { class: 'bar-cell' }, progressBar(label, [
    { label: 'succeeded', value: c.succeeded, kind: 'ok' },
    { label: 'failed', value: c.failed, kind: 'bad' },
    { label: 'in progress', value: c.inProgress, kind: 'info' },
  ], c.total), h('small', { text: `${c.succeeded} ok · ${c.failed} failed · ${c.inProgress} running · ${c.pending} pending${c.skipped ? ` · ${c.skipped} skipped` : ''} of ${c.total}` }));
}

/** Phases with their state (and per-phase counts when per-terminal entries are given). */
function phasesFromPlan(r) {
  const specs = r.plan?.phases ?? r.phases ?? [];
  const entries = r.terminals && typeof r.terminals === 'object' ? Object.values(r.terminals) : [];
  return specs.map((spec, i) => {
    const byStatus = {};
    let total = 0;
    for (const e of entries) if (e.phase === i) { byStatus[e.status] = (byStatus[e.status] ?? 0) + 1; total++; }
    const current = r.phaseIndex ?? (typeof r.phase === 'number' ? r.phase - 1 : 0);
    const status = i < current ? 'completed' : i === current ? (r.status === 'active' ? 'running' : r.status) : 'pending';
    return { index: i, ...spec, status, counts: { total, byStatus } };
  });
}

export async function render(main) {
  const available = await has('GET', ENDPOINTS.rollouts);
  const body = h('div', { id: 'rollouts' });
  const parts = [h('h1', { text: 'Rollouts' })];
  if (!available) {
    replace(main, ...parts, section('Rollouts', h('p', { class: 'muted', id: 'rollouts-empty', text: 'No rollouts: software rollouts are not available on this server.' })));
    return;
  }
  if (can('operate') && (await has('POST', ENDPOINTS.rollouts))) parts.push(await startForm(() => draw()));
  parts.push(section('Rollouts', body));
  replace(main, ...parts);

  let active = false;
  async function draw() {
    try {
      const r = await getOptional('GET', ENDPOINTS.rollouts, ENDPOINTS.rollouts);
      const list = r?.rollouts ?? [];
      active = list.some((x) => x.status === 'active' || x.status === 'running');
      if (list.length === 0) { replace(body, h('p', { class: 'empty', id: 'rollouts-empty', text: 'No rollouts.' })); return; }
      // The list has overall counts only; each rollout's own view has its terminals (per-phase counts).
      const full = await Promise.all(list.map((x) => get(ENDPOINTS.rollout(x.id)).catch(() => x)));
      replace(body, full.map(card));
    } catch (e) { replace(body, h('p', { class: 'error', text: `Could not load: ${e.message}` })); }
  }

  function card(r) {
    const threshold = r.maxFailures ?? r.failureThreshold ?? r.plan?.maxFailures;
    const target = r.target ? [...(r.target.groups ?? []).map((g) => `group ${g}`), ...(r.target.tags ?? []).map((t) => `tag ${t}`)].join(', ') : '—';
    const controls = h('div', { class: 'actions' });
    if (can('operate')) {
      const act = (verb, cls) => h('button', { type: 'button', class: cls, 'data-action': verb, onClick: () => control(r, verb), text: verb[0].toUpperCase() + verb.slice(1) });
      if (r.status === 'active' || r.status === 'running') controls.append(act('pause'), act('abort', 'danger'));
      else if (r.status === 'paused') controls.append(act('resume'), act('abort', 'danger'));
    }
    const phases = phasesFromPlan(r);
    return h('article', { class: 'card rollout', 'data-rollout': r.id, 'aria-labelledby': `ro-${r.id}` },
      h('div', { class: 'page-head' }, h('h2', { id: `ro-${r.id}` }, `${r.name ?? r.id} `, badge(r.status ?? 'unknown', STATE_KIND[r.status] ?? 'muted')), controls),
      h('p', { class: 'muted' }, `version ${r.targetVersion ?? r.version ?? r.plan?.targetVersion ?? r.packageId ?? '—'} · target ${target} · started `, timeEl(r.createdAt ?? r.startedAt),
        threshold !== undefined ? ` · aborts at ${threshold} failure${threshold === 1 ? '' : 's'}` : ''),
      r.status === 'aborted' ? h('p', { class: 'error', role: 'note', text: `Aborted (${r.abortReason ?? 'unknown'}): ${r.detail ?? r.reason ?? ''}` }) : null,
      r.status === 'paused' && r.pauseReason ? h('p', { class: 'muted', role: 'note', text: `Paused (${r.pauseReason}): ${r.detail ?? ''}` }) : null,
      bar('Overall progress', r),
      phases.length ? table('!Phases', [
        { label: 'Phase', cell: (p) => String((p.index ?? phases.indexOf(p)) + 1) },
        { label: 'Size', cell: (p) => (p.percent !== undefined ? `${p.percent}%` : String(p.size ?? countsOf(p).total)) },
        { label: 'State', cell: (p) => badge(p.status ?? '—', STATE_KIND[p.status] ?? 'muted') },
        { label: 'Progress', cell: (p) => bar(`Phase ${(p.index ?? phases.indexOf(p)) + 1}`, p) },
      ], phases) : null);
  }

  async function control(r, verb) {
    let reason;
    if (verb === 'abort') {
      reason = prompt(`Abort rollout ${r.id}? Terminals not yet updated stay on their version.\nReason:`, 'aborted by operator');
      if (reason === null) return;
    }
    try {
      await post(`${ENDPOINTS.rollout(r.id)}/${verb}`, reason !== undefined ? { reason } : {});
      notify(`Rollout ${r.id}: ${verb} requested.`, 'ok');
      draw();
    } catch (e) { notify(`Could not ${verb}: ${e.message}`, 'error'); }
  }

  await draw();
  let t = null;
  const off = onFleet((k) => { if (k.includes('jobs') && t === null) t = setTimeout(() => { t = null; draw(); }, 1000); });
  const poll = setInterval(() => { if (active) draw(); }, 5000);
  return () => { off(); clearInterval(poll); clearTimeout(t); };
}

async function startForm(onStarted) {
  const pk = await getOptional('GET', ENDPOINTS.packages, ENDPOINTS.packages).catch(() => undefined);
  const pkg = pk?.packages?.length
    ? h('select', { required: true }, pk.packages.map((p) => h('option', { value: p.id, text: `${p.name ?? ''} ${p.version} (${p.id})` })))
    : h('input', { type: 'text', required: true, autocomplete: 'off', placeholder: 'package id' });
  const groups = await get('/api/v1/groups').catch(() => ({ groups: [] }));
  const group = h('select', { multiple: true, size: Math.min(5, Math.max(2, groups.groups.length)) }, groups.groups.map((g) => h('option', { value: g.id, text: `${g.name} (${g.id})` })));
  const tags = h('input', { type: 'text', autocomplete: 'off', placeholder: 'kind:kiosk city:sz' });
  const phases = h('input', { type: 'text', required: true, value: '10 50 100', pattern: '\\s*\\d{1,3}(\\s+\\d{1,3})*\\s*' });
  const failures = h('input', { type: 'number', min: 1, value: 3, required: true });
  const force = h('input', { type: 'checkbox' });
  const form = h('form', { class: 'stack', 'aria-label': 'Start a rollout', id: 'rollout-form', onSubmit: async (e) => {
    e.preventDefault();
    const body = {
      packageId: pkg.value.trim(),
      target: { groups: [...group.selectedOptions].map((o) => o.value), tags: tags.value.split(/\s+/).filter(Boolean) },
      phases: phases.value.trim().split(/\s+/).map((p) => ({ percent: Number(p) })),
      maxFailures: Number(failures.value),
      ...(force.checked ? { force: true } : {}),
    };
    try {
      const r = await post(ENDPOINTS.rollouts, body);
      notify(`Rollout ${r.id ?? ''} started.`, 'ok');
      onStarted();
    } catch (err) { notify(`Not started: ${err.message}`, 'error'); }
  } },
  field('Package', pkg), field('Target groups', group), field('Target tags', tags, 'space separated'),
  field('Phases (cumulative % of targets)', phases, 'e.g. 10 50 100'), field('Abort after this many failures', failures),
  h('div', { class: 'field check' }, force, h('label', { for: (force.id = 'ro-force'), text: 'Allow downgrade (force)' })),
  h('button', { type: 'submit', class: 'primary', text: 'Start rollout' }));
  return h('details', { class: 'card' }, h('summary', { text: 'Start a rollout' }), form);
}
