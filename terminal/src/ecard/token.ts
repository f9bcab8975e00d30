/**
 * The OneCard e-card QR token v1 [ONECARD, docs/ecard-qr.md]: a short-lived, SM2/SM3-signed
 * binary record naming a card holder with minimal, masked data, written as `OC1:` + RFC 4648
 * base32 (no padding) so that it fits the QR alphanumeric mode and survives Caps Lock on keyboard
 * wedge scanners. This file is the pure codec: {@link encodeEcardToken} / {@link decodeEcardToken}
 * over the binary form, {@link ecardTokenToText} / {@link ecardTokenFromText} for the text form,
 * and {@link ecardKeyId}. Signature checking is in `verifier.ts`.
 */
import { sm3 } from '@onecard/protocol/crypto';
import { TerminalError } from '../errors.ts';

/** Text prefix of a OneCard e-card code (case-insensitive on input). */
export const ECARD_PREFIX = 'OC1:';
/** Binary token version. */
export const ECARD_VERSION = 1;
/** Signature algorithm 1: SM2 with SM3, distinguishing ID `1234567812345678`. */
export const ECARD_ALG_SM2_SM3 = 1;

/** What the holder presents the code for, after the e-SSC business types. */
export const ECARD_PURPOSES = { enquiry: 1, payment: 2, other: 3, medicalOutOfRegion: 4 } as const;
export type EcardPurpose = keyof typeof ECARD_PURPOSES;

/** The signed fields of a token. */
export interface EcardTokenBody {
  /** First 4 bytes of SM3 of the issuer public key (`04‖x‖y`), see {@link ecardKeyId}. */
  readonly keyId: Uint8Array;
  /** Issue time, Unix seconds. */
  readonly issuedAt: number;
  /** Validity in seconds from `issuedAt` (1..600). */
  readonly ttl: number;
  /** 8 random bytes, unique per code. */
  readonly nonce: Uint8Array;
  readonly purpose: EcardPurpose;
  /** Issuing region, 6-digit administrative division code. */
  readonly region: string;
  /** The platform's opaque holder reference (1..32 bytes). */
  readonly holderRef: Uint8Array;
  /** Masked ID number, e.g. `110*************34` (0..20 chars of `0-9 X *`). */
  readonly maskedId: string;
  /** Masked name, e.g. `张**` (0..48 UTF-8 bytes). */
  readonly maskedName: string;
}

/** A decoded token: body, the exact signed bytes and the 64-byte `r‖s` signature. */
export interface EcardToken extends EcardTokenBody {
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

const malformed = (field: string, detail: string, offset?: number): TerminalError =>
  new TerminalError('TERM_ERR_ECARD_MALFORMED', `${field}: ${detail}`, offset === undefined ? { field } : { field, offset });

/** Key identifier of an issuer public key: SM3(`04‖x‖y`)[0..4]. */
export function ecardKeyId(publicKey: Uint8Array): Uint8Array {
  return sm3(publicKey).subarray(0, 4);
}

const purposeByCode = new Map<number, EcardPurpose>(Object.entries(ECARD_PURPOSES).map(([k, v]) => [v, k as EcardPurpose]));

/**
 * The bytes that get signed (everything but the signature).
 * Throws `TERM_ERR_ECARD_MALFORMED` naming the field that does not fit the format.
 */
export function encodeEcardBody(body: EcardTokenBody): Uint8Array {
  if (body.keyId.length !== 4) throw malformed('keyId', 'must be 4 bytes');
  if (!Number.isInteger(body.issuedAt) || body.issuedAt < 0 || body.issuedAt > 0xffffffff) throw malformed('issuedAt', 'must be uint32 seconds');
  if (!Number.isInteger(body.ttl) || body.ttl < 1 || body.ttl > 600) throw malformed('ttl', 'must be 1..600 seconds');
  if (body.nonce.length !== 8) throw malformed('nonce', 'must be 8 bytes');
  const purpose = ECARD_PURPOSES[body.purpose];
  if (purpose === undefined) throw malformed('purpose', 'unknown purpose');
  if (!/^\d{6}$/.test(body.region)) throw malformed('region', 'must be 6 digits');
  if (body.holderRef.length < 1 || body.holderRef.length > 32) throw malformed('holderRef', 'must be 1..32 bytes');
  if (!/^[0-9X*]{0,20}$/.test(body.maskedId)) throw malformed('maskedId', 'must be 0..20 of 0-9, X, *');
  const name = new TextEncoder().encode(body.maskedName);
  if (name.length > 48) throw malformed('maskedName', 'must be at most 48 UTF-8 bytes');
  const id = new TextEncoder().encode(body.maskedId);
  const out = new Uint8Array(24 + 1 + body.holderRef.length + 1 + id.length + 1 + name.length);
  const dv = new DataView(out.buffer);
  out[0] = ECARD_VERSION;
  out[1] = ECARD_ALG_SM2_SM3;
  out.set(body.keyId, 2);
  dv.setUint32(6, body.issuedAt);
  dv.setUint16(10, body.ttl);
  out.set(body.nonce, 12);
  out[20] = purpose;
  for (let i = 0; i < 3; i++) out[21 + i] = (Number(body.region[2 * i]) << 4) | Number(body.region[2 * i + 1]);
  let off = 24;
  for (const f of [body.holderRef, id, name]) {
    out[off++] = f.length;
    out.set(f, off);
    off += f.length;
  }
  return out;
}

/** Signed bytes ‖ signature. Throws `TERM_ERR_ECARD_MALFORMED` for a signature that is not 64 bytes. */
export function encodeEcardToken(signed: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw malformed('signature', 'must be 64 bytes r‖s');
  const out = new Uint8Array(signed.length + 64);
  out.set(signed);
  out.set(signature, signed.length);
  return out;
}

/**
 * Decodes a binary token, strictly (no trailing bytes, every length checked). Does not check the
 * signature or the time. Throws `TERM_ERR_ECARD_VERSION` (version or algorithm byte) or
 * `TERM_ERR_ECARD_MALFORMED` with `details.field` and `details.offset`.
 */
export function decodeEcardToken(bytes: Uint8Array): EcardToken {
  if (bytes.length < 1) throw malformed('version', 'empty token', 0);
  if (bytes[0] !== ECARD_VERSION) throw new TerminalError('TERM_ERR_ECARD_VERSION', `version ${bytes[0]}`, { field: 'version', offset: 0 });
  if (bytes.length < 2) throw malformed('alg', 'truncated', 1);
  if (bytes[1] !== ECARD_ALG_SM2_SM3) throw new TerminalError('TERM_ERR_ECARD_VERSION', `algorithm ${bytes[1]}`, { field: 'alg', offset: 1 });
  if (bytes.length < 24 + 3 + 64) throw malformed('length', `token of ${bytes.length} bytes is too short`, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const purpose = purposeByCode.get(bytes[20]!);
  if (purpose === undefined) throw malformed('purpose', `unknown purpose ${bytes[20]}`, 20);
  let region = '';
  for (let i = 21; i < 24; i++) {
    const hi = bytes[i]! >> 4;
    const lo = bytes[i]! & 0x0f;
    if (hi > 9 || lo > 9) throw malformed('region', 'not BCD', i);
    region += `${hi}${lo}`;
  }
  const ttl = dv.getUint16(10);
  if (ttl < 1 || ttl > 600) throw malformed('ttl', `${ttl} s outside 1..600`, 10);
  let off = 24;
  const field = (name: string, min: number, max: number): Uint8Array => {
    const len = bytes[off];
    if (len === undefined || off + 1 + len > bytes.length - 64) throw malformed(name, 'length runs past the signature', off);
    if (len < min || len > max) throw malformed(name, `length ${len} outside ${min}..${max}`, off);
    const v = bytes.subarray(off + 1, off + 1 + len);
    off += 1 + len;
    return v;
  };
  const holderRef = field('holderRef', 1, 32);
  const idOff = off;
  const idBytes = field('maskedId', 0, 20);
  const maskedId = String.fromCharCode(...idBytes);
  if (!/^[0-9X*]*$/.test(maskedId)) throw malformed('maskedId', 'characters outside 0-9, X, *', idOff + 1);
  const nameOff = off;
  const nameBytes = field('maskedName', 0, 48);
  let maskedName: string;
  try {
    maskedName = new TextDecoder('utf-8', { fatal: true }).decode(nameBytes);
  } catch {
    throw malformed('maskedName', 'not UTF-8', nameOff + 1);
  }
  if (off !== bytes.length - 64) throw malformed('signature', `expected 64 bytes after the fields, found ${bytes.length - off}`, off);
  return {
    keyId: bytes.slice(2, 6),
    issuedAt: dv.getUint32(6),
    ttl,
    nonce: bytes.slice(12, 20),
    purpose,
    region,
    holderRef: holderRef.slice(),
    maskedId,
    maskedName,
    signed: bytes.slice(0, off),
    signature: bytes.slice(off),
  };
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, upper case, no padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Base32 without padding, case-insensitive. Throws `TERM_ERR_ECARD_FORMAT` for a character outside
 * the alphabet, an impossible length or non-zero trailing bits (non-canonical text).
 */
export function base32Decode(text: string): Uint8Array {
  const rem = text.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) throw new TerminalError('TERM_ERR_ECARD_FORMAT', `base32 length ${text.length} impossible`, { field: 'text' });
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const v = B32.indexOf(text[i]!.toUpperCase());
    if (v < 0) throw new TerminalError('TERM_ERR_ECARD_FORMAT', `character ${JSON.stringify(text[i])} is not base32`, { field: 'text', offset: i });
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new TerminalError('TERM_ERR_ECARD_FORMAT', 'non-zero padding bits', { field: 'text' });
  return out;
}

/** `OC1:` + base32 of the binary token. */
export function ecardTokenToText(token: Uint8Array): string {
  return ECARD_PREFIX + base32Encode(token);
}

/** True when `text` looks like a OneCard code (prefix check only, case-insensitive). */
export function isEcardText(text: string): boolean {
  return text.trim().toUpperCase().startsWith(ECARD_PREFIX);
}

/**
 * Text → binary token. Surrounding white space is ignored; the prefix and the base32 are
 * case-insensitive. Throws `TERM_ERR_ECARD_FORMAT`, then the errors of {@link decodeEcardToken}.
 */
export function ecardTokenFromText(text: string): EcardToken {
  const t = text.trim();
  if (t.length > 1024) throw new TerminalError('TERM_ERR_ECARD_FORMAT', 'longer than 1024 characters', { field: 'text' });
  if (!isEcardText(t)) throw new TerminalError('TERM_ERR_ECARD_FORMAT', `missing ${ECARD_PREFIX} prefix`, { field: 'prefix' });
  return decodeEcardToken(base32Decode(t.slice(ECARD_PREFIX.length)));
}
