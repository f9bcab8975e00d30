/**
 * Card-side cryptography of the simulated cards, written against `node:crypto` on purpose: the
 * simulators check the terminal's own codecs (`@onecard/protocol/crypto`) against an independent
 * implementation. Rules follow `docs/domain/ssc-card.md` §7 and `transit-purse.md` §7:
 * dispersion, session keys, authentication data, MACs (8-byte and 16-byte block families),
 * LD-prefixed ECB cryptograms, and the PBOC purse keys (DPK, SESPK, MAC1/MAC2/TAC).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

/** Key family: `des` = DES/3DES (8-byte blocks), `sm4` = SM4 (16-byte blocks, SSF33 rules). */
export type Family = 'des' | 'sm4';

export function blockSize(f: Family): number {
  return f === 'des' ? 8 : 16;
}

function run(alg: string, key: Uint8Array, data: Uint8Array, decrypt: boolean): Uint8Array {
  const c = decrypt ? createDecipheriv(alg, key, null) : createCipheriv(alg, key, null);
  c.setAutoPadding(false);
  const a = c.update(data);
  const b = c.final();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Single DES (8-byte key) or two-key EDE 3DES (16-byte key), ECB over whole blocks. */
export function desEcb(key: Uint8Array, data: Uint8Array, decrypt = false): Uint8Array {
  if (key.length === 8) {
    const k = new Uint8Array(16);
    k.set(key, 0);
    k.set(key, 8); // EDE with K1 = K2 is single DES
    return run('des-ede-ecb', k, data, decrypt);
  }
  return run('des-ede-ecb', key, data, decrypt);
}

/** SM4 ECB over whole 16-byte blocks. */
export function sm4Ecb(key: Uint8Array, data: Uint8Array, decrypt = false): Uint8Array {
  return run('sm4-ecb', key, data, decrypt);
}

export function ecb(f: Family, key: Uint8Array, data: Uint8Array, decrypt = false): Uint8Array {
  return f === 'des' ? desEcb(key, data, decrypt) : sm4Ecb(key, data, decrypt);
}

function not(b: Uint8Array): Uint8Array {
  return b.map((x) => x ^ 0xff);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * One dispersion step with an 8-byte factor [ssc-card §7.8]: DES K → DES(K,F); 3DES K →
 * 3DES(K,F) ‖ 3DES(K,¬F); SM4 K → SM4(K, F ‖ ¬F).
 */
export function disperseOnce(f: Family, key: Uint8Array, factor: Uint8Array): Uint8Array {
  if (f === 'sm4') return sm4Ecb(key, cat(factor, not(factor)));
  if (key.length === 8) return desEcb(key, factor);
  return cat(desEcb(key, factor), desEcb(key, not(factor)));
}

/** Disperses from the root down: `factorsTopDown[0]` is applied first (province, city, card). */
export function disperse(f: Family, key: Uint8Array, factorsTopDown: readonly Uint8Array[]): Uint8Array {
  let k = key;
  for (const factor of factorsTopDown) k = disperseOnce(f, k, factor);
  return k;
}

/**
 * Session key [ssc-card §7.5]: DES family → 8 bytes, DES/3DES of the random right-padded to 8;
 * SM4 → 16 bytes, SM4 of the random right-padded with `00` to 16.
 */
export function sessionKey(f: Family, key: Uint8Array, random: Uint8Array): Uint8Array {
  const input = new Uint8Array(blockSize(f));
  input.set(random.subarray(0, input.length), 0);
  return ecb(f, key, input);
}

/** Authentication data [ssc-card §7.6]: DES(KS, O), or L ⊕ R of E(KS, O ‖ 8×00). */
export function authData(f: Family, ks: Uint8Array, original: Uint8Array): Uint8Array {
  if (f === 'des') return desEcb(ks, original);
  const x = sm4Ecb(ks, cat(original, new Uint8Array(8)));
  return x.subarray(0, 8).map((b, i) => b ^ x[8 + i]!);
}

/** ISO/IEC 9797-1 method 2 padding, always adding `80`. */
export function padMac(data: Uint8Array, block: number): Uint8Array {
  const n = Math.ceil((data.length + 1) / block) * block;
  const out = new Uint8Array(n);
  out.set(data, 0);
  out[data.length] = 0x80;
  return out;
}

/** CBC over already padded input; returns the last output block. */
export function cbcLast(f: Family, key: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array {
  const bs = blockSize(f);
  let x: Uint8Array = iv.slice(0, bs);
  for (let o = 0; o < padded.length; o += bs) {
    const blk = padded.subarray(o, o + bs).map((b, i) => b ^ x[i]!);
    x = ecb(f, key, blk);
  }
  return x;
}

/** 4-byte MAC result: leftmost 4 bytes (8-byte block) or the XOR fold of 16 bytes [§7.3]. */
export function macResult(f: Family, last: Uint8Array): Uint8Array {
  if (f === 'des') return last.slice(0, 4);
  const out = new Uint8Array(4);
  for (let i = 0; i < 16; i++) out[i & 3]! ^= last[i]!;
  return out;
}

/** Secure-messaging / purse MAC [ssc-card §7.2–7.3]: pad, CBC with zero IV under KS, 4 bytes. */
export function mac(f: Family, ks: Uint8Array, data: Uint8Array): Uint8Array {
  return macResult(f, cbcLast(f, ks, new Uint8Array(blockSize(f)), padMac(data, blockSize(f))));
}

/** LD ‖ plaintext, `80 00…` padded only when short, ECB [ssc-card §7.4]. */
export function encryptLd(f: Family, ks: Uint8Array, plain: Uint8Array): Uint8Array {
  const bs = blockSize(f);
  const body = cat(Uint8Array.of(plain.length), plain);
  const n = Math.ceil(body.length / bs) * bs;
  const padded = new Uint8Array(n);
  padded.set(body, 0);
  if (body.length < n) padded[body.length] = 0x80;
  return ecb(f, ks, padded);
}

/** Reverses {@link encryptLd}; `undefined` when LD is out of range. */
export function decryptLd(f: Family, ks: Uint8Array, cipher: Uint8Array): Uint8Array | undefined {
  if (cipher.length === 0 || cipher.length % blockSize(f) !== 0) return undefined;
  const p = ecb(f, ks, cipher, true);
  const ld = p[0]!;
  if (ld + 1 > p.length) return undefined;
  return p.slice(1, 1 + ld);
}

/** PBOC DPK/DTK from a master key and the 8-byte serial [transit-purse §7]. */
export function pbocDisperse(master: Uint8Array, serial8: Uint8Array): Uint8Array {
  return disperseOnce('des', master, serial8);
}

/** SESPK = 3DES(DPK, random 4 ‖ ATC 2 ‖ terminal serial rightmost 2) [transit-purse §7]. */
export function purseSessionKey(dpk: Uint8Array, random4: Uint8Array, atc: number, termSerial4: Uint8Array): Uint8Array {
  return desEcb(dpk, cat(random4, Uint8Array.of(atc >> 8, atc & 0xff), termSerial4.subarray(2, 4)));
}

/** Single-DES CBC MAC, zero IV, method-2 padding, leftmost 4 bytes [transit-purse §7]. */
export function pbocMac(key8: Uint8Array, data: Uint8Array): Uint8Array {
  return mac('des', key8, data);
}

/** TAC key = DTK_L ⊕ DTK_R (8 bytes). */
export function tacKey(dtk: Uint8Array): Uint8Array {
  return dtk.subarray(0, 8).map((b, i) => b ^ dtk[8 + i]!);
}

/** Constant-time equality for MAC checks. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
