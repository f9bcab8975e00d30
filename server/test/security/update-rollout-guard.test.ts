/**
 * Red team, software updates: an operator cannot force a fleet back to an older signed package
 * (a downgrade or reinstall needs the admin role and an explicit `allowDowngrade`, and is
 * audited), and a terminal can download only a package of a rollout that targets it.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import updatesPlugin from '../../src/updates/plugin.ts';
import { buildPackage, generateSigningKey, loadSigningKey, signPackage } from '../../src/updates/package-io.ts';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'onecard-upd-guard-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function setup(t: { teardown(fn: () => unknown): void }): Promise<{ ta: TestApp; upload(version: string): Promise<string>; terminal(group: string, software: string): Promise<{ id: string; basic: string }> }> {
  const key = generateSigningKey();
  const ta = await makeTestApp();
  await ta.app.register(updatesPlugin, { packageDir: join(dir, `pk-${Math.random().toString(36).slice(2)}`), trustedKeys: [key.publicKey], tickMs: 0 });
  t.teardown(() => ta.app.close());
  const upload = async (version: string): Promise<string> => {
    const src = join(dir, `src-${version}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(src);
    writeFileSync(join(src, 'main.js'), version);
    const out = `${src}.ocpkg`;
    await buildPackage({ from: src, out, version, minPreviousVersion: '0.1.0' });
    const sig = await signPackage(out, loadSigningKey(key.privateKey));
    const r = await ta.app.inject({ method: 'POST', url: '/api/v1/updates/packages', headers: { ...ta.auth(), 'content-type': 'application/octet-stream', 'x-onecard-signature': Buffer.from(sig).toString('base64') }, payload: readFileSync(out) });
    return (r.json() as { id: string }).id;
  };
  const terminal = async (group: string, software: string) => {
    if ((await ta.app.ctx.store.getGroup(group)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: group, name: group } });
    const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: group } })).json() as { token: string };
    const e = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey(), kind: 'kiosk' } })).json() as { terminalId: string; mqtt: { password: string } };
    await ta.app.uplink.dispatch('birth', e.terminalId, { v: 1, epoch: 1, ts: 1, versions: { software, config: 0, keys: 0, hotlist: 0 }, readers: [] }, '');
    return { id: e.terminalId, basic: `Basic ${Buffer.from(`${e.terminalId}:${e.mqtt.password}`).toString('base64')}` };
  };
  return { ta, upload, terminal };
}

t.test('a downgrade needs an admin and allowDowngrade, and is audited', async (t) => {
  const { ta, upload, terminal } = await setup(t);
  const { app, auth } = ta;
  const old = await upload('1.0.0');
  await upload('2.0.0');
  const term = await terminal('g1', '2.0.0');
  const op = await ta.tokenFor('operator');
  const body = { packageId: old, target: { groups: ['g1'] }, phases: [{ percent: 100 }] };

  for (const force of [{ force: true }, { allowDowngrade: true }]) {
    const r = await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(op), payload: { ...body, ...force } });
    t.equal(r.statusCode, 403, `operator with ${JSON.stringify(force)} refused`);
    t.equal(r.json().error.code, 'SRV_ERR_UPDATE_DOWNGRADE');
  }
  t.equal((await app.ctx.store.updates.listRollouts()).length, 0, 'no rollout was created');

  const plain = (await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(op), payload: body })).json() as { id: string; terminals: { id: string; status: string; reason: string | null }[] };
  t.match(plain.terminals, [{ id: term.id, status: 'skipped' }], 'without it, a terminal on a newer version is never downgraded');
  await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${plain.id}/abort`, headers: auth(op), payload: {} });

  const forced = await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: { ...body, allowDowngrade: true } });
  t.equal(forced.statusCode, 201, 'an admin may, explicitly');
  const id = (forced.json() as { id: string }).id;
  t.match(forced.json(), { force: true, terminals: [{ id: term.id, status: 'notified' }] });
  t.match(await app.ctx.store.listAudit({ action: 'rollout.downgrade-allowed' }), [{ target: id, details: { version: '1.0.0' } }]);
});

t.test('a terminal downloads only packages of rollouts that target it', async (t) => {
  const { ta, upload, terminal } = await setup(t);
  const { app, auth } = ta;
  const pkg = await upload('1.1.0');
  const other = await upload('1.2.0');
  const inside = await terminal('g1', '1.0.0');
  const outside = await terminal('g2', '1.0.0');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: { packageId: pkg, target: { groups: ['g1'] }, phases: [{ percent: 100 }] } })).statusCode, 201);

  for (const part of ['archive', 'signature']) {
    const url = (id: string) => `/api/v1/terminal/updates/packages/${id}/${part}`;
    t.equal((await app.inject({ url: url(pkg), headers: { authorization: inside.basic } })).statusCode, 200, `targeted terminal gets the ${part}`);
    const refused = await app.inject({ url: url(pkg), headers: { authorization: outside.basic } });
    t.equal(refused.statusCode, 404, `a terminal outside the rollout gets no ${part}`);
    t.equal(refused.json().error.code, 'SRV_ERR_NOT_FOUND');
    t.equal((await app.inject({ url: url(other), headers: { authorization: inside.basic } })).statusCode, 404, `no ${part} of a package no rollout sends it`);
  }
});

t.test('package upload, rollout creation and pause commit with their audit entries or not at all', async (t) => {
  const { ta, upload, terminal } = await setup(t);
  const { app, auth } = ta;
  const db = (app.ctx.store as unknown as { db: { exec(sql: string): void } }).db;
  await terminal('g1', '1.0.0');
  db.exec("CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  await upload('1.1.0').catch(() => undefined);
  db.exec('DROP TRIGGER temp.audit_fails');
  t.same(await app.ctx.store.updates.listPackages(), [], 'no package without its audit entry');
  const pkg = await upload('1.1.0');
  t.equal((await app.ctx.store.listAudit({ action: 'update-package.upload' })).length, 1);

  const body = { packageId: pkg, target: { groups: ['g1'] }, phases: [{ percent: 100 }] };
  db.exec("CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: body })).statusCode, 500);
  db.exec('DROP TRIGGER temp.audit_fails');
  t.same(await app.ctx.store.updates.listRollouts(), [], 'no rollout without its audit entry');
  t.same((await app.inject({ url: '/api/v1/updates/rollouts', headers: auth() })).json(), { rollouts: [] }, 'nor in memory');

  const ro = (await app.inject({ method: 'POST', url: '/api/v1/updates/rollouts', headers: auth(), payload: body })).json() as { id: string };
  db.exec("CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/pause`, headers: auth(), payload: {} })).statusCode, 500);
  db.exec('DROP TRIGGER temp.audit_fails');
  t.match((await app.inject({ url: `/api/v1/updates/rollouts/${ro.id}`, headers: auth() })).json(), { status: 'active' }, 'not paused without its audit entry');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/updates/rollouts/${ro.id}/pause`, headers: auth(), payload: {} })).statusCode, 200);
  t.same((await app.ctx.store.listAudit({})).filter((e) => e.action.startsWith('rollout.') && e.actor !== 'system').map((e) => e.action).reverse(), ['rollout.create', 'rollout.pause'], 'each admin action audited once');
});
