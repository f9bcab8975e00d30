/**
 * Session (process) keys and authentication data of the social security card (SSC P4 §8.4,
 * §9.2–9.3). In the DES family the session key is always a single-length 8-byte DES key, even
 * under a 16-byte card key; in the 16-byte family it is a 16-byte SM4 key.
 */
import { ProtocolError } from '../errors.ts';
import { cardCipher, expectLength } from './card-key.ts';
import type { CardKey } from './card-key.ts';
import { zeroPadRight } from './padding.ts';

/**
 * Session key of `k` with a card or terminal random:
 * - DES family: input = random (8 bytes, or 4 bytes ‖ `00 00 00 00`); KS = DES(K, input) for an
 *   8-byte key, 3DES(K, input) for a 16-byte key; KS is an 8-byte `des` key [SSC P4 fig. 7, 8];
 * - SM4: input = random (4, 8 or 16 bytes) right-padded with `00` to 16; KS = SM4(K, input) [SSC P4 fig. 9].
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_PARAM` (random length)
 */
export function sessionKey(k: CardKey, random: Uint8Array): CardKey {
  const allowed = k.algorithm === 'sm4' ? [4, 8, 16] : [4, 8];
  if (!allowed.includes(random.length)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `random of ${random.length} bytes`, { field: 'random', length: random.length });
  }
  const cipher = cardCipher(k);
  if (k.algorithm === 'sm4') return { algorithm: 'sm4', key: cipher.encryptEcb(zeroPadRight(random, 16)) };
  return { algorithm: 'des', key: cipher.encryptEcb(zeroPadRight(random, 8)) };
}

/**
 * Authentication data (8 bytes) over the 8-byte original data O with key `ks` (a session key, or
 * any card key): DES family A = E(KS, O); 16-byte family L ‖ R = E(KS, O ‖ 8 × `00`), A = L ⊕ R.
 * [SSC P4 §9.3; P9 §9.4.1]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_DATA_LENGTH` (O not 8 bytes)
 */
export function authenticationData(ks: CardKey, original: Uint8Array): Uint8Array {
  expectLength(original, 8, 'original');
  const cipher = cardCipher(ks);
  if (ks.algorithm !== 'sm4') return cipher.encryptEcb(original);
  const lr = cipher.encryptEcb(zeroPadRight(original, 16));
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = lr[i]! ^ lr[i + 8]!;
  return out;
}

/**
 * Internal authentication as the card computes it: KS = session key of the IRK with R1, answer =
 * authentication data over R2. [SSC P5 §6.7; P7 §5.4]
 * Throws as {@link sessionKey} and {@link authenticationData}.
 */
export function internalAuthentication(irk: CardKey, r1: Uint8Array, r2: Uint8Array): Uint8Array {
  return authenticationData(sessionKey(irk, r1), r2);
}

/**
 * External authentication data: KS = session key of the controlling key with the card's last
 * challenge, A = authentication data over the original data. [SSC P7 §6.2–6.6; P4 §9]
 * Throws as {@link sessionKey} and {@link authenticationData}.
 */
export function externalAuthentication(controllingKey: CardKey, challenge: Uint8Array, original: Uint8Array): Uint8Array {
  return authenticationData(sessionKey(controllingKey, challenge), original);
}
