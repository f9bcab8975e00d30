/**
 * Purse cryptography. T-Union/PBOC e-purse purchase (transit-purse.md §7; JR/T 0025.2 app. B,
 * §5.5.4): DPK by 3DES dispersion of the MPK with the serial, SESPK = 3DES(DPK, random ‖ ATC ‖
 * terminal serial[2..3]), MAC1/MAC2 under SESPK and TAC under DTK_L ⊕ DTK_R, all MACs single-DES
 * CBC. The SSC medical purse (SSC §13) follows the same shape with three amounts, and also has an
 * SM4 form (16-byte-block MAC with fold, TAC under the DTK itself).
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import { checkCardKey, expectLength } from './card-key.ts';
import type { CardKey } from './card-key.ts';
import { disperseKey } from './dispersion.ts';
import { cardMac } from './mac.ts';
import { sessionKey } from './session-keys.ts';

function u32(value: number, field: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `${field} must be an integer 0..4294967295`, { field });
  }
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function u16(value: number, field: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `${field} must be an integer 0..65535`, { field });
  }
  return Uint8Array.of(value >>> 8, value & 0xff);
}

function u8(value: number, field: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `${field} must be an integer 0..255`, { field });
  }
  return Uint8Array.of(value);
}

function requireAlgorithm(k: CardKey, allowed: readonly CardKey['algorithm'][], field: string): void {
  checkCardKey(k, field);
  if (!allowed.includes(k.algorithm)) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_ALGORITHM', `${field} must be ${allowed.join(' or ')}, got ${k.algorithm}`, { field });
  }
}

/**
 * Per-card purchase key DPK = 3DES(MPK, S) ‖ 3DES(MPK, ¬S), S = rightmost 8 bytes of the serial.
 * [JR/T 0025.2 B.2]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM` (MPK not `3des`), `PROTO_ERR_CRYPTO_KEY_LENGTH`,
 *   `PROTO_ERR_CRYPTO_DATA_LENGTH` (serial not 8 bytes)
 */
export function purseDpk(mpk: CardKey, serial8: Uint8Array): CardKey {
  requireAlgorithm(mpk, ['3des'], 'mpk');
  expectLength(serial8, 8, 'serial');
  return disperseKey(mpk, serial8);
}

/** Inputs of the purchase session key. */
export interface PurseSessionInput {
  /** Card pseudo-random from INITIALIZE FOR PURCHASE, 4 bytes. */
  readonly cardRandom: Uint8Array;
  /** Offline ATC from INITIALIZE FOR PURCHASE. */
  readonly atc: number;
  /** Terminal transaction serial from the PSAM, 4 bytes (its rightmost 2 bytes are used). */
  readonly terminalSerial: Uint8Array;
}

/**
 * Purchase session key: input = card random 4 ‖ ATC 2 ‖ rightmost 2 bytes of the terminal
 * transaction serial. With a `3des` DPK this is SESPK = 3DES(DPK, input), an 8-byte `des` key
 * [JR/T 0025.2 B.3]; with an `sm4` DPK (SSC medical purse only) the SSC 16-byte rule applies
 * [SSC P4 §8.4; §13].
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_PARAM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function purseSessionKey(dpk: CardKey, input: PurseSessionInput): CardKey {
  expectLength(input.cardRandom, 4, 'cardRandom');
  expectLength(input.terminalSerial, 4, 'terminalSerial');
  return sessionKey(dpk, concat(input.cardRandom, u16(input.atc, 'atc'), input.terminalSerial.subarray(2, 4)));
}

/** Fields of a T-Union purchase MAC1. */
export interface PurchaseMac1Input {
  /** Amount in fen. */
  readonly amount: number;
  /** Transaction type: `06` purchase, `09` compound purchase. */
  readonly transactionType: number;
  /** Terminal number, 6 bytes. */
  readonly terminalId: Uint8Array;
  /** Date ‖ time, BCD `YYYYMMDDhhmmss`, 7 bytes. */
  readonly dateTime: Uint8Array;
}

/** Fields of a T-Union TAC: MAC1's fields plus the terminal transaction serial. */
export interface PurchaseTacInput extends PurchaseMac1Input {
  /** Terminal transaction serial from the PSAM, 4 bytes. */
  readonly terminalSerial: Uint8Array;
}

function mac1Data(i: PurchaseMac1Input): Uint8Array {
  expectLength(i.terminalId, 6, 'terminalId');
  expectLength(i.dateTime, 7, 'dateTime');
  return concat(u32(i.amount, 'amount'), u8(i.transactionType, 'transactionType'), i.terminalId, i.dateTime);
}

/**
 * MAC1 = MAC(SESPK; amount 4 ‖ type 1 ‖ terminal 6 ‖ date 4 ‖ time 3), single-DES CBC.
 * [JR/T 0025.2 §5.5.4.3, B.4]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM` (SESPK not an 8-byte `des` key),
 *   `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_PARAM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function purchaseMac1(sespk: CardKey, input: PurchaseMac1Input): Uint8Array {
  requireAlgorithm(sespk, ['des'], 'sespk');
  return cardMac(sespk, mac1Data(input));
}

/**
 * MAC2 = MAC(SESPK; amount 4), single-DES CBC. [JR/T 0025.2 §5.5.4.6, B.4]
 * Throws as {@link purchaseMac1}.
 */
export function purchaseMac2(sespk: CardKey, amount: number): Uint8Array {
  requireAlgorithm(sespk, ['des'], 'sespk');
  return cardMac(sespk, u32(amount, 'amount'));
}

/**
 * The 8-byte TAC key of a DTK: DTK_L ⊕ DTK_R for a 16-byte DES-family DTK, otherwise the DTK itself
 * (8-byte DES, or SM4 in the medical purse). [JR/T 0025.2 B.4; SSC P7 §12.6]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function tacKey(dtk: CardKey): CardKey {
  checkCardKey(dtk, 'dtk');
  if (dtk.algorithm !== '3des') return { algorithm: dtk.algorithm, key: dtk.key.slice() };
  const k = new Uint8Array(8);
  for (let i = 0; i < 8; i++) k[i] = dtk.key[i]! ^ dtk.key[i + 8]!;
  return { algorithm: 'des', key: k };
}

/**
 * TAC = MAC(DTK_L ⊕ DTK_R; amount 4 ‖ type 1 ‖ terminal 6 ‖ terminal serial 4 ‖ date 4 ‖ time 3),
 * single-DES CBC, no session key. [JR/T 0025.2 §5.5.4.6, B.4]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM` (DTK not `3des`), `PROTO_ERR_CRYPTO_DATA_LENGTH`,
 *   `PROTO_ERR_CRYPTO_PARAM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function purchaseTac(dtk: CardKey, input: PurchaseTacInput): Uint8Array {
  requireAlgorithm(dtk, ['3des'], 'dtk');
  expectLength(input.terminalId, 6, 'terminalId');
  expectLength(input.terminalSerial, 4, 'terminalSerial');
  expectLength(input.dateTime, 7, 'dateTime');
  const data = concat(u32(input.amount, 'amount'), u8(input.transactionType, 'transactionType'), input.terminalId, input.terminalSerial, input.dateTime);
  return cardMac(tacKey(dtk), data);
}

/** The three amounts of the SSC medical purse, in fen. */
export interface MedicalAmounts {
  readonly accountAmount: number;
  readonly selfPayAmount: number;
  readonly pooledAmount: number;
}

/** Fields of the medical-purse MAC1. */
export interface MedicalMac1Input extends MedicalAmounts {
  readonly transactionType: number;
  readonly terminalId: Uint8Array;
  readonly dateTime: Uint8Array;
}

/** Fields of the medical-purse TAC. */
export interface MedicalTacInput extends MedicalMac1Input {
  readonly terminalSerial: Uint8Array;
}

function amounts3(a: MedicalAmounts): Uint8Array {
  return concat(u32(a.accountAmount, 'accountAmount'), u32(a.selfPayAmount, 'selfPayAmount'), u32(a.pooledAmount, 'pooledAmount'));
}

/**
 * Medical-purse MAC1 over the 3 amounts ‖ type ‖ terminal 6 ‖ date-time 7, by the SSC MAC rule of
 * the session key (single DES, or SM4 with fold), without command header. [SSC P5 §7; P4 §8.2.4; §13]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_ALGORITHM` (a `3des` key: use the session key),
 *   `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_PARAM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function medicalMac1(sessionKey: CardKey, input: MedicalMac1Input): Uint8Array {
  requireAlgorithm(sessionKey, ['des', 'sm4'], 'sessionKey');
  expectLength(input.terminalId, 6, 'terminalId');
  expectLength(input.dateTime, 7, 'dateTime');
  return cardMac(sessionKey, concat(amounts3(input), u8(input.transactionType, 'transactionType'), input.terminalId, input.dateTime));
}

/**
 * Medical-purse MAC2 over the 3 amounts. [SSC §13]
 * Throws as {@link medicalMac1}.
 */
export function medicalMac2(sessionKey: CardKey, amounts: MedicalAmounts): Uint8Array {
  requireAlgorithm(sessionKey, ['des', 'sm4'], 'sessionKey');
  return cardMac(sessionKey, amounts3(amounts));
}

/**
 * Medical-purse TAC over amounts ‖ type ‖ terminal ‖ terminal serial ‖ date-time, no session key:
 * DES family under DTK_L ⊕ DTK_R, SM4 under the DTK itself. [SSC P7 §12.6, §15]
 * @throws ProtocolError `PROTO_ERR_CRYPTO_DATA_LENGTH`, `PROTO_ERR_CRYPTO_PARAM`, `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function medicalTac(dtk: CardKey, input: MedicalTacInput): Uint8Array {
  expectLength(input.terminalId, 6, 'terminalId');
  expectLength(input.terminalSerial, 4, 'terminalSerial');
  expectLength(input.dateTime, 7, 'dateTime');
  const data = concat(amounts3(input), u8(input.transactionType, 'transactionType'), input.terminalId, input.terminalSerial, input.dateTime);
  return cardMac(tacKey(dtk), data);
}
