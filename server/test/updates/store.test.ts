/** The UpdatesStore conformance suite, run on the in-memory and the SQLite implementations. */
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { MemoryUpdatesStore, SqliteUpdatesStore, updatesStoreFor, type UpdatesStore } from '../../src/updates/store.ts';
import { createRollout, step, type RolloutPlan } from '../../src/updates/rollout.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';

const pkg = (id: string, version: string) => ({
  id, name: 'onecard-terminal', version, minPreviousVersion: '1.0.0', size: 10, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64),
  fileCount: 1, keyId: '0123456789abcdef', alg: 'ed25519', signature: '{}', uploadedAt: 5, uploadedBy: 'adm_1',
});
const plan = (id: string, packageId: string): RolloutPlan => ({ id, packageId, packageSeq: 1, targetVersion: '1.1.0', minPreviousVersion: '1.0.0', force: false, phases: [{ percent: 100 }], ratePerMinute: 10, successThreshold: 0.9, maxFailures: 1, terminalTimeoutMs: 60_000 });

async function conformance(t: Test, make: () => Promise<UpdatesStore>): Promise<void> {
  const s = await make();
  await s.init();
  await s.init(); // idempotent
  const a = await s.addPackage(pkg('pkg_a', '1.1.0'));
  const b = await s.addPackage(pkg('pkg_b', '1.2.0'));
  t.ok(b.seq > a.seq, 'seq increases');
  await t.rejects(s.addPackage(pkg('pkg_c', '1.1.0')), { code: 'SRV_ERR_CONFLICT' }, 'same name+version');
  await t.rejects(s.addPackage(pkg('pkg_a', '9.9.9')), { code: 'SRV_ERR_CONFLICT' }, 'same id');
  t.same((await s.getPackage('pkg_a'))?.version, '1.1.0');
  t.equal(await s.getPackage('nope'), undefined);
  t.same((await s.listPackages()).map((p) => p.id), ['pkg_b', 'pkg_a'], 'newest first');
  let st = createRollout(plan('ro_1', 'pkg_a'), [{ id: 'T1', version: '1.0.0' }], 100);
  await s.putRollout({ id: 'ro_1', packageId: 'pkg_a', target: { groups: ['g'] }, createdBy: 'adm', state: st });
  st = step(st, { type: 'tick' }, 200).state;
  await s.putRollout({ id: 'ro_1', packageId: 'pkg_a', target: { groups: ['g'] }, createdBy: 'adm', state: st });
  const got = await s.getRollout('ro_1');
  t.same(got?.state, st, 'state round trips');
  t.same(got?.target, { groups: ['g'] });
  const done = step(step(st, { type: 'abort' }, 300).state, { type: 'tick' }, 301).state;
  await s.putRollout({ id: 'ro_2', packageId: 'pkg_b', target: {}, createdBy: 'adm', state: { ...done, createdAt: 400 } });
  t.same((await s.listRollouts()).map((r) => r.id), ['ro_2', 'ro_1']);
  t.same((await s.listRollouts(['active', 'paused'])).map((r) => r.id), ['ro_1']);
  t.same((await s.listRollouts([])).map((r) => r.id), []);
}

t.test('memory', (t) => conformance(t, async () => new MemoryUpdatesStore()));
t.test('sqlite', (t) => conformance(t, async () => new SqliteUpdatesStore(new Database(':memory:'))));
t.test('updatesStoreFor picks SQLite when the main store has a db', async (t) => {
  t.ok(updatesStoreFor(openSqliteStore(':memory:')) instanceof SqliteUpdatesStore);
  t.ok(updatesStoreFor({}) instanceof MemoryUpdatesStore);
});
