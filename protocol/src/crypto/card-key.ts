/**
 * The card-key model shared by MACs, dispersion, session keys and the purse: a key tagged with
 * its card algorithm. `des` = 8-byte single DES, `3des` = 16-byte two-key EDE, `sm4` = 16-byte
 * SM4 (used wherever the card specification gives a 16-byte-block rule, SSC §7.1 [INFER]).
 * SSF33 has no public definition and is not offered.
 */
import { ProtocolError } from '../errors.ts';
import { BLOCK_SIZE, createBlockCipher } from './block-cipher.ts';
import type { BlockCipher } from './block-cipher.ts';

export const CARD_ALGORITHMS = ['des', '3des', 'sm4'] as const;
export type CardAlgorithm = (typeof CARD_ALGORITHMS)[number];

/** A card key and its algorithm. */
export interface CardKey {
  readonly algorithm: CardAlgorithm;
  readonly key: Uint8Array;
}

const CARD_KEY_LENGTH = { des: 8, '3des': 16, sm4: 16 } as const satisfies Record<CardAlgorithm, number>;

/**
 * Builds a {@link CardKey}, checking the key length (8 for `des`, 16 for `3des` and `sm4`).
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function cardKey(algorithm: CardAlgorithm, key: Uint8Array): CardKey {
  checkCardKey({ algorithm, key });
  return { algorithm, key: key.slice() };
}

/**
 * Validates a {@link CardKey}.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function checkCardKey(k: CardKey, field = 'key'): void {
  const len = (CARD_KEY_LENGTH as Record<string, number | undefined>)[k.algorithm];
  if (len === undefined) throw new ProtocolError('PROTO_ERR_CRYPTO_ALGORITHM', String(k.algorithm), { field: 'algorithm' });
  if (k.key.length !== len) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_KEY_LENGTH', `${k.algorithm} card key of ${k.key.length} bytes`, {
      field,
      length: k.key.length,
      expected: len,
    });
  }
}

/** Block size of the card algorithm: 8 for the DES family, 16 for SM4. */
export function cardBlockSize(algorithm: CardAlgorithm): 8 | 16 {
  return BLOCK_SIZE[algorithm];
}

/** Cipher for a card key (validated). Throws as {@link checkCardKey}. */
export function cardCipher(k: CardKey): BlockCipher {
  checkCardKey(k);
  return createBlockCipher(k.algorithm, k.key);
}

/** Bitwise complement ¬x. */
export function complement(x: Uint8Array): Uint8Array {
  return x.map((b) => b ^ 0xff);
}

/**
 * Checks a field has exactly `length` bytes.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH`
 */
export function expectLength(data: Uint8Array, length: number, field: string): void {
  if (data.length !== length) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `${field} of ${data.length} bytes, expected ${length}`, {
      field,
      length: data.length,
      expected: length,
    });
  }
}
