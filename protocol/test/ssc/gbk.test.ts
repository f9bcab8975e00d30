import t from 'tap';
import { decodeGbk, encodeGbk, isGbkEncodable } from '../../src/ssc/gbk.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { fuzz } from './fixtures/helpers.ts';

t.test('[P6 table 1] 社会保障 is C9E7 BBE1 B1A3 D5CF in GBK', async (t) => {
  t.equal(toHex(encodeGbk('sx1.sh.社会保障')), '7378312E73682EC9E7BBE1B1A3D5CF');
  t.equal(decodeGbk(fromHex('C9E7BBE1B1A3D5CF')), '社会保障');
});

t.test('names round trip: common, compound surname, minority with middle dot, rare characters', async (t) => {
  for (const name of ['张三', '欧阳娜娜', '阿卜杜热合曼·买买提', '堃', '喆', '昇', '犇', '龑', '赟', '珺', '亓官禤', 'Li Lei']) {
    t.ok(isGbkEncodable(name), name);
    t.equal(decodeGbk(encodeGbk(name)), name, name);
  }
  t.equal(toHex(encodeGbk('张三')), 'D5C5C8FD');
});

t.test('characters outside GBK are refused with their offset', async (t) => {
  t.throws(() => encodeGbk('张𠮷'), { code: 'PROTO_ERR_SSC_GBK_UNMAPPABLE', details: { offset: 1 } });
  t.throws(() => encodeGbk('😀'), { code: 'PROTO_ERR_SSC_GBK_UNMAPPABLE' });
  t.notOk(isGbkEncodable('𠮷'));
  // 䶮 (U+4DAE) exists only as a four-byte GB 18030 code, not in GBK.
  t.throws(() => encodeGbk('刘䶮'), { code: 'PROTO_ERR_SSC_GBK_UNMAPPABLE', details: { offset: 1 } });
});

t.test('malformed GBK: truncated lead, bad trail, four-byte GB 18030, FF', async (t) => {
  t.throws(() => decodeGbk(fromHex('D5')), { code: 'PROTO_ERR_SSC_GBK_MALFORMED' });
  t.throws(() => decodeGbk(fromHex('D5C5D5')), { code: 'PROTO_ERR_SSC_GBK_MALFORMED', details: { offset: 2 } });
  t.throws(() => decodeGbk(fromHex('8130D230')), { code: 'PROTO_ERR_SSC_GBK_MALFORMED' });
  t.throws(() => decodeGbk(fromHex('41FF')), { code: 'PROTO_ERR_SSC_GBK_MALFORMED' });
});

t.test('random bytes: decodeGbk returns or throws a coded error; decoded text re-encodes to GBK bytes that decode the same', async (t) => {
  const r = fuzz((b) => {
    const s = decodeGbk(b);
    if (isGbkEncodable(s) && decodeGbk(encodeGbk(s)) !== s) throw new Error('round trip');
  }, { count: 20000, maxLen: 12 });
  t.ok(r.ok > 0);
  t.same([...r.codes], ['PROTO_ERR_SSC_GBK_MALFORMED']);
});
