import t from 'tap';
import { createCipheriv, randomBytes } from 'node:crypto';
import { concat, fromHex } from '../../src/bytes.ts';
import { cardKey } from '../../src/crypto/card-key.ts';
import {
  medicalMac1,
  medicalMac2,
  medicalTac,
  purchaseMac1,
  purchaseMac2,
  purchaseTac,
  purseDpk,
  purseSessionKey,
  tacKey,
} from '../../src/crypto/purse-crypto.ts';
import { foldXor4 } from '../../src/crypto/mac.ts';

// Independent references on node:crypto.
function refEcb(name: string, key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(name, key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}
const refDes = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('des-ede3-ecb', concat(k, k, k), b);
const ref3des = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('des-ede3-ecb', concat(k, k.subarray(0, 8)), b);
const refSm4 = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('sm4-ecb', k, b);
const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((x, i) => x ^ b[i]!);
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
/** Single-DES CBC MAC, zero IV, method-2 padding, leftmost 4 bytes, chained by hand. */
function refMac(k: Uint8Array, data: Uint8Array): Uint8Array {
  const p = concat(data, Uint8Array.of(0x80), new Uint8Array(7 - (data.length % 8)));
  let o: Uint8Array = new Uint8Array(8);
  for (let j = 0; j < p.length; j += 8) o = refDes(k, xor(o, p.subarray(j, j + 8)));
  return o.subarray(0, 4);
}

const mpk = cardKey('3des', fromHex('0123456789ABCDEFFEDCBA9876543210'));
const serial = fromHex('0000000012345678');
const terminalId = fromHex('010203040506');
const dateTime = fromHex('20100423111933');

t.test('[JR/T 0025.2 B.2] DPK = 3DES(MPK, S) ‖ 3DES(MPK, ¬S)', async (t) => {
  const dpk = purseDpk(mpk, serial);
  t.equal(dpk.algorithm, '3des');
  t.same(dpk.key, concat(ref3des(mpk.key, serial), ref3des(mpk.key, serial.map((b) => b ^ 0xff))));
  t.throws(() => purseDpk(mpk, rnd(10)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => purseDpk(cardKey('sm4', rnd(16)), serial), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => purseDpk({ algorithm: '3des', key: rnd(8) }, serial), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
});

t.test('[JR/T 0025.2 B.3, §5.5.4] SESPK, MAC1, MAC2, TAC with the documented input layouts', async (t) => {
  const dpk = purseDpk(mpk, serial);
  const cardRandom = fromHex('A1B2C3D4');
  const terminalSerial = fromHex('00113344');
  const sespk = purseSessionKey(dpk, { cardRandom, atc: 4, terminalSerial });
  t.equal(sespk.algorithm, 'des');
  t.same(sespk.key, ref3des(dpk.key, fromHex('A1B2C3D400043344')), 'input = random ‖ 00 04 ‖ 33 44');

  const mac1 = purchaseMac1(sespk, { amount: 0, transactionType: 6, terminalId, dateTime });
  t.same(mac1, refMac(sespk.key, fromHex('00000000 06 010203040506 20100423 111933')));
  const mac1b = purchaseMac1(sespk, { amount: 150, transactionType: 9, terminalId, dateTime });
  t.same(mac1b, refMac(sespk.key, fromHex('00000096 09 010203040506 20100423 111933')));
  t.not(mac1b.join(), mac1.join());

  t.same(purchaseMac2(sespk, 150), refMac(sespk.key, fromHex('00000096')));

  const dtk = cardKey('3des', rnd(16));
  t.same(tacKey(dtk).key, xor(dtk.key.subarray(0, 8), dtk.key.subarray(8)));
  const tac = purchaseTac(dtk, { amount: 150, transactionType: 6, terminalId, terminalSerial, dateTime });
  t.same(tac, refMac(xor(dtk.key.subarray(0, 8), dtk.key.subarray(8)), fromHex('00000096 06 010203040506 00113344 20100423 111933')));
});

t.test('purse inputs fail with codes', async (t) => {
  const dpk = purseDpk(mpk, serial);
  const sespk = purseSessionKey(dpk, { cardRandom: rnd(4), atc: 1, terminalSerial: rnd(4) });
  t.throws(() => purseSessionKey(dpk, { cardRandom: rnd(8), atc: 1, terminalSerial: rnd(4) }), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => purseSessionKey(dpk, { cardRandom: rnd(4), atc: 70000, terminalSerial: rnd(4) }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => purseSessionKey(dpk, { cardRandom: rnd(4), atc: 1, terminalSerial: rnd(2) }), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => purchaseMac1(sespk, { amount: -1, transactionType: 6, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => purchaseMac1(sespk, { amount: 2 ** 32, transactionType: 6, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => purchaseMac1(sespk, { amount: 1.5, transactionType: 6, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => purchaseMac1(sespk, { amount: 1, transactionType: 256, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => purchaseMac1(sespk, { amount: 1, transactionType: 6, terminalId: rnd(5), dateTime }), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => purchaseMac1(sespk, { amount: 1, transactionType: 6, terminalId, dateTime: rnd(6) }), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => purchaseMac1(dpk, { amount: 1, transactionType: 6, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => purchaseMac2(dpk, 1), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => purchaseTac(sespk, { amount: 1, transactionType: 6, terminalId, terminalSerial: rnd(4), dateTime }), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => purchaseTac(cardKey('3des', rnd(16)), { amount: 1, transactionType: 6, terminalId, terminalSerial: rnd(3), dateTime }), {
    code: 'PROTO_ERR_CRYPTO_DATA_LENGTH',
  });
});

t.test('[SSC §13] medical purse MAC1/MAC2/TAC in both families', async (t) => {
  const amounts = { accountAmount: 100, selfPayAmount: 200, pooledAmount: 300 };
  const amt = fromHex('00000064 000000C8 0000012C');
  const mac1In = concat(amt, fromHex('32'), terminalId, dateTime);
  const terminalSerial = fromHex('0000ABCD');
  const tacIn = concat(amt, fromHex('32'), terminalId, terminalSerial, dateTime);

  const dpk = cardKey('3des', rnd(16));
  const ks = purseSessionKey(dpk, { cardRandom: fromHex('01020304'), atc: 0x10, terminalSerial });
  t.same(ks.key, ref3des(dpk.key, fromHex('010203040010ABCD')));
  t.same(medicalMac1(ks, { ...amounts, transactionType: 0x32, terminalId, dateTime }), refMac(ks.key, mac1In));
  t.same(medicalMac2(ks, amounts), refMac(ks.key, amt));
  const dtk = cardKey('3des', rnd(16));
  t.same(medicalTac(dtk, { ...amounts, transactionType: 0x32, terminalId, terminalSerial, dateTime }), refMac(xor(dtk.key.subarray(0, 8), dtk.key.subarray(8)), tacIn));

  const dpk4 = cardKey('sm4', rnd(16));
  const ks4 = purseSessionKey(dpk4, { cardRandom: fromHex('01020304'), atc: 0x10, terminalSerial });
  t.same(ks4.key, refSm4(dpk4.key, fromHex('010203040010ABCD' + '00'.repeat(8))));
  const refMac16 = (k: Uint8Array, d: Uint8Array): Uint8Array => {
    const p = concat(d, Uint8Array.of(0x80), new Uint8Array(15 - (d.length % 16)));
    let o: Uint8Array = new Uint8Array(16);
    for (let j = 0; j < p.length; j += 16) o = refSm4(k, xor(o, p.subarray(j, j + 16)));
    return foldXor4(o);
  };
  t.same(medicalMac1(ks4, { ...amounts, transactionType: 0x32, terminalId, dateTime }), refMac16(ks4.key, mac1In));
  t.same(medicalMac2(ks4, amounts), refMac16(ks4.key, amt));
  const dtk4 = cardKey('sm4', rnd(16));
  t.same(medicalTac(dtk4, { ...amounts, transactionType: 0x32, terminalId, terminalSerial, dateTime }), refMac16(dtk4.key, tacIn));
  t.throws(() => medicalMac1(dpk, { ...amounts, transactionType: 0x32, terminalId, dateTime }), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => medicalMac2(ks, { ...amounts, pooledAmount: -5 }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});
