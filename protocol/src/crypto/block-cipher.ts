/**
 * Block ciphers for card, purse and key-block cryptography: single DES, two- and three-key
 * triple DES (EDE), SM4 and AES, in ECB and CBC over `Uint8Array`. The raw block transform comes
 * from `node:crypto` (OpenSSL); single DES is run as EDE with K1 = K2 = K3 because OpenSSL 3's
 * default provider has no `des-ecb`. CBC is chained here over the ECB transform, so every mode
 * behaves the same whatever the runtime provides. No `Buffer` leaves this file.
 */
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import type { Cipher, Decipher } from 'node:crypto';
import { ProtocolError } from '../errors.ts';

/** Cipher families OneCard uses. `3des` is EDE with a 16-byte (2-key) or 24-byte (3-key) key. */
export const CIPHER_ALGORITHMS = ['des', '3des', 'sm4', 'aes'] as const;
export type CipherAlgorithm = (typeof CIPHER_ALGORITHMS)[number];

/** Block size in bytes per algorithm. */
export const BLOCK_SIZE = { des: 8, '3des': 8, sm4: 16, aes: 16 } as const satisfies Record<CipherAlgorithm, 8 | 16>;

/** Valid key lengths in bytes per algorithm. */
export const KEY_LENGTHS = {
  des: [8],
  '3des': [16, 24],
  sm4: [16],
  aes: [16, 24, 32],
} as const satisfies Record<CipherAlgorithm, readonly number[]>;

/** An initialised block cipher. The key stays inside; nothing exposes it. */
export interface BlockCipher {
  readonly algorithm: CipherAlgorithm;
  readonly blockSize: 8 | 16;
  /** ECB encryption of whole blocks. @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` */
  encryptEcb(data: Uint8Array): Uint8Array;
  /** ECB decryption of whole blocks. @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` */
  decryptEcb(data: Uint8Array): Uint8Array;
  /** CBC encryption, no padding. @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_IV_LENGTH` */
  encryptCbc(iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** CBC decryption, no padding. @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_IV_LENGTH` */
  decryptCbc(iv: Uint8Array, data: Uint8Array): Uint8Array;
}

let available: ReadonlySet<string> | undefined;
function hasCipher(name: string): boolean {
  available ??= new Set(getCiphers());
  return available.has(name);
}

function opensslSpec(algorithm: CipherAlgorithm, key: Uint8Array): { name: string; key: Uint8Array } {
  switch (algorithm) {
    case 'des':
      // Single DES as EDE with K1 = K2: E(K, D(K, E(K, x))) = E(K, x).
      return { name: 'des-ede-ecb', key: Uint8Array.of(...key, ...key) };
    case '3des':
      return { name: key.length === 16 ? 'des-ede-ecb' : 'des-ede3-ecb', key };
    case 'sm4':
      return { name: 'sm4-ecb', key };
    case 'aes':
      return { name: `aes-${key.length * 8}-ecb`, key };
  }
}

/**
 * Checks that `key` has a valid length for `algorithm`.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function checkKey(algorithm: CipherAlgorithm, key: Uint8Array, field = 'key'): void {
  const lengths = KEY_LENGTHS[algorithm] as readonly number[] | undefined;
  if (lengths === undefined) throw new ProtocolError('PROTO_ERR_CRYPTO_ALGORITHM', String(algorithm), { field: 'algorithm' });
  if (!lengths.includes(key.length)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_KEY_LENGTH', `${algorithm} key of ${key.length} bytes`, {
      field,
      length: key.length,
      expected: lengths.join('|'),
    });
  }
}

class NodeBlockCipher implements BlockCipher {
  readonly algorithm: CipherAlgorithm;
  readonly blockSize: 8 | 16;
  #enc: Cipher;
  #dec: Decipher;

  constructor(algorithm: CipherAlgorithm, key: Uint8Array) {
    this.algorithm = algorithm;
    this.blockSize = BLOCK_SIZE[algorithm];
    const spec = opensslSpec(algorithm, key);
    if (!hasCipher(spec.name)) throw new ProtocolError('PROTO_ERR_CRYPTO_ALGORITHM', `${spec.name} not provided by node:crypto`, { field: 'algorithm' });
    // ECB contexts without padding and without final(): fed only whole blocks, they hold no
    // state between calls, so one pair serves every call.
    this.#enc = createCipheriv(spec.name, spec.key, null).setAutoPadding(false);
    this.#dec = createDecipheriv(spec.name, spec.key, null).setAutoPadding(false);
  }

  #check(data: Uint8Array): void {
    if (data.length % this.blockSize !== 0) {
      throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `${data.length} bytes is not a multiple of ${this.blockSize}`, {
        field: 'data',
        length: data.length,
      });
    }
  }

  #checkIv(iv: Uint8Array): void {
    if (iv.length !== this.blockSize) {
      throw new ProtocolError('PROTO_ERR_CRYPTO_IV_LENGTH', `IV of ${iv.length} bytes`, { field: 'iv', length: iv.length, expected: this.blockSize });
    }
  }

  encryptEcb(data: Uint8Array): Uint8Array {
    this.#check(data);
    return new Uint8Array(this.#enc.update(data));
  }

  decryptEcb(data: Uint8Array): Uint8Array {
    this.#check(data);
    return new Uint8Array(this.#dec.update(data));
  }

  encryptCbc(iv: Uint8Array, data: Uint8Array): Uint8Array {
    this.#checkIv(iv);
    this.#check(data);
    const n = this.blockSize;
    const out = new Uint8Array(data.length);
    const x = new Uint8Array(n);
    let prev: Uint8Array = iv;
    for (let o = 0; o < data.length; o += n) {
      for (let i = 0; i < n; i++) x[i] = data[o + i]! ^ prev[i]!;
      const c = this.#enc.update(x);
      out.set(c, o);
      prev = out.subarray(o, o + n);
    }
    return out;
  }

  decryptCbc(iv: Uint8Array, data: Uint8Array): Uint8Array {
    this.#checkIv(iv);
    this.#check(data);
    const n = this.blockSize;
    const p = this.#dec.update(data);
    const out = new Uint8Array(data.length);
    for (let o = 0; o < data.length; o += n) {
      for (let i = 0; i < n; i++) out[o + i] = p[o + i]! ^ (o === 0 ? iv[i]! : data[o - n + i]!);
    }
    return out;
  }
}

/**
 * Creates a block cipher for `algorithm` under `key`.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM` (unknown, or missing from the runtime),
 *   `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function createBlockCipher(algorithm: CipherAlgorithm, key: Uint8Array): BlockCipher {
  checkKey(algorithm, key);
  return new NodeBlockCipher(algorithm, key);
}

/** One-shot ECB encryption. Throws as {@link createBlockCipher} and {@link BlockCipher.encryptEcb}. */
export function encryptEcb(algorithm: CipherAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  return createBlockCipher(algorithm, key).encryptEcb(data);
}

/** One-shot ECB decryption. Throws as {@link createBlockCipher} and {@link BlockCipher.decryptEcb}. */
export function decryptEcb(algorithm: CipherAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  return createBlockCipher(algorithm, key).decryptEcb(data);
}

/** One-shot CBC encryption (no padding). Throws as {@link BlockCipher.encryptCbc}. */
export function encryptCbc(algorithm: CipherAlgorithm, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return createBlockCipher(algorithm, key).encryptCbc(iv, data);
}

/** One-shot CBC decryption (no padding). Throws as {@link BlockCipher.decryptCbc}. */
export function decryptCbc(algorithm: CipherAlgorithm, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return createBlockCipher(algorithm, key).decryptCbc(iv, data);
}
