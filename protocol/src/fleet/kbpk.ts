/**
 * Key delivery primitives shared by the fleet server and terminals: the key-block protection key
 * (KBPK, TR-31 usage `K1`, AES-256) both sides derive without sending it — ECDH on P-256 between
 * the terminal's enrolment key and the server's key, then HKDF-SHA256 with the terminal id as
 * salt and a fixed OneCard info string — and the key-set check value a terminal reports when it
 * acknowledges a key job (one short value over the KCVs of every key it loaded).
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { ProtocolError } from '../errors.ts';

/** HKDF `info`: fixed ASCII, versioned so a later derivation can coexist. */
export const KBPK_INFO = 'OneCard KBPK v1 TR-31 K1 AES-256';
/** Length of the derived KBPK in bytes (AES-256). */
export const KBPK_LENGTH = 32;

/** A KeyObject, PEM text, base64 DER text (public keys), or DER bytes (PKCS#8 private / SPKI public). */
export type PrivateKeyInput = KeyObject | string | Uint8Array;
export type PublicKeyInput = KeyObject | string | Uint8Array;

function toPrivate(k: PrivateKeyInput): KeyObject {
  if (typeof k === 'string') return createPrivateKey(k);
  if (k instanceof Uint8Array) return createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' });
  return k;
}

function toPublic(k: PublicKeyInput): KeyObject {
  if (typeof k === 'string') {
    // PEM, or base64 SPKI DER as the enrolment API carries it.
    return k.includes('-----BEGIN') ? createPublicKey(k) : createPublicKey({ key: Buffer.from(k, 'base64'), format: 'der', type: 'spki' });
  }
  if (k instanceof Uint8Array) return createPublicKey({ key: Buffer.from(k), format: 'der', type: 'spki' });
  return k.type === 'private' ? createPublicKey(k) : k;
}

/**
 * HKDF-SHA256 over the P-256 ECDH shared secret (the x-coordinate, 32 bytes) of `privateKey` and
 * `peerPublicKey`, with the given salt and info; `length` bytes out. The shared secret is wiped.
 * @throws ProtocolError `PROTO_ERR_FLEET_KBPK` (not P-256 keys, malformed keys)
 */
export function ecdhHkdf(privateKey: PrivateKeyInput, peerPublicKey: PublicKeyInput, salt: Uint8Array, info: string, length: number): Uint8Array {
  let priv: KeyObject;
  let pub: KeyObject;
  try {
    priv = toPrivate(privateKey);
    pub = toPublic(peerPublicKey);
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'malformed key', {}, { cause });
  }
  for (const k of [priv, pub]) {
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'keys must be P-256', { field: 'key' });
  }
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: priv, publicKey: pub });
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'ECDH failed', {}, { cause });
  }
  const out = new Uint8Array(hkdfSync('sha256', shared, salt, Buffer.from(info, 'utf8'), length));
  shared.fill(0);
  return out;
}

/**
 * KBPK = HKDF-SHA256(IKM = ECDH-P256(privateKey, peerPublicKey) x-coordinate (32 bytes),
 * salt = UTF-8(terminalId), info = UTF-8({@link KBPK_INFO}), L = 32). The terminal runs it with
 * its enrolment private key and the server's public key, the server with its private key and the
 * terminal's public key; both get the same bytes. [ONECARD key-blocks §9]
 * @throws ProtocolError `PROTO_ERR_FLEET_KBPK` (not P-256 keys, malformed keys, empty terminal id)
 */
export function deriveKbpk(privateKey: PrivateKeyInput, peerPublicKey: PublicKeyInput, terminalId: string): Uint8Array {
  if (terminalId.length === 0) throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'terminal id is empty', { field: 'terminalId' });
  return ecdhHkdf(privateKey, peerPublicKey, new Uint8Array(Buffer.from(terminalId, 'utf8')), KBPK_INFO, KBPK_LENGTH);
}

/** One loaded key as the key-set check value sees it (no key material). */
export interface KeySetCheckEntry {
  /** TR-31 key usage, e.g. `61`. */
  readonly usage: string;
  /** Card key version byte (0–255). */
  readonly keyVersion: number;
  /** Algorithm identifier byte (0–255). */
  readonly algorithmId: number;
  /** The key's KCV, hex. */
  readonly kcv: string;
}

/**
 * The key-set check value a terminal reports in `up/jobs/{jobId}` `{status:'succeeded', kcv}`:
 * uppercase hex of the first 3 bytes of SHA-256 over UTF-8 of `OneCard key set v1` followed by
 * one line per key, `\n`-separated and sorted: `{usage}:{keyVersion 2 hex}:{algorithmId 2 hex}:{KCV}`
 * (hex uppercase). Order-independent; it changes when any key, slot or KCV differs. [ONECARD]
 * @throws ProtocolError `PROTO_ERR_FLEET_KBPK` (empty set, malformed entry)
 */
export function keySetCheckValue(entries: readonly KeySetCheckEntry[]): string {
  if (entries.length === 0) throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'empty key set', { field: 'entries' });
  const hex2 = (n: number, field: string): string => {
    if (!Number.isInteger(n) || n < 0 || n > 255) throw new ProtocolError('PROTO_ERR_FLEET_KBPK', `${field} ${n}`, { field });
    return n.toString(16).toUpperCase().padStart(2, '0');
  };
  const lines = entries.map((e) => {
    if (!/^[0-9A-Z]{2}$/.test(e.usage)) throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'usage', { field: 'usage' });
    if (!/^[0-9A-Fa-f]{6,10}$/.test(e.kcv)) throw new ProtocolError('PROTO_ERR_FLEET_KBPK', 'kcv', { field: 'kcv' });
    return `${e.usage}:${hex2(e.keyVersion, 'keyVersion')}:${hex2(e.algorithmId, 'algorithmId')}:${e.kcv.toUpperCase()}`;
  }).sort();
  const digest = createHash('sha256').update(['OneCard key set v1', ...lines].join('\n'), 'utf8').digest();
  return digest.subarray(0, 3).toString('hex').toUpperCase();
}
