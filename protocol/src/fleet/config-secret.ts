/**
 * Secrets of the terminal configuration document (today the SIP2 login password,
 * `library.password`, docs/sip2.md "The SIP2 password"). The document never carries them in
 * clear: the server stores each one sealed under its master key and the document holds only that
 * sealed text, `{"sealed": "v1.…"}`, which no terminal can open. A terminal fetches its own copy,
 * sealed for it alone: AES-256-GCM under a key derived from its KBPK (the ECDH key both sides
 * derive without sending it, `kbpk.ts`), with associated data naming the terminal, the secret and
 * the digest of the document's sealed text, so a copy opens only on the terminal it was made for
 * and only for the document value it belongs to. Text form: `v1.` + base64url(iv ‖ tag ‖ ct).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { ProtocolError } from '../errors.ts';

/** HKDF `info` of the terminal's configuration-secret key (salt empty, IKM = the terminal's KBPK). */
export const CONFIG_SECRET_INFO = 'OneCard config secret v1 AES-256-GCM';
/** The secrets a configuration document can hold, by their document path (dots). */
export const CONFIG_SECRET_NAMES = ['library.password'] as const;
export type ConfigSecretName = (typeof CONFIG_SECRET_NAMES)[number];

/** Sealed text: `v1.` + base64url of 12-byte IV, 16-byte tag and the ciphertext (at most 64 UTF-8 characters of secret). */
export const SEALED_TEXT_PATTERN = '^v1\\.[A-Za-z0-9_-]{38,400}$';
const SEALED_TEXT = new RegExp(SEALED_TEXT_PATTERN);

/** How a document carries a secret: the server's sealed text, opaque to terminals. */
export const SealedSecretRef = Type.Object({
  sealed: Type.String({ pattern: SEALED_TEXT_PATTERN, description: 'sealed under the fleet server\'s master key; the terminal fetches its own copy (docs/sip2.md)' }),
}, { additionalProperties: false });

/** Whether a document value is a sealed reference. */
export function isSealedRef(v: unknown): v is { readonly sealed: string } {
  return typeof v === 'object' && v !== null && typeof (v as { sealed?: unknown }).sealed === 'string' && Object.keys(v).length === 1;
}

/** The key a terminal's secret copies are sealed under: HKDF-SHA256(kbpk, salt = ∅, info = {@link CONFIG_SECRET_INFO}, 32). */
function secretKey(kbpk: Uint8Array): Buffer {
  if (kbpk.length !== 32) throw new ProtocolError('PROTO_ERR_FLEET_SECRET', 'the KBPK must be 32 bytes', { field: 'kbpk' });
  return Buffer.from(hkdfSync('sha256', kbpk, new Uint8Array(0), CONFIG_SECRET_INFO, 32));
}

/** Associated data of a terminal's copy: terminal id, secret name and SHA-256 (hex) of the document's sealed text. */
export function configSecretAad(terminalId: string, name: ConfigSecretName, documentSealed: string): Uint8Array {
  const ref = createHash('sha256').update(documentSealed, 'utf8').digest('hex');
  return new Uint8Array(Buffer.from(`${CONFIG_SECRET_INFO}\nterminal=${terminalId}\nname=${name}\nref=${ref}`, 'utf8'));
}

/**
 * Seals `secret` for one terminal (the server side of the delivery). `iv` for tests only.
 * @throws ProtocolError `PROTO_ERR_FLEET_SECRET` (KBPK not 32 bytes, empty terminal id)
 */
export function sealConfigSecret(kbpk: Uint8Array, terminalId: string, name: ConfigSecretName, documentSealed: string, secret: string, iv: Uint8Array = randomBytes(12)): string {
  if (terminalId.length === 0) throw new ProtocolError('PROTO_ERR_FLEET_SECRET', 'terminal id is empty', { field: 'terminalId' });
  if (iv.length !== 12) throw new ProtocolError('PROTO_ERR_FLEET_SECRET', 'iv must be 12 bytes', { field: 'iv' });
  const key = secretKey(kbpk);
  try {
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(configSecretAad(terminalId, name, documentSealed));
    const ct = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')}`;
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a terminal's copy (the terminal side). Fails for a copy made for another terminal, another
 * secret or another document value, and for any altered byte.
 * @throws ProtocolError `PROTO_ERR_FLEET_SECRET`
 */
export function openConfigSecret(kbpk: Uint8Array, terminalId: string, name: ConfigSecretName, documentSealed: string, sealed: string): string {
  if (!SEALED_TEXT.test(sealed)) throw new ProtocolError('PROTO_ERR_FLEET_SECRET', 'not a sealed secret', { field: name });
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  const key = secretKey(kbpk);
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(configSecretAad(terminalId, name, documentSealed));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_FLEET_SECRET', `${name} does not open for this terminal and document`, { field: name }, { cause });
  } finally {
    key.fill(0);
  }
}
