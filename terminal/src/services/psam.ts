/**
 * Terminal-side use of the social security PSAM [ssc-card §9; P9 §9.7–9.8]: selecting the key
 * environment of the card's algorithm (DES → `sx1.sh.社会保障`, 16-byte family → `sx2.sh.社会保障`),
 * DELIVERY SESSION KEY with the dispersion factors at the depth the PSAM holds the key (probed
 * 3 → 2 → 1 → 0 levels on `6A80` and cached per PSAM channel, §7.8 "Dispersion depth"), and the
 * CIPHER DATA computations: authentication data (§7.6), ECB encryption of a PIN block (§7.4) and a
 * MAC (§7.2/§7.3). The terminal number (`0016`) is read once per PSAM channel.
 */
import type { Logger } from 'pino';
import { concat } from '@onecard/protocol/bytes';
import {
  PSAM_DF_NAME_DES, PSAM_DF_NAME_SSF33, authDataFromCipher, cipherData, deliverySessionKey, keyUsage, macFromCipher,
  parseTerminalNumber, readTerminalNumber, selectByName,
} from '@onecard/protocol/psam';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError, type TerminalErrorCode } from '../errors.ts';
import { decode, expectOk, send, statusError } from './common.ts';

/** Key family of a card environment: 8-byte blocks (DES/3DES) or 16-byte blocks (SM4). */
export type KeyFamily = 'des' | 'sm4';

/** Block size of a family. */
export function familyBlockSize(f: KeyFamily): 8 | 16 {
  return f === 'des' ? 8 : 16;
}

const depthCache = new WeakMap<CardChannel, Map<string, number>>();
const terminalNumbers = new WeakMap<CardChannel, string>();

/**
 * Selects the PSAM environment of `family` [P9 §5; INFER ssc-card §9.2: the 16-byte environment
 * serves SM4]. Rejects `TERM_ERR_PSAM_NO_ALGORITHM` when the PSAM lacks it.
 */
export async function selectPsamEnvironment(psam: CardChannel, family: KeyFamily, logger?: Logger): Promise<void> {
  const r = await send(psam, selectByName(family === 'des' ? PSAM_DF_NAME_DES : PSAM_DF_NAME_SSF33), 'psam', logger);
  if (r.sw !== 0x9000) {
    if (family === 'sm4') throw new TerminalError('TERM_ERR_PSAM_NO_ALGORITHM', 'no 16-byte environment', { sw: r.sw });
    throw statusError(r.sw, 'psam', 'SELECT PSAM environment');
  }
}

/** The PSAM terminal number (12 digits), read once per PSAM channel [P9 §7.3.3]. */
export async function psamTerminalNumber(psam: CardChannel, logger?: Logger): Promise<string> {
  const known = terminalNumbers.get(psam);
  if (known !== undefined) return known;
  const r = expectOk(await send(psam, readTerminalNumber(), 'psam', logger), 'psam', 'READ BINARY 0016');
  const n = decode('terminal number', () => parseTerminalNumber(r.data));
  terminalNumbers.set(psam, n);
  return n;
}

/** What DELIVERY SESSION KEY needs to pick and disperse a key. */
export interface SessionKeyRequest {
  readonly family: KeyFamily;
  /** PSAM key identifier (P2), e.g. `08` IRK, `0A` RKSSSE, `10` PUK, `09` STK. */
  readonly keyId: number;
  /** PSAM key type (usage b5–b1): 7 encrypt, 8 MAC + encrypt. */
  readonly keyType: number;
  /** Factors card level first: [card (level 3), city (level 2), province (level 1)]. */
  readonly factors: readonly [Uint8Array, Uint8Array, Uint8Array];
  /** 8-byte session-key input (a card challenge or R1); padded with 8 × `00` in the 16-byte family. */
  readonly random: Uint8Array;
  /** Code when the PSAM does not hold this key at all. */
  readonly missing: TerminalErrorCode;
}

/**
 * DELIVERY SESSION KEY `BF DE usage keyId` with as many factors as the PSAM's key has levels
 * [P9 §9.7; ssc-card §7.8]: probes 3, 2, 1, 0 levels (a factor-count mismatch answers `6A80`)
 * and remembers the depth per PSAM channel. Rejects `request.missing` on `6A88`,
 * `TERM_ERR_PSAM_KEY_LEVEL` when no depth fits, `TERM_ERR_PSAM_STATUS` on another SW.
 */
export async function deliverSessionKey(psam: CardChannel, req: SessionKeyRequest, logger?: Logger): Promise<void> {
  let cache = depthCache.get(psam);
  if (cache === undefined) {
    cache = new Map();
    depthCache.set(psam, cache);
  }
  const cacheKey = `${req.family}:${req.keyId}`;
  const known = cache.get(cacheKey);
  const depths = known !== undefined ? [known] : [3, 2, 1, 0];
  const sessionFactor = req.family === 'des' ? req.random : concat(req.random, new Uint8Array(8));
  for (const levels of depths) {
    const cmd = deliverySessionKey({ usage: keyUsage(levels, req.keyType), keyId: req.keyId, factors: req.factors.slice(0, levels), sessionFactor });
    const r = await send(psam, cmd, 'psam', logger);
    if (r.sw === 0x9000) {
      cache.set(cacheKey, levels);
      return;
    }
    if (r.sw === 0x6a88) throw new TerminalError(req.missing, `PSAM key ${req.keyId.toString(16).padStart(2, '0')}`, { sw: r.sw, keyId: req.keyId });
    if (r.sw !== 0x6a80) throw statusError(r.sw, 'psam', 'DELIVERY SESSION KEY');
  }
  throw new TerminalError('TERM_ERR_PSAM_KEY_LEVEL', `PSAM key ${req.keyId.toString(16).padStart(2, '0')}`, { keyId: req.keyId });
}

/**
 * Authentication data over 8-byte original data with the delivered session key [ssc-card §7.6;
 * P9 §9.8]: `80 FA 00 00` on O (‖ 8 × `00` in the 16-byte family), folded left ⊕ right.
 */
export async function psamAuthData(psam: CardChannel, family: KeyFamily, original: Uint8Array, logger?: Logger): Promise<Uint8Array> {
  const data = family === 'des' ? original : concat(original, new Uint8Array(8));
  const r = expectOk(await send(psam, cipherData('encryptLast', data, familyBlockSize(family)), 'psam', logger), 'psam', 'CIPHER DATA');
  return decode('PSAM cipher result', () => authDataFromCipher(r.data));
}

/** ECB encryption of already formatted blocks (e.g. the PIN block of `84 24`) [ssc-card §7.4, §7.9]. */
export async function psamEncrypt(psam: CardChannel, family: KeyFamily, blocks: Uint8Array, logger?: Logger): Promise<Uint8Array> {
  const r = expectOk(await send(psam, cipherData('encryptLast', blocks, familyBlockSize(family)), 'psam', logger), 'psam', 'CIPHER DATA');
  if (r.data.length !== blocks.length) throw new TerminalError('TERM_ERR_CARD_DATA', 'PSAM cryptogram length', { device: 'psam', length: r.data.length });
  return r.data;
}

/** MAC over a padded input with IV zero: `80 FA 05 00` IV ‖ input [ssc-card §7.2, §7.3, §9.5]. */
export async function psamMac(psam: CardChannel, family: KeyFamily, paddedInput: Uint8Array, logger?: Logger): Promise<Uint8Array> {
  const bs = familyBlockSize(family);
  const r = expectOk(await send(psam, cipherData('macOnly', concat(new Uint8Array(bs), paddedInput), bs), 'psam', logger), 'psam', 'CIPHER DATA (MAC)');
  return decode('PSAM MAC result', () => macFromCipher(r.data));
}
