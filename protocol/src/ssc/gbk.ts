/**
 * GBK text codec for the card's `an` text items (the name `09`/`4E`, the SSSE DF name), with no
 * dependency: decoding uses the platform's WHATWG `gbk` decoder; encoding uses a reverse table
 * built once, on first use, by decoding every two-byte GBK code (lead `81`–`FE`, trail `40`–`7E`,
 * `80`–`FE`). ASCII passes through as one byte. Characters outside GBK (e.g. CJK Extension B) and
 * the four-byte GB 18030 sequences are refused: the card's name item is GBK [V2 table 13].
 */
import { ProtocolError } from '../errors.ts';

let reverse: Map<number, number> | undefined;
let fatalDecoder: InstanceType<typeof TextDecoder> | undefined;

function decoder(): InstanceType<typeof TextDecoder> {
  fatalDecoder ??= new TextDecoder('gbk', { fatal: true });
  return fatalDecoder;
}

function table(): Map<number, number> {
  if (reverse !== undefined) return reverse;
  const map = new Map<number, number>();
  const probe = new TextDecoder('gbk');
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    pair[0] = lead;
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pair[1] = trail;
      const s = probe.decode(pair);
      const cp = s.codePointAt(0);
      if (cp === undefined || cp === 0xfffd || s.length !== (cp > 0xffff ? 2 : 1)) continue;
      if (!map.has(cp)) map.set(cp, (lead << 8) | trail);
    }
  }
  reverse = map;
  return map;
}

/**
 * Encodes text as GBK bytes.
 * @throws ProtocolError `PROTO_ERR_SSC_GBK_UNMAPPABLE` for a character with no GBK code
 * (`details.offset` is its index in the string).
 */
export function encodeGbk(text: string): Uint8Array {
  const out: number[] = [];
  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out.push(cp);
    } else {
      const code = table().get(cp);
      if (code === undefined) {
        throw new ProtocolError('PROTO_ERR_SSC_GBK_UNMAPPABLE', `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`, { offset: index });
      }
      out.push(code >> 8, code & 0xff);
    }
    index += ch.length;
  }
  return Uint8Array.from(out);
}

/**
 * Decodes GBK bytes (strictly: a truncated or unmapped sequence is an error, not U+FFFD).
 * @throws ProtocolError `PROTO_ERR_SSC_GBK_MALFORMED` on invalid GBK.
 */
export function decodeGbk(bytes: Uint8Array): string {
  // Four-byte GB 18030 sequences (second byte 30–39) are not GBK.
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x81 && b <= 0xfe) {
      const t = bytes[i + 1];
      if (t === undefined || t < 0x40 || t === 0x7f || t === 0xff) {
        throw new ProtocolError('PROTO_ERR_SSC_GBK_MALFORMED', 'bad or missing trail byte', { offset: i });
      }
      i++;
    } else if (b === 0xff) {
      throw new ProtocolError('PROTO_ERR_SSC_GBK_MALFORMED', 'byte FF', { offset: i });
    }
  }
  try {
    return decoder().decode(bytes);
  } catch (err) {
    throw new ProtocolError('PROTO_ERR_SSC_GBK_MALFORMED', 'unmapped GBK code', {}, { cause: err });
  }
}

/** True when every character of `text` has a GBK encoding. */
export function isGbkEncodable(text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 && !table().has(cp)) return false;
  }
  return true;
}
