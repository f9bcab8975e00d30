/**
 * Update-key authentication of the SSSE through a PSAM [issuance §5.1 (DES/3DES, 2.0 cards) and
 * §5.2 (SM4, 3.0 cards)], as a sans-I/O state machine: {@link startUpdateKeyAuth} and
 * {@link stepUpdateKeyAuth} return the next APDU and whether it goes to the card or the PSAM; the
 * caller does the I/O and feeds each response back. The same module computes the values offline
 * from a root key ({@link updateKeyAuthOffline}) for simulated PSAMs, HSM fakes and the synthetic
 * vectors of §5.4.
 */
import { ProtocolError } from '../errors.ts';
import { concat, toHex } from '../bytes.ts';
import type { CommandApdu } from '../iso7816/apdu.ts';
import { cardKey as makeCardKey, type CardKey } from '../crypto/card-key.ts';
import { disperseKey } from '../crypto/dispersion.ts';
import { authenticationData, sessionKey } from '../crypto/session-keys.ts';
import { externalAuthenticate, getChallenge, getResponse, selectByFid, selectByName } from '../ssc/commands.ts';
import { PSAM_ADF_AID, authDataFromCipher, cipherData, deliverySessionKey } from '../psam/commands.ts';
import { paramChecks } from '../ssc/command-builder.ts';
import { PSAM_DF_NAME_SM4 } from './commands.ts';

const { param, byteParam, lenParam } = paramChecks('PROTO_ERR_ISSUANCE_PARAM');

/** Cipher family of the card: `des` = 2.0 DES/3DES cards, `sm4` = 3.0 cards. */
export type UpdateKeyFamily = 'des' | 'sm4';

/** Card and PSAM key identifiers of the two update keys [issuance §3; KEY-IDX]. */
export const UPDATE_KEYS = {
  UKSSSE: { cardKeyId: 0x04, psamKeyId: 0x12, usage: 0x48 },
  UK1SSSE: { cardKeyId: 0x0d, psamKeyId: 0x13, usage: 0x48 },
} as const;

/**
 * The two dispersion factors of an update key [issuance §3, §5.1 step 1–2]: card factor D3 = the
 * last 8 ATR historical bytes T6..TD, city factor D2 = ASCII of the first 6 hex digits of the card
 * identification code ‖ `73 78` ("sx") [CODE KIOSK-JS].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` with fewer than 13 historical bytes or a card ID not 16 bytes.
 */
export function updateKeyFactors(historicalBytes: Uint8Array, cardId: Uint8Array): { readonly cardFactor: Uint8Array; readonly cityFactor: Uint8Array } {
  param(historicalBytes.length >= 13, 'need at least 13 historical bytes', 'historicalBytes');
  lenParam(cardId, [16], 'cardId');
  const region = toHex(cardId.subarray(0, 3));
  return { cardFactor: historicalBytes.slice(5, 13), cityFactor: Uint8Array.from(`${region}sx`, (c) => c.charCodeAt(0)) };
}

/** Parameters of one update-key authentication. */
export interface UpdateKeyParams {
  readonly family: UpdateKeyFamily;
  /** Which key: {@link UPDATE_KEYS}`.UKSSSE` (EF05–EF08) or `.UK1SSSE` (issuer extension files). */
  readonly key: { readonly cardKeyId: number; readonly psamKeyId: number; readonly usage: number };
  readonly cardFactor: Uint8Array;
  readonly cityFactor: Uint8Array;
  /**
   * Key version byte appended to EXTERNAL AUTHENTICATE (Lc `11`). Default: `01` for SM4
   * [CODE KIOSK-JS], none for DES (Lc `10`). `null` forces Lc `10` on SM4 (HSM-FLOW style).
   */
  readonly keyVersion?: number | null;
  /** Select the PSAM environment first (default true). */
  readonly selectPsamEnvironment?: boolean;
}

/** Where an APDU of the sequence goes. */
export type UpdateKeyTarget = 'card' | 'psam';

/** The step the machine is in (named in failures). */
export type UpdateKeyStep = 'challenge' | 'psamSelect' | 'psamDeliver' | 'psamCipher' | 'psamGetResponse' | 'authenticate';

/** State of the sequence (opaque to callers; carries the challenge only, never key material). */
export type UpdateKeyState =
  | { readonly step: 'challenge' }
  | { readonly step: 'psamSelect'; readonly challenge: Uint8Array; readonly index: number }
  | { readonly step: 'psamDeliver' | 'psamCipher' | 'psamGetResponse'; readonly challenge: Uint8Array }
  | { readonly step: 'authenticate' }
  | { readonly step: 'done' }
  | { readonly step: 'failed'; readonly at: UpdateKeyStep; readonly sw: number };

/** What the caller must do next. */
export type UpdateKeyEffect =
  | { readonly kind: 'send'; readonly to: UpdateKeyTarget; readonly apdu: CommandApdu }
  | { readonly kind: 'done' }
  /** A status word other than the expected one ended the sequence; `sw` is data (e.g. `63C2`). */
  | { readonly kind: 'failed'; readonly at: UpdateKeyStep; readonly sw: number };

/** A response APDU fed back into the machine. */
export interface UpdateKeyResponse {
  readonly data: Uint8Array;
  readonly sw: number;
}

function checkParams(p: UpdateKeyParams): void {
  param(p.family === 'des' || p.family === 'sm4', 'family must be des or sm4', 'family');
  byteParam(p.key.cardKeyId, 'cardKeyId', 0, 0x1f);
  byteParam(p.key.psamKeyId, 'psamKeyId');
  byteParam(p.key.usage, 'usage');
  lenParam(p.cardFactor, [8], 'cardFactor');
  lenParam(p.cityFactor, [8], 'cityFactor');
  if (p.keyVersion !== undefined && p.keyVersion !== null) byteParam(p.keyVersion, 'keyVersion');
}

function psamSelects(family: UpdateKeyFamily): CommandApdu[] {
  // [issuance §2.2] DES: the ADF by AID; SM4: sx3.sh.社会保障, then DF01 (answers 61 0A).
  return family === 'des' ? [selectByName(PSAM_ADF_AID)] : [selectByName(PSAM_DF_NAME_SM4), selectByFid(0xdf01, 0x00)];
}

function padded(p: UpdateKeyParams, challenge: Uint8Array): Uint8Array {
  // [issuance §5.2 step 3–4; ssc-card §7.5] 16-byte family: C ‖ 8 × 00.
  return p.family === 'sm4' ? concat(challenge, new Uint8Array(8)) : challenge;
}

const send = (to: UpdateKeyTarget, apdu: CommandApdu): UpdateKeyEffect => ({ kind: 'send', to, apdu });

/**
 * Starts the sequence: first effect = GET CHALLENGE `00 84 00 00 08` to the card [issuance §5.1 step 3].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on bad parameters.
 */
export function startUpdateKeyAuth(p: UpdateKeyParams): { state: UpdateKeyState; effect: UpdateKeyEffect } {
  checkParams(p);
  return { state: { step: 'challenge' }, effect: send('card', getChallenge(8)) };
}

function afterSelects(p: UpdateKeyParams, challenge: Uint8Array): { state: UpdateKeyState; effect: UpdateKeyEffect } {
  // [issuance §5.1 step 4, §5.2 step 3] BF DE 48 12 18|20 D3 ‖ D2 ‖ C [‖ 00×8] (card factor first).
  const apdu = deliverySessionKey({ usage: p.key.usage, keyId: p.key.psamKeyId, factors: [p.cardFactor, p.cityFactor], sessionFactor: padded(p, challenge) });
  return { state: { step: 'psamDeliver', challenge }, effect: send('psam', apdu) };
}

function authenticate(p: UpdateKeyParams, challenge: Uint8Array, cipher: Uint8Array): { state: UpdateKeyState; effect: UpdateKeyEffect } {
  const expected = p.family === 'sm4' ? 16 : 8;
  if (cipher.length !== expected) {
    throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', `PSAM cipher result must be ${expected} bytes`, { field: 'cipher', length: cipher.length });
  }
  // [issuance §5.1 step 5–6; §5.2 step 4–5] A = result (DES) or L ⊕ R (SM4); original data = C.
  const a = authDataFromCipher(cipher);
  const version = p.keyVersion === undefined ? (p.family === 'sm4' ? 0x01 : undefined) : (p.keyVersion ?? undefined);
  return { state: { step: 'authenticate' }, effect: send('card', externalAuthenticate(p.key.cardKeyId, a, challenge, version)) };
}

/**
 * Feeds the response to the last effect's APDU. A status word other than the expected `9000`
 * (or `61xx` where a GET RESPONSE follows) ends in `failed` with the step and SW; it is not thrown.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_SEQUENCE` when stepped after done/failed,
 * `PROTO_ERR_ISSUANCE_RESPONSE` when a challenge or cipher result has the wrong length.
 */
export function stepUpdateKeyAuth(p: UpdateKeyParams, state: UpdateKeyState, r: UpdateKeyResponse): { state: UpdateKeyState; effect: UpdateKeyEffect } {
  const fail = (at: UpdateKeyStep): { state: UpdateKeyState; effect: UpdateKeyEffect } => ({ state: { step: 'failed', at, sw: r.sw }, effect: { kind: 'failed', at, sw: r.sw } });
  const sw1 = r.sw >> 8;
  switch (state.step) {
    case 'challenge': {
      if (r.sw !== 0x9000) return fail('challenge');
      if (r.data.length !== 8) throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', 'challenge must be 8 bytes', { field: 'challenge', length: r.data.length });
      const challenge = r.data.slice();
      if (p.selectPsamEnvironment === false) return afterSelects(p, challenge);
      return { state: { step: 'psamSelect', challenge, index: 0 }, effect: send('psam', psamSelects(p.family)[0]!) };
    }
    case 'psamSelect': {
      if (r.sw !== 0x9000 && sw1 !== 0x61) return fail('psamSelect');
      const selects = psamSelects(p.family);
      const next = state.index + 1;
      if (next < selects.length) return { state: { step: 'psamSelect', challenge: state.challenge, index: next }, effect: send('psam', selects[next]!) };
      return afterSelects(p, state.challenge);
    }
    case 'psamDeliver': {
      if (r.sw !== 0x9000) return fail('psamDeliver');
      return { state: { step: 'psamCipher', challenge: state.challenge }, effect: send('psam', cipherData('encryptLast', padded(p, state.challenge), p.family === 'sm4' ? 16 : 8)) };
    }
    case 'psamCipher':
    case 'psamGetResponse': {
      // [issuance §5.1 step 5] T=0: 61 08 → 00 C0 00 00 08.
      if (sw1 === 0x61) return { state: { step: 'psamGetResponse', challenge: state.challenge }, effect: send('psam', getResponse(r.sw & 0xff || 256)) };
      if (r.sw !== 0x9000) return fail(state.step);
      return authenticate(p, state.challenge, r.data);
    }
    case 'authenticate':
      if (r.sw !== 0x9000) return fail('authenticate');
      return { state: { step: 'done' }, effect: { kind: 'done' } };
    case 'done':
    case 'failed':
      throw new ProtocolError('PROTO_ERR_ISSUANCE_SEQUENCE', `sequence already ${state.step}`, { step: state.step });
  }
}

/** Values of one update-key authentication computed from the root (the PSAM's stored key). */
export interface UpdateKeyOffline {
  readonly cityKey: CardKey;
  readonly cardKey: CardKey;
  readonly sessionKey: CardKey;
  /** The 8-byte authentication data A of EXTERNAL AUTHENTICATE. */
  readonly authData: Uint8Array;
}

/**
 * Computes the update-key authentication as the PSAM does, from the 16-byte root it stores
 * [issuance §5.4]: card key = root dispersed with D2 then D3 (DES family: 3DES(K,F) ‖ 3DES(K,¬F);
 * SM4: SM4(K, F ‖ ¬F) [INFER]); KS = session key of the card key with C; A = auth data over C.
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH` (root not 16 bytes), `PROTO_ERR_ISSUANCE_PARAM` (factors/challenge not 8 bytes).
 */
export function updateKeyAuthOffline(family: UpdateKeyFamily, root: Uint8Array, cityFactor: Uint8Array, cardFactor: Uint8Array, challenge: Uint8Array): UpdateKeyOffline {
  lenParam(cityFactor, [8], 'cityFactor');
  lenParam(cardFactor, [8], 'cardFactor');
  lenParam(challenge, [8], 'challenge');
  const rootKey = makeCardKey(family === 'des' ? '3des' : 'sm4', root);
  const cityKey = disperseKey(rootKey, cityFactor);
  const cardKey = disperseKey(cityKey, cardFactor);
  const ks = sessionKey(cardKey, challenge);
  return { cityKey, cardKey, sessionKey: ks, authData: authenticationData(ks, challenge) };
}
