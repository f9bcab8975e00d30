/**
 * The two TLV flavours a card application response uses: simple-TLV records of EF05/EF06
 * (`tag(1) ‖ len(1 or FF+2) ‖ value`, [7816-4 §5.2.1]) and the BER-TLV of the FCI template
 * (`6F { 84, A5 { … } }`, [7816-4 §5.2.2]). Whole-buffer decoders: a value that runs past the end is
 * "truncated", a structural impossibility is "malformed", and nothing may trail the last object.
 */
import { ProtocolError } from '../errors.ts';

/** One simple-TLV data object. */
export interface SimpleTlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/**
 * Decodes a sequence of simple-TLV objects (e.g. a whole-file READ RECORD response).
 * @throws ProtocolError `PROTO_ERR_SSC_TLV_TRUNCATED` when the data ends inside an object,
 * `PROTO_ERR_SSC_TLV_MALFORMED` on tag `00` or `FF` (invalid in simple-TLV).
 */
export function decodeSimpleTlvs(data: Uint8Array): SimpleTlv[] {
  const out: SimpleTlv[] = [];
  let o = 0;
  while (o < data.length) {
    const tag = data[o]!;
    // [7816-4 §5.2.1] tags 00 and FF are invalid.
    if (tag === 0x00 || tag === 0xff) throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', `invalid simple-TLV tag ${tag}`, { field: 'tag', offset: o });
    let len = data[o + 1];
    let p = o + 2;
    if (len === undefined) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'missing length', { field: 'length', offset: o + 1 });
    if (len === 0xff) {
      const hi = data[o + 2];
      const lo = data[o + 3];
      if (hi === undefined || lo === undefined) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'missing 3-byte length', { field: 'length', offset: o + 1 });
      len = (hi << 8) | lo;
      p = o + 4;
    }
    if (p + len > data.length) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'value runs past the end', { field: 'value', offset: p, tag });
    out.push({ tag, value: data.slice(p, p + len) });
    o = p + len;
  }
  return out;
}

/**
 * Encodes one simple-TLV object.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` on a tag outside `01`–`FE` or a value over 65535 bytes.
 */
export function encodeSimpleTlv(tag: number, value: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 1 || tag > 0xfe) throw new ProtocolError('PROTO_ERR_SSC_PARAM', 'simple-TLV tag must be 01–FE', { field: 'tag' });
  if (value.length > 0xffff) throw new ProtocolError('PROTO_ERR_SSC_PARAM', 'value too long', { field: 'value' });
  const head = value.length < 0xff ? Uint8Array.of(tag, value.length) : Uint8Array.of(tag, 0xff, value.length >> 8, value.length & 0xff);
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

/** One BER-TLV data object; `children` is set for constructed tags. */
export interface BerTlv {
  /** Tag bytes as a number, e.g. `0x9F0C`. */
  readonly tag: number;
  readonly value: Uint8Array;
  readonly children?: readonly BerTlv[];
}

const MAX_DEPTH = 8;

/**
 * Decodes a sequence of BER-TLV objects, descending into constructed ones.
 * @throws ProtocolError `PROTO_ERR_SSC_TLV_TRUNCATED` when the data ends inside an object,
 * `PROTO_ERR_SSC_TLV_MALFORMED` on tags over 3 bytes, indefinite or over-long lengths, or nesting
 * deeper than 8.
 */
export function decodeBerTlvs(data: Uint8Array, depth = 0): BerTlv[] {
  if (depth > MAX_DEPTH) throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', 'nesting too deep', { field: 'tag' });
  const out: BerTlv[] = [];
  let o = 0;
  while (o < data.length) {
    const start = o;
    const first = data[o++]!;
    let tag = first;
    if ((first & 0x1f) === 0x1f) {
      let n = 0;
      for (;;) {
        const b = data[o++];
        if (b === undefined) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'tag runs past the end', { field: 'tag', offset: start });
        tag = tag * 256 + b;
        if (++n > 2) throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', 'tag longer than 3 bytes', { field: 'tag', offset: start });
        if ((b & 0x80) === 0) break;
      }
    }
    const l0 = data[o++];
    if (l0 === undefined) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'missing length', { field: 'length', offset: o - 1 });
    let len = l0;
    if (l0 > 0x80) {
      const n = l0 & 0x7f;
      if (n > 2) throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', 'length field over 2 bytes', { field: 'length', offset: o - 1 });
      len = 0;
      for (let i = 0; i < n; i++) {
        const b = data[o++];
        if (b === undefined) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'length runs past the end', { field: 'length', offset: o - 1 });
        len = len * 256 + b;
      }
    } else if (l0 === 0x80) {
      throw new ProtocolError('PROTO_ERR_SSC_TLV_MALFORMED', 'indefinite length', { field: 'length', offset: o - 1 });
    }
    if (o + len > data.length) throw new ProtocolError('PROTO_ERR_SSC_TLV_TRUNCATED', 'value runs past the end', { field: 'value', offset: o, tag });
    const value = data.slice(o, o + len);
    o += len;
    const constructed = (first & 0x20) !== 0;
    out.push(constructed ? { tag, value, children: decodeBerTlvs(value, depth + 1) } : { tag, value });
  }
  return out;
}

/** The first object with `tag` among `list` (not recursive). */
export function findTlv(list: readonly BerTlv[] | undefined, tag: number): BerTlv | undefined {
  return list?.find((x) => x.tag === tag);
}

/** Encodes one primitive or constructed BER-TLV object from its tag number and value bytes. */
export function encodeBerTlv(tag: number, value: Uint8Array): Uint8Array {
  const tagBytes: number[] = [];
  for (let t = tag; t > 0; t = Math.floor(t / 256)) tagBytes.unshift(t % 256);
  if (tagBytes.length === 0) tagBytes.push(0);
  const n = value.length;
  const lenBytes = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(tagBytes.length + lenBytes.length + n);
  out.set(tagBytes);
  out.set(lenBytes, tagBytes.length);
  out.set(value, tagBytes.length + lenBytes.length);
  return out;
}
