import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import type { TlvNode } from '../../src/iso7816/ber-tlv.ts';
import { decodeBerTlv, decodeBerTlvList, encodeBerTlv, findAllTlv, findTlv, isConstructedTag, tagHex } from '../../src/iso7816/ber-tlv.ts';

// SSC SSSE FCI (ssc-card.md §1.2)
const SSC_FCI = '6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103';
// EMV PPSE FCI (public specification sample)
const PPSE = '6F2C840E325041592E5359532E4444463031A51ABF0C1761154F07A0000000031010500A56495341435245444954';

t.test('[7816-4 §5.2.2] SSC FCI decodes into a tree', async (t) => {
  const n = decodeBerTlv(fromHex(SSC_FCI));
  t.equal(n.tag, 0x6f);
  t.equal(n.constructed, true);
  t.equal(n.children?.length, 2);
  const df = findTlv(n, [0x6f, 0x84]);
  t.equal(toHex(df!.value), '7378312E73682EC9E7BBE1B1A3D5CF');
  t.equal(df!.offset, 2);
  t.equal(df!.children, undefined);
  const env = findTlv(n, '6F/A5/9F0C');
  t.equal(env?.tag, 0x9f0c);
  t.equal(toHex(env!.value), '860103');
  t.equal(findTlv(n, '6F/A5/88')?.value[0], 0x1e);
  t.equal(findTlv(n, '6F/A5/99'), undefined);
  t.equal(findTlv(n, '84'), undefined);
  t.equal(findTlv(n, []), undefined);
  t.equal(toHex(encodeBerTlv(n)), SSC_FCI);
});

t.test('[7816-4 §5.2.2] PPSE FCI: 2-byte constructed tag BF0C, nested templates', async (t) => {
  const n = decodeBerTlv(fromHex(PPSE));
  const aid = findTlv(n, [0x6f, 0xa5, 0xbf0c, 0x61, 0x4f]);
  t.equal(toHex(aid!.value), 'A0000000031010');
  t.equal(isConstructedTag(0xbf0c), true);
  t.equal(isConstructedTag(0x9f0c), false);
  t.equal(tagHex(0xbf0c), 'BF0C');
  t.equal(tagHex(0x5), '05');
  t.same(findAllTlv(n, 0x50).map((x) => toHex(x.value)), ['56495341435245444954']);
  t.equal(toHex(encodeBerTlv(n)), PPSE);
});

t.test('[8825-1 §8.1.3] long-form lengths 1..4 bytes, decode and canonical encode', async (t) => {
  for (const len of [0, 1, 127, 128, 255, 256, 65535, 65536, 70000]) {
    const v = new Uint8Array(len).fill(7);
    const enc = encodeBerTlv({ tag: 0x04, value: v });
    const head = len < 128 ? 2 : len < 256 ? 3 : len < 65536 ? 4 : 5;
    t.equal(enc.length, head + len, `len ${len}`);
    const d = decodeBerTlv(enc);
    t.equal(d.value.length, len);
  }
  // non-minimal lengths are accepted on decode (BER) and re-encoded minimally
  const nm = fromHex('04 81 02 AABB');
  t.equal(toHex(decodeBerTlv(nm).value), 'AABB');
  t.equal(toHex(encodeBerTlv(decodeBerTlv(nm))), '0402AABB');
  t.equal(toHex(decodeBerTlv(fromHex('04 84 00000001 CC')).value), 'CC');
  // 3- and 4-byte tags
  t.equal(decodeBerTlv(fromHex('9F8101 01 00')).tag, 0x9f8101);
  t.equal(decodeBerTlv(fromHex('DF818201 00')).tag, 0xdf818201);
  t.equal(toHex(encodeBerTlv({ tag: 0xdf818201, value: new Uint8Array(0) })), 'DF81820100');
});

t.test('[7816-4 §5.2.2] list decode, empty constructed, encode from inputs', async (t) => {
  const list = decodeBerTlvList(fromHex('5A02 1234 A000 9F0201 01'));
  t.same(list.map((n) => n.tag), [0x5a, 0xa0, 0x9f02]);
  t.same(list[1]!.children, []);
  t.same(decodeBerTlvList(new Uint8Array(0)), []);
  const enc = encodeBerTlv([
    { tag: 0x6f, children: [{ tag: 0x84, value: fromHex('A000') }, { tag: 0xa5, children: [] }] },
    { tag: 0x90, value: fromHex('01') },
  ]);
  t.equal(toHex(enc), '6F06' + '8402A000' + 'A500' + '900101');
  // raw value for a constructed tag is kept as is
  t.equal(toHex(encodeBerTlv({ tag: 0x70, value: fromHex('5A0101') })), '70035A0101');
});

t.test('[8825-1 §8.1] malformed input fails with codes', async (t) => {
  const bad: ReadonlyArray<readonly [string, string]> = [
    ['', 'PROTO_ERR_TLV_TRUNCATED'],
    ['9F', 'PROTO_ERR_TLV_TRUNCATED'],
    ['5A', 'PROTO_ERR_TLV_TRUNCATED'],
    ['5A03 0102', 'PROTO_ERR_TLV_TRUNCATED'],
    ['5A82 01', 'PROTO_ERR_TLV_TRUNCATED'],
    ['5A80 0000', 'PROTO_ERR_TLV_INDEFINITE_LENGTH'],
    ['5A85 0000000001 00', 'PROTO_ERR_TLV_LENGTH'],
    ['9F80 01 00', 'PROTO_ERR_TLV_TAG'],
    ['9F81818101 00', 'PROTO_ERR_TLV_TAG'],
    ['00', 'PROTO_ERR_TLV_TAG'],
    ['5A0100 00', 'PROTO_ERR_TLV_TRAILING'],
    ['5A0100 FF', 'PROTO_ERR_TLV_TRAILING'],
    ['6F03 5A0201', 'PROTO_ERR_TLV_OVERRUN'],
    ['6F01 9F', 'PROTO_ERR_TLV_OVERRUN'],
    ['6F02 9F', 'PROTO_ERR_TLV_TRUNCATED'],
    ['6F03 5A8101', 'PROTO_ERR_TLV_OVERRUN'],
    ['6F02 0000', 'PROTO_ERR_TLV_TAG'],
    ['6F02 5A80', 'PROTO_ERR_TLV_INDEFINITE_LENGTH'],
  ];
  for (const [hex, code] of bad) t.throws(() => decodeBerTlv(fromHex(hex)), { code }, hex);
  t.throws(() => decodeBerTlvList(fromHex('5A0100 5A')), { code: 'PROTO_ERR_TLV_TRUNCATED' });
  t.throws(() => decodeBerTlvList(fromHex('5A0100 00')), { code: 'PROTO_ERR_TLV_TAG' });
});

t.test('[7816-4 §5.2.2] 00/FF padding is refused by default and skipped when allowed', async (t) => {
  const padded = fromHex('00FF 6F07 00 5A0112 FF 8400 00 FFFF');
  t.throws(() => decodeBerTlv(padded), { code: 'PROTO_ERR_TLV_TAG' });
  const n = decodeBerTlv(padded, { allowPadding: true });
  t.same(n.children!.map((c) => c.tag), [0x5a, 0x84]);
  t.same(decodeBerTlvList(fromHex('00 5A0101 FF FF 5A0102 00'), { allowPadding: true }).map((x) => x.value[0]), [1, 2]);
  t.same(decodeBerTlvList(fromHex('0000FF'), { allowPadding: true }), []);
  t.throws(() => decodeBerTlv(fromHex('00FF'), { allowPadding: true }), { code: 'PROTO_ERR_TLV_TRUNCATED' });
});

t.test('[ONECARD] nesting depth limit (default 16, configurable)', async (t) => {
  const nest = (depth: number): Uint8Array => {
    let b: Uint8Array = fromHex('8000');
    for (let i = 0; i < depth - 1; i++) b = encodeBerTlv({ tag: 0xa0, value: b });
    return b;
  };
  t.equal(decodeBerTlv(nest(16)).tag, 0xa0);
  t.throws(() => decodeBerTlv(nest(17)), { code: 'PROTO_ERR_TLV_DEPTH' });
  t.throws(() => decodeBerTlv(nest(4), { maxDepth: 3 }), { code: 'PROTO_ERR_TLV_DEPTH' });
  t.equal(decodeBerTlv(nest(4), { maxDepth: 4 }).tag, 0xa0);
  t.throws(() => decodeBerTlv(nest(2), { maxDepth: 0 }), { code: 'PROTO_ERR_TLV_DEPTH' });
  // deep input never overflows the stack
  t.throws(() => decodeBerTlv(nest(5000)), { code: 'PROTO_ERR_TLV_DEPTH' });
});

t.test('[8825-1 §8.1.2] encode rejects bad nodes with codes', async (t) => {
  t.throws(() => encodeBerTlv({ tag: 0x5a, children: [] }), { code: 'PROTO_ERR_TLV_CONSTRUCTED' });
  t.throws(() => encodeBerTlv({ tag: 0x6f }), { code: 'PROTO_ERR_TLV_CONSTRUCTED' });
  for (const tag of [0, 0x1f, 0x9f80, 0x9f81, 0x5a5a, 0xff, 0x9f8001, 1.5, 0x1_0000_0000]) {
    t.throws(() => encodeBerTlv({ tag, value: new Uint8Array(0) }), { code: 'PROTO_ERR_TLV_TAG' }, `tag ${tag}`);
  }
});

function randomTree(rnd: (n: number) => number, depth: number): { tag: number; value?: Uint8Array; children?: unknown[] } {
  const tags = [0x5a, 0x84, 0x9f02, 0x5f2d, 0x9f8101, 0x88];
  const ctags = [0x6f, 0xa5, 0xbf0c, 0x70, 0x61];
  if (depth < 5 && rnd(3) === 0) {
    const kids = Array.from({ length: rnd(4) }, () => randomTree(rnd, depth + 1));
    return { tag: ctags[rnd(ctags.length)]!, children: kids };
  }
  const v = new Uint8Array([0, 1, 20, 127, 128, 300][rnd(6)]!);
  for (let i = 0; i < v.length; i++) v[i] = rnd(256);
  return { tag: tags[rnd(tags.length)]!, value: v };
}

t.test('[7816-4 §5.2.2] random trees round-trip encode -> decode -> encode', async (t) => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
  for (let i = 0; i < 500; i++) {
    const tree = randomTree(rnd, 1) as Parameters<typeof encodeBerTlv>[0];
    const enc = encodeBerTlv(tree);
    const dec: TlvNode = decodeBerTlv(enc);
    const again = encodeBerTlv(dec);
    if (toHex(again) !== toHex(enc)) { t.fail(`round trip ${i}`); break; }
  }
  t.pass('500 trees');
});

t.test('[8825-1 §8.1] 20k random byte strings: decode succeeds or fails with a code', async (t) => {
  let seed = 2024;
  const rnd = (n: number): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return (seed >>> 8) % n; };
  const alphabet = [0x00, 0xff, 0x80, 0x81, 0x82, 0x84, 0x85, 0x9f, 0x1f, 0x6f, 0xa5, 0x5a, 0x01, 0x02, 0x03, 0x20];
  let ok = 0, coded = 0;
  for (let i = 0; i < 20000; i++) {
    const len = rnd(24);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd(2) === 0 ? alphabet[rnd(alphabet.length)]! : rnd(256);
    try {
      decodeBerTlvList(b, { allowPadding: rnd(2) === 0, maxDepth: 1 + rnd(4) });
      ok++;
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      coded++;
    }
  }
  t.ok(ok > 100 && coded > 100, `${ok} decoded, ${coded} coded errors`);
});
