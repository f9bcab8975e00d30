// The library services over a real TCP SIP2 link against the simulated library system (its own
// SIP2 parser, an oracle apart from the codec): gate decisions with every refusal reason, borrow,
// renew and return, retransmission on a damaged answer and on silence, reconnect after a drop,
// coded failures, journal records masked, and the SIP2 password kept out of the log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Writable } from 'node:stream';
import { SimLibrary, startLibraryServer, type LibraryServer } from '@onecard/simulators';
import { LibraryService, type LibrarySettings } from '../../src/services/library.ts';
import { BarcodeScans } from '../../src/services/library-barcodes.ts';
import { createSerialLineDecoder } from '../../src/ecard/index.ts';
import { buildLocalApi, type CardAccess } from '../../src/api/index.ts';
import { TerminalError } from '../../src/errors.ts';

const T0 = Date.UTC(2026, 11, 7, 2, 0, 0);
const PASSWORD = 'sip2-secret-Pw9';

function seed(clock: () => number): SimLibrary {
  return new SimLibrary({
    patrons: [
      { cardNumber: 'X00000019', name: '张三', expires: '2030-12-31' },
      { cardNumber: 'X00000027', name: '李四', blocked: true },
      { cardNumber: 'D2143569X', name: '欧阳娜娜', finesFen: 2000 },
      { cardNumber: 'A00000004', name: '赵六', expires: '2026-01-01' },
      { cardNumber: 'A00000005', name: '钱七', lost: true },
    ],
    items: [{ barcode: '31000001', title: '红楼梦' }, { barcode: '31000002', title: '围城' }],
    rules: { maxRenewals: 1 },
  }, clock);
}

async function setup(t: { teardown(fn: () => unknown): void }, over: Partial<LibrarySettings> = {}, charset: 'utf-8' | 'gbk' = 'gbk') {
  let now = T0;
  const server: LibraryServer = await startLibraryServer({ library: seed(() => now), institutionId: 'LIB01', login: { user: 'sc01', password: PASSWORD }, charset });
  t.teardown(() => server.close());
  let log = '';
  const logger = pino({ level: 'debug' }, new Writable({ write(c, _e, cb) { log += String(c); cb(); } }));
  const records: { type: string; body: Record<string, unknown> }[] = [];
  const settings: LibrarySettings = {
    host: '127.0.0.1', port: server.port, institutionId: 'LIB01', user: 'sc01', password: PASSWORD, location: '一楼', charset,
    errorDetection: true, timeoutMs: 300, maxRetries: 2, gate: true, loanDesk: true, ...over,
  };
  let current: LibrarySettings | undefined = settings;
  const service = new LibraryService({ settings: () => current, logger, clock: () => now, journal: async (type, body) => void records.push({ type, body }) });
  t.teardown(() => service.close());
  return {
    server, service, records, logs: () => log,
    advance: (ms: number) => { now += ms; },
    set: (s: LibrarySettings | undefined) => { current = s; },
    settings,
  };
}

t.test('library gate: admitted, and refused as blocked, fines, expired registration, lost, unknown patron', async (t) => {
  const b = await setup(t);
  t.match(await b.service.gate('X00000019'), { admitted: true, cardNumber: 'X*******9', name: '张*' });
  t.match(await b.service.gate('X00000027'), { admitted: false, reason: 'blocked', message: /停用/ });
  t.match(await b.service.gate('D2143569X'), { admitted: false, reason: 'fines', fees: '20.00 CNY' });
  t.match(await b.service.gate('A00000004'), { admitted: false, reason: 'expired' });
  t.match(await b.service.gate('A00000005'), { admitted: false, reason: 'lost' });
  t.match(await b.service.gate('Z00000000'), { admitted: false, reason: 'unknown-patron' });
  t.same(b.server.received.slice(0, 4), ['93', '99', '23', '63'], 'login, status, then patron status and information');
  t.same(b.records.map((r) => [r.type, r.body['admitted'], r.body['reason'] ?? '-', r.body['cardNumber']]), [
    ['library.gate', true, '-', 'X*******9'], ['library.gate', false, 'blocked', 'X*******7'], ['library.gate', false, 'fines', 'D*******X'],
    ['library.gate', false, 'expired', 'A*******4'], ['library.gate', false, 'lost', 'A*******5'], ['library.gate', false, 'unknown-patron', 'Z*******0'],
  ]);
  t.notMatch(JSON.stringify(b.records), /张三|X00000019/, 'no name and no full card number in the journal');
  t.notMatch(b.logs(), PASSWORD, 'the SIP2 password never reaches the log');
  t.notMatch(b.logs(), 'X00000019', 'card number masked in the log');
});

t.test('loan desk: borrow, renew (then the renew limit), return; a blocked patron and a patron with fines are refused before the item', async (t) => {
  const b = await setup(t);
  const out = await b.service.loan('checkout', 'X00000019', '31000001');
  t.match(out, { op: 'checkout', ok: true, title: '红楼梦', dueDate: '2027-01-06' });
  b.advance(5 * 86_400_000);
  t.match(await b.service.loan('renew', 'X00000019', '31000001'), { ok: true, dueDate: '2027-02-05' });
  t.match(await b.service.loan('renew', 'X00000019', '31000001'), { ok: false, reason: 'item', message: /renewal limit/ });
  t.match(await b.service.checkin('31000001'), { op: 'checkin', ok: true, title: '红楼梦' });
  t.match(await b.service.checkin('31000001'), { ok: false, reason: 'item', message: /not on loan/ });
  const before = b.server.library.log.length;
  t.match(await b.service.loan('checkout', 'X00000027', '31000002'), { ok: false, reason: 'blocked' });
  t.match(await b.service.loan('checkout', 'D2143569X', '31000002'), { ok: false, reason: 'fines' });
  t.equal(b.server.library.log.length, before, 'no checkout reached the library for refused patrons');
  t.equal(b.server.library.loan('31000002'), undefined);
  t.same(b.records.map((r) => `${r.body['op']}:${r.body['ok']}`), ['checkout:true', 'renew:true', 'renew:false', 'checkin:true', 'checkin:false', 'checkout:false', 'checkout:false']);
});

t.test('[SIP2 2.00 §Request ACS Resend] a damaged answer is asked again with 97; silence is retransmitted; then the link is dropped and reopened', async (t) => {
  const b = await setup(t, {}, 'utf-8');
  await b.service.gate('X00000019');
  b.server.faults.corruptResponses = 1;
  t.match(await b.service.gate('X00000019'), { admitted: true });
  t.ok(b.server.received.includes('97'), 'the terminal sent 97');
  b.server.faults.dropRequests = 1;
  t.match(await b.service.gate('X00000019'), { admitted: true }, 'answered after a timeout retransmission');
  const conns = b.server.connections;
  b.server.dropConnections();
  // The patron check goes first and is safe to repeat, so the stale connection costs nothing.
  t.match(await b.service.loan('checkout', 'X00000019', '31000002'), { ok: true });
  t.equal(b.server.connections, conns + 1, 'reconnected and logged in again');
  b.server.faults.dropRequests = 10;
  await t.rejects(b.service.gate('X00000019'), { code: 'TERM_ERR_LIBRARY_UNAVAILABLE' }, 'no answer after every retry');
  b.server.faults.dropRequests = 0;
  t.match(await b.service.gate('X00000019'), { admitted: true }, 'the next request opens a fresh link');
});

t.test('coded failures: wrong login, unreachable library, switched off, not configured', async (t) => {
  const b = await setup(t, { password: 'wrong' });
  await t.rejects(b.service.gate('X00000019'), { code: 'TERM_ERR_LIBRARY_LOGIN' });
  b.set({ ...b.settings, port: 1 });
  await t.rejects(b.service.gate('X00000019'), { code: 'TERM_ERR_LIBRARY_UNAVAILABLE' });
  b.set({ ...b.settings, gate: false });
  await t.rejects(b.service.gate('X00000019'), { code: 'TERM_ERR_SERVICE_DISABLED' });
  b.set({ ...b.settings, loanDesk: false });
  await t.rejects(b.service.checkin('31000001'), { code: 'TERM_ERR_SERVICE_DISABLED' });
  b.set(undefined);
  await t.rejects(b.service.gate('X00000019'), { code: 'TERM_ERR_API_NOT_CONFIGURED' });
});

t.test('local API: gate refuses a hotlisted card without asking the library; checkout takes the barcode from the desk scanner', async (t) => {
  const b = await setup(t);
  const scanner = new EventEmitter() as EventEmitter & { close(): void };
  scanner.close = () => undefined;
  const barcodes = new BarcodeScans();
  barcodes.attach(scanner as never, createSerialLineDecoder());
  const withCard = async <T>(fn: (s: { card: unknown; psam: unknown }) => Promise<T>): Promise<T> => fn({ card: {}, psam: {} });
  const readers = { events: new EventEmitter(), status: () => [], withCard } as unknown as CardAccess;
  let card: string | 'hotlisted' = 'X00000019';
  const TOKEN = 'library-test-token-0123456789abcdef';
  const app = await buildLocalApi({
    readers, token: TOKEN,
    services: { readBasicInfo: (async () => { if (card === 'hotlisted') throw new TerminalError('TERM_ERR_CARD_HOTLISTED'); return { cardNumber: card }; }) as never },
    library: { service: b.service, barcodes, scanWaitMs: 5000 },
  });
  t.teardown(() => app.close());
  const H = { host: 'localhost', 'x-onecard-token': TOKEN };
  const post = (url: string, payload: Record<string, unknown> = {}) => app.inject({ method: 'POST', url, headers: H, payload });
  t.match((await post('/v1/library/gate')).json(), { admitted: true });
  const sent = b.server.received.length;
  card = 'hotlisted';
  t.match((await post('/v1/library/gate')).json(), { admitted: false, reason: 'hotlisted' });
  t.equal(b.server.received.length, sent, 'nothing asked of the library for a hotlisted card');
  card = 'X00000019';
  const pending = post('/v1/library/checkout');
  setTimeout(() => scanner.emit('data', Buffer.from('31000002\r\n')), 50);
  t.match((await pending).json(), { op: 'checkout', ok: true, barcode: '31000002', title: '围城' });
  t.match((await post('/v1/library/checkin', { barcode: '31000002' })).json(), { ok: true });
  t.equal((await post('/v1/library/checkin', { barcode: 'bad barcode|AZ' })).statusCode, 400, 'barcode with a separator refused by the schema');
  const none = await buildLocalApi({ readers, token: TOKEN });
  t.teardown(() => none.close());
  t.equal((await none.inject({ method: 'POST', url: '/v1/library/gate', headers: H, payload: {} })).statusCode, 501);
});
