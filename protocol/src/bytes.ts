/**
 * Byte helpers shared by every codec: hex in and out, concatenation, constant-time comparison.
 * Everything works on `Uint8Array`; nothing here allocates a `Buffer`.
 */
import { ProtocolError } from './errors.ts';

const HEX = '0123456789ABCDEF';

/** Upper-case hex without separators. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

/**
 * Parses hex, ignoring spaces, colons and line breaks.
 * @throws ProtocolError `PROTO_ERR_HEX` on odd length or a non-hex character.
 */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0) throw new ProtocolError('PROTO_ERR_HEX', 'odd number of hex digits', { length: clean.length });
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexVal(clean.charCodeAt(2 * i));
    const lo = hexVal(clean.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new ProtocolError('PROTO_ERR_HEX', 'not a hex digit', { offset: 2 * i });
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Concatenates byte arrays into a new one. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality whose running time does not depend on where the arrays differ (for MACs). */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** XOR of two equal-length arrays into a new array. */
export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
