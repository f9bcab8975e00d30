import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { sm3 } from '../../src/crypto/sm3.ts';
import * as iss from '../../src/issuance/index.ts';
import { apduHex, fuzz } from '../ssc/fixtures/helpers.ts';

const R = fromHex('00112233445566778899AABBCCDDEEFF');

t.test('[issuance §8.4] SM3 PIN hash and VERIFY data vector', async (t) => {
  t.equal(toHex(sm3(fromHex('123456'))), '3DE741F445DD357BEA4E6C3FE6437036F62B5E3EC0F00D62796EDB4305ED627F');
  const k = iss.caPinKey('user', '123456');
  t.equal(toHex(k), '3DE741F445DD357BEA4E6C3FE6437036');
  t.equal(apduHex(iss.caVerify('user', k, R)), '0020018110' + '4794C07B485910BBA3B6CADA20F62211');
  t.equal(apduHex(iss.caVerify('admin', k, R)).slice(0, 10), '0020010010');
  t.equal(toHex(iss.parseCaPinHash(sm3(fromHex('123456')))), toHex(k));
  t.equal(apduHex(iss.caVerify('user', k, R.subarray(0, 8))).slice(10), toHex(iss.caVerify('user', k, fromHex('0011223344556677' + '0000000000000000')).data!), '8-byte challenge ‖ 8 × 00');
});

t.test('[issuance §8.4] master-key change vector (E and MAC)', async (t) => {
  const oldKey = fromHex('A0A1A2A3A4A5A6A7A8A9AAABACADAEAF');
  const newKey = fromHex('B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF');
  t.equal(apduHex(iss.caChangeMasterKey(oldKey, newKey, R)), '84D4010024' + '5CE95A5A1CCD5579499DBAB034010D791EE6E5F150FCB99E4A9C605D283B8156' + 'E4438DBA');
  t.throws(() => iss.caChangeMasterKey(oldKey, oldKey, R), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.caChangeMasterKey(oldKey, newKey, R.subarray(0, 4)), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.equal(apduHex(iss.caExternalAuthenticate(oldKey, R)).slice(0, 10), '0082000010');
});

t.test('[issuance §8.2] fixed command headers', async (t) => {
  t.equal(apduHex(iss.caPinHash('user', '123456')), '80C4010305C10312345600');
  t.equal(apduHex(iss.caPinHash('admin', '12345678')), '80C4010306C1041234567800');
  t.throws(() => iss.caPinHash('user', '12345'), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.caPinHash('admin', '123456'), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.equal(apduHex(iss.caGenerateKeyPair()), '8040000008C0020012C2020013');
  t.same(iss.caExportPublicKey().map(apduHex), ['80C9820008C0020012C2020013', '80C9828042']);
  t.equal(apduHex(iss.caImportSessionKey(new Uint8Array(16))), '804A021012C110' + '00'.repeat(16));
  t.equal(apduHex(iss.caImportPublicKey(new Uint8Array(64))).slice(0, 22), '80C2400046C0020014CA40');
  t.equal(apduHex(iss.caImportPrivateKey(new Uint8Array(32))).slice(0, 22), '80C2C00126C2020015CB20');
  t.equal(apduHex(iss.caSm2Decrypt({ c1: new Uint8Array(64), c3: new Uint8Array(32), c2: new Uint8Array(16) })).slice(0, 26), '804E000178C2020013C1820070');
  const admin = iss.caChangeAdminPin(iss.caPinKey('admin', '12345678'), '87654321', R);
  t.equal(apduHex(admin).slice(0, 10), '845E010014');
  t.equal(admin.data!.length, 20);
  const cert = iss.caWriteCertificate('enc', new Uint8Array(300));
  t.same(cert.map((c) => apduHex(c).slice(0, 10)), ['00A4000002', '00D6000070', '00D6007070', '00D600E04C']);
  t.equal(apduHex(cert[0]!), '00A40000020019');
  t.throws(() => iss.caWriteCertificate('sign', new Uint8Array(0)), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.equal(toHex(iss.parseCaPublicKey(fromHex('0440' + 'AB'.repeat(64)))), 'AB'.repeat(64));
  t.throws(() => iss.parseCaPublicKey(new Uint8Array(65)), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
});

t.test('[issuance §8.3] ENVELOPEDKEYBLOB offsets round trip', async (t) => {
  const part = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
  const e = { encryptedPrivateKey: part(32, 1), publicKey: fromHex('02'.repeat(32) + '03'.repeat(32)), c1: fromHex('04'.repeat(32) + '05'.repeat(32)), c3: part(32, 6), c2: part(16, 7) };
  const blob = iss.encodeCaEnvelope(e);
  t.equal(blob.length, 388);
  t.equal(blob[44], 1);
  t.equal(blob[112], 2);
  t.equal(blob[176], 3);
  t.equal(blob[240], 4);
  t.equal(blob[304], 5);
  t.equal(blob[336], 6);
  t.equal(blob[372], 7);
  t.same(iss.parseCaEnvelope(blob), e);
  const bad = blob.slice();
  bad[368] = 17;
  t.throws(() => iss.parseCaEnvelope(bad), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
  t.throws(() => iss.parseCaEnvelope(blob.subarray(0, 387)), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
  const r = fuzz((b) => iss.parseCaEnvelope(b), { maxLen: 400, biasLen: 388, count: 3000 });
  t.same([...r.codes], ['PROTO_ERR_ISSUANCE_RESPONSE']);
});
