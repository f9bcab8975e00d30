/**
 * Key dispersion (分散) of card keys: a parent key and an 8-byte factor give a child key of the
 * same algorithm, level by level from the root (SSC P9 §7.1.1, §7.2.1, §7.3). The 3DES rule is
 * also the PBOC per-card purchase-key (DPK) derivation. Factor builders follow the SSC factor table.
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import { cardCipher, complement, expectLength } from './card-key.ts';
import type { CardKey } from './card-key.ts';

/**
 * Disperses `parent` with the 8-byte `factor` F:
 * - `des`: DES(K, F) [SSC P9 §7.1.1 fig. 2];
 * - `3des`: 3DES(K, F) ‖ 3DES(K, ¬F) [SSC P9 §7.1.1 fig. 3; JR/T 0025.2 B.2];
 * - `sm4`: SM4(K, F ‖ ¬F), one encryption of one block [SSC P9 §7.2.1 fig. 8, SSF33 rule; SM4 INFER].
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`, `PROTO_ERR_CRYPTO_DATA_LENGTH` (factor not 8 bytes)
 */
export function disperseKey(parent: CardKey, factor: Uint8Array): CardKey {
  expectLength(factor, 8, 'factor');
  const cipher = cardCipher(parent);
  const block = parent.algorithm === 'des' ? factor : concat(factor, complement(factor));
  return { algorithm: parent.algorithm, key: cipher.encryptEcb(block) };
}

/**
 * Multi-level dispersion, root first: `factors[0]` is applied to `root`, the next factor to the
 * result, and so on (province, city, card). An empty list returns the root. [SSC P9 §7.3 fig. 12]
 * Note that PSAM command data lists the factors card level first; pass them here root first.
 * Throws as {@link disperseKey}.
 */
export function disperseKeyLevels(root: CardKey, factors: readonly Uint8Array[]): CardKey {
  let k: CardKey = { algorithm: root.algorithm, key: root.key.slice() };
  for (const f of factors) k = disperseKey(k, f);
  return k;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function checkDigits(region: string, min: number): void {
  if (!new RegExp(`^[0-9]{${min},}$`).test(region)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `region code must have at least ${min} digits`, { field: 'region' });
  }
}

/**
 * Level-1 (province) factor: ASCII of the first 2 region digits ‖ "0000sh". [SSC P9 §7.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` when `region` has fewer than 2 digits
 */
export function provinceFactor(region: string): Uint8Array {
  checkDigits(region, 2);
  return ascii(`${region.slice(0, 2)}0000sh`);
}

/**
 * Level-2 (city) factor: ASCII of the 6-digit region ‖ "sx"; with `rule: 'sc-if-2016'` a Zhejiang
 * region (starting `33`) uses its first 4 digits ‖ "00sx". [SSC P9 §7.3; SC-IF §10.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_PARAM` when `region` has fewer than 6 digits
 */
export function cityFactor(region: string, rule: 'generic' | 'sc-if-2016' = 'generic'): Uint8Array {
  checkDigits(region, 6);
  if (rule === 'sc-if-2016' && region.startsWith('33')) return ascii(`${region.slice(0, 4)}00sx`);
  return ascii(`${region.slice(0, 6)}sx`);
}

/**
 * Level-3 (card) factor: ATR historical bytes T6..T13 (1-based), i.e. `historical[5..12]`. [SSC P9 §7.3]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH` when fewer than 13 historical bytes are given
 */
export function cardFactor(historicalBytes: Uint8Array): Uint8Array {
  if (historicalBytes.length < 13) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_DATA_LENGTH', `${historicalBytes.length} historical bytes, need 13`, { field: 'historicalBytes' });
  }
  return historicalBytes.slice(5, 13);
}
