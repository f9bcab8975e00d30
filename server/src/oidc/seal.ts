/**
 * Sealing of the card-login secrets at rest under the server's master key: provider signing keys,
 * portal client secrets, account claims and the e-card registry's identities. Each use derives its
 * own AES-256-GCM key from the master key (HKDF-SHA-256 with a purpose label), and every sealed
 * value is bound to what it belongs to (the associated data: a key id, a client id, an account id),
 * so a sealed value moved to another row does not open. Text form: `v1.` + base64url(iv‖tag‖ct).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ServerError } from '../errors.ts';

export type SealPurpose = 'provider-key' | 'client-secret' | 'account' | 'ecard-holder' | 'cookie' | 'pairwise' | 'account-id';

/** The keys the card-login plugin derives from the master key, one per purpose. */
export class LoginKeys {
  readonly #keys = new Map<SealPurpose, Buffer>();
  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new ServerError('SRV_ERR_CONFIG', 'the master key must be 32 bytes');
    for (const p of ['provider-key', 'client-secret', 'account', 'ecard-holder', 'cookie', 'pairwise', 'account-id'] as const) {
      this.#keys.set(p, Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `OneCard login ${p} v1`, 32)));
    }
  }

  #key(p: SealPurpose): Buffer {
    return this.#keys.get(p)!;
  }

  seal(p: SealPurpose, plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key(p), iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')}`;
  }

  /** @throws ServerError `SRV_ERR_KEYS_MASTER_KEY` when the value was sealed under another master key or for another row */
  open(p: SealPurpose, sealed: string, aad: string): string {
    try {
      if (!sealed.startsWith('v1.')) throw new Error('unknown sealing version');
      const raw = Buffer.from(sealed.slice(3), 'base64url');
      const d = createDecipheriv('aes-256-gcm', this.#key(p), raw.subarray(0, 12));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch (cause) {
      throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', `a sealed ${p} does not open under this master key`, { purpose: p }, { cause });
    }
  }

  /** A keyed hash (hex) for identifiers derived from personal data: account ids, pairwise subjects. */
  mac(p: 'pairwise' | 'account-id' | 'cookie', ...parts: readonly string[]): string {
    const h = createHmac('sha256', this.#key(p));
    for (const x of parts) h.update(`${x.length}:${x}`);
    return h.digest('hex');
  }
}
