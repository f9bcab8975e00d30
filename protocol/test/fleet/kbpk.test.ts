// KBPK derivation (ECDH P-256 + HKDF-SHA256) and the key-set check value. [ONECARD key-blocks §9]
import t from 'tap';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { toHex } from '../../src/bytes.ts';
import { deriveKbpk, ecdhHkdf, keySetCheckValue, KBPK_INFO } from '../../src/fleet/kbpk.ts';

// Same fixed keys and OpenSSL-computed vector as the terminal's test.
const A_PRIV = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHs6Z2BzoBG8pzMS8
kLKc9uwmpqPYBy+OTC6pNJuyNwyhRANCAATC0hlb8aL5nFRuQ5qdZyQW93IKO81M
RHuZBPjp8oFP/mta0pHmCtuyqMREW+CtCDFGmCofX12/1Klir1tAHN3V
-----END PRIVATE KEY-----`;
const B_PUB_B64 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFoe5t0hh8NWnEkIFUNi5zY39ZZi6XBS5pce7wUamEruckp+n6Mv1IxnyQlWOm6PmbzosXJwwQozURsybKuRwAg==';
const KBPK_VECTOR = '22D0BE50124D5A96F88C86B997B325BE1F40E60BA2BFB1CA03B11DEE58FA7F3D';

t.test('[ONECARD KBPK] known answer, symmetry, input forms, coded failures', async (t) => {
  t.equal(KBPK_INFO, 'OneCard KBPK v1 TR-31 K1 AES-256');
  t.equal(toHex(deriveKbpk(A_PRIV, B_PUB_B64, 'Tdeadbeef00112233')).toUpperCase(), KBPK_VECTOR);
  t.equal(toHex(deriveKbpk(A_PRIV, new Uint8Array(Buffer.from(B_PUB_B64, 'base64')), 'Tdeadbeef00112233')).toUpperCase(), KBPK_VECTOR, 'DER bytes');
  t.equal(toHex(deriveKbpk(A_PRIV, createPublicKey({ key: Buffer.from(B_PUB_B64, 'base64'), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString(), 'Tdeadbeef00112233')).toUpperCase(), KBPK_VECTOR, 'PEM');
  const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  t.same(deriveKbpk(a.privateKey, b.publicKey, 'T1'), deriveKbpk(b.privateKey, a.privateKey, 'T1'), 'both sides agree (a private key stands for its public key)');
  t.throws(() => deriveKbpk(A_PRIV, B_PUB_B64, ''), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => deriveKbpk('junk', B_PUB_B64, 'T1'), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => deriveKbpk(generateKeyPairSync('x25519').privateKey, B_PUB_B64, 'T1'), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => deriveKbpk(A_PRIV, generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey, 'T1'), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.equal(ecdhHkdf(a.privateKey, b.publicKey, new Uint8Array(0), 'x', 16).length, 16);
  t.notSame(ecdhHkdf(a.privateKey, b.publicKey, new Uint8Array(0), 'x', 32), ecdhHkdf(a.privateKey, b.publicKey, new Uint8Array(0), 'y', 32), 'info separates uses');
  let n = 0;
  for (let i = 0; i < 200; i++) {
    try { deriveKbpk(A_PRIV, new Uint8Array(randomBytes(1 + (i % 120))), 'T1'); } catch (e) { if ((e as { code?: string }).code === 'PROTO_ERR_FLEET_KBPK') n++; else throw e; }
  }
  t.equal(n, 200, 'random public keys: only coded errors');
});

t.test('[ONECARD] key-set check value', async (t) => {
  const e = [{ usage: '61', keyVersion: 1, algorithmId: 0, kcv: '7985ea' }, { usage: '62', keyVersion: 1, algorithmId: 0, kcv: 'EAD847' }];
  const expected = createHash('sha256').update('OneCard key set v1\n61:01:00:7985EA\n62:01:00:EAD847').digest('hex').slice(0, 6).toUpperCase();
  t.equal(keySetCheckValue(e), expected);
  t.equal(keySetCheckValue([e[1]!, e[0]!]), expected, 'order-independent');
  t.not(keySetCheckValue([e[0]!]), expected);
  t.not(keySetCheckValue([e[0]!, { ...e[1]!, keyVersion: 2 }]), expected, 'slot matters');
  t.match(keySetCheckValue(e), /^[0-9A-F]{6}$/);
  t.throws(() => keySetCheckValue([]), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => keySetCheckValue([{ ...e[0]!, kcv: 'xyz' }]), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => keySetCheckValue([{ ...e[0]!, keyVersion: 256 }]), { code: 'PROTO_ERR_FLEET_KBPK' });
  t.throws(() => keySetCheckValue([{ ...e[0]!, usage: '6' }]), { code: 'PROTO_ERR_FLEET_KBPK' });
});
