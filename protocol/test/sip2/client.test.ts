import t from 'tap';
import {
  decodeSip2, encodeSip2, initialSip2ClientState, stepSip2Client, loginRequest, patronStatusRequest,
  readPatron, readItemResult, checkoutRequest, formatPatronStatus,
  type Sip2ClientOptions, type Sip2ClientState, type Sip2ClientEffect,
} from '../../src/sip2/index.ts';

const OPTS: Sip2ClientOptions = { charset: 'gbk', errorDetection: true, timeoutMs: 1000, maxRetries: 2 };
const text = (b: Uint8Array): string => String.fromCharCode(...b);
const noCr = (b: Uint8Array): Uint8Array => b.subarray(0, b.length - 1);
const ctx = { institutionId: 'LIB', terminalPassword: '', date: '20261207    172000' };
const reply = (seq: number) => noCr(encodeSip2({ code: '94', fixed: { ok: '1' }, fields: [], seq }, OPTS));

function send(state: Sip2ClientState, now = 0): { state: Sip2ClientState; effects: readonly Sip2ClientEffect[] } {
  return stepSip2Client(state, { type: 'send', message: loginRequest({ user: 'sc', password: 'pw', location: '一楼' }), now }, OPTS);
}

t.test('[SIP2 2.00 §Error detection] requests are numbered 0–9 and wrap; the answer must echo the number', async (t) => {
  let state = initialSip2ClientState;
  for (let i = 0; i < 12; i++) {
    const s = send(state, i);
    const w = s.effects[0];
    t.equal(w?.type, 'write');
    const sent = decodeSip2((w as { bytes: Uint8Array }).bytes, OPTS);
    t.equal(sent.seq, i % 10);
    const r = stepSip2Client(s.state, { type: 'frame', frame: reply(i % 10), now: i }, OPTS);
    t.equal(r.effects[0]?.type, 'response');
    state = r.state;
  }
  t.equal(state.phase, 'idle');
});

t.test('a late answer with another sequence number is ignored; the right one completes', async (t) => {
  const s = send(initialSip2ClientState);
  const late = stepSip2Client(s.state, { type: 'frame', frame: reply(7), now: 1 }, OPTS);
  t.same(late.effects.map((e) => e.type), ['ignored']);
  t.equal(late.state.phase, 'awaiting');
  const ok = stepSip2Client(late.state, { type: 'frame', frame: reply(0), now: 2 }, OPTS);
  t.same(ok.effects.map((e) => e.type), ['response']);
});

t.test('[SIP2 2.00 §Request ACS Resend] a bad checksum is answered with 97, then the resent answer completes', async (t) => {
  const s = send(initialSip2ClientState);
  const damaged = reply(0);
  damaged[2] = 0x30; // ok 1 → 0, checksum now wrong
  const r1 = stepSip2Client(s.state, { type: 'frame', frame: damaged, now: 10 }, OPTS);
  t.equal(r1.effects.length, 1);
  t.same(r1.effects[0], { type: 'write', bytes: encodeSip2({ code: '97', fixed: {}, fields: [] }, OPTS), why: 'resend-request' });
  t.equal(text((r1.effects[0] as { bytes: Uint8Array }).bytes), '97AZFEF5\r');
  const r2 = stepSip2Client(r1.state, { type: 'frame', frame: reply(0), now: 20 }, OPTS);
  t.equal(r2.effects[0]?.type, 'response');
});

t.test('bad checksums past maxRetries fail the request with PROTO_ERR_SIP2_CHECKSUM', async (t) => {
  const s = send(initialSip2ClientState);
  const damaged = reply(0);
  damaged[damaged.length - 1]! ^= 1;
  let effects: readonly Sip2ClientEffect[] = [];
  for (let i = 0; i < 3; i++) ({ state: s.state, effects } = stepSip2Client(s.state, { type: 'frame', frame: damaged, now: i }, OPTS));
  t.same(effects.map((e) => e.type), ['failed']);
  t.match(effects[0], { error: { code: 'PROTO_ERR_SIP2_CHECKSUM' } });
  t.equal(s.state.phase, 'idle');
  // The next request goes out with the next sequence number.
  const next = send(s.state);
  t.equal(decodeSip2((next.effects[0] as { bytes: Uint8Array }).bytes, OPTS).seq, 1);
});

t.test('[SIP2 2.00 §Request SC Resend] 96 from the library system makes the client send the same request bytes again', async (t) => {
  const s = send(initialSip2ClientState);
  const first = (s.effects[0] as { bytes: Uint8Array }).bytes;
  const r = stepSip2Client(s.state, { type: 'frame', frame: noCr(encodeSip2({ code: '96', fixed: {}, fields: [] }, OPTS)), now: 5 }, OPTS);
  t.same(r.effects, [{ type: 'write', bytes: first, why: 'sc-resend' }]);
});

t.test('timeouts by the injected clock: retransmit the same bytes, then fail with PROTO_ERR_SIP2_TIMEOUT', async (t) => {
  const s = send(initialSip2ClientState, 100);
  const first = (s.effects[0] as { bytes: Uint8Array }).bytes;
  t.same(stepSip2Client(s.state, { type: 'tick', now: 1099 }, OPTS).effects, [], 'not yet');
  const r1 = stepSip2Client(s.state, { type: 'tick', now: 1100 }, OPTS);
  t.same(r1.effects, [{ type: 'write', bytes: first, why: 'timeout-retransmit' }]);
  const r2 = stepSip2Client(r1.state, { type: 'tick', now: 2100 }, OPTS);
  t.equal(r2.effects[0]?.type, 'write');
  const r3 = stepSip2Client(r2.state, { type: 'tick', now: 3100 }, OPTS);
  t.match(r3.effects, [{ type: 'failed', error: { code: 'PROTO_ERR_SIP2_TIMEOUT' } }]);
  t.equal(r3.state.phase, 'idle');
});

t.test('caller errors and link events: send while busy, an ACS message as request, wrong answer code, link closed', async (t) => {
  const s = send(initialSip2ClientState);
  t.throws(() => send(s.state), { code: 'PROTO_ERR_SIP2_STATE' });
  t.throws(() => stepSip2Client(initialSip2ClientState, { type: 'send', message: { code: '94', fixed: { ok: '1' }, fields: [] }, now: 0 }, OPTS), { code: 'PROTO_ERR_SIP2_STATE' });
  const wrong = noCr(encodeSip2({ code: '98', fixed: { onlineStatus: 'Y', checkinOk: 'Y', checkoutOk: 'Y', acsRenewalPolicy: 'Y', statusUpdateOk: 'N', offlineOk: 'N', timeoutPeriod: '030', retriesAllowed: '003', dateTimeSync: '20261207    172000', protocolVersion: '2.00' }, fields: [], seq: 0 }, OPTS));
  t.match(stepSip2Client(s.state, { type: 'frame', frame: wrong, now: 1 }, OPTS).effects, [{ type: 'failed', error: { code: 'PROTO_ERR_SIP2_RESPONSE' } }]);
  t.match(stepSip2Client(s.state, { type: 'closed', now: 1 }, OPTS).effects, [{ type: 'failed', error: { code: 'PROTO_ERR_SIP2_STATE' } }]);
  t.same(stepSip2Client(initialSip2ClientState, { type: 'frame', frame: reply(0), now: 1 }, OPTS).effects.map((e) => e.type), ['ignored']);
});

t.test('request builders and answer readers: patron id is the card number, GBK names, fines and status flags', async (t) => {
  const req = encodeSip2({ ...patronStatusRequest(ctx, 'A12345678'), seq: 3 }, OPTS);
  const back = decodeSip2(req, OPTS);
  t.same(back.fields, [['AO', 'LIB'], ['AA', 'A12345678'], ['AC', ''], ['AD', '']]);
  const resp = decodeSip2(encodeSip2({ code: '64', fixed: { patronStatus: formatPatronStatus({ chargePrivilegesDenied: true, excessiveOutstandingFines: true }), language: '000', transactionDate: ctx.date, holdItemsCount: '0000', overdueItemsCount: '0001', chargedItemsCount: '0002', fineItemsCount: '0001', recallItemsCount: '0000', unavailableHoldsCount: '0000' }, fields: [['AO', 'LIB'], ['AA', 'A12345678'], ['AE', '张三'], ['BL', 'Y'], ['BV', '35.00'], ['BH', 'CNY'], ['PA', '20301231'], ['AF', '欠款 35.00 元']], seq: 3 }, OPTS), OPTS);
  const p = readPatron(resp);
  t.equal(p.name, '张三');
  t.equal(p.valid, true);
  t.equal(p.feeAmount, '35.00');
  t.equal(p.status.excessiveOutstandingFines, true);
  t.equal(p.status.cardReportedLost, false);
  t.equal(p.chargedItems, 2);
  t.equal(p.expires, '20301231');
  t.same(p.screenMessages, ['欠款 35.00 元']);
  const co = decodeSip2(encodeSip2({ ...checkoutRequest(ctx, 'A12345678', '31000001'), seq: 4 }, OPTS), OPTS);
  t.equal(co.code, '11');
  const res = readItemResult(decodeSip2(encodeSip2({ code: '12', fixed: { ok: '1', renewalOk: 'N', magneticMedia: 'N', desensitize: 'Y', transactionDate: ctx.date }, fields: [['AB', '31000001'], ['AJ', '围城'], ['AH', '20270107    235959']], seq: 4 }, OPTS), OPTS));
  t.same(res, { ok: true, item: '31000001', title: '围城', dueDate: '20270107    235959', feeAmount: undefined, screenMessages: [] });
});
