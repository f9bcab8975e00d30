import t from 'tap';
import { fromHex } from '@onecard/protocol/bytes';
import { sm2Verify } from '@onecard/protocol/crypto';
import { issueEcardCode, ecardIssuerPublicKey, keyboardWedgeReports, serialScannerBytes, createWedgeScanner, startEcardService, TEST_ECARD_ISSUER_PRIVATE_KEY } from '../../src/ecard/index.ts';

const clock = (): number => Date.UTC(2026, 0, 1);
const KEY = TEST_ECARD_ISSUER_PRIVATE_KEY;

t.test('[ONECARD ecard-qr §2] issued codes: layout and a valid SM2 signature', async (t) => {
  const r = issueEcardCode({ holderRef: 'holder-42', ssn: '110101199003071234', name: '张三', region: '110100' }, { key: KEY, clock });
  t.match(r.code, /^OC1:[A-Z2-7]+$/);
  t.equal(r.bytes[0], 1);
  t.equal(r.bytes[1], 1);
  t.equal(r.expiresAt - r.issuedAt, 60);
  t.equal(r.bytes[24], 9, 'text holder reference as UTF-8');
  const signed = r.bytes.subarray(0, r.bytes.length - 64);
  t.ok(sm2Verify(fromHex(ecardIssuerPublicKey(KEY)), signed, r.bytes.subarray(r.bytes.length - 64)));
  t.notMatch(new TextDecoder().decode(r.bytes), /199003071234|张三/, 'only masked data');
  const r2 = issueEcardCode({ holderRef: 'holder-42', region: '110100' }, { key: KEY, clock });
  t.not(r2.nonce, r.nonce, 'fresh nonce per code');
  t.throws(() => issueEcardCode({ holderRef: 'x', region: '1101' }, { key: KEY, clock }), { code: 'SIM_ERR_ECARD_HOLDER', details: { field: 'region' } });
  t.throws(() => issueEcardCode({ holderRef: 'x'.repeat(33), region: '110100' }, { key: KEY, clock }), { code: 'SIM_ERR_ECARD_HOLDER', details: { field: 'holderRef' } });
  t.throws(() => issueEcardCode({ holderRef: 'x', region: '110100' }, { key: KEY, clock, ttlSeconds: 0 }), { code: 'SIM_ERR_ECARD_HOLDER', details: { field: 'ttlSeconds' } });
  t.throws(() => issueEcardCode({ holderRef: 'x', region: '110100' }, { key: '00', clock }), { code: 'SIM_ERR_ECARD_KEY' });
});

t.test('[HID 1.11 App. B.1] wedge reports and serial bytes', async (t) => {
  const reps = keyboardWedgeReports('aB:');
  t.same(reps.map((r) => Array.from(r.subarray(0, 3))), [[0, 0, 0x04], [0, 0, 0], [2, 0, 0x05], [0, 0, 0], [2, 0, 0x33], [0, 0, 0], [0, 0, 0x28], [0, 0, 0]]);
  t.equal(keyboardWedgeReports('a', { reportId: 1 })[0]!.length, 9);
  t.throws(() => keyboardWedgeReports('é'), { code: 'SIM_ERR_ECARD_SCANNER' });
  t.same(Array.from(serialScannerBytes('A1')), [0x41, 0x31, 0x0d]);
  const dev = createWedgeScanner();
  const got: Buffer[] = [];
  dev.on('data', (b: Buffer) => got.push(b));
  await dev.scan('Hi');
  t.equal(got.length, 6);
  const errs: Error[] = [];
  dev.on('error', (e: Error) => errs.push(e));
  dev.unplug();
  t.equal(errs.length, 1);
  await t.rejects(dev.scan('x'), { code: 'SIM_ERR_ECARD_DEVICE' });
  await t.rejects(dev.write([0]), { code: 'SIM_ERR_ECARD_DEVICE' });
});

t.test('mock verification service: single use, expiry, unknown, bad requests', async (t) => {
  let now = Date.UTC(2026, 0, 1);
  const svc = await startEcardService({ key: KEY, clock: () => now });
  t.teardown(() => svc.close());
  t.match(svc.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(svc.url + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const a = svc.issue({ holderRef: '01', region: '110100' });
  t.same((await post('/verify', { code: a.code })).json, { status: 'ok' });
  t.same((await post('/verify', { code: a.code })).json, { status: 'used' });
  const b = svc.issue({ holderRef: '02', region: '110100' });
  now += 66_000;
  t.same((await post('/verify', { code: b.code })).json, { status: 'expired' });
  t.same((await post('/verify', { code: 'OC1:AAAA' })).json, { status: 'unknown' });
  t.equal((await post('/verify', {})).status, 400);
  t.equal((await post('/verify', '{')).status, 400);
  t.equal((await post('/other', {})).status, 404);
  t.equal((await post('/issue', { holderRef: '03', region: 'x' })).status, 400);
  t.equal(svc.publicKey, ecardIssuerPublicKey(KEY));
});
