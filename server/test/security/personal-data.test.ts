/**
 * Red team, personal data: `GET /api/v1/events` and `export.csv` mask names, ID numbers and card
 * numbers in every body (nested too) for every role by default, as the UI promises. Full values
 * only for the admin role with an explicit `?unmasked=1`, and every such read is audited
 * (`personal-data.read`); any other role asking for them is refused.
 */
import t from 'tap';
import { makeTestApp } from '../helpers.ts';
import { maskEventBody } from '../../src/routes/event-records.ts';

const NAME = '张三丰';
const SSN = '110101199003077777';
const CARD = 'A87654321';

t.test('events and CSV export are masked by default; full values only for an admin asking, audited', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ctx.store.ingestEvents('T1', [
    { eventId: 'evt-00000001', seq: 1, ts: 1_764_000_000_000, type: 'card.read', body: { name: NAME, ssn: SSN, cardNumber: CARD, reader: 'front' } },
    { eventId: 'evt-00000002', seq: 2, ts: 1_764_000_001_000, type: 'txn.purchase', body: { amount: 200, holder: { holderName: NAME, idNumber: SSN }, items: [{ cardNumber: CARD }] } },
  ], 1);
  const viewer = await ta.tokenFor('viewer');
  const operator = await ta.tokenFor('operator');
  const leaks = (text: string): boolean => text.includes(SSN) || text.includes(NAME) || text.includes(CARD);

  for (const [who, tok] of [['viewer', viewer], ['operator', operator], ['admin', ta.adminToken]] as const) {
    const list = await app.inject({ url: '/api/v1/events', headers: auth(tok) });
    t.equal(list.statusCode, 200);
    t.notOk(leaks(list.body), `${who}: no full name, ID number or card number in /events`);
    const csv = await app.inject({ url: '/api/v1/events/export.csv', headers: auth(tok) });
    t.equal(csv.statusCode, 200);
    t.notOk(leaks(csv.body), `${who}: none in export.csv`);
  }
  const masked = (await app.inject({ url: '/api/v1/events', headers: auth(viewer) })).json() as { events: { body: Record<string, unknown> }[] };
  t.match(masked.events[0]!.body, { name: '张**', ssn: '110*************77', cardNumber: 'A*******1', reader: 'front' }, 'masked as protocol/ssc masks them; other fields intact');
  t.match(masked.events[1]!.body, { amount: 200, holder: { holderName: '张**', idNumber: '110*************77' }, items: [{ cardNumber: 'A*******1' }] }, 'nested objects and arrays too');

  for (const tok of [viewer, operator]) {
    for (const url of ['/api/v1/events?unmasked=1', '/api/v1/events/export.csv?unmasked=true']) {
      const r = await app.inject({ url, headers: auth(tok) });
      t.equal(r.statusCode, 403, `${url} refused below admin`);
      t.equal(r.json().error.code, 'SRV_ERR_FORBIDDEN');
    }
  }
  t.same(await app.ctx.store.listAudit({ action: 'personal-data.read' }), [], 'refused reads are not reads');

  const full = await app.inject({ url: '/api/v1/events?unmasked=1&type=card.read', headers: auth() });
  t.equal(full.statusCode, 200);
  t.match((full.json() as { events: { body: unknown }[] }).events[0]!.body, { name: NAME, ssn: SSN, cardNumber: CARD });
  const csvFull = await app.inject({ url: '/api/v1/events/export.csv?unmasked=1', headers: auth() });
  t.ok(csvFull.body.includes(SSN));
  const reads = await app.ctx.store.listAudit({ action: 'personal-data.read' });
  t.equal(reads.length, 2, 'every unmasked read audited');
  t.match(reads[1], { target: 'events', details: { type: 'card.read' } }, 'with the filter that was read');
  t.match(reads[0], { target: 'events.export' });
});

t.test('masking never lets a __proto__ property or a non-string personal value through', async (t) => {
  const body = JSON.parse('{"__proto__":{"ssn":"110101199003077777"},"name":12345,"ssn":null}') as Record<string, unknown>;
  const m = maskEventBody(body);
  t.same(JSON.parse(JSON.stringify(m)), { __proto__: { ssn: '110*************77' }, name: '***', ssn: null });
  t.equal(Object.getPrototypeOf(m), null, 'the copy has no prototype to pollute');
});
