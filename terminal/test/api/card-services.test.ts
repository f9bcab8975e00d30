// The kiosk's transit enquiry and the desk's issuer PIN services and loss cancellation, over the
// real local API on simulated cards and PSAM: refusals without a card, without a PSAM, with a
// wrong PIN, with an ID number that is not the holder's; no PIN or full ID number in any log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, t0Transmit, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, type CardAccess, type LocalApiOptions } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryHotlist, createMemoryJournal } from '../../src/services/index.ts';
import { TerminalError } from '../../src/errors.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'card-services-token-0123456789abcdef';
// Token holders name the member of staff for the staff-only services (docs/local-api.md "Staff gate").
const STAFF = `ocs_${'A'.repeat(43)}`;
const H = { 'x-onecard-token': TOKEN, 'x-onecard-staff': STAFF };
const checkStaff = async (c: string) => {
  if (c !== STAFF) throw new TerminalError('TERM_ERR_STAFF_REFUSED');
  return { staffId: 'E1001', name: 'Staff' };
};
const clock = { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) };

function simAccess(user: SimulatedCard | undefined, psam: SimulatedCard | undefined): CardAccess {
  const ch = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  return {
    events: new EventEmitter(),
    status: () => [],
    async withCard(fn) {
      if (user === undefined) throw new TerminalError('TERM_ERR_NO_CARD');
      return fn({ card: ch(user), psam: psam === undefined ? undefined : ch(psam) });
    },
  };
}

async function api(o: { card?: string | null; psam?: boolean } & Partial<LocalApiOptions> = {}) {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const { card = 'ssc-2.00-transit.json', psam = true, ...over } = o;
  const access = simAccess(card === null ? undefined : createCardFromFile(cardFile(card)), psam ? createCardFromFile(cardFile('psam.json')) : undefined);
  const app = await buildLocalApi({ readers: access, token: TOKEN, clock, logger, journal: createMemoryJournal(), checkStaff, ...over });
  t.teardown(() => app.close());
  return { app, logs };
}
const code = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;

t.test('transit: balance and the newest fares from the card, no PIN; refusals', async (t) => {
  const { app } = await api();
  let r = await app.inject({ url: '/v1/card/transit', headers: H });
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { balance: 1000, cardNumberMasked: '***************4321', expiryDate: '20310601', fares: [] });
  for (const amount of [150, 220]) t.equal((await app.inject({ method: 'POST', url: '/v1/card/purchase', headers: H, payload: { amount } })).statusCode, 200);
  r = await app.inject({ url: '/v1/card/transit', headers: H });
  const body = r.json() as { balance: number; fares: { amount: number; kind: string; dateTime: string; atc: number }[] };
  t.equal(body.balance, 630, 'balance after two fares');
  t.same(body.fares.map((f) => [f.amount, f.kind]), [[220, 'purchase'], [150, 'purchase']], 'newest first');
  t.match(body.fares[0]!.dateTime, /^\d{14}$/);
  r = await app.inject({ url: '/v1/card/transit?limit=1', headers: H });
  t.equal((r.json() as { fares: unknown[] }).fares.length, 1, 'limit');
  t.equal((await app.inject({ url: '/v1/card/transit?limit=99', headers: H })).statusCode, 400, 'limit over 10 refused');
  t.equal((await app.inject({ url: '/v1/card/transit' })).statusCode, 401, 'needs a credential');

  const none = (await api({ card: null })).app;
  r = await none.inject({ url: '/v1/card/transit', headers: H });
  t.equal(r.statusCode, 409);
  t.equal(code(r), 'TERM_ERR_NO_CARD');
  const plain = (await api({ card: 'ssc-2.00.json' })).app;
  r = await plain.inject({ url: '/v1/card/transit', headers: H });
  t.equal(code(r), 'TERM_ERR_WRONG_CARD_TYPE', 'a card without the transit application');
  const listed = (await api({ hotlist: createMemoryHotlist(1, ['3106399000000054321']) })).app;
  r = await listed.inject({ url: '/v1/card/transit', headers: H });
  t.equal(code(r), 'TERM_ERR_CARD_HOTLISTED');
});

t.test('PIN unblock and reload through the PSAM; refused without a PSAM or a card; no PIN logged', async (t) => {
  const { app, logs } = await api({ card: 'ssc-2.00.json' });
  const verify = (pin: string) => app.inject({ method: 'POST', url: '/v1/card/pin/verify', headers: H, payload: { pin } });
  for (let i = 0; i < 3; i++) await verify('905172');
  let r = await verify('123456');
  t.equal(code(r), 'TERM_ERR_PIN_LOCKED', 'locked after three wrong PINs');
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: H, payload: {} });
  t.equal(r.statusCode, 200, r.body);
  t.same((await app.inject({ url: '/v1/card/pin', headers: H })).json(), { set: true, locked: false, triesLeft: 3 }, 'tries reset');
  t.equal((await verify('123456')).statusCode, 200, 'old PIN kept by unblock');
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/reload', headers: H, payload: { newPin: '771346' } });
  t.equal(r.statusCode, 200, r.body);
  t.equal((await verify('771346')).statusCode, 200, 'new PIN set by reload');
  r = await verify('123456');
  t.equal(code(r), 'TERM_ERR_PIN_WRONG', 'old PIN no longer valid');
  r = await app.inject({ method: 'POST', url: '/v1/card/pin/reload', headers: H, payload: { newPin: '12' } });
  t.equal(r.statusCode, 400, 'bad new PIN refused by the schema');
  t.notMatch(logs.join(''), /771346|905172|123456/, 'no PIN in the log');

  const noPsam = (await api({ card: 'ssc-2.00.json', psam: false })).app;
  for (const [url, payload] of [['/v1/card/pin/unblock', {}], ['/v1/card/pin/reload', { newPin: '771346' }]] as const) {
    r = await noPsam.inject({ method: 'POST', url, headers: H, payload });
    t.equal(r.statusCode, 503, url);
    t.equal(code(r), 'TERM_ERR_NO_PSAM', `${url} without a PSAM`);
  }
  const none = (await api({ card: null })).app;
  t.equal(code(await none.inject({ method: 'POST', url: '/v1/card/pin/unblock', headers: H, payload: {} })), 'TERM_ERR_NO_CARD');
});

t.test('loss cancel: queued only when the typed ID matches the card; only the match travels', async (t) => {
  const queued: string[] = [];
  const cancelLoss = async ({ cardNumber }: { cardNumber: string }) => {
    queued.push(cardNumber);
    return { online: false };
  };
  // The card is on the terminal's hotlist: the cancellation must still read it.
  const { app, logs } = await api({ card: 'ssc-2.00.json', cancelLoss, hotlist: createMemoryHotlist(1, ['X00000019']) });
  const post = (idNumber: string) => app.inject({ method: 'POST', url: '/v1/card/loss-cancel', headers: H, payload: { idNumber } });
  let r = await post('000000197001010001');
  t.equal(r.statusCode, 422);
  t.equal(code(r), 'TERM_ERR_ID_MISMATCH');
  t.same(queued, [], 'nothing queued on a mismatch');
  t.equal((await post('0000001970010100')).statusCode, 422, 'a prefix is no match');
  r = await post('000000197001010000');
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { queued: true, online: false, cardNumber: '*****0019' });
  t.same(queued, ['X00000019']);
  t.notMatch(logs.join('') + r.body, /000000197001010000|197001010001/, 'no full ID number in the log or the answer');
  t.equal((await app.inject({ method: 'POST', url: '/v1/card/loss-cancel', headers: H, payload: {} })).statusCode, 400, 'ID number required');

  const noOutbox = (await api({ card: 'ssc-2.00.json' })).app;
  t.equal((await noOutbox.inject({ method: 'POST', url: '/v1/card/loss-cancel', headers: H, payload: { idNumber: '000000197001010000' } })).statusCode, 501);
  const none = (await api({ card: null, cancelLoss })).app;
  t.equal(code(await none.inject({ method: 'POST', url: '/v1/card/loss-cancel', headers: H, payload: { idNumber: '000000197001010000' } })), 'TERM_ERR_NO_CARD');
  const noPsam = (await api({ card: 'ssc-2.00.json', psam: false, cancelLoss })).app;
  t.equal(code(await noPsam.inject({ method: 'POST', url: '/v1/card/loss-cancel', headers: H, payload: { idNumber: '000000197001010000' } })), 'TERM_ERR_NO_PSAM', 'the card is authenticated before the ID is compared');
  t.equal(queued.length, 1);
});
