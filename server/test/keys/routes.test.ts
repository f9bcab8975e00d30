// Key-set routes over inject(): roles, the import format and its refusals, metadata-only views,
// clear keys never accepted or returned, per-terminal delivery under the KBPK, the KCV check,
// rotation with a deadline and purge, time-outs, and the master-key rules.
import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { unwrapKeyBlock } from '@onecard/protocol/crypto';
import { decodeFleetMessage, deriveKbpk, keySetCheckValue } from '@onecard/protocol/fleet';
import { makeTestApp, type TestApp } from '../helpers.ts';
import { importKbpk, purseKeyBlock, wrapKeySetForImport, type PurseKeyMaterial } from '../../src/keys/key-crypto.ts';

const MPK = fromHex('544553542D4D504B2D334445532D3031');
const MTK = fromHex('544553542D4D544B2D334445532D3031');
const MPK2 = fromHex('00112233445566778899AABBCCDDEEFF');
const MTK2 = fromHex('FFEEDDCCBBAA99887766554433221100');
const SECRETS = [MPK, MTK, MPK2, MTK2].flatMap((k) => [toHex(k).toUpperCase(), toHex(k).toLowerCase(), Buffer.from(k).toString('base64'), Buffer.from(k).toString('latin1')]);
const set1: PurseKeyMaterial[] = [{ usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, key: MPK }, { usage: '62', keyVersion: 1, algorithmId: 0, levels: 2, key: MTK }];
const set2: PurseKeyMaterial[] = [{ usage: '61', keyVersion: 2, algorithmId: 0, levels: 2, key: MPK2 }, { usage: '62', keyVersion: 2, algorithmId: 0, levels: 2, key: MTK2 }];

/** Every response body the test saw, scanned at the end for key material. */
const seen: string[] = [];

async function setup(withMaster = true) {
  const ta = await makeTestApp(withMaster ? { masterKey: new Uint8Array(randomBytes(32)) } : {});
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string | undefined, payload?: unknown) => {
    const r = await ta.app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
    seen.push(r.body);
    return { status: r.statusCode, body: (r.body.length > 0 ? r.json() : {}) as Record<string, any> };
  };
  return { ta, call };
}

async function enrolTerminal(ta: TestApp, groupId: string): Promise<{ terminalId: string; password: string; privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'] }> {
  if ((await ta.app.ctx.store.getGroup(groupId)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: groupId, name: groupId } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password, privateKey };
}

t.test('without a master key every key route refuses with a coded error', async (t) => {
  const { ta, call } = await setup(false);
  t.teardown(() => ta.app.close());
  for (const [m, u] of [['GET', '/api/v1/key-sets'], ['GET', '/api/v1/key-sets/import-key'], ['POST', '/api/v1/key-sets'], ['GET', '/api/v1/key-jobs']] as const) {
    const r = await call(m, u, ta.adminToken, m === 'POST' ? { keySetId: 'x', ...wrapKeySetForImport(ta.app.ctx.keys.publicKeySpki, 'x', set1) } : undefined);
    t.equal(r.status, 503, `${m} ${u}`);
    t.equal(r.body.error.code, 'SRV_ERR_KEYS_NO_MASTER_KEY');
  }
  const term = await enrolTerminal(ta, 'g');
  const r = await ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs/kj_x/key-blocks', headers: { authorization: `Bearer ${term.password}` } });
  t.equal(r.json().error.code, 'SRV_ERR_KEYS_NO_MASTER_KEY');
  t.same((await ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: { authorization: `Bearer ${term.password}` } })).json(), { v: 1, jobs: [] }, 'job listing still works');
});

t.test('roles, import, metadata only, delivery, KCV check', async (t) => {
  const { ta, call } = await setup();
  const { app } = ta;
  t.teardown(() => app.close());
  const notes: { topic: string; next: unknown }[] = [];
  app.broker.subscribe('t/+/down/jobs/notify', (p, cb) => { notes.push({ topic: p.topic, next: decodeFleetMessage('jobs/notify', new Uint8Array(p.payload as Buffer)).next }); cb(); }, () => {});
  const viewer = await ta.tokenFor('viewer');
  const operator = await ta.tokenFor('operator');
  const custodian = await ta.tokenFor('key-custodian');
  const ik = await call('GET', '/api/v1/key-sets/import-key', custodian);
  t.equal(ik.status, 200);
  t.equal(ik.body.publicKey, app.ctx.keys.publicKeySpki);
  t.equal((await call('GET', '/api/v1/key-sets/import-key', viewer)).status, 403);
  const body1 = { keySetId: 'metro', ...wrapKeySetForImport(ik.body.publicKey, 'metro', set1) };

  // Roles.
  t.equal((await call('POST', '/api/v1/key-sets', undefined, body1)).status, 401);
  t.equal((await call('POST', '/api/v1/key-sets', viewer, body1)).status, 403);
  t.equal((await call('POST', '/api/v1/key-sets', operator, body1)).body.error.code, 'SRV_ERR_FORBIDDEN');

  // Clear keys are not an accepted input shape.
  const clear = await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: body1.ephemeralPublicKey, keys: [{ block: toHex(MPK).toUpperCase() }] });
  t.equal(clear.status, 400, 'a clear key in place of a block is refused');
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: body1.ephemeralPublicKey, keys: [{ key: toHex(MPK) }] })).body.error.code, 'SRV_ERR_VALIDATION');
  // Blocks wrapped under another import key, or the wrong ephemeral key, fail the MAC.
  const other = wrapKeySetForImport(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey, 'metro', set1);
  const wrongKey = await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ...other });
  t.equal(wrongKey.body.error.code, 'SRV_ERR_KEYS_IMPORT');
  t.equal(wrongKey.body.error.details.protocolCode, 'PROTO_ERR_TR31_MAC');
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: newEphemeral(), keys: body1.keys })).body.error.code, 'SRV_ERR_KEYS_IMPORT');
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { ...body1, ephemeralPublicKey: 'A'.repeat(80) })).body.error.code, 'SRV_ERR_KEYS_IMPORT');
  // Convention, announced KCV, duplicates, purchase key required.
  const eph = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ephSpki = eph.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const kbpk = importKbpk(eph.privateKey, ik.body.publicKey, ephSpki, 'metro');
  const tac = purseKeyBlock(kbpk, set1[1]!);
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: ephSpki, keys: [{ block: tac }] })).body.error.details.reason, 'no-purchase-key');
  const mpkBlock = purseKeyBlock(kbpk, set1[0]!);
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: ephSpki, keys: [{ block: mpkBlock }, { block: mpkBlock }] })).body.error.details.reason, 'duplicate');
  t.equal((await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ephemeralPublicKey: ephSpki, keys: [{ block: mpkBlock, kcv: '000000' }] })).body.error.details.reason, 'kcv');
  t.equal((await call('GET', '/api/v1/key-sets', custodian)).body.keySets.length, 0, 'nothing stored by refused imports');

  const imp = await call('POST', '/api/v1/key-sets', custodian, body1);
  t.equal(imp.status, 201);
  t.same(imp.body.keys.map((k: { usage: string; kcv: string }) => k.usage), ['61', '62']);
  t.equal((await call('POST', '/api/v1/key-sets', ta.adminToken, { ...body1, version: 1 })).status, 409, 'version exists (admin implied custodian)');
  const list = await call('GET', '/api/v1/key-sets', viewer);
  t.equal(list.status, 200, 'viewers see metadata');
  t.same(Object.keys(list.body.keySets[0].keys[0]).sort(), ['algorithmId', 'kcv', 'keyVersion', 'levels', 'purged', 'role', 'usage']);
  t.equal((await call('GET', '/api/v1/key-sets/metro', operator)).body.versions.length, 1);
  t.equal((await call('GET', '/api/v1/key-sets/nope', viewer)).status, 404);

  // Assignment needs the custodian role and creates a job for the group's terminals.
  const a = await enrolTerminal(ta, 'gates');
  const b = await enrolTerminal(ta, 'gates');
  const c = await enrolTerminal(ta, 'other');
  // Custody: a key custodian (not the admin who enrolled them) approves each terminal's key pair.
  // Key blocks go only to terminals whose birth reported their readers (none with a PSAM).
  const born = async (e: { terminalId: string }) => app.ctx.store.updatePresence(e.terminalId, { online: true, epoch: 1, at: ta.clock.now(), reported: { readers: [{ id: 'front', link: 'serial', status: 'ok' }] } });
  const approve = async (e: { terminalId: string }) => t.equal((await call('PUT', `/api/v1/terminals/${e.terminalId}/key-approval`, custodian, { validForSeconds: 30 * 86400 })).status, 200, 'approved');
  for (const e of [a, b, c]) { await born(e); await approve(e); }
  t.equal((await call('PUT', '/api/v1/groups/gates/key-set', operator, { keySetId: 'metro', version: 1 })).status, 403);
  t.equal((await call('PUT', '/api/v1/groups/nope/key-set', custodian, { keySetId: 'metro', version: 1 })).status, 404);
  t.equal((await call('PUT', '/api/v1/groups/gates/key-set', custodian, { keySetId: 'metro', version: 7 })).status, 404);
  const as = await call('PUT', '/api/v1/groups/gates/key-set', custodian, { keySetId: 'metro', version: 1 });
  t.equal(as.status, 200);
  const job = as.body.job as { id: string; seq: number; expectedKcv: string };
  t.same(as.body.job.counts, { total: 2, queued: 2 });
  t.same(notes.filter((n) => n.topic.includes(a.terminalId)).map((n) => n.next), [{ jobId: job.id, kind: 'keys', version: job.seq }], 'retained notify published');

  const term = (e: { terminalId: string; password: string }) => ({ authorization: `Basic ${Buffer.from(`${e.terminalId}:${e.password}`).toString('base64')}` });
  const listed = (await app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: term(a) })).json();
  t.same(listed.jobs.map((j: { jobId: string; kind: string; status: string }) => [j.jobId, j.kind, j.status]), [[job.id, 'keys', 'queued']]);
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job.id}/key-blocks`, headers: term(c) })).statusCode, 404, 'not this terminal\'s job');
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job.id}/key-blocks` })).statusCode, 401);
  const kb = await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job.id}/key-blocks`, headers: term(a) });
  seen.push(kb.body);
  t.equal(kb.statusCode, 200);
  const blocks = kb.json() as { version: number; keys: { block: string; kcv: string }[] };
  t.equal(blocks.version, job.seq);
  const tk = deriveKbpk(a.privateKey, app.ctx.keys.publicKeySpki, a.terminalId);
  const u = blocks.keys.map((k) => unwrapKeyBlock(tk, k.block));
  t.same(u.map((x) => toHex(x.key).toUpperCase()), [toHex(MPK).toUpperCase(), toHex(MTK).toUpperCase()], 'wrapped under this terminal\'s KBPK');
  t.same(u.map((x) => [x.header.keyUsage, x.header.algorithm, x.header.modeOfUse, x.header.keyVersionNumber, x.header.exportability]), [['61', 'T', 'X', '01', 'N'], ['62', 'T', 'X', '01', 'N']]);
  t.same(u.map((x) => x.optionalBlocks.find((o) => o.id === 'LB')?.data), ['ALG=00;LV=2', 'ALG=00;LV=2']);
  t.throws(() => unwrapKeyBlock(deriveKbpk(b.privateKey, app.ctx.keys.publicKeySpki, b.terminalId), blocks.keys[0]!.block), { code: 'PROTO_ERR_TR31_MAC' }, 'another terminal cannot unwrap it');
  t.equal(job.expectedKcv, keySetCheckValue(blocks.keys.map((k, i) => ({ usage: u[i]!.header.keyUsage, keyVersion: 1, algorithmId: 0, kcv: k.kcv }))));

  // Progress and the KCV check.
  await app.uplink.dispatch('jobs', b.terminalId, { v: 1, status: 'succeeded' }, job.id);
  await app.uplink.dispatch('jobs', a.terminalId, { v: 1, status: 'in-progress', step: 'loading' }, job.id);
  await app.uplink.dispatch('jobs', a.terminalId, { v: 1, status: 'succeeded', kcv: job.expectedKcv }, job.id);
  await app.uplink.dispatch('jobs', a.terminalId, { v: 1, status: 'failed', error: { code: 'X', message: 'late' } }, job.id);
  const jv = await call('GET', `/api/v1/key-jobs/${job.id}`, viewer);
  t.same(jv.body.terminals.map((e: { terminalId: string; status: string; error: string | null }) => [e.terminalId, e.status, e.error]).sort(),
    [[a.terminalId, 'succeeded', null], [b.terminalId, 'failed', 'kcv-missing']].sort(), 'finished entries ignore later reports');
  t.same(notes.filter((n) => n.topic.includes(a.terminalId)).at(-1)?.next, null, 'pointer cleared after success');
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job.id}/key-blocks`, headers: term(a) })).json().error.code, 'SRV_ERR_KEYS_STATE');
  t.equal((await call('GET', '/api/v1/key-jobs?groupId=gates', viewer)).body.jobs.length, 1);

  // A late terminal joins the active job on its birth.
  const late = await enrolTerminal(ta, 'gates');
  await born(late);
  await approve(late);
  await app.uplink.dispatch('birth', late.terminalId, { v: 1, epoch: 1, ts: 1, versions: { software: '1', config: 0, keys: 0, hotlist: 0 }, readers: [] }, '');
  t.same((await app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: term(late) })).json().jobs.map((j: { jobId: string }) => j.jobId), [job.id]);

  // Time-out of a terminal that fetched and went silent.
  await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job.id}/key-blocks`, headers: term(late) });
  ta.clock.advance(3600_000 + 1);
  await app.keys.tick();
  t.equal((await app.keys.store.getJobTerminal(job.id, late.terminalId))?.status, 'timed-out');

  // Rotation: v2 is delivered together with v1 until the deadline, then v1 is purged.
  const body2 = { keySetId: 'metro', ...wrapKeySetForImport(ik.body.publicKey, 'metro', set2) };
  t.equal((await call('POST', '/api/v1/key-sets', custodian, body2)).body.version, 2);
  t.equal((await call('POST', '/api/v1/key-sets/metro/rotate', operator, { toVersion: 2, retireAfterSeconds: 600 })).status, 403);
  const rot = await call('POST', '/api/v1/key-sets/metro/rotate', custodian, { toVersion: 2, retireAfterSeconds: 600 });
  t.equal(rot.status, 200);
  t.same(rot.body.groups, ['gates']);
  t.same(rot.body.retiring.map((r: { version: number }) => r.version), [1]);
  const job2 = rot.body.jobs[0] as { id: string; keys: unknown[] };
  t.equal(job2.keys.length, 4, 'new keys plus the retiring ones');
  t.equal((await app.keys.store.getJob(job.id))?.status, 'superseded');
  const kb2 = (await app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${job2.id}/key-blocks`, headers: term(a) })).json() as { keys: { block: string }[] };
  seen.push(JSON.stringify(kb2));
  t.same(kb2.keys.map((k) => unwrapKeyBlock(tk, k.block).header.keyVersionNumber), ['02', '02', '01', '01']);
  ta.clock.advance(600_000);
  await app.keys.tick();
  const v1 = (await call('GET', '/api/v1/key-sets/metro', viewer)).body.versions.find((v: { version: number }) => v.version === 1);
  t.equal(v1.status, 'purged');
  t.equal((await app.keys.store.getKeySetVersion('metro', 1))?.keys.every((k) => k.block === null), true, 'purged material is gone');
  const job3 = (await call('GET', '/api/v1/key-jobs?groupId=gates', viewer)).body.jobs[0] as { id: string; keys: unknown[]; status: string };
  t.not(job3.id, job2.id, 're-issued after the purge');
  t.equal(job3.keys.length, 2);
  t.equal((await call('PUT', '/api/v1/groups/gates/key-set', custodian, { keySetId: 'metro', version: 1 })).body.error.code, 'SRV_ERR_KEYS_STATE');

  // Unassign cancels pending deliveries.
  t.equal((await call('DELETE', '/api/v1/groups/gates/key-set', custodian)).status, 204);
  t.equal((await call('DELETE', '/api/v1/groups/gates/key-set', custodian)).status, 404);
  t.same((await app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: term(b) })).json().jobs, []);

  // A key set stored under another master key is refused, not mis-delivered.
  await app.keys.store.addKeySetVersion({ keySetId: 'foreign', version: 1, description: '', status: 'active', deadline: null, masterKcv: '0000000000', keys: [], createdAt: 0, createdBy: 'x' });
  t.equal((await call('PUT', '/api/v1/groups/gates/key-set', custodian, { keySetId: 'foreign', version: 1 })).body.error.code, 'SRV_ERR_KEYS_MASTER_KEY');

  // Audit.
  const audit = JSON.stringify((await call('GET', '/api/v1/audit?limit=500', ta.adminToken)).body);
  for (const action of ['key-set.import', 'key-set.import-refused', 'key-set.assign', 'key-set.rotate', 'key-set.purge', 'key-set.unassign', 'key-job.create', 'key-job.deliver', 'key-job.succeeded', 'key-job.failed', 'key-job.timed-out']) {
    t.ok(audit.includes(`"${action}"`), `audited ${action}`);
  }
});

function newEphemeral(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

t.test('clear keys never returned: no response carried key material', async (t) => {
  t.ok(seen.length > 40, `${seen.length} responses scanned`);
  for (const body of seen) for (const s of SECRETS) if (body.includes(s)) t.fail(`a response contains key material: ${body.slice(0, 80)}`);
  t.pass('scanned');
});
