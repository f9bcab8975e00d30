// The screens without a browser: every terminal error code has a plain zh and en message (never
// the raw code alone), and the local API serves a screen only when it is switched on, only to that
// page's session or the token, only files of the screen's folder, with a strict CSP.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { TERM_ERRORS } from '../../src/errors.ts';
import { buildLocalApi, type CardAccess } from '../../src/api/index.ts';
import { parseTerminalConfig } from '../../src/runtime/config.ts';
// @ts-expect-error plain JavaScript module of the screens (no types)
import { errorMessage, mask, maskName } from '../../web/shared/messages.js';

const msg = errorMessage as (code: string, lang: 'zh' | 'en', details?: Record<string, unknown>) => string;

t.test('every TERM_ERR code has a plain message in both languages', async (t) => {
  for (const code of Object.keys(TERM_ERRORS)) {
    for (const lang of ['zh', 'en'] as const) {
      const m = msg(code, lang, { triesLeft: 2 });
      t.ok(m.length > 5 && !m.includes('TERM_ERR') && !m.includes('{'), `${code} ${lang}`);
    }
  }
  t.match(msg('TERM_ERR_PIN_WRONG', 'zh', { triesLeft: 1 }), '还可以尝试 1 次');
  t.match(msg('TERM_ERR_PIN_WRONG', 'en', {}), /^Wrong PIN\.\s*$/, 'no placeholder when tries are unknown');
  t.match(msg('TERM_ERR_READER_PROBE', 'zh'), '读卡器', 'reader family');
  t.equal(mask('000000197001010000', 4, 4), '0000**********0000');
  t.equal(maskName('张三'), '张*');
});

const TOKEN = 'screens-test-token-0123456789abcdef';
const readers = { events: new EventEmitter(), status: () => [], withCard: async () => { throw new Error('no card in this test'); } } as unknown as CardAccess;
const H = { host: 'localhost' };

t.test('screens: switch, session per page, files, headers', async (t) => {
  const app = await buildLocalApi({ readers, token: TOKEN, screens: { pages: ['kiosk'] } });
  t.teardown(() => app.close());
  const launch = await app.inject({ method: 'POST', url: '/v1/session/launch', headers: { ...H, 'x-onecard-token': TOKEN }, payload: { page: 'kiosk' } });
  const start = await app.inject({ url: launch.json().path, headers: H });
  t.equal(start.statusCode, 303);
  const cookie = String(start.headers['set-cookie']).split(';')[0]!;
  const page = await app.inject({ url: '/kiosk/', headers: { ...H, cookie } });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-security-policy'], "default-src 'none'; script-src 'self'");
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.notMatch(page.body, TOKEN);
  t.equal((await app.inject({ url: '/kiosk/shared/messages.js', headers: { ...H, cookie } })).headers['content-type'], 'text/javascript; charset=utf-8');
  t.equal((await app.inject({ url: '/kiosk/', headers: H })).statusCode, 401, 'no credential, no page');
  t.equal((await app.inject({ url: '/desk/', headers: { ...H, 'x-onecard-token': TOKEN } })).statusCode, 404, 'desk switched off');
  for (const bad of ['/kiosk/..%2F..%2Fsrc%2Fapi%2Fapp.ts', '/kiosk/shared/..%2Fdesk%2Fdesk.js', '/kiosk/Index.HTML', '/kiosk/nothing.js']) {
    t.equal((await app.inject({ url: bad, headers: { ...H, cookie } })).statusCode, 404, bad);
  }
  const both = await buildLocalApi({ readers, token: TOKEN, screens: { pages: ['kiosk', 'desk'] } });
  t.teardown(() => both.close());
  const l2 = await both.inject({ method: 'POST', url: '/v1/session/launch', headers: { ...H, 'x-onecard-token': TOKEN }, payload: { page: 'kiosk' } });
  const c2 = String((await both.inject({ url: l2.json().path, headers: H })).headers['set-cookie']).split(';')[0]!;
  t.equal((await both.inject({ url: '/desk/', headers: { ...H, cookie: c2 } })).statusCode, 401, 'the kiosk session does not open the desk');
  t.equal((await both.inject({ url: '/desk/', headers: { ...H, 'x-onecard-token': TOKEN } })).statusCode, 200);
  t.equal((await both.inject({ method: 'POST', url: '/v1/card/loss-report', headers: { ...H, cookie: c2 }, payload: { pin: '123456' } })).statusCode, 501, 'loss report needs the fleet outbox');
});

t.test('config: screens switch', async (t) => {
  const base = { terminalId: 't1', readers: [{ id: 'r', link: 'serial', path: '/dev/x' }] };
  t.same(parseTerminalConfig(base).screens, { kiosk: false, desk: false }, 'both off by default');
  t.same(parseTerminalConfig({ ...base, screens: { kiosk: true } }).screens, { kiosk: true, desk: false });
  t.throws(() => parseTerminalConfig({ ...base, screens: { kiosk: 'yes' } }), { code: 'TERM_ERR_CONFIG', details: { field: 'screens.kiosk' } });
  t.throws(() => parseTerminalConfig({ ...base, screens: { atm: true } }), { code: 'TERM_ERR_CONFIG', details: { field: 'screens.atm' } });
});

t.test('loss report: queued only after the PIN verified on the card; the PIN reaches nothing else', async (t) => {
  const queued: string[] = [];
  const pins: string[] = [];
  const withCard = async <T>(fn: (s: { card: unknown; psam: unknown }) => Promise<T>): Promise<T> => fn({ card: {}, psam: {} });
  const cardReaders = { events: new EventEmitter(), status: () => [], withCard } as unknown as CardAccess;
  const { TerminalError } = await import('../../src/errors.ts');
  const app = await buildLocalApi({
    readers: cardReaders,
    token: TOKEN,
    services: {
      readBasicInfo: (async () => ({ cardNumber: 'X00000019' })) as never,
      verifyPin: (async ({ pin }: { pin: string }) => {
        pins.push(pin);
        if (pin !== '123456') throw new TerminalError('TERM_ERR_PIN_WRONG', undefined, { triesLeft: 2 });
      }) as never,
    },
    reportLoss: async ({ cardNumber }) => {
      queued.push(cardNumber);
      return { online: false };
    },
  });
  t.teardown(() => app.close());
  const post = (pin: string) => app.inject({ method: 'POST', url: '/v1/card/loss-report', headers: { ...H, 'x-onecard-token': TOKEN }, payload: { pin } });
  const wrong = await post('000000');
  t.equal(wrong.statusCode, 422);
  t.match(wrong.json(), { error: { code: 'TERM_ERR_PIN_WRONG', details: { triesLeft: 2 } } });
  t.same(queued, [], 'nothing queued on a wrong PIN');
  t.equal((await post('12')).statusCode, 400, 'malformed PIN refused before the card');
  const ok = await post('123456');
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { queued: true, online: false, cardNumber: '*****0019' }, 'masked card number, offline said so');
  t.same(queued, ['X00000019'], 'the card number, never the PIN, goes to the outbox');
  t.same(pins, ['000000', '123456'], 'the PIN went to the card check only');
});
