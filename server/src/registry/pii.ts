/**
 * Personal data at rest in the registry: ID numbers and names are sealed with AES-256-GCM under a
 * key derived (HKDF-SHA256) from the server's master key — the key that protects transit key
 * sets — and looked up through keyed hashes (HMAC-SHA256 under a second derived key), so the
 * store never holds a plain value and an index on the hash serves lookups. The sealed value is
 * bound to its card number and field (additional authenticated data): moved to another row or
 * field, it fails to open.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ServerError } from '../errors.ts';

const SEAL_PREFIX = 'v1.';

/** The registry's derived keys. Construct once per process from the master key. */
export class PiiCipher {
  readonly #enc: Buffer;
  readonly #mac: Buffer;
  /** Short check value of the sealing key, stored nowhere secret; tells a wrong master key apart. */
  readonly keyCheck: string;

  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', 'the registry needs a 32-byte master key');
    this.#enc = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'OneCard registry personal data AES-256-GCM v1', 32));
    this.#mac = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'OneCard registry lookup HMAC-SHA256 v1', 32));
    this.keyCheck = createHmac('sha256', this.#enc).update('key check').digest('hex').slice(0, 10);
  }

  /** Keyed hash of an ID number (normalised by the caller) for lookups. */
  idHash(idNumber: string): string {
    return createHmac('sha256', this.#mac).update(`id\u0000${idNumber}`).digest('base64url');
  }

  /** Keyed hash of an ID number with a name (NFC, trimmed), for yes/no verification without opening anything. */
  holderHash(idNumber: string, name: string): string {
    return createHmac('sha256', this.#mac).update(`holder\u0000${idNumber}\u0000${name.trim().normalize('NFC')}`).digest('base64url');
  }

  /** Keyed hash over a whole imported record (idempotent re-imports without a plain hash of personal data). */
  contentHash(parts: readonly string[]): string {
    return createHmac('sha256', this.#mac).update(`content\u0000${parts.join('\u0000')}`).digest('base64url');
  }

  /** Seals `value` for `field` of `cardNumber`. */
  seal(cardNumber: string, field: 'idNumber' | 'name', value: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#enc, iv);
    c.setAAD(Buffer.from(`${cardNumber}\u0000${field}`));
    const ct = Buffer.concat([c.update(value, 'utf8'), c.final()]);
    return SEAL_PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
  }

  /**
   * Opens a sealed value.
   * @throws ServerError `SRV_ERR_KEYS_MASTER_KEY` when it does not open (wrong master key, or moved)
   */
  open(cardNumber: string, field: 'idNumber' | 'name', sealed: string): string {
    try {
      if (!sealed.startsWith(SEAL_PREFIX)) throw new Error('unknown seal version');
      const raw = Buffer.from(sealed.slice(SEAL_PREFIX.length), 'base64url');
      const d = createDecipheriv('aes-256-gcm', this.#enc, raw.subarray(0, 12));
      d.setAAD(Buffer.from(`${cardNumber}\u0000${field}`));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch (cause) {
      throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', `registry ${field} of a card does not open`, {}, { cause });
    }
  }
}
