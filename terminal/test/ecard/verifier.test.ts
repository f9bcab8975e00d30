import t from 'tap';
import { issueEcardCode, ecardIssuerPublicKey, startEcardService, createWedgeScanner, serialScannerBytes, TEST_ECARD_ISSUER_PRIVATE_KEY, type EcardHolder } from '@onecard/simulators';
import { fromHex } from '@onecard/protocol/bytes';
import { sm2GenerateKeyPair } from '@onecard/protocol/crypto';
import { base32Decode, base32Encode, createEcardVerifier, createHttpOnlineVerifier, createSerialLineDecoder, createWedgeDecoder, ECARD_PREFIX, type EcardOnlineVerifier } from '../../src/ecard/index.ts';

const KEY = TEST_ECARD_ISSUER_PRIVATE_KEY;
const PUB = fromHex(ecardIssuerPublicKey(KEY));
const HOLDER: EcardHolder = { holderRef: 'A1B2C3D4E5F60718', ssn: '440301199001011234', name: '王小明', region: '440300', purpose: 'enquiry' };

function fakeClock(start = Date.UTC(2026, 2, 1, 9, 0, 0)): { now: () => number; advance: (s: number) => void } {
  let ms = start;
  return { now: () => ms, advance: (s) => void (ms += s * 1000) };
}

t.test('[ONECARD ecard-qr §4] a fresh code verifies offline and names the holder (masked)', async (t) => {
  const clock = fakeClock();
  const v = createEcardVerifier({ keys: [{ publicKey: PUB, label: 'test-platform' }], clock: clock.now });
  const { code } = issueEcardCode(HOLDER, { key: KEY, clock: clock.now });
  const id = await v.verify(code);
  t.match(id, { holderRef: 'A1B2C3D4E5F60718', maskedId: '440*************34', maskedName: '王**', region: '440300', purpose: 'enquiry', keyLabel: 'test-platform', online: 'skipped' });
  t.equal(id.issuedAt, '2026-03-01T09:00:00.000Z');
  t.equal(id.expiresAt, '2026-03-01T09:01:00.000Z');
  t.notMatch(JSON.stringify(id), /199001011234|王小明/, 'no full personal data in the result');
});

t.test('[ONECARD ecard-qr §4.3] validity window with skew tolerance', async (t) => {
  const clock = fakeClock();
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, skewSeconds: 5 });
  const issue = (): string => issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code;
  let c = issue();
  clock.advance(65); // 60 s + 5 s skew: still accepted
  await t.resolves(v.verify(c));
  c = issue();
  clock.advance(66);
  await t.rejects(v.verify(c), { code: 'TERM_ERR_ECARD_EXPIRED' });
  c = issue();
  clock.advance(-5); // terminal 5 s behind the issuer: accepted
  await t.resolves(v.verify(c));
  c = issue();
  clock.advance(-6);
  await t.rejects(v.verify(c), { code: 'TERM_ERR_ECARD_NOT_YET_VALID' });
  const long = issueEcardCode(HOLDER, { key: KEY, clock: clock.now, ttlSeconds: 600 }).code;
  await t.rejects(v.verify(long), { code: 'TERM_ERR_ECARD_MALFORMED', details: { field: 'ttl' } }, 'longer validity than the terminal accepts');
});

t.test('[ONECARD ecard-qr §4.4] replay refused; the nonce cache is bounded by expiry and size', async (t) => {
  const clock = fakeClock();
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, replayCacheSize: 3 });
  const c = issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code;
  await v.verify(c);
  await t.rejects(v.verify(c), { code: 'TERM_ERR_ECARD_REPLAYED' });
  await t.rejects(v.verify(c.toLowerCase()), { code: 'TERM_ERR_ECARD_REPLAYED' }, 'same code in lower case');
  for (let i = 0; i < 2; i++) await v.verify(issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code);
  t.equal(v.replayCacheSize(), 3);
  await t.rejects(v.verify(issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code), { code: 'TERM_ERR_ECARD_REPLAY_CACHE_FULL' });
  clock.advance(66);
  t.equal(v.replayCacheSize(), 0, 'expired nonces are forgotten');
  await t.resolves(v.verify(issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code));
  // a replayed old code is still refused: by the time check
  await t.rejects(v.verify(c), { code: 'TERM_ERR_ECARD_EXPIRED' });
});

t.test('[GB/T 32918.2 §7.1] tampered, forged and unknown-key codes', async (t) => {
  const clock = fakeClock();
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now });
  const { bytes } = issueEcardCode(HOLDER, { key: KEY, clock: clock.now });
  for (const off of [6, 13, 20, 30, bytes.length - 70, bytes.length - 1]) {
    const b = bytes.slice();
    b[off] = b[off]! ^ (off === 20 ? 0x03 : 0x01);
    await t.rejects(v.verify(ECARD_PREFIX + base32Encode(b)), { code: /TERM_ERR_ECARD_(SIGNATURE|MALFORMED)/ }, `byte ${off} flipped`);
  }
  const forgedKey = sm2GenerateKeyPair().privateKey;
  const other = issueEcardCode(HOLDER, { key: forgedKey, clock: clock.now });
  await t.rejects(v.verify(other.code), { code: 'TERM_ERR_ECARD_UNKNOWN_KEY' });
  // forged: right key ID, wrong signer
  const forged = other.bytes.slice();
  forged.set(bytes.subarray(2, 6), 2);
  await t.rejects(v.verify(ECARD_PREFIX + base32Encode(forged)), { code: 'TERM_ERR_ECARD_SIGNATURE' });
  await t.rejects(v.verify('not a code'), { code: 'TERM_ERR_ECARD_FORMAT' });
  t.equal(v.replayCacheSize(), 0, 'nothing rejected was remembered');
  t.throws(() => createEcardVerifier({ keys: [{ publicKey: new Uint8Array(65) }], clock: clock.now }), { code: 'TERM_ERR_INVALID_ARGUMENT' });
  const onlyPay = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, purposes: ['payment'] });
  await t.rejects(onlyPay.verify(issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code), { code: 'TERM_ERR_INVALID_ARGUMENT' });
  t.ok(base32Decode('AA').length === 1);
});

t.test('[ONECARD ecard-qr §5] online confirmation through the mock service (single use)', async (t) => {
  const clock = fakeClock(Date.now());
  const svc = await startEcardService({ key: KEY, clock: clock.now });
  t.teardown(() => svc.close());
  const online = createHttpOnlineVerifier({ url: `${svc.url}/verify` });
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online, onlineMode: 'required' });
  const a = svc.issue(HOLDER);
  t.match(await v.verify(a.code), { online: 'confirmed' });
  // a second terminal (own replay cache) is refused by the platform: single use
  const v2 = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online });
  await t.rejects(v2.verify(a.code), { code: 'TERM_ERR_ECARD_ONLINE_REJECTED', details: { status: 'used' } });
  const b = svc.issue({ ...HOLDER, holderRef: 'DEADBEEF' });
  svc.revoke('deadbeef');
  await t.rejects(v.verify(b.code), { code: 'TERM_ERR_ECARD_ONLINE_REJECTED', details: { status: 'revoked' } });
  const notIssuedThere = issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code;
  await t.rejects(v.verify(notIssuedThere), { code: 'TERM_ERR_ECARD_ONLINE_REJECTED', details: { status: 'unknown' } });
  t.same(svc.counts, { ok: 1, used: 1, revoked: 1, unknown: 1 });
  // the service down: required → unavailable error; best-effort → noted
  const down: EcardOnlineVerifier = { confirm: async () => Promise.reject(new Error('ECONNREFUSED')) };
  const req = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online: down, onlineMode: 'required' });
  await t.rejects(req.verify(svc.issue(HOLDER).code), { code: 'TERM_ERR_ECARD_ONLINE_UNAVAILABLE' });
  const best = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online: down });
  t.match(await best.verify(svc.issue(HOLDER).code), { online: 'unavailable' });
  // HTTP-level: service answers 404 for a wrong path → unavailable
  const wrong = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now, online: createHttpOnlineVerifier({ url: `${svc.url}/nope` }), onlineMode: 'required' });
  await t.rejects(wrong.verify(svc.issue(HOLDER).code), { code: 'TERM_ERR_ECARD_ONLINE_UNAVAILABLE' });
  // issue over HTTP
  const res = await fetch(`${svc.url}/issue`, { method: 'POST', body: JSON.stringify(HOLDER) });
  const issued = (await res.json()) as { code: string };
  t.match(await v.verify(issued.code), { online: 'confirmed', maskedName: '王**' });
});

t.test('[reader-link §11.2] end to end: simulated wedge scanner → decoder → verifier', async (t) => {
  const clock = fakeClock();
  const v = createEcardVerifier({ keys: [{ publicKey: PUB }], clock: clock.now });
  const scanner = createWedgeScanner();
  const dec = createWedgeDecoder();
  const lines: string[] = [];
  scanner.on('data', (r: Buffer) => {
    for (const item of dec.push(new Uint8Array(r))) if ('text' in item) lines.push(item.text);
  });
  const { code } = issueEcardCode(HOLDER, { key: KEY, clock: clock.now });
  await scanner.scan(code);
  t.same(lines, [code]);
  t.match(await v.verify(lines[0]!), { holderRef: 'A1B2C3D4E5F60718' });
  const serial = createSerialLineDecoder();
  const c2 = issueEcardCode(HOLDER, { key: KEY, clock: clock.now }).code;
  const bytes = serialScannerBytes(c2, '\r\n');
  const got = [...serial.push(bytes.subarray(0, 17)), ...serial.push(bytes.subarray(17))];
  t.same(got, [{ text: c2 }]);
  await t.resolves(v.verify(c2));
});
