// KeysStore conformance: the in-memory and the SQLite implementation behave the same.
import t from 'tap';
import Database from 'better-sqlite3';
import { MemoryKeysStore, SqliteKeysStore, keysStoreFor, type KeysStore, type KeySetVersionRecord } from '../../src/keys/store.ts';

const version = (keySetId: string, v: number): KeySetVersionRecord => ({
  keySetId, version: v, description: `v${v}`, status: 'active', deadline: null, masterKcv: 'AABBCCDDEE',
  keys: [{ usage: '61', keyVersion: v, algorithmId: 0, levels: 2, kcv: 'ABCDEF', block: `D0144...${v}` }], createdAt: 1000 + v, createdBy: 'adm_x',
});

function conformance(name: string, make: () => KeysStore): void {
  t.test(name, async (t) => {
    const s = make();
    await s.init();
    await s.init(); // idempotent
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

    const j1 = await s.addJob({ id: 'kj_1', groupId: 'g2', keySetId: 'a', version: 2, keys: [{ version: 2, index: 0 }], expectedKcv: '123456', status: 'active', createdAt: 10, createdBy: 'x' });
    const j2 = await s.addJob({ id: 'kj_2', groupId: 'g3', keySetId: 'b', version: 1, keys: [{ version: 1, index: 0 }], expectedKcv: '654321', status: 'active', createdAt: 11, createdBy: 'x' });
    t.ok(j2.seq > j1.seq, 'seq increases');
    await t.rejects(s.addJob({ ...j1 }), { code: 'SRV_ERR_CONFLICT' });
    await s.putJob({ ...j1, status: 'superseded' });
    t.equal((await s.getJob('kj_1'))?.status, 'superseded');
    t.same((await s.listJobs()).map((j) => j.id), ['kj_2', 'kj_1'], 'newest first');
    t.same((await s.listJobs({ status: 'active' })).map((j) => j.id), ['kj_2']);
    t.same((await s.listJobs({ groupId: 'g2' })).map((j) => j.id), ['kj_1']);
    t.same((await s.listJobs({ keySetId: 'b' })).map((j) => j.id), ['kj_2']);
    t.same((await s.getJob('kj_2'))?.keys, [{ version: 1, index: 0 }]);

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
}

conformance('memory keys store', () => new MemoryKeysStore());
conformance('sqlite keys store', () => new SqliteKeysStore(new Database(':memory:')));
t.test('keysStoreFor picks SQLite on a store with a db handle', async (t) => {
  t.ok(keysStoreFor({ db: new Database(':memory:') }) instanceof SqliteKeysStore);
  t.ok(keysStoreFor({}) instanceof MemoryKeysStore);
});
