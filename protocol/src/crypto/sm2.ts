/**
 * SM2 digital signatures (GB/T 32918.2-2016) over the recommended 256-bit curve (GB/T 32918.5),
 * with SM3 as the hash and the user's Z value computed from the distinguishing ID (default
 * `1234567812345678`, GM/T 0009). Written in TypeScript with `bigint` because `node:crypto` signs
 * SM2-curve keys with ECDSA and offers no way to set the distinguishing ID. Used for the OneCard
 * e-card QR token. Keys: private = 32-byte big-endian scalar, public = 65-byte uncompressed point
 * `04‖x‖y`; signatures are 64-byte `r‖s` (DER helpers for interoperability).
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import { sm3 } from './sm3.ts';

// [GB/T 32918.5 §3] recommended curve parameters (sm2p256v1)
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** Default distinguishing ID `1234567812345678` (ASCII) [GM/T 0009 §10]. */
export const SM2_DEFAULT_ID: Uint8Array = new TextEncoder().encode('1234567812345678');

/** Options of {@link sm2Sign} / {@link sm2Verify}. */
export interface Sm2Options {
  /** Distinguishing ID of the signer; {@link SM2_DEFAULT_ID} when absent. At most 8191 bytes. */
  readonly id?: Uint8Array;
}

/** Options of {@link sm2Sign}. */
export interface Sm2SignOptions extends Sm2Options {
  /** Source of random bytes for the per-signature k; `crypto.getRandomValues` when absent. */
  readonly random?: (length: number) => Uint8Array;
  /** A fixed k, for the standard's examples only. Never set it in production code. */
  readonly k?: bigint;
}

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function modInv(a: bigint, m: bigint): bigint {
  // extended Euclid; a is non-zero mod m for every caller
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

/** Jacobian point (X, Y, Z); Z = 0 is the point at infinity. */
type Jac = readonly [bigint, bigint, bigint];
const INF: Jac = [1n, 1n, 0n];

function jDouble(p: Jac): Jac {
  const [x, y, z] = p;
  if (z === 0n || y === 0n) return INF;
  const yy = mod(y * y, P);
  const s = mod(4n * x * yy, P);
  const zz = mod(z * z, P);
  const m = mod(3n * x * x + A * zz * zz, P);
  const x3 = mod(m * m - 2n * s, P);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
  const z3 = mod(2n * y * z, P);
  return [x3, y3, z3];
}

function jAdd(p: Jac, q: Jac): Jac {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1z1 = mod(z1 * z1, P);
  const z2z2 = mod(z2 * z2, P);
  const u1 = mod(x1 * z2z2, P);
  const u2 = mod(x2 * z1z1, P);
  const s1 = mod(y1 * z2 * z2z2, P);
  const s2 = mod(y2 * z1 * z1z1, P);
  if (u1 === u2) return s1 === s2 ? jDouble(p) : INF;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = mod(h * h, P);
  const hhh = mod(h * hh, P);
  const v = mod(u1 * hh, P);
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  const z3 = mod(h * z1 * z2, P);
  return [x3, y3, z3];
}

function jMul(k: bigint, p: Jac): Jac {
  let acc = INF;
  for (let i = BigInt(k.toString(2).length - 1); i >= 0n; i--) {
    acc = jDouble(acc);
    if ((k >> i) & 1n) acc = jAdd(acc, p);
  }
  return acc;
}

function toAffine(p: Jac): { x: bigint; y: bigint } | undefined {
  if (p[2] === 0n) return undefined;
  const zi = modInv(p[2], P);
  const zi2 = mod(zi * zi, P);
  return { x: mod(p[0] * zi2, P), y: mod(p[1] * zi2 * zi, P) };
}

const G: Jac = [GX, GY, 1n];

function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function bigToBytes(v: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function onCurve(x: bigint, y: bigint): boolean {
  return mod(y * y - (x * x * x + A * x + B), P) === 0n;
}

/**
 * Decodes and validates an uncompressed public key `04‖x‖y` [GB/T 32918.1 §6.2.1].
 * Throws `PROTO_ERR_CRYPTO_KEY_LENGTH` (not 65 bytes or no `04` prefix) or `PROTO_ERR_CRYPTO_PARAM`
 * (coordinates out of range or not on the curve).
 */
function decodePublicKey(pub: Uint8Array): Jac {
  if (pub.length !== 65 || pub[0] !== 0x04) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_KEY_LENGTH', 'SM2 public key must be 65 bytes 04‖x‖y', { field: 'publicKey', length: pub.length });
  }
  const x = bytesToBig(pub.subarray(1, 33));
  const y = bytesToBig(pub.subarray(33, 65));
  // [GB/T 32918.1 §6.2.1] coordinates in [0, p-1] and on the curve (the cofactor is 1)
  if (x >= P || y >= P || !onCurve(x, y)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'SM2 public key is not a point of the curve', { field: 'publicKey' });
  }
  return [x, y, 1n];
}

function decodePrivateKey(d: Uint8Array): bigint {
  if (d.length !== 32) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_KEY_LENGTH', 'SM2 private key must be 32 bytes', { field: 'privateKey', length: d.length });
  }
  const v = bytesToBig(d);
  // [GB/T 32918.1 §6.1] d ∈ [1, n-2] (n-1 would make (1+d) non-invertible in signing)
  if (v < 1n || v > N - 2n) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'SM2 private key out of range [1, n-2]', { field: 'privateKey' });
  return v;
}

/** Checks a public key; returns it unchanged. Throws as described for {@link sm2Verify}. */
export function sm2ValidatePublicKey(publicKey: Uint8Array): Uint8Array {
  decodePublicKey(publicKey);
  return publicKey;
}

/**
 * Public key `04‖x‖y` of a 32-byte private key.
 * Throws `PROTO_ERR_CRYPTO_KEY_LENGTH` or `PROTO_ERR_CRYPTO_PARAM` (d outside [1, n-2]).
 */
export function sm2PublicKey(privateKey: Uint8Array): Uint8Array {
  const pt = toAffine(jMul(decodePrivateKey(privateKey), G))!;
  return concat(Uint8Array.of(0x04), bigToBytes(pt.x), bigToBytes(pt.y));
}

function defaultRandom(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/** Uniform scalar in [1, n-2] from a byte source (rejection sampling). */
function randomScalar(random: (length: number) => Uint8Array): bigint {
  for (;;) {
    const v = bytesToBig(random(32));
    if (v >= 1n && v <= N - 2n) return v;
  }
}

/** A fresh key pair. `random` defaults to `crypto.getRandomValues`. */
export function sm2GenerateKeyPair(random: (length: number) => Uint8Array = defaultRandom): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = bigToBytes(randomScalar(random));
  return { privateKey, publicKey: sm2PublicKey(privateKey) };
}

/**
 * Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) [GB/T 32918.2 §5.5].
 * Throws `PROTO_ERR_CRYPTO_PARAM` when the ID is longer than 8191 bytes (ENTL is 16 bits of bit length),
 * and the public-key errors of {@link sm2Verify}.
 */
export function sm2Za(publicKey: Uint8Array, id: Uint8Array = SM2_DEFAULT_ID): Uint8Array {
  decodePublicKey(publicKey);
  if (id.length > 8191) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'SM2 distinguishing ID longer than 8191 bytes', { field: 'id', length: id.length });
  const entl = id.length * 8;
  return sm3(concat(Uint8Array.of(entl >> 8, entl & 0xff), id, bigToBytes(A), bigToBytes(B), bigToBytes(GX), bigToBytes(GY), publicKey.subarray(1, 65)));
}

/** e = SM3(Z_A ‖ M) as an integer [GB/T 32918.2 §6.1 A1–A2]. */
function digestOf(publicKey: Uint8Array, message: Uint8Array, id: Uint8Array | undefined): bigint {
  return bytesToBig(sm3(concat(sm2Za(publicKey, id), message)));
}

/**
 * Signs `message` with the SM2 digital signature algorithm [GB/T 32918.2 §6.1]; returns `r‖s`
 * (64 bytes). The public key is derived from the private key for Z_A.
 * Throws `PROTO_ERR_CRYPTO_KEY_LENGTH` / `PROTO_ERR_CRYPTO_PARAM` for a bad key or ID, or a fixed `k`
 * outside [1, n-1].
 */
export function sm2Sign(privateKey: Uint8Array, message: Uint8Array, options: Sm2SignOptions = {}): Uint8Array {
  const d = decodePrivateKey(privateKey);
  const pub = sm2PublicKey(privateKey);
  const e = digestOf(pub, message, options.id);
  const random = options.random ?? defaultRandom;
  if (options.k !== undefined && (options.k < 1n || options.k >= N)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'fixed SM2 k outside [1, n-1]', { field: 'k' });
  }
  const dInv = modInv(1n + d, N);
  for (;;) {
    // [GB/T 32918.2 §6.1 A3–A7]
    const k = options.k ?? randomScalar(random);
    const x1 = toAffine(jMul(k, G))!.x;
    const r = mod(e + x1, N);
    if (r === 0n || r + k === N) {
      if (options.k !== undefined) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'fixed SM2 k gives r = 0 or r + k = n', { field: 'k' });
      continue;
    }
    const s = mod(dInv * (k - r * d), N);
    if (s === 0n) {
      if (options.k !== undefined) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'fixed SM2 k gives s = 0', { field: 'k' });
      continue;
    }
    return concat(bigToBytes(r), bigToBytes(s));
  }
}

/**
 * Verifies an `r‖s` signature [GB/T 32918.2 §7.1]. Returns false for any signature that does not
 * verify (wrong length, r or s outside [1, n-1], wrong value). Throws only for a bad public key:
 * `PROTO_ERR_CRYPTO_KEY_LENGTH` or `PROTO_ERR_CRYPTO_PARAM`.
 */
export function sm2Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options: Sm2Options = {}): boolean {
  const q = decodePublicKey(publicKey);
  if (signature.length !== 64) return false;
  const r = bytesToBig(signature.subarray(0, 32));
  const s = bytesToBig(signature.subarray(32, 64));
  // [GB/T 32918.2 §7.1 B1–B2]
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const e = digestOf(publicKey, message, options.id);
  // [GB/T 32918.2 §7.1 B5] t = (r + s) mod n, t ≠ 0
  const t = mod(r + s, N);
  if (t === 0n) return false;
  const pt = toAffine(jAdd(jMul(s, G), jMul(t, q)));
  if (pt === undefined) return false;
  // [GB/T 32918.2 §7.1 B7] R = (e + x1) mod n
  return mod(e + pt.x, N) === r;
}

function derInt(v: Uint8Array): Uint8Array {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  let body = v.subarray(i);
  if ((body[0]! & 0x80) !== 0) body = concat(Uint8Array.of(0), body);
  return concat(Uint8Array.of(0x02, body.length), body);
}

/** `r‖s` → DER `SEQUENCE { INTEGER r, INTEGER s }` [GB/T 35276 §7.3]. Throws `PROTO_ERR_CRYPTO_DATA_LENGTH`. */
export function sm2SignatureToDer(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', 'SM2 signature must be 64 bytes r‖s', { field: 'signature', length: signature.length });
  const body = concat(derInt(signature.subarray(0, 32)), derInt(signature.subarray(32, 64)));
  return concat(Uint8Array.of(0x30, body.length), body);
}

/**
 * DER `SEQUENCE { INTEGER r, INTEGER s }` → `r‖s`. Strict: short-form lengths, minimal positive
 * integers of at most 32 significant bytes, no trailing bytes. Throws `PROTO_ERR_CRYPTO_DATA_LENGTH`.
 */
export function sm2SignatureFromDer(der: Uint8Array): Uint8Array {
  const fail = (why: string, offset: number): never => {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `SM2 DER signature: ${why}`, { field: 'signature', offset });
  };
  if (der.length < 2 || der[0] !== 0x30) fail('expected SEQUENCE', 0);
  if (der[1]! > 0x7f || der[1]! + 2 !== der.length) fail('SEQUENCE length does not match', 1);
  let off = 2;
  const ints: Uint8Array[] = [];
  for (let n = 0; n < 2; n++) {
    if (der[off] !== 0x02) fail('expected INTEGER', off);
    const len = der[off + 1];
    if (len === undefined || len === 0 || len > 33 || off + 2 + len > der.length) fail('INTEGER length', off + 1);
    const body = der.subarray(off + 2, off + 2 + len!);
    if ((body[0]! & 0x80) !== 0) fail('negative INTEGER', off + 2);
    if (body.length > 1 && body[0] === 0 && (body[1]! & 0x80) === 0) fail('INTEGER not minimal', off + 2);
    const mag = body[0] === 0 && body.length > 1 ? body.subarray(1) : body;
    if (mag.length > 32) fail('INTEGER longer than 32 bytes', off + 2);
    const padded = new Uint8Array(32);
    padded.set(mag, 32 - mag.length);
    ints.push(padded);
    off += 2 + len!;
  }
  if (off !== der.length) fail('trailing bytes', off);
  return concat(ints[0]!, ints[1]!);
}
