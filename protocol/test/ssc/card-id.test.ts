import t from 'tap';
import { decodeCardId, encodeCardId, parseCardIdHex } from '../../src/ssc/card-id.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { fuzz } from './fixtures/helpers.ts';

t.test('[V2 §8.1.1.1] spec example 639900 D156000005 00BF7C7A 48FB4966', async (t) => {
  const id = decodeCardId(fromHex('639900D15600000500BF7C7A48FB4966'));
  t.same(id, { regionCode: '639900', serial: '00BF7C7A', authCode: '48FB4966', hex: '639900D15600000500BF7C7A48FB4966' });
  t.equal(toHex(encodeCardId(id)), id.hex);
  t.equal(parseCardIdHex('639900d15600000500bf7c7a48fb4966').regionCode, '639900');
  t.equal(decodeCardId(fromHex('310000D15600000512345678FFFFFFFF')).authCode, 'FFFFFFFF');
});

t.test('[V2 table 10] bad card IDs', async (t) => {
  t.throws(() => decodeCardId(fromHex('639900D15600000500BF7C7A48FB49')), { code: 'PROTO_ERR_SSC_CARD_ID' });
  t.throws(() => decodeCardId(fromHex('6399A0D15600000500BF7C7A48FB4966')), { code: 'PROTO_ERR_SSC_CARD_ID', details: { field: 'regionCode' } });
  t.throws(() => decodeCardId(fromHex('639900D15600000600BF7C7A48FB4966')), { code: 'PROTO_ERR_SSC_CARD_ID', details: { field: 'applicationId' } });
  t.throws(() => parseCardIdHex('639900'), { code: 'PROTO_ERR_SSC_CARD_ID' });
  t.throws(() => encodeCardId({ regionCode: '63990', serial: '00000000', authCode: '00000000' }), { code: 'PROTO_ERR_SSC_CARD_ID' });
  t.throws(() => encodeCardId({ regionCode: '639900', serial: '0000000G', authCode: '00000000' }), { code: 'PROTO_ERR_SSC_CARD_ID' });
});

t.test('random bytes: decodeCardId round-trips or fails with a coded error', async (t) => {
  const r = fuzz((b) => {
    const x = b.length === 16 ? Uint8Array.of(0x63, 0x99, 0x00, 0xd1, 0x56, 0, 0, 5, ...b.subarray(8)) : b;
    const id = decodeCardId(x);
    if (toHex(encodeCardId(id)) !== toHex(x)) throw new Error('round trip');
  }, { maxLen: 20, biasLen: 16 });
  t.ok(r.ok > 1000);
});
