import t from 'tap';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../../src/bytes.ts';
import { createBlockCipher, decryptCbc, decryptEcb, encryptCbc, encryptEcb } from '../../src/crypto/block-cipher.ts';
import type { CipherAlgorithm } from '../../src/crypto/block-cipher.ts';

t.test('[FIPS 81] single DES known answers', async (t) => {
  t.equal(toHex(encryptEcb('des', fromHex('0123456789ABCDEF'), fromHex('4E6F772069732074'))), '3FA40E8A984D4815');
  t.equal(toHex(encryptEcb('des', fromHex('133457799BBCDFF1'), fromHex('0123456789ABCDEF'))), '85E813540F0AB405');
  t.equal(toHex(decryptEcb('des', fromHex('133457799BBCDFF1'), fromHex('85E813540F0AB405'))), '0123456789ABCDEF');
});

t.test('[SP 800-20] TDES variable-plaintext known answers (K1=K2=K3 = 0101..)', async (t) => {
  const k = fromHex('0101010101010101');
  t.equal(toHex(encryptEcb('des', k, fromHex('8000000000000000'))), '95F8A5E5DD31D900');
  t.equal(toHex(encryptEcb('3des', fromHex('01010101010101010101010101010101'), fromHex('4000000000000000'))), 'DD7F121CA5015619');
  t.equal(toHex(encryptEcb('3des', fromHex('010101010101010101010101010101010101010101010101'), fromHex('2000000000000000'))), '2E8653104F3834EA');
});

t.test('[SP 800-67] three-key TDES example and two-key = three-key with K3 = K1', async (t) => {
  const k3 = fromHex('0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123');
  const p = new TextEncoder().encode('The qufck brown fox jump');
  t.equal(toHex(encryptEcb('3des', k3, p)), 'A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900');
  const k2 = fromHex('0123456789ABCDEFFEDCBA9876543210');
  const k2as3 = Uint8Array.of(...k2, ...k2.subarray(0, 8));
  const x = randomBytes(32);
  t.same(encryptEcb('3des', k2, x), encryptEcb('3des', k2as3, x));
  // EDE composition by hand with single DES
  const l = k2.subarray(0, 8), r = k2.subarray(8);
  const blk = x.subarray(0, 8);
  t.same(encryptEcb('3des', k2, blk), encryptEcb('des', l, decryptEcb('des', r, encryptEcb('des', l, blk))));
});

t.test('[GB/T 32907 A.1] SM4 example 1', async (t) => {
  const k = fromHex('0123456789ABCDEFFEDCBA9876543210');
  t.equal(toHex(encryptEcb('sm4', k, k)), '681EDF34D206965E86B3E94F536E4246');
  t.equal(toHex(decryptEcb('sm4', k, fromHex('681EDF34D206965E86B3E94F536E4246'))), '0123456789ABCDEFFEDCBA9876543210');
});

t.test('[GB/T 32907 A.2] SM4 example 2: 1,000,000 encryptions', async (t) => {
  const k = fromHex('0123456789ABCDEFFEDCBA9876543210');
  const c = createBlockCipher('sm4', k);
  let x = k;
  for (let i = 0; i < 1_000_000; i++) x = c.encryptEcb(x);
  t.equal(toHex(x), '595298C7C6FD271F0402F804C33D3F66');
});

t.test('[FIPS 197 C.1-C.3] AES known answers', async (t) => {
  const p = fromHex('00112233445566778899AABBCCDDEEFF');
  t.equal(toHex(encryptEcb('aes', fromHex('000102030405060708090A0B0C0D0E0F'), p)), '69C4E0D86A7B0430D8CDB78070B4C55A');
  t.equal(toHex(encryptEcb('aes', fromHex('000102030405060708090A0B0C0D0E0F1011121314151617'), p)), 'DDA97CA4864CDFE06EAF70A0EC0D7191');
  t.equal(toHex(encryptEcb('aes', fromHex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F'), p)), '8EA2B7CA516745BFEAFC49904B496089');
});

t.test('[SP 800-38A F.2.1] AES-128 CBC', async (t) => {
  const k = fromHex('2B7E151628AED2A6ABF7158809CF4F3C');
  const iv = fromHex('000102030405060708090A0B0C0D0E0F');
  const p = fromHex('6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51');
  const c = encryptCbc('aes', k, iv, p);
  t.equal(toHex(c), '7649ABAC8119B246CEE98E9B12E9197D5086CB9B507219EE95DB113A917678B2');
  t.same(decryptCbc('aes', k, iv, c), p);
});

t.test('round trips for every algorithm and key length, ECB and CBC', async (t) => {
  const cases: [CipherAlgorithm, number][] = [['des', 8], ['3des', 16], ['3des', 24], ['sm4', 16], ['aes', 16], ['aes', 24], ['aes', 32]];
  for (const [alg, kl] of cases) {
    const c = createBlockCipher(alg, randomBytes(kl));
    for (let i = 0; i < 20; i++) {
      const data = new Uint8Array(randomBytes(c.blockSize * (1 + (i % 4))));
      const iv = new Uint8Array(randomBytes(c.blockSize));
      t.same(c.decryptEcb(c.encryptEcb(data)), data);
      const e = c.encryptCbc(iv, data);
      t.same(c.decryptCbc(iv, e), data);
      // CBC = ECB of (block XOR previous ciphertext), by hand
      const first = c.encryptEcb(data.subarray(0, c.blockSize).map((b, j) => b ^ iv[j]!));
      t.same(e.subarray(0, c.blockSize), first);
    }
    t.ok(!(c.encryptEcb(new Uint8Array(c.blockSize)) instanceof Buffer), `${alg} returns a plain Uint8Array`);
  }
});

t.test('bad inputs fail with codes', async (t) => {
  t.throws(() => createBlockCipher('des', new Uint8Array(16)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => createBlockCipher('3des', new Uint8Array(8)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => createBlockCipher('sm4', new Uint8Array(32)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => createBlockCipher('aes', new Uint8Array(20)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => createBlockCipher('rc4' as CipherAlgorithm, new Uint8Array(16)), { code: 'PROTO_ERR_CRYPTO_ALGORITHM' });
  const c = createBlockCipher('aes', new Uint8Array(16));
  t.throws(() => c.encryptEcb(new Uint8Array(15)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => c.decryptEcb(new Uint8Array(17)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  t.throws(() => c.encryptCbc(new Uint8Array(8), new Uint8Array(16)), { code: 'PROTO_ERR_CRYPTO_IV_LENGTH' });
  t.throws(() => c.decryptCbc(new Uint8Array(16), new Uint8Array(8)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  // a rejected call leaves the cipher usable (no half block buffered)
  t.equal(toHex(c.encryptEcb(new Uint8Array(16))), '66E94BD4EF8A2C3B884CFA59CA342B2E');
});
