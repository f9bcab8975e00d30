import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, SQLITE_MIGRATIONS } from '../../src/store/sqlite.ts';
import { storeConformance } from './conformance.ts';

t.test('SQLite store conformance (in memory)', async (t) => {
  storeConformance(t, async () => openSqliteStore(':memory:'));
});

t.test('SQLite store keeps data across reopen and uses WAL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'onecard.db');
  const a = openSqliteStore(file);
  await a.createGroup({ id: 'g', name: 'g', createdAt: 1 });
  t.equal(a.db.pragma('journal_mode', { simple: true }), 'wal');
  await a.close();
  const b = openSqliteStore(file);
  t.same(await b.getGroup('g'), { id: 'g', name: 'g', createdAt: 1 });
  t.equal(b.db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
  await b.close();
});

t.test('a database newer than the code is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'future.db');
  const db = new Database(file);
  db.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 5}`);
  db.close();
  t.throws(() => openSqliteStore(file), { code: 'SRV_ERR_MIGRATION' });
});

t.test('keys and updates are migrated tables: an older file with the pre-migration tables upgrades, and they survive a reopen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'old.db');
  const db = new Database(file);
  db.exec(SQLITE_MIGRATIONS[0]!);
  db.exec(SQLITE_MIGRATIONS[1]!);
  db.pragma('user_version = 2');
  // What earlier builds created outside the migrations (CREATE TABLE IF NOT EXISTS at plugin start).
  db.exec(`CREATE TABLE keys_set_versions (key_set_id TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL, deadline INTEGER,
    master_kcv TEXT NOT NULL, keys TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (key_set_id, version));
    INSERT INTO keys_set_versions VALUES ('metro', 1, 'old', 'active', NULL, 'AABBCCDDEE', '[]', 1, 'adm');`);
  db.close();
  const a = openSqliteStore(file);
  t.equal(a.db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
  t.equal((await a.keys.getKeySetVersion('metro', 1))?.description, 'old', 'the old rows are kept');
  await a.keys.putApproval({ terminalId: 'T1', publicKey: 'pk', approvedBy: 'adm_c', approvedAt: 1, expiresAt: 2, revokedAt: null, revokedBy: null });
  await a.updates.addPackage({ id: 'pkg_a', name: 'onecard-terminal', version: '1.1.0', minPreviousVersion: '1.0.0', size: 1, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64), fileCount: 1, keyId: 'k', alg: 'ed25519', signature: '{}', uploadedAt: 1, uploadedBy: 'adm' });
  await a.close();
  const b = openSqliteStore(file);
  t.equal((await b.keys.getApproval('T1'))?.approvedBy, 'adm_c');
  t.equal((await b.updates.getPackage('pkg_a'))?.version, '1.1.0');
  await b.close();
});
