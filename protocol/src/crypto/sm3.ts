/**
 * SM3 hash (GB/T 32905-2016), 32-byte digest. Uses `node:crypto`'s `sm3` when the runtime has it
 * and a portable TypeScript implementation otherwise; both paths are tested against the
 * standard's examples.
 */
import { createHash, getHashes } from 'node:crypto';

const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e] as const;

const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
const p0 = (x: number): number => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const p1 = (x: number): number => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;

/** Portable SM3 over `Uint8Array` (no runtime support needed). [GB/T 32905 §5] */
export function sm3Portable(message: Uint8Array): Uint8Array {
  // [GB/T 32905 §5.2] padding: 1 bit, zeros, 64-bit big-endian bit length.
  const bitLen = message.length * 8;
  const total = Math.ceil((message.length + 9) / 64) * 64;
  const m = new Uint8Array(total);
  m.set(message);
  m[message.length] = 0x80;
  const dv = new DataView(m.buffer);
  dv.setUint32(total - 8, Math.floor(bitLen / 0x100000000));
  dv.setUint32(total - 4, bitLen >>> 0);

  const v: number[] = [...IV];
  const w = new Array<number>(68);
  const w1 = new Array<number>(64);
  for (let off = 0; off < total; off += 64) {
    // [GB/T 32905 §5.3.2] message expansion
    for (let j = 0; j < 16; j++) w[j] = dv.getUint32(off + 4 * j);
    for (let j = 16; j < 68; j++) {
      w[j] = (p1(w[j - 16]! ^ w[j - 9]! ^ rotl(w[j - 3]!, 15)) ^ rotl(w[j - 13]!, 7) ^ w[j - 6]!) >>> 0;
    }
    for (let j = 0; j < 64; j++) w1[j] = (w[j]! ^ w[j + 4]!) >>> 0;
    // [GB/T 32905 §5.3.3] compression
    let [a, b, c, d, e, f, g, h] = v as [number, number, number, number, number, number, number, number];
    for (let j = 0; j < 64; j++) {
      const tj = j < 16 ? 0x79cc4519 : 0x7a879d8a;
      const ss1 = rotl((rotl(a, 12) + e + rotl(tj, j % 32)) >>> 0, 7);
      const ss2 = (ss1 ^ rotl(a, 12)) >>> 0;
      const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
      const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
      const tt1 = ((ff >>> 0) + d + ss2 + w1[j]!) >>> 0;
      const tt2 = ((gg >>> 0) + h + ss1 + w[j]!) >>> 0;
      d = c;
      c = rotl(b, 9);
      b = a;
      a = tt1;
      h = g;
      g = rotl(f, 19);
      f = e;
      e = p0(tt2);
    }
    const s = [a, b, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) v[i] = (v[i]! ^ s[i]!) >>> 0;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) odv.setUint32(4 * i, v[i]!);
  return out;
}

let nativeSm3: boolean | undefined;

/** SM3 digest (32 bytes) of `message`. Never throws. [GB/T 32905] */
export function sm3(message: Uint8Array): Uint8Array {
  nativeSm3 ??= getHashes().includes('sm3');
  if (nativeSm3) return new Uint8Array(createHash('sm3').update(message).digest());
  return sm3Portable(message);
}
