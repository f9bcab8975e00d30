import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import { decodeSimpleTlv, decodeSimpleTlvList, encodeSimpleTlv, encodeSimpleTlvList, findSimpleTlv } from '../../src/iso7816/simple-tlv.ts';

t.test('[SSC P5 §6.9] EF05/EF06 records decode (ssc-card.md §2, §5.2)', async (t) => {
  // version record "2.00" and an unset ethnic group
  const v = decodeSimpleTlv(fromHex('0304322E3030'));
  t.equal(v.tag, 0x03);
  t.equal(new TextDecoder().decode(v.value), '2.00');
  t.equal(v.offset, 0);
  const e = decodeSimpleTlv(fromHex('0B01FF'));
  t.same([e.tag, toHex(e.value)], [0x0b, 'FF']);
  // whole-file read: records concatenated
  const list = decodeSimpleTlvList(fromHex('0304322E3030 0504 20200101 0604 20300101 0B01FF 0C03FFFFFF'));
  t.same(list.map((x) => x.tag), [3, 5, 6, 0x0b, 0x0c]);
  t.same(list.map((x) => x.offset), [0, 6, 12, 18, 21]);
  t.equal(toHex(findSimpleTlv(list, 6)!.value), '20300101');
  t.equal(findSimpleTlv(list, 0x4e), undefined);
  t.same(decodeSimpleTlvList(new Uint8Array(0)), []);
  t.same(decodeSimpleTlv(fromHex('4E00')).value, new Uint8Array(0));
});

t.test('[7816-4 §5.2.1] 3-byte length form FF L1 L2', async (t) => {
  const v = new Uint8Array(300).fill(0x31);
  const enc = encodeSimpleTlv({ tag: 0x50, value: v });
  t.equal(toHex(enc.subarray(0, 4)), '50FF012C');
  t.equal(decodeSimpleTlv(enc).value.length, 300);
  t.equal(toHex(encodeSimpleTlv({ tag: 1, value: new Uint8Array(254) }).subarray(0, 2)), '01FE');
  t.equal(toHex(encodeSimpleTlv({ tag: 1, value: new Uint8Array(255) }).subarray(0, 4)), '01FF00FF');
  // non-minimal 3-byte form accepted on decode
  t.equal(toHex(decodeSimpleTlv(fromHex('01FF0002AABB')).value), 'AABB');
  t.equal(toHex(encodeSimpleTlvList([{ tag: 1, value: fromHex('AA') }, { tag: 2, value: new Uint8Array(0) }])), '0101AA0200');
});

t.test('[7816-4 §5.2.1] malformed input fails with codes', async (t) => {
  const bad: ReadonlyArray<readonly [string, string]> = [
    ['', 'PROTO_ERR_STLV_TRUNCATED'],
    ['03', 'PROTO_ERR_STLV_TRUNCATED'],
    ['0304322E30', 'PROTO_ERR_STLV_TRUNCATED'],
    ['01FF00', 'PROTO_ERR_STLV_TRUNCATED'],
    ['01FF0003AABB', 'PROTO_ERR_STLV_TRUNCATED'],
    ['0001AA', 'PROTO_ERR_STLV_TAG'],
    ['FF01AA', 'PROTO_ERR_STLV_TAG'],
    ['0101AA00', 'PROTO_ERR_STLV_TRAILING'],
  ];
  for (const [hex, code] of bad) t.throws(() => decodeSimpleTlv(fromHex(hex)), { code }, hex);
  t.throws(() => decodeSimpleTlvList(fromHex('0101AA 02')), { code: 'PROTO_ERR_STLV_TRUNCATED' });
  t.throws(() => decodeSimpleTlvList(fromHex('0101AA FF')), { code: 'PROTO_ERR_STLV_TAG' });
  t.throws(() => encodeSimpleTlv({ tag: 0, value: new Uint8Array(0) }), { code: 'PROTO_ERR_STLV_TAG' });
  t.throws(() => encodeSimpleTlv({ tag: 0xff, value: new Uint8Array(0) }), { code: 'PROTO_ERR_STLV_TAG' });
  t.throws(() => encodeSimpleTlv({ tag: 1, value: new Uint8Array(65536) }), { code: 'PROTO_ERR_STLV_LENGTH' });
  t.throws(() => encodeSimpleTlvList([{ tag: 1, value: new Uint8Array(0) }, { tag: 256, value: new Uint8Array(0) }]), { code: 'PROTO_ERR_STLV_TAG' });
});

t.test('[7816-4 §5.2.1] random lists round-trip', async (t) => {
  let seed = 5;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
  for (let i = 0; i < 1000; i++) {
    const items = Array.from({ length: rnd(6) }, () => {
      const v = new Uint8Array([0, 1, 30, 254, 255, 600][rnd(6)]!);
      for (let j = 0; j < v.length; j++) v[j] = rnd(256);
      return { tag: 1 + rnd(254), value: v };
    });
    const enc = encodeSimpleTlvList(items);
    const dec = decodeSimpleTlvList(enc);
    if (toHex(encodeSimpleTlvList(dec)) !== toHex(enc) || dec.length !== items.length) { t.fail(`round trip ${i}`); break; }
  }
  t.pass('1000 lists');
});

t.test('[7816-4 §5.2.1] 20k random byte strings: decode succeeds or fails with a code', async (t) => {
  let seed = 77;
  const rnd = (n: number): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return (seed >>> 8) % n; };
  let ok = 0, coded = 0;
  for (let i = 0; i < 20000; i++) {
    const len = rnd(16);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd(3) === 0 ? [0, 1, 2, 3, 0xff][rnd(5)]! : rnd(256);
    try {
      decodeSimpleTlvList(b);
      ok++;
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      coded++;
    }
  }
  t.ok(ok > 100 && coded > 100, `${ok} decoded, ${coded} coded errors`);
});
