// "Log in to a service" through the real local API on simulated cards and PSAM, against the
// server's terminal-login contract (docs/login.md §3) on a loopback port: the assertion is ES256
// under the terminal's key with kid = terminal id, bound to the login and its nonce, and carries
// the card's own data; each refusal — wrong PIN (tries left), locked PIN, hotlisted here or on the
// server, counterfeit card, server unreachable, unknown/used code, group not allowed — is coded
// and sends no assertion; the PIN is never spent on a login that cannot succeed; who may call the
// routes; no PIN and no full ID number in any log.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, createSscCard, parseSscProfile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, type CardAccess } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryHotlist, readBasicInfo, verifyPin, type Hotlist } from '../../src/services/index.ts';
import { TerminalError } from '../../src/errors.ts';
import { ASSERTION_TTL_SECONDS, approveLogin, fleetLoginServer, readLoginAssertion, signLoginAssertion } from '../../src/login/index.ts';
import { PinEntry, type PinPad } from '../../src/pinpad/index.ts';
import { startContractServer, type ContractServer } from './contract-server.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const CARD = JSON.parse(readFileSync(cardFile('ssc-2.00.json'), 'utf8')) as Record<string, unknown> & { keys: Record<string, string> };
const PIN = String(CARD['pin']);
const WRONG = '905172';
const TOKEN = 'login-api-token-0123456789abcdef-xyz';
const H = { 'x-onecard-token': TOKEN };
const TERMINAL = 'T-LOGIN-1';

function simAccess(user: () => SimulatedCard | undefined, psam: SimulatedCard): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events: new EventEmitter(),
    status: () => [],
    async withCard(fn) {
      const u = user();
      if (u === undefined) throw new TerminalError('TERM_ERR_NO_CARD');
      return fn({ card: ch(u), psam: ch(psam) });
    },
  };
}

interface Setup {
  server: ContractServer;
  app: Awaited<ReturnType<typeof buildLocalApi>>;
  logs: string[];
  card: { current: SimulatedCard | undefined };
  publicKey: string;
}

async function setup(o: { hotlist?: Hotlist; card?: SimulatedCard; login?: boolean; pinpad?: PinEntry } = {}): Promise<Setup> {
  const server = await startContractServer();
  t.teardown(() => server.close());
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  server.terminals.set(TERMINAL, { password: 'terminal-password-1', publicKey: spki, active: true, groupAllowed: true });
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const card = { current: o.card ?? createCardFromFile(cardFile('ssc-2.00.json')) as SimulatedCard | undefined };
  const app = await buildLocalApi({
    readers: simAccess(() => card.current, createCardFromFile(cardFile('psam.json'))),
    token: TOKEN, logger,
    ...(o.hotlist === undefined ? {} : { hotlist: o.hotlist }),
    ...(o.pinpad === undefined ? {} : { pinpad: o.pinpad }),
    ...(o.login === false ? {} : {
      login: {
        server: fleetLoginServer({ serverUrl: server.url, terminalId: TERMINAL, password: 'terminal-password-1' }),
        sign: (a) => signLoginAssertion({ privateKey, terminalId: TERMINAL, ...a }),
      },
    }),
  });
  t.teardown(() => app.close());
  return { server, app, logs, card, publicKey: spki };
}

const approve = (s: Setup, code: string, pin: string, headers: Record<string, string> = H) =>
  s.app.inject({ method: 'POST', url: '/v1/login/approve', headers, payload: { code, pin } });
const errorOf = (r: { json(): unknown }): { code: string; details?: Record<string, unknown> } => (r.json() as { error: { code: string; details?: Record<string, unknown> } }).error;
const assertions = (s: Setup): number => s.server.requests.filter((r) => r.startsWith('POST /api/v1/terminal/login-assertions')).length;
const triesLeft = async (s: Setup): Promise<unknown> => (s.app.inject({ url: '/v1/card/pin', headers: H }).then((r) => (r.json() as { triesLeft?: number }).triesLeft));
function noSecretsIn(t: Test, logs: string[]): void {
  const all = logs.join('');
  t.notMatch(all, PIN, 'no PIN in the log');
  t.notMatch(all, WRONG, 'no wrong PIN in the log');
  t.notMatch(all, String(CARD['ssn']), 'no full ID number in the log');
  t.notMatch(all, String(CARD['name']), 'no name in the log');
}

t.test('lookup then approve: the server gets a signed assertion with the card’s data, bound to the login [docs/login.md §3]', async (t) => {
  const s = await setup();
  const l = s.server.openLogin('社保网上服务大厅');
  const spaced = `${l.login.slice(0, 4)} ${l.login.slice(4)}`;
  let r = await s.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code: spaced } });
  t.equal(r.statusCode, 200, r.body);
  t.equal((r.json() as { client: { name: string } }).client.name, '社保网上服务大厅', 'the portal’s name, for the holder to check');
  t.ok((r.json() as { expiresInSeconds: number }).expiresInSeconds > 200, 'time left');
  t.equal(assertions(s), 0, 'a lookup sends no assertion');

  r = await approve(s, spaced, PIN);
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { ok: true, client: { name: '社保网上服务大厅' }, cardNumber: 'X*******9' });
  t.notMatch(r.body, String(CARD['ssn']), 'the answer carries no ID number');
  t.equal(l.status, 'accepted', 'the server accepted the assertion');
  const c = l.claims!;
  t.same(c.card, { cardNumber: CARD['cardNumber'], idNumber: CARD['ssn'], name: CARD['name'] }, 'claims are the card’s own data');
  t.equal(c.login, l.login);
  t.equal(c.nonce, l.nonce, 'bound to that login’s nonce');
  t.same(c.amr, ['hwk', 'pin']);
  t.equal(c.genuine, true);
  t.ok(c.exp - c.iat <= ASSERTION_TTL_SECONDS && c.exp > c.iat, 'short-lived');
  t.ok(Math.abs(c.iat - Date.now() / 1000) < 30, 'issued now');
  noSecretsIn(t, s.logs);

  // The same code again: the login is done (replay) — refused before the card is touched.
  const before = await triesLeft(s);
  r = await approve(s, l.login, PIN);
  t.equal(r.statusCode, 404);
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_UNKNOWN', 'a used code');
  t.equal(await triesLeft(s), before, 'no PIN try spent');
});

t.test('the assertion’s signature and header: ES256 under the identity key, kid = terminal id [RFC 7515; RFC 7518 §3.4]', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const jws = signLoginAssertion({ privateKey, terminalId: 'T9', login: '12345678', nonce: 'n', card: { cardNumber: 'A', idNumber: 'B', name: 'C' }, nowMs: 1_764_300_000_123 });
  const read = readLoginAssertion(jws, spki);
  t.same(read?.header, { alg: 'ES256', typ: 'onecard-login+jwt', kid: 'T9' });
  t.equal(read?.claims.iat, 1_764_300_000);
  t.equal(read?.claims.exp, 1_764_300_000 + ASSERTION_TTL_SECONDS);
  t.equal(Buffer.from(jws.split('.')[2]!, 'base64url').length, 64, 'r ‖ s, 64 bytes');
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  t.equal(readLoginAssertion(jws, other), undefined, 'another key does not verify it');
  const [h, p, sig] = jws.split('.') as [string, string, string];
  const forged = Buffer.from(JSON.stringify({ ...read!.claims, login: '87654321' })).toString('base64url');
  t.equal(readLoginAssertion(`${h}.${forged}.${sig}`, spki), undefined, 'a changed payload does not verify');
  t.equal(readLoginAssertion(`${h}.${p}`, spki), undefined);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  t.throws(() => signLoginAssertion({ privateKey: rsa, terminalId: 'T9', login: '12345678', nonce: 'n', card: { cardNumber: 'A', idNumber: 'B', name: 'C' }, nowMs: 0 }), { code: 'TERM_ERR_INVALID_ARGUMENT' });
});

t.test('wrong PIN: tries left, no assertion; then locked after the last try; the login stays open', async (t) => {
  const s = await setup();
  const l = s.server.openLogin('portal');
  let r = await approve(s, l.login, WRONG);
  t.equal(r.statusCode, 422);
  t.match(errorOf(r), { code: 'TERM_ERR_PIN_WRONG', national: -51, details: { triesLeft: 2 } });
  t.equal(assertions(s), 0, 'no assertion after a wrong PIN');
  t.equal(l.status, 'pending');
  await approve(s, l.login, WRONG);
  r = await approve(s, l.login, WRONG);
  t.equal(errorOf(r).code, 'TERM_ERR_PIN_LOCKED', 'the third wrong PIN locks it');
  r = await approve(s, l.login, PIN);
  t.equal(errorOf(r).code, 'TERM_ERR_PIN_LOCKED', 'a locked PIN refuses even the right one');
  t.equal(assertions(s), 0);
  t.equal(l.status, 'pending', 'the portal’s login is still waiting');
  noSecretsIn(t, s.logs);
});

t.test('hotlisted card (local hotlist): refused before the PIN, no assertion [P7 §5.4]', async (t) => {
  const s = await setup({ hotlist: createMemoryHotlist(4, [String(CARD['cardNumber'])]) });
  const l = s.server.openLogin('portal');
  const r = await approve(s, l.login, PIN);
  t.equal(errorOf(r).code, 'TERM_ERR_CARD_HOTLISTED');
  t.equal(errorOf(r).details?.['hotlistVersion'], 4);
  t.equal(assertions(s), 0);
});

t.test('hotlisted on the server only (this terminal’s copy behind): the server refuses, the kiosk says hotlisted', async (t) => {
  const s = await setup();
  s.server.hotlist.add(String(CARD['cardNumber']));
  const l = s.server.openLogin('portal');
  const r = await approve(s, l.login, PIN);
  t.equal(errorOf(r).code, 'TERM_ERR_CARD_HOTLISTED');
  t.equal(l.status, 'refused');
});

t.test('counterfeit card (wrong IRK): not genuine, PIN never tried, no assertion [ssc-card §10.1]', async (t) => {
  const fake = createSscCard(parseSscProfile({ ...CARD, keys: { ...CARD.keys, irk: '00112233445566778899AABBCCDDEEFF' } }));
  const s = await setup({ card: fake });
  const l = s.server.openLogin('portal');
  const r = await approve(s, l.login, PIN);
  t.equal(r.statusCode, 422);
  t.equal(errorOf(r).code, 'TERM_ERR_CARD_NOT_GENUINE');
  t.equal(assertions(s), 0);
  t.equal(l.status, 'pending');
});

t.test('server unreachable: login needs the server — 503, and the PIN is not spent', async (t) => {
  const s = await setup();
  const l = s.server.openLogin('portal');
  await s.server.close();
  const before = await triesLeft(s);
  let r = await approve(s, l.login, WRONG);
  t.equal(r.statusCode, 503);
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_OFFLINE');
  t.equal(await triesLeft(s), before, 'no PIN try spent while offline');
  r = await s.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code: l.login } });
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_OFFLINE');
});

t.test('unknown, expired and malformed codes; a terminal group not allowed; no card', async (t) => {
  const s = await setup();
  let r = await approve(s, '00000000', PIN);
  t.equal(r.statusCode, 404);
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_UNKNOWN');
  const old = s.server.openLogin('portal', -1);
  r = await s.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code: old.login } });
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_UNKNOWN', 'expired');
  for (const code of ['1234', '1234567a', '../../admin', '1234 5678 9012 3456 7']) {
    r = await s.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code } });
    t.ok(r.statusCode === 400 || errorOf(r).code === 'TERM_ERR_LOGIN_UNKNOWN', `malformed code ${code} refused`);
  }
  t.equal(s.server.requests.filter((x) => !/^GET \/api\/v1\/terminal\/logins\/\d{8}$/.test(x)).length, 0, 'only well-formed codes reach the server');
  r = await approve(s, '1234567', PIN);
  t.equal(r.statusCode, 400, 'schema');
  r = await approve(s, '12345678', '12');
  t.equal(errorOf(r).code, 'TERM_ERR_API_BAD_REQUEST', 'PIN format by schema');

  s.server.terminals.get(TERMINAL)!.groupAllowed = false;
  const l = s.server.openLogin('portal');
  r = await approve(s, l.login, PIN);
  t.equal(r.statusCode, 403);
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_REFUSED');
  t.match(r.json(), { error: { message: /SRV_ERR_LOGIN_TERMINAL_GROUP/ } }, 'the server’s reason is named for staff');
  s.server.terminals.get(TERMINAL)!.groupAllowed = true;

  s.card.current = undefined;
  r = await approve(s, l.login, PIN);
  t.equal(r.statusCode, 409);
  t.equal(errorOf(r).code, 'TERM_ERR_NO_CARD');
});

t.test('who may log in: the kiosk’s page session, the desk only with staff signed in, the token; not without a credential; 501 unenrolled', async (t) => {
  const s = await setup();
  const sessionCookie = async (page: string): Promise<string> => {
    const launch = await s.app.inject({ method: 'POST', url: '/v1/session/launch', headers: H, payload: { page } });
    const start = await s.app.inject({ url: (launch.json() as { path: string }).path });
    return String(start.headers['set-cookie']).split(';')[0]!;
  };
  const kiosk = { cookie: await sessionCookie('kiosk') };
  const desk = { cookie: await sessionCookie('desk') };
  let l = s.server.openLogin('portal');
  let r = await approve(s, l.login, PIN, kiosk);
  t.equal(r.statusCode, 200, `kiosk page session: ${r.body}`);
  l = s.server.openLogin('portal');
  r = await approve(s, l.login, PIN, desk);
  t.equal(r.statusCode, 401);
  t.equal(errorOf(r).code, 'TERM_ERR_STAFF_REQUIRED', 'the desk needs a signed-in member of staff');
  r = await approve(s, l.login, PIN, {});
  t.equal(r.statusCode, 401, 'no credential');
  r = await approve(s, l.login, PIN, { ...kiosk, origin: 'http://evil.example' });
  t.equal(r.statusCode, 403, 'a session cookie from another origin');
  t.equal(l.status, 'pending');

  const bare = await setup({ login: false });
  r = await bare.app.inject({ method: 'POST', url: '/v1/login/lookup', headers: H, payload: { code: '12345678' } });
  t.equal(r.statusCode, 501);
  t.equal(errorOf(r).code, 'TERM_ERR_API_NOT_CONFIGURED');
});

t.test('a PIN read from a device (PIN pad seam) is asked for only once the login is known to wait', async (t) => {
  const s = await setup();
  let asked = 0;
  const source = async (): Promise<string> => { asked++; return PIN; };
  const deps = {
    server: fleetLoginServer({ serverUrl: s.server.url, terminalId: TERMINAL, password: 'terminal-password-1' }),
    sign: () => { throw new Error('not reached'); },
    readers: simAccess(() => s.card.current, createCardFromFile(cardFile('psam.json'))),
    services: { readBasicInfo, verifyPin },
  };
  await t.rejects(approveLogin(deps, '00000000', source), { code: 'TERM_ERR_LOGIN_UNKNOWN' });
  t.equal(asked, 0, 'no PIN asked for an unknown code');
  const l = s.server.openLogin('portal');
  s.server.terminals.get(TERMINAL)!.groupAllowed = false;
  await t.rejects(approveLogin(deps, l.login, source), { code: 'TERM_ERR_LOGIN_REFUSED' });
  t.equal(asked, 0, 'nor for a terminal that may not authenticate');
  s.server.terminals.get(TERMINAL)!.groupAllowed = true;
  await t.rejects(approveLogin(deps, l.login, source), /not reached/, 'card and PIN checked, then signing');
  t.equal(asked, 1, 'asked once the login waits');
});

t.test('PIN pad: /v1/login/pinpad/approve takes the PIN from the pad, prompted only for a waiting login and an unlocked PIN', async (t) => {
  let prompts = 0;
  let typed = PIN;
  const pad: PinPad = {
    connected: true,
    async readPin(req) {
      prompts++;
      for (let i = 1; i <= typed.length; i++) req.onKey(i);
      return typed;
    },
    async close() {},
  };
  const entry = new PinEntry(pad);
  const progress: unknown[] = [];
  entry.events.on('progress', (p) => progress.push(p));
  const s = await setup({ pinpad: entry });
  const padApprove = (code: string, payload: Record<string, unknown> = { code }) => s.app.inject({ method: 'POST', url: '/v1/login/pinpad/approve', headers: H, payload });
  let r = await padApprove('00000000');
  t.equal(errorOf(r).code, 'TERM_ERR_LOGIN_UNKNOWN');
  t.equal(prompts, 0, 'no prompt for an unknown code');
  t.equal((await padApprove('12345678', { code: '12345678', pin: PIN })).statusCode, 400, 'a PIN in the body is refused');
  const l = s.server.openLogin('portal');
  typed = WRONG;
  r = await padApprove(l.login);
  t.match(errorOf(r), { code: 'TERM_ERR_PIN_WRONG', details: { triesLeft: 2 } });
  typed = PIN;
  r = await padApprove(l.login);
  t.equal(r.statusCode, 200, r.body);
  t.equal(l.status, 'accepted');
  t.equal(l.claims?.card.idNumber, CARD['ssn']);
  t.equal(prompts, 2);
  t.notMatch(JSON.stringify(progress), PIN, 'progress carries counts, never digits');
  t.match(progress, [{ state: 'prompt', purpose: 'verify' }], 'the page is told the pad prompts');

  // A locked PIN is refused before the pad is prompted.
  const l2 = s.server.openLogin('portal');
  typed = WRONG;
  for (let i = 0; i < 3; i++) await padApprove(l2.login);
  const before = prompts;
  r = await padApprove(l2.login);
  t.equal(errorOf(r).code, 'TERM_ERR_PIN_LOCKED');
  t.equal(prompts, before, 'no prompt with the PIN locked');

  const none = await setup();
  r = await none.app.inject({ method: 'POST', url: '/v1/login/pinpad/approve', headers: H, payload: { code: '12345678' } });
  t.equal(r.statusCode, 501, 'no PIN pad');
  noSecretsIn(t, s.logs);
});
