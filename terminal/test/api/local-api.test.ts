import t from 'tap';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import WebSocket from 'ws';
import { createCardFromFile, t0Transmit, issueEcardCode, ecardIssuerPublicKey, TEST_ECARD_ISSUER_PRIVATE_KEY, type SimulatedCard } from '@onecard/simulators';
import { fromHex } from '@onecard/protocol/bytes';
import { buildLocalApi, type CardAccess, type EcardScanResult, type LocalApiOptions } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryJournal, createMemoryHotlist } from '../../src/services/index.ts';
import { createEcardVerifier } from '../../src/ecard/index.ts';
import { TerminalError } from '../../src/errors.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'test-token-0123456789abcdef';
const H = { 'x-onecard-token': TOKEN };
const clock = { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) };

/** CardAccess over simulated cards: each session powers the card up through a memory channel. */
function simAccess(user: SimulatedCard | undefined, psam: SimulatedCard | undefined): CardAccess & { insert(c: SimulatedCard | undefined): void } {
  const events = new EventEmitter();
  let card = user;
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events,
    insert(c) {
      card = c;
      if (c === undefined) events.emit('card-removed', { readerId: 'r1', slot: 0 });
      else events.emit('card-inserted', { readerId: 'r1', slot: 0, atr: c.atr });
    },
    status: () => [{ readerId: 'r1', link: 'serial', path: '/dev/ttyX', status: 'ok', slots: [{ slot: 0, role: 'user', present: card !== undefined }] }],
    async withCard(fn) {
      if (card === undefined) throw new TerminalError('TERM_ERR_NO_CARD');
      return fn({ card: ch(card), psam: psam === undefined ? undefined : ch(psam) });
    },
  };
}

async function api(over: Partial<LocalApiOptions> = {}, card = 'ssc-2.00.json') {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const access = simAccess(createCardFromFile(cardFile(card)), createCardFromFile(cardFile('psam.json')));
  const app = await buildLocalApi({ readers: access, token: TOKEN, clock, logger, journal: createMemoryJournal(), allowedOrigins: ['http://localhost:8080'], ...over });
  return { app, access, logs };
}

t.test('read card: JSON and iReadCardBas, Chinese name and SSN', async (t) => {
  const { app, logs } = await api();
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: {} });
  t.equal(r.statusCode, 200, r.body);
  const info = r.json() as Record<string, string>;
  t.equal(info['name'], '张三');
  t.equal(info['ssn'], '000000197001010000');
  t.equal(info['cardNumber'], 'X00000019');
  t.match(info['readCardBas'], /^639900\|/);
  const b = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: { format: 'ireadcardbas' } });
  t.same(b.json(), { code: 0, readCardBas: info['readCardBas'] });
  t.notMatch(logs.join(''), /000000197001010000/, 'full SSN never logged');
});

t.test('access rule: Host, Origin, token', async (t) => {
  const { app } = await api();
  t.teardown(() => app.close());
  const code = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;
  let r = await app.inject({ method: 'GET', url: '/v1/readers' });
  t.equal(r.statusCode, 401);
  t.equal(code(r), 'TERM_ERR_API_TOKEN');
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { 'x-onecard-token': 'wrong' } });
  t.equal(r.statusCode, 401);
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(r.statusCode, 200);
  t.equal((r.json() as { readers: unknown[] }).readers.length, 1);
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { ...H, host: 'evil.example:8080' } });
  t.equal(r.statusCode, 403);
  t.equal(code(r), 'TERM_ERR_API_HOST', 'DNS rebinding refused even with the token');
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { origin: 'http://localhost:8080' } });
  t.equal(r.statusCode, 401, 'an allowed browser origin is no credential');
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { ...H, origin: 'http://localhost:8080' } });
  t.equal(r.statusCode, 200, 'allowed browser origin with the token');
  t.equal(r.headers['access-control-allow-origin'], 'http://localhost:8080');
  r = await app.inject({ method: 'GET', url: '/v1/readers', headers: { ...H, origin: 'https://evil.example' } });
  t.equal(r.statusCode, 403);
  t.equal(code(r), 'TERM_ERR_API_ORIGIN');
  r = await app.inject({ method: 'OPTIONS', url: '/v1/card/read', headers: { origin: 'http://localhost:8080' } });
  t.equal(r.statusCode, 204);
  r = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(r.statusCode, 200, 'OpenAPI without token');
  const doc = r.json() as { openapi: string; paths: Record<string, unknown> };
  t.match(doc.openapi, /^3\./);
  t.ok(['/v1/card/read', '/v1/card/pin/verify', '/v1/card/pin/change', '/v1/card/purchase', '/v1/ecard/verify', '/v1/ecard/scan', '/v1/readers'].every((p) => p in doc.paths));
  const noToken = await buildLocalApi({ readers: simAccess(undefined, undefined) });
  t.teardown(() => noToken.close());
  t.equal((await noToken.inject({ method: 'GET', url: '/v1/readers', headers: { 'x-onecard-token': '' } })).statusCode, 401, 'no configured token: non-browser clients refused');
});

t.test('PIN verify and change; errors carry the national code; PINs never logged', async (t) => {
  const { app, logs } = await api();
  t.teardown(() => app.close());
  let r = await app.inject({ method: 'POST', url: '/v1/card/pin/verify', headers: H, payload: { pin: '999999' } });
  t.equal(r.statusCode, 422);
  t.match(r.json(), { error: { code: 'TERM_ERR_PIN_WRONG', national: -51, details: { triesLeft: 2 } } });
  r = await app.inject({ method: 'GET', url: '/v1/card/pin', headers: H });
  t.match(r.json(), { set: true, locked: false, triesLeft: 2 });
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/verify', headers: H, payload: { pin: '123456' } });
  t.same(r.json(), { ok: true });
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/change', headers: H, payload: { oldPin: '123456', newPin: '583719' } });
  t.same(r.json(), { ok: true });
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/verify', headers: H, payload: { pin: '583719' } });
  t.equal(r.statusCode, 200);
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/verify', headers: H, payload: { pin: '12' } });
  t.equal(r.statusCode, 400);
  t.match(r.json(), { error: { code: 'TERM_ERR_API_BAD_REQUEST' } });
  t.notMatch(logs.join(''), /"(583719|123456|999999)"|oldPin|newPin/, 'request bodies (PINs) are not logged');
});

t.test('no card, purchase, not configured', async (t) => {
  const { app, access } = await api({}, 'ssc-2.00-transit.json');
  t.teardown(() => app.close());
  let r = await app.inject({ method: 'POST', url: '/v1/card/purchase', headers: H, payload: { amount: 150 } });
  t.equal(r.statusCode, 200, r.body);
  const p = r.json() as { kind: string; balanceAfter: number; record: { tac?: string } };
  t.equal(p.kind, 'completed');
  t.type(p.balanceAfter, 'number');
  r = await app.inject({ method: 'POST', url: '/v1/card/purchase', headers: H, payload: { amount: 0 } });
  t.equal(r.statusCode, 400);
  access.insert(undefined);
  r = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: {} });
  t.equal(r.statusCode, 409);
  t.match(r.json(), { error: { code: 'TERM_ERR_NO_CARD', national: -2 } });
  const bare = await buildLocalApi({ readers: access, token: TOKEN });
  t.teardown(() => bare.close());
  r = await bare.inject({ method: 'POST', url: '/v1/card/purchase', headers: H, payload: { amount: 1 } });
  t.equal(r.statusCode, 501);
  r = await bare.inject({ method: 'POST', url: '/v1/ecard/verify', headers: H, payload: { code: 'OC1:AA' } });
  t.match(r.json(), { error: { code: 'TERM_ERR_API_NOT_CONFIGURED' } });
  r = await bare.inject({ method: 'GET', url: '/nope', headers: H });
  t.equal(r.statusCode, 404);
});

t.test('hotlisted card refused', async (t) => {
  const { app } = await api({ hotlist: createMemoryHotlist(3, ['X00000019']) });
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/v1/card/read', headers: H, payload: {} });
  t.equal(r.statusCode, 422);
  t.match(r.json(), { error: { code: 'TERM_ERR_CARD_HOTLISTED' } });
});

t.test('e-card: verify, scan wait, timeout, events over WebSocket', async (t) => {
  const now = Date.now();
  const ecard = createEcardVerifier({ keys: [{ publicKey: fromHex(ecardIssuerPublicKey(TEST_ECARD_ISSUER_PRIVATE_KEY)) }], clock: () => now });
  const scans = new EventEmitter();
  const { app, access } = await api({ ecard, scans, maxScanWaitMs: 50 });
  t.teardown(() => app.close());
  const { code } = issueEcardCode({ holderRef: '0A0B', ssn: '110101199003071234', name: '张三', region: '110100' }, { key: TEST_ECARD_ISSUER_PRIVATE_KEY, clock: () => now });
  let r = await app.inject({ method: 'POST', url: '/v1/ecard/verify', headers: H, payload: { code } });
  t.match(r.json(), { holderRef: '0A0B', maskedName: '张*' });
  r = await app.inject({ method: 'POST', url: '/v1/ecard/verify', headers: H, payload: { code } });
  t.match(r.json(), { error: { code: 'TERM_ERR_ECARD_REPLAYED' } });
  r = await app.inject({ method: 'GET', url: '/v1/ecard/scan', headers: H });
  t.equal(r.statusCode, 408, 'no scan within the wait');
  const waiting = app.inject({ method: 'GET', url: '/v1/ecard/scan?timeoutMs=5000', headers: H });
  await new Promise((res) => setTimeout(res, 20));
  const scanned: EcardScanResult = { ok: true, identity: { holderRef: '01', maskedId: '', maskedName: '', region: '110100', purpose: 'enquiry', issuedAt: '', expiresAt: '', keyId: '00000000', online: 'skipped' } };
  scans.emit('scan', scanned);
  t.match((await waiting).json(), { holderRef: '01' });

  const msgs: Record<string, unknown>[] = [];
  let wake = (): void => undefined;
  const onMessage = (m: Buffer): void => {
    msgs.push(JSON.parse(String(m)) as Record<string, unknown>);
    wake();
  };
  const until = (n: number): Promise<void> => new Promise<void>((resolve) => {
    wake = () => void (msgs.length >= n && resolve());
    wake();
  });
  // Over a real loopback socket: the peer address is part of the access rule.
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const open = (headers: Record<string, string>): Promise<WebSocket> => new Promise((resolve, reject) => {
    const w = new WebSocket(`ws://127.0.0.1:${port}/v1/events`, { headers });
    w.on('message', onMessage);
    w.once('open', () => resolve(w));
    w.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    w.once('error', reject);
  });
  const ws = await open({ ...H, host: 'localhost' });
  await until(1);
  access.insert(undefined);
  access.insert(createCardFromFile(cardFile('ssc-2.00.json')));
  scans.emit('scan', { ok: false, error: { code: 'TERM_ERR_ECARD_EXPIRED', message: 'x' } });
  await until(4);
  ws.terminate();
  t.same(msgs.map((m) => m['type']), ['hello', 'card-removed', 'card-inserted', 'ecard']);
  t.match(msgs[2], { readerId: 'r1', slot: 0, atr: /^3B/ });
  t.match(msgs[3], { ok: false, error: { code: 'TERM_ERR_ECARD_EXPIRED' } });
  await t.rejects(open({ host: 'localhost' }), /HTTP 401/, 'WebSocket without token refused');
});
