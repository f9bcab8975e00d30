import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sm2Sign, sm2Verify, sm2PublicKey, sm2Za, sm2GenerateKeyPair, sm2SignatureToDer, sm2SignatureFromDer, sm2ValidatePublicKey, SM2_DEFAULT_ID } from '../../src/crypto/index.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';

// [GM/T 0003.5 example] recommended curve, message "message digest", fixed k
const D = fromHex('3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8');
const PUB = '0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13';
const K = 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n;
const MSG = new TextEncoder().encode('message digest');

t.test('[GB/T 32918.2 §6.1] standard example: public key, r and s with the default ID', async (t) => {
  t.equal(toHex(sm2PublicKey(D)), PUB);
  const sig = sm2Sign(D, MSG, { k: K });
  t.equal(toHex(sig), 'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA');
  t.ok(sm2Verify(fromHex(PUB), MSG, sig));
  t.equal(toHex(SM2_DEFAULT_ID), '31323334353637383132333435363738');
});

t.test('[GB/T 32918.2 §5.5] the ID enters Z_A: example with ID ALICE123@YAHOO.COM', async (t) => {
  const id = new TextEncoder().encode('ALICE123@YAHOO.COM');
  const sig = sm2Sign(D, MSG, { k: K, id });
  t.equal(toHex(sig), 'B0E3E7D4AC2178F833AD73FA9D1191E41C76C8BFEDB5AD89040BA2E5184BDE58CC8D096578F7DD2669AC1AC42F7E722BCFA42B9E0BE0B1B5DF7CA0B53FDD5750');
  t.ok(sm2Verify(fromHex(PUB), MSG, sig, { id }));
  t.notOk(sm2Verify(fromHex(PUB), MSG, sig), 'same signature fails under the default ID');
  t.not(toHex(sm2Za(fromHex(PUB), id)), toHex(sm2Za(fromHex(PUB))));
});

t.test('[GB/T 32918.2 §7.1] round trips with random keys and k; tampering fails', async (t) => {
  for (let i = 0; i < 6; i++) {
    const { privateKey, publicKey } = sm2GenerateKeyPair();
    const msg = globalThis.crypto.getRandomValues(new Uint8Array(i * 13));
    const sig = sm2Sign(privateKey, msg);
    t.ok(sm2Verify(publicKey, msg, sig), `pair ${i}`);
    const badSig = sig.slice();
    badSig[i * 7]! ^= 0x01;
    t.notOk(sm2Verify(publicKey, msg, badSig), 'flipped signature bit');
    const badMsg = concatOne(msg, 0);
    t.notOk(sm2Verify(publicKey, badMsg, sig), 'extended message');
    t.notOk(sm2Verify(sm2GenerateKeyPair().publicKey, msg, sig), 'other key');
  }
});

function concatOne(a: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(a.length + 1);
  out.set(a);
  out[a.length] = b;
  return out;
}

t.test('[GB/T 32918.2 §7.1 B1-B2] out-of-range r and s fail without throwing', async (t) => {
  const pub = fromHex(PUB);
  t.notOk(sm2Verify(pub, MSG, new Uint8Array(64)), 'r = s = 0');
  t.notOk(sm2Verify(pub, MSG, new Uint8Array(64).fill(0xff)), 'r, s ≥ n');
  t.notOk(sm2Verify(pub, MSG, new Uint8Array(63)), 'short');
  t.notOk(sm2Verify(pub, MSG, new Uint8Array(65)), 'long');
});

t.test('[GB/T 32918.1 §6.2.1] bad keys are coded errors', async (t) => {
  t.throws(() => sm2PublicKey(new Uint8Array(31)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => sm2PublicKey(new Uint8Array(32)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => sm2PublicKey(fromHex('FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122')), { code: 'PROTO_ERR_CRYPTO_PARAM' }, 'd = n-1');
  const offCurve = fromHex(PUB);
  offCurve[64]! ^= 1;
  t.throws(() => sm2Verify(offCurve, MSG, new Uint8Array(64)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => sm2ValidatePublicKey(fromHex(PUB).subarray(1)), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  const compressed = fromHex(PUB);
  compressed[0] = 0x02;
  t.throws(() => sm2ValidatePublicKey(compressed), { code: 'PROTO_ERR_CRYPTO_KEY_LENGTH' });
  t.throws(() => sm2Za(fromHex(PUB), new Uint8Array(8192)), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => sm2Sign(D, MSG, { k: 0n }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});

t.test('DER signature encoding: round trip, strictness, random bytes', async (t) => {
  const sig = sm2Sign(D, MSG, { k: K });
  const der = sm2SignatureToDer(sig);
  t.equal(toHex(der), '3046022100F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3022100B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA');
  t.same(sm2SignatureFromDer(der), sig);
  const small = new Uint8Array(64);
  small[31] = 1;
  small[63] = 0x7f;
  t.equal(toHex(sm2SignatureToDer(small)), '300602010102017F');
  t.same(sm2SignatureFromDer(sm2SignatureToDer(small)), small);
  t.throws(() => sm2SignatureFromDer(concatOne(der, 0)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' }, 'trailing byte');
  t.throws(() => sm2SignatureFromDer(fromHex('3006020200010201 7F'.replace(/ /g, ''))), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' }, 'non-minimal');
  t.throws(() => sm2SignatureFromDer(fromHex('300602018102017F')), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' }, 'negative');
  t.throws(() => sm2SignatureToDer(new Uint8Array(10)), { code: 'PROTO_ERR_CRYPTO_DATA_LENGTH' });
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    const len = i % 80;
    const b = globalThis.crypto.getRandomValues(new Uint8Array(len));
    if (i % 3 === 0 && len > 2) {
      b[0] = 0x30;
      b[1] = len - 2;
    }
    try {
      sm2SignatureFromDer(b);
      ok++;
    } catch (e) {
      if (!isProtocolError(e, 'PROTO_ERR_CRYPTO_DATA_LENGTH')) throw e;
    }
  }
  t.pass(`20000 random inputs, ${ok} decoded, the rest coded errors`);
});

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const hasOpenssl = openssl.status === 0 && spawnSync('openssl', ['genpkey', '-algorithm', 'SM2'], { encoding: 'utf8' }).status === 0;

t.test('OpenSSL cross-check (distid 1234567812345678, SM3)', { skip: hasOpenssl ? false : 'openssl without SM2' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm2-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): { status: number | null; out: string } => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  t.equal(run(['genpkey', '-algorithm', 'SM2', '-out', 'k.pem']).status, 0);
  t.equal(run(['pkey', '-in', 'k.pem', '-outform', 'DER', '-out', 'k.der']).status, 0);
  t.equal(run(['pkey', '-in', 'k.pem', '-pubout', '-out', 'p.pem']).status, 0);
  t.equal(run(['pkey', '-in', 'k.pem', '-pubout', '-outform', 'DER', '-out', 'p.der']).status, 0);
  const kder = new Uint8Array(readFileSync(join(dir, 'k.der')));
  const marker = toHex(kder).indexOf('020101' + '0420');
  t.ok(marker >= 0 && marker % 2 === 0, 'ECPrivateKey inside the PKCS#8');
  const d = kder.subarray(marker / 2 + 5, marker / 2 + 37);
  const pder = new Uint8Array(readFileSync(join(dir, 'p.der')));
  const pub = pder.subarray(pder.length - 65);
  t.same(sm2PublicKey(d), pub, 'same public key as OpenSSL');
  const msg = new TextEncoder().encode('OneCard e-card QR cross-check');
  writeFileSync(join(dir, 'm.bin'), msg);
  // OneCard signs, OpenSSL verifies
  writeFileSync(join(dir, 'ours.der'), sm2SignatureToDer(sm2Sign(d, msg)));
  const v = run(['pkeyutl', '-verify', '-in', 'm.bin', '-rawin', '-digest', 'sm3', '-pubin', '-inkey', 'p.pem', '-pkeyopt', 'distid:1234567812345678', '-sigfile', 'ours.der']);
  t.equal(v.status, 0, v.out);
  t.match(v.out, /Signature Verified Successfully/);
  // OpenSSL signs, OneCard verifies
  const s = run(['pkeyutl', '-sign', '-in', 'm.bin', '-rawin', '-digest', 'sm3', '-inkey', 'k.pem', '-pkeyopt', 'distid:1234567812345678', '-out', 'theirs.der']);
  t.equal(s.status, 0, s.out);
  const theirs = sm2SignatureFromDer(new Uint8Array(readFileSync(join(dir, 'theirs.der'))));
  t.ok(sm2Verify(pub, msg, theirs));
  t.notOk(sm2Verify(pub, msg, theirs, { id: new TextEncoder().encode('1234567812345679') }), 'other ID fails');
});
