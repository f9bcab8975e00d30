// Red team: key custody (docs/security.md "Key custody", docs/keys.md "Custody").
// An operator — or anyone holding one identity an operator can mint — must not obtain the clear
// purse root keys. Each test plays one attack end to end over inject(): mint a terminal identity
// the attacker controls (enrolment token, or a re-key token for a real terminal), join the key
// job, fetch the key blocks, derive the KBPK with the attacker's private key and try to open
// them. Key delivery needs a key custodian's approval of that terminal's key pair (dual control:
// not the admin who minted the identity), a soft-SAM permission that expires, no physical PSAM,
// an active terminal; re-key, re-enrolment, disabling and revocation void the approval.
import t from 'tap';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { unwrapKeyBlock } from '@onecard/protocol/crypto';
import { deriveKbpk } from '@onecard/protocol/fleet';
import { makeTestApp, type TestApp } from '../helpers.ts';
import { wrapKeySetForImport, type PurseKeyMaterial } from '../../src/keys/key-crypto.ts';

const MPK = fromHex('544553542D4D504B2D334445532D3031');
const MTK = fromHex('544553542D4D544B2D334445532D3031');
const SET: PurseKeyMaterial[] = [{ usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, key: MPK }, { usage: '62', keyVersion: 1, algorithmId: 0, levels: 2, key: MTK }];
const ROOTS = new Set([toHex(MPK).toUpperCase(), toHex(MTK).toUpperCase()]);

interface Identity { terminalId: string; password: string; privateKey: KeyObject }

interface World {
  ta: TestApp;
  operator: string;
  custodian: string;
  custodian2: string;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, payload?: unknown): Promise<{ status: number; body: Record<string, any> }>;
}

/** A server where a key custodian imported a key set and assigned it to group `gates`. */
async function world(): Promise<World> {
  const ta = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  const call: World['call'] = async (method, url, token, payload) => {
    const r = await ta.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
    return { status: r.statusCode, body: (r.body.length > 0 ? r.json() : {}) as Record<string, any> };
  };
  const operator = await ta.tokenFor('operator');
  const custodian = await ta.tokenFor('key-custodian');
  const custodian2 = await ta.tokenFor('key-custodian');
  await call('POST', '/api/v1/groups', ta.adminToken, { id: 'gates', name: 'gates' });
  const ik = await call('GET', '/api/v1/key-sets/import-key', custodian);
  const imp = await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'metro', ...wrapKeySetForImport(ik.body.publicKey, 'metro', SET) });
  if (imp.status !== 201) throw new Error(`import: ${JSON.stringify(imp.body)}`);
  const as = await call('PUT', '/api/v1/groups/gates/key-set', custodian, { keySetId: 'metro', version: 1 });
  if (as.status !== 200) throw new Error(`assign: ${JSON.stringify(as.body)}`);
  return { ta, operator, custodian, custodian2, call };
}

/** Enrols a key pair the caller keeps, with an enrolment token `token` (a new one for `groupId` when absent). */
async function enrol(w: World, minter: string, opts: { groupId?: string; token?: string } = {}): Promise<Identity & { status: number }> {
  const token = opts.token ?? (await w.call('POST', '/api/v1/enrolment-tokens', minter, { groupId: opts.groupId ?? 'gates' })).body.token as string;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const r = await w.ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') } });
  const b = r.json() as { terminalId?: string; mqtt?: { password: string } };
  return { status: r.statusCode, terminalId: b.terminalId ?? '', password: b.mqtt?.password ?? '', privateKey };
}

/** What the terminal's birth tells the server (the broker stores it the same way). */
async function birth(w: World, id: Identity, psam: boolean, epoch = 1): Promise<void> {
  await w.ta.app.ctx.store.updatePresence(id.terminalId, { online: true, epoch, at: w.ta.clock.now(), reported: { versions: { software: '1.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [{ id: 'front', link: 'serial', status: 'ok', psam }] } });
  await w.ta.app.uplink.dispatch('birth', id.terminalId, { v: 1, epoch, ts: w.ta.clock.now(), versions: { software: '1.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [{ id: 'front', link: 'serial', status: 'ok', psam }] }, '');
}

/**
 * The attack: list the jobs as the terminal, fetch every key job's blocks, open them under the
 * KBPK derived with the attacker's private key. Returns the clear roots recovered and the
 * statuses of the key-block fetches.
 */
async function extract(w: World, id: Identity): Promise<{ recovered: string[]; fetches: number[]; codes: string[] }> {
  const headers = { authorization: `Basic ${Buffer.from(`${id.terminalId}:${id.password}`).toString('base64')}` };
  const jobIds = new Set<string>();
  const listed = await w.ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers });
  for (const j of (listed.json() as { jobs?: { jobId: string; kind: string }[] }).jobs ?? []) if (j.kind === 'keys') jobIds.add(j.jobId);
  // The attacker also tries every key job it can learn of, listed or not.
  for (const j of (await w.call('GET', '/api/v1/key-jobs', w.operator)).body.jobs as { id: string }[]) jobIds.add(j.id);
  const recovered: string[] = [];
  const fetches: number[] = [];
  const codes: string[] = [];
  const kbpk = deriveKbpk(id.privateKey, w.ta.app.ctx.keys.publicKeySpki, id.terminalId);
  for (const jobId of jobIds) {
    const r = await w.ta.app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${jobId}/key-blocks`, headers });
    fetches.push(r.statusCode);
    const body = r.json() as { keys?: { block: string }[]; error?: { code: string } };
    if (body.error !== undefined) codes.push(body.error.code);
    for (const k of body.keys ?? []) {
      try { recovered.push(toHex(unwrapKeyBlock(kbpk, k.block).key).toUpperCase()); } catch { /* not under our KBPK */ }
    }
  }
  return { recovered, fetches, codes };
}

t.test('operator-minted enrolment token: the new terminal gets no key job and no key blocks', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const evil = await enrol(w, w.operator);
  t.equal(evil.status, 201, 'the operator may still enrol terminals');
  await birth(w, evil, false);
  const r = await extract(w, evil);
  t.same(r.recovered.filter((k) => ROOTS.has(k)), [], 'no purse root key opened');
  t.ok(r.fetches.length > 0 && r.fetches.every((s) => s === 403), 'every key-block fetch refused');
  t.ok(r.codes.every((c) => c === 'SRV_ERR_KEYS_NOT_APPROVED'), 'with SRV_ERR_KEYS_NOT_APPROVED');
  const audit = await w.ta.app.ctx.store.listAudit({ action: 'key-job.deliver-refused' });
  t.ok(audit.length > 0 && audit.every((a) => a.details['terminalId'] === evil.terminalId), 'refused deliveries are audited');
  // Hammering the route does not grow the audit log: one entry per terminal and reason per minute.
  for (let i = 0; i < 20; i++) await extract(w, evil);
  t.equal((await w.ta.app.ctx.store.listAudit({ action: 'key-job.deliver-refused' })).length, audit.length, 'no audit flood');
  w.ta.clock.advance(61_000);
  await extract(w, evil);
  t.equal((await w.ta.app.ctx.store.listAudit({ action: 'key-job.deliver-refused' })).length, audit.length + 1, 'audited again a minute later');
  // An operator cannot approve its own terminal.
  const self = await w.call('PUT', `/api/v1/terminals/${evil.terminalId}/key-approval`, w.operator, { validForSeconds: 3600 });
  t.equal(self.status, 403, 'operators cannot approve key delivery');
});

t.test('dual control: the admin who minted the identity cannot approve it; a custodian can, and the delivery is audited with the approver', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const term = await enrol(w, w.ta.adminToken);
  await birth(w, term, false);
  const own = await w.call('PUT', `/api/v1/terminals/${term.terminalId}/key-approval`, w.ta.adminToken, { validForSeconds: 3600 });
  t.equal(own.status, 403);
  t.equal(own.body.error.code, 'SRV_ERR_KEYS_DUAL_CONTROL');
  t.same((await extract(w, term)).recovered, [], 'still nothing delivered');
  const ok = await w.call('PUT', `/api/v1/terminals/${term.terminalId}/key-approval`, w.custodian, { validForSeconds: 3600 });
  t.equal(ok.status, 200, 'a key custodian other than the minter approves');
  t.match(ok.body, { terminalId: term.terminalId, state: 'approved' });
  const r = await extract(w, term);
  t.same(r.recovered.sort(), [...ROOTS].sort(), 'the approved terminal (its real key pair) gets the keys');
  const me = (await w.call('GET', '/api/v1/admin/tokens', w.ta.adminToken)).body.tokens as { id: string; role: string }[];
  const deliver = (await w.ta.app.ctx.store.listAudit({ action: 'key-job.deliver' }))[0];
  t.ok(me.some((x) => x.id === deliver?.details['approvedBy'] && x.role === 'key-custodian'), 'key-job.deliver names the approving custodian');
  t.equal((await w.ta.app.ctx.store.listAudit({ action: 'key-approval.grant' }))[0]?.target, term.terminalId, 'approval audited');
});

t.test('re-key token: the attacker\'s new key pair is never approved, even after re-assignment', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const real = await enrol(w, w.operator);
  await birth(w, real, false);
  t.equal((await w.call('PUT', `/api/v1/terminals/${real.terminalId}/key-approval`, w.custodian, { validForSeconds: 3600 })).status, 200);
  // Before the real terminal fetches, the operator re-keys it and enrols a key pair of its own.
  const rk = await w.call('POST', `/api/v1/terminals/${real.terminalId}/rekey`, w.operator, {});
  t.equal(rk.status, 201);
  const evil = await enrol(w, w.operator, { token: rk.body.token as string });
  t.equal(evil.terminalId, real.terminalId, 'same terminal id, new key pair');
  await birth(w, evil, false, 2);
  t.same((await extract(w, evil)).recovered, [], 'nothing opens after the re-key');
  t.match((await w.call('GET', `/api/v1/terminals/${real.terminalId}/key-approval`, w.operator)).body, { state: 'revoked' }, 'the re-key revoked the approval');
  // A later rotation or re-assignment by the custodian does not re-open the door.
  await w.call('PUT', '/api/v1/groups/gates/key-set', w.custodian, { keySetId: 'metro', version: 1 });
  t.same((await extract(w, evil)).recovered, [], 'nothing opens after re-assignment');
});

t.test('terminals with a physical PSAM never receive purse roots', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const withPsam = await enrol(w, w.operator);
  await birth(w, withPsam, true);
  const a = await w.call('PUT', `/api/v1/terminals/${withPsam.terminalId}/key-approval`, w.custodian, { validForSeconds: 3600 });
  t.equal(a.status, 409);
  t.equal(a.body.error.code, 'SRV_ERR_KEYS_PSAM');
  // Approved while it reported no PSAM, then a birth reports one: delivery refused.
  const later = await enrol(w, w.operator);
  await birth(w, later, false);
  t.equal((await w.call('PUT', `/api/v1/terminals/${later.terminalId}/key-approval`, w.custodian, { validForSeconds: 3600 })).status, 200);
  await birth(w, later, true, 2);
  const r = await extract(w, later);
  t.same(r.recovered, []);
  t.ok(r.codes.includes('SRV_ERR_KEYS_NOT_APPROVED'));
  t.match((await w.call('GET', `/api/v1/terminals/${later.terminalId}/key-approval`, w.custodian)).body, { state: 'approved', refusal: 'psam', psam: true });
  // Approved before it ever connected: nothing until a birth says it has no PSAM.
  const silent = await enrol(w, w.operator);
  t.equal((await w.call('PUT', `/api/v1/terminals/${silent.terminalId}/key-approval`, w.custodian, { validForSeconds: 3600 })).status, 200);
  t.same((await extract(w, silent)).recovered, [], 'no birth, no keys');
  t.match((await w.call('GET', `/api/v1/terminals/${silent.terminalId}/key-approval`, w.custodian)).body, { state: 'approved', refusal: 'no-birth' });
  await birth(w, silent, false);
  t.same((await extract(w, silent)).recovered.sort(), [...ROOTS].sort(), 'delivered once the birth reports no PSAM');
});

t.test('the soft-SAM permission expires, can be revoked, and ends when the terminal is disabled', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const a = await enrol(w, w.operator);
  const b = await enrol(w, w.operator);
  const c = await enrol(w, w.operator);
  for (const x of [a, b, c]) {
    await birth(w, x, false);
    t.equal((await w.call('PUT', `/api/v1/terminals/${x.terminalId}/key-approval`, w.custodian, { validForSeconds: 600 })).status, 200);
  }
  t.equal((await w.call('PUT', `/api/v1/terminals/${a.terminalId}/key-approval`, w.custodian, { validForSeconds: 365 * 86400 })).status, 400, 'validity is bounded');
  w.ta.clock.advance(601_000);
  t.same((await extract(w, a)).recovered, [], 'expired');
  t.match((await w.call('GET', `/api/v1/terminals/${a.terminalId}/key-approval`, w.custodian)).body, { state: 'expired' });
  // Renewal by a custodian (rotation of the permission) re-delivers with the new expiry.
  const renewed = await w.call('PUT', `/api/v1/terminals/${a.terminalId}/key-approval`, w.custodian2, { validForSeconds: 600 });
  t.equal(renewed.status, 200);
  t.equal(typeof renewed.body.expiresAt, 'number');
  const headers = { authorization: `Basic ${Buffer.from(`${a.terminalId}:${a.password}`).toString('base64')}` };
  const listed = (await w.ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers })).json() as { jobs: { jobId: string }[] };
  const kb = (await w.ta.app.inject({ method: 'GET', url: `/api/v1/terminal/jobs/${listed.jobs[0]!.jobId}/key-blocks`, headers })).json() as { expiresAt: number };
  t.equal(kb.expiresAt, renewed.body.expiresAt, 'the delivery carries the expiry the terminal enforces');

  t.equal((await w.call('DELETE', `/api/v1/terminals/${b.terminalId}/key-approval`, w.operator)).status, 403, 'operators cannot revoke either');
  t.equal((await w.call('DELETE', `/api/v1/terminals/${b.terminalId}/key-approval`, w.custodian)).status, 200);
  t.same((await extract(w, b)).recovered, [], 'revoked');
  t.equal((await w.ta.app.ctx.store.listAudit({ action: 'key-approval.revoke' })).length, 1);

  t.equal((await w.call('POST', `/api/v1/terminals/${c.terminalId}/disable`, w.operator)).status, 200);
  t.same((await extract(w, c)).recovered, [], 'disabled');
  t.match((await w.call('GET', `/api/v1/terminals/${c.terminalId}/key-approval`, w.custodian)).body, { state: 'revoked' });
});

t.test('a re-key token does not re-enable a disabled (stolen) terminal', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const stolen = await enrol(w, w.operator);
  const rk = await w.call('POST', `/api/v1/terminals/${stolen.terminalId}/rekey`, w.operator, {});
  t.equal(rk.status, 201, 're-key token issued while the terminal was in service');
  t.equal((await w.call('POST', `/api/v1/terminals/${stolen.terminalId}/disable`, w.operator)).status, 200, 'then it is stolen and disabled');
  const again = await enrol(w, w.operator, { token: rk.body.token as string });
  t.not(again.status, 201, 'the re-key token is refused for a disabled terminal');
  t.equal((await w.ta.app.ctx.store.getTerminal(stolen.terminalId))?.status, 'disabled', 'still disabled');
  const fresh = await w.call('POST', `/api/v1/terminals/${stolen.terminalId}/rekey`, w.operator, {});
  t.equal(fresh.status, 403, 'no re-key token for a disabled terminal');
  t.equal(fresh.body.error.code, 'SRV_ERR_TERMINAL_DISABLED');
});

t.test('a wrapped import cannot be replayed under another key-set id', async (t) => {
  const w = await world();
  t.teardown(() => w.ta.app.close());
  const ik = await w.call('GET', '/api/v1/key-sets/import-key', w.custodian);
  const wrapped = wrapKeySetForImport(ik.body.publicKey, 'bus', SET);
  t.equal((await w.call('POST', '/api/v1/key-sets', w.custodian, { keySetId: 'bus', ...wrapped })).status, 201);
  const replay = await w.call('POST', '/api/v1/key-sets', w.custodian, { keySetId: 'ferry', ...wrapped });
  t.equal(replay.status, 400);
  t.equal(replay.body.error.code, 'SRV_ERR_KEYS_IMPORT');
  t.equal((await w.call('GET', '/api/v1/key-sets/ferry', w.custodian)).status, 404, 'nothing stored under the other id');
});
