/**
 * The store conformance suite: every backend runs exactly these tests (SQLite here, PostgreSQL in
 * its own suite). `open()` must return a fresh, empty, migrated store.
 */
import type { Test } from 'tap';
import type { HotlistChange, Store } from '../../src/store/types.ts';
import { keysUpdatesConformance } from './conformance-keys-updates.ts';
import { staffConformance } from './conformance-staff.ts';
import { oidcConformance } from './conformance-oidc.ts';
import { auditConformance, configTerminalKeysAuditConformance, groupCommitConformance, updatesAuditConformance } from './conformance-audit.ts';

export function storeConformance(t: Test, open: () => Promise<Store>): void {
  keysUpdatesConformance(t, open);
  staffConformance(t, open);
  oidcConformance(t, open);
  auditConformance(t, open);
  groupCommitConformance(t, open);
  updatesAuditConformance(t, open);
  configTerminalKeysAuditConformance(t, open);

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
    // Several updates in one commit: the same rules, applied in array order.
    await s.createTerminal({ id: 'U', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: 'c2', createdAt: 1 });
    t.same(await s.updatePresences([
      { id: 'T', update: { online: true, epoch: 3, at: 400, reported: { software: '2' } } },
      { id: 'U', update: { online: true, epoch: 1, at: 401 } },
      { id: 'T', update: { online: false, epoch: 2, at: 402 } },
      { id: 'nope', update: { online: true, epoch: 1, at: 403 } },
      { id: 'U', update: { online: false, epoch: 1, at: 404 } },
    ]), [true, true, false, false, true], 'stale will inside the group ignored, unknown terminal false');
    t.match(await s.getTerminal('T'), { online: true, epoch: 3, lastSeen: 400, reported: { software: '2' } });
    t.match(await s.getTerminal('U'), { online: false, epoch: 1, lastSeen: 404 });
    t.same(await s.updatePresences([]), []);
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

  const sha = (c: string): string => c.repeat(64).slice(0, 64);
  const fleet = async (s: Store): Promise<void> => {
    await s.createGroup({ id: 'g1', name: 'g1', createdAt: 1 });
    await s.createGroup({ id: 'g2', name: 'g2', createdAt: 1 });
    for (const [id, g] of [['T1', 'g1'], ['T2', 'g1'], ['T3', 'g2']] as const) {
      await s.createTerminal({ id, groupId: g, tags: [], kind: 'k', publicKey: 'p', credentialHash: `cred-${id}`, createdAt: 1 });
    }
  };

  t.test('terminals: lookup by credential hash', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await fleet(s);
    t.equal((await s.findTerminalByCredentialHash('cred-T2'))?.id, 'T2');
    t.equal(await s.findTerminalByCredentialHash('nope'), undefined);
  });

  t.test('config: versions are fleet-wide and increasing, preconditions, assignments, effective config', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await fleet(s);
    const a = await s.createConfigDoc({ id: 'a', name: 'A', body: '{"x":1}', sha256: sha('a'), at: 10, by: 'tok' });
    t.match(a, { id: 'a', name: 'A', version: 1, sha256: sha('a'), createdAt: 10, updatedAt: 10, updatedBy: 'tok' });
    await t.rejects(s.createConfigDoc({ id: 'a', name: 'again', body: '{}', sha256: sha('0'), at: 11, by: 'tok' }), { code: 'SRV_ERR_CONFLICT' });
    const b = await s.createConfigDoc({ id: 'b', name: 'B', body: '{"y":1}', sha256: sha('b'), at: 11, by: 'tok' });
    t.ok(b.version > a.version, 'a second document gets a higher version');
    const a2 = await s.updateConfigDoc('a', { body: '{"x":2}', sha256: sha('c'), at: 12, by: 'tok2', expectedVersion: a.version });
    t.ok(a2.version > b.version);
    t.match(a2, { sha256: sha('c'), updatedBy: 'tok2', createdAt: 10 });
    await t.rejects(s.updateConfigDoc('a', { body: '{}', sha256: sha('d'), at: 13, by: 'tok', expectedVersion: a.version }), { code: 'SRV_ERR_VERSION_MISMATCH', details: { expected: a.version, actual: a2.version } });
    await t.rejects(s.updateConfigDoc('zz', { body: '{}', sha256: sha('d'), at: 13, by: 'tok' }), { code: 'SRV_ERR_NOT_FOUND' });
    t.equal((await s.getConfigDoc('a'))?.version, a2.version, 'failed precondition wrote nothing');
    t.same((await s.getConfigVersion(a.version))?.body, '{"x":1}', 'old versions stay readable');
    t.same((await s.listConfigVersions('a')).map((v) => v.version), [a2.version, a.version]);
    t.equal(await s.getConfigVersion(9999), undefined);
    t.same((await s.listConfigDocs()).map((d) => d.id), ['a', 'b']);

    t.same(await s.listEffectiveConfigs({}), [], 'nothing assigned');
    await s.assignConfig({ scope: 'group', target: 'g1', docId: 'a' });
    await s.assignConfig({ scope: 'terminal', target: 'T2', docId: 'b' });
    await t.rejects(s.assignConfig({ scope: 'group', target: 'nope', docId: 'a' }), { code: 'SRV_ERR_NOT_FOUND' });
    await t.rejects(s.assignConfig({ scope: 'terminal', target: 'T1', docId: 'nope' }), { code: 'SRV_ERR_NOT_FOUND' });
    t.same(await s.listEffectiveConfigs({}), [
      { terminalId: 'T1', docId: 'a', version: a2.version, sha256: sha('c') },
      { terminalId: 'T2', docId: 'b', version: b.version, sha256: sha('b') },
    ], 'terminal beats group; unassigned T3 omitted');
    t.same((await s.listEffectiveConfigs({ docId: 'a' })).map((e) => e.terminalId), ['T1']);
    t.same((await s.listEffectiveConfigs({ groupId: 'g1' })).map((e) => e.terminalId), ['T1', 'T2']);
    t.same((await s.listEffectiveConfigs({ terminalIds: ['T2', 'T3'] })).map((e) => e.terminalId), ['T2']);
    t.same(await s.listConfigAssignments('a'), [{ scope: 'group', target: 'g1', docId: 'a' }]);
    await s.assignConfig({ scope: 'group', target: 'g1', docId: 'b' });
    t.same((await s.listConfigAssignments()).length, 2, 'reassigning replaces');
    t.equal(await s.unassignConfig('terminal', 'T2'), true);
    t.equal(await s.unassignConfig('terminal', 'T2'), false);
    await s.assignConfig({ scope: 'group', target: 'g1', docId: 'a' });
    t.same((await s.listEffectiveConfigs({ groupId: 'g1' })).map((e) => e.docId), ['a', 'a'], 'back to the group document');
  });

  t.test('config: rewriting version bodies (sealing a secret held in clear) commits with its audit entry', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const a = await s.createConfigDoc({ id: 'a', name: 'A', body: '{"p":"clear"}', sha256: sha('a'), at: 10, by: 'tok' });
    const a2 = await s.updateConfigDoc('a', { body: '{"p":"clear2"}', sha256: sha('b'), at: 11, by: 'tok' });
    await t.rejects(s.rewriteConfigVersions([{ version: a.version, body: '{"p":{"sealed":"x"}}', sha256: sha('c'), previousSha256: sha('a') }], () => { throw new Error('audit failed'); }));
    t.equal((await s.getConfigVersion(a.version))?.body, '{"p":"clear"}', 'nothing rewritten without its audit entry');
    const n = await s.rewriteConfigVersions([
      { version: a.version, body: '{"p":{"sealed":"x"}}', sha256: sha('c'), previousSha256: sha('a') },
      { version: a2.version, body: '{"p":{"sealed":"y"}}', sha256: sha('d'), previousSha256: sha('b') },
      { version: 9999, body: '{}', sha256: sha('e'), previousSha256: sha('e') },
    ], (count) => [{ ts: 12, actor: 'system', action: 'config.secrets-sealed', target: 'a', ip: '', details: { count } }]);
    t.equal(n, 2, 'unknown versions skipped');
    t.equal(await s.rewriteConfigVersions([{ version: a.version, body: '{"p":{"sealed":"z"}}', sha256: sha('f'), previousSha256: sha('a') }]), 0, 'rewritten meanwhile (another server): skipped');
    t.same(await s.getConfigVersion(a.version), { version: a.version, docId: 'a', sha256: sha('c'), body: '{"p":{"sealed":"x"}}', createdAt: 10, createdBy: 'tok' });
    t.equal((await s.getConfigDoc('a'))?.sha256, sha('d'), 'the document shows its current version\'s new digest');
    t.equal((await s.getConfigVersion(a.version))?.body, '{"p":{"sealed":"x"}}');
    t.same((await s.listAudit({ limit: 10 })).map((e) => [e.action, e.details['count']]), [['config.secrets-sealed', 2]]);
  });

  t.test('config: status reports, desired vs reported, rollout summary', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await fleet(s);
    const a = await s.createConfigDoc({ id: 'a', name: 'A', body: '{}', sha256: sha('a'), at: 1, by: 'tok' });
    await s.assignConfig({ scope: 'group', target: 'g1', docId: 'a' });
    t.same(await s.getTerminalConfigState('T3'), { terminalId: 'T3', desired: null, reported: null, appliedVersion: null });
    t.same(await s.configRolloutSummary('a'), { terminals: 2, applied: 0, rejected: 0, pending: 2 });
    await s.recordConfigStatus({ terminalId: 'T1', version: a.version, status: 'applied', errorCode: null, errorMessage: null, at: 5 });
    await s.recordConfigStatus({ terminalId: 'T2', version: a.version, status: 'rejected', errorCode: 'TERM_ERR_X', errorMessage: 'no reader', at: 6 });
    t.same(await s.configRolloutSummary('a'), { terminals: 2, applied: 1, rejected: 1, pending: 0 });
    const a2 = await s.updateConfigDoc('a', { body: '{"n":2}', sha256: sha('b'), at: 7, by: 'tok' });
    t.same(await s.configRolloutSummary('a'), { terminals: 2, applied: 0, rejected: 0, pending: 2 }, 'a new version is pending everywhere');
    await s.recordConfigStatus({ terminalId: 'T1', version: a2.version, status: 'rejected', errorCode: 'E', errorMessage: 'bad', at: 8 });
    const st = await s.getTerminalConfigState('T1');
    t.same(st.desired, { terminalId: 'T1', docId: 'a', version: a2.version, sha256: sha('b') });
    t.same(st.reported, { terminalId: 'T1', version: a2.version, status: 'rejected', errorCode: 'E', errorMessage: 'bad', at: 8 });
    t.equal(st.appliedVersion, a.version, 'a rejection keeps the last applied version');
    // Several reports in one commit apply in array order, like the same calls one by one.
    await s.recordConfigStatuses([
      { terminalId: 'T2', version: a2.version, status: 'applied', errorCode: null, errorMessage: null, at: 9 },
      { terminalId: 'T1', version: a2.version, status: 'applied', errorCode: null, errorMessage: null, at: 9 },
      { terminalId: 'T1', version: a2.version + 1, status: 'rejected', errorCode: 'E2', errorMessage: 'later', at: 10 },
    ]);
    await s.recordConfigStatuses([]);
    const st1 = await s.getTerminalConfigState('T1');
    t.match(st1.reported, { version: a2.version + 1, status: 'rejected', errorCode: 'E2' }, 'the later report of a group wins');
    t.equal(st1.appliedVersion, a2.version, 'the applied report earlier in the same group still counts');
    t.same(await s.configRolloutSummary('a'), { terminals: 2, applied: 2, rejected: 0, pending: 0 });
  });

  t.test('hotlist: versions, idempotent changes, deltas, snapshots, compaction', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    t.equal(await s.hotlistVersion(), 0);
    t.same(await s.hotlistSince(0), { kind: 'delta', fromVersion: 0, version: 0, add: [], remove: [] });
    const add = (c: string) => ({ cardNumber: c, reportedBy: 'tok', source: 'admin' as const, reason: 'lost' });
    t.same(await s.hotlistAdd([add('A00000001'), add('A00000002'), add('A00000003')], 10), { version: 1, changed: ['A00000001', 'A00000002', 'A00000003'] });
    t.same(await s.hotlistAdd([add('A00000002')], 11), { version: 1, changed: [] }, 'already listed: no new version');
    t.same(await s.hotlistAdd([add('A00000004'), add('A00000004')], 12), { version: 2, changed: ['A00000004'] }, 'duplicate in one call counted once');
    t.same(await s.hotlistRemove(['A00000002', 'Z99999999'], 13, 'tok'), { version: 3, changed: ['A00000002'] });
    t.same(await s.hotlistRemove(['Z99999999'], 14, 'tok'), { version: 3, changed: [] });
    t.match(await s.getHotlistEntry('A00000004'), { cardNumber: 'A00000004', version: 2, reportedAt: 12, reportedBy: 'tok', source: 'admin', reason: 'lost' });
    t.equal(await s.getHotlistEntry('A00000002'), undefined);
    t.same((await s.listHotlist()).map((e) => e.cardNumber), ['A00000001', 'A00000003', 'A00000004']);
    t.same((await s.listHotlist({ afterCard: 'A00000001', limit: 1 })).map((e) => e.cardNumber), ['A00000003']);
    t.same((await s.listHotlist({ prefix: 'A0000000' })).length, 3);
    t.same((await s.listHotlist({ prefix: 'B' })).length, 0);

    t.same(await s.hotlistSince(undefined), { kind: 'full', version: 3, cards: ['A00000001', 'A00000003', 'A00000004'] });
    t.same(await s.hotlistSince(99), { kind: 'full', version: 3, cards: ['A00000001', 'A00000003', 'A00000004'] }, 'unknown future version: full');
    t.same(await s.hotlistSince(1), { kind: 'delta', fromVersion: 1, version: 3, add: ['A00000004'], remove: ['A00000002'] });
    t.same(await s.hotlistSince(2), { kind: 'delta', fromVersion: 2, version: 3, add: [], remove: ['A00000002'] });
    t.same(await s.hotlistSince(3), { kind: 'delta', fromVersion: 3, version: 3, add: [], remove: [] });
    // Applying every delta to every older snapshot gives the current list.
    const snap = await s.hotlistSince(undefined);
    const current = new Set(snap.kind === 'full' ? snap.cards : []);
    const history: Set<string>[] = [new Set(), new Set(['A00000001', 'A00000002', 'A00000003']), new Set(['A00000001', 'A00000002', 'A00000003', 'A00000004'])];
    for (let v = 0; v < 3; v++) {
      const d = await s.hotlistSince(v);
      const set = new Set(history[v]);
      if (d.kind === 'delta') { for (const c of d.remove) set.delete(c); for (const c of d.add) set.add(c); } else { set.clear(); for (const c of d.cards) set.add(c); }
      t.same([...set].sort(), [...current].sort(), `delta from ${v}`);
    }
    await s.hotlistAdd([add('A00000002')], 15);
    t.same(await s.hotlistSince(3), { kind: 'delta', fromVersion: 3, version: 4, add: ['A00000002'], remove: [] }, 're-listed card is an add');
    await s.compactHotlistLog(2);
    t.equal((await s.hotlistSince(1)).kind, 'full', 'compacted away: full snapshot');
    t.same(await s.hotlistSince(2), { kind: 'delta', fromVersion: 2, version: 4, add: ['A00000002'], remove: [] }, 'kept from 2 on');
  });

  t.test('events: batch ingest is idempotent per terminal, filters and paging, loss reports', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await fleet(s);
    const rec = (i: number, type = 'card.read') => ({ eventId: `evt-${String(i).padStart(6, '0')}`, seq: i, ts: 1000 + i, type, body: { i } });
    const r1 = await s.ingestEvents('T1', [rec(1), rec(2), rec(3, 'txn.purchase')], 50);
    t.same(r1, { inserted: 3, duplicates: 0, upToSeq: 3, hotlist: null });
    const r2 = await s.ingestEvents('T1', [rec(2), rec(3, 'txn.purchase'), rec(4)], 51);
    t.same(r2, { inserted: 1, duplicates: 2, upToSeq: 4, hotlist: null }, 'retransmission deduplicated');
    t.same((await s.ingestEvents('T2', [rec(1)], 52)).inserted, 1, 'same eventId from another terminal is another event');
    const all = await s.listEvents();
    t.equal(all.length, 5);
    t.match(all[0], { terminalId: 'T1', eventId: 'evt-000001', seq: 1, ts: 1001, type: 'card.read', body: { i: 1 }, receivedAt: 50 });
    t.same((await s.listEvents({ terminalId: 'T1' })).map((e) => e.seq), [1, 2, 3, 4]);
    t.same((await s.listEvents({ type: 'txn.purchase' })).map((e) => e.seq), [3]);
    t.same((await s.listEvents({ typePrefix: 'txn.' })).map((e) => e.seq), [3]);
    t.same((await s.listEvents({ terminalId: 'T1', from: 1002, to: 1004 })).map((e) => e.seq), [2, 3]);
    const p1 = await s.listEvents({ limit: 2 });
    const p2 = await s.listEvents({ limit: 2, afterId: p1[1]!.id });
    const p3 = await s.listEvents({ limit: 2, afterId: p2[1]!.id });
    t.same([...p1, ...p2, ...p3].map((e) => e.id), all.map((e) => e.id), 'pages cover everything once');

    const loss = { eventId: 'evt-loss-0001', seq: 5, ts: 2000, type: 'card.loss-report', body: { cardNumber: 'X00000019', pinVerified: true } };
    const adds = new Map([['evt-loss-0001', { cardNumber: 'X00000019', reportedBy: 'terminal:T1', source: 'terminal' as const, reason: 'kiosk' }]]);
    const r3 = await s.ingestEvents('T1', [loss], 60, adds);
    t.same(r3.hotlist, { version: 1, changed: ['X00000019'] });
    t.match(await s.getHotlistEntry('X00000019'), { source: 'terminal', reportedBy: 'terminal:T1' });
    await s.hotlistRemove(['X00000019'], 61, 'tok');
    const r4 = await s.ingestEvents('T1', [loss], 62, adds);
    t.same(r4, { inserted: 0, duplicates: 1, upToSeq: 5, hotlist: null }, 'a retransmitted loss report does not re-list a cancelled card');
    t.equal(await s.getHotlistEntry('X00000019'), undefined);

    // A report and its cancellation at a counter in one batch: applied in record order, once.
    const batch = [
      { eventId: 'evt-loss-0002', seq: 6, ts: 2100, type: 'card.loss-report', body: { cardNumber: 'A00000001', pinVerified: true } },
      { eventId: 'evt-cancel-0001', seq: 7, ts: 2200, type: 'card.loss-cancel', body: { cardNumber: 'A00000001', idChecked: true } },
      { eventId: 'evt-loss-0003', seq: 8, ts: 2300, type: 'card.loss-report', body: { cardNumber: 'B00000002', pinVerified: true } },
    ];
    const changes = new Map<string, HotlistChange>([
      ['evt-loss-0002', { cardNumber: 'A00000001', reportedBy: 'terminal:T1', source: 'terminal', reason: 'kiosk' }],
      ['evt-cancel-0001', { cancel: true, cardNumber: 'A00000001', by: 'terminal:T1' }],
      ['evt-loss-0003', { cardNumber: 'B00000002', reportedBy: 'terminal:T1', source: 'terminal', reason: 'kiosk' }],
    ]);
    const r5 = await s.ingestEvents('T1', batch, 70, changes);
    t.same(r5.hotlistOps, [{ cardNumber: 'A00000001', op: 'add' }, { cardNumber: 'A00000001', op: 'remove' }, { cardNumber: 'B00000002', op: 'add' }]);
    t.equal(await s.getHotlistEntry('A00000001'), undefined, 'reported then cancelled');
    t.match(await s.getHotlistEntry('B00000002'), { source: 'terminal' });
    const r6 = await s.ingestEvents('T1', batch, 71, changes);
    t.same(r6, { inserted: 0, duplicates: 3, upToSeq: 8, hotlist: null }, 'a retransmitted cancellation changes nothing');
  });

  t.test('telemetry: latest per terminal', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    await fleet(s);
    const tel = (terminalId: string, ts: number) => ({ terminalId, ts, receivedAt: ts + 1, epoch: 1, health: 'ok', readers: [{ id: 'front', link: 'serial', status: 'ok' }], counters: { 'cards.read': ts }, outbox: { pending: 0, full: false } });
    await s.putTelemetry(tel('T1', 10));
    await s.putTelemetry(tel('T1', 20));
    await s.putTelemetry({ ...tel('T2', 30), outbox: null });
    t.same(await s.getTelemetry('T1'), tel('T1', 20));
    t.same((await s.getTelemetry('T2'))?.outbox, null);
    t.equal(await s.getTelemetry('T3'), undefined);
    t.same((await s.listTelemetry()).map((x) => x.terminalId), ['T1', 'T2']);
    t.same((await s.listTelemetry({ afterTerminalId: 'T1' })).map((x) => x.terminalId), ['T2']);
  });
}
