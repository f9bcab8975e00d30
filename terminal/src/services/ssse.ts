/**
 * The social security environment (SSSE) as the services enter it [ssc-card §1.2, §5, §7.8]:
 * SELECT by DF name with the algorithm from the FCI, SELECT of an EF, READ RECORD by tag (a
 * missing item `6A83` is "absent", not an error), the EF05 issuer items, the dispersion factors
 * of this card, and the PSAM-backed internal and external authentications (§10.1, §10.2).
 */
import type { Logger } from 'pino';
import { decodeAtr } from '@onecard/protocol/iso7816';
import { timingSafeEqualBytes } from '@onecard/protocol/bytes';
import {
  SSC_ALGORITHMS, checkCardNumber, decodeCardId, decodeItemValue, externalAuthenticate, getChallenge, internalAuthenticate, parseChallenge,
  parseFci, parseInternalAuthenticate, parseRecordResponse, readRecordByTag, resolveAlgorithm, selectByFid, selectSsse,
  specVersionOf, type CardIdentificationCode, type SpecVersion,
} from '@onecard/protocol/ssc';
import { cardFactor, cityFactor, getChallenge as psamGetChallenge, provinceFactor } from '@onecard/protocol/psam';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError, type TerminalErrorCode } from '../errors.ts';
import { decode, expectOk, send, statusError } from './common.ts';
import { deliverSessionKey, psamAuthData, selectPsamEnvironment, type KeyFamily } from './psam.ts';

/** Card-profile settings that differ by region [ssc-card §15]. */
export interface CardProfile {
  /** P1 of SELECT EF: `02` (default) or `00`. */
  readonly efSelectP1?: 0x00 | 0x02;
  /** Level-2 factor rule: `sc-if` (default, Zhejiang rule) or `p9`. */
  readonly level2Rule?: 'p9' | 'sc-if';
}

/** The SSSE after SELECT and the EF05 reads. */
export interface SsseSession {
  readonly family: KeyFamily;
  /** FCI algorithm identifier (1 DES, 2 SSF33, 3 SM4) after the default rule. */
  readonly algorithm: number;
  readonly cardId: CardIdentificationCode;
  /** Raw item `03` (may be empty on 1.0 cards). */
  readonly specVersion: string;
  readonly generation: SpecVersion;
  readonly cardType: string;
  readonly issueDate: string;
  readonly expiryDate: string;
  readonly cardNumber: string;
  readonly initOrg: string;
  readonly historicalBytes: Uint8Array;
  /** [card, city, province] factors [ssc-card §7.8]. */
  readonly factors: readonly [Uint8Array, Uint8Array, Uint8Array];
}

/** READ RECORD of an item by tag in the current EF; `undefined` when the card answers `6A83`. */
export async function readItem(card: CardChannel, tag: number, logger?: Logger): Promise<Uint8Array | undefined> {
  const r = await send(card, readRecordByTag(tag), 'card', logger);
  if (r.sw === 0x6a83) return undefined;
  expectOk(r, 'card', `READ RECORD ${tag.toString(16).padStart(2, '0')}`);
  return decode(`item ${tag.toString(16).padStart(2, '0')}`, () => parseRecordResponse(r.data, tag).value);
}

async function readText(card: CardChannel, tag: number, logger?: Logger): Promise<string> {
  const v = await readItem(card, tag, logger);
  return v === undefined ? '' : decode(`item ${tag.toString(16)}`, () => decodeItemValue(tag, v));
}

/** SELECT EF by FID with the profile's P1 [ssc-card §5.1]. */
export async function selectEf(card: CardChannel, fid: number, profile: CardProfile, logger?: Logger): Promise<void> {
  expectOk(await send(card, selectByFid(fid, profile.efSelectP1 ?? 0x02), 'card', logger), 'card', `SELECT ${fid.toString(16).toUpperCase()}`);
}

/**
 * SELECT SSSE by name, determine the algorithm, SELECT EF05 and read its items [ssc-card §5.4
 * steps 1–2]. Rejects `TERM_ERR_WRONG_CARD_TYPE` when there is no SSSE, `TERM_ERR_PSAM_NO_ALGORITHM`
 * for SSF33 cards (no SSF33 support), `TERM_ERR_CARD_DATA` on malformed items, including a card
 * number whose check character is wrong (`details.field` `cardNumber`) [V2 app. A].
 */
export async function openSsse(card: CardChannel, profile: CardProfile, logger?: Logger): Promise<SsseSession> {
  const sel = await send(card, selectSsse(), 'card', logger);
  if (sel.sw === 0x6a82) throw new TerminalError('TERM_ERR_WRONG_CARD_TYPE', 'no social security environment', { sw: sel.sw });
  expectOk(sel, 'card', 'SELECT SSSE');
  const fci = decode('SSSE FCI', () => parseFci(sel.data));
  await selectEf(card, 0xef05, profile, logger);
  const idBytes = await readItem(card, 0x01, logger);
  if (idBytes === undefined) throw new TerminalError('TERM_ERR_CARD_DATA', 'no card identification code', { field: 'cardId' });
  const cardId = decode('card ID', () => decodeCardId(idBytes));
  const specVersion = await readText(card, 0x03, logger);
  const generation = specVersionOf(specVersion);
  if (generation === undefined) throw new TerminalError('TERM_ERR_CARD_DATA', 'unknown specification version', { field: 'specVersion' });
  const algorithm = resolveAlgorithm(fci, cardId.regionCode);
  if (algorithm !== SSC_ALGORITHMS.DES && algorithm !== SSC_ALGORITHMS.SM4) {
    throw new TerminalError('TERM_ERR_PSAM_NO_ALGORITHM', `algorithm ${algorithm} is not supported`, { algorithm });
  }
  const cardType = await readText(card, 0x02, logger);
  const initOrg = await readText(card, 0x04, logger);
  const issueDate = await readText(card, 0x05, logger);
  const expiryDate = await readText(card, 0x06, logger);
  const rawCardNumber = await readText(card, 0x07, logger);
  // [V2 app. A; ssc-card §3.2] the check character is verified on every read; `x` becomes `X`.
  const cardNumber = decode('card number', () => checkCardNumber(rawCardNumber));
  const historicalBytes = decodeAtr(card.atr).historicalBytes;
  const region = cardId.regionCode;
  const factors = decode('dispersion factors', () => [cardFactor(historicalBytes), cityFactor(region, profile.level2Rule ?? 'sc-if'), provinceFactor(region)] as const);
  return {
    family: algorithm === SSC_ALGORITHMS.SM4 ? 'sm4' : 'des', algorithm, cardId, specVersion, generation,
    cardType, issueDate, expiryDate, cardNumber, initOrg, historicalBytes, factors,
  };
}

/** PSAM key identifiers and types of the flows [KEY-IDX; SC-IF app. B; ssc-card §8.4]. */
export const PSAM_KEYS = {
  IRK: { keyId: 0x08, keyType: 7 },
  RKSSSE: { keyId: 0x0a, keyType: 7 },
  PUK: { keyId: 0x10, keyType: 8 },
  STK: { keyId: 0x09, keyType: 8 },
} as const;

/**
 * Internal authentication through the PSAM [ssc-card §10.1]: R1, R2 from the PSAM's GET CHALLENGE,
 * DELIVERY SESSION KEY with the IRK and R1, CIPHER DATA over R2 → X; the card's `00 88` answer Y
 * must equal X in all 8 bytes. Rejects `TERM_ERR_CARD_NOT_GENUINE` on a mismatch or a refusal.
 */
export async function internalAuthentication(card: CardChannel, psam: CardChannel, s: SsseSession, logger?: Logger): Promise<void> {
  await selectPsamEnvironment(psam, s.family, logger);
  const r1 = await psamChallenge(psam, logger);
  const r2 = await psamChallenge(psam, logger);
  await deliverSessionKey(psam, { family: s.family, ...PSAM_KEYS.IRK, factors: s.factors, random: r1, missing: s.family === 'sm4' ? 'TERM_ERR_PSAM_NO_ALGORITHM' : 'TERM_ERR_PSAM_KEY_LEVEL' }, logger);
  const x = await psamAuthData(psam, s.family, r2, logger);
  const resp = await send(card, internalAuthenticate(r1, r2), 'card', logger);
  if (resp.sw !== 0x9000) throw new TerminalError('TERM_ERR_CARD_NOT_GENUINE', 'the card refused INTERNAL AUTHENTICATE', { sw: resp.sw });
  const y = decode('internal authentication', () => parseInternalAuthenticate(resp.data));
  // [ssc-card §10.1 step 5] genuine only if Y = X in all 8 bytes.
  if (!timingSafeEqualBytes(x, y)) throw new TerminalError('TERM_ERR_CARD_NOT_GENUINE', 'authentication data differs');
}

/** 8-byte PSAM GET CHALLENGE. */
export async function psamChallenge(psam: CardChannel, logger?: Logger): Promise<Uint8Array> {
  const r = expectOk(await send(psam, psamGetChallenge(8), 'psam', logger), 'psam', 'GET CHALLENGE');
  return decode('PSAM challenge', () => parseChallenge(r.data, 8));
}

/**
 * External authentication of the terminal with a card key through the PSAM [ssc-card §10.2]:
 * card GET CHALLENGE → C (no other card challenge until step 5), O from the PSAM, DELIVERY SESSION
 * KEY with C, CIPHER DATA over O → A, card `00 82 00 keyId` A ‖ O. Rejects
 * `TERM_ERR_EXTERNAL_AUTH_FAILED` (details.sw, details.triesLeft) on `63Cx`/`6983`, `missing` when the
 * PSAM lacks the key.
 */
export async function externalAuthentication(
  card: CardChannel, psam: CardChannel, s: SsseSession,
  key: { readonly cardKeyId: number; readonly psamKeyId: number; readonly keyType: number; readonly missing: TerminalErrorCode },
  logger?: Logger,
): Promise<void> {
  await selectPsamEnvironment(psam, s.family, logger);
  const cr = expectOk(await send(card, getChallenge(8), 'card', logger), 'card', 'GET CHALLENGE');
  const c = decode('card challenge', () => parseChallenge(cr.data, 8));
  const o = await psamChallenge(psam, logger);
  await deliverSessionKey(psam, { family: s.family, keyId: key.psamKeyId, keyType: key.keyType, factors: s.factors, random: c, missing: key.missing }, logger);
  const a = await psamAuthData(psam, s.family, o, logger);
  const r = await send(card, externalAuthenticate(key.cardKeyId, a, o), 'card', logger);
  if (r.sw === 0x9000) return;
  if ((r.sw & 0xfff0) === 0x63c0 || r.sw === 0x6983) {
    throw new TerminalError('TERM_ERR_EXTERNAL_AUTH_FAILED', `key ${key.cardKeyId.toString(16).padStart(2, '0')}`, { sw: r.sw, triesLeft: r.sw === 0x6983 ? 0 : r.sw & 0x0f });
  }
  throw statusError(r.sw, 'card', 'EXTERNAL AUTHENTICATE');
}
