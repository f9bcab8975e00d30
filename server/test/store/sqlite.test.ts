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
