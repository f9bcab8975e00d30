import t from 'tap';
import { fromHex, toHex, concat, equalBytes, timingSafeEqualBytes, xorBytes } from '../src/bytes.ts';
import { isProtocolError } from '../src/errors.ts';

t.test('hex round trip', async (t) => {
  t.equal(toHex(fromHex('00 a0:ff\n7F')), '00A0FF7F');
  t.same([...fromHex('')], []);
  for (let i = 0; i < 200; i++) {
    const b = new Uint8Array(i).map(() => (Math.random() * 256) | 0);
    t.ok(equalBytes(fromHex(toHex(b)), b));
  }
});

t.test('bad hex fails with PROTO_ERR_HEX', async (t) => {
  for (const bad of ['0', 'GG', '0x00', 'abc']) {
    t.throws(() => fromHex(bad), { name: 'ProtocolError', code: 'PROTO_ERR_HEX' }, bad);
    try { fromHex(bad); } catch (e) { t.ok(isProtocolError(e, 'PROTO_ERR_HEX')); }
  }
});

t.test('concat, compare, xor', async (t) => {
  t.equal(toHex(concat(fromHex('01'), new Uint8Array(0), fromHex('0203'))), '010203');
  t.notOk(equalBytes(fromHex('01'), fromHex('0102')));
  t.ok(timingSafeEqualBytes(fromHex('0102'), fromHex('0102')));
  t.notOk(timingSafeEqualBytes(fromHex('0102'), fromHex('0103')));
  t.equal(toHex(xorBytes(fromHex('F0F0'), fromHex('0FF0'))), 'FF00');
});
