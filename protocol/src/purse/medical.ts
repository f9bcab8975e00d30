/**
 * The medical-insurance offline purse of the social security card (DF04, CLA `B0`) [P5 §7; P7 §11–12;
 * ssc-card §13]: command builders and response parsers for load, purchase, balance and proof.
 * Distinct from the transit purse: three amounts (account, self-pay, pooled fund).
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';
import type { CommandApdu } from '../ssc/commands.ts';
import { encodeBcdDateTime, readUint, writeUint } from '../ssc/bcd.ts';
import { cmd as buildCmd, paramChecks } from '../ssc/command-builder.ts';

/** Medical-purse commands all use CLA `B0` [P5 §7]. */
function cmd(p: { ins: number; p1: number; p2: number; data?: Uint8Array; le?: number }): CommandApdu {
  return buildCmd(0xb0, p.ins, p.p1, p.p2, p.data, p.le);
}

const { param, uintParam } = paramChecks('PROTO_ERR_PURSE_PARAM');



function len(data: Uint8Array, n: number, field: string): void {
  if (data.length !== n) throw new ProtocolError('PROTO_ERR_PURSE_RESPONSE_LENGTH', `${field} is ${n} bytes`, { field, length: data.length });
}

/**
 * INITIALIZE FOR LOAD `B0 28 00 01 0B` key index ‖ amount ‖ terminal, Le `10`.
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on out-of-range fields.
 */
export function medicalInitializeForLoad(keyIndex: number, amount: number, terminalNumber: Uint8Array): CommandApdu {
  uintParam(keyIndex, 0xff, 'keyIndex');
  uintParam(amount, 0xffffffff, 'amount');
  param(terminalNumber.length === 6, 'terminal number is 6 bytes', 'terminalNumber');
  return cmd({ ins: 0x28, p1: 0x00, p2: 0x01, data: concat(Uint8Array.of(keyIndex), writeUint(amount, 4), terminalNumber), le: 16 });
}

/** INITIALIZE FOR LOAD response. */
export interface MedicalInitializeForLoadResponse {
  readonly balance: number;
  readonly atc: number;
  readonly keyVersion: number;
  readonly algorithm: number;
  readonly cardRandom: Uint8Array;
  readonly mac1: Uint8Array;
}

/**
 * Parses balance 4 ‖ ATC 2 ‖ key version 1 ‖ algorithm 1 ‖ random 4 ‖ MAC1 4 (16 bytes).
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 16 bytes.
 */
export function parseMedicalInitializeForLoad(data: Uint8Array): MedicalInitializeForLoadResponse {
  len(data, 16, 'initializeForLoad');
  return { balance: readUint(data, 0, 4), atc: readUint(data, 4, 2), keyVersion: data[6]!, algorithm: data[7]!, cardRandom: data.slice(8, 12), mac1: data.slice(12, 16) };
}

/**
 * CREDIT FOR LOAD `B0 2A 00 00 0B` host date-time 7 ‖ MAC2 4, Le `04` (TAC).
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` unless MAC2 is 4 bytes, `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function medicalCreditForLoad(dateTime: string, mac2: Uint8Array): CommandApdu {
  param(mac2.length === 4, 'MAC2 is 4 bytes', 'mac2');
  return cmd({ ins: 0x2a, p1: 0x00, p2: 0x00, data: concat(encodeBcdDateTime(dateTime), mac2), le: 4 });
}

/** The three amounts of a medical purchase, in fen. */
export interface MedicalAmounts {
  readonly accountAmount: number;
  readonly selfPayAmount: number;
  readonly pooledAmount: number;
}

/**
 * INITIALIZE FOR PURCHASE `B0 28 01 01 13` key index ‖ 3 amounts ‖ terminal, Le `16`.
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on out-of-range fields.
 */
export function medicalInitializeForPurchase(keyIndex: number, amounts: MedicalAmounts, terminalNumber: Uint8Array): CommandApdu {
  uintParam(keyIndex, 0xff, 'keyIndex');
  uintParam(amounts.accountAmount, 0xffffffff, 'accountAmount');
  uintParam(amounts.selfPayAmount, 0xffffffff, 'selfPayAmount');
  uintParam(amounts.pooledAmount, 0xffffffff, 'pooledAmount');
  param(terminalNumber.length === 6, 'terminal number is 6 bytes', 'terminalNumber');
  const data = concat(Uint8Array.of(keyIndex), writeUint(amounts.accountAmount, 4), writeUint(amounts.selfPayAmount, 4), writeUint(amounts.pooledAmount, 4), terminalNumber);
  return cmd({ ins: 0x28, p1: 0x01, p2: 0x01, data, le: 0x16 });
}

/** INITIALIZE FOR PURCHASE response of the medical purse. */
export interface MedicalInitializeForPurchaseResponse {
  /** CIA balance. */
  readonly balance: number;
  readonly spip: number;
  readonly spfp: number;
  readonly paymentYear: number;
  readonly atc: number;
  readonly keyVersion: number;
  readonly algorithm: number;
  readonly cardRandom: Uint8Array;
}

/**
 * Parses CIA balance 4 ‖ SPIP 4 ‖ SPFP 4 ‖ payment year 2 ‖ ATC 2 ‖ key version 1 ‖ algorithm 1 ‖ random 4 (22 bytes).
 * @throws ProtocolError `PROTO_ERR_PURSE_RESPONSE_LENGTH` when not 22 bytes.
 */
export function parseMedicalInitializeForPurchase(data: Uint8Array): MedicalInitializeForPurchaseResponse {
  len(data, 22, 'initializeForPurchase');
  return {
    balance: readUint(data, 0, 4),
    spip: readUint(data, 4, 4),
    spfp: readUint(data, 8, 4),
    paymentYear: readUint(data, 12, 2),
    atc: readUint(data, 14, 2),
    keyVersion: data[16]!,
    algorithm: data[17]!,
    cardRandom: data.slice(18, 22),
  };
}

/**
 * DEBIT FOR PURCHASE `B0 2C 01 00 0F` terminal serial 4 ‖ date-time 7 ‖ MAC1 4, Le `08` (TAC ‖ MAC2).
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on bad fields, `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function medicalDebitForPurchase(terminalSerial: number, dateTime: string, mac1: Uint8Array): CommandApdu {
  uintParam(terminalSerial, 0xffffffff, 'terminalSerial');
  param(mac1.length === 4, 'MAC1 is 4 bytes', 'mac1');
  return cmd({ ins: 0x2c, p1: 0x01, p2: 0x00, data: concat(writeUint(terminalSerial, 4), encodeBcdDateTime(dateTime), mac1), le: 8 });
}

/**
 * GET BALANCE `B0 26 00 01|02|03`, Le `04` (or `06`).
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on P2 outside 1–3 or Le not 4/6.
 */
export function medicalGetBalance(p2: 1 | 2 | 3, le: 4 | 6 = 4): CommandApdu {
  param(p2 === 1 || p2 === 2 || p2 === 3, 'P2 must be 01–03', 'p2');
  param(le === 4 || le === 6, 'Le must be 4 or 6', 'le');
  return cmd({ ins: 0x26, p1: 0x00, p2, le });
}

/**
 * GET TRANSACTION PROOF `B0 2E 00 type 02 ATC`, Le `08` (MAC 4 ‖ TAC 4).
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on type or ATC out of range.
 */
export function medicalGetTransactionProof(transactionType: number, atc: number): CommandApdu {
  uintParam(transactionType, 0xff, 'transactionType');
  uintParam(atc, 0xffff, 'atc');
  return cmd({ ins: 0x2e, p1: 0x00, p2: transactionType, data: writeUint(atc, 2), le: 8 });
}

/**
 * UPDATE (P1 `00`) or GET (P1 `01`) STARTING DAY `B0 56 P1 00`.
 */
export function medicalStartingDay(op: 'update' | 'get'): CommandApdu {
  return cmd({ ins: 0x56, p1: op === 'update' ? 0x00 : 0x01, p2: 0x00 });
}

/** Parses a 4-byte TAC (CREDIT FOR LOAD). Throws `PROTO_ERR_PURSE_RESPONSE_LENGTH`. */
export function parseMedicalTac(data: Uint8Array): Uint8Array {
  len(data, 4, 'tac');
  return data.slice();
}

/** Parses TAC 4 ‖ MAC2 4 (DEBIT FOR PURCHASE) or MAC 4 ‖ TAC 4 (proof): two 4-byte halves. Throws `PROTO_ERR_PURSE_RESPONSE_LENGTH`. */
export function parseMedicalPair(data: Uint8Array): readonly [Uint8Array, Uint8Array] {
  len(data, 8, 'response');
  return [data.slice(0, 4), data.slice(4, 8)];
}

/**
 * Medical MAC1 input (no header) [ssc-card §13]: the 3 amounts ‖ type ‖ terminal no. ‖ date-time.
 * Throws `PROTO_ERR_PURSE_PARAM`, `PROTO_ERR_SSC_DATE`.
 */
export function medicalMac1Input(amounts: MedicalAmounts, transactionType: number, terminalNumber: Uint8Array, dateTime: string): Uint8Array {
  uintParam(transactionType, 0xff, 'transactionType');
  param(terminalNumber.length === 6, 'terminal number is 6 bytes', 'terminalNumber');
  return concat(medicalMac2Input(amounts), Uint8Array.of(transactionType), terminalNumber, encodeBcdDateTime(dateTime));
}

/** Medical MAC2 input: the 3 amounts [ssc-card §13]. Throws `PROTO_ERR_PURSE_PARAM`. */
export function medicalMac2Input(amounts: MedicalAmounts): Uint8Array {
  uintParam(amounts.accountAmount, 0xffffffff, 'accountAmount');
  uintParam(amounts.selfPayAmount, 0xffffffff, 'selfPayAmount');
  uintParam(amounts.pooledAmount, 0xffffffff, 'pooledAmount');
  return concat(writeUint(amounts.accountAmount, 4), writeUint(amounts.selfPayAmount, 4), writeUint(amounts.pooledAmount, 4));
}
