/**
 * The registry part of the store conformance suite (SQLite and PostgreSQL): idempotent upserts with
 * history, lifecycle transitions that move the hotlist in the same commit (or fail whole), the
 * status feed, departments, tokens, consents, the access log, atomic quotas and batch jobs.
 */
import type { Test } from 'tap';
import type { Store } from '../../src/store/types.ts';
import { HOTLISTED_STATUSES, type CardStatus } from '../../src/registry/model.ts';
import type { CardRecord } from '../../src/store/registry-types.ts';

type NewCard = Omit<CardRecord, 'feedSeq' | 'updatedAt' | 'updatedBy' | 'createdAt' | 'replacedBy'>;
const card = (n: string, over: Partial<NewCard> = {}): NewCard => ({
  cardNumber: n, idHash: `ih-${n}`, holderHash: `hh-${n}`, idSealed: `is-${n}`, nameSealed: `ns-${n}`, region: '330100', generation: '3.0',
  issuedOn: '2024-01-01', expiresOn: '2034-01-01', status: 'active', contentHash: `c-${n}`, ...over,
});

export function registryConformance(t: Test, open: () => Promise<Store>): void {
  registryReconcileConformance(t, open);
  registryCallCommitConformance(t, open);
  t.test('registry: upserts are idempotent, keep status, and leave history', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const r = s.registry;
    t.same(await r.upsertCards([card('A0000001X'), card('B0000002X', { status: 'issued' })], 10, 'import:1'), ['created', 'created']);
    t.same(await r.upsertCards([card('A0000001X'), card('B0000002X', { status: 'issued', region: '330200', contentHash: 'c2' })], 20, 'import:2'), ['unchanged', 'updated']);
    t.same(await r.upsertCards([card('C0000003X'), card('C0000003X')], 21, 'import:3'), ['created', 'unchanged'], 'a duplicate row in one batch is stored once');
    t.equal(await r.countCards(), 3);
    const b = await r.getCard('B0000002X');
    t.match(b, { region: '330200', status: 'issued', updatedBy: 'import:2', createdAt: 10, feedSeq: 0, replacedBy: null });
    t.same((await r.cardHistory('B0000002X')).map((h) => [h.action, h.actor, h.fromStatus, h.toStatus]), [['import', 'import:1', null, 'issued'], ['update', 'import:2', 'issued', 'issued']]);
    t.same((await r.findCardsByIdHash('ih-A0000001X')).map((c) => c.cardNumber), ['A0000001X']);
    t.equal(await r.holderHasCardIn('hh-A0000001X', ['active']), true);
    t.equal(await r.holderHasCardIn('hh-B0000002X', ['active']), false);
    t.equal(await r.holderHasCardIn('nobody', ['active']), false);
    t.same((await r.getCards(['A0000001X', 'ZZZZZZZZZ', 'C0000003X'])).map((c) => c.cardNumber).sort(), ['A0000001X', 'C0000003X']);
  });

  t.test('registry: a transition moves status, history, feed and hotlist in one commit; a stale one writes nothing', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const r = s.registry;
    await r.upsertCards([card('A0000001X'), card('B0000002X')], 10, 'import:1');
    const v0 = await s.hotlistVersion();
    const lost = { cardNumber: 'A0000001X', from: 'active' as const, to: 'reported-lost' as const, replacedBy: null, action: 'report-loss', actor: 'admin:adm_1', at: 30, details: { reason: 'x' } };
    const res = await r.transition([lost], HOTLISTED_STATUSES, (x) => [{ ts: 30, actor: 'adm_1', action: 'registry.report-loss', target: 'A0000001X', ip: '', details: { hotlistVersion: x.hotlistVersion } }]);
    t.equal(res.hotlistVersion, v0 + 1);
    t.match(await s.getHotlistEntry('A0000001X'), { source: 'admin', reportedBy: 'admin:adm_1' });
    t.equal((await r.getCard('A0000001X'))!.status, 'reported-lost');
    t.same((await s.hotlistSince(v0)), { kind: 'delta', fromVersion: v0, version: v0 + 1, add: ['A0000001X'], remove: [] });
    await t.rejects(r.transition([{ ...lost, at: 31 }], HOTLISTED_STATUSES), { code: 'SRV_ERR_CONFLICT' }, 'from no longer matches');
    await t.rejects(r.transition([{ ...lost, cardNumber: 'B0000002X', at: 31 }, { ...lost, cardNumber: 'NOPE00000' }], HOTLISTED_STATUSES), { code: 'SRV_ERR_NOT_FOUND' });
    t.equal((await r.getCard('B0000002X'))!.status, 'active', 'the whole call rolled back');
    t.equal(await s.getHotlistEntry('B0000002X'), undefined);
    await t.rejects(r.transition([{ ...lost, cardNumber: 'B0000002X' }], HOTLISTED_STATUSES, () => { throw new Error('audit failed'); }));
    t.equal((await r.getCard('B0000002X'))!.status, 'active', 'no change without its audit entry');
    const back = await r.transition([{ cardNumber: 'A0000001X', from: 'reported-lost', to: 'loss-cancelled', replacedBy: null, action: 'cancel-loss', actor: 'terminal:T1', at: 40, details: {} }], HOTLISTED_STATUSES);
    t.equal(back.hotlistVersion, v0 + 2);
    t.equal(await s.getHotlistEntry('A0000001X'), undefined);
    await r.followHotlist([{ cardNumber: 'B0000002X', from: 'active', to: 'reported-lost', replacedBy: null, action: 'report-loss', actor: 'terminal:T2', at: 50, details: { eventId: 'e1' } }]);
    t.equal(await s.hotlistVersion(), v0 + 2, 'followHotlist leaves the hotlist alone');
    const feed = await r.feed(0, 10);
    t.same(feed.map((f) => [f.cardNumber, f.status]), [['A0000001X', 'loss-cancelled'], ['B0000002X', 'reported-lost']]);
    t.same((await r.feed(feed[0]!.seq, 10)).map((f) => f.cardNumber), ['B0000002X']);
    t.same((await r.cardHistory('A0000001X')).map((h) => [h.action, h.actor, h.toStatus]), [['import', 'import:1', 'active'], ['report-loss', 'admin:adm_1', 'reported-lost'], ['cancel-loss', 'terminal:T1', 'loss-cancelled']]);
    t.same((await s.listAudit({ action: 'registry.report-loss' })).length, 1);
  });

  t.test('sharing: departments, tokens, consents, accesses, quotas, batch jobs', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const r = s.registry;
    const dept = { id: 'civil', name: 'Civil affairs', clientId: 'cli_1', purposes: ['subsidy'], ratePerMinute: 60, dailyQuota: 100, createdAt: 1, createdBy: 'adm_1', disabledAt: null };
    await r.createDepartment({ ...dept, secretHash: 'sh' });
    await t.rejects(r.createDepartment({ ...dept, clientId: 'cli_2', secretHash: 'x' }), { code: 'SRV_ERR_CONFLICT' });
    t.same(await r.getDepartment('civil'), dept);
    t.same(await r.findDepartmentByClientId('cli_1'), { ...dept, secretHash: 'sh' });
    t.same(await r.updateDepartment('civil', { purposes: ['subsidy', 'service'], dailyQuota: 5 }), { ...dept, purposes: ['subsidy', 'service'], dailyQuota: 5 });
    t.equal(await r.updateDepartment('nope', { dailyQuota: 5 }), undefined);
    t.same((await r.listDepartments()).map((d) => d.id), ['civil']);

    await r.putAccessToken('th', { departmentId: 'civil', expiresAt: 100, createdAt: 1 });
    t.same(await r.getAccessToken('th'), { departmentId: 'civil', expiresAt: 100, createdAt: 1 });
    t.equal(await r.purgeAccessTokens(99), 0);
    t.equal(await r.purgeAccessTokens(100), 1);
    t.equal(await r.getAccessToken('th'), undefined);

    const consent = { id: 'cns_1', cardNumber: 'A0000001X', idHash: 'ih', departmentId: 'civil', purpose: 'subsidy', grantedAt: 5, expiresAt: 50, grantedVia: 'terminal:T1', revokedAt: null, revokedVia: null };
    await r.putConsent(consent);
    await r.putConsent({ ...consent, id: 'cns_2', grantedAt: 6, departmentId: 'other' });
    t.same((await r.listConsents({ idHash: 'ih', departmentId: 'civil' })), [consent]);
    t.same((await r.listConsents({ idHash: 'ih' })).map((c) => c.id), ['cns_2', 'cns_1']);
    t.equal(await r.revokeConsent('cns_1', 7, 'terminal:T2'), true);
    t.equal(await r.revokeConsent('cns_1', 8, 'terminal:T2'), false);
    t.match((await r.listConsents({ departmentId: 'civil' }))[0], { revokedAt: 7, revokedVia: 'terminal:T2' });

    await r.recordAccesses([
      { at: 1, departmentId: 'civil', purpose: 'subsidy', call: 'verify', subjectHash: 'ih', cardNumber: null, released: ['match'], outcome: 'released', jobId: null },
      { at: 2, departmentId: 'civil', purpose: 'subsidy', call: 'basic-info', subjectHash: 'ih', cardNumber: 'A0000001X', released: [], outcome: 'SRV_ERR_SHARING_NO_CONSENT', jobId: null },
      { at: 3, departmentId: 'civil', purpose: 'subsidy', call: 'verify', subjectHash: 'other', cardNumber: null, released: ['match'], outcome: 'released', jobId: 'job_1' },
    ]);
    const mine = await r.listAccesses({ subjectHash: 'ih' });
    t.same(mine.map((a) => [a.call, a.outcome, a.released]), [['basic-info', 'SRV_ERR_SHARING_NO_CONSENT', []], ['verify', 'released', ['match']]]);
    t.same((await r.listAccesses({ departmentId: 'civil', limit: 1 })).map((a) => a.jobId), ['job_1']);
    t.same((await r.listAccesses({ subjectHash: 'ih', beforeId: mine[0]!.id })).length, 1);

    t.equal(await r.consumeQuota('civil', '2026-01-01', 3, 5), true);
    t.equal(await r.consumeQuota('civil', '2026-01-01', 3, 5), false, 'would exceed');
    t.equal(await r.consumeQuota('civil', '2026-01-01', 2, 5), true);
    t.equal(await r.consumeQuota('civil', '2026-01-02', 6, 5), false);
    const par = await Promise.all(Array.from({ length: 10 }, () => r.consumeQuota('civil', '2026-01-03', 1, 4)));
    t.equal(par.filter(Boolean).length, 4, 'concurrent callers never exceed the quota together');

    const job = { id: 'job_1', departmentId: 'civil', purpose: 'subsidy', status: 'queued' as const, total: 2, matched: 0, createdAt: 1, finishedAt: null };
    await r.putBatchJob(job);
    t.same(await r.getBatchJob('job_1'), job);
    t.equal(await r.getBatchResult('job_1'), undefined);
    await r.putBatchJob({ ...job, status: 'done', matched: 1, finishedAt: 9 }, '{"i":0}\n');
    t.match(await r.getBatchJob('job_1'), { status: 'done', matched: 1, finishedAt: 9 });
    t.equal(await r.getBatchResult('job_1'), '{"i":0}\n');
  });
}

export function registryCallCommitConformance(t: Test, open: () => Promise<Store>): void {
  t.test('sharing: department calls commit their access and quota together, grouped', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const r = s.registry;
    const dept = { id: 'civil', name: 'Civil affairs', clientId: 'cli_1', purposes: ['subsidy'], ratePerMinute: 60, dailyQuota: 3, createdAt: 1, createdBy: 'adm_1', disabledAt: null };
    await r.createDepartment({ ...dept, secretHash: 'sh' });
    await r.createDepartment({ ...dept, id: 'tax', clientId: 'cli_2', secretHash: 'sh2' });
    await r.putAccessToken('th', { departmentId: 'civil', expiresAt: 100, createdAt: 1 });
    t.same(await r.getAccessTokenWithDepartment('th'), { token: { departmentId: 'civil', expiresAt: 100, createdAt: 1 }, department: dept }, 'token and department in one read');
    t.equal(await r.getAccessTokenWithDepartment('nope'), undefined);
    await r.updateDepartment('civil', { disabledAt: 50 });
    t.equal((await r.getAccessTokenWithDepartment('th'))?.department.disabledAt, 50, 'a change to the department shows at once');

    const acc = (dept: string, subject: string, outcome = 'released') => ({ at: 5, departmentId: dept, purpose: 'subsidy', call: 'verify', subjectHash: subject, cardNumber: null, released: outcome === 'released' ? ['match'] : [], outcome, jobId: null });
    const q = (n: number) => ({ day: '2026-01-01', n, limit: 3 });
    t.same(await r.commitCalls([]), []);
    // A group that fits: all recorded; a refusal (no quota) always recorded; the other department's quota is its own.
    t.same(await r.commitCalls([{ access: acc('civil', 'a'), quota: q(1) }, { access: acc('civil', 'b', 'SRV_ERR_SHARING_NO_CONSENT') }, { access: acc('civil', 'c'), quota: q(1) }, { access: acc('tax', 'd'), quota: q(3) }]), [true, true, true, true]);
    // The quota runs out inside a group: exactly the calls that still fit are recorded, in order.
    t.same(await r.commitCalls([{ access: acc('civil', 'e'), quota: q(1) }, { access: acc('civil', 'f'), quota: q(1) }, { access: acc('civil', 'g', 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED') }, { access: acc('tax', 'h'), quota: q(1) }]), [true, false, true, false]);
    const logged = (await r.listAccesses({ limit: 100 })).map((a) => `${a.departmentId}:${a.subjectHash}:${a.outcome === 'released' ? 'r' : 'x'}`).sort();
    t.same(logged, ['civil:a:r', 'civil:b:x', 'civil:c:r', 'civil:e:r', 'civil:g:x', 'tax:d:r'], 'over-quota calls left no record');
    t.equal(await r.consumeQuota('civil', '2026-01-01', 1, 3), false, 'civil used its 3');
    t.equal(await r.consumeQuota('tax', '2026-01-01', 1, 4), true, 'tax used 3');
    // Concurrent groups never exceed the quota together.
    const par = await Promise.all(Array.from({ length: 6 }, (_, i) => r.commitCalls([{ access: acc('civil', `p${i}`), quota: { day: '2026-01-02', n: 1, limit: 4 } }, { access: acc('civil', `p${i}b`), quota: { day: '2026-01-02', n: 1, limit: 4 } }])));
    t.equal(par.flat().filter(Boolean).length, 4);
    t.equal((await r.listAccesses({ limit: 100 })).filter((a) => a.subjectHash?.startsWith('p') === true).length, 4);
  });
}

export function registryReconcileConformance(t: Test, open: () => Promise<Store>): void {
  t.test('registry: cards whose status and hotlist membership disagree are found', async (t) => {
    const s = await open();
    t.teardown(() => s.close());
    const r = s.registry;
    await r.upsertCards([card('A0000001X'), card('B0000002X'), card('C0000003X'), card('D0000004X', { status: 'cancelled' })], 10, 'import:1');
    const found = async (statuses: readonly CardStatus[]) => (await r.hotlistDisagreements(statuses)).map((d) => `${d.card.cardNumber} ${d.listed}`).sort();
    t.same(await found([...HOTLISTED_STATUSES]), ['D0000004X false'], 'a cancelled card the upsert did not list');
    await s.hotlistAdd([{ cardNumber: 'A0000001X', reportedBy: 'terminal:T', source: 'terminal', reason: 'x' }], 20);
    t.same(await found([...HOTLISTED_STATUSES]), ['A0000001X true', 'D0000004X false'], 'and a usable card on the hotlist');
    t.same(await found(['active']), ['B0000002X false', 'C0000003X false'], 'the hotlisted statuses are the caller\'s');
  });
}
