// The kiosk's holder services over the real local API on simulated cards and PSAM, a real venue gate,
// the library service against the simulated library system over SIP2, and an in-memory fleet link:
// the binding of every answer to the card whose PIN this caller verified (attacker tests: no
// verification, another page session, the token, another card swapped in with or without card
// events, a card number smuggled into the request, an expired or ended binding), the library
// account with the refusal reasons, the venue status, event registration and its refusals, and the
// data tracker with consent withdrawal; no PIN in any log.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, SimLibrary, startLibraryServer, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { EXAMPLE_VENUE_RULES, venueHolderKey, type VenueRulesDocument } from '@onecard/protocol/venue';
import { buildLocalApi, SessionStore, type CardAccess, type LocalApiOptions } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { LibraryService, type LibrarySettings } from '../../src/services/library.ts';
import { VenueGate, type VenueServerLink } from '../../src/services/venue.ts';
import { httpHolderServerLink, type HolderServerLink, type HolderTracker } from '../../src/services/holder-link.ts';
import { TerminalError } from '../../src/errors.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'holder-services-token-0123456789abcdef';
const ZHANG = { file: 'ssc-2.00.json', cardNumber: 'X00000019', pin: '123456', ssn: '000000197001010000' };
const LI = { file: 'ssc-2.00-transit.json', cardNumber: 'X00000027', pin: '246810' };
const OUYANG = { file: 'ssc-3.00-long-name.json', cardNumber: 'D2143569X', pin: '1234' };
let now = Date.UTC(2025, 5, 3, 2, 0, 0); // Tuesday 10:00 in Shanghai
const clock = { now: () => now };

/** A reader whose card can be swapped, with or without the reader's card events. */
function reader(): CardAccess & { put(file: string | undefined, events?: boolean): void } {
  const events = new EventEmitter();
  const psam = createCardFromFile(cardFile('psam.json'));
  let user: SimulatedCard | undefined;
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events,
    status: () => [{ readerId: 'main', slots: [{ slot: 0, role: 'user' }, { slot: 1, role: 'psam' }] }],
    async withCard(fn) {
      if (user === undefined) throw new TerminalError('TERM_ERR_NO_CARD');
      return fn({ card: ch(user), psam: ch(psam) });
    },
    put(file, withEvents = true) {
      if (withEvents && user !== undefined) events.emit('card-removed', { readerId: 'main', slot: 0 });
      user = file === undefined ? undefined : createCardFromFile(cardFile(file));
      if (withEvents && user !== undefined) events.emit('card-inserted', { readerId: 'main', slot: 0, atr: new Uint8Array([0x3b]) });
    },
  };
}

const RULES: VenueRulesDocument = { ...EXAMPLE_VENUE_RULES, hours: [], maxDailyEntries: 2, categories: [{ id: 'senior', minAge: 50, priceFen: 0 }], syncIntervalSeconds: 60, maxStaleSeconds: 600 };

/** The fleet server as the holder services see it: events, registrations, tracker and consents per card. */
function fleet() {
  const calls: string[] = [];
  const registered = new Map<string, Set<string>>();
  const consents = new Map<string, { id: string; department: string; purpose: string; revokedAt: number | null }[]>([
    [ZHANG.cardNumber, [{ id: 'cns_zhang1', department: 'civil', purpose: 'public-service', revokedAt: null }]],
    [LI.cardNumber, [{ id: 'cns_li1', department: 'credit', purpose: 'credit-query', revokedAt: null }]],
  ]);
  const event = { eventId: 've_lantern1', venueId: RULES.venueId, name: '元宵灯会', date: '2025-06-03', capacity: 2, registered: 0, opensAt: 0, closesAt: Number.MAX_SAFE_INTEGER };
  let offline = false;
  const venueLink: VenueServerLink = {
    async snapshot() {
      return { v: 1, venueId: RULES.venueId, date: '2025-06-03', asOf: now, others: { entries: 3, exits: 2, holders: { [venueHolderKey(RULES.venueId, 'card', ZHANG.cardNumber)]: 1 } }, events: [{ eventId: event.eventId, name: event.name, date: event.date, capacity: 2, holders: [...(registered.get(event.eventId) ?? [])].map((c) => venueHolderKey(RULES.venueId, 'card', c)) }] };
    },
    async register(eventId, cardNumber) {
      calls.push(`register ${eventId} ${cardNumber}`);
      if (offline) throw new TerminalError('TERM_ERR_VENUE_OFFLINE', 'fleet server unreachable');
      if (eventId !== event.eventId) throw new TerminalError('TERM_ERR_VENUE_REGISTRATION_REFUSED', undefined, { serverCode: 'SRV_ERR_NOT_FOUND' });
      const set = registered.get(eventId) ?? new Set();
      registered.set(eventId, set);
      if (set.has(cardNumber)) return { eventId, name: event.name, date: event.date, status: 'already', registered: set.size, capacity: event.capacity };
      if (set.size >= event.capacity) throw new TerminalError('TERM_ERR_VENUE_REGISTRATION_REFUSED', undefined, { serverCode: 'SRV_ERR_VENUE_EVENT_FULL' });
      set.add(cardNumber);
      return { eventId, name: event.name, date: event.date, status: 'registered', registered: set.size, capacity: event.capacity };
    },
  };
  const link: HolderServerLink = {
    async openEvents(venueId) {
      calls.push(`events ${venueId}`);
      if (offline) throw new TerminalError('TERM_ERR_HOLDER_OFFLINE');
      return [{ ...event, registered: registered.get(event.eventId)?.size ?? 0 }];
    },
    async tracker(cardNumber): Promise<HolderTracker> {
      calls.push(`tracker ${cardNumber}`);
      if (offline) throw new TerminalError('TERM_ERR_HOLDER_OFFLINE');
      return {
        accesses: [{ at: now - 3_600_000, department: 'civil', purpose: 'public-service', call: 'basic-info', released: ['name'], outcome: 'released' }],
        consents: (consents.get(cardNumber) ?? []).map((c) => ({ ...c, grantedAt: 0, expiresAt: now + 1e9, cardNumber: 'X*******9' })),
      };
    },
    async revokeConsent(id, cardNumber) {
      calls.push(`revoke ${id} ${cardNumber}`);
      const c = consents.get(cardNumber)?.find((x) => x.id === id);
      if (c === undefined) throw new TerminalError('TERM_ERR_HOLDER_REFUSED', undefined, { serverCode: 'SRV_ERR_NOT_FOUND' });
      if (c.revokedAt !== null) return false;
      c.revokedAt = now;
      return true;
    },
  };
  return { calls, link, venueLink, consents, setOffline: (v: boolean) => void (offline = v) };
}

async function library(t: Test) {
  const sim = await startLibraryServer({
    library: new SimLibrary({
      patrons: [
        { cardNumber: ZHANG.cardNumber, name: '张三', expires: '2099-12-31' },
        { cardNumber: LI.cardNumber, name: '李四', blocked: true },
        { cardNumber: OUYANG.cardNumber, name: '欧阳娜娜', finesFen: 3550 },
      ],
      items: [{ barcode: '31000001', title: '红楼梦' }],
    }, () => now),
    institutionId: 'CITYLIB', login: { user: 'kiosk01', password: 'sip2-password-1' }, charset: 'utf-8',
  });
  t.teardown(() => sim.close());
  const settings: LibrarySettings = { host: '127.0.0.1', port: sim.port, institutionId: 'CITYLIB', user: 'kiosk01', password: 'sip2-password-1', location: 'hall', charset: 'utf-8', errorDetection: true, timeoutMs: 2000, maxRetries: 1, gate: false, loanDesk: false };
  const service = new LibraryService({ settings: () => settings, clock: () => now });
  t.teardown(() => service.close());
  return { sim, service };
}

async function setup(t: Test, o: { configured?: boolean } & Partial<LocalApiOptions> = {}) {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const readers = reader();
  const f = fleet();
  const sessions = new SessionStore({ clock });
  const configured = o.configured ?? true;
  const venue = configured ? await VenueGate.open({ rules: () => RULES, clock: () => now, hotlistStale: () => false, server: f.venueLink }) : undefined;
  if (venue !== undefined) {
    await venue.sync();
    t.teardown(() => venue.close());
  }
  const lib = configured ? await library(t) : undefined;
  const app = await buildLocalApi({
    readers, token: TOKEN, clock, logger, sessions,
    ...(venue === undefined ? {} : { venue }),
    ...(lib === undefined ? {} : { library: { service: lib.service } }),
    ...(configured ? { holderLink: f.link } : {}),
  });
  t.teardown(() => app.close());
  /** A page session of the kiosk (as the launcher opens it): its cookie. */
  const page = async (): Promise<Record<string, string>> => {
    const { code } = sessions.mintLaunchCode('kiosk');
    const r = await app.inject({ url: `/session/start?code=${code}` });
    return { cookie: (r.headers['set-cookie'] as string).split(';')[0]! };
  };
  const call = (h: Record<string, string>, url: string, payload?: unknown) => app.inject({ method: payload === undefined ? 'GET' : 'POST', url, headers: h, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { app, readers, f, page, call, logs, venue };
}
const codeOf = (r: { json(): unknown }): string | undefined => (r.json() as { error?: { code: string } }).error?.code;
const HOLDER_GETS = ['/v1/holder/library', '/v1/holder/venue', '/v1/holder/events', '/v1/holder/tracker'];

t.test('which holder services are offered follows the configuration; unconfigured ones answer 501', async (t) => {
  const none = await setup(t, { configured: false });
  const kiosk = await none.page();
  t.same((await none.call(kiosk, '/v1/holder/services')).json(), { library: false, venue: false, events: false, tracker: false });
  none.readers.put(ZHANG.file);
  t.equal((await none.call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin })).statusCode, 200, 'the PIN verifies without any service');
  for (const url of HOLDER_GETS) {
    const r = await none.call(kiosk, url);
    t.equal(r.statusCode, 501, url);
    t.equal(codeOf(r), 'TERM_ERR_API_NOT_CONFIGURED');
  }
  const all = await setup(t);
  t.same((await all.call(await all.page(), '/v1/holder/services')).json(), { library: true, venue: true, events: true, tracker: true });
});

t.test('attacker: nothing without this caller\'s PIN verification of the card in the reader', async (t) => {
  const { call, page, readers, f, logs } = await setup(t);
  const kiosk = await page();
  const other = await page();
  const token = { 'x-onecard-token': TOKEN };
  readers.put(ZHANG.file);
  for (const url of HOLDER_GETS) {
    const r = await call(kiosk, url);
    t.equal(r.statusCode, 403, `${url} before any PIN`);
    t.equal(codeOf(r), 'TERM_ERR_HOLDER_UNVERIFIED');
  }
  t.equal(codeOf(await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' })), 'TERM_ERR_HOLDER_UNVERIFIED');
  t.equal(codeOf(await call(kiosk, '/v1/holder/consents/revoke', { consentId: 'cns_zhang1' })), 'TERM_ERR_HOLDER_UNVERIFIED');
  // A wrong PIN binds nothing.
  const wrong = await call(kiosk, '/v1/holder/verify', { pin: '000000' });
  t.equal(codeOf(wrong), 'TERM_ERR_PIN_WRONG');
  t.equal((wrong.json() as { error: { details: { triesLeft: number } } }).error.details.triesLeft, 2);
  t.equal(codeOf(await call(kiosk, '/v1/holder/tracker')), 'TERM_ERR_HOLDER_UNVERIFIED', 'a wrong PIN opens nothing');
  const ok = await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin });
  t.same(ok.json(), { ok: true, cardNumber: 'X*******9' });
  const tr = await call(kiosk, '/v1/holder/tracker');
  t.equal(tr.statusCode, 200, tr.body);
  t.match(tr.json(), { accesses: [{ department: 'civil', purpose: 'public-service' }], consents: [{ id: 'cns_zhang1' }] });
  t.same(f.calls, [`tracker ${ZHANG.cardNumber}`], 'the server was asked about the card read, once');
  // Another page session and the token holder cannot ride on the kiosk's verification.
  for (const [who, h] of [['another page session', other], ['the API token', token]] as const) {
    for (const url of HOLDER_GETS) t.equal(codeOf(await call(h, url)), 'TERM_ERR_HOLDER_UNVERIFIED', `${who}: ${url}`);
    t.equal(codeOf(await call(h, '/v1/holder/consents/revoke', { consentId: 'cns_zhang1' })), 'TERM_ERR_HOLDER_UNVERIFIED', `${who}: revoke`);
  }
  // A card number in the request is refused by the schema, or ignored where there is no body.
  t.equal((await call(kiosk, '/v1/holder/consents/revoke', { consentId: 'cns_li1', cardNumber: LI.cardNumber })).statusCode, 400, 'no card number in a body');
  t.equal((await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1', cardNumber: LI.cardNumber })).statusCode, 400);
  await call(kiosk, `/v1/holder/tracker?cardNumber=${LI.cardNumber}`);
  t.equal(f.calls.at(-1), `tracker ${ZHANG.cardNumber}`, 'a card number in the query is ignored');
  // Another holder's consent: the server refuses it for this card, in words the kiosk maps.
  const foreign = await call(kiosk, '/v1/holder/consents/revoke', { consentId: 'cns_li1' });
  t.equal(codeOf(foreign), 'TERM_ERR_HOLDER_REFUSED');
  t.same((foreign.json() as { error: { details: unknown } }).error.details, { serverCode: 'SRV_ERR_NOT_FOUND' });
  t.equal(f.consents.get(LI.cardNumber)![0]!.revokedAt, null, 'the other holder\'s consent stands');
  t.notMatch(logs.join(''), ZHANG.pin, 'no PIN in the log');
  t.notMatch(logs.join(''), ZHANG.ssn, 'no ID number in the log');
});

t.test('attacker: another card in the reader ends the binding, with or without card events', async (t) => {
  const { call, page, readers, f } = await setup(t);
  const kiosk = await page();
  readers.put(ZHANG.file);
  t.equal((await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin })).statusCode, 200);
  readers.put(LI.file); // removed, another inserted
  t.equal(codeOf(await call(kiosk, '/v1/holder/tracker')), 'TERM_ERR_HOLDER_UNVERIFIED', 'after card events');
  readers.put(ZHANG.file);
  t.equal(codeOf(await call(kiosk, '/v1/holder/tracker')), 'TERM_ERR_HOLDER_UNVERIFIED', 'the same card back needs the PIN again');
  t.equal((await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin })).statusCode, 200);
  readers.put(LI.file, false); // a swap the reader did not report
  const r = await call(kiosk, '/v1/holder/tracker');
  t.equal(codeOf(r), 'TERM_ERR_HOLDER_UNVERIFIED', 'the card read again is not the verified one');
  readers.put(ZHANG.file, false);
  t.equal(codeOf(await call(kiosk, '/v1/holder/tracker')), 'TERM_ERR_HOLDER_UNVERIFIED', 'a mismatch ended the binding for good');
  t.notOk(f.calls.some((c) => c.includes(LI.cardNumber)), 'the server was never asked about the swapped-in card');
});

t.test('attacker: a binding ends at /v1/holder/end and after 5 minutes', async (t) => {
  const { call, page, readers } = await setup(t);
  const kiosk = await page();
  readers.put(ZHANG.file);
  await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin });
  t.equal((await call(kiosk, '/v1/holder/end', {})).statusCode, 200);
  t.equal(codeOf(await call(kiosk, '/v1/holder/venue')), 'TERM_ERR_HOLDER_UNVERIFIED', 'ended');
  await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin });
  t.equal((await call(kiosk, '/v1/holder/venue')).statusCode, 200);
  now += 5 * 60_000 + 1;
  t.equal(codeOf(await call(kiosk, '/v1/holder/venue')), 'TERM_ERR_HOLDER_UNVERIFIED', 'expired');
  now -= 5 * 60_000 + 1;
});

t.test('library account over SIP2: may borrow, blocked, fines — every refusal with its flags', async (t) => {
  const { call, page, readers } = await setup(t);
  const kiosk = await page();
  const account = async (c: { file: string; pin: string }) => {
    readers.put(c.file);
    t.equal((await call(kiosk, '/v1/holder/verify', { pin: c.pin })).statusCode, 200);
    const r = await call(kiosk, '/v1/holder/library');
    t.equal(r.statusCode, 200, r.body);
    return r.json() as Record<string, unknown>;
  };
  t.match(await account(ZHANG), { mayBorrow: true, known: true, flags: [], name: '张*', loans: 0, overdue: 0, holds: 0, expires: '2099-12-31', cardNumber: 'X*******9' });
  const blocked = await account(LI);
  t.match(blocked, { mayBorrow: false, reason: 'blocked', name: '李*' });
  t.same(blocked['flags'], ['chargePrivilegesDenied', 'renewalPrivilegesDenied', 'holdPrivilegesDenied'], 'the flags the library set');
  t.equal((blocked['messages'] as string[]).length, 1, 'the library\'s message once (23 and 63 both carry it)');
  const fines = await account(OUYANG);
  t.match(fines, { mayBorrow: false, reason: 'fines', fees: '35.50', currency: 'CNY', fineItems: 1 });
  t.ok((fines['flags'] as string[]).includes('excessiveOutstandingFines'));
  t.notMatch(JSON.stringify(fines), '欧阳娜娜', 'the name is masked');
});

t.test('venue status, open events, registration and its refusals', async (t) => {
  const { call, page, readers, f } = await setup(t);
  const kiosk = await page();
  readers.put(ZHANG.file);
  await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin });
  const v = (await call(kiosk, '/v1/holder/venue')).json() as Record<string, unknown>;
  t.match(v, { venueId: 'city-museum', open: true, entriesToday: 1, maxDailyEntries: 2, category: 'senior', priceFen: 0, standardPriceFen: 3000, registrations: [], cardNumber: 'X*******9' });
  t.match(v['entryNow'], { admit: false, reason: 'not-registered' }, 'an event day: what a gate would say now');
  t.match((await call(kiosk, '/v1/holder/events')).json(), { events: [{ eventId: 've_lantern1', name: '元宵灯会', registeredByHolder: false }] });
  t.equal(f.calls.at(-1), 'events city-museum', 'the events of this venue');
  const reg = await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' });
  t.match(reg.json(), { status: 'registered', registered: 1, cardNumber: 'X*******9' });
  t.equal(f.calls.at(-1), `register ve_lantern1 ${ZHANG.cardNumber}`);
  t.match((await call(kiosk, '/v1/holder/venue')).json(), { registrations: [{ eventId: 've_lantern1' }], entryNow: { admit: true, reason: 'admitted-registered' } }, 'the new snapshot has the registration');
  t.match((await call(kiosk, '/v1/holder/events')).json(), { events: [{ registeredByHolder: true }] });
  t.match((await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' })).json(), { status: 'already' }, 'already registered');
  const missing = await call(kiosk, '/v1/holder/events/register', { eventId: 've_nosuchevent' });
  t.equal(codeOf(missing), 'TERM_ERR_VENUE_REGISTRATION_REFUSED');
  t.same((missing.json() as { error: { details: unknown } }).error.details, { serverCode: 'SRV_ERR_NOT_FOUND' }, 'the server\'s reason reaches the page');
  readers.put(LI.file);
  await call(kiosk, '/v1/holder/verify', { pin: LI.pin });
  t.equal((await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' })).json().status, 'registered');
  readers.put(OUYANG.file);
  await call(kiosk, '/v1/holder/verify', { pin: OUYANG.pin });
  t.same((await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' })).json().error.details, { serverCode: 'SRV_ERR_VENUE_EVENT_FULL' }, 'full');
  f.setOffline(true);
  t.equal(codeOf(await call(kiosk, '/v1/holder/events/register', { eventId: 've_lantern1' })), 'TERM_ERR_VENUE_OFFLINE', 'offline');
  t.equal(codeOf(await call(kiosk, '/v1/holder/events')), 'TERM_ERR_HOLDER_OFFLINE');
  t.equal((await call(kiosk, '/v1/holder/events')).statusCode, 503);
});

t.test('tracker: withdraw a consent, twice', async (t) => {
  const { call, page, readers, f } = await setup(t);
  const kiosk = await page();
  readers.put(ZHANG.file);
  await call(kiosk, '/v1/holder/verify', { pin: ZHANG.pin });
  t.same((await call(kiosk, '/v1/holder/consents/revoke', { consentId: 'cns_zhang1' })).json(), { revoked: true });
  t.equal(f.calls.at(-1), `revoke cns_zhang1 ${ZHANG.cardNumber}`);
  t.same((await call(kiosk, '/v1/holder/consents/revoke', { consentId: 'cns_zhang1' })).json(), { revoked: false }, 'already withdrawn');
  t.type((await call(kiosk, '/v1/holder/tracker')).json().consents[0].revokedAt, 'number');
});

t.test('the HTTP link: terminal credentials, card number from the terminal only, refusals and outages coded', async (t) => {
  const seen: { url: string; auth: string | null; body: unknown }[] = [];
  let answer: { status: number; body: unknown } | Error = { status: 200, body: { accesses: [{ at: 1, department: 'civil', departmentName: '民政局', purpose: 'subsidy', call: 'verify', released: ['match'], outcome: 'released', idHash: 'ff' }], consents: [{ id: 'cns_1', department: 'civil', purpose: 'subsidy', cardNumber: 'X00000019', grantedAt: 1, expiresAt: 2, revokedAt: null, idHash: 'ff' }] } };
  const fake = (async (url: string, init: RequestInit) => {
    seen.push({ url, auth: new Headers(init.headers).get('authorization'), body: init.body === undefined ? undefined : JSON.parse(String(init.body)) });
    if (answer instanceof Error) throw answer;
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  }) as typeof fetch;
  const link = httpHolderServerLink({ serverUrl: 'http://fleet.test', terminalId: 'trm_1', password: 'pw', fetch: fake });
  const tr = await link.tracker('X00000019', 50);
  t.same(seen[0], { url: 'http://fleet.test/api/v1/terminal/sharing/tracker', auth: `Basic ${Buffer.from('trm_1:pw').toString('base64')}`, body: { cardNumber: 'X00000019', pinVerified: true, limit: 50 } });
  t.same(tr.accesses[0], { at: 1, department: 'civil', departmentName: '民政局', purpose: 'subsidy', call: 'verify', released: ['match'], outcome: 'released' }, 'only the known fields');
  t.equal(tr.consents[0]!.cardNumber, 'X*******9', 'card number masked');
  answer = { status: 404, body: { error: { code: 'SRV_ERR_NOT_FOUND', message: 'x' } } };
  await t.rejects(link.revokeConsent('cns_1', 'X00000019'), { code: 'TERM_ERR_HOLDER_REFUSED', details: { serverCode: 'SRV_ERR_NOT_FOUND' } });
  answer = { status: 502, body: {} };
  await t.rejects(link.openEvents('city-museum'), { code: 'TERM_ERR_HOLDER_OFFLINE' });
  answer = new TypeError('fetch failed');
  await t.rejects(link.tracker('X00000019', 1), { code: 'TERM_ERR_HOLDER_OFFLINE' });
  t.equal(seen[2]!.url, 'http://fleet.test/api/v1/terminal/venue/events?venueId=city-museum');
});
