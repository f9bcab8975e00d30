import t from 'tap';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { concat, fromHex, toHex } from '../../src/bytes.ts';
import { padIfShort, padMethod2, unpadMethod2, zeroPadRight } from '../../src/crypto/padding.ts';
import { cardKey } from '../../src/crypto/card-key.ts';
import type { CardKey } from '../../src/crypto/card-key.ts';
import { cardMac, commandMac, foldXor4, ivFromChallenge } from '../../src/crypto/mac.ts';
import { cardFactor, cityFactor, disperseKey, disperseKeyLevels, provinceFactor } from '../../src/crypto/dispersion.ts';
import { authenticationData, externalAuthentication, internalAuthentication, sessionKey } from '../../src/crypto/session-keys.ts';
import { decryptCardData, encodePinCn, encryptCardData, pinChangeUnblockCommand } from '../../src/crypto/secure-messaging.ts';

// Independent reference ciphers, straight on node:crypto (3-key EDE with repeated keys for DES).
function refEcb(name: string, key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(name, key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}
const refDes = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('des-ede3-ecb', concat(k, k, k), b);
const refDesDec = (k: Uint8Array, b: Uint8Array): Uint8Array => {
  const d = createDecipheriv('des-ede3-ecb', concat(k, k, k), null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(b), d.final()]));
};
const ref3des = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('des-ede3-ecb', concat(k, k.subarray(0, 8)), b);
const refSm4 = (k: Uint8Array, b: Uint8Array): Uint8Array => refEcb('sm4-ecb', k, b);
const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((x, i) => x ^ b[i]!);
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

t.test('[9797-1 padding method 2] pad and unpad', async (t) => {
  t.equal(toHex(padMethod2(fromHex('8424000004'), 8)), '8424000004800000');
  t.equal(toHex(padMethod2(fromHex('0102030405060708'), 8)), '01020304050607088000000000000000');
  t.equal(toHex(padMethod2(new Uint8Array(0), 16)), '80' + '00'.repeat(15));
  t.equal(toHex(unpadMethod2(fromHex('0102800000000000'), 8)), '0102');
  t.equal(toHex(unpadMethod2(fromHex('01020304050607088000000000000000'), 8)), '0102030405060708');
  t.throws(() => unpadMethod2(fromHex('0102030405060708'), 8), { code: 'PROTO_ERR_CRYPTO_PADDING' });
  t.throws(() => unpadMethod2(fromHex('0000000000000000'), 8), { code: 'PROTO_ERR_CRYPTO_PADDING' });
  t.throws(() => unpadMethod2(fromHex('8000000000000000' + '0000000000000000'), 8), { code: 'PROTO_ERR_CRYPTO_PADDING' });
  t.throws(() => unpadMethod2(fromHex('01028000000000'), 8), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => padMethod2(new Uint8Array(1), 0), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.equal(toHex(padIfShort(fromHex('0102030405060708'), 8)), '0102030405060708');
  t.equal(toHex(padIfShort(fromHex('03123456'), 8)), '0312345680000000');
  t.throws(() => zeroPadRight(new Uint8Array(9), 8), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  for (let i = 0; i < 200; i++) {
    const d = rnd(i % 40);
    t.same(unpadMethod2(padMethod2(d, 8), 8), d);
  }
});

t.test('[SSC P4 §8.2.4.1] DES-family MAC = single-DES CBC, leftmost 4, chained by hand', async (t) => {
  for (let i = 0; i < 30; i++) {
    const ks = rnd(8);
    const input = rnd(i);
    const iv = i % 2 === 0 ? new Uint8Array(8) : rnd(8);
    const padded = concat(input, Uint8Array.of(0x80), new Uint8Array(7 - (input.length % 8)));
    let o = iv;
    for (let j = 0; j < padded.length; j += 8) o = refDes(ks, xor(o, padded.subarray(j, j + 8)));
    t.same(cardMac(cardKey('des', ks), input, i % 2 === 0 ? undefined : iv), o.subarray(0, 4));
  }
});

t.test('[9797-1 MAC algorithm 3; SSC P9 §7.1.3] 16-byte DES key MAC = retail MAC, by hand', async (t) => {
  for (let i = 0; i < 20; i++) {
    const k = rnd(16);
    const input = rnd(3 * i);
    const iv = ivFromChallenge('3des', rnd(4));
    t.equal(iv.length, 8);
    t.same(iv.subarray(4), new Uint8Array(4));
    const padded = padMethod2(input, 8);
    let o = iv;
    for (let j = 0; j < padded.length; j += 8) o = refDes(k.subarray(0, 8), xor(o, padded.subarray(j, j + 8)));
    const last = refDes(k.subarray(0, 8), refDesDec(k.subarray(8), o));
    t.same(cardMac(cardKey('3des', k), input, iv), last.subarray(0, 4));
  }
});

t.test('[SSC P4 §8.2.4.2] 16-byte-block MAC: SM4 CBC and XOR fold, by hand', async (t) => {
  t.equal(toHex(foldXor4(fromHex('01000000020000000400000008000000'))), '0F000000');
  for (let i = 0; i < 20; i++) {
    const ks = rnd(16);
    const input = rnd(5 * i);
    const padded = padMethod2(input, 16);
    let o: Uint8Array = new Uint8Array(16);
    for (let j = 0; j < padded.length; j += 16) o = refSm4(ks, xor(o, padded.subarray(j, j + 16)));
    const fold = xor(xor(o.subarray(0, 4), o.subarray(4, 8)), xor(o.subarray(8, 12), o.subarray(12, 16)));
    t.same(cardMac(cardKey('sm4', ks), input), fold);
  }
  t.same(ivFromChallenge('sm4', fromHex('11223344')), fromHex('11223344' + '00'.repeat(12)));
});

t.test('MAC and key inputs fail with codes', async (t) => {
  t.throws(() => cardKey('des', rnd(16)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => cardKey('3des', rnd(8)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => cardKey('sm4', rnd(8)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => cardKey('ssf33' as 'sm4', rnd(16)), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  t.throws(() => cardMac({ algorithm: 'des', key: rnd(16) }, rnd(4)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => cardMac(cardKey('des', rnd(8)), rnd(4), rnd(16)), { code: 'PROTO_ERR_CRYPTO_IV_LENGTH' });
  t.throws(() => commandMac(cardKey('des', rnd(8)), rnd(4), rnd(4)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => ivFromChallenge('des', rnd(9)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => foldXor4(rnd(8)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
});

t.test('[SSC P9 §7.1.1, §7.2.1] dispersion rules per algorithm', async (t) => {
  const f = fromHex('0011223344556677');
  const nf = fromHex('FFEEDDCCBBAA9988');
  const k8 = rnd(8), k16 = rnd(16);
  t.same(disperseKey(cardKey('des', k8), f).key, refDes(k8, f));
  const d3 = disperseKey(cardKey('3des', k16), f);
  t.equal(d3.algorithm, '3des');
  t.same(d3.key, concat(ref3des(k16, f), ref3des(k16, nf)));
  const d4 = disperseKey(cardKey('sm4', k16), f);
  t.same(d4.key, refSm4(k16, concat(f, nf)));
  t.throws(() => disperseKey(cardKey('3des', k16), rnd(7)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
});

t.test('[SSC P9 §7.3] multi-level dispersion runs root first, factor builders', async (t) => {
  t.equal(new TextDecoder().decode(provinceFactor('310000')), '310000sh');
  t.equal(new TextDecoder().decode(cityFactor('639900')), '639900sx');
  t.equal(new TextDecoder().decode(cityFactor('330100', 'sc-if-2016')), '330100sx');
  t.equal(new TextDecoder().decode(cityFactor('331234', 'sc-if-2016')), '331200sx');
  t.equal(new TextDecoder().decode(cityFactor('331234')), '331234sx');
  t.throws(() => cityFactor('3312'), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => provinceFactor('x1'), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  const hist = Uint8Array.from({ length: 15 }, (_, i) => i + 1);
  t.equal(toHex(cardFactor(hist)), '060708090A0B0C0D');
  t.throws(() => cardFactor(hist.subarray(0, 12)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  const root = cardKey('3des', rnd(16));
  const fs = [provinceFactor('310000'), cityFactor('310100'), cardFactor(hist)];
  const byHand = disperseKey(disperseKey(disperseKey(root, fs[0]!), fs[1]!), fs[2]!);
  t.same(disperseKeyLevels(root, fs), byHand);
  t.same(disperseKeyLevels(root, []).key, root.key);
});

t.test('[SSC P4 §8.4 fig. 7-9] session keys', async (t) => {
  const k8 = rnd(8), k16 = rnd(16), r4 = rnd(4), r8 = rnd(8);
  const s1 = sessionKey(cardKey('des', k8), r8);
  t.same(s1, { algorithm: 'des', key: refDes(k8, r8) });
  const s2 = sessionKey(cardKey('3des', k16), r4);
  t.same(s2, { algorithm: 'des', key: ref3des(k16, concat(r4, new Uint8Array(4))) }, '4-byte random padded, KS single length');
  const s3 = sessionKey(cardKey('sm4', k16), r8);
  t.same(s3, { algorithm: 'sm4', key: refSm4(k16, concat(r8, new Uint8Array(8))) });
  t.same(sessionKey(cardKey('sm4', k16), r4).key, refSm4(k16, concat(r4, new Uint8Array(12))));
  t.throws(() => sessionKey(cardKey('3des', k16), rnd(16)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => sessionKey(cardKey('sm4', k16), rnd(5)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});

t.test('[SSC P4 §9.3] authentication data, internal and external authentication', async (t) => {
  const o = rnd(8), ks8 = rnd(8), ks16 = rnd(16);
  t.same(authenticationData(cardKey('des', ks8), o), refDes(ks8, o));
  const lr = refSm4(ks16, concat(o, new Uint8Array(8)));
  t.same(authenticationData(cardKey('sm4', ks16), o), xor(lr.subarray(0, 8), lr.subarray(8)));
  t.throws(() => authenticationData(cardKey('des', ks8), rnd(4)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  const irk = cardKey('3des', rnd(16));
  const r1 = rnd(8), r2 = rnd(8);
  t.same(internalAuthentication(irk, r1, r2), refDes(ref3des(irk.key, r1), r2));
  const c = rnd(4);
  t.same(externalAuthentication(irk, c, o), refDes(ref3des(irk.key, concat(c, new Uint8Array(4))), o));
});

t.test('[SSC P4 §8.3] encrypted data: LD ‖ data, pad only when short, ECB', async (t) => {
  const ks = cardKey('des', rnd(8));
  const c = encryptCardData(ks, fromHex('123456'));
  t.same(c, refDes(ks.key, fromHex('0312345680000000')));
  t.same(decryptCardData(ks, c), fromHex('123456'));
  const aligned = encryptCardData(ks, fromHex('01020304050607'));
  t.equal(aligned.length, 8, 'LD + 7 bytes = one block, no extra padding block');
  t.same(aligned, refDes(ks.key, fromHex('0701020304050607')));
  const s = cardKey('sm4', rnd(16));
  t.same(encryptCardData(s, fromHex('123456')), refSm4(s.key, fromHex('0312345680' + '00'.repeat(11))));
  for (const k of [ks, s, cardKey('3des', rnd(16))]) {
    for (let n = 0; n < 40; n++) {
      const p = rnd(n);
      t.same(decryptCardData(k, encryptCardData(k, p)), p);
    }
  }
  t.throws(() => decryptCardData(ks, rnd(7)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => decryptCardData(ks, refDes(ks.key, fromHex('0912345680000000'))), { code: 'PROTO_ERR_CRYPTO_LD' });
  t.throws(() => decryptCardData(ks, refDes(ks.key, fromHex('0212345680000000'))), { code: 'PROTO_ERR_CRYPTO_PADDING' });
  t.throws(() => decryptCardData(ks, refDes(ks.key, fromHex('0312345680000001'))), { code: 'PROTO_ERR_CRYPTO_PADDING' });
  t.throws(() => decryptCardData(ks, concat(refDes(ks.key, fromHex('0112345680000000')), refDes(ks.key, new Uint8Array(8)))), {
    code: 'PROTO_ERR_CRYPTO_LD',
  });
  t.throws(() => encryptCardData(ks, new Uint8Array(256)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});

t.test('[SSC P5 §6.8; P7 §13] PIN CHANGE/UNBLOCK with secure messaging', async (t) => {
  t.equal(toHex(encodePinCn('123456')), '123456');
  t.equal(toHex(encodePinCn('12345')), '12345F');
  t.equal(toHex(encodePinCn('')), '');
  t.throws(() => encodePinCn('12a4'), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => encodePinCn('1'.repeat(17)), { code: 'PROTO_ERR_CRYPTO_PARAM' });

  // unblock, DES family: MAC over the single block 84 24 00 00 04 80 00 00
  const ks: CardKey = cardKey('des', rnd(8));
  const unblock = pinChangeUnblockCommand({ sessionKey: ks });
  t.equal(toHex(unblock.subarray(0, 5)), '8424000004');
  t.same(unblock.subarray(5), refDes(ks.key, fromHex('8424000004800000')).subarray(0, 4));

  // change, DES family: 8-byte cryptogram of 03 12 34 56 80 00 00 00, Lc 0C
  const change = pinChangeUnblockCommand({ sessionKey: ks, newPin: '123456' });
  t.equal(toHex(change.subarray(0, 5)), '842400010C');
  const crypt = refDes(ks.key, fromHex('0312345680000000'));
  t.same(change.subarray(5, 13), crypt);
  const macIn = concat(fromHex('842400010C'), crypt, fromHex('800000'));
  let o: Uint8Array = new Uint8Array(8);
  for (let j = 0; j < 16; j += 8) o = refDes(ks.key, xor(o, macIn.subarray(j, j + 8)));
  t.same(change.subarray(13), o.subarray(0, 4));
  t.equal(change.length, 17);

  // change, 16-byte family: header 84 24 00 01 14, 16-byte cryptogram, 32-byte MAC input, fold
  const ks4 = cardKey('sm4', rnd(16));
  const c4 = pinChangeUnblockCommand({ sessionKey: ks4, newPin: '123456' });
  t.equal(toHex(c4.subarray(0, 5)), '8424000114');
  const crypt4 = refSm4(ks4.key, fromHex('0312345680' + '00'.repeat(11)));
  t.same(c4.subarray(5, 21), crypt4);
  const in4 = concat(fromHex('8424000114'), crypt4, fromHex('80' + '00'.repeat(10)));
  t.equal(in4.length, 32);
  const o4 = refSm4(ks4.key, xor(refSm4(ks4.key, in4.subarray(0, 16)), in4.subarray(16)));
  t.same(c4.subarray(21), foldXor4(o4));

  // DES family, 16-digit PIN: LD + 8 bytes -> 16-byte cryptogram, Lc 14
  t.equal(pinChangeUnblockCommand({ sessionKey: ks, newPin: '1234567890123456' })[4], 0x14);
});
