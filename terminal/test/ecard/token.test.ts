import t from 'tap';
import { issueEcardCode, ecardIssuerPublicKey, TEST_ECARD_ISSUER_PRIVATE_KEY } from '@onecard/simulators';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { base32Decode, base32Encode, decodeEcardToken, ecardKeyId, ecardTokenFromText, ecardTokenToText, encodeEcardBody, encodeEcardToken, type EcardTokenBody } from '../../src/ecard/index.ts';
import { TerminalError } from '../../src/errors.ts';

const clock = (): number => Date.UTC(2026, 0, 15, 8, 0, 0);
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);

t.test('[ONECARD ecard-qr §2] the simulator issuer and the terminal codec agree field by field', async (t) => {
  const r = issueEcardCode(
    { holderRef: '00112233445566778899AABBCCDDEEFF', ssn: '11010119900307123x', name: '张三丰', region: '110100', purpose: 'payment' },
    { key: TEST_ECARD_ISSUER_PRIVATE_KEY, clock, ttlSeconds: 60, random: seq },
  );
  t.match(r.code, /^OC1:[A-Z2-7]+$/);
  const tok = ecardTokenFromText(r.code);
  t.equal(tok.issuedAt, clock() / 1000);
  t.equal(tok.ttl, 60);
  t.equal(toHex(tok.nonce), r.nonce);
  t.equal(toHex(tok.keyId), toHex(ecardKeyId(fromHex(ecardIssuerPublicKey(TEST_ECARD_ISSUER_PRIVATE_KEY)))));
  t.equal(tok.purpose, 'payment');
  t.equal(tok.region, '110100');
  t.equal(toHex(tok.holderRef), '00112233445566778899AABBCCDDEEFF');
  t.equal(tok.maskedId, '110*************3X');
  t.equal(tok.maskedName, '张**');
  t.equal(tok.signature.length, 64);
  // re-encode the body: identical signed bytes
  t.same(encodeEcardBody(tok), tok.signed);
  t.same(encodeEcardToken(tok.signed, tok.signature), r.bytes);
  t.equal(ecardTokenToText(r.bytes), r.code);
  t.ok(r.code.length < 260, `${r.code.length} characters fit a small QR`);
  t.same(ecardTokenFromText(` ${r.code.toLowerCase()}\r\n`).signed, tok.signed, 'case-insensitive, white space ignored');
});

t.test('base32 (RFC 4648 §10 vectors, no padding) and its errors', async (t) => {
  const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
  for (const [plain, enc] of vectors) {
    t.equal(base32Encode(new TextEncoder().encode(plain)), enc, plain);
    t.equal(new TextDecoder().decode(base32Decode(enc)), plain);
  }
  t.throws(() => base32Decode('MZXW6YTB1'), { code: 'TERM_ERR_ECARD_FORMAT' }, 'digit 1 not in the alphabet');
  t.throws(() => base32Decode('M'), { code: 'TERM_ERR_ECARD_FORMAT' }, 'impossible length');
  t.throws(() => base32Decode('MZ'), { code: 'TERM_ERR_ECARD_FORMAT' }, 'non-zero padding bits');
  for (let n = 0; n < 40; n++) t.same(base32Decode(base32Encode(seq(n))), seq(n));
});

const body: EcardTokenBody = {
  keyId: fromHex('01020304'),
  issuedAt: 1_768_464_000,
  ttl: 60,
  nonce: seq(8),
  purpose: 'enquiry',
  region: '440300',
  holderRef: seq(16),
  maskedId: '440*************12',
  maskedName: '李*',
};

t.test('[ONECARD ecard-qr §2] binary layout vector', async (t) => {
  const b = encodeEcardBody(body);
  t.equal(toHex(b.subarray(0, 24)), '0101' + '01020304' + '69689E80' + '003C' + toHex(seq(8)) + '01' + '440300');
  t.equal(b[24], 16);
  const tok = decodeEcardToken(encodeEcardToken(b, new Uint8Array(64).fill(7)));
  t.match(tok, { issuedAt: 1_768_464_000, ttl: 60, purpose: 'enquiry', region: '440300', maskedId: '440*************12', maskedName: '李*' });
});

t.test('bad tokens fail with coded errors naming the field', async (t) => {
  const sig = new Uint8Array(64);
  const good = encodeEcardToken(encodeEcardBody(body), sig);
  const mutate = (f: (b: Uint8Array) => Uint8Array | void): Uint8Array => {
    const c = good.slice();
    return f(c) ?? c;
  };
  t.throws(() => decodeEcardToken(mutate((b) => void (b[0] = 2))), { code: 'TERM_ERR_ECARD_VERSION' });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[1] = 9))), { code: 'TERM_ERR_ECARD_VERSION' });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[20] = 0))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'purpose' } });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[21] = 0xa0))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'region' } });
  t.throws(() => decodeEcardToken(mutate((b) => void ((b[10] = 0), (b[11] = 0)))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'ttl' } });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[24] = 0))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'holderRef' } });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[24] = 200))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'holderRef' } });
  t.throws(() => decodeEcardToken(mutate((b) => void (b[42] = 0x41))), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'maskedId' } });
  t.throws(() => decodeEcardToken(mutate((b) => b.subarray(0, b.length - 1))), { code: 'TERM_ERR_ECARD_MALFORMED' }, 'truncated');
  t.throws(() => decodeEcardToken(Uint8Array.of(...good, 0)), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'signature' } }, 'trailing byte');
  t.throws(() => decodeEcardToken(new Uint8Array(0)), { code: 'TERM_ERR_ECARD_MALFORMED' });
  t.throws(() => ecardTokenFromText('HTTPS://EXAMPLE.ORG'), { code: 'TERM_ERR_ECARD_FORMAT' });
  t.throws(() => ecardTokenFromText('OC1:' + 'A'.repeat(2000)), { code: 'TERM_ERR_ECARD_FORMAT' });
  t.throws(() => encodeEcardBody({ ...body, region: '44030' }), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'region' } });
  t.throws(() => encodeEcardBody({ ...body, maskedName: '名'.repeat(17) }), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'maskedName' } });
  t.throws(() => encodeEcardBody({ ...body, ttl: 601 }), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'ttl' } });
});

t.test('random bytes and random text: no crash, only coded errors', async (t) => {
  const codes = new Set<string>();
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    const len = i % 160;
    const b = globalThis.crypto.getRandomValues(new Uint8Array(len));
    if (i % 2 === 0 && len > 1) {
      b[0] = 1;
      b[1] = 1;
    }
    try {
      if (i % 5 === 0) ecardTokenFromText('OC1:' + base32Encode(b));
      else decodeEcardToken(b);
      decoded++;
    } catch (e) {
      if (!(e instanceof TerminalError)) throw e;
      codes.add(e.code);
    }
  }
  t.ok([...codes].every((c) => c.startsWith('TERM_ERR_ECARD_')), [...codes].join(','));
  t.comment(`${decoded} structurally valid`);
});
