/**
 * The key-block protection key (KBPK, TR-31 usage `K1`, AES-256) shared by a terminal and the
 * fleet server without ever being sent: ECDH on P-256 between the terminal's enrolment key and
 * the server's key, then HKDF-SHA256 with the terminal id as salt and a fixed OneCard info
 * string. Both sides run exactly this function (the server with its private key and the
 * terminal's public key).
 */
import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { TerminalError } from '../errors.ts';

/** HKDF `info`: fixed ASCII, versioned so a later derivation can coexist. */
export const KBPK_INFO = 'OneCard KBPK v1 TR-31 K1 AES-256';
/** Length of the derived KBPK in bytes (AES-256). */
export const KBPK_LENGTH = 32;

/** Accepts a KeyObject, PEM text, or DER bytes (PKCS#8 private / SPKI public). */
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
 * KBPK = HKDF-SHA256(IKM = ECDH-P256(privateKey, peerPublicKey) x-coordinate (32 bytes),
 * salt = UTF-8(terminalId), info = UTF-8({@link KBPK_INFO}), L = 32).
 * @throws TerminalError `TERM_ERR_KBPK` (not P-256 keys, malformed keys, empty terminal id)
 */
export function deriveKbpk(privateKey: PrivateKeyInput, peerPublicKey: PublicKeyInput, terminalId: string): Uint8Array {
  if (terminalId.length === 0) throw new TerminalError('TERM_ERR_KBPK', 'terminal id is empty', { field: 'terminalId' });
  let priv: KeyObject;
  let pub: KeyObject;
  try {
    priv = toPrivate(privateKey);
    pub = toPublic(peerPublicKey);
  } catch (cause) {
    throw new TerminalError('TERM_ERR_KBPK', 'malformed key', {}, { cause });
  }
  for (const k of [priv, pub]) {
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TerminalError('TERM_ERR_KBPK', 'keys must be P-256', {});
  }
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: priv, publicKey: pub });
  } catch (cause) {
    throw new TerminalError('TERM_ERR_KBPK', 'ECDH failed', {}, { cause });
  }
  const out = new Uint8Array(hkdfSync('sha256', shared, Buffer.from(terminalId, 'utf8'), Buffer.from(KBPK_INFO, 'utf8'), KBPK_LENGTH));
  shared.fill(0);
  return out;
}
