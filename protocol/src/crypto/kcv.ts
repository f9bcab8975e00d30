/**
 * Key check values (X9.24-1 annex A, as used by X9.143 optional blocks `KC`/`KP`): the legacy
 * value encrypts a zero block and keeps at most 3 bytes; the CMAC value is CMAC(key, zero block)
 * and keeps at most 5 bytes. AES keys use the CMAC form by default, DES-family and SM4 keys the
 * legacy form (no SM4 KCV rule is published; OneCard uses the legacy form).
 */
import { ProtocolError } from '../errors.ts';
import { BLOCK_SIZE, createBlockCipher } from './block-cipher.ts';
import type { CipherAlgorithm } from './block-cipher.ts';
import { cmac } from './cmac.ts';

export type KcvMethod = 'legacy' | 'cmac';

/** Options of {@link keyCheckValue}. */
export interface KcvOptions {
  /** Default: `cmac` for AES, `legacy` otherwise. */
  readonly method?: KcvMethod;
  /** Bytes kept: default 3 (legacy) or 5 (CMAC); at most 3 / 5 respectively. */
  readonly length?: number;
}

/**
 * Key check value of `key` under `algorithm`. [X9.24-1 annex A; X9.143 §6.3.6]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_ALGORITHM`, `PROTO_ERR_CRYPTO_PARAM` (length)
 */
export function keyCheckValue(algorithm: CipherAlgorithm, key: Uint8Array, options: KcvOptions = {}): Uint8Array {
  const method = options.method ?? (algorithm === 'aes' ? 'cmac' : 'legacy');
  const max = method === 'cmac' ? 5 : 3;
  const length = options.length ?? max;
  if (!Number.isInteger(length) || length < 1 || length > max) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `${method} KCV length ${length}`, { field: 'length' });
  }
  const cipher = createBlockCipher(algorithm, key);
  const zero = new Uint8Array(BLOCK_SIZE[algorithm]);
  const full = method === 'cmac' ? cmac(cipher, zero) : cipher.encryptEcb(zero);
  return full.slice(0, length);
}
