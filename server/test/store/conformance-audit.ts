/**
 * Conformance, audited mutations and admin-token safety (part of the shared store suite, run on
 * every backend): a mutation's audit entries commit with it, a failing audit builder undoes the
 * mutation, the last active admin token cannot be revoked (also under concurrent revocations),
 * `recoverAdminToken` restores or creates an admin token, and a revoked enrolment token can no
 * longer be consumed. Configuration documents and assignments, terminal updates and `keys.commit`
 * (key sets, assignments, jobs, entries, approvals) take their audit entries the same way.
 */
import type { Test } from 'tap';
import type { NewAuditRecord, Store } from '../../src/store/types.ts';
import { createRollout } from '../../src/updates/rollout.ts';

const entry = (action: string, target: string): NewAuditRecord => ({ ts: 1, actor: 'tok1', action, target, ip: '', details: {} });
const boom = (): never => { throw new Error('audit write failed'); };

export function auditConformance(t: Test, open: () => Promise<Store>): void {
  t.test('audited mutations: entries commit with the change; a failing audit undoes it', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g', name: 'g', createdAt: 1 }, () => [entry('group.create', 'g')]);
    await t.rejects(s.createGroup({ id: 'h', name: 'h', createdAt: 1 }, boom));
    t.equal(await s.getGroup('h'), undefined, 'group not created without its audit entry');
    await t.rejects(s.createAdminToken({ id: 'x', name: 'x', role: 'viewer', tokenHash: 'hx', createdAt: 1 }, boom));
    t.equal(await s.findAdminTokenByHash('hx'), undefined);
    const add = (c: string) => ({ cardNumber: c, reportedBy: 'tok1', source: 'admin' as const, reason: 'lost' });
    await t.rejects(s.hotlistAdd([add('A00000001')], 2, boom));
    t.equal(await s.hotlistVersion(), 0, 'hotlist unchanged');
    const r = await s.hotlistAdd([add('A00000001')], 3, (res) => res.changed.map((c) => entry('hotlist.report', c)));
    t.same(r, { version: 1, changed: ['A00000001'] });
    await t.rejects(s.hotlistRemove(['A00000001'], 4, 'tok1', boom));
    t.ok(await s.getHotlistEntry('A00000001'), 'still listed');
    await t.rejects(s.ingestEvents('T1', [{ eventId: 'evt-00000001', seq: 1, ts: 1, type: 'card.read', body: {} }], 5, undefined, boom));
    t.same(await s.listEvents({}), [], 'batch rolled back');
    await s.ingestEvents('T1', [{ eventId: 'evt-00000001', seq: 1, ts: 1, type: 'card.read', body: {} }], 5, undefined, (res) => [entry('ingest', String(res.inserted))]);
    t.same((await s.listAudit({})).map((e) => `${e.action} ${e.target}`).reverse(), ['group.create g', 'hotlist.report A00000001', 'ingest 1']);
  });

  t.test('admin tokens: the last active admin cannot be revoked; recovery restores one', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createAdminToken({ id: 'a1', name: 'root', role: 'admin', tokenHash: 'h1', createdAt: 1 });
    await s.createAdminToken({ id: 'o1', name: 'ops', role: 'operator', tokenHash: 'h2', createdAt: 1 });
    await t.rejects(s.revokeAdminToken('a1', 2), { code: 'SRV_ERR_LAST_ADMIN' });
    await s.createAdminToken({ id: 'a2', name: 'deputy', role: 'admin', tokenHash: 'h3', createdAt: 1 });
    await s.createAdminToken({ id: 'a3', name: 'third', role: 'admin', tokenHash: 'h4', createdAt: 1 });
    // Three admins, three concurrent revocations: exactly two succeed.
    const results = await Promise.allSettled(['a1', 'a2', 'a3'].map((id) => s.revokeAdminToken(id, 3, () => [entry('admin-token.revoke', id)])));
    t.equal(results.filter((x) => x.status === 'fulfilled' && x.value).length, 2);
    t.equal(results.filter((x) => x.status === 'rejected').length, 1);
    t.equal((await s.listAdminTokens()).filter((x) => x.role === 'admin' && x.revokedAt === null).length, 1, 'one admin left');
    t.equal((await s.listAudit({ action: 'admin-token.revoke' })).length, 2, 'only the revocations that happened are audited');
    t.equal(await s.revokeAdminToken('o1', 4), true, 'other roles revoke as before');

    const revokedHash = (await s.listAdminTokens()).find((x) => x.revokedAt !== null && x.role === 'admin')!;
    const hash = { a1: 'h1', a2: 'h3', a3: 'h4' }[revokedHash.id as 'a1' | 'a2' | 'a3'];
    t.equal(await s.recoverAdminToken({ id: 'r1', name: 'recovery', tokenHash: hash, createdAt: 5 }, (r) => [entry('admin-token.recover', r)]), 'restored');
    t.match(await s.findAdminTokenByHash(hash), { id: revokedHash.id, role: 'admin', revokedAt: null });
    t.equal(await s.recoverAdminToken({ id: 'r2', name: 'recovery', tokenHash: hash, createdAt: 6 }, (r) => [entry('admin-token.recover', r)]), 'unchanged');
    t.equal(await s.recoverAdminToken({ id: 'r3', name: 'recovery', tokenHash: 'h2', createdAt: 7 }), 'restored', 'a revoked operator token is promoted');
    t.equal((await s.findAdminTokenByHash('h2'))?.role, 'admin');
    t.equal(await s.recoverAdminToken({ id: 'r4', name: 'recovery', tokenHash: 'new', createdAt: 8 }), 'created');
    t.match(await s.findAdminTokenByHash('new'), { id: 'r4', role: 'admin', revokedAt: null });
    t.same((await s.listAudit({ action: 'admin-token.recover' })).map((e) => e.target), ['restored'], 'audited only when something changed');
  });

  t.test('enrolment tokens: a revoked token cannot be consumed', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    await s.createEnrolmentToken({ id: 'e1', tokenHash: 'eh1', groupId: 'g', tags: [], expiresAt: 100, createdAt: 1, createdBy: 'tok1' }, () => [entry('enrolment-token.create', 'e1')]);
    await s.createEnrolmentToken({ id: 'e2', tokenHash: 'eh2', groupId: 'g', tags: [], expiresAt: 100, createdAt: 1, createdBy: 'tok1' });
    t.equal(await s.revokeEnrolmentToken('e1', () => [entry('enrolment-token.revoke', 'e1')]), true);
    t.equal(await s.revokeEnrolmentToken('e1'), false, 'already revoked');
    t.equal(await s.revokeEnrolmentToken('nope'), false);
    t.equal(await s.consumeEnrolmentToken('eh1', 'T1', 2), undefined, 'revoked: refused');
    t.ok(await s.consumeEnrolmentToken('eh2', 'T2', 2));
    t.equal(await s.revokeEnrolmentToken('e2'), false, 'a used token is not revoked');
    t.same((await s.listEnrolmentTokens()).map((x) => [x.id, x.expiresAt]), [['e1', 0], ['e2', 100]]);
    t.same((await s.listAudit({})).map((e) => e.action).reverse(), ['enrolment-token.create', 'enrolment-token.revoke']);
  });
}

export function groupCommitConformance(t: Test, open: () => Promise<Store>): void {
  t.test('ingestEventBatches: several terminals in one transaction, each like ingestEvents, all or none', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const rec = (i: number, type = 'card.read', body: Record<string, unknown> = {}) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: i, type, body });
    const loss = { cardNumber: 'X00000019', reportedBy: 'terminal:T2', source: 'terminal' as const, reason: 'lost' };
    const res = await s.ingestEventBatches([
      { terminalId: 'T1', records: [rec(1), rec(2)], receivedAt: 10 },
      { terminalId: 'T2', records: [rec(1), rec(2, 'card.loss-report')], receivedAt: 11, hotlistAdds: new Map([['evt-00000002', loss]]), audit: (r) => (r.hotlist?.changed ?? []).map((c) => entry('hotlist.report', c)) },
      { terminalId: 'T1', records: [rec(2), rec(3)], receivedAt: 12 },
    ]);
    t.same(res.map((r) => [r.inserted, r.duplicates, r.upToSeq]), [[2, 0, 2], [2, 0, 2], [1, 1, 3]]);
    t.same(res[1]!.hotlist, { version: 1, changed: ['X00000019'] });
    t.same((await s.listAudit({ action: 'hotlist.report' })).map((e) => e.target), ['X00000019']);
    await t.rejects(s.ingestEventBatches([
      { terminalId: 'T3', records: [rec(1)], receivedAt: 13 },
      { terminalId: 'T4', records: [rec(1)], receivedAt: 13, audit: boom },
    ]));
    t.same(await s.listEvents({ terminalId: 'T3' }), [], 'a failure in one batch rolls back the whole group');
    t.equal((await s.listEvents({ limit: 100 })).length, 5);
  });
}

export function updatesAuditConformance(t: Test, open: () => Promise<Store>): void {
  t.test('updates: package upload and rollout writes commit with their audit entries or not at all', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const s = store.updates;
    const pkg = { id: 'pkg_a', name: 'onecard-terminal', version: '1.1.0', minPreviousVersion: '1.0.0', size: 10, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64), fileCount: 1, keyId: '0123456789abcdef', alg: 'ed25519', signature: '{}', uploadedAt: 5, uploadedBy: 'adm_1' };
    await t.rejects(s.addPackage(pkg, boom));
    t.same(await s.listPackages(), [], 'no package without its audit entry');
    t.match(await s.addPackage(pkg, (p) => [entry('update-package.upload', p.id)]), { id: 'pkg_a' });
    const state = createRollout({ id: 'ro_1', packageId: 'pkg_a', packageSeq: 1, targetVersion: '1.1.0', minPreviousVersion: '1.0.0', force: false, phases: [{ percent: 100 }], ratePerMinute: 10, successThreshold: 0.9, maxFailures: 1, terminalTimeoutMs: 60_000 }, [{ id: 'T1', version: '1.0.0' }], 100);
    const ro = { id: 'ro_1', packageId: 'pkg_a', target: { groups: ['g'] }, createdBy: 'adm', state };
    await t.rejects(s.putRollout(ro, boom));
    t.equal(await s.getRollout('ro_1'), undefined, 'no rollout without its audit entry');
    await s.putRollout(ro, () => [entry('rollout.create', 'ro_1')]);
    t.ok(await s.getRollout('ro_1'));
    t.same((await store.listAudit({})).map((e) => e.action).reverse(), ['update-package.upload', 'rollout.create']);
  });
}

export function configTerminalKeysAuditConformance(t: Test, open: () => Promise<Store>): void {
  t.test('configuration and terminal writes commit with their audit entries or not at all', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    await s.createTerminal({ id: 'T1', groupId: 'g', tags: [], kind: 'kiosk', publicKey: 'pk', credentialHash: 'ch', createdAt: 1 });
    const doc = { name: 'Base', body: '{"a":1}', sha256: 'a'.repeat(64), at: 2, by: 'tok1' };

    await t.rejects(s.createConfigDoc({ id: 'base', ...doc }, boom));
    t.equal(await s.getConfigDoc('base'), undefined, 'no document without its audit entry');
    const created = await s.createConfigDoc({ id: 'base', ...doc }, (d) => [entry('config.create', `${d.id}@${d.version}`)]);
    await t.rejects(s.updateConfigDoc('base', { body: '{"a":2}', sha256: 'b'.repeat(64), at: 3, by: 'tok1', expectedVersion: created.version }, boom));
    t.equal((await s.getConfigDoc('base'))!.version, created.version, 'no new version without its audit entry');
    t.equal((await s.listConfigVersions('base')).length, 1);
    const updated = await s.updateConfigDoc('base', { body: '{"a":2}', sha256: 'b'.repeat(64), at: 3, by: 'tok1', expectedVersion: created.version }, (d) => [entry('config.update', `${d.id}@${d.version}`)]);
    t.ok(updated.version > created.version, 'the retry with the same precondition succeeds');

    await t.rejects(s.assignConfig({ scope: 'group', target: 'g', docId: 'base' }, boom));
    t.same(await s.listConfigAssignments(), [], 'not assigned without its audit entry');
    await s.assignConfig({ scope: 'group', target: 'g', docId: 'base' }, () => [entry('config.assign', 'group:g')]);
    await t.rejects(s.assignConfig({ scope: 'group', target: 'nope', docId: 'base' }, () => [entry('config.assign', 'group:nope')]), { code: 'SRV_ERR_NOT_FOUND' });
    await t.rejects(s.unassignConfig('group', 'g', boom));
    t.same((await s.listConfigAssignments()).map((a) => a.target), ['g'], 'still assigned without its audit entry');
    t.equal(await s.unassignConfig('group', 'g', () => [entry('config.unassign', 'group:g')]), true);
    t.equal(await s.unassignConfig('group', 'g', () => [entry('config.unassign', 'again')]), false, 'nothing to remove: nothing audited');

    await t.rejects(s.updateTerminal('T1', { status: 'disabled' }, boom));
    t.equal((await s.getTerminal('T1'))!.status, 'active', 'not disabled without its audit entry');
    t.match(await s.updateTerminal('T1', { status: 'disabled', name: 'Gate' }, (r) => [entry('terminal.disable', `${r.id}:${r.status}:${r.name}`)]), { id: 'T1', status: 'disabled', name: 'Gate' });
    t.equal(await s.updateTerminal('nope', { status: 'disabled' }, () => [entry('terminal.disable', 'nope')]), undefined, 'unknown terminal: nothing audited');
    t.match(await s.updateTerminal('T1', {}, (r) => [entry('terminal.touch', r.id)]), { id: 'T1' }, 'an empty patch returns the record');

    t.same((await s.listAudit({})).map((e) => `${e.action} ${e.target}`).reverse(), [
      `config.create base@${created.version}`, `config.update base@${updated.version}`, 'config.assign group:g', 'config.unassign group:g',
      'terminal.disable T1:disabled:Gate', 'terminal.touch T1',
    ]);
  });

  t.test('keys.commit: every write and the audit entries in one transaction', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const k = store.keys;
    const key = { usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, kcv: 'ABCDEF', block: 'D0000' };
    const ver = (version: number) => ({ keySetId: 'metro', version, description: '', status: 'active' as const, deadline: null, masterKcv: 'M', keys: [key], createdAt: 1, createdBy: 'kc' });
    const job = (id: string, version: number) => ({ id, groupId: 'g', keySetId: 'metro', version, keys: [{ version, index: 0 }], expectedKcv: 'K', status: 'active' as const, createdAt: 2, createdBy: 'kc' });
    const entryOf = (jobId: string, terminalId: string) => ({ jobId, terminalId, status: 'queued' as const, reportedKcv: null, error: null, createdAt: 2, updatedAt: 2 });
    const approval = { terminalId: 'T1', publicKey: 'pk', approvedBy: 'kc', approvedAt: 1, expiresAt: 100, revokedAt: null, revokedBy: null };

    // A failing audit builder undoes every write, including the job's sequence number use.
    await t.rejects(k.commit([{ op: 'addKeySetVersion', rec: ver(1) }, { op: 'putAssignment', rec: { groupId: 'g', keySetId: 'metro', version: 1, assignedAt: 2, assignedBy: 'kc' } }, { op: 'addJob', rec: job('kj_1', 1) }, { op: 'putJobTerminal', rec: entryOf('kj_1', 'T1') }, { op: 'putApproval', rec: approval }], boom));
    t.same(await k.listKeySetVersions(), [], 'no key set');
    t.equal(await k.getAssignment('g'), undefined, 'no assignment');
    t.same(await k.listJobs(), [], 'no job');
    t.same(await k.listTerminalEntries('T1'), [], 'no entry');
    t.equal(await k.getApproval('T1'), undefined, 'no approval');
    t.same(await store.listAudit({}), []);

    const r = await k.commit([
      { op: 'addKeySetVersion', rec: ver(1) }, { op: 'putAssignment', rec: { groupId: 'g', keySetId: 'metro', version: 1, assignedAt: 2, assignedBy: 'kc' } },
      { op: 'addJob', rec: job('kj_1', 1) }, { op: 'putJobTerminal', rec: entryOf('kj_1', 'T1') }, { op: 'putApproval', rec: approval },
    ], (res) => [entry('key-set.assign', 'g'), ...res.jobs.map((j) => entry('key-job.create', `${j.id}#${j.seq}`))]);
    t.equal(r.jobs.length, 1);
    t.equal(r.jobs[0]!.id, 'kj_1');
    t.ok(r.jobs[0]!.seq > 0, 'the committed job carries its seq');
    t.same((await k.getJob('kj_1'))!.seq, r.jobs[0]!.seq);
    t.ok(await k.getApproval('T1'));

    // A write that fails (conflict) rolls back the writes before it and writes no audit entry.
    await t.rejects(k.commit([{ op: 'putKeySetVersion', rec: { ...ver(1), status: 'retiring', deadline: 50 } }, { op: 'addKeySetVersion', rec: ver(1) }], () => [entry('x', 'x')]), { code: 'SRV_ERR_CONFLICT' });
    t.equal((await k.getKeySetVersion('metro', 1))!.status, 'active', 'the earlier write rolled back');
    await t.rejects(k.commit([{ op: 'addKeySetVersion', rec: ver(2) }, { op: 'addJob', rec: job('kj_1', 2) }]), { code: 'SRV_ERR_CONFLICT' });
    t.equal(await k.getKeySetVersion('metro', 2), undefined);

    // Rotation-like commit: several writes, two jobs, seqs in write order.
    const rot = await k.commit([
      { op: 'addKeySetVersion', rec: ver(2) }, { op: 'putKeySetVersion', rec: { ...ver(1), status: 'retiring', deadline: 50 } },
      { op: 'putJob', rec: { ...(await k.getJob('kj_1'))!, status: 'superseded' } }, { op: 'putJobTerminal', rec: { ...entryOf('kj_1', 'T1'), status: 'cancelled', error: 'superseded' } },
      { op: 'addJob', rec: job('kj_2', 2) }, { op: 'addJob', rec: { ...job('kj_3', 2), groupId: 'h' } },
    ], (res) => res.jobs.map((j) => entry('key-job.create', j.id)));
    t.same(rot.jobs.map((j) => j.id), ['kj_2', 'kj_3']);
    t.ok(rot.jobs[0]!.seq > r.jobs[0]!.seq && rot.jobs[1]!.seq > rot.jobs[0]!.seq, 'seqs increase in write order');
    t.same((await k.listJobs({ status: 'active' })).map((j) => j.id).sort(), ['kj_2', 'kj_3']);

    // Conditional writes: revoking a live approval once; deleting an existing assignment once.
    await t.rejects(k.commit([{ op: 'revokeApproval', terminalId: 'T1', at: 5, by: 'kc' }], boom));
    t.equal((await k.getApproval('T1'))!.revokedAt, null, 'not revoked without its audit entry');
    await k.commit([{ op: 'revokeApproval', terminalId: 'T1', at: 5, by: 'kc' }], () => [entry('key-approval.revoke', 'T1')]);
    t.match(await k.getApproval('T1'), { revokedAt: 5, revokedBy: 'kc' });
    await t.rejects(k.commit([{ op: 'revokeApproval', terminalId: 'T1', at: 6, by: 'kc2' }], () => [entry('key-approval.revoke', 'again')]), { code: 'SRV_ERR_NOT_FOUND' });
    await t.rejects(k.commit([{ op: 'revokeApproval', terminalId: 'nope', at: 6, by: 'kc' }]), { code: 'SRV_ERR_NOT_FOUND' });
    t.match(await k.getApproval('T1'), { revokedAt: 5, revokedBy: 'kc' }, 'the first revocation stands');
    await t.rejects(k.commit([{ op: 'putJob', rec: { ...(await k.getJob('kj_2'))!, status: 'superseded' } }, { op: 'deleteAssignment', groupId: 'nope' }], () => [entry('key-set.unassign', 'nope')]), { code: 'SRV_ERR_NOT_FOUND' });
    t.equal((await k.getJob('kj_2'))!.status, 'active', 'the write before the failed delete rolled back');
    await k.commit([{ op: 'deleteAssignment', groupId: 'g' }], () => [entry('key-set.unassign', 'g')]);
    t.equal(await k.getAssignment('g'), undefined);
    t.same(await k.commit([]), { jobs: [] }, 'an empty commit does nothing');

    t.same((await store.listAudit({})).map((e) => `${e.action} ${e.target}`).reverse(), [
      'key-set.assign g', `key-job.create kj_1#${r.jobs[0]!.seq}`, 'key-job.create kj_2', 'key-job.create kj_3', 'key-approval.revoke T1', 'key-set.unassign g',
    ]);
  });
}
