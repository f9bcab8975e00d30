/**
 * Padding rules of the card and key-block cryptography: ISO/IEC 9797-1 padding method 2
 * (`80` then `00`s, always adding at least one byte, as the MACs need), and the card's
 * "pad only when short" variant for encrypted data (SSC P4 §8.3), where an aligned input gets
 * no extra block.
 */
import { ProtocolError } from '../errors.ts';

function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 255) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `block size ${blockSize}`, { field: 'blockSize' });
  }
}

/**
 * ISO/IEC 9797-1 padding method 2: append `80`, then `00` up to a multiple of `blockSize`. An
 * aligned input gets a whole extra block `80 00..00`. [9797-1 §6.3.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` for a block size outside 1..255
 */
export function padMethod2(data: Uint8Array, blockSize: number): Uint8Array {
  checkBlockSize(blockSize);
  const n = (Math.floor(data.length / blockSize) + 1) * blockSize;
  const out = new Uint8Array(n);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/**
 * Removes ISO/IEC 9797-1 method 2 padding: the last non-zero byte must be `80` and lie in the
 * last block. [9797-1 §6.3.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` (not whole blocks), `PROTO_ERR_CRYPTO_PADDING`
 */
export function unpadMethod2(data: Uint8Array, blockSize: number): Uint8Array {
  checkBlockSize(blockSize);
  if (data.length === 0 || data.length % blockSize !== 0) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `${data.length} bytes is not a positive multiple of ${blockSize}`, { field: 'data' });
  }
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0x00) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > blockSize) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PADDING', 'no 80 marker in the last block', { field: 'padding', offset: Math.max(i, 0) });
  }
  return data.slice(0, i);
}

/**
 * The card's padding for encrypted data: `80 00..` only when the input is not already a
 * multiple of `blockSize` (an aligned input is returned as a copy). [SSC P4 §8.3.2]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` for a block size outside 1..255
 */
export function padIfShort(data: Uint8Array, blockSize: number): Uint8Array {
  checkBlockSize(blockSize);
  if (data.length > 0 && data.length % blockSize === 0) return data.slice();
  return padMethod2(data, blockSize);
}

/**
 * Right-pads `data` with `00` to `length` bytes (challenges used as IVs or session-key inputs).
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` when `data` is longer than `length`
 */
export function zeroPadRight(data: Uint8Array, length: number): Uint8Array {
  if (data.length > length) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `${data.length} bytes do not fit in ${length}`, { field: 'data', length: data.length });
  }
  const out = new Uint8Array(length);
  out.set(data);
  return out;
}
