// A loss report cancelled at a counter (解挂): the terminal's `card.loss-cancel` record takes the
// card off the hotlist in the same commit as the event and its audit entry (`hotlist.cancel`,
// idChecked recorded, no ID number), announced once; without the ID check it is refused; a
// retransmitted batch changes nothing; a report and its cancellation in one batch apply in order.
// Each cancellation names the member of staff signed in at the desk (desk-staff-audit.test.ts).
import t from 'tap';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { lossCancelOf } from '../../src/routes/ingest.ts';

async function enrol(ta: TestApp): Promise<string> {
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'g' } })).json() as { token: string };
  return ((await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId;
}

t.test('card.loss-cancel: hotlist removal audited with the ID check, refused without it, idempotent, ordered', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const id = await enrol(ta);
  await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(), payload: { staffId: 'E1', name: 'desk', groups: ['g'] } });
  const hot: number[] = [];
  app.broker.subscribe('fleet/broadcast/hotlist', (p, cb) => { hot.push((JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { version: number }).version); cb(); }, () => {});
  const rec = (i: number, type: string, body: Record<string, unknown>) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i * 1000, type, body });
  const listed = async (card: string): Promise<boolean> => (await app.inject({ url: `/api/v1/hotlist/${card}`, headers: auth() })).statusCode === 200;

  await app.uplink.dispatch('events', id, { v: 1, records: [rec(1, 'card.loss-report', { cardNumber: 'X00000019', pinVerified: true, reason: 'lost' })] }, '');
  t.ok(await listed('X00000019'), 'reported lost at the kiosk');
  hot.length = 0;

  await app.uplink.dispatch('events', id, { v: 1, records: [rec(2, 'card.loss-cancel', { cardNumber: 'X00000019', staffId: 'E1' })] }, '');
  t.ok(await listed('X00000019'), 'no recorded ID check: not cancelled');
  t.equal(app.metrics.get('onecard_loss_reports_total', { result: 'cancel-refused' }), 1);

  const batch = { v: 1, records: [rec(3, 'card.loss-cancel', { cardNumber: 'X00000019', idChecked: true, staffId: 'E1' })] };
  await app.uplink.dispatch('events', id, batch, '');
  t.notOk(await listed('X00000019'), 'cancelled: off the hotlist');
  t.same(hot, [2], 'one announcement of the new version');
  const aud = (await app.inject({ url: '/api/v1/audit?action=hotlist.cancel', headers: auth() })).json() as { entries: { actor: string; target: string; details: Record<string, unknown> }[] };
  t.same(aud.entries.map((x) => [x.actor, x.target, x.details['idChecked'], x.details['source'], x.details['staffId']]), [[`terminal:${id}`, 'X00000019', true, 'terminal', 'E1']]);
  t.equal(app.metrics.get('onecard_loss_reports_total', { result: 'cancelled' }), 1);

  // Retransmission: stored once, nothing applied again, even after a new report of the card.
  await app.uplink.dispatch('events', id, { v: 1, records: [rec(4, 'card.loss-report', { cardNumber: 'X00000019', pinVerified: true })] }, '');
  t.ok(await listed('X00000019'), 'reported again');
  await app.uplink.dispatch('events', id, batch, '');
  t.ok(await listed('X00000019'), 'the retransmitted cancellation does not undo the newer report');

  // Report and cancel of another card in one batch, then a report of a third: applied in order.
  hot.length = 0;
  await app.uplink.dispatch('events', id, { v: 1, records: [
    rec(5, 'card.loss-report', { cardNumber: 'A00000001', pinVerified: true }),
    rec(6, 'card.loss-cancel', { cardNumber: 'A00000001', idChecked: true, staffId: 'E1' }),
    rec(7, 'card.loss-report', { cardNumber: 'B00000002', pinVerified: true }),
  ] }, '');
  t.notOk(await listed('A00000001'), 'reported then cancelled');
  t.ok(await listed('B00000002'));
  t.equal(hot.length, 1, 'one announcement for the batch');
  const actions = ((await app.inject({ url: '/api/v1/audit?limit=100', headers: auth() })).json() as { entries: { action: string; target: string }[] }).entries
    .filter((e) => e.action.startsWith('hotlist.')).map((e) => `${e.action} ${e.target}`).reverse();
  t.same(actions.slice(-3).sort(), ['hotlist.cancel A00000001', 'hotlist.report A00000001', 'hotlist.report B00000002'].sort());
  const events = JSON.stringify((await app.inject({ url: '/api/v1/events?type=card.loss-cancel&unmasked=1', headers: auth() })).json());
  t.notMatch(events, /idNumber|ssn/i, 'no ID number stored');

  t.same(lossCancelOf('T', { cardNumber: 'X00000019', idChecked: 'yes' }), 'idChecked');
  t.same(lossCancelOf('T', { cardNumber: 'bad', idChecked: true }), 'cardNumber');
  t.same(lossCancelOf('T', { cardNumber: 'X00000019', idChecked: true }), { cancel: true, cardNumber: 'X00000019', by: 'terminal:T' });
});
