import t from 'tap';
import { fromHex, toHex, concat } from '@onecard/protocol/bytes';
import { encodeCommandApdu } from '@onecard/protocol/iso7816';
import * as iss from '@onecard/protocol/issuance';
import { selectByName, readRecordByTag, getChallenge, externalAuthenticate, SSSE_DF_NAME } from '@onecard/protocol/ssc';
import { deliverySessionKey, cipherData, macFromCipher, authDataFromCipher, PSAM_ADF_AID } from '@onecard/protocol/psam';
import { BlankCard, type BlankCardProfile, type BlankCardRoots } from '../../src/issuance/blank-card.ts';
import { ISSUANCE_PSAM_KEYS, createIssuancePsam } from '../../src/issuance/psam.ts';
import type { SimulatedCard } from '../../src/card/types.ts';

const roots: BlankCardRoots = {
  irk: fromHex('544553542D49524B2D49535355452D31'),
  stk: fromHex('544553542D53544B2D49535355452D31'),
  ukssse: fromHex('544553542D554B2D2D49535355452D31'),
  bk: fromHex('544553542D424B2D2D49535355452D31'),
  puk: fromHex('544553542D50554B2D49535355452D31'),
  rkssse: fromHex('544553542D524B2D2D49535355452D31'),
};
const profile = (version: '2.00' | '3.00'): BlankCardProfile => ({ version, protocol: 0, seed: 5, region: '639900', cardSerial: fromHex('00BF7C7A'), cardAuthCode: fromHex('12345678'), cardType: '3', initOrg: '639900000001', roots });

type R = { data: Uint8Array; sw: number };
function tx(c: SimulatedCard, apdu: Parameters<typeof encodeCommandApdu>[0]): R {
  const r = c.transmit(encodeCommandApdu(apdu));
  return { data: r.slice(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

function authUpdateKey(card: BlankCard, psam: SimulatedCard, family: 'des' | 'sm4'): iss.UpdateKeyEffect {
  const f = iss.updateKeyFactors(card.historicalBytes, card.cardId);
  const p: iss.UpdateKeyParams = { family, key: iss.UPDATE_KEYS.UKSSSE, cardFactor: f.cardFactor, cityFactor: f.cityFactor };
  let { state, effect } = iss.startUpdateKeyAuth(p);
  while (effect.kind === 'send') ({ state, effect } = iss.stepUpdateKeyAuth(p, state, tx(effect.to === 'card' ? card : psam, effect.apdu)));
  return effect;
}

const holder = { issueDate: '20261207', expiryDate: '20361207', cardNumber: 'A12345678', ssn: '11010519491231002X', name: '张三', sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231' };

for (const [version, family] of [['2.00', 'des'], ['3.00', 'sm4']] as const) {
  t.test(`[issuance §5.${family === 'des' ? 1 : 2}, §11 item 7] ${version} blank card: fill values, write only after UKSSSE, read back`, async (t) => {
    const card = new BlankCard(profile(version));
    const psam = createIssuancePsam({ roots, region: '639900' });
    card.reset();
    psam.reset();
    t.equal(tx(card, selectByName(SSSE_DF_NAME)).sw, 0x9000);
    const ef05 = card.records('EF05');
    t.equal(toHex(ef05[0]!), '0110' + toHex(card.cardId));
    t.equal(toHex(ef05[3]!), '040C639900000001FFFFFFFFFFFF', '[V2 table 10] initialising organisation, cn 12 bytes');
    t.equal(toHex(ef05[4]!), '0504FFFFFFFF', 'issue date fill');
    t.equal(toHex(card.records('EF06')[1]!), '091E' + '00'.repeat(30), 'name fill');
    const writes = iss.recordWrites(holder);
    t.equal(tx(card, writes[0]!.apdu).sw, 0x6982, '[V2 table 3] no UKSSSE, no write');
    t.same(authUpdateKey(card, psam, family), { kind: 'done' });
    for (const w of writes) t.equal(tx(card, w.apdu).sw, 0x9000, `write ${w.tag.toString(16)}`);
    t.equal(card.writeCount, writes.length);
    if (family === 'sm4') {
      t.equal(tx(card, readRecordByTag(0x08, { sfi: 6 })).sw, 0x6982, '[ssc-card §6] EF06 read needs RKSSSE on 3.0');
    }
    // read back: EF05 is free; EF06 on 3.0 after RKSSSE, done here offline with the PSAM
    if (family === 'sm4') {
      const c = tx(card, getChallenge(8)).data;
      const f = iss.updateKeyFactors(card.historicalBytes, card.cardId);
      tx(psam, selectByName(iss.PSAM_DF_NAME_SM4));
      t.equal(tx(psam, deliverySessionKey({ usage: ISSUANCE_PSAM_KEYS.RKSSSE.usage, keyId: ISSUANCE_PSAM_KEYS.RKSSSE.id, factors: [f.cardFactor, f.cityFactor], sessionFactor: concat(c, new Uint8Array(8)) })).sw, 0x9000);
      const o = tx(psam, cipherData('encryptLast', concat(c, new Uint8Array(8)), 16)).data;
      t.equal(tx(card, externalAuthenticate(0x0a, authDataFromCipher(o), c, 1)).sw, 0x9000);
    }
    let read: Uint8Array = new Uint8Array(0);
    for (const w of writes) {
      const r = tx(card, readRecordByTag(w.tag, { sfi: w.file === 'EF05' ? 5 : 6 }));
      t.equal(r.sw, 0x9000);
      read = concat(read, r.data);
    }
    t.same(iss.compareReadBack(writes, read), [], 'read back equals what was written');
    // a power cut keeps the records but ends the authentication
    card.reset();
    tx(card, selectByName(SSSE_DF_NAME));
    t.equal(tx(card, writes[0]!.apdu).sw, 0x6982, 'reset ends the UKSSSE state');
    t.equal(toHex(card.records('EF05')[4]!), '050420261207', 'written records persist');
  });
}

t.test('[P5 §6.13 table 44] addressing: by number, current EF, append, bad TLV, reserved P2, SELECT ends the state', async (t) => {
  const card = new BlankCard(profile('2.00'));
  const psam = createIssuancePsam({ roots, region: '639900' });
  card.reset();
  psam.reset();
  tx(card, selectByName(SSSE_DF_NAME));
  t.same(authUpdateKey(card, psam, 'des'), { kind: 'done' });
  t.equal(tx(card, { cla: 0, ins: 0xa4, p1: 0, p2: 0, data: fromHex('EF06') }).sw, 0x9000);
  t.equal(tx(card, iss.updateRecord({ by: 'number', record: 1 }, fromHex('0812' + '31'.repeat(18)))).sw, 0x9000, 'by number on the current EF');
  t.equal(toHex(card.records('EF06')[0]!), '0812' + '31'.repeat(18));
  t.equal(tx(card, iss.updateRecord({ by: 'tag', tag: 0x20, sfi: 6 }, fromHex('200101'))).sw, 0x9000, 'missing identifier appends');
  t.equal(card.records('EF06').length, 8);
  t.equal(tx(card, { cla: 0, ins: 0xdc, p1: 1, p2: 0x34, data: fromHex('080300') }).sw, 0x6a85, 'Lc does not match the TLV');
  t.equal(tx(card, { cla: 0, ins: 0xdc, p1: 9, p2: 0x30, data: fromHex('080100') }).sw, 0x6a80, 'tag differs from P1');
  t.equal(tx(card, { cla: 0, ins: 0xdc, p1: 1, p2: 0x35, data: fromHex('080100') }).sw, 0x6a86, 'reserved mode');
  t.equal(tx(card, { cla: 0, ins: 0xdc, p1: 20, p2: 0x2c, data: fromHex('080100') }).sw, 0x6a83, 'record number beyond the end');
  t.equal(tx(card, { cla: 4, ins: 0xdc, p1: 1, p2: 0x2c, data: fromHex('080100') }).sw, 0x6882, 'no secure messaging on SSSE files');
  t.equal(tx(card, iss.updateBinary(0, fromHex('FFD8FFE0'), 8)).sw, 0x9000, 'photo EF08 under UKSSSE');
  t.equal(tx(card, iss.updateBinary(0x0ffe, fromHex('FFD8FFE0'))).sw, 0x6b00, 'past the end of the current EF08');
  t.equal(tx(card, iss.updateBinary(0x0ffc, fromHex('FFD9'))).sw, 0x9000, 'current EF is EF08 after the SFI write');
  t.equal(tx(card, { cla: 0, ins: 0xa4, p1: 0, p2: 0, data: fromHex('3F00') }).sw, 0x9000);
  t.equal(tx(card, iss.updateRecord({ by: 'tag', tag: 5, sfi: 5 }, fromHex('050420261207'))).sw, 0x6985, 'outside the SSSE');
  tx(card, selectByName(SSSE_DF_NAME));
  t.equal(tx(card, iss.updateRecord({ by: 'tag', tag: 5, sfi: 5 }, fromHex('050420261207'))).sw, 0x6982, 'reselecting the SSSE ended the state');
});

t.test('[P5 §6.1; P7 §13.2; issuance §3 INFER] APPLICATION BLOCK with BK and an STK MAC is permanent', async (t) => {
  for (const [version, family] of [['2.00', 'des'], ['3.00', 'sm4']] as const) {
    const card = new BlankCard(profile(version));
    const psam = createIssuancePsam({ roots, region: '639900' });
    card.reset();
    psam.reset();
    tx(card, selectByName(SSSE_DF_NAME));
    const f = iss.updateKeyFactors(card.historicalBytes, card.cardId);
    const bs = family === 'sm4' ? 16 : 8;
    const pad = (c: Uint8Array): Uint8Array => (family === 'sm4' ? concat(c, new Uint8Array(8)) : c);
    t.equal(tx(card, iss.updateRecord({ by: 'tag', tag: 5, sfi: 5 }, fromHex('050420261207'))).sw, 0x6982);
    t.equal(tx(card, { cla: 0x84, ins: 0x1e, p1: 0, p2: 1, data: fromHex('00000000') }).sw, 0x6982, 'no BK authentication');
    tx(psam, family === 'des' ? selectByName(PSAM_ADF_AID) : selectByName(iss.PSAM_DF_NAME_SM4));
    const c1 = tx(card, getChallenge(8)).data;
    tx(psam, deliverySessionKey({ usage: ISSUANCE_PSAM_KEYS.BK.usage, keyId: ISSUANCE_PSAM_KEYS.BK.id, factors: [f.cardFactor, f.cityFactor], sessionFactor: pad(c1) }));
    const a = authDataFromCipher(tx(psam, cipherData('encryptLast', pad(c1), bs)).data);
    t.equal(tx(card, externalAuthenticate(0x05, a, c1, family === 'sm4' ? 1 : undefined)).sw, 0x9000, 'BK');
    t.equal(tx(card, { cla: 0x84, ins: 0x1e, p1: 0, p2: 1, data: fromHex('00000000') }).sw, 0x6984, 'no fresh challenge');
    const c2 = tx(card, getChallenge(8)).data;
    t.equal(tx(card, { cla: 0x84, ins: 0x1e, p1: 0, p2: 1, data: fromHex('00000000') }).sw, 0x6988, 'wrong MAC');
    const c3 = tx(card, getChallenge(8)).data;
    t.not(toHex(c2), toHex(c3));
    tx(psam, deliverySessionKey({ usage: ISSUANCE_PSAM_KEYS.STK.usage, keyId: ISSUANCE_PSAM_KEYS.STK.id, factors: [f.cardFactor, f.cityFactor], sessionFactor: pad(c3) }));
    const macIn = concat(new Uint8Array(bs), fromHex('841E000104'), fromHex(family === 'sm4' ? '80' + '00'.repeat(10) : '800000'));
    const m = macFromCipher(tx(psam, cipherData('macOnly', macIn, bs)).data);
    t.equal(tx(card, { cla: 0x84, ins: 0x1e, p1: 0, p2: 1, data: m }).sw, 0x9000, 'blocked');
    t.ok(card.blocked);
    t.equal(tx(card, getChallenge(8)).sw, 0x9303, 'every command in the application answers 9303');
    card.reset();
    t.equal(tx(card, selectByName(SSSE_DF_NAME)).sw, 0x9303, 'SELECT answers 9303 after a reset too');
    t.equal(tx(card, readRecordByTag(1, { sfi: 5 })).sw, 0x9303);
  }
});
