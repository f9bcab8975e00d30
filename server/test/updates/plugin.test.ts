/** The updates plugin through inject(): roles, rollout controls, late joiners via birth, progress via uplink. */
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import updatesPlugin, { progressStatus } from '../../src/updates/plugin.ts';
import { buildPackage, generateSigningKey, loadSigningKey, signPackage } from '../../src/updates/package-io.ts';
import { makeTestApp, newTerminalKey } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'onecard-upd-plugin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('rollout controls over the API', async (t) => {
  const key = generateSigningKey();
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'main.js'), '1');
  const out = join(dir, 'p.ocpkg');
  await buildPackage({ from: src, out, version: '1.1.0', minPreviousVersion: '1.0.0' });
  const sig = await signPackage(out, loadSigningKey(key.privateKey));
  const { app, auth, tokenFor, clock } = await makeTestApp();
  await app.register(updatesPlugin, { packageDir: join(dir, 'pk'), trustedKeys: [key.publicKey], tickMs: 0 });
  t.teardown(() => app.close());
  const viewer = await tokenFor('viewer');
  const up = (token?: string) => app.inject({ method: 'POST', url: '/api/v1/updates/packages', headers: { ...auth(token), 'content-type': 'application/octet-stream', 'x-onecard-signature': Buffer.from(sig).toString('base64') }, payload: readFileSync(out) });
  t.equal((await up(viewer)).statusCode, 403, 'viewers cannot upload');
  const noSig = await app.inject({ method: 'POST', url: '/api/v1/updates/packages', headers: { ...auth(), 'content-type': 'application/octet-stream' }, payload: readFileSync(out) });
  t.equal(noSig.json().error.code, 'SRV_ERR_UPDATE_SIGNATURE');
  const pkg = (await up()).json() as { id: string; seq: number; signature?: string };
  t.equal(pkg.signature, undefined, 'signature text not in the listing');

  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g1', name: 'G1' } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const tok = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g1' } })).json() as { token: string };
    const e = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey(), kind: 'kiosk' } })).json() as { terminalId: string };
    ids.push(e.terminalId);
    if (i < 2) await app.uplink.dispatch('birth', e.terminalId, { v: 1, epoch: 1, ts: 1, versions: { software: '1.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [] }, '');
  }
  const body = { packageId: pkg.id, target: { groups: ['g1'] }, phases: [{ size: 1 }, { percent: 100 }], ratePerMinute: 1 };
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(viewer), payload: body })).statusCode, 403);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: { ...body, phases: [] } })).statusCode, 400);
  const ro = (await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: body })).json() as { id: string; terminals: { id: string; status: string; reason: string | null }[] };
  t.equal(ro.terminals.filter((x) => x.status === 'notified').length, 1, 'phase 1: one terminal');
  t.equal(ro.terminals.filter((x) => x.status === 'pending' || (x.status === 'skipped' && x.reason === 'version-unknown')).length, 2);
  const first = ro.terminals.find((x) => x.status === 'notified')!.id;
  const get = async () => (await app.inject({ method: 'GET', url: `/api/v1/updates/rollouts/${ro.id}`, headers: auth(viewer) })).json() as { status: string; phase: number; terminals: { id: string; status: string; reason: string | null }[] };

  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/resume`, headers: auth() })).statusCode, 409, 'resume an active rollout');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/pause`, headers: auth() })).statusCode, 200);
  await app.uplink.dispatch('jobs', first, { v: 1, status: 'succeeded', step: 'committed' }, ro.id);
  t.equal((await get()).status, 'paused', 'progress recorded while paused, nothing started');
  t.equal((await get()).terminals.find((x) => x.id === first)!.status, 'succeeded');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/resume`, headers: auth() })).statusCode, 200);
  let s = await get();
  t.equal(s.phase, 2);
  t.equal(s.terminals.filter((x) => x.status === 'notified').length, 0, 'rate limit 1/min: the minute is used up');
  t.ok(s.terminals.find((x) => x.id === ids[2]), 'the terminal without a birth is a target');
  clock.advance(61_000);
  await app.updates.tick();
  s = await get();
  t.equal(s.terminals.filter((x) => x.status === 'notified').length, 1, 'next minute: one more');
  clock.advance(61_000);
  await app.updates.tick();
  s = await get();
  t.equal(s.terminals.find((x) => x.id === ids[2])!.reason, 'version-unknown', 'unknown version is skipped, not guessed');

  // A terminal enrolled later joins through its birth.
  const tok = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g1' } })).json() as { token: string };
  const late = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey(), kind: 'kiosk' } })).json() as { terminalId: string };
  await app.uplink.dispatch('birth', late.terminalId, { v: 1, epoch: 1, ts: 1, versions: { software: '1.0.3', config: 0, keys: 0, hotlist: 0 }, readers: [] }, '');
  clock.advance(61_000);
  await app.updates.tick();
  t.equal((await get()).terminals.find((x) => x.id === late.terminalId)?.status, 'notified', 'late joiner started');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/abort`, headers: auth(), payload: { reason: 'enough' } })).statusCode, 200);
  t.equal((await get()).status, 'aborted');
  const actions = (await app.ctx.store.listAudit({ limit: 100 })).map((a) => a.action);
  for (const a of ['update-package.upload', 'rollout.create', 'rollout.pause', 'rollout.resume', 'rollout.abort', 'rollout.aborted']) t.ok(actions.includes(a), `${a} audited`);
});

t.test('progress mapping', async (t) => {
  t.equal(progressStatus({ v: 1, status: 'in-progress', step: 'verifying' }), 'downloading');
  t.equal(progressStatus({ v: 1, status: 'in-progress', step: 'switching' }), 'installing');
  t.equal(progressStatus({ v: 1, status: 'in-progress', step: 'health-check' }), 'health-check');
  t.equal(progressStatus({ v: 1, status: 'failed', step: 'rolled-back' }), 'rolled-back');
  t.equal(progressStatus({ v: 1, status: 'failed', step: 'downloading' }), 'failed');
  t.equal(progressStatus({ v: 1, status: 'rejected', step: 'verifying' }), 'failed');
  t.equal(progressStatus({ v: 1, status: 'in-progress', step: 'other' }), undefined);
});
