/**
 * Red team, continued (see audit-atomic.test.ts): configuration, transit-key and terminal admin
 * mutations and their audit entries commit together or not at all, and what they announce
 * (retained configuration pointers, job notifications, the disconnect of a disabled terminal)
 * is announced exactly once, after the commit. For each mutation the audit write is made to fail
 * inside the store (a SQLite trigger aborting every insert into `audit`, as a full disk or an I/O
 * error would): the request fails, nothing changed, nothing was announced. Then the failure is
 * lifted and the same request retried: it succeeds, is audited once and announced once.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { fromHex } from '@onecard/protocol/bytes';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import type { SqliteStore } from '../../src/store/sqlite.ts';
import { wrapKeySetForImport, type PurseKeyMaterial } from '../../src/keys/key-crypto.ts';

const failAudit = (ta: TestApp): void => {
  (ta.app.ctx.store as SqliteStore).db.exec("CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected audit write failure'); END;");
};
const healAudit = (ta: TestApp): void => {
  (ta.app.ctx.store as SqliteStore).db.exec('DROP TRIGGER temp.audit_fails');
};
/** Runs `fn` while every audit write fails. */
async function withFailingAudit<R>(ta: TestApp, fn: () => Promise<R>): Promise<R> {
  failAudit(ta);
  try { return await fn(); } finally { healAudit(ta); }
}
const auditOf = async (ta: TestApp, action: string): Promise<{ actor: string; target: string; details: Record<string, unknown> }[]> =>
  ((await ta.app.inject({ url: `/api/v1/audit?action=${action}&limit=1000`, headers: ta.auth() })).json() as { entries: { actor: string; target: string; details: Record<string, unknown> }[] }).entries;
/** Lets the broker deliver what was published. */
const settle = () => new Promise((r) => setImmediate(r));

/** Messages published on `topic` (an MQTT filter), by topic, in order (payloads as text; empty = cleared). */
function recorder(ta: TestApp, topic: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  ta.app.broker.subscribe(topic, (p, cb) => {
    const list = seen.get(p.topic) ?? [];
    list.push(Buffer.from(p.payload as Buffer).toString('utf8'));
    seen.set(p.topic, list);
    cb();
  }, () => {});
  return seen;
}
const count = (seen: Map<string, string[]>, topic: string): number => seen.get(topic)?.length ?? 0;

async function enrol(ta: TestApp, groupId: string): Promise<string> {
  if ((await ta.app.ctx.store.getGroup(groupId)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: groupId, name: groupId } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  return ((await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId;
}

/** Distinct valid documents. */
const DOC = (n: number) => ({ ...EXAMPLE_TERMINAL_CONFIG, logLevel: (['info', 'debug', 'warn'] as const)[n % 3] });

t.test('configuration: create, new version, assign and unassign roll back with a failing audit and announce nothing; the retry audits and announces once', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const seen = recorder(ta, 't/+/down/config');
  const op = await ta.tokenFor('operator');
  const T = await enrol(ta, 'pharmacies');
  const topic = `t/${T}/down/config`;
  const call = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: Record<string, unknown>) => app.inject({ method, url, headers: auth(op), ...(payload !== undefined ? { payload } : {}) });

  t.equal((await call('POST', '/api/v1/configs', { id: 'probe', name: 'probe', document: DOC(1) })).statusCode, 201);

  // create
  t.equal((await withFailingAudit(ta, () => call('POST', '/api/v1/configs', { id: 'base', name: 'Base', document: DOC(2) }))).statusCode, 500, 'create fails with its audit write');
  t.equal(await app.ctx.store.getConfigDoc('base'), undefined, 'no document without its audit entry');
  t.equal((await call('POST', '/api/v1/configs', { id: 'base', name: 'Base', document: DOC(2) })).statusCode, 201, 'the retry creates it (no half-created document)');
  t.equal((await auditOf(ta, 'config.create')).filter((e) => e.target === 'base').length, 1, 'audited once');
  const v1 = (await app.ctx.store.getConfigDoc('base'))!.version;

  // assign to the group
  t.equal((await withFailingAudit(ta, () => call('PUT', '/api/v1/groups/pharmacies/config', { configId: 'base' }))).statusCode, 500);
  t.same(await app.ctx.store.listConfigAssignments('base'), [], 'not assigned without its audit entry');
  await settle();
  t.equal(count(seen, topic), 0, 'no pointer announced');
  const as = await call('PUT', '/api/v1/groups/pharmacies/config', { configId: 'base' });
  t.equal(as.statusCode, 200);
  t.equal(as.json().pushed, 1);
  t.same((await auditOf(ta, 'config.assign')).map((e) => e.target), ['group:pharmacies'], 'audited once');
  await settle();
  t.equal(count(seen, topic), 1, 'pointer announced once, after the commit');

  // new version
  t.equal((await withFailingAudit(ta, () => call('PUT', '/api/v1/configs/base', { document: DOC(3), expectedVersion: v1 }))).statusCode, 500);
  t.equal((await app.ctx.store.getConfigDoc('base'))!.version, v1, 'no new version without its audit entry');
  t.equal((await app.ctx.store.listConfigVersions('base')).length, 1);
  await settle();
  t.equal(count(seen, topic), 1, 'nothing announced');
  const up = await call('PUT', '/api/v1/configs/base', { document: DOC(3), expectedVersion: v1 });
  t.equal(up.statusCode, 200, 'the retry with the same precondition succeeds: the failed attempt left no version behind');
  const v2 = (up.json() as { version: number }).version;
  t.ok(v2 > v1);
  t.equal((await auditOf(ta, 'config.update')).length, 1, 'audited once');
  await settle();
  t.equal(count(seen, topic), 2, 'the new version announced once');
  t.match(JSON.parse(seen.get(topic)![1]!), { version: v2 });

  // terminal assignment (overrides the group's)
  t.equal((await withFailingAudit(ta, () => call('PUT', `/api/v1/terminals/${T}/config`, { configId: 'probe' }))).statusCode, 500);
  t.same((await app.ctx.store.listEffectiveConfigs({ terminalIds: [T] })).map((e) => e.docId), ['base'], 'still the group document');
  await settle();
  t.equal(count(seen, topic), 2, 'nothing announced');
  t.equal((await call('PUT', `/api/v1/terminals/${T}/config`, { configId: 'probe' })).statusCode, 200);
  t.same((await app.ctx.store.listEffectiveConfigs({ terminalIds: [T] })).map((e) => e.docId), ['probe']);
  await settle();
  t.equal(count(seen, topic), 3);

  // unassign
  t.equal((await withFailingAudit(ta, () => call('DELETE', `/api/v1/terminals/${T}/config`))).statusCode, 500);
  t.same((await app.ctx.store.listConfigAssignments('probe')).map((a) => a.target), [T], 'still assigned without its audit entry');
  await settle();
  t.equal(count(seen, topic), 3, 'nothing announced');
  t.equal((await call('DELETE', `/api/v1/terminals/${T}/config`)).statusCode, 204);
  t.equal((await call('DELETE', `/api/v1/terminals/${T}/config`)).statusCode, 404, 'a second unassign finds nothing');
  t.same((await auditOf(ta, 'config.unassign')).map((e) => e.target), [`terminal:${T}`], 'audited once');
  await settle();
  t.equal(count(seen, topic), 4, 'the fallback to the group document announced once');
  t.match(JSON.parse(seen.get(topic)![3]!), { version: v2 });
});

t.test('terminals: disable, enable, rename and re-key token roll back with a failing audit; a disabled terminal is disconnected once, after the commit', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const op = await ta.tokenFor('operator');
  const T = await enrol(ta, 'gates');
  const disconnects: string[] = [];
  app.fleet.on('terminal-disabled', (id: string) => { disconnects.push(id); });
  const call = (method: 'POST' | 'PATCH', url: string, payload?: Record<string, unknown>) => app.inject({ method, url, headers: auth(op), ...(payload !== undefined ? { payload } : {}) });

  t.equal((await withFailingAudit(ta, () => call('POST', `/api/v1/terminals/${T}/disable`))).statusCode, 500);
  t.equal((await app.ctx.store.getTerminal(T))!.status, 'active', 'not disabled without its audit entry');
  t.same(disconnects, [], 'not disconnected');
  t.equal((await call('POST', `/api/v1/terminals/${T}/disable`)).statusCode, 200);
  t.equal((await app.ctx.store.getTerminal(T))!.status, 'disabled');
  t.same(disconnects, [T], 'disconnected once, after the commit');
  t.equal((await auditOf(ta, 'terminal.disable')).length, 1);

  t.equal((await withFailingAudit(ta, () => call('POST', `/api/v1/terminals/${T}/rekey`, {}))).statusCode, 403, 'a disabled terminal gets no re-key token (refused before any write)');

  t.equal((await withFailingAudit(ta, () => call('POST', `/api/v1/terminals/${T}/enable`))).statusCode, 500);
  t.equal((await app.ctx.store.getTerminal(T))!.status, 'disabled', 'not re-enabled without its audit entry');
  t.equal((await call('POST', `/api/v1/terminals/${T}/enable`)).statusCode, 200);
  t.equal((await app.ctx.store.getTerminal(T))!.status, 'active');
  t.equal((await auditOf(ta, 'terminal.enable')).length, 1);
  t.same(disconnects, [T], 'enabling disconnects nothing');

  t.equal((await withFailingAudit(ta, () => call('PATCH', `/api/v1/terminals/${T}`, { name: 'Gate 7' }))).statusCode, 500);
  t.equal((await app.ctx.store.getTerminal(T))!.name ?? null, null, 'not renamed without its audit entry');
  t.equal((await call('PATCH', `/api/v1/terminals/${T}`, { name: 'Gate 7' })).statusCode, 200);
  t.same((await auditOf(ta, 'terminal.rename')).map((e) => e.details), [{ from: null, to: 'Gate 7' }], 'audited once, from the name before');

  const tokensBefore = (await app.ctx.store.listEnrolmentTokens()).length;
  t.equal((await withFailingAudit(ta, () => call('POST', `/api/v1/terminals/${T}/rekey`, {}))).statusCode, 500);
  t.equal((await app.ctx.store.listEnrolmentTokens()).length, tokensBefore, 'no re-key token without its audit entry');
  const rk = await call('POST', `/api/v1/terminals/${T}/rekey`, {});
  t.equal(rk.statusCode, 201);
  t.same((await app.ctx.store.listEnrolmentTokens()).filter((x) => x.forTerminal === T).map((x) => x.id), [rk.json().id]);
  t.same((await auditOf(ta, 'terminal.rekey-token')).map((e) => e.details['enrolmentTokenId']), [rk.json().id], 'audited once');
});

const SET1: PurseKeyMaterial[] = [
  { usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, key: fromHex('544553542D4D504B2D334445532D3031') },
  { usage: '62', keyVersion: 1, algorithmId: 0, levels: 2, key: fromHex('544553542D4D544B2D334445532D3031') },
];
const SET2: PurseKeyMaterial[] = [
  { usage: '61', keyVersion: 2, algorithmId: 0, levels: 2, key: fromHex('00112233445566778899AABBCCDDEEFF') },
  { usage: '62', keyVersion: 2, algorithmId: 0, levels: 2, key: fromHex('FFEEDDCCBBAA99887766554433221100') },
];

t.test('transit keys: import, approval, assign, rotate, approval revocation and unassign roll back with a failing audit and notify nobody; the retry audits and notifies once', async (t) => {
  const ta = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const notes = recorder(ta, 't/+/down/jobs/notify');
  const kc = await ta.tokenFor('key-custodian');
  const call = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: Record<string, unknown>) => app.inject({ method, url, headers: auth(kc), ...(payload !== undefined ? { payload } : {}) });
  const T = await enrol(ta, 'gates');
  const topic = `t/${T}/down/jobs/notify`;
  // Its birth told the server its readers (no PSAM): it may be approved for key delivery.
  await app.ctx.store.updatePresence(T, { online: true, epoch: 1, at: ta.clock.now(), reported: { readers: [{ id: 'front', link: 'serial', status: 'ok' }] } });
  const keys = app.keys.store;
  const pk = app.ctx.keys.publicKeySpki;

  // import
  const imp1 = { keySetId: 'metro', ...wrapKeySetForImport(pk, 'metro', SET1) };
  t.equal((await withFailingAudit(ta, () => call('POST', '/api/v1/key-sets', imp1))).statusCode, 500);
  t.same(await keys.listKeySetVersions('metro'), [], 'no key set without its audit entry');
  t.equal((await call('POST', '/api/v1/key-sets', imp1)).statusCode, 201, 'the retry imports version 1');
  t.same((await auditOf(ta, 'key-set.import')).map((e) => e.details['version']), [1], 'audited once');

  // approval (no key job yet)
  t.equal((await withFailingAudit(ta, () => call('PUT', `/api/v1/terminals/${T}/key-approval`, { validForSeconds: 86400 }))).statusCode, 500);
  t.equal(await keys.getApproval(T), undefined, 'not approved without its audit entry');
  t.equal((await call('PUT', `/api/v1/terminals/${T}/key-approval`, { validForSeconds: 86400 })).statusCode, 200);
  t.equal((await auditOf(ta, 'key-approval.grant')).length, 1);

  // assign: assignment, job, entries and audit entries together; the terminal notified after
  await settle();
  const n0 = count(notes, topic);
  t.equal((await withFailingAudit(ta, () => call('PUT', '/api/v1/groups/gates/key-set', { keySetId: 'metro', version: 1 }))).statusCode, 500);
  t.equal(await keys.getAssignment('gates'), undefined, 'not assigned without its audit entry');
  t.same(await keys.listJobs({}), [], 'no key job');
  t.same(await keys.listTerminalEntries(T), [], 'no delivery entry');
  await settle();
  t.equal(count(notes, topic), n0, 'nobody notified');
  const as = await call('PUT', '/api/v1/groups/gates/key-set', { keySetId: 'metro', version: 1 });
  t.equal(as.statusCode, 200);
  const job1 = (as.json() as { job: { id: string; seq: number } }).job;
  t.equal((await keys.listJobs({})).length, 1, 'one job');
  t.same((await auditOf(ta, 'key-set.assign')).map((e) => e.target), ['gates'], 'assignment audited once');
  t.same((await auditOf(ta, 'key-job.create')).map((e) => [e.target, e.details['seq']]), [[job1.id, job1.seq]], 'job audited once with its committed seq');
  await settle();
  t.equal(count(notes, topic), n0 + 1, 'the terminal notified once');

  // rotate to version 2
  t.equal((await call('POST', '/api/v1/key-sets', { keySetId: 'metro', ...wrapKeySetForImport(pk, 'metro', SET2) })).statusCode, 201);
  await settle();
  const n1 = count(notes, topic);
  t.equal((await withFailingAudit(ta, () => call('POST', '/api/v1/key-sets/metro/rotate', { toVersion: 2, retireAfterSeconds: 3600 }))).statusCode, 500);
  t.equal((await keys.getKeySetVersion('metro', 1))!.status, 'active', 'version 1 not retiring');
  t.equal((await keys.getAssignment('gates'))!.version, 1, 'still on version 1');
  t.same((await keys.listJobs({})).map((j) => [j.id, j.status]), [[job1.id, 'active']], 'the old job not superseded, no new one');
  t.same((await keys.listTerminalEntries(T)).map((e) => [e.jobId, e.status]), [[job1.id, 'queued']]);
  await settle();
  t.equal(count(notes, topic), n1, 'nobody notified');
  const rot = await call('POST', '/api/v1/key-sets/metro/rotate', { toVersion: 2, retireAfterSeconds: 3600 });
  t.equal(rot.statusCode, 200);
  t.equal((await keys.getKeySetVersion('metro', 1))!.status, 'retiring');
  const [job2, old] = await keys.listJobs({});
  t.same([job2!.version, job2!.status, old!.status], [2, 'active', 'superseded']);
  t.equal(job2!.keys.length, 4, 'the new job still carries the retiring keys');
  t.same((await auditOf(ta, 'key-set.rotate')).map((e) => e.details['toVersion']), [2], 'rotation audited once');
  t.equal((await auditOf(ta, 'key-job.create')).length, 2, 'its job audited once');
  await settle();
  t.equal(count(notes, topic), n1 + 1, 'the terminal notified once');

  // approval revocation
  t.equal((await withFailingAudit(ta, () => call('DELETE', `/api/v1/terminals/${T}/key-approval`))).statusCode, 500);
  t.equal((await keys.getApproval(T))!.revokedAt, null, 'not revoked without its audit entry');
  t.same((await keys.listTerminalEntries(T, ['queued'])).map((e) => e.jobId), [job2!.id], 'its delivery still pending');
  await settle();
  t.equal(count(notes, topic), n1 + 1, 'nobody notified');
  t.equal((await call('DELETE', `/api/v1/terminals/${T}/key-approval`)).statusCode, 200);
  t.not((await keys.getApproval(T))!.revokedAt, null);
  t.same(await keys.listTerminalEntries(T, ['queued']), [], 'delivery cancelled with it');
  t.equal((await call('DELETE', `/api/v1/terminals/${T}/key-approval`)).statusCode, 404, 'a second revocation finds nothing');
  t.same((await auditOf(ta, 'key-approval.revoke')).map((e) => e.details['reason']), ['custodian'], 'audited once');
  await settle();
  t.equal(count(notes, topic), n1 + 2, 'the terminal notified once');

  // unassign
  t.equal((await withFailingAudit(ta, () => call('DELETE', '/api/v1/groups/gates/key-set'))).statusCode, 500);
  t.ok(await keys.getAssignment('gates'), 'still assigned without its audit entry');
  t.equal((await keys.getJob(job2!.id))!.status, 'active');
  t.equal((await call('DELETE', '/api/v1/groups/gates/key-set')).statusCode, 204);
  t.equal(await keys.getAssignment('gates'), undefined);
  t.equal((await keys.getJob(job2!.id))!.status, 'superseded');
  t.equal((await call('DELETE', '/api/v1/groups/gates/key-set')).statusCode, 404);
  t.equal((await auditOf(ta, 'key-set.unassign')).length, 1, 'audited once');
});
