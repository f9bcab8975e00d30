/**
 * The card MACs of the social security card and the PBOC purse:
 * - `des` key (8 bytes): single-DES CBC on every block, leftmost 4 bytes (SSC P4 fig. 1; PBOC-2 B.4);
 * - `3des` key (16 bytes): ISO/IEC 9797-1 algorithm 3 — single DES with K_L on every block, then
 *   D(K_R) and E(K_L) on the last output, leftmost 4 bytes (PSAM key loading, SSC P9 fig. 5;
 *   PBOC issuer secure messaging). User-card session MACs never take this path: their KS is 8 bytes;
 * - `sm4` key (16 bytes): SM4 CBC, last output folded by XOR of its four 4-byte parts (SSC P4 §8.2.4.2).
 * All pad with ISO/IEC 9797-1 method 2 and start from a zero IV unless one is given.
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import { createBlockCipher } from './block-cipher.ts';
import { cardBlockSize, cardCipher, checkCardKey, expectLength } from './card-key.ts';
import type { CardAlgorithm, CardKey } from './card-key.ts';
import { padMethod2, zeroPadRight } from './padding.ts';

/** XOR fold of a 16-byte block into 4 bytes: O[0..3] ⊕ O[4..7] ⊕ O[8..11] ⊕ O[12..15]. [SSC P4 §8.2.4.2] */
export function foldXor4(block: Uint8Array): Uint8Array {
  expectLength(block, 16, 'block');
  const out = new Uint8Array(4);
  for (let i = 0; i < 16; i++) out[i & 3]! ^= block[i]!;
  return out;
}

/**
 * An IV from a challenge, right-padded with `00` to the block size (4-byte PSAM/card challenge
 * ‖ `00 00 00 00` in the DES family; 4, 8 or 16 bytes padded to 16 for SM4). [SSC P9 §7.1.3, §7.2.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` when the challenge exceeds the block size
 */
export function ivFromChallenge(algorithm: CardAlgorithm, challenge: Uint8Array): Uint8Array {
  return zeroPadRight(challenge, cardBlockSize(algorithm));
}

/**
 * The 4-byte card MAC of `input` (padding is added here), by the rule of `k.algorithm` (see the
 * file comment). `iv` defaults to zeros.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_ALGORITHM`, `PROTO_ERR_CRYPTO_IV_LENGTH`
 */
export function cardMac(k: CardKey, input: Uint8Array, iv?: Uint8Array): Uint8Array {
  checkCardKey(k);
  const n = cardBlockSize(k.algorithm);
  const chainIv = iv ?? new Uint8Array(n);
  if (chainIv.length !== n) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_IV_LENGTH', `IV of ${chainIv.length} bytes`, { field: 'iv', length: chainIv.length, expected: n });
  }
  const padded = padMethod2(input, n); // [9797-1 padding method 2]
  switch (k.algorithm) {
    case 'des': {
      // [SSC P4 §8.2.4.1 fig. 1; JR/T 0025.2 B.4] single DES on every block
      const c = cardCipher(k).encryptCbc(chainIv, padded);
      return c.slice(c.length - 8, c.length - 4);
    }
    case '3des': {
      // [9797-1 MAC algorithm 3; SSC P9 §7.1.3 fig. 5] retail MAC
      const left = createBlockCipher('des', k.key.subarray(0, 8));
      const right = createBlockCipher('des', k.key.subarray(8, 16));
      const c = left.encryptCbc(chainIv, padded);
      const last = left.encryptEcb(right.decryptEcb(c.subarray(c.length - 8)));
      return last.slice(0, 4);
    }
    case 'sm4': {
      // [SSC P4 §8.2.4.2] 16-byte block CBC, XOR fold
      const c = cardCipher(k).encryptCbc(chainIv, padded);
      return foldXor4(c.subarray(c.length - 16));
    }
  }
}

/**
 * The secure-messaging MAC of a command: MAC over CLA ‖ INS ‖ P1 ‖ P2 ‖ Lc ‖ data, where the
 * caller's `header` already carries the SM CLA (`x4`) and an Lc that counts the 4 MAC bytes.
 * [SSC P4 §8.2.4; §7.7]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` (header not 5 bytes) and as {@link cardMac}
 */
export function commandMac(sessionKey: CardKey, header: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  expectLength(header, 5, 'header');
  return cardMac(sessionKey, concat(header, data), iv);
}
