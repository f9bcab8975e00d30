/**
 * CMAC (NIST SP 800-38B, = ISO/IEC 9797-1:2011 MAC algorithm 5) over any {@link BlockCipher}:
 * AES-CMAC of RFC 4493 for TR-31 version D key derivation, authenticators and key check values,
 * and the same construction for TDES (64-bit blocks) and SM4.
 */
import { ProtocolError } from '../errors.ts';
import { createBlockCipher } from './block-cipher.ts';
import type { BlockCipher } from './block-cipher.ts';

// [SP 800-38B §5.3] R_b: 0x87 for 128-bit blocks, 0x1B for 64-bit blocks.
function dbl(block: Uint8Array): Uint8Array {
  const n = block.length;
  const out = new Uint8Array(n);
  let carry = 0;
  for (let i = n - 1; i >= 0; i--) {
    const b = block[i]!;
    out[i] = ((b << 1) | carry) & 0xff;
    carry = b >> 7;
  }
  if (carry) out[n - 1]! ^= n === 16 ? 0x87 : 0x1b;
  return out;
}

/** The two CMAC subkeys K1, K2 of `cipher`. [SP 800-38B §6.1; RFC 4493 §2.3] */
export function cmacSubkeys(cipher: BlockCipher): { k1: Uint8Array; k2: Uint8Array } {
  const l = cipher.encryptEcb(new Uint8Array(cipher.blockSize));
  const k1 = dbl(l);
  return { k1, k2: dbl(k1) };
}

/**
 * CMAC of `message` under `cipher`, truncated to `length` bytes (default: the block size).
 * [SP 800-38B §6.2; RFC 4493 §2.4]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` for a length outside 1..block size
 */
export function cmac(cipher: BlockCipher, message: Uint8Array, length: number = cipher.blockSize): Uint8Array {
  const n = cipher.blockSize;
  if (!Number.isInteger(length) || length < 1 || length > n) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `CMAC length ${length}`, { field: 'length' });
  }
  const { k1, k2 } = cmacSubkeys(cipher);
  const blocks = Math.max(1, Math.ceil(message.length / n));
  const complete = message.length > 0 && message.length % n === 0;
  const m = new Uint8Array(blocks * n);
  m.set(message);
  if (!complete) m[message.length] = 0x80;
  const k = complete ? k1 : k2;
  const last = (blocks - 1) * n;
  for (let i = 0; i < n; i++) m[last + i]! ^= k[i]!;
  const c = cipher.encryptCbc(new Uint8Array(n), m);
  return c.slice(last, last + length);
}

/**
 * AES-CMAC (RFC 4493) with a 16-, 24- or 32-byte key.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_PARAM`
 */
export function aesCmac(key: Uint8Array, message: Uint8Array, length = 16): Uint8Array {
  return cmac(createBlockCipher('aes', key), message, length);
}
