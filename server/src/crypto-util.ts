/** Random tokens, their hashes and the server's ECDH key pair. */
import { createHash, generateKeyPairSync, randomBytes, createPublicKey, timingSafeEqual } from 'node:crypto';
import type { ServerKeys } from './context.ts';

/** A new random token with a type prefix, e.g. `oca_…` (admin), `oce_…` (enrolment), `oct_…` (terminal). */
export function newToken(prefix: 'oca' | 'oce' | 'oct' | 'ocs'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** A new random identifier (not secret). */
export function newId(prefix: string): string {
  return `${prefix}${randomBytes(8).toString('hex')}`;
}

/** SHA-256 hex of a high-entropy token; what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Generates the server's ECDH (P-256) key pair. */
export function generateServerKeys(): ServerKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKeyPkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
  };
}

/** True when `spkiBase64` is a P-256 public key in SPKI DER. */
export function isP256PublicKey(spkiBase64: string): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}
