/**
 * Encrypted data and secure-messaging commands of the social security card: the LD ‖ data
 * cryptogram in ECB (SSC P4 §8.3), and the PIN CHANGE/UNBLOCK command `84 24` with its PIN
 * cryptogram and MAC (SSC P5 §6.8; P7 §13). PINs are handled as bytes only and never logged.
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import { cardBlockSize, cardCipher } from './card-key.ts';
import type { CardKey } from './card-key.ts';
import { commandMac } from './mac.ts';
import { padIfShort } from './padding.ts';

/**
 * Encrypts `plaintext` as the card does: block = LD ‖ plaintext, padded with `80 00..` only when
 * not aligned, each block encrypted alone (ECB) under `k` (single DES for an 8-byte session key,
 * 3DES for a 16-byte DES-family key, SM4). [SSC P4 §8.3; P9 §7.1.2, §7.2.2]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` (plaintext over 255 bytes), `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function encryptCardData(k: CardKey, plaintext: Uint8Array): Uint8Array {
  if (plaintext.length > 255) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'plaintext over 255 bytes', { field: 'plaintext' });
  const cipher = cardCipher(k);
  return cipher.encryptEcb(padIfShort(concat(Uint8Array.of(plaintext.length), plaintext), cardBlockSize(k.algorithm)));
}

/**
 * Reverses {@link encryptCardData}: decrypts, then keeps LD bytes after the LD byte. The bytes after
 * the plaintext must be empty or `80 00..` within the last block. [SSC P4 §8.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` (not whole blocks), `PROTO_ERR_CRYPTO_LD`,
 *   `PROTO_ERR_CRYPTO_PADDING`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function decryptCardData(k: CardKey, cryptogram: Uint8Array): Uint8Array {
  const n = cardBlockSize(k.algorithm);
  if (cryptogram.length === 0 || cryptogram.length % n !== 0) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `cryptogram of ${cryptogram.length} bytes`, { field: 'cryptogram' });
  }
  const clear = cardCipher(k).decryptEcb(cryptogram);
  const ld = clear[0]!;
  const end = 1 + ld;
  // LD must end inside the last block (or exactly at its end, when no padding was added).
  if (end > clear.length || clear.length - end >= n) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_LD', `LD ${ld} for ${clear.length} bytes`, { field: 'LD', offset: 0 });
  }
  if (end < clear.length) {
    if (clear[end] !== 0x80) throw new ProtocolError('PROTO_ERR_CRYPTO_PADDING', 'expected 80 after the data', { field: 'padding', offset: end });
    for (let i = end + 1; i < clear.length; i++) {
      if (clear[i] !== 0) throw new ProtocolError('PROTO_ERR_CRYPTO_PADDING', 'expected 00 in the padding', { field: 'padding', offset: i });
    }
  }
  return clear.slice(1, end);
}

/**
 * A PIN as `cn` bytes: BCD, odd digit counts padded with a right nibble `F`. The empty PIN gives
 * no bytes (it clears the PIN in PIN CHANGE). [SSC P5 §6.3.1]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` for non-digits or more than 16 digits
 */
export function encodePinCn(pin: string): Uint8Array {
  if (!/^[0-9]{0,16}$/.test(pin)) throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', 'PIN must be 0-16 decimal digits', { field: 'pin' });
  const digits = pin.length % 2 === 1 ? `${pin}F` : pin;
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** What {@link pinChangeUnblockCommand} needs. `newPin` present = change/reload (P2 `01`), absent = unblock (P2 `00`). */
export interface PinChangeUnblockInput {
  /** The session key KS of the secure-messaging key with the card's challenge (see `sessionKey`). */
  readonly sessionKey: CardKey;
  /** New PIN as decimal digits (`cn`-encoded here); omit to unblock only. */
  readonly newPin?: string;
}

/**
 * Builds PIN CHANGE/UNBLOCK with secure messaging: `84 24 00 P2 Lc` ‖ [PIN cryptogram] ‖ MAC.
 * Cryptogram = encrypted LD ‖ PIN (cn); MAC over the whole header (Lc counting the MAC) and the
 * cryptogram, zero IV, under the same KS. [SSC P5 §6.8; P7 §13; P4 §8]
 * Throws as {@link encodePinCn}, {@link encryptCardData} and `cardMac`.
 */
export function pinChangeUnblockCommand(input: PinChangeUnblockInput): Uint8Array {
  const ks = input.sessionKey;
  const cryptogram = input.newPin === undefined ? new Uint8Array(0) : encryptCardData(ks, encodePinCn(input.newPin));
  const p2 = input.newPin === undefined ? 0x00 : 0x01;
  const header = Uint8Array.of(0x84, 0x24, 0x00, p2, cryptogram.length + 4);
  return concat(header, cryptogram, commandMac(ks, header, cryptogram));
}
