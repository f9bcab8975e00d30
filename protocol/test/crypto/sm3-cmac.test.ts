import t from 'tap';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../../src/bytes.ts';
import { sm3, sm3Portable } from '../../src/crypto/sm3.ts';
import { aesCmac, cmac, cmacSubkeys } from '../../src/crypto/cmac.ts';
import { createBlockCipher } from '../../src/crypto/block-cipher.ts';

const abc = new TextEncoder().encode('abc');
const abcd16 = new TextEncoder().encode('abcd'.repeat(16));

t.test('[GB/T 32905 A.1, A.2] SM3 examples, runtime and portable', async (t) => {
  for (const f of [sm3, sm3Portable]) {
    t.equal(toHex(f(abc)), '66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0');
    t.equal(toHex(f(abcd16)), 'DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732');
  }
});

t.test('SM3 portable agrees with the runtime around padding boundaries', async (t) => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
    const m = new Uint8Array(randomBytes(n));
    t.same(sm3Portable(m), sm3(m), `length ${n}`);
  }
});

const K = fromHex('2B7E151628AED2A6ABF7158809CF4F3C');
const M = fromHex(
  '6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E5130C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710',
);

t.test('[RFC 4493 §4] AES-CMAC subkeys and examples 1-4', async (t) => {
  const { k1, k2 } = cmacSubkeys(createBlockCipher('aes', K));
  t.equal(toHex(k1), 'FBEED618357133667C85E08F7236A8DE');
  t.equal(toHex(k2), 'F7DDAC306AE266CCF90BC11EE46D513B');
  t.equal(toHex(aesCmac(K, M.subarray(0, 0))), 'BB1D6929E95937287FA37D129B756746');
  t.equal(toHex(aesCmac(K, M.subarray(0, 16))), '070A16B46B4D4144F79BDD9DD04A287C');
  t.equal(toHex(aesCmac(K, M.subarray(0, 40))), 'DFA66747DE9AE63030CA32611497C827');
  t.equal(toHex(aesCmac(K, M)), '51F0BEBF7E3B9D92FC49741779363CFE');
  t.equal(toHex(aesCmac(K, M, 8)), '51F0BEBF7E3B9D92');
});

t.test('[SP 800-38B D.2] TDES-CMAC (three-key) examples', async (t) => {
  const c = createBlockCipher('3des', fromHex('8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5'));
  t.equal(toHex(cmac(c, new Uint8Array(0))), 'B7A688E122FFAF95');
  t.equal(toHex(cmac(c, fromHex('6BC1BEE22E409F96'))), '8E8F293136283797');
});

t.test('CMAC rejects bad lengths with codes', async (t) => {
  t.throws(() => aesCmac(new Uint8Array(15), M), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => aesCmac(K, M, 0), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => aesCmac(K, M, 17), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});
