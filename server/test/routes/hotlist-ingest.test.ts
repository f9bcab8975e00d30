import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { csvField, lossReportOf } from '../../src/routes/ingest.ts';
import { hotlistText } from '../../src/routes/hotlist.ts';

interface Enrolled { terminalId: string; password: string }
async function enrol(ta: TestApp, groupId = 'g'): Promise<Enrolled> {
  if ((await ta.app.ctx.store.getGroup(groupId)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: groupId, name: groupId } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password };
}
const bearer = (e: Enrolled) => ({ authorization: `Bearer ${e.password}` });

function capture(ta: TestApp, filter: string): { topic: string; body: string }[] {
  const seen: { topic: string; body: string }[] = [];
  ta.app.broker.subscribe(filter, (p, cb) => { seen.push({ topic: p.topic, body: Buffer.from(p.payload as Buffer).toString('utf8') }); cb(); }, () => {});
  return seen;
}

t.test('hotlist: report, cancel, search, list, audit, broadcast pointer', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const pointers = capture(ta, 'fleet/broadcast/#');
  await app.ready();
  t.same(pointers.map((p) => JSON.parse(p.body)), [{ v: 1, version: 0 }], 'announced at start-up');
  const bad = await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['x0000001'], reason: 'lost' } });
  t.equal(bad.json().error.code, 'SRV_ERR_VALIDATION');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: [], reason: 'lost' } })).statusCode, 400);
  const viewer = await ta.tokenFor('viewer');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(viewer), payload: { cardNumbers: ['X00000019'], reason: 'lost' } })).statusCode, 403);
  const r1 = (await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['X00000019', 'A12345678'], reason: 'lost at the counter' } })).json();
  t.same(r1, { version: 1, added: ['X00000019', 'A12345678'], alreadyListed: [] });
  const r2 = (await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['X00000019', 'B00000001'], reason: 'stolen' } })).json();
  t.same(r2, { version: 2, added: ['B00000001'], alreadyListed: ['X00000019'] });
  t.same((await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['B00000001'], reason: 'again' } })).json().version, 2, 'no change, no new version');
  const c1 = (await app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: auth(), payload: { cardNumbers: ['A12345678', 'C00000000'], reason: 'found' } })).json();
  t.same(c1, { version: 3, removed: ['A12345678'], notListed: ['C00000000'] });
  // Announcements run after the commits, in order: wait for the fourth pointer.
  for (let i = 0; i < 500 && pointers.filter((p) => p.topic === 'fleet/broadcast/hotlist').length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(pointers.filter((p) => p.topic === 'fleet/broadcast/hotlist').map((p) => JSON.parse(p.body).version), [0, 1, 2, 3], 'one broadcast per change');
  t.same(pointers.filter((p) => p.topic === 'fleet/broadcast/hotlist/delta').map((p) => JSON.parse(p.body)), [
    { v: 1, fromVersion: 0, version: 1, add: ['A12345678', 'X00000019'], remove: [] },
    { v: 1, fromVersion: 1, version: 2, add: ['B00000001'], remove: [] },
    { v: 1, fromVersion: 2, version: 3, add: [], remove: ['A12345678'] },
  ], 'each change itself broadcast once, before its pointer');
  t.same(pointers.map((p) => p.topic), ['fleet/broadcast/hotlist', ...Array.from({ length: 3 }, () => ['fleet/broadcast/hotlist/delta', 'fleet/broadcast/hotlist']).flat()]);

  t.match((await app.inject({ url: '/api/v1/hotlist/X00000019', headers: auth(viewer) })).json(), { cardNumber: 'X00000019', version: 1, source: 'admin', reason: 'lost at the counter' });
  t.equal((await app.inject({ url: '/api/v1/hotlist/A12345678', headers: auth() })).statusCode, 404);
  t.equal((await app.inject({ url: '/api/v1/hotlist/bad', headers: auth() })).json().error.code, 'SRV_ERR_VALIDATION');
  const list = (await app.inject({ url: '/api/v1/hotlist?limit=1', headers: auth() })).json() as { version: number; entries: { cardNumber: string }[]; next: string };
  t.same([list.version, list.entries.map((e) => e.cardNumber), list.next], [3, ['B00000001'], 'B00000001']);
  t.same(((await app.inject({ url: `/api/v1/hotlist?after=${list.next}`, headers: auth() })).json() as { entries: { cardNumber: string }[] }).entries.map((e) => e.cardNumber), ['X00000019']);
  t.same(((await app.inject({ url: '/api/v1/hotlist?prefix=X0', headers: auth() })).json() as { entries: unknown[] }).entries.length, 1);
  const audit = ((await app.inject({ url: '/api/v1/audit?limit=100', headers: auth() })).json() as { entries: { action: string; target: string }[] }).entries.filter((e) => e.action.startsWith('hotlist.'));
  t.same(audit.map((e) => `${e.action} ${e.target}`).reverse(), ['hotlist.report X00000019', 'hotlist.report A12345678', 'hotlist.report B00000001', 'hotlist.cancel A12345678']);
});

t.test('terminal hotlist endpoint: deltas, snapshots, text, gzip', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const e = await enrol(ta);
  const cards = Array.from({ length: 300 }, (_, i) => `H${String(i).padStart(8, '0')}`);
  await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: cards, reason: 'batch' } });
  await app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: auth(), payload: { cardNumbers: [cards[5]], reason: 'found' } });
  t.equal((await app.inject('/api/v1/terminal/hotlist')).statusCode, 401);
  const full = await app.inject({ url: '/api/v1/terminal/hotlist', headers: bearer(e) });
  t.equal(full.headers['x-hotlist-kind'], 'full');
  t.equal(full.headers['x-hotlist-version'], '2');
  const fj = full.json() as { v: number; kind: string; version: number; cards: string[] };
  t.equal(fj.cards.length, 299);
  t.same(fj.cards, [...fj.cards].sort(), 'sorted');
  const delta = (await app.inject({ url: '/api/v1/terminal/hotlist?since=1', headers: bearer(e) })).json();
  t.same(delta, { v: 1, kind: 'delta', fromVersion: 1, version: 2, add: [], remove: [cards[5]] });
  t.equal((await app.inject({ url: '/api/v1/terminal/hotlist?since=77', headers: bearer(e) })).json().kind, 'full', 'unknown version: full');
  t.equal((await app.inject({ url: '/api/v1/terminal/hotlist?since=-1', headers: bearer(e) })).json().error.code, 'SRV_ERR_VALIDATION');
  const text = await app.inject({ url: '/api/v1/terminal/hotlist?since=1&format=text', headers: bearer(e) });
  t.equal(text.body, `onecard-hotlist 1 delta 1 2 0 1\n-${cards[5]}\n`);
  const gz = await app.inject({ url: '/api/v1/terminal/hotlist?format=text', headers: { ...bearer(e), 'accept-encoding': 'gzip, deflate' } });
  t.equal(gz.headers['content-encoding'], 'gzip');
  const unz = gunzipSync(gz.rawPayload).toString('utf8');
  t.equal(unz.split('\n')[0], 'onecard-hotlist 1 full 2 299');
  t.equal(unz.split('\n').length, 301);
  t.ok(gz.rawPayload.length < unz.length / 3, 'compact on the wire');
  t.notOk((await app.inject({ url: '/api/v1/terminal/hotlist', headers: { ...bearer(e), 'accept-encoding': 'gzip;q=0' } })).headers['content-encoding'], 'q=0 means no');
  t.equal(hotlistText({ kind: 'full', version: 0, cards: [] }), 'onecard-hotlist 1 full 0 0\n');
});

t.test('ingest: events batches idempotent, acked after storing, loss reports, telemetry, query, CSV', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const e = await enrol(ta);
  const acks = capture(ta, `t/${e.terminalId}/down/ack`);
  // What the store held at the instant each ack was published (SQLite answers synchronously).
  const storedAtAck: Promise<number>[] = [];
  app.broker.subscribe(`t/${e.terminalId}/down/ack`, (_p, cb) => { storedAtAck.push(app.ctx.store.listEvents({ terminalId: e.terminalId, limit: 10000 }).then((l) => l.length)); cb(); }, () => {});
  const hot = capture(ta, 'fleet/broadcast/hotlist');
  const rec = (i: number, type = 'card.read', body: Record<string, unknown> = { i }) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i * 1000, type, body });
  await app.uplink.dispatch('events', e.terminalId, { v: 1, records: [rec(1), rec(2, 'txn.purchase', { amount: 200, note: '=HYPERLINK("x")' }), rec(3)] }, '');
  t.same(acks.map((a) => JSON.parse(a.body)), [{ v: 1, upToSeq: 3 }]);
  t.same(await Promise.all(storedAtAck), [3], 'the batch was committed when the ack left');
  await app.uplink.dispatch('events', e.terminalId, { v: 1, records: [rec(3), rec(4)] }, '');
  t.same(acks.map((a) => JSON.parse(a.body).upToSeq), [3, 4]);
  t.equal(app.metrics.get('onecard_events_duplicate_total'), 1);
  t.equal(app.metrics.get('onecard_events_ingested_total'), 4);

  // Loss report at a kiosk: listed, audited as the terminal, broadcast; a bad one is stored but not applied.
  hot.length = 0;
  await app.uplink.dispatch('events', e.terminalId, { v: 1, records: [rec(5, 'card.loss-report', { cardNumber: 'X00000019', pinVerified: true, reason: 'lost on bus' }), rec(6, 'card.loss-report', { cardNumber: 'A00000001', pinVerified: false })] }, '');
  t.match((await app.inject({ url: '/api/v1/hotlist/X00000019', headers: auth() })).json(), { source: 'terminal', reportedBy: `terminal:${e.terminalId}`, reason: 'lost on bus' });
  t.equal((await app.inject({ url: '/api/v1/hotlist/A00000001', headers: auth() })).statusCode, 404, 'not PIN-verified: refused');
  t.equal(app.metrics.get('onecard_loss_reports_total', { result: 'refused' }), 1);
  t.same(hot.map((h) => JSON.parse(h.body)), [{ v: 1, version: 1 }]);
  const aud = (await app.inject({ url: '/api/v1/audit?action=hotlist.report', headers: auth() })).json() as { entries: { actor: string; target: string }[] };
  t.same(aud.entries.map((x) => [x.actor, x.target]), [[`terminal:${e.terminalId}`, 'X00000019']]);
  t.same(lossReportOf('T', { cardNumber: 'X00000019' }), 'pinVerified');
  t.same(lossReportOf('T', { cardNumber: 1, pinVerified: true }), 'cardNumber');

  // Query with filters and paging.
  const all = (await app.inject({ url: '/api/v1/events?limit=4', headers: auth() })).json() as { events: { seq: number; id: number }[]; next: number };
  t.same(all.events.map((x) => x.seq), [1, 2, 3, 4]);
  t.same(((await app.inject({ url: `/api/v1/events?after=${all.next}`, headers: auth() })).json() as { events: { seq: number }[]; next: null }).events.map((x) => x.seq), [5, 6]);
  t.same(((await app.inject({ url: '/api/v1/events?typePrefix=txn.', headers: auth() })).json() as { events: { seq: number }[] }).events.map((x) => x.seq), [2]);
  t.same(((await app.inject({ url: `/api/v1/events?terminal=${e.terminalId}&type=card.read&from=${1_764_000_002_000}&to=${1_764_000_005_000}`, headers: auth() })).json() as { events: { seq: number }[] }).events.map((x) => x.seq), [3, 4]);
  t.equal((await app.inject({ url: '/api/v1/events?from=yesterday', headers: auth() })).json().error.code, 'SRV_ERR_VALIDATION');
  t.equal((await app.inject({ url: '/api/v1/events?bogus=1', headers: auth() })).json().error.code, 'SRV_ERR_VALIDATION');

  const csv = await app.inject({ url: '/api/v1/events/export.csv?typePrefix=txn.', headers: auth() });
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /^text\/csv/);
  const lines = csv.body.trimEnd().split('\r\n');
  t.equal(lines[0], 'id,terminalId,eventId,seq,ts,type,receivedAt,body');
  t.equal(lines.length, 2);
  t.match(lines[1], /,txn\.purchase,/);
  t.match(lines[1], /"\{""amount"":200,""note"":""=HYPERLINK\(\\""x\\""\)""\}"$/, 'quoted per RFC 4180');
  t.equal(csvField('=1+2'), "'=1+2", 'formula cells neutralised');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal((await app.inject({ url: '/api/v1/events/export.csv?limit=2', headers: auth() })).body.trimEnd().split('\r\n').length, 3, 'limit caps the export');

  await app.uplink.dispatch('tele', e.terminalId, { v: 1, epoch: 1, ts: 5, health: 'degraded', readers: [{ id: 'front', link: 'serial', status: 'error' }], counters: { 'cards.read': 12 } }, '');
  t.match((await app.inject({ url: `/api/v1/terminals/${e.terminalId}/telemetry`, headers: auth() })).json(), { health: 'degraded', counters: { 'cards.read': 12 }, outbox: null });
  t.equal(((await app.inject({ url: '/api/v1/telemetry', headers: auth() })).json() as { telemetry: unknown[] }).telemetry.length, 1);
  t.equal((await app.inject({ url: '/api/v1/terminals/nope/telemetry', headers: auth() })).statusCode, 404);
});

t.test('failed admin and terminal authentication is limited per address and target, audited, and never refuses correct credentials', async (t) => {
  const ta = await makeTestApp({ settings: { authRateLimitPerMinute: 3 } });
  const { app, auth, clock } = ta;
  t.teardown(() => app.close());
  const e = await enrol(ta);
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ url: '/api/v1/terminals', headers: { authorization: 'Bearer oca_wrongwrongwrongwrongwrong' } })).statusCode);
  t.same(codes, [401, 401, 401, 429], 'wrong tokens are limited');
  const limited = await app.inject({ url: '/api/v1/terminals', headers: { authorization: 'Bearer oca_wrongwrongwrongwrongwrong' } });
  t.equal(limited.json().error.code, 'SRV_ERR_RATE_LIMITED');
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: auth() })).statusCode, 200, 'the good token is never refused (issue 12 item 5)');
  t.equal((await app.inject({ url: '/api/v1/terminal/config', headers: { authorization: `Bearer ${e.password}` } })).statusCode === 429, false, 'terminal credentials are not locked out');
  clock.advance(60_001);
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: { authorization: 'Bearer oca_wrongwrongwrongwrongwrong' } })).statusCode, 401, 'window passed');
  const audit = (await app.inject({ url: '/api/v1/audit?action=auth.rate-limited', headers: auth() })).json() as { entries: { target: string; details: { kind: string } }[] };
  t.same(audit.entries.map((x) => x.target).sort(), ['addr:127.0.0.1', 'target:admin'], 'one start per limited key');
  t.ok(audit.entries.every((x) => x.details.kind === 'admin'));
  for (let i = 0; i < 3; i++) await app.inject({ url: '/api/v1/terminal/hotlist', headers: { authorization: `Basic ${Buffer.from(`${e.terminalId}:oct_wrong`).toString('base64')}` } });
  t.equal((await app.inject({ url: '/api/v1/terminal/hotlist', headers: { authorization: `Basic ${Buffer.from(`${e.terminalId}:oct_wrong`).toString('base64')}` } })).statusCode, 429, 'wrong terminal password limited');
  t.equal((await app.inject({ url: '/api/v1/terminal/hotlist', headers: { authorization: `Bearer ${e.password}` } })).statusCode, 200, 'the right terminal password still works');
  t.equal(app.metrics.get('onecard_auth_failures_total', { kind: 'terminal' }), 4);
});
