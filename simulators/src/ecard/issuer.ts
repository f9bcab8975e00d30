/**
 * The simulated issuing platform of OneCard e-card codes [ONECARD, docs/ecard-qr.md]: builds the
 * v1 binary token (holder reference, masked ID and name, region, purpose, issue time, validity,
 * 8-byte nonce), signs it with SM2/SM3 (default distinguishing ID) and writes `OC1:` + base32.
 * This encoder is written from the document, independently of the terminal's decoder, so that
 * their agreement is tested rather than assumed. Test keys only.
 */
import { sm2PublicKey, sm2Sign, sm3 } from '@onecard/protocol/crypto';
import { maskName, maskSsn } from '@onecard/protocol/ssc';
import { concat, fromHex } from '@onecard/protocol/bytes';
import { SimulatorError } from '../errors.ts';

/** A fixed test issuer key, clearly not a real platform key (TEST ONLY). */
export const TEST_ECARD_ISSUER_PRIVATE_KEY = '0E1CA7D0000000000000000000000000000000000000000000000000000000A1';

export const ECARD_SIM_PURPOSES = { enquiry: 1, payment: 2, other: 3, medicalOutOfRegion: 4 } as const;

export interface EcardHolder {
  /** Platform holder reference: hex (2..64 digits) or any text (UTF-8, ≤ 32 bytes). */
  readonly holderRef: string;
  /** Full ID number (SSN); only the masked form goes into the code. */
  readonly ssn?: string;
  /** Full name; only the masked form goes into the code. */
  readonly name?: string;
  /** 6-digit issuing region. */
  readonly region: string;
  readonly purpose?: keyof typeof ECARD_SIM_PURPOSES;
}

export interface IssueOptions {
  /** Issuer private key, 32 bytes or 64 hex digits. */
  readonly key: Uint8Array | string;
  /** Milliseconds since the Unix epoch. */
  readonly clock: () => number;
  /** Validity, seconds (default 60). */
  readonly ttlSeconds?: number;
  /** Random source for the nonce and the signature (default `crypto.getRandomValues`). */
  readonly random?: (length: number) => Uint8Array;
}

export interface IssuedEcardCode {
  /** The QR text `OC1:…`. */
  readonly code: string;
  readonly bytes: Uint8Array;
  readonly nonce: string;
  readonly keyId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();

function privateKeyOf(key: Uint8Array | string): { d: Uint8Array; pub: Uint8Array } {
  try {
    const d = typeof key === 'string' ? fromHex(key) : key;
    return { d, pub: sm2PublicKey(d) };
  } catch (e) {
    throw new SimulatorError('SIM_ERR_ECARD_KEY', undefined, {}, { cause: e });
  }
}

/** Public key `04‖x‖y` (hex) of an issuer key, for the terminal configuration. Throws `SIM_ERR_ECARD_KEY`. */
export function ecardIssuerPublicKey(key: Uint8Array | string): string {
  return hex(privateKeyOf(key).pub);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Uint8Array): string {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  while (bits.length % 5 !== 0) bits += '0';
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += B32[parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

function holderRefBytes(ref: string): Uint8Array {
  if (/^([0-9A-Fa-f]{2}){1,32}$/.test(ref)) return fromHex(ref);
  return new TextEncoder().encode(ref);
}

/**
 * Issues one code. Throws `SIM_ERR_ECARD_HOLDER` naming the field that does not fit, or
 * `SIM_ERR_ECARD_KEY`.
 */
export function issueEcardCode(holder: EcardHolder, opts: IssueOptions): IssuedEcardCode {
  const { d, pub } = privateKeyOf(opts.key);
  const bad = (field: string, why: string): never => {
    throw new SimulatorError('SIM_ERR_ECARD_HOLDER', `${field}: ${why}`, { field });
  };
  const ttl = opts.ttlSeconds ?? 60;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 600) bad('ttlSeconds', 'must be 1..600');
  if (!/^\d{6}$/.test(holder.region)) bad('region', 'must be 6 digits');
  const ref = holderRefBytes(holder.holderRef);
  if (ref.length < 1 || ref.length > 32) bad('holderRef', 'must be 1..32 bytes');
  const maskedId = holder.ssn === undefined ? '' : maskSsn(holder.ssn.toUpperCase());
  if (!/^[0-9X*]{0,20}$/.test(maskedId)) bad('ssn', 'must be at most 20 of 0-9, X');
  const maskedName = new TextEncoder().encode(holder.name === undefined ? '' : maskName(holder.name));
  if (maskedName.length > 48) bad('name', 'masked name longer than 48 UTF-8 bytes');
  const purpose = ECARD_SIM_PURPOSES[holder.purpose ?? 'enquiry'];
  if (purpose === undefined) bad('purpose', 'unknown');
  const random = opts.random ?? ((n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
  const issuedAt = Math.floor(opts.clock() / 1000);
  const nonce = random(8);
  const head = new Uint8Array(24);
  const dv = new DataView(head.buffer);
  head[0] = 1; // version
  head[1] = 1; // SM2 with SM3
  head.set(sm3(pub).subarray(0, 4), 2);
  dv.setUint32(6, issuedAt);
  dv.setUint16(10, ttl);
  head.set(nonce, 12);
  head[20] = purpose;
  head.set(fromHex(holder.region), 21);
  const id = new TextEncoder().encode(maskedId);
  const signed = concat(head, Uint8Array.of(ref.length), ref, Uint8Array.of(id.length), id, Uint8Array.of(maskedName.length), maskedName);
  const bytes = concat(signed, sm2Sign(d, signed, { random }));
  return { code: `OC1:${base32(bytes)}`, bytes, nonce: hex(nonce), keyId: hex(head.subarray(2, 6)), issuedAt, expiresAt: issuedAt + ttl };
}
