/**
 * BER-TLV data objects [7816-4 §5.2.2, ISO/IEC 8825-1 §8.1]: strict decoding into a tree of
 * nodes whose values are views into the input (no copying), canonical encoding back, and lookup
 * by tag path. This is the codec for FCI templates, EMV-style records and the SSC FCI
 * (`6F { 84, A5 { 88, 9F0C } }`, ssc-card.md §1.2).
 *
 * Rules enforced:
 * - tags of 1 to 4 bytes; the first subsequent byte may not be `80` (leading zero bits in the tag
 *   number) [8825-1 §8.1.2.4.2 c];
 * - lengths in short form or long form with 1 to 4 length bytes; indefinite length `80` refused
 *   (7816-4 uses definite lengths only); non-minimal long forms are accepted on decode (BER)
 *   but never produced on encode;
 * - nesting depth limited (default 16 levels, the top level being depth 1);
 * - no bytes after the object (single-object decode) and children must fill their parent exactly.
 * - Padding: [7816-4 §5.2.2] allows `00` or `FF` before, between and after BER-TLV objects. OneCard
 *   refuses it by default (a stray `00`/`FF` where a tag is expected is `PROTO_ERR_TLV_TAG`)
 *   because the cards it reads do not pad; `allowPadding: true` skips such bytes wherever a tag
 *   may start, at the top level and inside constructed values [ONECARD].
 */
import { ProtocolError } from '../errors.ts';

/** A decoded BER-TLV object. `value` is a view into the decoded input (the whole content). */
export interface TlvNode {
  /** Tag bytes as an unsigned number, e.g. `0x9F0C`, `0x6F`, `0x5F2D`. */
  readonly tag: number;
  /** Bit b6 of the first tag byte. */
  readonly constructed: boolean;
  /** Content bytes (for constructed objects, the encoded children). */
  readonly value: Uint8Array;
  /** Children of a constructed object (empty array when its value is empty); undefined for primitives. */
  readonly children: readonly TlvNode[] | undefined;
  /** Offset of the first tag byte in the decoded input. */
  readonly offset: number;
}

/**
 * Input to {@link encodeBerTlv}: a primitive carries `value`; a constructed one `children` (or a
 * raw, already encoded `value`). Decoded {@link TlvNode}s qualify.
 */
export interface TlvInput {
  readonly tag: number;
  readonly value?: Uint8Array | undefined;
  readonly children?: readonly TlvInput[] | undefined;
}

/** Decoder options. */
export interface BerTlvDecodeOptions {
  /** Maximum nesting depth (top level = 1). Default 16. */
  readonly maxDepth?: number;
  /** Skip `00`/`FF` padding where a tag may start [7816-4 §5.2.2]. Default false. */
  readonly allowPadding?: boolean;
}

const DEFAULT_MAX_DEPTH = 16;
const EMPTY: readonly TlvNode[] = Object.freeze([]) as readonly TlvNode[];

/** Constructed bit (b6) of the first byte of a tag number as returned by the decoder. */
export function isConstructedTag(tag: number): boolean {
  return (firstTagByte(tag) & 0x20) !== 0;
}

function firstTagByte(tag: number): number {
  let t = tag;
  while (t > 0xff) t = Math.floor(t / 256);
  return t;
}

/** Upper-case hex of a tag, e.g. `9F0C`. */
export function tagHex(tag: number): string {
  const h = tag.toString(16).toUpperCase();
  return h.length % 2 === 0 ? h : '0' + h;
}

// Decoder state lives in module-level variables for speed; every public entry point sets them
// before use and the decoder never re-enters user code, so calls cannot interleave.
let buf: Uint8Array = new Uint8Array(0);
let maxDepth = DEFAULT_MAX_DEPTH;
let padding = false;
let pos = 0;

/**
 * Decodes exactly one BER-TLV object; bytes after it are refused.
 * @throws ProtocolError `PROTO_ERR_TLV_TRUNCATED` (input ends inside the object; field tag/length/value),
 *   `PROTO_ERR_TLV_TAG`, `PROTO_ERR_TLV_LENGTH`, `PROTO_ERR_TLV_INDEFINITE_LENGTH`,
 *   `PROTO_ERR_TLV_OVERRUN`, `PROTO_ERR_TLV_DEPTH`, `PROTO_ERR_TLV_TRAILING`.
 */
export function decodeBerTlv(bytes: Uint8Array, opts: BerTlvDecodeOptions = {}): TlvNode {
  setup(bytes, opts);
  const end = bytes.length;
  if (padding) skipPadding(end);
  if (pos >= end) throw new ProtocolError('PROTO_ERR_TLV_TRUNCATED', 'empty input', { field: 'tag', offset: pos });
  const node = decodeOne(end, 1, true);
  if (padding) skipPadding(end);
  if (pos !== end) throw new ProtocolError('PROTO_ERR_TLV_TRAILING', `${end - pos} bytes after the object`, { offset: pos });
  return node;
}

/**
 * Decodes a concatenation of BER-TLV objects (possibly empty) that must use every byte.
 * @throws ProtocolError same codes as {@link decodeBerTlv} except `PROTO_ERR_TLV_TRAILING`.
 */
export function decodeBerTlvList(bytes: Uint8Array, opts: BerTlvDecodeOptions = {}): TlvNode[] {
  setup(bytes, opts);
  const end = bytes.length;
  const out: TlvNode[] = [];
  for (;;) {
    if (padding) skipPadding(end);
    if (pos >= end) return out;
    out.push(decodeOne(end, 1, true));
  }
}

function setup(bytes: Uint8Array, opts: BerTlvDecodeOptions): void {
  const md = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(md) || md < 1) throw new ProtocolError('PROTO_ERR_TLV_DEPTH', `maxDepth ${md} must be a positive integer`, { field: 'maxDepth' });
  buf = bytes;
  maxDepth = md;
  padding = opts.allowPadding === true;
  pos = 0;
}

function skipPadding(end: number): void {
  while (pos < end) {
    const b = buf[pos]!;
    if (b !== 0x00 && b !== 0xff) return;
    pos++;
  }
}

/** Decodes one object starting at `pos` that must end by `end`. `top`: running out means truncated input. */
function decodeOne(end: number, depth: number, top: boolean): TlvNode {
  const b = buf;
  const start = pos;
  let p = pos;
  // --- tag [8825-1 §8.1.2]
  const t0 = b[p++]!;
  if (t0 === 0x00 || t0 === 0xff) {
    // [7816-4 §5.2.2] 00 and FF are padding, never the first byte of a tag.
    throw new ProtocolError('PROTO_ERR_TLV_TAG', `padding byte ${t0 === 0 ? '00' : 'FF'} where a tag is expected`, { field: 'tag', offset: start });
  }
  let tag = t0;
  if ((t0 & 0x1f) === 0x1f) {
    let n = 1;
    for (;;) {
      if (p >= end) return short(top, 'tag', start);
      const tb = b[p++]!;
      if (n === 1 && tb === 0x80) throw new ProtocolError('PROTO_ERR_TLV_TAG', 'first subsequent tag byte 80', { field: 'tag', offset: p - 1 });
      tag = tag * 256 + tb;
      n++;
      if ((tb & 0x80) === 0) break;
      if (n === 4) throw new ProtocolError('PROTO_ERR_TLV_TAG', 'tag longer than 4 bytes', { field: 'tag', offset: start });
    }
  }
  // --- length [8825-1 §8.1.3]
  if (p >= end) return short(top, 'length', p);
  let len = b[p++]!;
  if (len >= 0x80) {
    const nl = len & 0x7f;
    if (nl === 0) throw new ProtocolError('PROTO_ERR_TLV_INDEFINITE_LENGTH', 'length byte 80', { field: 'length', offset: p - 1 });
    if (nl > 4) throw new ProtocolError('PROTO_ERR_TLV_LENGTH', `${nl} length bytes (max 4)`, { field: 'length', offset: p - 1 });
    if (p + nl > end) return short(top, 'length', p);
    len = 0;
    for (let i = 0; i < nl; i++) len = len * 256 + b[p++]!;
  }
  if (len > end - p) return short(top, 'value', p);
  const vEnd = p + len;
  const value = b.subarray(p, vEnd);
  if ((t0 & 0x20) === 0) {
    pos = vEnd;
    return { tag, constructed: false, value, children: undefined, offset: start };
  }
  // --- constructed: children fill the value exactly
  if (depth >= maxDepth && len > 0) {
    throw new ProtocolError('PROTO_ERR_TLV_DEPTH', `nesting deeper than ${maxDepth}`, { field: 'value', offset: p, maxDepth });
  }
  pos = p;
  let children: TlvNode[] | readonly TlvNode[] = EMPTY;
  if (len > 0) {
    const list: TlvNode[] = [];
    while (pos < vEnd) {
      if (padding) {
        skipPadding(vEnd);
        if (pos >= vEnd) break;
      }
      list.push(decodeOne(vEnd, depth + 1, false));
    }
    children = list;
  }
  pos = vEnd;
  return { tag, constructed: true, value, children, offset: start };
}

function short(top: boolean, field: string, offset: number): never {
  if (top) throw new ProtocolError('PROTO_ERR_TLV_TRUNCATED', `input ends inside the ${field}`, { field, offset });
  throw new ProtocolError('PROTO_ERR_TLV_OVERRUN', `${field} runs past the end of the parent`, { field, offset });
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Number of bytes of a well-formed tag [8825-1 §8.1.2]; throws for anything else. */
function tagLength(tag: number): number {
  if (!Number.isInteger(tag) || tag <= 0 || tag > 0xffffffff) {
    throw new ProtocolError('PROTO_ERR_TLV_TAG', `tag ${tag} is not 1..4 bytes`, { field: 'tag' });
  }
  const n = tag <= 0xff ? 1 : tag <= 0xffff ? 2 : tag <= 0xffffff ? 3 : 4;
  const first = Math.floor(tag / 2 ** (8 * (n - 1)));
  let ok = first !== 0xff && ((first & 0x1f) === 0x1f) === n > 1;
  for (let i = 1; ok && i < n; i++) {
    const b = Math.floor(tag / 2 ** (8 * (n - 1 - i))) & 0xff;
    if (i === 1 && b === 0x80) ok = false;
    else if (i < n - 1 ? (b & 0x80) === 0 : (b & 0x80) !== 0) ok = false;
  }
  if (!ok) throw new ProtocolError('PROTO_ERR_TLV_TAG', `tag ${tagHex(tag)} is not a well-formed BER tag`, { field: 'tag' });
  return n;
}

function lengthSize(len: number): number {
  if (len < 0x80) return 1;
  if (len <= 0xff) return 2;
  if (len <= 0xffff) return 3;
  if (len <= 0xffffff) return 4;
  if (len <= 0xffffffff) return 5;
  throw new ProtocolError('PROTO_ERR_TLV_LENGTH', `length ${len} needs more than 4 bytes`, { field: 'length' });
}

// Two passes: `measureNode` records each node's content length in pre-order, `writeNode` emits.
let lens: number[] = [];
let li = 0;

function measureNode(node: TlvInput, depth: number): number {
  if (depth > 64) throw new ProtocolError('PROTO_ERR_TLV_DEPTH', 'encoder input nested deeper than 64', { field: 'children' });
  const tl = tagLength(node.tag);
  const idx = lens.length;
  lens.push(0);
  let len: number;
  const kids = node.children;
  if (kids !== undefined) {
    if ((Math.floor(node.tag / 2 ** (8 * (tl - 1))) & 0x20) === 0) {
      throw new ProtocolError('PROTO_ERR_TLV_CONSTRUCTED', `primitive tag ${tagHex(node.tag)} with children`, { field: 'children' });
    }
    len = 0;
    for (let i = 0; i < kids.length; i++) len += measureNode(kids[i]!, depth + 1);
  } else {
    const value = node.value;
    if (value === undefined) throw new ProtocolError('PROTO_ERR_TLV_CONSTRUCTED', `tag ${tagHex(node.tag)} has neither value nor children`, { field: 'value' });
    len = value.length;
  }
  lens[idx] = len;
  return tl + lengthSize(len) + len;
}

function writeNode(node: TlvInput, out: Uint8Array, o: number): number {
  const tag = node.tag;
  if (tag <= 0xff) out[o++] = tag;
  else if (tag <= 0xffff) { out[o++] = tag >>> 8; out[o++] = tag & 0xff; }
  else if (tag <= 0xffffff) { out[o++] = tag >>> 16; out[o++] = (tag >>> 8) & 0xff; out[o++] = tag & 0xff; }
  else { out[o++] = tag >>> 24; out[o++] = (tag >>> 16) & 0xff; out[o++] = (tag >>> 8) & 0xff; out[o++] = tag & 0xff; }
  const len = lens[li++]!;
  if (len < 0x80) out[o++] = len;
  else if (len <= 0xff) { out[o++] = 0x81; out[o++] = len; }
  else if (len <= 0xffff) { out[o++] = 0x82; out[o++] = len >>> 8; out[o++] = len & 0xff; }
  else if (len <= 0xffffff) { out[o++] = 0x83; out[o++] = len >>> 16; out[o++] = (len >>> 8) & 0xff; out[o++] = len & 0xff; }
  else { out[o++] = 0x84; out[o++] = len >>> 24; out[o++] = (len >>> 16) & 0xff; out[o++] = (len >>> 8) & 0xff; out[o++] = len & 0xff; }
  const kids = node.children;
  if (kids !== undefined) for (let i = 0; i < kids.length; i++) o = writeNode(kids[i]!, out, o);
  else { const v = node.value!; out.set(v, o); o += v.length; }
  return o;
}

/**
 * Encodes one object or a list of objects with minimal (DER-style) lengths. Decoded
 * {@link TlvNode}s are accepted as input; constructed nodes are re-encoded from `children`.
 * @throws ProtocolError `PROTO_ERR_TLV_TAG` (not a well-formed 1–4 byte tag),
 *   `PROTO_ERR_TLV_CONSTRUCTED` (children under a primitive tag, or neither value nor children),
 *   `PROTO_ERR_TLV_LENGTH`, `PROTO_ERR_TLV_DEPTH` (input nested deeper than 64).
 */
export function encodeBerTlv(node: TlvInput | readonly TlvInput[]): Uint8Array {
  const list: readonly TlvInput[] = isList(node) ? node : [node];
  lens = [];
  let total = 0;
  for (let i = 0; i < list.length; i++) total += measureNode(list[i]!, 1);
  const out = new Uint8Array(total);
  li = 0;
  let o = 0;
  for (let i = 0; i < list.length; i++) o = writeNode(list[i]!, out, o);
  lens = [];
  return out;
}

function isList(x: TlvInput | readonly TlvInput[]): x is readonly TlvInput[] {
  return Array.isArray(x);
}

// ---------------------------------------------------------------------------------------------
// Lookup

/** A tag path: tags from the outer object inwards, e.g. `[0x6F, 0xA5, 0x9F0C]` or `'6F/A5/9F0C'`. */
export type TagPath = readonly number[] | string;

function parsePath(path: TagPath): readonly number[] {
  if (typeof path !== 'string') return path;
  return path.split(/[/.\s]+/).filter((s) => s.length > 0).map((s) => parseInt(s, 16));
}

/**
 * First object reached by following `path` from `roots` (a node or a list of top-level nodes),
 * searching depth-first in input order (so a later sibling with the same tag is tried when the
 * first one does not lead to the full path); undefined when there is none.
 */
export function findTlv(roots: TlvNode | readonly TlvNode[], path: TagPath): TlvNode | undefined {
  const tags = parsePath(path);
  if (tags.length === 0) return undefined;
  return follow(isNodeList(roots) ? roots : [roots], tags, 0);
}

function follow(level: readonly TlvNode[], tags: readonly number[], i: number): TlvNode | undefined {
  const want = tags[i];
  for (const n of level) {
    if (n.tag !== want) continue;
    if (i === tags.length - 1) return n;
    if (n.children !== undefined) {
      const hit = follow(n.children, tags, i + 1);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

/** Every object anywhere under `roots` (roots included) with the given tag, in input order. */
export function findAllTlv(roots: TlvNode | readonly TlvNode[], tag: number): TlvNode[] {
  const out: TlvNode[] = [];
  const walk = (ns: readonly TlvNode[]): void => {
    for (const n of ns) {
      if (n.tag === tag) out.push(n);
      if (n.children !== undefined) walk(n.children);
    }
  };
  walk(isNodeList(roots) ? roots : [roots]);
  return out;
}

function isNodeList(x: TlvNode | readonly TlvNode[]): x is readonly TlvNode[] {
  return Array.isArray(x);
}
