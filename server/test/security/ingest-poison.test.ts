/**
 * Red team, ingest: records a terminal (buggy or hostile) sends that pass the fleet schema but
 * cannot be stored or shown. One `ts: 9e15` event must not make `export.csv` return only the
 * header for everyone; one deeply nested body must not stall the terminal's uplink for ever. Each
 * poison record is quarantined (kept as `quarantine.record`, audited, counted, shown on the live
 * feed) and the batch is acknowledged. Also: CSV formula protection holds for `;`-separated
 * imports and every leading formula character.
 */
import t from 'tap';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { csvField, eventCsvRow } from '../../src/routes/ingest.ts';
import { EVENT_LIMITS, QUARANTINE_TYPE, unstorableReason } from '../../src/routes/event-records.ts';

async function enrolled(ta: TestApp): Promise<string> {
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'g' } })).json() as { token: string };
  return ((await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId;
}
const rec = (i: number, over: Record<string, unknown> = {}) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i, type: 'card.read', body: { i }, ...over });
const deep = (n: number): Record<string, unknown> => {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};

t.test('poison records are quarantined, the rest stored, the whole batch acknowledged; export.csv still exports every row', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const tid = await enrolled(ta);
  const acks: number[] = [];
  app.broker.subscribe(`t/${tid}/down/ack`, (p, cb) => { acks.push((JSON.parse(Buffer.from(p.payload as Buffer).toString('utf8')) as { upToSeq: number }).upToSeq); cb(); }, () => {});
  const bus: unknown[] = [];
  app.fleet.on('events-quarantined', (...a) => bus.push(a));

  const batch = { v: 1, records: [
    rec(1),
    rec(2, { ts: 9e15 }), // past any ISO date a CSV can show
    rec(3, { body: deep(20_000) }), // cannot even be serialised
    rec(4, { body: deep(EVENT_LIMITS.maxDepth + 1) }),
    rec(5, { body: { blob: 'x'.repeat(EVENT_LIMITS.maxBodyBytes + 1) } }),
    rec(6, { eventId: 'evt-\u0000\u202e-0006' }),
    rec(7),
  ] };
  await app.uplink.dispatch('events', tid, batch, '');
  t.same(acks, [7], 'acknowledged up to the last record: the terminal never stalls');

  const stored = await app.ctx.store.listEvents({ terminalId: tid, limit: 100 });
  t.same(stored.map((e) => [e.seq, e.type]), [[1, 'card.read'], [2, QUARANTINE_TYPE], [3, QUARANTINE_TYPE], [4, QUARANTINE_TYPE], [5, QUARANTINE_TYPE], [6, QUARANTINE_TYPE], [7, 'card.read']]);
  t.same(stored.filter((e) => e.type === QUARANTINE_TYPE).map((e) => e.body.reason), ['ts', 'depth', 'depth', 'size', 'event-id']);
  t.match(stored[1]!.body, { type: 'card.read', ts: 9e15, seq: 2 }, 'the quarantine keeps what can be kept');
  t.equal(typeof stored[1]!.body.raw, 'string', 'including the original record as text when it fits');
  t.ok(stored.every((e) => e.ts <= EVENT_LIMITS.maxTs), 'nothing unstorable reached the events table');

  t.equal(app.metrics.get('onecard_events_quarantined_total', { reason: 'depth' }), 2, 'alarm: metric by reason');
  t.equal(app.metrics.get('onecard_events_quarantined_total', { reason: 'ts' }), 1);
  t.equal((await app.ctx.store.listAudit({ action: 'event.quarantine' })).length, 5, 'alarm: audited');
  t.same(bus, [[tid, 5, ['ts', 'depth', 'size', 'event-id']]], 'alarm: on the live feed bus');

  // A retransmission (ack lost) is idempotent: nothing new stored, nothing audited again, acked.
  await app.uplink.dispatch('events', tid, batch, '');
  t.same(acks, [7, 7]);
  t.equal((await app.ctx.store.listEvents({ terminalId: tid, limit: 100 })).length, 7);
  t.equal((await app.ctx.store.listAudit({ action: 'event.quarantine' })).length, 5);

  const csv = await app.inject({ url: '/api/v1/events/export.csv', headers: auth(await ta.tokenFor('viewer')) });
  t.equal(csv.statusCode, 200);
  t.equal(csv.body.trimEnd().split('\r\n').length, 1 + 7, 'header and every row');
});

t.test('rows already in the store with an out-of-range ts do not break the export', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ctx.store.ingestEvents('T1', [rec(1), rec(2, { ts: 9e15 }), rec(3)], 1);
  const csv = await app.inject({ url: '/api/v1/events/export.csv', headers: auth() });
  const lines = csv.body.trimEnd().split('\r\n');
  t.equal(lines.length, 4, 'header and all three rows');
  t.match(lines[2], /,9000000000000000,/, 'the timestamp is written as a number when no date can show it');
  t.doesNotThrow(() => eventCsvRow({ id: 1, terminalId: 'T', eventId: 'e', seq: 1, ts: Number.NaN, type: 'x', body: {}, receivedAt: 0 }));
});

t.test('unstorableReason bounds', async (t) => {
  t.equal(unstorableReason(rec(1)), undefined);
  t.equal(unstorableReason(rec(1, { ts: EVENT_LIMITS.maxTs })), undefined, 'the last representable instant is fine');
  t.equal(unstorableReason(rec(1, { ts: EVENT_LIMITS.maxTs + 1 })), 'ts');
  t.equal(unstorableReason(rec(1, { seq: 2 ** 60 })), 'seq');
  t.equal(unstorableReason(rec(1, { body: deep(EVENT_LIMITS.maxDepth - 1) })), undefined);
  t.equal(unstorableReason(rec(1, { body: deep(EVENT_LIMITS.maxDepth) })), 'depth');
});

t.test('CSV formula protection: every leading formula character, and after ; | tab CR LF', async (t) => {
  // A spreadsheet set to `;` (or tab, or |) as the delimiter must see no cell starting a formula.
  const hostile = ['=1+2', '+1+2', '-1+2', '@SUM(A1)', '\t=1', '\r=1', ' =1', '\uFF1D1+2', 'a;=cmd|\' /C calc\'!A0', 'a|=1', 'a\t+1', 'a\r\n-1', 'a; =1', 'ok;@x'];
  for (const v of hostile) {
    const f = csvField(v);
    t.ok(f.startsWith('"') || f.startsWith("'"), `${JSON.stringify(v)} → ${JSON.stringify(f)} is quoted or neutralised`);
    const unquoted = f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f;
    for (const cell of unquoted.split(/[;|\t\r\n,]/)) t.notMatch(cell, /^\s*[=+\-@\uFF1D]/, `no cell of ${JSON.stringify(v)} split on any delimiter starts a formula`);
  }
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('{"a":[1,-1]}'), '"{""a"":[1,-1]}"', 'JSON numbers after a comma are left alone (the comma field is quoted)');
});

t.test('telemetry with numbers no backend can hold is dropped and counted, never a store error', async (t) => {
  const ta = await makeTestApp();
  const { app } = ta;
  t.teardown(() => app.close());
  const tid = await enrolled(ta);
  const tele = (over: Record<string, unknown>) => ({ v: 1, epoch: 1, ts: 5, health: 'ok', readers: [], counters: {}, ...over });
  for (const bad of [{ ts: 1e300 }, { ts: 9e15 }, { epoch: 2 ** 70 }, { outbox: { pending: 1e300, full: false } }]) {
    await app.uplink.dispatch('tele', tid, tele(bad), '');
  }
  t.equal(app.metrics.get('onecard_telemetry_refused_total'), 4);
  t.equal(await app.ctx.store.getTelemetry(tid), undefined);
  await app.uplink.dispatch('tele', tid, tele({}), '');
  t.match(await app.ctx.store.getTelemetry(tid), { ts: 5, epoch: 1 });
});
