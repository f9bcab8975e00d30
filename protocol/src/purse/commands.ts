/**
 * Command builders of the T-Union transit e-purse [transit-purse §1–§8; PBOC-2 §5.2]: SELECT by
 * AID, READ BINARY `0015`, GET BALANCE, INITIALIZE FOR PURCHASE, UPDATE CAPP DATA CACHE, DEBIT FOR
 * PURCHASE, GET TRANSACTION PROVE and READ RECORD of the cyclic log. Response layouts are in
 * `records.ts`; the SELECT FCI is decoded by {@link parseTUnionFci}.
 */
import { concat, fromHex } from '../bytes.ts';
import type { CommandApdu, SelectOptions } from '../ssc/commands.ts';
import { parseFci, readBinary, readRecord, selectByName } from '../ssc/commands.ts';
import { encodeBcdDateTime, writeUint } from '../ssc/bcd.ts';
import { parsePublicInfo, type PublicInfo } from './records.ts';
import { cmd, paramChecks } from '../ssc/command-builder.ts';

export type { CommandApdu } from '../ssc/commands.ts';

/** T-Union transit application AID, label "MOT_T_EP" [transit-purse §1]. */
export const TUNION_AID = fromHex('A000000632010105');

/** SFIs of the transit application [transit-purse §2, §4]. */
export const PURSE_SFI = { publicInfo: 0x15, log: 0x18 } as const;

const { param, uintParam } = paramChecks('PROTO_ERR_PURSE_PARAM');




/** SELECT the T-Union application `00 A4 04 00 08 A000000632010105 [00]`. */
export function selectTUnion(options: SelectOptions = {}): CommandApdu {
  return selectByName(TUNION_AID, options);
}

/** The transit SELECT response. */
export interface TUnionFci {
  readonly aid: Uint8Array;
  readonly applicationVersion?: number;
  /** `9F0C`: the public information file, when present and 30 bytes. */
  readonly publicInfo?: PublicInfo;
}

/**
 * Parses the transit FCI `6F { 84 AID, A5 { 9F08 version, 9F0C public info } }` [CODE EMU].
 * Throws as `parseFci` and {@link parsePublicInfo}.
 */
export function parseTUnionFci(data: Uint8Array): TUnionFci {
  const fci = parseFci(data);
  const out: { -readonly [K in keyof TUnionFci]: TUnionFci[K] } = { aid: fci.dfName };
  if (fci.applicationVersion !== undefined) out.applicationVersion = fci.applicationVersion;
  if (fci.issuerDiscretionary !== undefined && fci.issuerDiscretionary.length === 30) out.publicInfo = parsePublicInfo(fci.issuerDiscretionary);
  return out;
}

/** READ BINARY of the public information file: `00 B0 95 00 1E` [transit-purse §2]. */
export function readPublicInfo(): CommandApdu {
  return readBinary({ sfi: PURSE_SFI.publicInfo, le: 30 });
}

/** Purse selector in P2: `01` electronic deposit (ED), `02` electronic purse (EP). */
export type PurseKind = 'ED' | 'EP';

/**
 * GET BALANCE `80 5C P1 01|02 04` [PBOC-2 §5.2.8]; P1 `00` normally, `01`–`03` as some readers send
 * [CODE MD].
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on P1 outside 0–3.
 */
export function getBalance(kind: PurseKind = 'EP', p1 = 0): CommandApdu {
  uintParam(p1, 3, 'p1');
  return cmd(0x80, 0x5c, p1, kind === 'EP' ? 0x02 : 0x01, undefined, 4);
}

/** Arguments of {@link initializeForPurchase}. */
export interface InitializeForPurchaseArgs {
  /** Purchase key index (PSAM SFI `17`). */
  readonly keyIndex: number;
  /** Amount in fen. */
  readonly amount: number;
  /** Terminal number, 6 bytes. */
  readonly terminalNumber: Uint8Array;
  /** P1 `03` compound purchase instead of `01` purchase. */
  readonly compound?: boolean;
  readonly kind?: PurseKind;
}

/**
 * INITIALIZE FOR PURCHASE `80 50 01|03 02 0B` key index ‖ amount ‖ terminal Le `0F` [PBOC-2 §5.2.9; transit-purse §6.2].
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on out-of-range fields.
 */
export function initializeForPurchase(args: InitializeForPurchaseArgs): CommandApdu {
  uintParam(args.keyIndex, 0xff, 'keyIndex');
  uintParam(args.amount, 0xffffffff, 'amount');
  param(args.terminalNumber.length === 6, 'terminal number is 6 bytes', 'terminalNumber');
  const data = concat(Uint8Array.of(args.keyIndex), writeUint(args.amount, 4), args.terminalNumber);
  return cmd(0x80, 0x50, args.compound === true ? 0x03 : 0x01, (args.kind ?? 'EP') === 'EP' ? 0x02 : 0x01, data, 15);
}

/** Arguments of {@link debitForPurchase}. */
export interface DebitForPurchaseArgs {
  /** Terminal transaction serial from the PSAM MAC1 response. */
  readonly terminalSerial: number;
  /** `YYYYMMDDhhmmss`. */
  readonly dateTime: string;
  readonly mac1: Uint8Array;
}

/**
 * DEBIT FOR PURCHASE `80 54 01 00 0F` terminal serial 4 ‖ date 4 ‖ time 3 ‖ MAC1 4, Le `08` [PBOC-2 §5.2.9].
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on bad lengths, `PROTO_ERR_SSC_DATE` on a bad date-time.
 */
export function debitForPurchase(args: DebitForPurchaseArgs): CommandApdu {
  uintParam(args.terminalSerial, 0xffffffff, 'terminalSerial');
  param(args.mac1.length === 4, 'MAC1 is 4 bytes', 'mac1');
  return cmd(0x80, 0x54, 0x01, 0x00, concat(writeUint(args.terminalSerial, 4), encodeBcdDateTime(args.dateTime), args.mac1), 8);
}

/**
 * GET TRANSACTION PROVE `80 5A 00 type 02 ATC` Le `08` [PBOC-2 §5.2.6]. OneCard sends the
 * INITIALIZE ATC + 1 [ONECARD transit-purse §8]; the caller decides.
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on a type not 06/09 or ATC outside 0–FFFF.
 */
export function getTransactionProve(transactionType: 0x06 | 0x09, atc: number): CommandApdu {
  param(transactionType === 0x06 || transactionType === 0x09, 'type must be 06 or 09', 'transactionType');
  uintParam(atc, 0xffff, 'atc');
  return cmd(0x80, 0x5a, 0x00, transactionType, writeUint(atc, 2), 8);
}

/**
 * READ RECORD of the cyclic log: `00 B2 nn C4 17` (SFI `18`, record number; record 1 = newest) [transit-purse §4].
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on a record outside 1–10 (the log holds 10 records).
 */
export function readLogRecord(record: number): CommandApdu {
  uintParam(record, 10, 'record');
  param(record >= 1, 'record must be 1–10', 'record');
  return readRecord(record, 'recordNumber', { sfi: PURSE_SFI.log, le: 23 });
}

/**
 * UPDATE CAPP DATA CACHE `80 DC typeId (SFI << 3) Lc record` [PBOC-9 §5.2.13].
 * @throws ProtocolError `PROTO_ERR_PURSE_PARAM` on SFI outside 1–30 or a record outside 1–255 bytes.
 */
export function updateCappDataCache(typeId: number, sfi: number, record: Uint8Array): CommandApdu {
  uintParam(typeId, 0xff, 'typeId');
  uintParam(sfi, 30, 'sfi');
  param(sfi >= 1, 'SFI must be 1–30', 'sfi');
  param(record.length >= 1 && record.length <= 255, 'record must be 1–255 bytes', 'record');
  return cmd(0x80, 0xdc, typeId, sfi << 3, record);
}
