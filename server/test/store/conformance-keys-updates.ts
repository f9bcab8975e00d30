/**
 * The keys and updates parts of the store conformance suite (`Store.keys`, `Store.updates`):
 * `storeConformance` runs these on every backend, so key sets, key jobs, custodian approvals,
 * packages and rollouts behave the same — and are durable — on SQLite and PostgreSQL.
 */
import type { Test } from 'tap';
import type { KeySetVersionRecord, Store } from '../../src/store/types.ts';
import { createRollout, step, type RolloutPlan } from '../../src/updates/rollout.ts';

const version = (keySetId: string, v: number): KeySetVersionRecord => ({
  keySetId, version: v, description: `v${v}`, status: 'active', deadline: null, masterKcv: 'AABBCCDDEE',
  keys: [{ usage: '61', keyVersion: v, algorithmId: 0, levels: 2, kcv: 'ABCDEF', block: `D0144...${v}` }], createdAt: 1000 + v, createdBy: 'adm_x',
});

const pkg = (id: string, v: string) => ({
  id, name: 'onecard-terminal', version: v, minPreviousVersion: '1.0.0', size: 10, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64),
  fileCount: 1, keyId: '0123456789abcdef', alg: 'ed25519', signature: '{}', uploadedAt: 5, uploadedBy: 'adm_1',
});
const plan = (id: string, packageId: string): RolloutPlan => ({ id, packageId, packageSeq: 1, targetVersion: '1.1.0', minPreviousVersion: '1.0.0', force: false, phases: [{ percent: 100 }], ratePerMinute: 10, successThreshold: 0.9, maxFailures: 1, terminalTimeoutMs: 60_000 });

export function keysUpdatesConformance(t: Test, open: () => Promise<Store>): void {
  t.test('keys: key-set versions, assignments', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const s = store.keys;
    await s.init();
    await s.addKeySetVersion(version('b', 1));
    await s.addKeySetVersion(version('a', 1));
    await s.addKeySetVersion(version('a', 2));
    await t.rejects(s.addKeySetVersion(version('a', 2)), { code: 'SRV_ERR_CONFLICT' });
    t.same((await s.listKeySetVersions()).map((v) => `${v.keySetId}${v.version}`), ['a2', 'a1', 'b1']);
    t.same((await s.listKeySetVersions('a')).map((v) => v.version), [2, 1]);
    t.same(await s.getKeySetVersion('a', 1), version('a', 1));
    t.equal(await s.getKeySetVersion('a', 9), undefined);
    await s.putKeySetVersion({ ...version('a', 1), status: 'purged', deadline: 5, keys: [{ ...version('a', 1).keys[0]!, block: null }] });
    const purged = await s.getKeySetVersion('a', 1);
    t.equal(purged?.status, 'purged');
    t.equal(purged?.keys[0]?.block, null);
    t.equal(purged?.deadline, 5);

    await s.putAssignment({ groupId: 'g2', keySetId: 'a', version: 2, assignedAt: 1, assignedBy: 'x' });
    await s.putAssignment({ groupId: 'g1', keySetId: 'b', version: 1, assignedAt: 1, assignedBy: 'x' });
    await s.putAssignment({ groupId: 'g1', keySetId: 'a', version: 1, assignedAt: 2, assignedBy: 'y' });
    t.same((await s.listAssignments()).map((a) => `${a.groupId}:${a.keySetId}${a.version}`), ['g1:a1', 'g2:a2']);
    t.same((await s.listAssignments('a')).length, 2);
    t.equal((await s.getAssignment('g1'))?.assignedBy, 'y');
    t.equal(await s.deleteAssignment('g1'), true);
    t.equal(await s.deleteAssignment('g1'), false);
    t.equal(await s.getAssignment('g1'), undefined);
  });

  t.test('keys: jobs and per-terminal entries', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const s = store.keys;
    const j1 = await s.addJob({ id: 'kj_1', groupId: 'g2', keySetId: 'a', version: 2, keys: [{ version: 2, index: 0 }], expectedKcv: '123456', status: 'active', createdAt: 10, createdBy: 'x' });
    const j2 = await s.addJob({ id: 'kj_2', groupId: 'g3', keySetId: 'b', version: 1, keys: [{ version: 1, index: 0 }], expectedKcv: '654321', status: 'active', createdAt: 11, createdBy: 'x' });
    t.ok(j2.seq > j1.seq, 'seq increases');
    t.same(await s.getJob('kj_1'), j1, 'the returned record is what is stored');
    await t.rejects(s.addJob({ ...j1 }), { code: 'SRV_ERR_CONFLICT' });
    await s.putJob({ ...j1, status: 'superseded' });
    t.equal((await s.getJob('kj_1'))?.status, 'superseded');
    t.same((await s.listJobs()).map((j) => j.id), ['kj_2', 'kj_1'], 'newest first');
    t.same((await s.listJobs({ status: 'active' })).map((j) => j.id), ['kj_2']);
    t.same((await s.listJobs({ groupId: 'g2' })).map((j) => j.id), ['kj_1']);
    t.same((await s.listJobs({ keySetId: 'b', status: 'active' })).map((j) => j.id), ['kj_2']);
    t.same((await s.getJob('kj_2'))?.keys, [{ version: 1, index: 0 }]);
    t.equal(await s.getJob('kj_9'), undefined);

    await s.putJobTerminal({ jobId: 'kj_2', terminalId: 'T2', status: 'queued', reportedKcv: null, error: null, createdAt: 20, updatedAt: 20 });
    await s.putJobTerminal({ jobId: 'kj_2', terminalId: 'T1', status: 'queued', reportedKcv: null, error: null, createdAt: 20, updatedAt: 20 });
    await s.putJobTerminal({ jobId: 'kj_1', terminalId: 'T1', status: 'cancelled', reportedKcv: null, error: 'superseded', createdAt: 19, updatedAt: 21 });
    await s.putJobTerminal({ jobId: 'kj_2', terminalId: 'T1', status: 'succeeded', reportedKcv: '654321', error: null, createdAt: 20, updatedAt: 30 });
    t.same(await s.getJobTerminal('kj_2', 'T1'), { jobId: 'kj_2', terminalId: 'T1', status: 'succeeded', reportedKcv: '654321', error: null, createdAt: 20, updatedAt: 30 });
    t.same((await s.listJobTerminals('kj_2')).map((e) => e.terminalId), ['T1', 'T2']);
    t.same((await s.listTerminalEntries('T1')).map((e) => e.jobId), ['kj_1', 'kj_2']);
    t.same((await s.listTerminalEntries('T1', ['queued', 'in-progress'])).length, 0);
    t.same((await s.listTerminalEntries('T2', ['queued'])).map((e) => e.jobId), ['kj_2']);
    t.same(await s.listTerminalEntries('T2', []), []);
  });

  t.test('keys: custodian approvals, one per terminal', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const s = store.keys;
    const a = { terminalId: 'T2', publicKey: 'pk-2', approvedBy: 'adm_c', approvedAt: 10, expiresAt: 1000, revokedAt: null, revokedBy: null };
    await s.putApproval(a);
    await s.putApproval({ ...a, terminalId: 'T1', publicKey: 'pk-1' });
    t.same(await s.getApproval('T2'), a);
    t.equal(await s.getApproval('T3'), undefined);
    await s.putApproval({ ...a, revokedAt: 20, revokedBy: 'adm_d' });
    t.same(await s.getApproval('T2'), { ...a, revokedAt: 20, revokedBy: 'adm_d' }, 'revocation replaces the record');
    t.same((await s.listApprovals()).map((x) => `${x.terminalId}:${x.publicKey}`), ['T1:pk-1', 'T2:pk-2']);
  });

  t.test('updates: packages and rollouts', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const s = store.updates;
    await s.init();
    const a = await s.addPackage(pkg('pkg_a', '1.1.0'));
    const b = await s.addPackage(pkg('pkg_b', '1.2.0'));
    t.ok(b.seq > a.seq, 'seq increases');
    await t.rejects(s.addPackage(pkg('pkg_c', '1.1.0')), { code: 'SRV_ERR_CONFLICT' }, 'same name+version');
    await t.rejects(s.addPackage(pkg('pkg_a', '9.9.9')), { code: 'SRV_ERR_CONFLICT' }, 'same id');
    t.same(await s.getPackage('pkg_a'), a);
    t.equal(await s.getPackage('nope'), undefined);
    t.same((await s.listPackages()).map((p) => p.id), ['pkg_b', 'pkg_a'], 'newest first');
    let st = createRollout(plan('ro_1', 'pkg_a'), [{ id: 'T1', version: '1.0.0' }], 100);
    await s.putRollout({ id: 'ro_1', packageId: 'pkg_a', target: { groups: ['g'] }, createdBy: 'adm', state: st });
    st = step(st, { type: 'tick' }, 200).state;
    await s.putRollout({ id: 'ro_1', packageId: 'pkg_a', target: { groups: ['g'] }, createdBy: 'adm', state: st });
    const got = await s.getRollout('ro_1');
    t.same(got?.state, st, 'state round trips');
    t.same(got?.target, { groups: ['g'] });
    t.equal(await s.getRollout('ro_9'), undefined);
    const done = step(step(st, { type: 'abort' }, 300).state, { type: 'tick' }, 301).state;
    await s.putRollout({ id: 'ro_2', packageId: 'pkg_b', target: {}, createdBy: 'adm', state: { ...done, createdAt: 400 } });
    t.same((await s.listRollouts()).map((r) => r.id), ['ro_2', 'ro_1']);
    t.same((await s.listRollouts(['active', 'paused'])).map((r) => r.id), ['ro_1']);
    t.same((await s.listRollouts([])).map((r) => r.id), []);
    await t.rejects(s.putRollout({ id: 'ro_3', packageId: 'pkg_none', target: {}, createdBy: 'adm', state: st }), 'a rollout needs a stored package');
  });
}
