/**
 * Red team: an admin mutation and its audit entries commit together or not at all, and a hotlist
 * change is announced to the fleet exactly once, after its commit. The audit write is made to fail
 * inside the store (a SQLite trigger that aborts every insert into `audit`, as a full disk or an
 * I/O error would), then the failure is lifted and the same request retried.
 */
import t from 'tap';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import type { SqliteStore } from '../../src/store/sqlite.ts';

const failAudit = (ta: TestApp): void => {
  (ta.app.ctx.store as SqliteStore).db.exec("CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected audit write failure'); END;");
};
const healAudit = (ta: TestApp): void => {
  (ta.app.ctx.store as SqliteStore).db.exec('DROP TRIGGER temp.audit_fails');
};
const auditOf = async (ta: TestApp, action: string): Promise<{ actor: string; target: string }[]> =>
  ((await ta.app.inject({ url: `/api/v1/audit?action=${action}&limit=1000`, headers: ta.auth() })).json() as { entries: { actor: string; target: string }[] }).entries;

/** Hotlist pointers the fleet receives (retained broadcast), by version. */
function pointers(ta: TestApp): number[] {
  const seen: number[] = [];
  ta.app.broker.subscribe('fleet/broadcast/hotlist', (p, cb) => { seen.push((JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { version: number }).version); cb(); }, () => {});
  return seen;
}

t.test('hotlist report whose audit write fails: nothing listed, nothing announced; the retry lists, audits and announces once', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const seen = pointers(ta);
  await app.ready();
  const op = await ta.tokenFor('operator');
  const report = () => app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(op), payload: { cardNumbers: ['X00000019', 'A12345678'], reason: 'stolen' } });

  failAudit(ta);
  const failed = await report();
  t.equal(failed.statusCode, 500, 'the failure is reported');
  t.equal((await app.inject({ url: '/api/v1/hotlist/X00000019', headers: auth() })).statusCode, 404, 'the card is NOT listed without its audit entry');
  t.equal(await app.ctx.store.hotlistVersion(), 0, 'no new version');
  healAudit(ta);
  t.same(await auditOf(ta, 'hotlist.report'), [], 'nothing audited');
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0], 'nothing announced (only the start-up pointer)');

  const ok = await report();
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { version: 1, added: ['X00000019', 'A12345678'], alreadyListed: [] });
  t.same((await auditOf(ta, 'hotlist.report')).map((e) => e.target).sort(), ['A12345678', 'X00000019'], 'each listed card audited once');
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0, 1], 'announced once, after the commit');

  const again = await report();
  t.same(again.json(), { version: 1, added: [], alreadyListed: ['X00000019', 'A12345678'] }, 'a retry of an applied report is idempotent');
  t.equal((await auditOf(ta, 'hotlist.report')).length, 2, 'and audits nothing new');
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0, 1], 'and announces nothing new');

  // Cancel: same contract.
  failAudit(ta);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: auth(op), payload: { cardNumbers: ['X00000019'], reason: 'found' } })).statusCode, 500);
  healAudit(ta);
  t.equal((await app.inject({ url: '/api/v1/hotlist/X00000019', headers: auth() })).statusCode, 200, 'still listed: the cancel rolled back');
  t.equal(await app.ctx.store.hotlistVersion(), 1);
  t.same((await app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: auth(op), payload: { cardNumbers: ['X00000019'], reason: 'found' } })).json(), { version: 2, removed: ['X00000019'], notListed: [] });
  t.equal((await auditOf(ta, 'hotlist.cancel')).length, 1);
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0, 1, 2]);
});

t.test('kiosk loss report whose audit write fails: not acknowledged, not listed; the retransmission lists, audits, acks and announces once', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const seen = pointers(ta);
  await app.ready();
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g' } })).json() as { token: string };
  const { terminalId } = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string };
  const acks: number[] = [];
  app.broker.subscribe(`t/${terminalId}/down/ack`, (p, cb) => { acks.push((JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { upToSeq: number }).upToSeq); cb(); }, () => {});
  const batch = { v: 1, records: [
    { eventId: 'evt-00000001', seq: 1, ts: 1_764_000_000_000, type: 'card.read', body: {} },
    { eventId: 'evt-00000002', seq: 2, ts: 1_764_000_001_000, type: 'card.loss-report', body: { cardNumber: 'X00000019', pinVerified: true } },
  ] };

  failAudit(ta);
  await t.rejects(app.uplink.dispatch('events', terminalId, batch, ''), 'the handler fails: the broker closes the connection and the terminal retransmits');
  healAudit(ta);
  t.same(acks, [], 'not acknowledged');
  t.equal((await app.ctx.store.listEvents({ terminalId })).length, 0, 'the batch rolled back with its audit entry');
  t.equal(await app.ctx.store.hotlistVersion(), 0);
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0]);

  await app.uplink.dispatch('events', terminalId, batch, '');
  t.same(acks, [2]);
  t.equal((await app.inject({ url: '/api/v1/hotlist/X00000019', headers: auth() })).statusCode, 200);
  t.same((await auditOf(ta, 'hotlist.report')).map((e) => [e.actor, e.target]), [[`terminal:${terminalId}`, 'X00000019']]);
  await app.uplink.dispatch('events', terminalId, batch, '');
  t.same(acks, [2, 2], 'a retransmission is acknowledged again');
  t.equal((await auditOf(ta, 'hotlist.report')).length, 1, 'but not applied or audited again');
  await new Promise((r) => setImmediate(r));
  t.same(seen, [0, 1], 'announced exactly once');
});

t.test('admin token, group and enrolment token creation roll back when their audit write fails', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const before = (await app.ctx.store.listAdminTokens()).length;
  failAudit(ta);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: auth(), payload: { name: 'ops', role: 'operator' } })).statusCode, 500);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g1', name: 'Group' } })).statusCode, 500);
  healAudit(ta);
  t.equal((await app.ctx.store.listAdminTokens()).length, before, 'no token without its audit entry');
  t.equal(await app.ctx.store.getGroup('g1'), undefined, 'no group without its audit entry');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g1', name: 'Group' } })).statusCode, 201, 'the retry succeeds (no half-created group)');
  failAudit(ta);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g1' } })).statusCode, 500);
  healAudit(ta);
  t.equal((await app.ctx.store.listEnrolmentTokens()).length, 0, 'no enrolment token without its audit entry');
  const op = (await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: auth(), payload: { name: 'ops', role: 'operator' } })).json() as { id: string };
  failAudit(ta);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${op.id}`, headers: auth() })).statusCode, 500);
  healAudit(ta);
  t.equal((await app.ctx.store.listAdminTokens()).find((x) => x.id === op.id)?.revokedAt, null, 'not revoked without its audit entry');
});
