/**
 * Red team, durable server state: what an unlucky operator does to the SQLite file and to the
 * admin tokens. A zero-length or corrupt `onecard.db` is refused with a coded error (a fresh install
 * happens only when the file is absent) instead of becoming an empty store with a new admin token;
 * `/ready` notices a page corrupted under a running server; database files are owner-only even
 * when the data directory pre-exists; the last admin token cannot be revoked; and
 * `ONECARD_ADMIN_TOKEN` at start restores admin access, audited. Acknowledged writes survive power
 * loss: the store runs with `synchronous=FULL`.
 */
import t from 'tap';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { openStore, storeSpec } from '../../src/store/open.ts';

const clock = { now: () => 1_764_300_000_000 };
const tmp = (t: { teardown(fn: () => void): void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-dbrec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const mode = (f: string): number => statSync(f).mode & 0o777;

/** Overwrites one page in the middle of the file with garbage. */
function corruptMiddlePage(file: string): void {
  const size = statSync(file).size;
  const page = 4096;
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(page, 0xa5), 0, page, Math.floor(size / page / 2) * page);
  closeSync(fd);
}

async function filledStore(file: string, integrityIntervalMs?: number) {
  const s = openSqliteStore(file, integrityIntervalMs !== undefined ? { integrityIntervalMs } : {});
  await s.ingestEvents('T1', Array.from({ length: 2000 }, (_, i) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i + 1, ts: 1, type: 'card.read', body: { pad: 'x'.repeat(1000) } })), 1);
  s.db.pragma('wal_checkpoint(TRUNCATE)');
  return s;
}

t.test('a zero-length onecard.db is refused with a coded error, never turned into a fresh install', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'onecard.db');
  writeFileSync(file, '');
  await t.rejects(openStore(storeSpec(undefined, file)), { code: 'SRV_ERR_STORE_CORRUPT', details: { reason: 'empty' } });
  t.equal(statSync(file).size, 0, 'the file is left as it was (for the operator to restore)');
});

t.test('a file that is not a database, or has a corrupt page, is refused at start', async (t) => {
  const dir = tmp(t);
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'this is not a SQLite database, it is a half-restored backup'.repeat(200));
  t.throws(() => openSqliteStore(junk), { code: 'SRV_ERR_STORE_CORRUPT', details: { reason: 'corrupt' } });
  const file = join(dir, 'onecard.db');
  await (await filledStore(file)).close();
  corruptMiddlePage(file);
  t.throws(() => openSqliteStore(file), { code: 'SRV_ERR_STORE_CORRUPT', details: { reason: 'corrupt' } });
});

t.test('/ready runs an integrity check: a page corrupted under a running server makes it 503', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'onecard.db');
  const store = await filledStore(file, 0);
  const app = await buildApp({ store, clock });
  t.teardown(async () => { await app.close(); await store.close(); });
  t.equal((await app.inject({ url: '/ready' })).statusCode, 200);
  corruptMiddlePage(file);
  const r = await app.inject({ url: '/ready' });
  t.equal(r.statusCode, 503);
  t.match(r.json(), { status: 'not-ready' });
});

t.test('database files are 0600 on a fresh install and when they pre-exist with 0644', async (t) => {
  const dir = tmp(t);
  const old = process.umask(0o022);
  t.teardown(() => process.umask(old));
  const file = join(dir, 'onecard.db');
  const s = openSqliteStore(file);
  await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
  t.equal(mode(file), 0o600, 'fresh database file');
  t.equal(mode(`${file}-wal`), 0o600, 'WAL file');
  t.equal(mode(`${file}-shm`), 0o600, 'shared-memory file');
  await s.close();
  chmodSync(file, 0o644);
  const again = openSqliteStore(file);
  t.equal(mode(file), 0o600, 'a pre-existing 0644 file is tightened');
  t.equal(mode(`${file}-wal`), 0o600);
  await again.close();
});

t.test('acknowledged writes survive power loss: synchronous=FULL in WAL mode', async (t) => {
  const dir = tmp(t);
  const s = openSqliteStore(join(dir, 'onecard.db'));
  t.teardown(() => s.close());
  t.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(s.db.pragma('synchronous', { simple: true }), 2, 'FULL (2): the WAL is synced at every commit, i.e. before every ack');
});

t.test('the last admin token cannot be revoked, by itself or by anyone', async (t) => {
  const store = openSqliteStore(':memory:');
  const app = await buildApp({ store, clock });
  t.teardown(() => app.close());
  const root = (await bootstrapAdminToken(store, clock))!;
  const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });
  const rootId = (await store.listAdminTokens())[0]!.id;
  const self = await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${rootId}`, headers: auth(root) });
  t.equal(self.statusCode, 409);
  t.equal(self.json().error.code, 'SRV_ERR_LAST_ADMIN');
  t.equal((await app.inject({ url: '/api/v1/admin/tokens', headers: auth(root) })).statusCode, 200, 'still usable');
  // A second admin may revoke the first; then the second is the last one.
  const second = (await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: auth(root), payload: { name: 'deputy', role: 'admin' } })).json() as { id: string; token: string };
  const op = (await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: auth(root), payload: { name: 'ops', role: 'operator' } })).json() as { id: string };
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${rootId}`, headers: auth(second.token) })).statusCode, 204);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${second.id}`, headers: auth(second.token) })).json().error.code, 'SRV_ERR_LAST_ADMIN', 'an operator token left active does not count as an admin');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${op.id}`, headers: auth(second.token) })).statusCode, 204, 'non-admin tokens are revoked as before');
  const audit = (await store.listAudit({ action: 'admin-token.revoke' })).map((e) => e.target).sort();
  t.same(audit, [rootId, op.id].sort(), 'only the revocations that happened are audited');
});

t.test('ONECARD_ADMIN_TOKEN at start restores admin access (audited), and is a no-op when it already works', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'onecard.db');
  const preset = 'preset-admin-token-0123456789';
  let store = openSqliteStore(file);
  t.equal(await bootstrapAdminToken(store, clock, preset), preset, 'first start: the preset is the bootstrap token');
  // An admin demotes the situation: a deputy admin revokes the bootstrap token and then loses its own.
  const bootstrapId = (await store.listAdminTokens())[0]!.id;
  await store.createAdminToken({ id: 'adm_deputy', name: 'deputy', role: 'admin', tokenHash: 'lost-hash', createdAt: 1 });
  t.equal(await store.revokeAdminToken(bootstrapId, 2), true);
  await store.close();

  // Restart with the preset: it works again.
  store = openSqliteStore(file);
  t.equal(await bootstrapAdminToken(store, clock, preset), undefined, 'no new token is printed');
  const app = await buildApp({ store, clock });
  t.teardown(async () => { await app.close(); });
  t.equal((await app.inject({ url: '/api/v1/admin/tokens', headers: { authorization: `Bearer ${preset}` } })).statusCode, 200, 'admin access restored');
  t.match(await store.listAudit({ action: 'admin-token.recover' }), [{ actor: 'system', details: { result: 'restored' } }]);

  // Again with the same preset: nothing to do, nothing audited.
  await bootstrapAdminToken(store, clock, preset);
  t.equal((await store.listAudit({ action: 'admin-token.recover' })).length, 1);
  // A brand-new preset on a store that has tokens creates an admin token.
  const other = 'another-recovery-token-987654321';
  await bootstrapAdminToken(store, clock, other);
  t.equal((await app.inject({ url: '/api/v1/admin/tokens', headers: { authorization: `Bearer ${other}` } })).statusCode, 200);
  t.match((await store.listAudit({ action: 'admin-token.recover' }))[0], { details: { result: 'created' } });
  t.notOk(readFileSync(file).includes(Buffer.from(preset)), 'the clear token is never stored');
});
