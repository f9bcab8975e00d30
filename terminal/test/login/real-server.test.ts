// The terminal's card login against the real fleet server (server/test/oidc/fixture.ts: buildApp
// with the OpenID Provider on 127.0.0.1, a terminal enrolled through the enrolment API, a portal
// registered through the admin API, the holder's browser stand-in): the local API on simulated
// cards and PSAM looks the login up, checks the card and PIN, signs with the enrolled key and the
// portal's openid-client gets an ID token whose claims are the simulated card's. Each refusal —
// wrong PIN, locked PIN, hotlisted here, hotlisted on the server only, counterfeit card, terminal
// group not allowed, terminal disabled, login expired, server unreachable — is coded at the
// terminal, and those that reach the server leave its audit entry; no PIN or ID number in the
// terminal's log.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import * as client from 'openid-client';
import { createCardFromFile, createSscCard, parseSscProfile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, type CardAccess } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryHotlist, type Hotlist } from '../../src/services/index.ts';
import { TerminalError } from '../../src/errors.ts';
import { enrolledLogin } from '../../src/login/index.ts';
import { enrolTerminal, finishInBrowser, registerPortal, startFixture, startLogin, type EnrolledTerminal, type OidcFixture } from '@onecard/server/testing/oidc-fixture';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const CARD = JSON.parse(readFileSync(cardFile('ssc-2.00.json'), 'utf8')) as Record<string, unknown> & { keys: Record<string, string> };
const PIN = String(CARD['pin']);
const WRONG = '905172';
const TOKEN = 'real-server-login-token-0123456789abcdef';
const H = { 'x-onecard-token': TOKEN };

function simAccess(user: SimulatedCard, psam: SimulatedCard): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events: new EventEmitter(),
    status: () => [],
    async withCard(fn) {
      return fn({ card: ch(user), psam: ch(psam) });
    },
  };
}

interface Box {
  f: OidcFixture;
  term: EnrolledTerminal;
  app: Awaited<ReturnType<typeof buildLocalApi>>;
  logs: string[];
}

async function box(t: Test, o: { group?: string; allowed?: boolean; hotlist?: Hotlist; card?: SimulatedCard } = {}): Promise<Box> {
  const f = await startFixture();
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, o.group ?? 'hall', o.allowed ?? true);
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const app = await buildLocalApi({
    readers: simAccess(o.card ?? createCardFromFile(cardFile('ssc-2.00.json')), createCardFromFile(cardFile('psam.json'))),
    token: TOKEN, logger, ...(o.hotlist === undefined ? {} : { hotlist: o.hotlist }),
    // What the runtime builds from the enrolment: the server link and the identity-key signer.
    login: enrolledLogin({ terminalId: term.id, serverUrl: f.base, mqtt: { password: term.password }, privateKey: term.key }),
  });
  t.teardown(() => app.close());
  return { f, term, app, logs };
}

const approve = (b: Box, code: string, pin: string) => b.app.inject({ method: 'POST', url: '/v1/login/approve', headers: H, payload: { code, pin } });
const codeOf = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;
const status = async (b: Box, uid: string): Promise<string> => ((await (await fetch(`${b.f.base}/oidc/interaction/${uid}/status`)).json()) as { status: string }).status;
const refusals = async (b: Box): Promise<string[]> => (await b.f.store.listAudit({ limit: 200 })).filter((a) => a.action === 'login.refused').map((a) => (a.details as { code: string }).code);
function clean(t: Test, b: Box): void {
  const all = b.logs.join('');
  t.notMatch(all, PIN, 'no PIN in the terminal log');
  t.notMatch(all, WRONG, 'no wrong PIN in the terminal log');
  t.notMatch(all, String(CARD['ssn']), 'no ID number in the terminal log');
}

t.test('kiosk login through the real provider: the portal’s ID token carries the simulated card’s holder', async (t) => {
  const b = await box(t);
  const portal = await registerPortal(b.f, { minAcr: 'high', methods: ['terminal'] });
  const s = await startLogin(b.f, portal);
  const look = await b.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code: `${s.code.slice(0, 4)} ${s.code.slice(4)}` } });
  t.equal(look.statusCode, 200, look.body);
  t.equal((look.json() as { client: { name: string } }).client.name, '社保业务网厅');
  const r = await approve(b, s.code, PIN);
  t.equal(r.statusCode, 200, r.body);
  t.equal(await status(b, s.uid), 'done', 'the waiting browser sees the login done');
  const { callback } = await finishInBrowser(b.f, s);
  const tokens = await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
  const claims = tokens.claims()!;
  t.equal(claims['name'], CARD['name'], 'name from the card');
  t.equal(claims['id_number'], CARD['ssn'], 'ID number from the card');
  t.equal(claims.acr, 'urn:onecard:loa:high');
  t.same(claims.amr, ['hwk', 'pin']);
  t.not(claims.sub, CARD['ssn']);
  const accepted = (await b.f.store.listAudit({ limit: 200 })).find((a) => a.action === 'login.accepted');
  t.equal(accepted?.actor, `terminal:${b.term.id}`, 'the server audits which terminal logged the holder in');
  // The code again: used.
  const again = await approve(b, s.code, PIN);
  t.equal(codeOf(again), 'TERM_ERR_LOGIN_UNKNOWN');
  clean(t, b);
});

t.test('wrong PIN then locked: no assertion reaches the server, the login keeps waiting', async (t) => {
  const b = await box(t);
  const portal = await registerPortal(b.f);
  const s = await startLogin(b.f, portal);
  let r = await approve(b, s.code, WRONG);
  t.equal(codeOf(r), 'TERM_ERR_PIN_WRONG');
  t.equal((r.json() as { error: { details: { triesLeft: number } } }).error.details.triesLeft, 2);
  await approve(b, s.code, WRONG);
  r = await approve(b, s.code, WRONG);
  t.equal(codeOf(r), 'TERM_ERR_PIN_LOCKED');
  r = await approve(b, s.code, PIN);
  t.equal(codeOf(r), 'TERM_ERR_PIN_LOCKED', 'locked: the right PIN does not help');
  t.equal(await status(b, s.uid), 'pending', 'the portal’s login still waits');
  t.same(await refusals(b), [], 'nothing was sent to refuse');
  clean(t, b);
});

t.test('hotlisted at the terminal; hotlisted on the server only (refused and audited there)', async (t) => {
  const here = await box(t, { hotlist: createMemoryHotlist(3, [String(CARD['cardNumber'])]) });
  const portal = await registerPortal(here.f);
  const s = await startLogin(here.f, portal);
  let r = await approve(here, s.code, PIN);
  t.equal(codeOf(r), 'TERM_ERR_CARD_HOTLISTED', 'refused by this terminal’s hotlist');
  t.equal(await status(here, s.uid), 'pending');

  const there = await box(t);
  const rep = await there.f.admin('POST', '/api/v1/hotlist/report', { cardNumbers: [CARD['cardNumber']], reason: 'lost' });
  t.equal(rep.statusCode, 200);
  const s2 = await startLogin(there.f, await registerPortal(there.f));
  r = await approve(there, s2.code, PIN);
  t.equal(codeOf(r), 'TERM_ERR_CARD_HOTLISTED', 'the server’s hotlist refuses it');
  t.same(await refusals(there), ['SRV_ERR_LOGIN_HOTLISTED'], 'audited on the server');
  t.equal(await status(there, s2.uid), 'refused', 'the waiting browser is told');
});

t.test('counterfeit card (wrong IRK): not genuine, nothing sent [ssc-card §10.1]', async (t) => {
  const fake = createSscCard(parseSscProfile({ ...CARD, keys: { ...CARD.keys, irk: '00112233445566778899AABBCCDDEEFF' } }));
  const b = await box(t, { card: fake });
  const s = await startLogin(b.f, await registerPortal(b.f));
  const r = await approve(b, s.code, PIN);
  t.equal(codeOf(r), 'TERM_ERR_CARD_NOT_GENUINE');
  t.equal(await status(b, s.uid), 'pending');
});

t.test('terminal group not allowed, terminal disabled, login expired: coded refusals before the card is touched', async (t) => {
  const b = await box(t, { group: 'pharmacy', allowed: false });
  const s = await startLogin(b.f, await registerPortal(b.f));
  let r = await approve(b, s.code, WRONG);
  t.equal(r.statusCode, 403);
  t.equal(codeOf(r), 'TERM_ERR_LOGIN_REFUSED');
  t.match(r.json(), { error: { message: /SRV_ERR_LOGIN_TERMINAL_GROUP/ } });
  t.ok((await refusals(b)).includes('SRV_ERR_LOGIN_TERMINAL_GROUP'), 'audited on the server');
  const tries = ((await b.app.inject({ url: '/v1/card/pin', headers: H })).json() as { triesLeft: number }).triesLeft;
  t.equal(tries, 3, 'the wrong PIN was never tried');

  const d = await box(t);
  const s2 = await startLogin(d.f, await registerPortal(d.f));
  t.equal((await d.f.admin('POST', `/api/v1/terminals/${d.term.id}/disable`)).statusCode, 200);
  r = await approve(d, s2.code, PIN);
  t.equal(codeOf(r), 'TERM_ERR_LOGIN_REFUSED', 'disabled terminal');

  const e = await box(t);
  const s3 = await startLogin(e.f, await registerPortal(e.f));
  e.f.advance(6 * 60_000);
  r = await approve(e, s3.code, PIN);
  t.equal(r.statusCode, 404);
  t.equal(codeOf(r), 'TERM_ERR_LOGIN_UNKNOWN', 'expired login code');
});

t.test('server unreachable: login needs it — 503 and no PIN try spent', async (t) => {
  const b = await box(t);
  const s = await startLogin(b.f, await registerPortal(b.f));
  await b.f.close();
  const r = await approve(b, s.code, WRONG);
  t.equal(r.statusCode, 503);
  t.equal(codeOf(r), 'TERM_ERR_LOGIN_OFFLINE');
  const tries = ((await b.app.inject({ url: '/v1/card/pin', headers: H })).json() as { triesLeft: number }).triesLeft;
  t.equal(tries, 3);
  t.ok(new TerminalError('TERM_ERR_LOGIN_OFFLINE').message.includes('needs the fleet server'), 'the message says login needs the server');
});
