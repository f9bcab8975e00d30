/**
 * One source of truth for "is this card usable": with the registry on, a registry card is on the
 * hotlist exactly when its status is reported-lost, replaced or cancelled. Admin hotlist reports
 * and cancellations and terminal loss records go through the registry's lifecycle for its cards
 * (history names who), a cancellation that would make a replaced or cancelled card usable is
 * refused on every path, a hotlist change that slipped past the registry is undone, and cards
 * the registry does not know keep working exactly as before. Without a master key the registry
 * answers SRV_ERR_REGISTRY_NO_MASTER_KEY and the hotlist is unchanged.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { syntheticCard } from '../../src/registry/synthetic.ts';

async function enrol(ta: TestApp): Promise<string> {
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'g' } })).json() as { token: string };
  return ((await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId;
}

t.test('the hotlist is derived from the registry on every path', async (t) => {
  const ta = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const tid = await enrol(ta);
  await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(), payload: { staffId: 'E1', name: 'desk', groups: ['g'] } });
  const hot: number[] = [];
  app.broker.subscribe('fleet/broadcast/hotlist', (p, cb) => { hot.push((JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { version: number }).version); cb(); }, () => {});
  const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(syntheticCard) as [ReturnType<typeof syntheticCard>, ReturnType<typeof syntheticCard>, ReturnType<typeof syntheticCard>, ReturnType<typeof syntheticCard>, ReturnType<typeof syntheticCard>];
  const rows = [a, b, c, d, { ...e, status: 'cancelled' as const }].map((x) => JSON.stringify(x)).join('\n');
  const imp = await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(), 'content-type': 'application/x-ndjson' }, payload: rows });
  t.match(imp.json(), { created: 5 });
  const listed = async (card: string): Promise<boolean> => (await app.inject({ url: `/api/v1/hotlist/${card}`, headers: auth() })).statusCode === 200;
  const status = async (card: string): Promise<string> => ((await app.inject({ url: `/api/v1/registry/cards/${card}`, headers: auth() })).json() as { status: string }).status;
  const history = async (card: string): Promise<string[]> => ((await app.inject({ url: `/api/v1/registry/cards/${card}/history`, headers: auth() })).json() as { history: { action: string; actor: string; toStatus: string }[] }).history.map((h) => `${h.action} ${h.actor.split(':')[0]} ${h.toStatus}`);
  t.ok(await listed(e.cardNumber), 'imported as cancelled: listed');
  t.notOk(await listed(a.cardNumber));

  // Admin hotlist routes on registry cards (and one card the registry does not know).
  const rep = await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: [a.cardNumber, 'Z99999999'], reason: 'phoned in' } });
  t.match(rep.json(), { added: [a.cardNumber, 'Z99999999'], alreadyListed: [] });
  t.equal(await status(a.cardNumber), 'reported-lost');
  t.ok(await listed('Z99999999'), 'unknown cards: plain hotlist as before');
  t.same(await history(a.cardNumber), ['import import active', 'report-loss admin reported-lost']);
  const audit = (await app.inject({ url: '/api/v1/audit?action=hotlist.report', headers: auth() })).json() as { entries: { target: string; details: Record<string, unknown> }[] };
  t.same(audit.entries.map((x) => x.target).sort(), [a.cardNumber, 'Z99999999'].sort(), 'both audited as hotlist.report');
  const can = await app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: auth(), payload: { cardNumbers: [a.cardNumber, e.cardNumber], reason: 'found' } });
  t.match(can.json(), { removed: [a.cardNumber], notListed: [], refused: [{ cardNumber: e.cardNumber, status: 'cancelled' }] });
  t.notOk(await listed(a.cardNumber));
  t.ok(await listed(e.cardNumber), 'a cancelled card stays listed');
  t.equal(await status(a.cardNumber), 'loss-cancelled');

  // Registry events.
  const ev = (card: string, body: Record<string, unknown>) => app.inject({ method: 'POST', url: `/api/v1/registry/cards/${card}/events`, headers: auth(), payload: body });
  t.match((await ev(b.cardNumber, { type: 'replace', replacedBy: c.cardNumber })).json(), { changed: true, card: { status: 'replaced', replacedBy: c.cardNumber } });
  t.ok(await listed(b.cardNumber), 'replaced: listed');
  t.equal((await ev(b.cardNumber, { type: 'activate' })).json().error.code, 'SRV_ERR_REGISTRY_TRANSITION');
  t.equal((await ev(b.cardNumber, { type: 'replace' })).json().error.code, 'SRV_ERR_REGISTRY_INVALID_CARD');
  t.equal((await ev('Z99999999', { type: 'cancel' })).statusCode, 404);
  const viewer = await ta.tokenFor('viewer');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/registry/cards/${c.cardNumber}/events`, headers: auth(viewer), payload: { type: 'cancel' } })).statusCode, 403, 'viewers cannot change cards');

  // Terminal loss records.
  const rec = (i: number, type: string, body: Record<string, unknown>) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i, type, body });
  hot.length = 0;
  await app.uplink.dispatch('events', tid, { v: 1, records: [rec(1, 'card.loss-report', { cardNumber: c.cardNumber, pinVerified: true })] }, '');
  t.ok(await listed(c.cardNumber));
  t.equal(await status(c.cardNumber), 'reported-lost', 'the registry follows a kiosk loss report');
  t.same((await history(c.cardNumber)).slice(-1), ['report-loss terminal reported-lost']);
  await app.uplink.dispatch('events', tid, { v: 1, records: [rec(2, 'card.loss-cancel', { cardNumber: c.cardNumber, idChecked: true, staffId: 'E1' }), rec(3, 'card.loss-cancel', { cardNumber: e.cardNumber, idChecked: true, staffId: 'E1' })] }, '');
  t.notOk(await listed(c.cardNumber));
  t.equal(await status(c.cardNumber), 'loss-cancelled', 'and a desk cancellation');
  const follow = ((await app.inject({ url: `/api/v1/registry/cards/${c.cardNumber}/history`, headers: auth() })).json() as { history: { action: string; details?: Record<string, unknown> }[] }).history.at(-1);
  t.equal(follow?.details?.['staffId'], 'E1', 'the registry history names the member of staff of the 解挂');
  t.ok(await listed(e.cardNumber), 'a desk cannot un-cancel a cancelled card');
  t.equal(app.metrics.get('onecard_loss_reports_total', { result: 'cancel-refused' }), 1);
  t.equal(await status(e.cardNumber), 'cancelled');
  t.ok(hot.length >= 2, 'changes announced');

  // A hotlist change that slipped past the registry (e.g. a race) is undone when the registry follows.
  await ev(d.cardNumber, { type: 'cancel' });
  await app.ctx.store.hotlistRemove([d.cardNumber], 1, 'race');
  t.notOk(await listed(d.cardNumber));
  const v = await app.cardRegistry!.followIngest([{ cardNumber: d.cardNumber, op: 'remove' }], 'terminal:x', new Map());
  t.type(v, 'number');
  t.ok(await listed(d.cardNumber), 'restored: the registry is the truth');
  t.same((await history(d.cardNumber)).slice(-1), ['hotlist-restored registry cancelled']);

  // A crash after a terminal record's commit, before the registry followed: mended at start-up.
  await app.ctx.store.hotlistAdd([{ cardNumber: c.cardNumber, reportedBy: `terminal:${tid}`, source: 'terminal', reason: 'kiosk' }], 2);
  t.equal(await status(c.cardNumber), 'loss-cancelled', 'registry behind the hotlist');
  const rec2 = await app.cardRegistry!.reconcile();
  t.same(rec2, { followed: [c.cardNumber], restored: [], hotlistVersion: null });
  t.equal(await status(c.cardNumber), 'reported-lost');
  t.same((await history(c.cardNumber)).slice(-1), ['report-loss registry reported-lost']);
  t.same(await app.cardRegistry!.reconcile(), { followed: [], restored: [], hotlistVersion: null }, 'nothing left to mend');

  // Incremental update by API: content changes are recorded, the status is untouched.
  const put = await app.inject({ method: 'PUT', url: `/api/v1/registry/cards/${a.cardNumber}`, headers: auth(), payload: { idNumber: a.idNumber, name: a.name, region: '330110', generation: '3.0', issuedOn: a.issuedOn, expiresOn: '2035-01-01' } });
  t.match(put.json(), { outcome: 'updated', card: { region: '330110', expiresOn: '2035-01-01', status: 'loss-cancelled' } });
  t.equal((await app.inject({ method: 'PUT', url: `/api/v1/registry/cards/${a.cardNumber}`, headers: auth(), payload: { idNumber: '123', name: a.name, region: '330110', generation: '3.0', issuedOn: a.issuedOn, expiresOn: '2035-01-01' } })).json().error.code, 'SRV_ERR_REGISTRY_INVALID_CARD');
});

t.test('without a master key: registry off, hotlist as before', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/api/v1/registry/import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'x' });
  t.equal(r.statusCode, 503);
  t.equal(r.json().error.code, 'SRV_ERR_REGISTRY_NO_MASTER_KEY');
  t.equal((await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })).json().error.code, 'SRV_ERR_REGISTRY_NO_MASTER_KEY');
  t.equal(app.cardRegistry, undefined);
  t.match((await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['A00000003'], reason: 'x' } })).json(), { added: ['A00000003'] });
});
