/**
 * Command builders and response-data parsers for the social security PSAM [P9 §5–9; ssc-card §9]
 * and the PSAM side of the transit purchase [transit-purse §6]: terminal number and key index
 * files, DELIVERY SESSION KEY (`BF DE`), CIPHER DATA (`80 FA`), MAC1 (`80 70`) and MAC2 check
 * (`80 72`). SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE and GET RESPONSE are the ISO commands of
 * the ssc area, re-exported here.
 */
import { ProtocolError } from '../errors.ts';
import { concat, fromHex, toHex, xorBytes } from '../bytes.ts';
import type { CommandApdu } from '../ssc/commands.ts';
import { readBinary } from '../ssc/commands.ts';
import { decodeBcdDigits, decodeCn, encodeBcdDateTime, readUint, writeUint } from '../ssc/bcd.ts';
import { cmd, paramChecks } from '../ssc/command-builder.ts';

export type { CommandApdu } from '../ssc/commands.ts';
export { externalAuthenticate, getChallenge, getResponse, selectByFid, selectByName } from '../ssc/commands.ts';

/** PSAM DES environment (MF) DF name `sx1.sh.社会保障` [P9 §5]. */
export const PSAM_DF_NAME_DES = fromHex('7378312E73682EC9E7BBE1B1A3D5CF');
/** PSAM SSF33 environment (DDF1) DF name `sx2.sh.社会保障` [P9 §5]. */
export const PSAM_DF_NAME_SSF33 = fromHex('7378322E73682EC9E7BBE1B1A3D5CF');
/** PSAM application ADF `DF01` AID [P9 §5]. */
export const PSAM_ADF_AID = fromHex('D15600000590');

/** PSAM key identifiers used by terminal flows [KEY-IDX; SC-IF app. B]. */
export const PSAM_KEY_IDS = { IRK: 0x08, STKSSSE: 0x09, RKSSSE: 0x0a, PUK: 0x10 } as const;

/** PSAM key types (b5–b1 of the usage byte) [P9 §6.2]. */
export const PSAM_KEY_TYPES = { medicalPurchase: 2, mac: 6, encrypt: 7, macEncrypt: 8, load: 9, tac: 12 } as const;

const { param, byteParam, lenParam } = paramChecks('PROTO_ERR_PSAM_PARAM');





function amountParam(v: number, field: string): void {
  param(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, 'amount must be 0–FFFFFFFF fen', field);
}

/**
 * Key usage byte: b8–b6 = dispersion levels (0–3), b5–b1 = key type [P9 §6.2], e.g. `67`, `47`.
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` on levels outside 0–7 or type outside 0–31.
 */
export function keyUsage(levels: number, type: number): number {
  byteParam(levels, 'levels', 0, 7);
  byteParam(type, 'type', 0, 31);
  return (levels << 5) | type;
}

/** Reads the 6-byte terminal number: `00 B0 96 00 06` (SFI `16`) [P9 §7.3.3]. */
export function readTerminalNumber(): CommandApdu {
  return readBinary({ sfi: 0x16, le: 6 });
}

/** Reads the transit purchase key index: `00 B0 97 00 01` (SFI `17`) [transit-purse §6.1]. */
export function readPurchaseKeyIndex(): CommandApdu {
  return readBinary({ sfi: 0x17, le: 1 });
}

/** Reads the PSAM public information file: `00 B0 95 00 0F` (SFI `15`, 15 bytes) [P9 §5]. */
export function readPsamPublicInfo(): CommandApdu {
  return readBinary({ sfi: 0x15, le: 15 });
}

/**
 * Parses the terminal number file: 6 bytes `cn` → 12 digits (city code 6 ‖ PSAM-issuer 6) [P9 §7.3.3].
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` when not 6 bytes, `PROTO_ERR_SSC_BCD` on
 * non-decimal nibbles.
 */
export function parseTerminalNumber(data: Uint8Array): string {
  if (data.length !== 6) throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'terminal number is 6 bytes', { field: 'terminalNumber', length: data.length });
  return decodeBcdDigits(data, 'terminalNumber');
}

/**
 * Parses the purchase key index file (1 byte).
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` when not 1 byte.
 */
export function parsePurchaseKeyIndex(data: Uint8Array): number {
  if (data.length !== 1) throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'key index is 1 byte', { field: 'keyIndex', length: data.length });
  return data[0]!;
}

/** The PSAM public information file `0015` [P9 §5; ssc-card §9.2]. */
export interface PsamPublicInfo {
  readonly issuerId: number;
  /** PSAM serial, 20 digits (`cn`, padding stripped). */
  readonly serial: string;
  readonly version: number;
  readonly keyCardType: number;
  /** FCI data, 4 hex digits. */
  readonly fciData: string;
}

/**
 * Parses the 15-byte PSAM public information: issuer 1 ‖ serial 10 (cn) ‖ version 1 ‖ key-card type 1 ‖ FCI 2.
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` when not 15 bytes, `PROTO_ERR_SSC_BCD` on a bad serial.
 */
export function parsePsamPublicInfo(data: Uint8Array): PsamPublicInfo {
  if (data.length !== 15) throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'public information is 15 bytes', { field: 'publicInfo', length: data.length });
  return {
    issuerId: data[0]!,
    serial: decodeCn(data.subarray(1, 11), 'serial'),
    version: data[11]!,
    keyCardType: data[12]!,
    fciData: toHex(data.subarray(13, 15)),
  };
}

/**
 * INITIALIZE ENVIRONMENT `BF EC 00 00 01` ‖ first byte of the user card's ID [P9 §9.3].
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` when the byte is out of range.
 */
export function initializeEnvironment(cardIdFirstByte: number): CommandApdu {
  byteParam(cardIdFirstByte, 'cardIdFirstByte');
  return cmd(0xbf, 0xec, 0x00, 0x00, Uint8Array.of(cardIdFirstByte));
}

/** Arguments of {@link deliverySessionKey}. */
export interface DeliverySessionKeyArgs {
  /** Key usage byte (P1), e.g. `67` IRK, `47` RKSSSE ({@link keyUsage}). */
  readonly usage: number;
  /** PSAM key identifier (P2), e.g. `08` IRK, `0A` RKSSSE. */
  readonly keyId: number;
  /** 0–3 dispersion factors of 8 bytes, card level first [ssc-card §7.8]. */
  readonly factors: readonly Uint8Array[];
  /** Session factor: 8 bytes (DES family) or 16 bytes (16-byte family; e.g. R1 ‖ 8 × `00`). */
  readonly sessionFactor: Uint8Array;
}

/**
 * DELIVERY SESSION KEY `BF DE usage keyId Lc factors ‖ session factor`, Lc = 8·N + 8|16
 * [P9 §9.7], e.g. `BF DE 67 08 20 …` (IRK, 3 levels) or `BF DE 47 0A 18 …` (RKSSSE).
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` on more than 3 factors, a factor not 8 bytes, or a
 * session factor not 8/16 bytes.
 */
export function deliverySessionKey(args: DeliverySessionKeyArgs): CommandApdu {
  byteParam(args.usage, 'usage');
  byteParam(args.keyId, 'keyId');
  param(args.factors.length <= 3, 'at most 3 dispersion factors', 'factors');
  args.factors.forEach((f) => lenParam(f, [8], 'factors'));
  lenParam(args.sessionFactor, [8, 16], 'sessionFactor');
  return cmd(0xbf, 0xde, args.usage, args.keyId, concat(...args.factors, args.sessionFactor));
}

/** CIPHER DATA P1 values [P9 §9.8]. */
export const CIPHER_MODES = {
  encryptLast: 0x00,
  encryptMore: 0x02,
  macOnly: 0x05,
  macFirst: 0x07,
  macNext: 0x03,
  macLast: 0x01,
} as const;
export type CipherMode = keyof typeof CIPHER_MODES;

/**
 * CIPHER DATA `80 FA P1 00 Lc data 00` [P9 §9.8]. `data` must be whole blocks, already formatted
 * and padded by the terminal: DES family 8–64 bytes (MAC-only: 16–64, IV included), 16-byte family
 * 16–128 bytes (MAC-only: 32–128).
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` when the length does not fit the mode and block size.
 */
export function cipherData(mode: CipherMode, data: Uint8Array, blockSize: 8 | 16 = 8): CommandApdu {
  param(blockSize === 8 || blockSize === 16, 'block size must be 8 or 16', 'blockSize');
  const min = mode === 'macOnly' || mode === 'macFirst' ? 2 * blockSize : blockSize;
  const max = blockSize === 8 ? 0x40 : 0x80;
  param(data.length >= min && data.length <= max && data.length % blockSize === 0, `data must be whole ${blockSize}-byte blocks, ${min}–${max} bytes`, 'data');
  return cmd(0x80, 0xfa, CIPHER_MODES[mode], 0x00, data, 256);
}

/**
 * Authentication data from an encryption result [ssc-card §7.6]: an 8-byte result is the value,
 * a 16-byte result folds as left ⊕ right.
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` when not 8 or 16 bytes.
 */
export function authDataFromCipher(data: Uint8Array): Uint8Array {
  if (data.length === 8) return data.slice();
  if (data.length === 16) return xorBytes(data.subarray(0, 8), data.subarray(8, 16));
  throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'cipher result must be 8 or 16 bytes', { field: 'cipher', length: data.length });
}

/**
 * 4-byte MAC from a CIPHER DATA MAC result [INFER ssc-card §9.5]: 4 bytes as is, 8 bytes → left 4,
 * 16 bytes → XOR of the four 4-byte parts (§7.3).
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` for any other length.
 */
export function macFromCipher(data: Uint8Array): Uint8Array {
  if (data.length === 4) return data.slice();
  if (data.length === 8) return data.slice(0, 4);
  if (data.length === 16) {
    const out = new Uint8Array(4);
    for (let i = 0; i < 16; i++) out[i % 4]! ^= data[i]!;
    return out;
  }
  throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'MAC result must be 4, 8 or 16 bytes', { field: 'mac', length: data.length });
}

/** Inputs of the transit MAC1 command [transit-purse §6.4]. */
export interface TransitMac1Args {
  /** Card pseudo-random from INITIALIZE FOR PURCHASE, 4 bytes. */
  readonly cardRandom: Uint8Array;
  /** Offline ATC from INITIALIZE FOR PURCHASE, 0–FFFF. */
  readonly atc: number;
  /** Amount in fen. */
  readonly amount: number;
  /** `06` purchase, `09` compound purchase. */
  readonly transactionType: number;
  /** `YYYYMMDDhhmmss`. */
  readonly dateTime: string;
  readonly keyVersion: number;
  readonly algorithm: number;
  /** Rightmost 8 bytes of the application serial (0015 offsets 12–19). */
  readonly serial: Uint8Array;
  /** Second dispersion factor, 8 bytes (scheme-specific). */
  readonly factor: Uint8Array;
}

/**
 * Transit MAC1: `80 70 00 00 24` (36 bytes) Le `08` [transit-purse §6.4].
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` on wrong lengths or ranges, `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function transitMac1(args: TransitMac1Args): CommandApdu {
  lenParam(args.cardRandom, [4], 'cardRandom');
  byteParam(args.atc, 'atc', 0, 0xffff);
  amountParam(args.amount, 'amount');
  byteParam(args.transactionType, 'transactionType');
  byteParam(args.keyVersion, 'keyVersion');
  byteParam(args.algorithm, 'algorithm');
  lenParam(args.serial, [8], 'serial');
  lenParam(args.factor, [8], 'factor');
  const data = concat(
    args.cardRandom,
    writeUint(args.atc, 2),
    writeUint(args.amount, 4),
    Uint8Array.of(args.transactionType),
    encodeBcdDateTime(args.dateTime),
    Uint8Array.of(args.keyVersion, args.algorithm),
    args.serial,
    args.factor,
  );
  return cmd(0x80, 0x70, 0x00, 0x00, data, 8);
}

/** Inputs of INIT SAM FOR PURCHASE for the medical purse [P9 §9.9.3; ssc-card §9.4]. */
export interface MedicalMac1Args {
  readonly cardRandom: Uint8Array;
  readonly atc: number;
  readonly accountAmount: number;
  readonly selfPayAmount: number;
  readonly pooledAmount: number;
  readonly transactionType: number;
  /** `YYYYMMDDhhmmss`. */
  readonly dateTime: string;
  readonly keyVersion: number;
  readonly algorithm: number;
  /** 0–3 dispersion factors of 8 bytes, card level first. */
  readonly factors: readonly Uint8Array[];
}

/**
 * INIT SAM FOR PURCHASE (medical MAC1): `80 70 01 00 1C+8N` Le `08` [P9 §9.9.3].
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` on wrong lengths or ranges, `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function medicalMac1(args: MedicalMac1Args): CommandApdu {
  lenParam(args.cardRandom, [4], 'cardRandom');
  byteParam(args.atc, 'atc', 0, 0xffff);
  amountParam(args.accountAmount, 'accountAmount');
  amountParam(args.selfPayAmount, 'selfPayAmount');
  amountParam(args.pooledAmount, 'pooledAmount');
  byteParam(args.transactionType, 'transactionType');
  byteParam(args.keyVersion, 'keyVersion');
  byteParam(args.algorithm, 'algorithm');
  param(args.factors.length <= 3, 'at most 3 dispersion factors', 'factors');
  args.factors.forEach((f) => lenParam(f, [8], 'factors'));
  const data = concat(
    args.cardRandom,
    writeUint(args.atc, 2),
    writeUint(args.accountAmount, 4),
    writeUint(args.selfPayAmount, 4),
    writeUint(args.pooledAmount, 4),
    Uint8Array.of(args.transactionType),
    encodeBcdDateTime(args.dateTime),
    Uint8Array.of(args.keyVersion, args.algorithm),
    ...args.factors,
  );
  return cmd(0x80, 0x70, 0x01, 0x00, data, 8);
}

/** MAC1 response of the PSAM. */
export interface Mac1Response {
  /** Terminal transaction serial (终端交易序号), 0–FFFFFFFF. */
  readonly terminalSerial: number;
  readonly mac1: Uint8Array;
}

/**
 * Parses the MAC1 response: terminal transaction serial 4 ‖ MAC1 4.
 * @throws ProtocolError `PROTO_ERR_PSAM_RESPONSE_LENGTH` when not 8 bytes.
 */
export function parseMac1(data: Uint8Array): Mac1Response {
  if (data.length !== 8) throw new ProtocolError('PROTO_ERR_PSAM_RESPONSE_LENGTH', 'MAC1 response is 8 bytes', { field: 'mac1', length: data.length });
  return { terminalSerial: readUint(data, 0, 4), mac1: data.slice(4, 8) };
}

/**
 * Verify MAC2 (CREDIT SAM FOR PURCHASE): `80 72 00 00 04 MAC2` [P9 §9.9; transit-purse §6.2].
 * Failure is an SW (`63CF` / `9302`).
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` unless MAC2 is 4 bytes.
 */
export function verifyMac2(mac2: Uint8Array): CommandApdu {
  lenParam(mac2, [4], 'mac2');
  return cmd(0x80, 0x72, 0x00, 0x00, mac2);
}

/**
 * CREATE KEY `84 D4 00 keyFileId Lc` cryptogram ‖ MAC [P9 §9.5]; Lc `1C` or `24`.
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` unless cryptogram ‖ MAC is 28 or 36 bytes.
 */
export function createKey(keyFileId: number, cryptogram: Uint8Array, mac: Uint8Array): CommandApdu {
  byteParam(keyFileId, 'keyFileId');
  lenParam(mac, [4], 'mac');
  param(cryptogram.length === 24 || cryptogram.length === 32, 'cryptogram must be 24 or 32 bytes', 'cryptogram');
  return cmd(0x84, 0xd4, 0x00, keyFileId, concat(cryptogram, mac));
}

/**
 * CHANGE KEY `84 D4 01 keyFileId Lc` cryptogram ‖ MAC [P9 §9.6]; Lc `14`, `1C` or `24`.
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` unless cryptogram ‖ MAC is 20, 28 or 36 bytes.
 */
export function changeKey(keyFileId: number, cryptogram: Uint8Array, mac: Uint8Array): CommandApdu {
  byteParam(keyFileId, 'keyFileId');
  lenParam(mac, [4], 'mac');
  param([16, 24, 32].includes(cryptogram.length), 'cryptogram must be 16, 24 or 32 bytes', 'cryptogram');
  return cmd(0x84, 0xd4, 0x01, keyFileId, concat(cryptogram, mac));
}

/** Level-1 (province) dispersion factor: ASCII of the first 2 region digits ‖ `"0000sh"` [P9 §7.3]. */
export function provinceFactor(regionCode: string): Uint8Array {
  regionParam(regionCode);
  return ascii(`${regionCode.slice(0, 2)}0000sh`);
}

/**
 * Level-2 (city) dispersion factor [P9 §7.3; SC-IF §10.3]: ASCII of the 6 region digits ‖ `"sx"`;
 * with `rule: 'sc-if'` a Zhejiang region (`33…`) uses its first 4 digits ‖ `"00sx"`.
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` unless the region is 6 digits.
 */
export function cityFactor(regionCode: string, rule: 'p9' | 'sc-if' = 'sc-if'): Uint8Array {
  regionParam(regionCode);
  if (rule === 'sc-if' && regionCode.startsWith('33')) return ascii(`${regionCode.slice(0, 4)}00sx`);
  return ascii(`${regionCode}sx`);
}

/**
 * Level-3 (card) dispersion factor: ATR historical bytes 6..13 (T6..TD) [P9 §7.3.3].
 * @throws ProtocolError `PROTO_ERR_PSAM_PARAM` when fewer than 13 historical bytes are given.
 */
export function cardFactor(historicalBytes: Uint8Array): Uint8Array {
  param(historicalBytes.length >= 13, 'need at least 13 historical bytes', 'historicalBytes');
  return historicalBytes.slice(5, 13);
}

function regionParam(regionCode: string): void {
  param(/^[0-9]{6}$/.test(regionCode), 'region code must be 6 digits', 'regionCode');
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
