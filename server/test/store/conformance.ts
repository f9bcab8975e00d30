/**
 * The store conformance suite: every backend runs exactly these tests (SQLite here, PostgreSQL in
 * its own suite). `open()` must return a fresh, empty, migrated store.
 */
import type { Test } from 'tap';
import type { Store } from '../../src/store/types.ts';

export function storeConformance(t: Test, open: () => Promise<Store>): void {
  t.test('admin tokens: create, find by hash, revoke, count', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    t.equal(await s.countActiveAdminTokens(), 0);
    await s.createAdminToken({ id: 'tok1', name: 'root', role: 'admin', tokenHash: 'h1', createdAt: 10 });
    await s.createAdminToken({ id: 'tok2', name: 'ops', role: 'operator', tokenHash: 'h2', createdAt: 11 });
    t.same(await s.findAdminTokenByHash('h2'), { id: 'tok2', name: 'ops', role: 'operator', createdAt: 11, revokedAt: null });
    t.equal(await s.findAdminTokenByHash('nope'), undefined);
    t.equal(await s.countActiveAdminTokens(), 2);
    t.equal(await s.revokeAdminToken('tok2', 20), true);
    t.equal(await s.revokeAdminToken('tok2', 21), false, 'second revoke is a no-op');
    t.equal((await s.findAdminTokenByHash('h2'))?.revokedAt, 20);
    t.equal(await s.countActiveAdminTokens(), 1);
    t.same((await s.listAdminTokens()).map((x) => x.id), ['tok1', 'tok2']);
    await t.rejects(s.createAdminToken({ id: 'tok3', name: 'dup', role: 'viewer', tokenHash: 'h1', createdAt: 12 }), 'duplicate hash refused');
  });

  t.test('groups', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'wuhan-pharmacy', name: 'Wuhan pharmacies', createdAt: 1 });
    await t.rejects(s.createGroup({ id: 'wuhan-pharmacy', name: 'again', createdAt: 2 }), { code: 'SRV_ERR_CONFLICT' });
    t.same(await s.getGroup('wuhan-pharmacy'), { id: 'wuhan-pharmacy', name: 'Wuhan pharmacies', createdAt: 1 });
    t.equal(await s.getGroup('x'), undefined);
    t.equal((await s.listGroups()).length, 1);
  });

  t.test('enrolment tokens are single use and expire', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    await s.createEnrolmentToken({ id: 'e1', tokenHash: 'eh1', groupId: 'g', tags: ['kind:hall-kiosk'], expiresAt: 100, createdAt: 1, createdBy: 'tok1' });
    await s.createEnrolmentToken({ id: 'e2', tokenHash: 'eh2', groupId: 'g', tags: [], expiresAt: 50, createdAt: 1, createdBy: 'tok1' });
    t.equal(await s.consumeEnrolmentToken('eh2', 'T2', 50), undefined, 'expired at its expiry instant');
    const used = await s.consumeEnrolmentToken('eh1', 'T1', 99);
    t.match(used, { id: 'e1', groupId: 'g', tags: ['kind:hall-kiosk'], usedAt: 99, usedBy: 'T1', forTerminal: null });
    await s.createEnrolmentToken({ id: 'e3', tokenHash: 'eh3', groupId: 'g', tags: [], expiresAt: 100, createdAt: 1, createdBy: 'tok1', forTerminal: 'T1' });
    t.match(await s.consumeEnrolmentToken('eh3', 'Tnew', 2), { forTerminal: 'T1', usedBy: 'T1' }, 're-key token keeps the terminal id');
    t.equal(await s.consumeEnrolmentToken('eh1', 'T3', 99), undefined, 'second use refused');
    t.equal(await s.consumeEnrolmentToken('unknown', 'T4', 1), undefined);
    const concurrent = await Promise.all([1, 2, 3].map(async (i) => s.consumeEnrolmentToken('eh1', `X${i}`, 1)));
    t.same(concurrent, [undefined, undefined, undefined]);
    t.equal((await s.listEnrolmentTokens()).length, 3);
  });

  t.test('terminals: create, filter, patch', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g1', name: 'g1', createdAt: 1 });
    await s.createGroup({ id: 'g2', name: 'g2', createdAt: 1 });
    for (let i = 0; i < 5; i++) {
      await s.createTerminal({ id: `T${i}`, groupId: i < 3 ? 'g1' : 'g2', tags: i % 2 === 0 ? ['city:wuhan'] : ['city:chengdu'], kind: 'hall-kiosk', publicKey: `pk${i}`, credentialHash: `ch${i}`, createdAt: i });
    }
    await t.rejects(s.createTerminal({ id: 'T0', groupId: 'g1', tags: [], kind: 'k', publicKey: 'p', credentialHash: 'c', createdAt: 9 }), { code: 'SRV_ERR_CONFLICT' });
    t.match(await s.getTerminal('T1'), { id: 'T1', groupId: 'g1', tags: ['city:chengdu'], status: 'active', online: false, epoch: 0, lastSeen: null, reported: {} });
    t.same((await s.listTerminals({ groupId: 'g1' })).map((x) => x.id), ['T0', 'T1', 'T2']);
    t.same((await s.listTerminals({ tag: 'city:wuhan' })).map((x) => x.id), ['T0', 'T2', 'T4']);
    t.same((await s.listTerminals({ limit: 2, afterId: 'T1' })).map((x) => x.id), ['T2', 'T3']);
    const p = await s.updateTerminal('T3', { status: 'disabled', tags: ['x'], credentialHash: 'new' });
    t.match(p, { status: 'disabled', tags: ['x'], credentialHash: 'new' });
    t.same((await s.listTerminals({ status: 'disabled' })).map((x) => x.id), ['T3']);
    t.equal(await s.updateTerminal('nope', { status: 'active' }), undefined);
  });

  t.test('presence: epochs order connect and disconnect', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
    await s.createTerminal({ id: 'T', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: 'c', createdAt: 1 });
    t.equal(await s.updatePresence('T', { online: true, epoch: 1, at: 100, reported: { software: '1' } }), true);
    t.equal(await s.updatePresence('T', { online: true, epoch: 2, at: 200 }), true, 'reconnect');
    t.equal(await s.updatePresence('T', { online: false, epoch: 1, at: 210 }), false, 'late will of epoch 1 ignored');
    t.match(await s.getTerminal('T'), { online: true, epoch: 2, lastSeen: 200, reported: { software: '1' } });
    t.equal(await s.updatePresence('T', { online: true, epoch: 1, at: 220 }), false, 'stale birth ignored');
    t.equal(await s.updatePresence('T', { online: false, epoch: 2, at: 300 }), true);
    t.equal(await s.updatePresence('T', { online: false, epoch: 2, at: 301 }), true, 'duplicate disconnect is harmless');
    t.match(await s.getTerminal('T'), { online: false, epoch: 2, lastSeen: 301 });
    t.equal(await s.updatePresence('nope', { online: true, epoch: 1, at: 1 }), false);
  });

  t.test('audit: append and page newest first', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await s.appendAudit({ ts: i, actor: i % 2 === 0 ? 'tok1' : 'tok2', action: 'terminal.disable', target: `T${i}`, ip: '127.0.0.1', details: { i } }));
    const page = await s.listAudit({ limit: 2 });
    t.same(page.map((a) => a.target), ['T4', 'T3']);
    t.same((await s.listAudit({ beforeId: page[1]!.id, limit: 10 })).map((a) => a.target), ['T2', 'T1', 'T0']);
    t.same((await s.listAudit({ actor: 'tok2' })).map((a) => a.target), ['T3', 'T1']);
    t.same((await s.listAudit({ limit: 1 }))[0]?.details, { i: 4 });
    t.ok(await s.ping());
  });
}
