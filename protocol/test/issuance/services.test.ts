import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import * as iss from '../../src/issuance/index.ts';
import { rng } from '../ssc/fixtures/helpers.ts';
import { isProtocolError } from '../../src/errors.ts';

t.test('[SC-IF §3.1] iWriteCard_HSM_Step1 output and the step-2 key', async (t) => {
  const o = { algorithm: 3 as const, keyAddress: '0094', sessionFactor: fromHex('0102030405060708'), original: fromHex('1112131415161718') };
  const s = iss.formatHsmStep1(o);
  t.equal(s, '3|0094|0102030405060708|1112131415161718|');
  t.same(iss.parseHsmStep1(s), o);
  t.same(iss.parseHsmStep1(s.toLowerCase()), o);
  for (const [b, field] of [['2|0094|0102030405060708|1112131415161718|', 'algorithm'], ['3|94|0102030405060708|1112131415161718|', 'keyAddress'], ['3|0094|01020304050607|1112131415161718|', 'sessionFactor'], ['3|0094|0102030405060708|111213141516171G|', 'original'], ['3|0094|0102030405060708|1112131415161718', 'step1']] as const) {
    t.throws(() => iss.parseHsmStep1(b), { code: 'PROTO_ERR_ISSUANCE_RESPONSE', details: { field } }, b);
  }
  t.throws(() => iss.formatHsmStep1({ ...o, keyAddress: '94' }), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  const k = iss.parseHsmKey('427EE9C152287A4C1112131415161718', o.original);
  t.equal(toHex(k.authData), '427EE9C152287A4C');
  t.throws(() => iss.parseHsmKey('427EE9C152287A4C0102030405060708', o.original), { code: 'PROTO_ERR_ISSUANCE_RESPONSE', details: { field: 'original' } }, 'answer for another challenge');
  t.throws(() => iss.parseHsmKey('427EE9C1', o.original), { code: 'PROTO_ERR_ISSUANCE_RESPONSE' });
});

t.test('bounded random strings: the step-1 parser throws only coded errors', async (t) => {
  const bytes = rng(4);
  const alphabet = '0123456789ABCDEF|x';
  let ok = 0;
  for (let i = 0; i < 5000; i++) {
    const b = bytes(1 + (i % 44));
    const s = i % 5 === 0 ? `3|0094|${toHex(bytes(8))}|${toHex(bytes(8))}|` : Array.from(b, (x) => alphabet[x % alphabet.length]).join('');
    try {
      iss.parseHsmStep1(s);
      ok++;
    } catch (err) {
      if (!isProtocolError(err, 'PROTO_ERR_ISSUANCE_RESPONSE')) throw err;
    }
  }
  t.ok(ok >= 1000);
});
