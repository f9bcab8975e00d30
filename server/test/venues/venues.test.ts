// Venue events on the server: admins create events (validated, audited), kiosks register holders
// after card + PIN (window, capacity, hotlist, idempotent, audited with the card number masked),
// a gate fetches the snapshot of its own venue only (the other gates' counts, never its own, and
// the events with registered holder keys), and the per-venue counts are exactly the gates'
// journals (a retransmitted batch counts once). The store part runs on SQLite and, when
// ONECARD_TEST_PG_URL names a scratch database, on PostgreSQL.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { EXAMPLE_VENUE_RULES, parseVenueSnapshot, venueHolderKey } from '@onecard/protocol/venue';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { venueStoreOf } from '../../src/venues/store.ts';
import type { Store } from '../../src/store/types.ts';

const basic = (id: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}` });

async function enrol(ta: TestApp, group: string): Promise<{ id: string; h: { authorization: string } }> {
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: group } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { id: r.terminalId, h: basic(r.terminalId, r.mqtt.password) };
}

t.test('events, registration, gate snapshot and counts', async (t) => {
  const ta = await makeTestApp();
  const { app, auth, clock } = ta;
  t.teardown(() => app.close());
  await app.ready();
  for (const g of ['museum', 'hall']) await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: g, name: g } });
  const gateA = await enrol(ta, 'museum');
  const gateB = await enrol(ta, 'museum');
  const kiosk = await enrol(ta, 'hall');
  const doc = { ...EXAMPLE_TERMINAL_CONFIG, venues: EXAMPLE_VENUE_RULES };
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'museum-gates', name: 'museum', document: doc } })).statusCode, 201);
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/groups/museum/config', headers: auth(), payload: { configId: 'museum-gates' } })).statusCode, 200);

  const now = clock.now(); // 2025-11-28 (Asia/Shanghai 2025-11-28 11:20)
  const viewer = await ta.tokenFor('viewer');
  const ev = { venueId: 'city-museum', name: 'Lantern night', date: '2025-11-29', capacity: 2, opensAt: now - 1000, closesAt: now + 3_600_000 };
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/venue-events', headers: auth(viewer), payload: ev })).statusCode, 403, 'a viewer cannot create events');
  const bad = await app.inject({ method: 'POST', url: '/api/v1/venue-events', headers: auth(), payload: { ...ev, closesAt: ev.opensAt } });
  t.equal(bad.json().error.code, 'SRV_ERR_INVALID_ARGUMENT');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/venue-events', headers: auth(), payload: { ...ev, date: '2025-13-01' } })).statusCode, 400);
  const created = await app.inject({ method: 'POST', url: '/api/v1/venue-events', headers: auth(), payload: ev });
  t.equal(created.statusCode, 201);
  const eventId = (created.json() as { id: string }).id;
  const late = (await app.inject({ method: 'POST', url: '/api/v1/venue-events', headers: auth(), payload: { ...ev, name: 'closed', date: '2025-11-30', opensAt: now + 3_600_000, closesAt: now + 7_200_000 } })).json() as { id: string };
  const audit = (await app.inject({ url: '/api/v1/audit?action=venue-event.create', headers: auth() })).json() as { entries: { target: string }[] };
  t.same(audit.entries.map((e) => e.target).sort(), [eventId, late.id].sort(), 'creation audited');

  const reg = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/terminal/venue/registrations', headers: kiosk.h, payload: body });
  t.equal((await reg({ eventId, cardNumber: 'A00000001', pinVerified: true })).statusCode, 201);
  const again = await reg({ eventId, cardNumber: 'A00000001', pinVerified: true });
  t.match(again.json(), { status: 'already', registered: 1 }, 'idempotent');
  t.equal((await reg({ eventId, cardNumber: 'A00000002', pinVerified: false })).statusCode, 400, 'needs the PIN verified at the terminal');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/venue/registrations', payload: { eventId, cardNumber: 'A00000002', pinVerified: true } })).statusCode, 401, 'terminal credentials required');
  t.equal((await reg({ eventId: late.id, cardNumber: 'A00000002', pinVerified: true })).json().error.code, 'SRV_ERR_VENUE_REGISTRATION_CLOSED');
  await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['H00000009'], reason: 'lost' } });
  t.equal((await reg({ eventId, cardNumber: 'H00000009', pinVerified: true })).json().error.code, 'SRV_ERR_VENUE_CARD_HOTLISTED');
  t.equal((await reg({ eventId, cardNumber: 'A00000002', pinVerified: true })).statusCode, 201);
  const full = await reg({ eventId, cardNumber: 'A00000003', pinVerified: true });
  t.equal(full.statusCode, 409);
  t.equal(full.json().error.code, 'SRV_ERR_VENUE_EVENT_FULL');
  const regAudit = (await app.inject({ url: '/api/v1/audit?action=venue.register', headers: auth() })).json() as { entries: { actor: string; details: Record<string, unknown> }[] };
  t.equal(regAudit.entries.length, 2, 'each new registration audited once');
  t.equal(regAudit.entries[0]!.actor, `terminal:${kiosk.id}`);
  t.notOk(JSON.stringify(regAudit.entries).includes('A00000001'), 'card number masked in the audit');
  clock.advance(3_600_000);
  t.equal((await reg({ eventId, cardNumber: 'A00000004', pinVerified: true })).json().error.code, 'SRV_ERR_VENUE_REGISTRATION_CLOSED', 'window closed');

  // The gates' journals.
  const rec = (i: number, type: string, body: Record<string, unknown>) => ({ eventId: `ven-${String(i).padStart(8, '0')}`, seq: i, ts: clock.now(), type, body });
  const hk = (n: string) => venueHolderKey('city-museum', 'card', n);
  const day = '2025-11-28';
  const batchA = { v: 1, records: [
    rec(1, 'venue.entry', { venueId: 'city-museum', date: day, reason: 'admitted', holderKey: hk('A00000001'), via: 'card', category: 'senior', priceFen: 0 }),
    rec(2, 'venue.entry', { venueId: 'city-museum', date: day, reason: 'admitted', holderKey: hk('A00000002'), via: 'card', category: 'standard', priceFen: 3000 }),
    rec(3, 'venue.refused', { venueId: 'city-museum', date: day, reason: 'hotlisted', via: 'card' }),
  ] };
  await app.uplink.dispatch('events', gateA.id, batchA, '');
  await app.uplink.dispatch('events', gateA.id, batchA, '');
  await app.uplink.dispatch('events', gateB.id, { v: 1, records: [
    rec(1, 'venue.entry', { venueId: 'city-museum', date: day, reason: 'admitted', holderKey: hk('A00000001'), via: 'card', category: 'senior', priceFen: 0 }),
    rec(2, 'venue.exit', { venueId: 'city-museum', date: day, reason: 'exit', via: 'sensor' }),
    rec(3, 'venue.refused', { venueId: 'city-museum', date: day, reason: 'daily-limit', via: 'card', holderKey: hk('A00000001') }),
  ] }, '');

  const snapA = await app.inject({ url: '/api/v1/terminal/venue?venueId=city-museum', headers: gateA.h });
  t.equal(snapA.statusCode, 200);
  const sA = parseVenueSnapshot(snapA.json());
  t.same(sA.others, { entries: 1, exits: 1, holders: { [hk('A00000001')]: 1 } }, 'gate A sees gate B only');
  t.equal(sA.date, '2025-11-28');
  t.same(sA.events.map((e) => [e.eventId, e.date, e.capacity, e.holders.length]), [[eventId, '2025-11-29', 2, 2], [late.id, '2025-11-30', 2, 0]], 'events of the next days, by date');
  t.ok(sA.events[0]!.holders.includes(hk('A00000001')), 'registered holder keys pushed to the gates');
  const sB = parseVenueSnapshot((await app.inject({ url: '/api/v1/terminal/venue?venueId=city-museum', headers: gateB.h })).json());
  t.same(sB.others, { entries: 2, exits: 0, holders: { [hk('A00000001')]: 1, [hk('A00000002')]: 1 } }, 'gate B sees gate A only, the retransmission once');
  t.equal((await app.inject({ url: '/api/v1/terminal/venue?venueId=zoo', headers: gateA.h })).json().error.code, 'SRV_ERR_VENUE_NOT_ASSIGNED', 'another venue: refused');
  t.equal((await app.inject({ url: '/api/v1/terminal/venue?venueId=city-museum', headers: kiosk.h })).json().error.code, 'SRV_ERR_VENUE_NOT_ASSIGNED', 'a terminal without venue rules: refused');

  const counts = (await app.inject({ url: `/api/v1/venues/city-museum/counts?date=${day}`, headers: auth(viewer) })).json() as Record<string, unknown>;
  t.match(counts, { entries: 3, exits: 1, occupancy: 2, refused: { hotlisted: 1, 'daily-limit': 1 }, categories: { senior: 2, standard: 1 } });
  t.same((counts['byTerminal'] as { terminalId: string; entries: number }[]).map((g) => [g.terminalId, g.entries]).sort(), [[gateA.id, 2], [gateB.id, 1]].sort());
  const list = (await app.inject({ url: '/api/v1/venues', headers: auth(viewer) })).json() as { venues: unknown[] };
  t.same(list.venues, [{ venueId: 'city-museum', date: day, entries: 3, exits: 1, occupancy: 2, refused: 2, gates: 2 }]);
  const events = (await app.inject({ url: '/api/v1/venue-events?venueId=city-museum', headers: auth(viewer) })).json() as { events: { id: string; registered: number }[] };
  t.same(events.events.map((e) => e.registered), [2, 0]);
});

function storeConformance(t: Test, open: () => Promise<Store>): void {
  t.test('create, list, register with window and capacity, concurrent last place', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const v = venueStoreOf(store);
    const base = { venueId: 'zoo', name: 'Night tour', date: '2026-01-02', capacity: 1, opensAt: 1000, closesAt: 2000, createdAt: 1, createdBy: 'adm' };
    await v.createEvent({ id: 've_one1', ...base }, [{ ts: 1, actor: 'adm', action: 'venue-event.create', target: 've_one1', ip: '', details: {} }]);
    await v.createEvent({ id: 've_two2', ...base, date: '2026-01-01', capacity: 0 }, []);
    await t.rejects(v.createEvent({ id: 've_one1', ...base }, []), { code: 'SRV_ERR_CONFLICT' });
    t.same((await v.listEvents({ venueId: 'zoo' })).map((e) => e.id), ['ve_two2', 've_one1'], 'by date');
    t.same((await v.listEvents({ venueId: 'zoo', fromDate: '2026-01-02' })).map((e) => e.id), ['ve_one1']);
    t.same(await v.listEvents({ venueId: 'park' }), []);
    await t.rejects(v.register('ve_one1', 'a'.repeat(32), 999, 'T1', () => []), { code: 'SRV_ERR_VENUE_REGISTRATION_CLOSED' });
    await t.rejects(v.register('ve_nope', 'a'.repeat(32), 1500, 'T1', () => []), { code: 'SRV_ERR_NOT_FOUND' });
    const results = await Promise.allSettled(['b', 'c', 'd'].map((x) => v.register('ve_one1', x.repeat(32), 1500, 'T1', (e) => [{ ts: 1500, actor: 'terminal:T1', action: 'venue.register', target: e.id, ip: '', details: {} }])));
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one takes the last place');
    t.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'SRV_ERR_VENUE_EVENT_FULL'));
    t.equal((await v.getEvent('ve_one1'))!.registered, 1);
    t.equal((await v.registrations('ve_one1')).length, 1);
    const winner = (await v.registrations('ve_one1'))[0]!;
    t.match(await v.register('ve_one1', winner, 1600, 'T2', () => []), { status: 'already', registered: 1 });
    const aud = await store.listAudit({ action: 'venue.register' });
    t.equal(aud.length, 1, 'audited with the registration, only when new');
    for (let i = 0; i < 5; i++) await v.register('ve_two2', String(i).repeat(32), 1500, 'T1', () => []);
    t.equal((await v.getEvent('ve_two2'))!.registered, 5, 'capacity 0: unlimited');
  });
}

t.test('venue store on SQLite', async (t) => storeConformance(t, async () => openSqliteStore(':memory:')));
const URL = process.env.ONECARD_TEST_PG_URL;
if (URL === undefined || URL === '') {
  t.test('venue store on PostgreSQL', { skip: 'ONECARD_TEST_PG_URL is not set (run .ci/suites/postgres.sh, or point it at a scratch database)' }, () => {});
} else {
  const admin = new pg.Pool({ connectionString: URL, max: 2 });
  const schemas: string[] = [];
  t.teardown(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });
  t.test('venue store on PostgreSQL', async (t) => storeConformance(t, async () => {
    const schema = `onecard_v_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return openPostgresStore(URL, { schema, max: 4 });
  }));
}
