/**
 * Data layouts of the T-Union transit e-purse [transit-purse §2–§4, §6.3, §7]: the public
 * information file `0015`, the balance, the INITIALIZE / DEBIT / GET TRANSACTION PROVE responses,
 * the cyclic transaction log record, and the byte strings that the MAC1, MAC2, TAC and session key
 * are computed over. Parsers take response data without SW and throw on wrong lengths.
 */
import { ProtocolError } from '../errors.ts';
import { concat, toHex } from '../bytes.ts';
import { decodeBcdDate, decodeBcdDateTime, encodeBcdDate, encodeBcdDateTime, readUint, writeUint } from '../ssc/bcd.ts';

function len(data: Uint8Array, n: number, field: string): void {
  if (data.length !== n) throw new ProtocolError('PROTO_ERR_PURSE_RESPONSE_LENGTH', `${field} is ${n} bytes`, { field, length: data.length });
}

function param(ok: boolean, detail: string, field: string): void {
  if (!ok) throw new ProtocolError('PROTO_ERR_PURSE_PARAM', detail, { field });
}

/** Transaction types [transit-purse §4, §6.2]. */
export const TRANSACTION_TYPES = { load: 0x02, purchase: 0x06, compoundPurchase: 0x09 } as const;

/** The public information file `0015` (30 bytes) [transit-purse §2]. */
export interface PublicInfo {
  /** Issuer identifier, 16 hex digits. */
  readonly issuerId: string;
  readonly applicationType: number;
  readonly applicationVersion: number;
  /** Application serial as 20 hex digits (BCD on the card). */
  readonly serialHex: string;
  /** Card number as displayed: the serial minus its first nibble (19 digits) [CODE MD]. */
  readonly cardNumber: string;
  /** Rightmost 8 bytes of the serial (offsets 12–19): MAC1 and DPK input. */
  readonly serialRight8: Uint8Array;
  /** `YYYYMMDD`, or `''` when all `F`. */
  readonly startDate: string;
  readonly expiryDate: string;
}

/**
 * Parses `0015` (also the `9F0C` of the SELECT FCI).
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 30 bytes, `PROTO_ERR_SSC_BCD` /
 * `PROTO_ERR_SSC_DATE` on bad dates.
 */
export function parsePublicInfo(data: Uint8Array): PublicInfo {
  len(data, 30, 'publicInfo');
  const serialHex = toHex(data.subarray(10, 20));
  return {
    issuerId: toHex(data.subarray(0, 8)),
    applicationType: data[8]!,
    applicationVersion: data[9]!,
    serialHex,
    cardNumber: serialHex.slice(1),
    serialRight8: data.slice(12, 20),
    startDate: decodeBcdDate(data.subarray(20, 24), 'startDate'),
    expiryDate: decodeBcdDate(data.subarray(24, 28), 'expiryDate'),
  };
}

/** Inverse of {@link parsePublicInfo} (RFU bytes `00`), for simulators. Throws `PROTO_ERR_PURSE_PARAM`, `PROTO_ERR_SSC_DATE`. */
export function encodePublicInfo(info: Omit<PublicInfo, 'cardNumber' | 'serialRight8'>): Uint8Array {
  param(/^[0-9A-Fa-f]{16}$/.test(info.issuerId), 'issuer ID must be 16 hex digits', 'issuerId');
  param(/^[0-9A-Fa-f]{20}$/.test(info.serialHex), 'serial must be 20 hex digits', 'serialHex');
  param(Number.isInteger(info.applicationType) && info.applicationType >= 0 && info.applicationType <= 255, 'byte', 'applicationType');
  param(Number.isInteger(info.applicationVersion) && info.applicationVersion >= 0 && info.applicationVersion <= 255, 'byte', 'applicationVersion');
  const date = (d: string, f: string): Uint8Array => (d === '' ? new Uint8Array(4).fill(0xff) : encodeBcdDate(d, f));
  return concat(
    hex(info.issuerId),
    Uint8Array.of(info.applicationType, info.applicationVersion),
    hex(info.serialHex),
    date(info.startDate, 'startDate'),
    date(info.expiryDate, 'expiryDate'),
    new Uint8Array(2),
  );
}

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A GET BALANCE result. */
export interface Balance {
  /** The 4 bytes as an unsigned number. */
  readonly raw: number;
  /** Low 31 bits, in fen [CODE MD]. */
  readonly fen: number;
}

/**
 * Parses the GET BALANCE response (4 bytes, fen) [PBOC-2 §5.2.8; transit-purse §3].
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 4 bytes.
 */
export function parseBalance(data: Uint8Array): Balance {
  len(data, 4, 'balance');
  const raw = readUint(data, 0, 4);
  return { raw, fen: raw % 0x80000000 };
}

/** INITIALIZE FOR PURCHASE response [transit-purse §6.3]. */
export interface InitializeForPurchaseResponse {
  readonly balance: number;
  readonly atc: number;
  readonly overdraftLimit: number;
  readonly keyVersion: number;
  readonly algorithm: number;
  readonly cardRandom: Uint8Array;
}

/**
 * Parses the 15-byte INITIALIZE FOR PURCHASE response: balance 4 ‖ ATC 2 ‖ overdraft 3 ‖ key version 1
 * ‖ algorithm 1 ‖ random 4.
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 15 bytes.
 */
export function parseInitializeForPurchase(data: Uint8Array): InitializeForPurchaseResponse {
  len(data, 15, 'initializeForPurchase');
  return {
    balance: readUint(data, 0, 4),
    atc: readUint(data, 4, 2),
    overdraftLimit: readUint(data, 6, 3),
    keyVersion: data[9]!,
    algorithm: data[10]!,
    cardRandom: data.slice(11, 15),
  };
}

/** Inverse of {@link parseInitializeForPurchase}, for simulators. Throws `PROTO_ERR_PURSE_PARAM`. */
export function encodeInitializeForPurchase(r: InitializeForPurchaseResponse): Uint8Array {
  uint(r.balance, 4, 'balance');
  uint(r.atc, 2, 'atc');
  uint(r.overdraftLimit, 3, 'overdraftLimit');
  uint(r.keyVersion, 1, 'keyVersion');
  uint(r.algorithm, 1, 'algorithm');
  param(r.cardRandom.length === 4, 'card random is 4 bytes', 'cardRandom');
  return concat(writeUint(r.balance, 4), writeUint(r.atc, 2), writeUint(r.overdraftLimit, 3), Uint8Array.of(r.keyVersion, r.algorithm), r.cardRandom);
}

function uint(v: number, bytes: number, field: string): void {
  param(Number.isInteger(v) && v >= 0 && v < 2 ** (8 * bytes), `must fit ${bytes} bytes`, field);
}

/** DEBIT FOR PURCHASE response: TAC ‖ MAC2. */
export interface DebitForPurchaseResponse {
  readonly tac: Uint8Array;
  readonly mac2: Uint8Array;
}

/**
 * Parses the 8-byte DEBIT FOR PURCHASE response: TAC 4 ‖ MAC2 4 [PBOC-2 §5.2.9].
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 8 bytes.
 */
export function parseDebitForPurchase(data: Uint8Array): DebitForPurchaseResponse {
  len(data, 8, 'debitForPurchase');
  return { tac: data.slice(0, 4), mac2: data.slice(4, 8) };
}

/** GET TRANSACTION PROVE response: MAC2 ‖ TAC (note the order). */
export interface TransactionProve {
  readonly mac2: Uint8Array;
  readonly tac: Uint8Array;
}

/**
 * Parses the 8-byte GET TRANSACTION PROVE response: MAC2 4 ‖ TAC 4 [PBOC-2 §5.2.6; transit-purse §8].
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 8 bytes.
 */
export function parseTransactionProve(data: Uint8Array): TransactionProve {
  len(data, 8, 'transactionProve');
  return { mac2: data.slice(0, 4), tac: data.slice(4, 8) };
}

/** One record of the cyclic transaction log, SFI `18` [transit-purse §4]. */
export interface LogRecord {
  readonly atc: number;
  readonly overdraftAmount: number;
  readonly amount: number;
  readonly transactionType: number;
  /** Terminal number, 12 hex digits. */
  readonly terminalNumber: string;
  /** `YYYYMMDDhhmmss`. */
  readonly dateTime: string;
}

/**
 * Parses a 23-byte log record: ATC 2 ‖ overdraft 3 ‖ amount 4 ‖ type 1 ‖ terminal 6 ‖ date-time 7.
 * An unused record (all `00` or all `FF`) gives `undefined`.
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 23 bytes, `PROTO_ERR_SSC_BCD` /
 * `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function parseLogRecord(data: Uint8Array): LogRecord | undefined {
  len(data, 23, 'logRecord');
  if (data.every((b) => b === 0x00) || data.every((b) => b === 0xff)) return undefined;
  return {
    atc: readUint(data, 0, 2),
    overdraftAmount: readUint(data, 2, 3),
    amount: readUint(data, 5, 4),
    transactionType: data[9]!,
    terminalNumber: toHex(data.subarray(10, 16)),
    dateTime: decodeBcdDateTime(data.subarray(16, 23)),
  };
}

/** Inverse of {@link parseLogRecord}, for simulators. Throws `PROTO_ERR_PURSE_PARAM`, `PROTO_ERR_SSC_DATE`. */
export function encodeLogRecord(r: LogRecord): Uint8Array {
  uint(r.atc, 2, 'atc');
  uint(r.overdraftAmount, 3, 'overdraftAmount');
  uint(r.amount, 4, 'amount');
  uint(r.transactionType, 1, 'transactionType');
  param(/^[0-9A-Fa-f]{12}$/.test(r.terminalNumber), 'terminal number must be 12 hex digits', 'terminalNumber');
  return concat(writeUint(r.atc, 2), writeUint(r.overdraftAmount, 3), writeUint(r.amount, 4), Uint8Array.of(r.transactionType), hex(r.terminalNumber), encodeBcdDateTime(r.dateTime));
}

/** Fields that the purchase MACs and TAC cover. */
export interface PurchaseMacFields {
  readonly amount: number;
  readonly transactionType: number;
  /** 6 bytes. */
  readonly terminalNumber: Uint8Array;
  /** `YYYYMMDDhhmmss`. */
  readonly dateTime: string;
}

function macFields(f: PurchaseMacFields): Uint8Array[] {
  uint(f.amount, 4, 'amount');
  uint(f.transactionType, 1, 'transactionType');
  param(f.terminalNumber.length === 6, 'terminal number is 6 bytes', 'terminalNumber');
  return [writeUint(f.amount, 4), Uint8Array.of(f.transactionType), f.terminalNumber];
}

/**
 * MAC1 input: amount 4 ‖ type 1 ‖ terminal 6 ‖ date 4 ‖ time 3, 18 bytes [PBOC-2 §5.5.4.3].
 * Throws `PROTO_ERR_PURSE_PARAM`, `PROTO_ERR_SSC_DATE`.
 */
export function mac1Input(f: PurchaseMacFields): Uint8Array {
  return concat(...macFields(f), encodeBcdDateTime(f.dateTime));
}

/** MAC2 input: amount 4 [PBOC-2 §5.5.4.6]. Throws `PROTO_ERR_PURSE_PARAM`. */
export function mac2Input(amount: number): Uint8Array {
  uint(amount, 4, 'amount');
  return writeUint(amount, 4);
}

/**
 * TAC input: amount 4 ‖ type 1 ‖ terminal 6 ‖ terminal serial 4 ‖ date 4 ‖ time 3, 22 bytes
 * [PBOC-2 §5.5.4.6]. Throws `PROTO_ERR_PURSE_PARAM`, `PROTO_ERR_SSC_DATE`.
 */
export function tacInput(f: PurchaseMacFields & { readonly terminalSerial: number }): Uint8Array {
  uint(f.terminalSerial, 4, 'terminalSerial');
  return concat(...macFields(f), writeUint(f.terminalSerial, 4), encodeBcdDateTime(f.dateTime));
}

/**
 * Session-key (SESPK) input: card random 4 ‖ ATC 2 ‖ rightmost 2 bytes of the terminal serial
 * [PBOC-2 app. B.3]. Throws `PROTO_ERR_PURSE_PARAM`.
 */
export function sessionKeyInput(cardRandom: Uint8Array, atc: number, terminalSerial: number): Uint8Array {
  param(cardRandom.length === 4, 'card random is 4 bytes', 'cardRandom');
  uint(atc, 2, 'atc');
  uint(terminalSerial, 4, 'terminalSerial');
  return concat(cardRandom, writeUint(atc, 2), writeUint(terminalSerial % 0x10000, 2));
}
