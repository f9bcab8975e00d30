import t from 'tap';
import {
  EXAMPLE_VENUE_RULES, VENUE_REASONS, VENUE_REFUSALS, ageOn, birthDateFromId, decideEntry, emptyLedger, nextLocalDate, parseVenueSnapshot,
  recordExit, venueCategory, venueHolderKey, venueLocalTime, type VenueContext, type VenueHolder, type VenueReason, type VenueRulesDocument, type VenueSnapshotValue,
} from '../../src/venue/index.ts';
import { EXAMPLE_TERMINAL_CONFIG, validateTerminalConfig } from '../../src/fleet/index.ts';

// 2026-12-08 is a Tuesday; the museum opens Tuesday–Sunday 09:00–17:00 Asia/Shanghai (UTC+8).
const at = (local: string): number => Date.parse(`${local}:00+08:00`);
const rules: VenueRulesDocument = { ...EXAMPLE_VENUE_RULES, capacity: 3, maxDailyEntries: 2 };
const K = (n: string): string => venueHolderKey(rules.venueId, 'card', n);
// ID numbers: born 1960-05-20 (senior from 2020-05-20), born 2023-01-01 (child), born 1990-03-15 (adult).
const SENIOR = '110101196005201234';
const CHILD = '44030420230101001X';
const ADULT = '110101199003151235';
const card = (n: string, o: Partial<VenueHolder> = {}): VenueHolder => ({ kind: 'card', key: K(n), generation: '3.0', cardType: '3', idNumber: ADULT, status: 'ok', ...o });
const snap = (o: Partial<VenueSnapshotValue> = {}, others: Partial<VenueSnapshotValue['others']> = {}): VenueSnapshotValue =>
  ({ v: 1, venueId: rules.venueId, date: '2026-12-08', asOf: at('2026-12-08T09:59'), events: [], ...o, others: { entries: 0, exits: 0, holders: {}, ...others } });
const ctx = (o: Partial<VenueContext> = {}): VenueContext => ({
  rules, now: at('2026-12-08T10:00'), ledger: undefined, snapshot: { value: snap(), receivedAt: at('2026-12-08T09:59') }, ...o,
});

t.test('local time in the venue\'s zone: date, HH:MM and ISO weekday', async (t) => {
  t.same(venueLocalTime(Date.parse('2026-12-07T16:30:00Z'), 'Asia/Shanghai'), { date: '2026-12-08', time: '00:30', weekday: 2 }, 'UTC afternoon is the next day in Beijing');
  t.same(venueLocalTime(Date.parse('2026-12-07T16:30:00Z'), 'UTC'), { date: '2026-12-07', time: '16:30', weekday: 1 });
  t.same(venueLocalTime(Date.parse('2026-07-01T12:00:00Z'), 'Europe/London'), { date: '2026-07-01', time: '13:00', weekday: 3 }, 'summer time');
  t.equal(nextLocalDate('2026-12-31'), '2027-01-01');
  t.equal(nextLocalDate('2028-02-28'), '2028-02-29');
});

t.test('birth date from the ID number [GB 11643] and age in whole years', async (t) => {
  t.equal(birthDateFromId(SENIOR), '19600520');
  t.equal(birthDateFromId(CHILD), '20230101');
  t.equal(birthDateFromId('110101600520123'), '19600520', '15-digit number: 19YYMMDD');
  t.equal(birthDateFromId('110101196002301234'), undefined, '30 February');
  t.equal(birthDateFromId('11010119600520123'), undefined, 'too short');
  t.equal(birthDateFromId('X00000019'), undefined, 'a card number is not an ID number');
  t.equal(ageOn('19600520', '2020-05-19'), 59);
  t.equal(ageOn('19600520', '2020-05-20'), 60, 'birthday counts');
  t.equal(ageOn('20000229', '2021-02-28'), 20);
  t.equal(ageOn('20000229', '2021-03-01'), 21);
});

t.test('fare categories: first match wins, every criterion must match, standard otherwise', async (t) => {
  const d = '2026-12-08';
  t.same(venueCategory(rules, card('A', { idNumber: SENIOR }), d), { category: 'senior', priceFen: 0 });
  t.same(venueCategory(rules, card('A', { idNumber: CHILD, cardType: '1' }), d), { category: 'child', priceFen: 0 });
  t.same(venueCategory(rules, card('A', { cardType: '2' }), d), { category: 'student', priceFen: 1500 });
  t.same(venueCategory(rules, card('A'), d), { category: 'standard', priceFen: 3000 });
  t.same(venueCategory(rules, card('A', { idNumber: SENIOR, cardType: '2' }), d), { category: 'senior', priceFen: 0 }, 'document order');
  t.same(venueCategory(rules, { kind: 'ecard', key: K('e'), status: 'ok' }, d), { category: 'standard', priceFen: 3000 }, 'no ID number: no age category');
  const local: VenueRulesDocument = { ...rules, categories: [{ id: 'resident', regionPrefixes: ['4403'], priceFen: 1000 }] };
  t.same(venueCategory(local, card('A', { idNumber: CHILD }), d), { category: 'resident', priceFen: 1000 });
  t.same(venueCategory(local, card('A'), d), { category: 'standard', priceFen: 3000 });
  t.same(venueCategory(rules, card('A', { idNumber: '110101196612091234' }), d), { category: 'standard', priceFen: 3000 }, '59 until tomorrow');
});

t.test('admits within the rules and keeps the ledger', async (t) => {
  const d = decideEntry(ctx(), card('A00000001', { idNumber: SENIOR }));
  t.match(d, { admit: true, reason: 'admitted', category: 'senior', priceFen: 0, occupancy: 1, fresh: true });
  t.same(d.ledger, { date: '2026-12-08', entries: 1, exits: 0, holders: { [K('A00000001')]: 1 } });
  const e = decideEntry(ctx({ ledger: d.ledger }), card('A00000002'));
  t.match(e, { admit: true, occupancy: 2, category: 'standard', priceFen: 3000 });
  const x = recordExit(ctx({ ledger: e.ledger }));
  t.equal(x.occupancy, 1);
  t.equal(x.ledger.exits, 1);
});

t.test('each rule refuses with its reason', async (t) => {
  const seen = new Set<VenueReason>();
  const refuses = (name: string, c: VenueContext, h: VenueHolder, reason: VenueReason): void => {
    const d = decideEntry(c, h);
    t.match(d, { admit: false, reason }, name);
    t.same(d.ledger, c.ledger?.date === d.local.date ? c.ledger : emptyLedger(d.local.date), `${name}: nothing counted`);
    seen.add(d.reason);
  };
  refuses('hotlisted', ctx(), card('A', { status: 'hotlisted' }), 'hotlisted');
  refuses('expired', ctx(), card('A', { status: 'expired' }), 'expired');
  refuses('not yet valid', ctx(), card('A', { status: 'not-yet-valid' }), 'not-yet-valid');
  refuses('stale hotlist', ctx({ hotlistStale: true }), card('A'), 'hotlist-stale');
  t.match(decideEntry(ctx({ hotlistStale: true }), { kind: 'ecard', key: 'e'.repeat(32), status: 'ok' }), { admit: true }, 'an e-card is not on the card hotlist');
  refuses('e-card off', ctx({ rules: { ...rules, accept: { ...rules.accept, ecard: false } } }), { kind: 'ecard', key: 'e'.repeat(32), status: 'ok' }, 'ecard-not-accepted');
  refuses('2.0 only', ctx({ rules: { ...rules, accept: { ...rules.accept, generations: ['2.0'] } } }), card('A'), 'generation-not-accepted');
  refuses('no generation read', ctx(), card('A', { generation: undefined as never }), 'generation-not-accepted');
  refuses('students only', ctx({ rules: { ...rules, accept: { ...rules.accept, cardTypes: ['2'] } } }), card('A'), 'card-type-not-accepted');
  refuses('closed date', ctx({ rules: { ...rules, closedDates: ['2026-12-08'] } }), card('A'), 'closed-day');
  refuses('Monday', ctx({ now: at('2026-12-07T10:00') }), card('A'), 'closed-hours');
  refuses('before opening', ctx({ now: at('2026-12-08T08:59') }), card('A'), 'closed-hours');
  refuses('at closing', ctx({ now: at('2026-12-08T17:00') }), card('A'), 'closed-hours');
  t.match(decideEntry(ctx({ now: at('2026-12-08T09:00'), snapshot: { value: snap(), receivedAt: at('2026-12-08T09:00') } }), card('A')), { admit: true }, 'at opening');
  t.match(decideEntry(ctx({ now: at('2026-12-08T16:59'), snapshot: { value: snap(), receivedAt: at('2026-12-08T16:58') } }), card('A')), { admit: true }, 'a minute before closing');
  refuses('never synced, capacity set', ctx({ snapshot: undefined }), card('A'), 'venue-data-stale');
  refuses('snapshot past maxStaleSeconds', ctx({ snapshot: { value: snap(), receivedAt: at('2026-12-08T10:00') - 301_000 } }), card('A'), 'venue-data-stale');
  t.match(decideEntry(ctx({ snapshot: { value: snap(), receivedAt: at('2026-12-08T10:00') - 299_000 } }), card('A')), { admit: true, fresh: true }, 'offline within the limit');
  t.match(decideEntry(ctx({ rules: { ...rules, capacity: 0 }, snapshot: undefined }), card('A')), { admit: true, fresh: false }, 'no capacity, no event: decided on the gate alone');
  const event = { eventId: 'ev1', name: 'Lantern night', date: '2026-12-08', capacity: 0, holders: [K('REG000001')] };
  refuses('event day, not registered', ctx({ snapshot: { value: snap({ events: [event] }), receivedAt: at('2026-12-08T09:59') } }), card('A'), 'not-registered');
  refuses('registered-only date from the rules, no event', ctx({ rules: { ...rules, registeredOnlyDates: ['2026-12-08'] } }), card('REG000001'), 'not-registered');
  t.match(decideEntry(ctx({ snapshot: { value: snap({ events: [event] }), receivedAt: at('2026-12-08T09:59') } }), card('REG000001')), { admit: true, reason: 'admitted-registered', eventId: 'ev1' });
  t.match(decideEntry(ctx({ snapshot: { value: snap({ events: [{ ...event, date: '2026-12-09' }] }), receivedAt: at('2026-12-08T09:59') } }), card('A')), { admit: true, reason: 'admitted' }, 'tomorrow\'s event does not restrict today');
  refuses('event full', ctx({ snapshot: { value: snap({ events: [{ ...event, capacity: 1 }] }, { entries: 1 }), receivedAt: at('2026-12-08T09:59') } }), card('REG000001'), 'event-full');
  const twice = { date: '2026-12-08', entries: 2, exits: 2, holders: { [K('A')]: 2 } };
  refuses('two entries here already', ctx({ ledger: twice }), card('A'), 'daily-limit');
  refuses('one here, one at the other gate', ctx({ ledger: { ...twice, entries: 1, exits: 1, holders: { [K('A')]: 1 } }, snapshot: { value: snap({}, { entries: 1, exits: 1, holders: { [K('A')]: 1 } }), receivedAt: at('2026-12-08T09:59') } }), card('A'), 'daily-limit');
  t.match(decideEntry(ctx({ rules: { ...rules, maxDailyEntries: 0 }, ledger: twice }), card('A')), { admit: true }, 'unlimited');
  t.match(decideEntry(ctx({ ledger: { ...twice, date: '2026-12-07' } }), card('A')), { admit: true, ledger: { date: '2026-12-08', entries: 1 } }, 'yesterday\'s entries do not count');
  refuses('full: two inside from the other gate, one from here', ctx({ ledger: { date: '2026-12-08', entries: 1, exits: 0, holders: {} }, snapshot: { value: snap({}, { entries: 2 }), receivedAt: at('2026-12-08T09:59') } }), card('A'), 'capacity-full');
  t.match(decideEntry(ctx({ ledger: { date: '2026-12-08', entries: 1, exits: 0, holders: {} }, snapshot: { value: snap({}, { entries: 3, exits: 2 }), receivedAt: at('2026-12-08T09:59') } }), card('A')), { admit: true, occupancy: 3 }, 'exits at the other gate make room');
  t.match(decideEntry(ctx({ snapshot: { value: snap({ date: '2026-12-07' }, { entries: 9 }), receivedAt: at('2026-12-08T09:59') } }), card('A')), { admit: true, occupancy: 1 }, 'a snapshot of yesterday counts nothing today');
  t.match(decideEntry(ctx({ snapshot: { value: snap({ venueId: 'zoo' }, { entries: 9 }), receivedAt: at('2026-12-08T09:59') } }), card('A')), { admit: true, occupancy: 1 }, 'another venue\'s snapshot counts nothing');
  const gateSide: VenueReason[] = ['card-invalid', 'ecard-invalid', 'not-configured'];
  t.same([...seen].sort(), VENUE_REFUSALS.filter((r) => !gateSide.includes(r)).sort(), 'every refusal the rules can give was given');
  for (const r of VENUE_REFUSALS) t.type(VENUE_REASONS[r], 'string');
});

t.test('the first failing check decides (order: holder, calendar, venue data)', async (t) => {
  const closed = { ...rules, closedDates: ['2026-12-08'] };
  t.equal(decideEntry(ctx({ rules: closed }), card('A', { status: 'hotlisted' })).reason, 'hotlisted');
  t.equal(decideEntry(ctx({ rules: closed, snapshot: undefined }), card('A')).reason, 'closed-day');
  t.equal(decideEntry(ctx({ ledger: { date: '2026-12-08', entries: 3, exits: 0, holders: { [K('A')]: 2 } } }), card('A')).reason, 'daily-limit');
});

t.test('holder keys: per venue and kind, 32 hex digits, stable', async (t) => {
  const k = venueHolderKey('city-museum', 'card', 'A00000001');
  t.match(k, /^[0-9a-f]{32}$/);
  t.equal(venueHolderKey('city-museum', 'card', 'A00000001'), k);
  t.not(venueHolderKey('zoo', 'card', 'A00000001'), k);
  t.not(venueHolderKey('city-museum', 'ecard', 'A00000001'), k);
  t.not(k.includes('A00000001'), true);
});

t.test('snapshot validation', async (t) => {
  t.same(parseVenueSnapshot(snap()), snap());
  t.throws(() => parseVenueSnapshot({ ...snap(), others: { entries: 0, exits: 0, holders: { nothex: 1 } } }), { code: 'PROTO_ERR_FLEET_SCHEMA' });
  t.throws(() => parseVenueSnapshot({ ...snap(), events: [{ eventId: 'e', name: 'x', date: '2026-12-08', capacity: 0, holders: ['A00000001'] }] }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: /^\/events\/0\/holders\/0/ } });
  t.throws(() => parseVenueSnapshot({ ...snap(), v: 2 }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/v' } });
  t.throws(() => parseVenueSnapshot(null), { code: 'PROTO_ERR_FLEET_SCHEMA' });
});

t.test('venues in the configuration document: valid example, coded refusals with the path', async (t) => {
  const doc = { ...EXAMPLE_TERMINAL_CONFIG, venues: EXAMPLE_VENUE_RULES };
  t.same(validateTerminalConfig(doc), doc);
  const bad: [unknown, RegExp][] = [
    [{ ...EXAMPLE_VENUE_RULES, timeZone: 'Mars/Olympus' }, /^\/venues\/timeZone$/],
    [{ ...EXAMPLE_VENUE_RULES, hours: [{ days: [1], open: '17:00', close: '09:00' }] }, /^\/venues\/hours\/0\/close$/],
    [{ ...EXAMPLE_VENUE_RULES, hours: [{ days: [8], open: '09:00', close: '17:00' }] }, /^\/venues\/hours\/0\/days\/0/],
    [{ ...EXAMPLE_VENUE_RULES, hours: [{ days: [1], open: '9:00', close: '17:00' }] }, /^\/venues\/hours\/0\/open/],
    [{ ...EXAMPLE_VENUE_RULES, closedDates: ['2026-13-01'] }, /^\/venues\/closedDates\/0/],
    [{ ...EXAMPLE_VENUE_RULES, categories: [{ id: 'a', priceFen: 0 }, { id: 'a', priceFen: 1 }] }, /^\/venues\/categories\/1\/id$/],
    [{ ...EXAMPLE_VENUE_RULES, categories: [{ id: 'a', minAge: 60, maxAge: 10, priceFen: 0 }] }, /^\/venues\/categories\/0\/maxAge$/],
    [{ ...EXAMPLE_VENUE_RULES, accept: { ...EXAMPLE_VENUE_RULES.accept, generations: ['4.0'] } }, /^\/venues\/accept\/generations\/0/],
    [{ ...EXAMPLE_VENUE_RULES, capacity: -1 }, /^\/venues\/capacity/],
    [{ ...EXAMPLE_VENUE_RULES, venueId: 'City Museum' }, /^\/venues\/venueId/],
    [{ ...EXAMPLE_VENUE_RULES, extra: true }, /^\/venues/],
  ];
  for (const [venues, path] of bad) t.throws(() => validateTerminalConfig({ ...EXAMPLE_TERMINAL_CONFIG, venues }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path } }, String(path));
});

t.test('bounded random inputs: snapshots give coded refusals only; decisions never throw and count only admissions', async (t) => {
  let seed = 16;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const valid = JSON.stringify(snap({}, { entries: 2, exits: 1, holders: { [K('A')]: 1 } }));
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const pos = rnd(valid.length);
    const text = valid.slice(0, pos) + String.fromCharCode(32 + rnd(90)) + valid.slice(pos + 1);
    let value: unknown;
    try { value = JSON.parse(text); } catch { continue; }
    try { parseVenueSnapshot(value); accepted++; } catch (e) { if ((e as { code?: string }).code !== 'PROTO_ERR_FLEET_SCHEMA') throw e; }
  }
  t.ok(accepted < 5000, `${accepted} mutated snapshots still valid, the rest refused with a code`);
  const reasons = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const r: VenueRulesDocument = {
      ...rules, capacity: rnd(4), maxDailyEntries: rnd(3), closedDates: rnd(10) === 0 ? ['2026-12-08'] : [],
      hours: rnd(3) === 0 ? [] : [{ days: [1 + rnd(7)], open: '08:00', close: '18:00' }],
      registeredOnlyDates: rnd(8) === 0 ? ['2026-12-08'] : [],
    };
    const ledger = { date: rnd(5) === 0 ? '2026-12-07' : '2026-12-08', entries: rnd(4), exits: rnd(3), holders: { [K('A')]: rnd(3) } };
    const now = at('2026-12-08T06:00') + rnd(16 * 60) * 60_000;
    const c = ctx({ rules: r, now, ledger, snapshot: rnd(6) === 0 ? undefined : { value: snap({}, { entries: rnd(3), exits: rnd(2), holders: { [K('A')]: rnd(2) } }), receivedAt: now - rnd(400) * 1000 } });
    const d = decideEntry(c, card('A', { status: (['ok', 'ok', 'ok', 'hotlisted', 'expired'] as const)[rnd(5)]!, generation: (['1.0', '2.0', '3.0'] as const)[rnd(3)]! }));
    reasons.add(d.reason);
    const before = c.ledger!.date === d.local.date ? c.ledger!.entries : 0;
    t.equal(d.ledger.entries, before + (d.admit ? 1 : 0), 'an admission counts one entry, a refusal none');
    if (d.admit) t.ok(r.capacity === 0 || d.occupancy <= r.capacity, 'never admitted past capacity');
  }
  t.ok(reasons.size >= 6, `${reasons.size} different reasons reached`);
});
