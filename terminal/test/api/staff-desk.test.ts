// Staff sign-in at the counter desk over the real local API and a real fleet server (HTTP on
// loopback): sign-in with the member of staff's own credential; revoked and other-group
// credentials refused; desk mutations refused without sign-in and after revocation; the kiosk's
// page session cannot use staff routes; a desk loss report carries the staff id into the outbox
// event and the server's audit entry names the member of staff, and so does a PIN unblock at the
// desk (journaled as `pin.unblock`, audited as `desk.pin-unblock`); server unreachable: sign-in
// refused and said; the credential never reaches a log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, fleetStaffChecker, type CardAccess } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { TerminalError } from '../../src/errors.ts';
import { startFleetServer, type FleetServer } from '../e2e/box.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'staff-desk-test-token-0123456789abcdef';
const H = { host: 'localhost' };

function simAccess(user: SimulatedCard, psam: SimulatedCard): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return { events: new EventEmitter(), status: () => [], async withCard(fn) { return fn({ card: ch(user), psam: ch(psam) }); } };
}

async function enrol(fleet: FleetServer, groupId: string): Promise<{ terminalId: string; password: string }> {
  const token = await fleet.enrolmentToken(groupId);
  const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const r = await fetch(`${fleet.httpUrl}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, publicKey }) });
  const b = await r.json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: b.terminalId, password: b.mqtt.password };
}

t.test('desk staff sign-in against the fleet server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'staff-desk-'));
  const fleet = await startFleetServer({ dir });
  t.teardown(async () => { await fleet.close(); rmSync(dir, { recursive: true, force: true }); });
  await fleet.enrolmentToken('branch-b');
  const term = await enrol(fleet, 'branch-a');
  const operator = await fleet.tokenFor('operator');
  const issue = async (staffId: string, groups: string[]) => {
    const r = await fleet.call('POST', '/api/v1/staff-credentials', { staffId, name: `Staff ${staffId}`, groups }, operator);
    t.equal(r.status, 201);
    return r.body as { id: string; credential: string };
  };
  const li = await issue('E1001', ['branch-a']);
  const elsewhere = await issue('E2002', ['branch-b']);
  const later = await issue('E3003', ['branch-a']);

  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }));
  const events: { type: string; body: Record<string, unknown> }[] = [];
  const queue = (type: string) => async (r: { cardNumber: string; staffId?: string }) => {
    events.push({ type, body: { cardNumber: r.cardNumber, pinVerified: true, reason: 'lost', ...(r.staffId === undefined ? {} : { staffId: r.staffId }) } });
    return { online: true };
  };
  const deskEvents: Record<string, unknown>[] = [];
  let serverUrl = fleet.httpUrl;
  const checker = fleetStaffChecker({ get serverUrl() { return serverUrl; }, terminalId: term.terminalId, password: term.password, timeoutMs: 3000 } as never);
  const app = await buildLocalApi({
    readers: simAccess(createCardFromFile(cardFile('ssc-2.00-transit.json')), createCardFromFile(cardFile('psam.json'))),
    token: TOKEN, logger, screens: { pages: ['kiosk', 'desk'] },
    reportLoss: queue('card.loss-report'), checkStaff: checker,
    deskAction: async (d) => { deskEvents.push({ ...d }); },
  });
  t.teardown(() => app.close());
  const session = async (page: 'kiosk' | 'desk'): Promise<string> => {
    const l = await app.inject({ method: 'POST', url: '/v1/session/launch', headers: { ...H, 'x-onecard-token': TOKEN }, payload: { page } });
    return String((await app.inject({ url: l.json().path, headers: H })).headers['set-cookie']).split(';')[0]!;
  };
  const desk = await session('desk');
  const kiosk = await session('kiosk');
  const as = (cookie: string) => ({ ...H, cookie, 'sec-fetch-site': 'same-origin' });
  const code = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;
  const signIn = (cookie: string, credential: string) => app.inject({ method: 'POST', url: '/v1/staff/sign-in', headers: as(cookie), payload: { credential } });
  const lossReport = (cookie: string) => app.inject({ method: 'POST', url: '/v1/card/loss-report', headers: as(cookie), payload: { pin: '246810' } });

  // Without sign-in the desk changes nothing.
  let r = await lossReport(desk);
  t.equal(r.statusCode, 401);
  t.equal(code(r), 'TERM_ERR_STAFF_REQUIRED', 'desk mutation without sign-in refused');
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: as(desk), payload: {} });
  t.equal(code(r), 'TERM_ERR_STAFF_REQUIRED', 'PIN unblock without sign-in refused');
  t.same(events, [], 'nothing queued');
  t.same(deskEvents, [], 'no desk action journaled');

  // The kiosk's session cannot sign in nor call staff-only services.
  t.equal(code(await signIn(kiosk, li.credential)), 'TERM_ERR_API_SESSION', 'kiosk session cannot sign staff in');
  t.equal(code(await app.inject({ url: '/v1/staff', headers: as(kiosk) })), 'TERM_ERR_API_SESSION');
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: as(kiosk), payload: {} });
  t.equal(code(r), 'TERM_ERR_API_SESSION', 'kiosk session cannot unblock a PIN');
  t.equal(code(await app.inject({ method: 'POST', url: '/v1/staff/sign-in', headers: { ...H, 'x-onecard-token': TOKEN }, payload: { credential: li.credential } })), 'TERM_ERR_API_SESSION', 'the API token is no desk session');

  // Refused credentials.
  r = await signIn(desk, elsewhere.credential);
  t.equal(r.statusCode, 403);
  t.equal(code(r), 'TERM_ERR_STAFF_REFUSED', 'a credential for another group is refused');
  t.equal(code(await signIn(desk, 'ocs_' + 'B'.repeat(43))), 'TERM_ERR_STAFF_REFUSED', 'an unknown credential is refused');
  t.equal(code(await signIn(desk, 'not-a-credential')), 'TERM_ERR_STAFF_REFUSED');
  t.same((await app.inject({ url: '/v1/staff', headers: as(desk) })).json(), { signedIn: false });

  // Signed in: the loss report names the member of staff.
  r = await signIn(desk, li.credential);
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { staffId: 'E1001', name: 'Staff E1001' });
  t.same((await app.inject({ url: '/v1/staff', headers: as(desk) })).json(), { signedIn: true, staffId: 'E1001', name: 'Staff E1001' });
  r = await lossReport(desk);
  t.equal(r.statusCode, 200, r.body);
  t.same(events.map((e) => [e.type, e.body.staffId]), [['card.loss-report', 'E1001']], 'the outbox event carries the staff id');

  // The kiosk's own loss report still needs no staff (and names none).
  t.equal((await lossReport(kiosk)).statusCode, 200);
  t.equal(events[1]!.body.staffId, undefined);

  // The server's audit of the desk loss report names the member of staff.
  await fleet.app.uplink.dispatch('events', term.terminalId, { v: 1, records: [{ eventId: 'evt-00000001', seq: 1, ts: Date.now(), type: events[0]!.type, body: events[0]!.body }] }, '');
  const audit = (await fleet.call('GET', '/api/v1/audit?action=hotlist.report')).body as { entries: { target: string; details: { staffId?: string } }[] };
  t.same(audit.entries.map((e) => [e.target, e.details.staffId]), [[events[0]!.body.cardNumber, 'E1001']], 'audit entry names the staff member');

  // A PIN unblock at the desk: journaled with the card and the member of staff, audited so.
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: as(desk), payload: {} });
  t.equal(r.statusCode, 200, r.body);
  t.same(deskEvents, [{ type: 'pin.unblock', result: 'ok', cardNumber: events[0]!.body.cardNumber, staffId: 'E1001' }], 'the desk action carries the staff id');
  const { type: pinType, ...pinBody } = deskEvents[0]!;
  await fleet.app.uplink.dispatch('events', term.terminalId, { v: 1, records: [{ eventId: 'evt-00000002', seq: 2, ts: Date.now(), type: String(pinType), body: pinBody }] }, '');
  const pinAudit = (await fleet.call('GET', '/api/v1/audit?action=desk.pin-unblock')).body as { entries: { target: string; details: { staffId?: string; result?: string } }[] };
  t.same(pinAudit.entries.map((e) => [e.target, e.details.staffId, e.details.result]), [[events[0]!.body.cardNumber, 'E1001', 'ok']], 'the server audit names the member of staff');

  // Revocation takes effect at the next desk action.
  t.equal((await fleet.call('DELETE', `/api/v1/staff-credentials/${li.id}`, undefined, operator)).status, 204);
  r = await lossReport(desk);
  t.equal(r.statusCode, 403);
  t.equal(code(r), 'TERM_ERR_STAFF_REFUSED', 'revoked credential refused at the next action');
  t.same((await app.inject({ url: '/v1/staff', headers: as(desk) })).json(), { signedIn: false }, 'and signed out');
  t.equal(code(await signIn(desk, li.credential)), 'TERM_ERR_STAFF_REFUSED', 'a revoked credential cannot sign in again');
  t.equal(events.length, 2, 'nothing queued after revocation');

  // Sign-out.
  t.equal((await signIn(desk, later.credential)).statusCode, 200);
  t.same((await app.inject({ method: 'POST', url: '/v1/staff/sign-out', headers: as(desk) })).json(), { ok: true });
  t.equal(code(await lossReport(desk)), 'TERM_ERR_STAFF_REQUIRED', 'signed out: refused');

  // Ending the page session ends the sign-in: a new desk session starts signed out.
  const desk2 = await session('desk');
  t.equal((await signIn(desk2, later.credential)).statusCode, 200);
  t.equal((await app.inject({ method: 'POST', url: '/v1/session/end', headers: as(desk2) })).statusCode, 200);
  t.equal(code(await app.inject({ url: '/v1/staff', headers: as(desk2) })), 'TERM_ERR_API_SESSION', 'the ended session is gone');

  // Fleet server unreachable: sign-in refused and said so.
  serverUrl = 'http://127.0.0.1:9';
  r = await signIn(desk, later.credential);
  t.equal(r.statusCode, 503);
  t.equal(code(r), 'TERM_ERR_STAFF_UNCHECKED', 'offline: the credential cannot be checked');

  const all = logs.join('');
  t.ok(all.includes('staff signed in at the desk'), 'the log was captured');
  for (const c of [li.credential, elsewhere.credential, later.credential]) t.notOk(all.includes(c.slice(4)), 'no credential in the log');
});

t.test('fleetStaffChecker maps the server answers', async (t) => {
  const answer = (status: number, body: unknown): typeof fetch => (async () => new Response(JSON.stringify(body), { status })) as typeof fetch;
  const c = (f: typeof fetch) => fleetStaffChecker({ serverUrl: 'http://x', terminalId: 't1', password: 'p', fetch: f });
  t.same(await c(answer(200, { staffId: 'E1', name: 'A' }))('ocs_x'), { staffId: 'E1', name: 'A' });
  await t.rejects(c(answer(401, { error: { code: 'SRV_ERR_STAFF_CREDENTIAL' } }))('ocs_x'), { code: 'TERM_ERR_STAFF_REFUSED' });
  await t.rejects(c(answer(429, { error: { code: 'SRV_ERR_RATE_LIMITED' } }))('ocs_x'), { code: 'TERM_ERR_STAFF_REFUSED' });
  await t.rejects(c(answer(401, { error: { code: 'SRV_ERR_UNAUTHENTICATED' } }))('ocs_x'), { code: 'TERM_ERR_STAFF_UNCHECKED' }, 'the terminal\'s own credentials refused: not the staff member\'s fault');
  await t.rejects(c(answer(200, { staffId: '../x', name: 'A' }))('ocs_x'), { code: 'TERM_ERR_STAFF_UNCHECKED' }, 'malformed answer');
  await t.rejects(c((async () => { throw new TypeError('fetch failed'); }) as typeof fetch)('ocs_x'), { code: 'TERM_ERR_STAFF_UNCHECKED' });
  t.ok(new TerminalError('TERM_ERR_STAFF_REQUIRED') instanceof Error);
});
