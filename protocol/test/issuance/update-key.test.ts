import t from 'tap';
import { concat, fromHex, toHex } from '../../src/bytes.ts';
import * as iss from '../../src/issuance/index.ts';
import { apduHex } from '../ssc/fixtures/helpers.ts';

// [issuance §5.4] synthetic vectors
const ROOT = fromHex('404142434445464748494A4B4C4D4E4F');
const D2 = fromHex('3633393930307378');
const D3 = fromHex('8601639900BF7C7A');
const C = fromHex('0102030405060708');

t.test('[issuance §5.4] DES/3DES vector: city key, card key, KS, A', async (t) => {
  const v = iss.updateKeyAuthOffline('des', ROOT, D2, D3, C);
  t.equal(toHex(v.cityKey.key), 'DCBAB23683DF934BDA2AE685C5C31998');
  t.equal(toHex(v.cardKey.key), 'FAD70B340FFB9FD71CBD96A7CB9C03F2');
  t.equal(toHex(v.sessionKey.key), '8123E13E3C9CEBFC');
  t.equal(toHex(v.authData), '427EE9C152287A4C');
});

t.test('[issuance §5.4] SM4 vector: city key, card key, KS, A', async (t) => {
  const v = iss.updateKeyAuthOffline('sm4', ROOT, D2, D3, C);
  t.equal(toHex(v.cityKey.key), '3DFBC4996128C290AD279EAED393E33A');
  t.equal(toHex(v.cardKey.key), '13B3663B6C3ECF5DEF3F1310AC27E97F');
  t.equal(toHex(v.sessionKey.key), '050B2C7DC4F51FF8D3ADEDD4E71F7067');
  t.equal(toHex(v.authData), '6CEA9798311A0E13');
});

t.test('[issuance §3, §5.1] factors from the ATR historical bytes and the card ID', async (t) => {
  const hist = fromHex('0000000000' + '8601639900BF7C7A');
  const cardId = fromHex('639900D15600000500BF7C7A12345678');
  const f = iss.updateKeyFactors(hist, cardId);
  t.equal(toHex(f.cardFactor), toHex(D3));
  t.equal(toHex(f.cityFactor), toHex(D2), 'ASCII "639900" ‖ "sx"');
  t.throws(() => iss.updateKeyFactors(hist.subarray(0, 12), cardId), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateKeyFactors(hist, cardId.subarray(0, 15)), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateKeyAuthOffline('des', ROOT, D2.subarray(1), D3, C), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateKeyAuthOffline('sm4', ROOT.subarray(1), D2, D3, C), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
});

type Resp = { data: Uint8Array; sw: number };
const ok = (hex = ''): Resp => ({ data: fromHex(hex), sw: 0x9000 });

/** Runs the machine against scripted responses; returns the sent APDUs as `to:hex`. */
function run(p: iss.UpdateKeyParams, responses: Resp[]): { sent: string[]; end: iss.UpdateKeyEffect } {
  let { state, effect } = iss.startUpdateKeyAuth(p);
  const sent: string[] = [];
  for (const r of responses) {
    if (effect.kind !== 'send') break;
    sent.push(`${effect.to}:${apduHex(effect.apdu)}`);
    ({ state, effect } = iss.stepUpdateKeyAuth(p, state, r));
  }
  return { sent, end: effect };
}

t.test('[issuance §5.1] DES sequence: exact APDUs with T=0 GET RESPONSE', async (t) => {
  const p: iss.UpdateKeyParams = { family: 'des', key: iss.UPDATE_KEYS.UKSSSE, cardFactor: D3, cityFactor: D2 };
  const { sent, end } = run(p, [ok(toHex(C)), ok(), ok(), { data: new Uint8Array(0), sw: 0x6108 }, ok('427EE9C152287A4C'), ok()]);
  t.same(sent, [
    'card:0084000008',
    'psam:00A4040006D15600000590',
    'psam:BFDE4812188601639900BF7C7A36333939303073780102030405060708',
    'psam:80FA0000080102030405060708' + '00',
    'psam:00C0000008',
    'card:0082000410427EE9C152287A4C0102030405060708',
  ]);
  t.same(end, { kind: 'done' });
});

t.test('[issuance §5.2] SM4 sequence: sx3 environment, 16-byte factor, L ⊕ R, key version 01', async (t) => {
  const p: iss.UpdateKeyParams = { family: 'sm4', key: iss.UPDATE_KEYS.UKSSSE, cardFactor: D3, cityFactor: D2 };
  const o = fromHex('0102030405060708F0F0F0F0F0F0F0F0');
  const { sent, end } = run(p, [ok(toHex(C)), { data: new Uint8Array(0), sw: 0x610a }, ok(), ok(), ok(toHex(o)), ok()]);
  t.same(sent, [
    'card:0084000008',
    'psam:00A404000F7378332E73682EC9E7BBE1B1A3D5CF',
    'psam:00A4000002DF01',
    'psam:BFDE481220' + toHex(D3) + toHex(D2) + toHex(C) + '0000000000000000',
    'psam:80FA000010' + toHex(C) + '0000000000000000' + '00',
    'card:0082000411' + 'F1F2F3F4F5F6F7F8' + toHex(C) + '01',
  ]);
  t.same(end, { kind: 'done' });
  const v10 = run({ ...p, keyVersion: null, key: iss.UPDATE_KEYS.UK1SSSE, selectPsamEnvironment: false }, [ok(toHex(C)), ok(), ok(toHex(o))]);
  t.equal(v10.sent[1]!.slice(0, 15), 'psam:BFDE481320', 'UK1SSSE PSAM key 13, no select');
  t.equal(v10.sent[3], undefined);
  t.same(iss.stepUpdateKeyAuth({ ...p, keyVersion: null }, { step: 'psamCipher', challenge: C }, ok(toHex(o))).effect, {
    kind: 'send', to: 'card', apdu: { cla: 0, ins: 0x82, p1: 0, p2: 4, data: concat(fromHex('F1F2F3F4F5F6F7F8'), C) },
  }, 'Lc 10 when the version is forced off');
});

t.test('status words end the sequence as data; bad lengths and late steps are coded errors', async (t) => {
  const p: iss.UpdateKeyParams = { family: 'des', key: iss.UPDATE_KEYS.UKSSSE, cardFactor: D3, cityFactor: D2 };
  t.same(run(p, [ok(toHex(C)), ok(), ok(), ok('427EE9C152287A4C'), { data: new Uint8Array(0), sw: 0x63c2 }]).end, { kind: 'failed', at: 'authenticate', sw: 0x63c2 });
  t.same(run(p, [ok(toHex(C)), ok(), { data: new Uint8Array(0), sw: 0x6a88 }]).end, { kind: 'failed', at: 'psamDeliver', sw: 0x6a88 });
  t.same(run(p, [{ data: new Uint8Array(0), sw: 0x6a81 }]).end, { kind: 'failed', at: 'challenge', sw: 0x6a81 });
  t.throws(() => iss.stepUpdateKeyAuth(p, { step: 'challenge' }, ok('0102')), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
  t.throws(() => iss.stepUpdateKeyAuth(p, { step: 'psamCipher', challenge: C }, ok('0102030405060708090A0B0C0D0E0F10')), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
  t.throws(() => iss.stepUpdateKeyAuth(p, { step: 'done' }, ok()), { code: 'PROTO_ERR_ISSUANCE_SEQUENCE' });
  t.throws(() => iss.startUpdateKeyAuth({ ...p, cardFactor: new Uint8Array(7) }), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.startUpdateKeyAuth({ ...p, family: 'aes' as 'des' }), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.startUpdateKeyAuth({ ...p, keyVersion: 256 }), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
});
