/**
 * Red-team suite of the local API (issue 12, High 2 and the local API Low item), over a real
 * loopback socket as `curl` would see it: an allowed `Origin` is not a credential (card read,
 * three PIN verifies, purchase, WebSocket), DNS rebinding and cross-origin attempts, page sessions
 * that a remote page cannot obtain or ride, the client allow-list, weak tokens, oversize bodies.
 */
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import WebSocket from 'ws';
import { createCardFromFile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, SessionStore, sameToken, apiTokenProblem, requestPageLaunchUrl, type CardAccess, type LocalApiOptions } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryJournal, type PurchaseJournal } from '../../src/services/index.ts';
import { TerminalError } from '../../src/errors.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'red-team-token-5f0c9a7e13b24d68';
const ALLOWED = 'http://localhost:8080';
const clock = { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) };

function simAccess(user: SimulatedCard, psam: SimulatedCard): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events: new EventEmitter(),
    status: () => [{ readerId: 'r1', status: 'ok' }],
    async withCard(fn) {
      return fn({ card: ch(user), psam: ch(psam) });
    },
  };
}

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string; json(): Record<string, unknown> }

/** One HTTP/1.1 request to 127.0.0.1:port with exactly the headers given (like curl -H). */
function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (r: Res): unknown => (r.json()['error'] as { code?: unknown } | undefined)?.code;

/** Opens a WebSocket; resolves with the first message, or rejects with the HTTP status of a refused upgrade. */
function wsFirst(port: number, headers: Record<string, string>): Promise<{ ws: WebSocket; first: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/events`, { headers });
    ws.once('message', (m: Buffer) => resolve({ ws, first: JSON.parse(String(m)) as Record<string, unknown> }));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(Object.assign(new Error(`upgrade refused ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', reject);
  });
}

async function listen(t: Test, over: Partial<LocalApiOptions> = {}, card = 'ssc-2.00-transit.json') {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const journal: PurchaseJournal = createMemoryJournal();
  const app = await buildLocalApi({ readers: simAccess(createCardFromFile(cardFile(card)), createCardFromFile(cardFile('psam.json'))), token: TOKEN, clock, logger, journal, allowedOrigins: [ALLOWED], ...over });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return { app, port, logs, journal, self: `http://127.0.0.1:${port}` };
}

/** Mints a launch code with the token and redeems it as a browser would; returns the cookie pair. */
async function startSession(port: number, page = 'kiosk'): Promise<{ cookie: string; setCookie: string; code: string }> {
  const l = await http(port, 'POST', '/v1/session/launch', { 'x-onecard-token': TOKEN }, JSON.stringify({ page }));
  if (l.status !== 200) throw new Error(`launch ${l.status} ${l.body}`);
  const path = l.json()['path'] as string;
  const s = await http(port, 'GET', path, { 'sec-fetch-site': 'none' });
  if (s.status !== 303) throw new Error(`start ${s.status} ${s.body}`);
  const setCookie = String(s.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, setCookie, code: l.json()['code'] as string };
}

t.test('[issue 12 High 2] an allowed Origin is not a credential: card read gives no name or ID number', async (t) => {
  const { port, logs } = await listen(t, {}, 'ssc-2.00.json');
  // curl -H 'Origin: http://localhost:8080' -d '{}' 127.0.0.1:PORT/v1/card/read
  const r = await http(port, 'POST', '/v1/card/read', { origin: ALLOWED }, '{}');
  t.equal(r.status, 401, r.body);
  t.equal(codeOf(r), 'TERM_ERR_API_TOKEN');
  t.notMatch(r.body, /张三|000000197001010000|X00000019/, 'no personal data in the refusal');
  for (const path of ['/v1/readers', '/v1/card/pin', '/v1/ecard/scan', '/v1/session']) {
    const g = await http(port, 'GET', path, { origin: ALLOWED });
    t.equal(g.status, 401, `GET ${path} with an allowed Origin and no token`);
  }
  const ok = await http(port, 'POST', '/v1/card/read', { origin: ALLOWED, 'x-onecard-token': TOKEN }, '{}');
  t.equal(ok.status, 200, 'the token still works from an allowed origin');
  t.equal(ok.headers['access-control-allow-origin'], ALLOWED);
  t.equal(ok.json()['name'], '张三');
  t.notMatch(logs.join(''), new RegExp(TOKEN), 'token never logged');
});

t.test('[issue 12 High 2] three PIN verifies with an allowed Origin do not touch the PIN tries', async (t) => {
  const { port } = await listen(t, {}, 'ssc-2.00.json');
  for (let i = 0; i < 3; i++) {
    const r = await http(port, 'POST', '/v1/card/pin/verify', { origin: ALLOWED }, JSON.stringify({ pin: '999999' }));
    t.equal(r.status, 401, `attempt ${i + 1} refused before the card`);
    const c = await http(port, 'POST', '/v1/card/pin/change', { origin: ALLOWED }, JSON.stringify({ oldPin: '999999', newPin: '111111' }));
    t.equal(c.status, 401);
  }
  const s = await http(port, 'GET', '/v1/card/pin', { 'x-onecard-token': TOKEN });
  t.match(s.json(), { set: true, locked: false, triesLeft: 3 }, 'no try was used');
  const v = await http(port, 'POST', '/v1/card/pin/verify', { 'x-onecard-token': TOKEN }, JSON.stringify({ pin: '123456' }));
  t.equal(v.status, 200, 'the holder can still verify');
});

t.test('[issue 12 High 2] purchases and the WebSocket need a credential too', async (t) => {
  const { port, journal } = await listen(t);
  const before = journal.list().length;
  const r = await http(port, 'POST', '/v1/card/purchase', { origin: ALLOWED }, JSON.stringify({ amount: 150 }));
  t.equal(r.status, 401, r.body);
  t.equal(journal.list().length, before, 'nothing journaled');
  const bal = await http(port, 'POST', '/v1/card/purchase', { 'x-onecard-token': TOKEN }, JSON.stringify({ amount: 1 }));
  t.equal(bal.status, 200, 'token purchase works');

  await t.rejects(wsFirst(port, { origin: ALLOWED }), /upgrade refused 401/, 'WebSocket with an allowed Origin and no token refused');
  await t.rejects(wsFirst(port, { origin: 'https://evil.example', 'x-onecard-token': TOKEN }), /upgrade refused 403/, 'WebSocket from another origin refused even with the token');
  const { ws, first } = await wsFirst(port, { 'x-onecard-token': TOKEN });
  t.equal(first['type'], 'hello', 'token WebSocket opens');
  ws.terminate();
});

t.test('DNS rebinding and cross-origin attempts', async (t) => {
  const { port } = await listen(t, {}, 'ssc-2.00.json');
  // A page of evil.example whose name now resolves to 127.0.0.1: the browser sends its own Host and Origin.
  let r = await http(port, 'POST', '/v1/card/read', { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, '{}');
  t.equal(r.status, 403);
  t.equal(codeOf(r), 'TERM_ERR_API_HOST');
  r = await http(port, 'POST', '/v1/card/read', { host: `evil.example:${port}`, 'x-onecard-token': TOKEN }, '{}');
  t.equal(codeOf(r), 'TERM_ERR_API_HOST', 'rebinding refused even with the token');
  r = await http(port, 'GET', '/health', { host: `localhost.evil.example:${port}` });
  t.equal(r.status, 403, 'a name that only starts with localhost is not localhost');
  r = await http(port, 'POST', '/v1/card/read', { origin: 'https://evil.example', 'x-onecard-token': TOKEN }, '{}');
  t.equal(r.status, 403);
  t.equal(codeOf(r), 'TERM_ERR_API_ORIGIN', 'unlisted origin refused even with the token');
  t.equal(r.headers['access-control-allow-origin'], undefined);
  r = await http(port, 'OPTIONS', '/v1/card/read', { origin: ALLOWED, 'access-control-request-method': 'POST' });
  t.equal(r.status, 204, 'preflight answered for an allowed origin');
  t.notOk(r.headers['access-control-allow-credentials'], 'no credentialed CORS: cookies never cross origins');
  r = await http(port, 'OPTIONS', '/v1/card/read', { origin: 'null' });
  t.equal(r.status, 403, 'the opaque origin (sandboxed iframe, file:) is refused');
  for (const path of ['/docs/../v1/card/pin', '/health/../v1/card/pin', '/session/start/../../v1/card/pin', '/docs/%2e%2e/v1/card/pin', '/health%2f..%2fv1%2fcard%2fpin', '/docs/static/../../v1/card/pin']) {
    const g = await http(port, 'GET', path, { origin: ALLOWED });
    t.notOk(g.status === 200, `${path}: an open path prefix does not open a protected route (${g.status})`);
    t.notMatch(g.body, /triesLeft/);
  }
  r = await http(port, 'GET', '/no/such/route');
  t.equal(r.status, 401, 'unknown routes need a credential too (no probing)');
  r = await http(port, 'POST', '/v1/card/read', { 'x-onecard-token': 'red-team-token-5f0c9a7e13b24d6' }, '{}');
  t.equal(r.status, 401, 'a token one character short is wrong');
  r = await http(port, 'POST', '/v1/card/read', { authorization: `Bearer ${TOKEN}x` }, '{}');
  t.equal(r.status, 401, 'a token one character long is wrong');
  t.ok(sameToken(TOKEN, TOKEN));
  t.notOk(sameToken('', TOKEN));
  t.notOk(sameToken(TOKEN.slice(0, -1), TOKEN));
});

t.test('page session: obtained with a launch code, HttpOnly SameSite=Strict, only from the page itself', async (t) => {
  const { port, self, logs } = await listen(t, {}, 'ssc-2.00.json');
  const { cookie, setCookie, code } = await startSession(port);
  t.match(setCookie, /^onecard_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
  // The kiosk page, same origin: fetch POST sends Origin = the API's own origin, Sec-Fetch-Site: same-origin.
  let r = await http(port, 'POST', '/v1/card/read', { cookie, origin: self, 'sec-fetch-site': 'same-origin' }, '{}');
  t.equal(r.status, 200, r.body);
  t.equal(r.json()['name'], '张三');
  r = await http(port, 'GET', '/v1/session', { cookie, 'sec-fetch-site': 'same-origin' });
  t.match(r.json(), { kind: 'session', page: 'kiosk' });
  const { ws, first } = await wsFirst(port, { cookie, origin: self });
  t.equal(first['type'], 'hello', 'the page WebSocket opens with the cookie');

  // Another page on the same site (another localhost port, even an allowed origin) cannot ride the cookie.
  r = await http(port, 'POST', '/v1/card/read', { cookie, origin: ALLOWED, 'sec-fetch-site': 'same-site' }, '{}');
  t.equal(r.status, 403);
  t.equal(codeOf(r), 'TERM_ERR_API_ORIGIN');
  r = await http(port, 'GET', '/v1/card/pin', { cookie, 'sec-fetch-site': 'cross-site' });
  t.equal(r.status, 403, 'a no-cors GET from another site is refused on Sec-Fetch-Site');
  await t.rejects(wsFirst(port, { cookie, origin: ALLOWED }), /upgrade refused 403/, 'cross-origin WebSocket with the cookie refused');

  // The launch code is single use, and a session cannot mint codes.
  r = await http(port, 'GET', `/session/start?code=${code}`, { 'sec-fetch-site': 'none' });
  t.equal(r.status, 401);
  t.equal(codeOf(r), 'TERM_ERR_API_SESSION');
  r = await http(port, 'POST', '/v1/session/launch', { cookie, origin: self, 'sec-fetch-site': 'same-origin' }, JSON.stringify({ page: 'kiosk' }));
  t.equal(r.status, 401, 'a page session cannot mint launch codes');
  r = await http(port, 'POST', '/v1/session/launch', { origin: ALLOWED }, JSON.stringify({ page: 'kiosk' }));
  t.equal(r.status, 401, 'nor can an allowed origin without the token');
  r = await http(port, 'POST', '/v1/session/launch', { 'x-onecard-token': TOKEN }, JSON.stringify({ page: '../admin' }));
  t.equal(r.status, 400, 'page names are path segments');
  r = await http(port, 'POST', '/v1/card/read', { cookie: 'onecard_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, '{}');
  t.equal(codeOf(r), 'TERM_ERR_API_SESSION', 'a forged session id is refused');

  // A remote page cannot make the browser redeem a code.
  const l = await http(port, 'POST', '/v1/session/launch', { 'x-onecard-token': TOKEN }, JSON.stringify({ page: 'desk' }));
  const path = l.json()['path'] as string;
  r = await http(port, 'GET', path, { 'sec-fetch-site': 'cross-site' });
  t.equal(r.status, 403, 'session start from another site refused');
  t.equal(r.headers['set-cookie'], undefined);
  r = await http(port, 'GET', path, { 'sec-fetch-site': 'none' });
  t.equal(r.status, 303);
  t.equal(r.headers['location'], '/desk/');

  // Logout ends the session and closes its WebSocket.
  const closed = new Promise<number>((resolve) => ws.once('close', (c: number) => resolve(c)));
  r = await http(port, 'POST', '/v1/session/end', { cookie, origin: self, 'sec-fetch-site': 'same-origin' });
  t.equal(r.status, 200);
  t.match(String(r.headers['set-cookie']), /Max-Age=0/);
  t.equal(await closed, 1008, 'WebSocket closed when its session ends');
  r = await http(port, 'POST', '/v1/card/read', { cookie, origin: self }, '{}');
  t.equal(codeOf(r), 'TERM_ERR_API_SESSION');
  const all = logs.join('');
  t.notMatch(all, new RegExp(code), 'launch codes never logged');
  t.notMatch(all, new RegExp(cookie.split('=')[1]!), 'session ids never logged');
});

t.test('page sessions and launch codes expire', async (t) => {
  let now = Date.UTC(2025, 5, 1, 2, 0, 0);
  const c = { now: () => now };
  const sessions = new SessionStore({ clock: c, idleMs: 60_000, launchTtlMs: 10_000 });
  const { port, self } = await listen(t, { sessions, clock: c });
  const l = await http(port, 'POST', '/v1/session/launch', { 'x-onecard-token': TOKEN }, JSON.stringify({ page: 'kiosk' }));
  t.equal(l.json()['expiresInSeconds'], 10);
  now += 11_000;
  t.equal(codeOf(await http(port, 'GET', l.json()['path'] as string)), 'TERM_ERR_API_SESSION', 'stale launch code refused');
  const { cookie } = await startSession(port);
  now += 59_000;
  t.equal((await http(port, 'GET', '/v1/readers', { cookie, origin: self })).status, 200, 'use within the idle period keeps it');
  now += 59_000;
  t.equal((await http(port, 'GET', '/v1/readers', { cookie, origin: self })).status, 200);
  const { ws } = await wsFirst(port, { cookie, origin: self });
  now += 600_000;
  t.equal((await http(port, 'GET', '/v1/readers', { cookie, origin: self })).status, 200, 'an open WebSocket keeps the session alive');
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.close();
  await closed;
  await new Promise((res) => setTimeout(res, 20));
  now += 61_000;
  const r = await http(port, 'GET', '/v1/readers', { cookie, origin: self });
  t.equal(r.status, 401);
  t.equal(codeOf(r), 'TERM_ERR_API_SESSION', 'idle session ended');
});

t.test('client allow-list: peers other than loopback are refused unless listed', async (t) => {
  const readers = simAccess(createCardFromFile(cardFile('ssc-2.00.json')), createCardFromFile(cardFile('psam.json')));
  const app = await buildLocalApi({ readers, token: TOKEN });
  t.teardown(() => app.close());
  let r = await app.inject({ method: 'GET', url: '/v1/readers', remoteAddress: '10.0.0.9', headers: { 'x-onecard-token': TOKEN } });
  t.equal(r.statusCode, 403);
  t.match(r.json(), { error: { code: 'TERM_ERR_API_CLIENT' } });
  const listed = await buildLocalApi({ readers, token: TOKEN, allowedClients: ['10.0.0.9'] });
  t.teardown(() => listed.close());
  r = await listed.inject({ method: 'GET', url: '/v1/readers', remoteAddress: '::ffff:10.0.0.9', headers: { 'x-onecard-token': TOKEN } });
  t.equal(r.statusCode, 200, 'listed peer with the token');
  r = await listed.inject({ method: 'GET', url: '/v1/readers', remoteAddress: '10.0.0.9' });
  t.equal(r.statusCode, 401, 'listed peer still needs the token');
});

t.test('weak tokens are refused when the API is built', async (t) => {
  const readers = simAccess(createCardFromFile(cardFile('ssc-2.00.json')), createCardFromFile(cardFile('psam.json')));
  for (const token of ['change-me-to-a-long-random-token', 'short-token', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'abcdabcdabcdabcdabcdabcd', 'a long token with spaces in it 0123456789']) {
    t.ok(apiTokenProblem(token), token);
    await t.rejects(buildLocalApi({ readers, token }), { code: 'TERM_ERR_CONFIG', details: { field: 'api.token' } }, token);
  }
  t.equal(apiTokenProblem(TOKEN), undefined);
});

t.test('[issue 12 Low] an oversize body answers 413 with a coded error, malformed JSON 400', async (t) => {
  const { port } = await listen(t);
  const big = JSON.stringify({ code: 'A'.repeat(20 * 1024) });
  let r = await http(port, 'POST', '/v1/ecard/verify', { 'x-onecard-token': TOKEN }, big);
  t.equal(r.status, 413, r.body);
  t.match(r.json(), { error: { code: 'TERM_ERR_API_TOO_LARGE' } });
  r = await http(port, 'POST', '/v1/card/pin/verify', { 'x-onecard-token': TOKEN }, big);
  t.equal(r.status, 413);
  r = await http(port, 'POST', '/v1/card/read', { 'x-onecard-token': TOKEN }, '{"format":');
  t.equal(r.status, 400, r.body);
  t.match(r.json(), { error: { code: 'TERM_ERR_API_BAD_REQUEST' } });
  r = await http(port, 'POST', '/v1/card/read', { 'x-onecard-token': TOKEN, 'content-type': 'application/xml' }, '<x/>');
  t.equal(r.status, 415);
  t.match(r.json(), { error: { code: 'TERM_ERR_API_BAD_REQUEST' } });
  r = await http(port, 'POST', '/v1/card/read', { origin: ALLOWED }, big);
  t.equal(r.status, 401, 'without a credential the body is never read');
});

t.test('a route failure that is not a TerminalError stays 500 without details', async (t) => {
  const { port } = await listen(t, { services: { pinStatus: async () => { throw new Error('secret detail'); } } });
  const r = await http(port, 'GET', '/v1/card/pin', { 'x-onecard-token': TOKEN });
  t.equal(r.status, 500);
  t.notMatch(r.body, /secret detail/);
  t.ok(new TerminalError('TERM_ERR_API_TOO_LARGE').message);
});

t.test('the launcher helper gives a one-time URL; the page it opens holds no token', async (t) => {
  const { port, self } = await listen(t, {}, 'ssc-2.00.json');
  const url = await requestPageLaunchUrl({ apiUrl: self, token: TOKEN, page: 'kiosk' });
  t.match(url, new RegExp(`^${self}/session/start\\?code=[A-Za-z0-9_-]{43}$`));
  t.notMatch(url, new RegExp(TOKEN));
  const u = new URL(url);
  const s = await http(port, 'GET', `${u.pathname}${u.search}`, { 'sec-fetch-site': 'none' });
  t.equal(s.status, 303);
  t.equal((await http(port, 'GET', `${u.pathname}${u.search}`)).status, 401, 'single use');
  await t.rejects(requestPageLaunchUrl({ apiUrl: self, token: `${TOKEN}0`, page: 'kiosk' }), { code: 'TERM_ERR_API_TOKEN' });
  await t.rejects(requestPageLaunchUrl({ apiUrl: self, token: TOKEN, page: 'Kiosk/..' }), { code: 'TERM_ERR_INVALID_ARGUMENT' });
});
