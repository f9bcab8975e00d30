/**
 * SIMPLE-TLV data objects [7816-4 §5.2.1]: a 1-byte tag (`01`–`FE`) and a 1-byte length
 * (`00`–`FE`) or the 3-byte form `FF` L1 L2 (0–65535). The social security card stores its
 * EF05/EF06 data items this way: READ RECORD returns `tag len value` (ssc-card.md §2, §5.2),
 * and a whole-file read returns the objects concatenated. Values are views into the input.
 */
import { ProtocolError } from '../errors.ts';

/** One SIMPLE-TLV object. */
export interface SimpleTlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** A decoded SIMPLE-TLV object with its position in the input. */
export interface DecodedSimpleTlv extends SimpleTlv {
  readonly offset: number;
}

function decodeAt(bytes: Uint8Array, start: number): DecodedSimpleTlv {
  const end = bytes.length;
  let p = start;
  const tag = bytes[p++]!;
  // [7816-4 §5.2.1] tag numbers 01..FE; 00 and FF are invalid.
  if (tag === 0x00 || tag === 0xff) throw new ProtocolError('PROTO_ERR_STLV_TAG', `tag ${tag === 0 ? '00' : 'FF'}`, { field: 'tag', offset: start });
  if (p >= end) throw new ProtocolError('PROTO_ERR_STLV_TRUNCATED', 'input ends before the length', { field: 'length', offset: p });
  let len = bytes[p++]!;
  if (len === 0xff) {
    // [7816-4 §5.2.1] FF followed by two bytes: 0..65535.
    if (p + 2 > end) throw new ProtocolError('PROTO_ERR_STLV_TRUNCATED', 'input ends inside the 3-byte length', { field: 'length', offset: p });
    len = (bytes[p]! << 8) | bytes[p + 1]!;
    p += 2;
  }
  if (len > end - p) throw new ProtocolError('PROTO_ERR_STLV_TRUNCATED', `value needs ${len} bytes, ${end - p} left`, { field: 'value', offset: p });
  return { tag, value: bytes.subarray(p, p + len), offset: start };
}

/**
 * Decodes exactly one SIMPLE-TLV object (e.g. one SSC record); bytes after it are refused.
 * @throws ProtocolError `PROTO_ERR_STLV_TRUNCATED` (empty input or input ending inside the
 *   object; field tag/length/value), `PROTO_ERR_STLV_TAG`, `PROTO_ERR_STLV_TRAILING`.
 */
export function decodeSimpleTlv(bytes: Uint8Array): DecodedSimpleTlv {
  if (bytes.length === 0) throw new ProtocolError('PROTO_ERR_STLV_TRUNCATED', 'empty input', { field: 'tag', offset: 0 });
  const item = decodeAt(bytes, 0);
  const used = item.value.byteOffset - bytes.byteOffset + item.value.length;
  if (used !== bytes.length) throw new ProtocolError('PROTO_ERR_STLV_TRAILING', `${bytes.length - used} bytes after the object`, { offset: used });
  return item;
}

/**
 * Decodes a concatenation of SIMPLE-TLV objects (possibly empty) that must use every byte.
 * @throws ProtocolError `PROTO_ERR_STLV_TRUNCATED`, `PROTO_ERR_STLV_TAG`.
 */
export function decodeSimpleTlvList(bytes: Uint8Array): DecodedSimpleTlv[] {
  const out: DecodedSimpleTlv[] = [];
  let p = 0;
  while (p < bytes.length) {
    const item = decodeAt(bytes, p);
    out.push(item);
    p = item.value.byteOffset - bytes.byteOffset + item.value.length;
  }
  return out;
}

function checkItem(item: SimpleTlv): void {
  const { tag, value } = item;
  if (!Number.isInteger(tag) || tag < 1 || tag > 0xfe) throw new ProtocolError('PROTO_ERR_STLV_TAG', `tag ${tag} not in 01..FE`, { field: 'tag' });
  if (value.length > 0xffff) throw new ProtocolError('PROTO_ERR_STLV_LENGTH', `${value.length} bytes`, { field: 'value', length: value.length });
}

const encodedSize = (n: number): number => (n < 0xff ? 2 : 4) + n;

function writeItem(item: SimpleTlv, out: Uint8Array, o: number): number {
  const n = item.value.length;
  out[o++] = item.tag;
  if (n < 0xff) out[o++] = n;
  else { out[o++] = 0xff; out[o++] = n >> 8; out[o++] = n & 0xff; }
  out.set(item.value, o);
  return o + n;
}

/**
 * Encodes one object, with the 1-byte length when it fits (0..254) and `FF L1 L2` otherwise.
 * @throws ProtocolError `PROTO_ERR_STLV_TAG` (tag not 01..FE), `PROTO_ERR_STLV_LENGTH` (> 65535 bytes).
 */
export function encodeSimpleTlv(item: SimpleTlv): Uint8Array {
  checkItem(item);
  const out = new Uint8Array(encodedSize(item.value.length));
  writeItem(item, out, 0);
  return out;
}

/**
 * Encodes objects back to back.
 * @throws ProtocolError as {@link encodeSimpleTlv}.
 */
export function encodeSimpleTlvList(items: readonly SimpleTlv[]): Uint8Array {
  let n = 0;
  for (const it of items) { checkItem(it); n += encodedSize(it.value.length); }
  const out = new Uint8Array(n);
  let o = 0;
  for (const it of items) o = writeItem(it, out, o);
  return out;
}

/** The first object with `tag`, or undefined. */
export function findSimpleTlv(items: readonly SimpleTlv[], tag: number): SimpleTlv | undefined {
  for (const it of items) if (it.tag === tag) return it;
  return undefined;
}
