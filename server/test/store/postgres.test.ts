/**
 * The PostgreSQL store against a real server: the shared conformance suite (each store in a fresh
 * schema of the database named by `ONECARD_TEST_PG_URL`), migrations in lockstep with SQLite's,
 * concurrent starts, and cross-connection races. Skipped with a reason when the variable is not
 * set; `.ci/suites/postgres.sh` starts a cluster and sets it.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openSqliteStore, SQLITE_MIGRATIONS } from '../../src/store/sqlite.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import { storeConformance } from './conformance.ts';

const URL = process.env.ONECARD_TEST_PG_URL;

t.test('PostgreSQL migrations are in lockstep with SQLite migrations', async (t) => {
  t.equal(POSTGRES_MIGRATIONS.length, SQLITE_MIGRATIONS.length, 'same number of numbered migrations');
});

if (URL === undefined || URL === '') {
  t.test('PostgreSQL store', { skip: 'ONECARD_TEST_PG_URL is not set (run .ci/suites/postgres.sh, or point it at a scratch database)' }, () => {});
} else {
  const admin = new pg.Pool({ connectionString: URL, max: 2 });
  const schemas: string[] = [];
  const freshSchema = (): string => {
    const s = `onecard_t_${randomBytes(6).toString('hex')}`;
    schemas.push(s);
    return s;
  };
  t.teardown(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });

  t.test('PostgreSQL store conformance', async (t) => {
    storeConformance(t, async () => openPostgresStore(URL, { schema: freshSchema(), max: 4 }));
  });

  t.test('same logical schema as SQLite: tables and columns', async (t) => {
    const schema = freshSchema();
    const pgStore = await openPostgresStore(URL, { schema, max: 2 });
    t.teardown(() => pgStore.close());
    t.equal(await pgStore.schemaVersion(), POSTGRES_MIGRATIONS.length);
    const pgCols = (await admin.query<{ table_name: string; column_name: string }>(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'onecard_schema' ORDER BY 1, 2", [schema])).rows
      .map((r) => `${r.table_name}.${r.column_name}`);
    const lite = openSqliteStore(':memory:');
    t.teardown(() => lite.close());
    const tables = lite.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
    const liteCols = tables.flatMap((tb) => (lite.db.prepare(`PRAGMA table_info(${tb})`).all() as { name: string }[]).map((c) => `${tb}.${c.name}`)).sort();
    t.same(pgCols, liteCols);
    const pgIdx = (await admin.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY 1", [schema])).rows.map((r) => r.indexname);
    const liteIdx = (lite.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[]);
    t.same(pgIdx, liteIdx, 'same named indexes');
  });

  t.test('migrations: concurrent opens migrate once; reopen keeps data; newer database refused', async (t) => {
    const schema = freshSchema();
    const opened = await Promise.all([1, 2, 3].map(() => openPostgresStore(URL, { schema, max: 2 })));
    await opened[0]!.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    t.same(await opened[2]!.getGroup('g'), { id: 'g', name: 'g', createdAt: 1 }, 'one database behind all three');
    for (const s of opened) await s.close();
    const again = await openPostgresStore(URL, { schema, max: 2 });
    t.same((await again.listGroups()).map((g) => g.id), ['g']);
    t.equal(again.kind, 'postgres');
    t.ok(await again.ping());
    await again.close();
    await again.close();
    await admin.query(`UPDATE ${schema}.onecard_schema SET version = ${POSTGRES_MIGRATIONS.length + 3}`);
    await t.rejects(openPostgresStore(URL, { schema, max: 2 }), { code: 'SRV_ERR_MIGRATION' });
  });

  t.test('two stores (two servers) on one database: races resolve like one', async (t) => {
    const schema = freshSchema();
    const a = await openPostgresStore(URL, { schema, max: 4 });
    const b = await openPostgresStore(URL, { schema, max: 4 });
    t.teardown(async () => { await a.close(); await b.close(); });
    await a.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    await a.createTerminal({ id: 'T1', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: 'c', createdAt: 1 });
    await a.createEnrolmentToken({ id: 'e', tokenHash: 'eh', groupId: 'g', tags: [], expiresAt: 100, createdAt: 1, createdBy: 'x' });
    const uses = await Promise.all([a, b, a, b].map((s, i) => s.consumeEnrolmentToken('eh', `T${i}`, 5)));
    t.equal(uses.filter((u) => u !== undefined).length, 1, 'an enrolment token is used once across servers');

    const add = (c: string) => ({ cardNumber: c, reportedBy: 'tok', source: 'admin' as const, reason: 'lost' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).hotlistAdd([add(`A0000000${i}`)], 10 + i)));
    t.same(results.map((r) => r.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every change gets its own version');
    t.equal(await b.hotlistVersion(), 10);

    const batch = Array.from({ length: 50 }, (_, i) => ({ eventId: `evt-${String(i).padStart(6, '0')}`, seq: i + 1, ts: 1000 + i, type: 'card.read', body: { i } }));
    const both = await Promise.all([a.ingestEvents('T1', batch, 1), b.ingestEvents('T1', batch, 2)]);
    t.equal(both[0]!.inserted + both[1]!.inserted, 50, 'the same batch through two servers is stored once');
    t.equal((await a.listEvents({ terminalId: 'T1', limit: 1000 })).length, 50);
    t.same((await a.listEvents({ terminalId: 'T1', limit: 1000 })).map((e) => e.seq), batch.map((e) => e.seq), 'stored in record order');

    await a.createConfigDoc({ id: 'd', name: 'd', body: '{}', sha256: 'a'.repeat(64), at: 1, by: 'x' });
    const edits = await Promise.allSettled([a, b].map((s, i) => s.updateConfigDoc('d', { body: `{"i":${i}}`, sha256: 'b'.repeat(64), at: 2, by: 'x', expectedVersion: 1 })));
    t.same(edits.map((e) => e.status).sort(), ['fulfilled', 'rejected'], 'one of two concurrent edits with the same precondition wins');
    t.match(edits.find((e) => e.status === 'rejected'), { reason: { code: 'SRV_ERR_VERSION_MISMATCH' } });
  });

  t.test('keys and updates are durable on PostgreSQL: a second server and a restart see them', async (t) => {
    const schema = freshSchema();
    const a = await openPostgresStore(URL, { schema, max: 2 });
    await a.keys.addKeySetVersion({ keySetId: 'metro', version: 1, description: 'd', status: 'active', deadline: null, masterKcv: 'AABBCCDDEE', keys: [{ usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, kcv: 'ABCDEF', block: 'D0144' }], createdAt: 1, createdBy: 'adm' });
    const job = await a.keys.addJob({ id: 'kj_1', groupId: 'g', keySetId: 'metro', version: 1, keys: [{ version: 1, index: 0 }], expectedKcv: '123456', status: 'active', createdAt: 2, createdBy: 'adm' });
    await a.keys.putApproval({ terminalId: 'T1', publicKey: 'pk', approvedBy: 'adm_c', approvedAt: 3, expiresAt: 4, revokedAt: null, revokedBy: null });
    await a.updates.addPackage({ id: 'pkg_a', name: 'onecard-terminal', version: '1.1.0', minPreviousVersion: '1.0.0', size: 1, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64), fileCount: 1, keyId: 'k', alg: 'ed25519', signature: '{}', uploadedAt: 1, uploadedBy: 'adm' });
    const b = await openPostgresStore(URL, { schema, max: 2 });
    const job2 = await b.keys.addJob({ id: 'kj_2', groupId: 'g', keySetId: 'metro', version: 1, keys: [], expectedKcv: '123456', status: 'active', createdAt: 5, createdBy: 'adm' });
    t.ok(job2.seq > job.seq, 'job sequence is shared by both servers');
    await a.close();
    await b.close();
    const c = await openPostgresStore(URL, { schema, max: 2 });
    t.teardown(() => c.close());
    t.equal((await c.keys.getKeySetVersion('metro', 1))?.keys[0]?.block, 'D0144', 'key set survives the restart');
    t.same((await c.keys.listJobs()).map((j) => j.id), ['kj_2', 'kj_1']);
    t.equal((await c.keys.getApproval('T1'))?.approvedBy, 'adm_c');
    t.equal((await c.updates.getPackage('pkg_a'))?.version, '1.1.0');
  });

  t.test('unreachable database: coded error', async (t) => {
    await t.rejects(openPostgresStore('postgres://nobody@127.0.0.1:1/none', { max: 1 }), { code: 'SRV_ERR_STORE' });
  });
}
