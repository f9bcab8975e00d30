/**
 * CCID bulk and interrupt messages as typed objects: every PC_to_RDR command and RDR_to_PC
 * response of reader-link.md §7.1 with its 10-byte header (§7.2), the SetParameters protocol
 * data structures (§7.3), XfrBlock chaining levels (§7.4), `dwFeatures` (§7.5) and the interrupt
 * messages NotifySlotChange / HardwareError. Pure functions over `Uint8Array`; a decoder takes
 * exactly one message and rejects short input, trailing bytes and reserved values, naming the
 * field that failed. Status is data: a failed or time-extension response decodes normally.
 */
import { ProtocolError } from '../errors.ts';

// ---------------------------------------------------------------------------------------------
// Message type codes [CCID §7.1]

/** bMessageType of every host → reader (bulk OUT) message. [CCID §7.1] */
export const PC_TO_RDR = {
  PC_to_RDR_IccPowerOn: 0x62,
  PC_to_RDR_IccPowerOff: 0x63,
  PC_to_RDR_GetSlotStatus: 0x65,
  PC_to_RDR_XfrBlock: 0x6f,
  PC_to_RDR_GetParameters: 0x6c,
  PC_to_RDR_ResetParameters: 0x6d,
  PC_to_RDR_SetParameters: 0x61,
  PC_to_RDR_Escape: 0x6b,
  PC_to_RDR_IccClock: 0x6e,
  PC_to_RDR_T0APDU: 0x6a,
  PC_to_RDR_Secure: 0x69,
  PC_to_RDR_Mechanical: 0x71,
  PC_to_RDR_Abort: 0x72,
  PC_to_RDR_SetDataRateAndClockFrequency: 0x73,
} as const;

/** bMessageType of every reader → host (bulk IN) message. [CCID §7.1] */
export const RDR_TO_PC = {
  RDR_to_PC_DataBlock: 0x80,
  RDR_to_PC_SlotStatus: 0x81,
  RDR_to_PC_Parameters: 0x82,
  RDR_to_PC_Escape: 0x83,
  RDR_to_PC_DataRateAndClockFrequency: 0x84,
} as const;

/** bMessageType of the interrupt IN messages. [CCID §7.1] */
export const RDR_TO_PC_INTERRUPT = {
  RDR_to_PC_NotifySlotChange: 0x50,
  RDR_to_PC_HardwareError: 0x51,
} as const;

export type CcidCommandType = keyof typeof PC_TO_RDR;
export type CcidResponseType = keyof typeof RDR_TO_PC;

/** Length of the CCID header. [CCID §7.2] */
export const CCID_HEADER_LENGTH = 10;

// ---------------------------------------------------------------------------------------------
// bStatus / bError [CCID §7.2]

export type IccStatus = 'present-active' | 'present-inactive' | 'absent';
export type CommandStatus = 'ok' | 'failed' | 'time-extension';

/** bStatus decoded: bits 1–0 bmICCStatus, bits 7–6 bmCommandStatus. [CCID §7.2] */
export interface CcidStatus {
  readonly iccStatus: IccStatus;
  readonly commandStatus: CommandStatus;
}

const ICC_STATUS: readonly IccStatus[] = ['present-active', 'present-inactive', 'absent'];
const COMMAND_STATUS: readonly CommandStatus[] = ['ok', 'failed', 'time-extension'];

/**
 * Decodes a bStatus byte. [CCID §7.2]
 * @throws ProtocolError `PROTO_ERR_CCID_STATUS` when bits 5–2 are set or either field uses its reserved value 3.
 */
export function decodeStatus(bStatus: number): CcidStatus {
  const icc = ICC_STATUS[bStatus & 0x03];
  const cmd = COMMAND_STATUS[(bStatus >> 6) & 0x03];
  if ((bStatus & 0x3c) !== 0) throw new ProtocolError('PROTO_ERR_CCID_STATUS', 'bits 5-2 of bStatus are RFU', { field: 'bStatus', value: bStatus });
  if (icc === undefined) throw new ProtocolError('PROTO_ERR_CCID_STATUS', 'bmICCStatus 3 is RFU', { field: 'bmICCStatus', value: bStatus });
  if (cmd === undefined) throw new ProtocolError('PROTO_ERR_CCID_STATUS', 'bmCommandStatus 3 is RFU', { field: 'bmCommandStatus', value: bStatus });
  return { iccStatus: icc, commandStatus: cmd };
}

/** Encodes a {@link CcidStatus} into the bStatus byte. [CCID §7.2] */
export function encodeStatus(status: CcidStatus): number {
  return ICC_STATUS.indexOf(status.iccStatus) | (COMMAND_STATUS.indexOf(status.commandStatus) << 6);
}

/** Named bError values of a failed command. [CCID §7.2] */
export const CCID_SLOT_ERRORS = {
  0xff: 'CMD_ABORTED',
  0xfe: 'ICC_MUTE',
  0xfd: 'XFR_PARITY_ERROR',
  0xfc: 'XFR_OVERRUN',
  0xfb: 'HW_ERROR',
  0xf8: 'BAD_ATR_TS',
  0xf7: 'BAD_ATR_TCK',
  0xf6: 'ICC_PROTOCOL_NOT_SUPPORTED',
  0xf5: 'ICC_CLASS_NOT_SUPPORTED',
  0xf4: 'PROCEDURE_BYTE_CONFLICT',
  0xf3: 'DEACTIVATED_PROTOCOL',
  0xf2: 'BUSY_WITH_AUTO_SEQUENCE',
  0xf0: 'PIN_TIMEOUT',
  0xef: 'PIN_CANCELLED',
  0xe0: 'CMD_SLOT_BUSY',
  0xbb: 'EMV_PROTOCOL_ERROR',
  0x00: 'CMD_NOT_SUPPORTED',
} as const;

export type CcidSlotErrorName = (typeof CCID_SLOT_ERRORS)[keyof typeof CCID_SLOT_ERRORS] | 'BAD_HEADER_FIELD' | 'UNKNOWN';

/** A failed command's bError, named; `headerOffset` for `01`–`7F` (index of the offending header field). */
export interface CcidSlotError {
  readonly bError: number;
  readonly name: CcidSlotErrorName;
  readonly headerOffset?: number;
}

/** Names a bError of a failed command (bmCommandStatus = `40`). [CCID §7.2] */
export function describeSlotError(bError: number): CcidSlotError {
  const name = (CCID_SLOT_ERRORS as Readonly<Record<number, CcidSlotErrorName>>)[bError];
  if (name !== undefined) return { bError, name };
  if (bError >= 0x01 && bError <= 0x7f) return { bError, name: 'BAD_HEADER_FIELD', headerOffset: bError };
  return { bError, name: 'UNKNOWN' };
}

// ---------------------------------------------------------------------------------------------
// Protocol data structures [CCID §7.3]

/** abProtocolDataStructure for T=0 (5 bytes). [CCID §7.3] */
export interface T0Parameters {
  readonly protocol: 0;
  readonly bmFindexDindex: number;
  /** `00` direct or `02` inverse convention. */
  readonly bmTCCKST0: number;
  readonly bGuardTimeT0: number;
  readonly bWaitingIntegerT0: number;
  readonly bClockStop: number;
}

/** abProtocolDataStructure for T=1 (7 bytes). [CCID §7.3] */
export interface T1Parameters {
  readonly protocol: 1;
  readonly bmFindexDindex: number;
  /** `10`, plus bit 0 = CRC, bit 1 = inverse convention. */
  readonly bmTCCKST1: number;
  readonly bGuardTimeT1: number;
  /** BWI << 4 | CWI. */
  readonly bmWaitingIntegersT1: number;
  readonly bClockStop: number;
  readonly bIFSC: number;
  readonly bNadValue: number;
}

export type ProtocolParameters = T0Parameters | T1Parameters;

/** Driver defaults `11 00 00 0A 00`. [CCID §7.3] */
export const T0_DEFAULT_PARAMETERS: T0Parameters = Object.freeze({
  protocol: 0, bmFindexDindex: 0x11, bmTCCKST0: 0x00, bGuardTimeT0: 0x00, bWaitingIntegerT0: 0x0a, bClockStop: 0x00,
});

/** Driver defaults `11 10 00 4D 00 20 00`. [CCID §7.3] */
export const T1_DEFAULT_PARAMETERS: T1Parameters = Object.freeze({
  protocol: 1, bmFindexDindex: 0x11, bmTCCKST1: 0x10, bGuardTimeT1: 0x00, bmWaitingIntegersT1: 0x4d, bClockStop: 0x00, bIFSC: 0x20, bNadValue: 0x00,
});

/** Length of the protocol data structure for T=0 / T=1. [CCID §7.3] */
export const PROTOCOL_DATA_LENGTH = { 0: 5, 1: 7 } as const;

function paramError(detail: string, field: string, value: number): ProtocolError {
  return new ProtocolError('PROTO_ERR_CCID_PARAMETERS', detail, { field, value });
}

/**
 * Encodes a protocol data structure (5 bytes for T=0, 7 for T=1). [CCID §7.3]
 * @throws ProtocolError `PROTO_ERR_CCID_PARAMETERS` on an invalid value, `PROTO_ERR_CCID_FIELD` on a non-byte.
 */
export function encodeProtocolParameters(p: ProtocolParameters): Uint8Array {
  validateParameters(p);
  if (p.protocol === 0) return Uint8Array.of(p.bmFindexDindex, p.bmTCCKST0, p.bGuardTimeT0, p.bWaitingIntegerT0, p.bClockStop);
  return Uint8Array.of(p.bmFindexDindex, p.bmTCCKST1, p.bGuardTimeT1, p.bmWaitingIntegersT1, p.bClockStop, p.bIFSC, p.bNadValue);
}

/**
 * Decodes a protocol data structure for `bProtocolNum`. [CCID §7.3]
 * @throws ProtocolError `PROTO_ERR_CCID_PARAMETERS` on a wrong length, unknown protocol or invalid value.
 */
export function decodeProtocolParameters(bProtocolNum: number, data: Uint8Array): ProtocolParameters {
  let p: ProtocolParameters;
  if (bProtocolNum === 0) {
    if (data.length !== 5) throw paramError('T=0 data is 5 bytes', 'abProtocolDataStructure', data.length);
    p = { protocol: 0, bmFindexDindex: data[0]!, bmTCCKST0: data[1]!, bGuardTimeT0: data[2]!, bWaitingIntegerT0: data[3]!, bClockStop: data[4]! };
  } else if (bProtocolNum === 1) {
    if (data.length !== 7) throw paramError('T=1 data is 7 bytes', 'abProtocolDataStructure', data.length);
    p = {
      protocol: 1, bmFindexDindex: data[0]!, bmTCCKST1: data[1]!, bGuardTimeT1: data[2]!, bmWaitingIntegersT1: data[3]!,
      bClockStop: data[4]!, bIFSC: data[5]!, bNadValue: data[6]!,
    };
  } else {
    throw paramError('bProtocolNum must be 0 (T=0) or 1 (T=1)', 'bProtocolNum', bProtocolNum);
  }
  validateParameters(p);
  return p;
}

function validateParameters(p: ProtocolParameters): void {
  const bytes = p.protocol === 0
    ? { bmFindexDindex: p.bmFindexDindex, bmTCCKST0: p.bmTCCKST0, bGuardTimeT0: p.bGuardTimeT0, bWaitingIntegerT0: p.bWaitingIntegerT0, bClockStop: p.bClockStop }
    : { bmFindexDindex: p.bmFindexDindex, bmTCCKST1: p.bmTCCKST1, bGuardTimeT1: p.bGuardTimeT1, bmWaitingIntegersT1: p.bmWaitingIntegersT1, bClockStop: p.bClockStop, bIFSC: p.bIFSC, bNadValue: p.bNadValue };
  for (const [k, v] of Object.entries(bytes)) checkByte(v, k);
  // [CCID §7.3] T=0: bmTCCKST0 only carries the convention bit (bit 1).
  if (p.protocol === 0 && (p.bmTCCKST0 & ~0x02) !== 0) throw paramError('bmTCCKST0 must be 00 or 02', 'bmTCCKST0', p.bmTCCKST0);
  // [CCID §7.3] T=1: bmTCCKST1 is 10 plus bit 0 (CRC) and bit 1 (inverse convention).
  if (p.protocol === 1 && (p.bmTCCKST1 & ~0x03) !== 0x10) throw paramError('bmTCCKST1 must be 10..13', 'bmTCCKST1', p.bmTCCKST1);
  // [CCID §7.3] bClockStop: 00 not allowed, 01 low, 02 high, 03 either.
  if (p.bClockStop > 3) throw paramError('bClockStop must be 00..03', 'bClockStop', p.bClockStop);
  // [7816-3 §11.4.2] IFSC 00 and FF are reserved.
  if (p.protocol === 1 && (p.bIFSC === 0 || p.bIFSC === 0xff)) throw paramError('bIFSC must be 01..FE', 'bIFSC', p.bIFSC);
}

// ---------------------------------------------------------------------------------------------
// XfrBlock chaining [CCID §7.4] and dwFeatures [CCID §7.5]

/** wLevelParameter / bChainParameter values for extended-APDU readers. [CCID §7.4] */
export const CHAIN_PARAMETER = {
  BEGIN_AND_END: 0x00,
  BEGIN: 0x01,
  END: 0x02,
  CONTINUE: 0x03,
  EMPTY_NEXT: 0x10,
} as const;

/** True when a DataBlock's bChainParameter asks the host for the next part (`01`, `03`, `10`). [CCID §7.4] */
export function needsNextBlock(bChainParameter: number): boolean {
  return bChainParameter === 0x01 || bChainParameter === 0x03 || bChainParameter === 0x10;
}

/** `dwFeatures` bits. [CCID §7.5] */
export const CCID_FEATURES = {
  AUTO_CONF_ATR: 0x00000002,
  AUTO_ACTIVATION: 0x00000004,
  AUTO_VOLTAGE: 0x00000008,
  AUTO_CLOCK: 0x00000010,
  AUTO_BAUD: 0x00000020,
  AUTO_PPS_PROP: 0x00000040,
  AUTO_PPS_CUR: 0x00000080,
  CLOCK_STOP: 0x00000100,
  NAD_OTHER_THAN_00: 0x00000200,
  AUTO_IFSD: 0x00000400,
  EXCHANGE_MASK: 0x00070000,
  EXCHANGE_CHARACTER: 0x00000000,
  EXCHANGE_TPDU: 0x00010000,
  EXCHANGE_SHORT_APDU: 0x00020000,
  EXCHANGE_EXTENDED_APDU: 0x00040000,
} as const;

export type ExchangeLevel = 'character' | 'tpdu' | 'short-apdu' | 'extended-apdu' | 'unknown';

/** The exchange level of `dwFeatures` (mask `00070000`). [CCID §7.5] */
export function exchangeLevel(dwFeatures: number): ExchangeLevel {
  switch (dwFeatures & CCID_FEATURES.EXCHANGE_MASK) {
    case CCID_FEATURES.EXCHANGE_CHARACTER: return 'character';
    case CCID_FEATURES.EXCHANGE_TPDU: return 'tpdu';
    case CCID_FEATURES.EXCHANGE_SHORT_APDU: return 'short-apdu';
    case CCID_FEATURES.EXCHANGE_EXTENDED_APDU: return 'extended-apdu';
    default: return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// Message objects

interface Addressed {
  readonly bSlot: number;
  readonly bSeq: number;
}

export type CcidCommand =
  | (Addressed & { readonly type: 'PC_to_RDR_IccPowerOn'; readonly bPowerSelect: number })
  | (Addressed & { readonly type: 'PC_to_RDR_IccPowerOff' })
  | (Addressed & { readonly type: 'PC_to_RDR_GetSlotStatus' })
  | (Addressed & { readonly type: 'PC_to_RDR_XfrBlock'; readonly bBWI: number; readonly wLevelParameter: number; readonly abData: Uint8Array })
  | (Addressed & { readonly type: 'PC_to_RDR_GetParameters' })
  | (Addressed & { readonly type: 'PC_to_RDR_ResetParameters' })
  | (Addressed & { readonly type: 'PC_to_RDR_SetParameters'; readonly parameters: ProtocolParameters })
  | (Addressed & { readonly type: 'PC_to_RDR_Escape'; readonly abData: Uint8Array })
  | (Addressed & { readonly type: 'PC_to_RDR_IccClock'; readonly bClockCommand: number })
  | (Addressed & { readonly type: 'PC_to_RDR_T0APDU'; readonly bmChanges: number; readonly bClassGetResponse: number; readonly bClassEnvelope: number })
  | (Addressed & { readonly type: 'PC_to_RDR_Secure'; readonly bBWI: number; readonly wLevelParameter: number; readonly abData: Uint8Array })
  | (Addressed & { readonly type: 'PC_to_RDR_Mechanical'; readonly bFunction: number })
  | (Addressed & { readonly type: 'PC_to_RDR_Abort' })
  | (Addressed & { readonly type: 'PC_to_RDR_SetDataRateAndClockFrequency'; readonly dwClockFrequency: number; readonly dwDataRate: number });

interface Answered extends Addressed {
  readonly bStatus: CcidStatus;
  /** Error code when failed, time-extension multiplier when `time-extension`, else normally 0. */
  readonly bError: number;
}

export type CcidResponse =
  | (Answered & { readonly type: 'RDR_to_PC_DataBlock'; readonly bChainParameter: number; readonly abData: Uint8Array })
  | (Answered & { readonly type: 'RDR_to_PC_SlotStatus'; readonly bClockStatus: number })
  /** `parameters` is null when the reader sent no data (dwLength 0, e.g. on failure). */
  | (Answered & { readonly type: 'RDR_to_PC_Parameters'; readonly bProtocolNum: number; readonly parameters: ProtocolParameters | null })
  | (Answered & { readonly type: 'RDR_to_PC_Escape'; readonly abData: Uint8Array })
  /** `rates` is null when the reader sent no data (dwLength 0). */
  | (Answered & { readonly type: 'RDR_to_PC_DataRateAndClockFrequency'; readonly rates: { readonly dwClockFrequency: number; readonly dwDataRate: number } | null });

export type CcidMessage = CcidCommand | CcidResponse;

/** Distributes over a union: the member whose `type` is `T`. */
export type CcidMessageOf<T extends CcidMessage['type']> = Extract<CcidMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Encoding

function checkByte(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new ProtocolError('PROTO_ERR_CCID_FIELD', `${field} must be a byte`, { field, value: v });
}
function checkRange(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new ProtocolError('PROTO_ERR_CCID_FIELD', `${field} out of range 0..${max}`, { field, value: v });
}

function frame(type: number, m: Addressed, b7: number, b8: number, b9: number, data: Uint8Array): Uint8Array {
  checkByte(m.bSlot, 'bSlot');
  checkByte(m.bSeq, 'bSeq');
  const out = new Uint8Array(CCID_HEADER_LENGTH + data.length);
  const dv = new DataView(out.buffer);
  out[0] = type;
  dv.setUint32(1, data.length, true); // [CCID §7.2] dwLength little-endian
  out[5] = m.bSlot;
  out[6] = m.bSeq;
  out[7] = b7;
  out[8] = b8;
  out[9] = b9;
  out.set(data, CCID_HEADER_LENGTH);
  return out;
}

function u32le(a: number, b: number, field: [string, string]): Uint8Array {
  checkRange(a, 0xffffffff, field[0]);
  checkRange(b, 0xffffffff, field[1]);
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, a, true);
  dv.setUint32(4, b, true);
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * Encodes any CCID bulk message into its 10-byte header plus data. [CCID §7.1, §7.2]
 * @throws ProtocolError `PROTO_ERR_CCID_FIELD` (value out of range), `PROTO_ERR_CCID_PARAMETERS`
 *   (invalid protocol data), `PROTO_ERR_CCID_MESSAGE_TYPE` (unknown `type`).
 */
export function encodeCcidMessage(m: CcidMessage): Uint8Array {
  switch (m.type) {
    case 'PC_to_RDR_IccPowerOn':
      checkRange(m.bPowerSelect, 3, 'bPowerSelect');
      return frame(PC_TO_RDR[m.type], m, m.bPowerSelect, 0, 0, EMPTY);
    case 'PC_to_RDR_IccPowerOff':
    case 'PC_to_RDR_GetSlotStatus':
    case 'PC_to_RDR_GetParameters':
    case 'PC_to_RDR_ResetParameters':
    case 'PC_to_RDR_Abort':
      return frame(PC_TO_RDR[m.type], m, 0, 0, 0, EMPTY);
    case 'PC_to_RDR_XfrBlock':
    case 'PC_to_RDR_Secure':
      checkByte(m.bBWI, 'bBWI');
      checkRange(m.wLevelParameter, 0xffff, 'wLevelParameter');
      return frame(PC_TO_RDR[m.type], m, m.bBWI, m.wLevelParameter & 0xff, m.wLevelParameter >> 8, m.abData);
    case 'PC_to_RDR_SetParameters':
      return frame(PC_TO_RDR[m.type], m, m.parameters.protocol, 0, 0, encodeProtocolParameters(m.parameters));
    case 'PC_to_RDR_Escape':
      return frame(PC_TO_RDR[m.type], m, 0, 0, 0, m.abData);
    case 'PC_to_RDR_IccClock':
      checkRange(m.bClockCommand, 1, 'bClockCommand');
      return frame(PC_TO_RDR[m.type], m, m.bClockCommand, 0, 0, EMPTY);
    case 'PC_to_RDR_T0APDU':
      checkByte(m.bmChanges, 'bmChanges');
      checkByte(m.bClassGetResponse, 'bClassGetResponse');
      checkByte(m.bClassEnvelope, 'bClassEnvelope');
      return frame(PC_TO_RDR[m.type], m, m.bmChanges, m.bClassGetResponse, m.bClassEnvelope, EMPTY);
    case 'PC_to_RDR_Mechanical':
      if (!Number.isInteger(m.bFunction) || m.bFunction < 1 || m.bFunction > 5) {
        throw new ProtocolError('PROTO_ERR_CCID_FIELD', 'bFunction must be 01..05', { field: 'bFunction', value: m.bFunction });
      }
      return frame(PC_TO_RDR[m.type], m, m.bFunction, 0, 0, EMPTY);
    case 'PC_to_RDR_SetDataRateAndClockFrequency':
      return frame(PC_TO_RDR[m.type], m, 0, 0, 0, u32le(m.dwClockFrequency, m.dwDataRate, ['dwClockFrequency', 'dwDataRate']));
    case 'RDR_to_PC_DataBlock':
      checkByte(m.bChainParameter, 'bChainParameter');
      return response(m, m.bChainParameter, m.abData);
    case 'RDR_to_PC_SlotStatus':
      checkRange(m.bClockStatus, 3, 'bClockStatus');
      return response(m, m.bClockStatus, EMPTY);
    case 'RDR_to_PC_Parameters': {
      checkByte(m.bProtocolNum, 'bProtocolNum');
      if (m.parameters !== null && m.parameters.protocol !== m.bProtocolNum) {
        throw new ProtocolError('PROTO_ERR_CCID_PARAMETERS', 'parameters.protocol differs from bProtocolNum', { field: 'bProtocolNum', value: m.bProtocolNum });
      }
      return response(m, m.bProtocolNum, m.parameters === null ? EMPTY : encodeProtocolParameters(m.parameters));
    }
    case 'RDR_to_PC_Escape':
      return response(m, 0, m.abData);
    case 'RDR_to_PC_DataRateAndClockFrequency':
      return response(m, 0, m.rates === null ? EMPTY : u32le(m.rates.dwClockFrequency, m.rates.dwDataRate, ['dwClockFrequency', 'dwDataRate']));
    default: {
      const never: never = m;
      throw new ProtocolError('PROTO_ERR_CCID_MESSAGE_TYPE', 'unknown message type', { field: 'type', value: String((never as { type: unknown }).type) });
    }
  }
}

function response(m: CcidResponse, b9: number, data: Uint8Array): Uint8Array {
  const st = m.bStatus;
  if (!ICC_STATUS.includes(st.iccStatus) || !COMMAND_STATUS.includes(st.commandStatus)) {
    throw new ProtocolError('PROTO_ERR_CCID_FIELD', 'bStatus has an unknown iccStatus or commandStatus', { field: 'bStatus' });
  }
  checkByte(m.bError, 'bError');
  return frame(RDR_TO_PC[m.type], m, encodeStatus(st), m.bError, b9, data);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Decoder options. */
export interface CcidDecodeOptions {
  /** Reject non-zero RFU header bytes (default true). When false they are ignored, so a round trip may differ. */
  readonly strictRfu?: boolean;
}

const COMMAND_BY_CODE = new Map<number, CcidCommandType>(Object.entries(PC_TO_RDR).map(([k, v]) => [v, k as CcidCommandType]));
const RESPONSE_BY_CODE = new Map<number, CcidResponseType>(Object.entries(RDR_TO_PC).map(([k, v]) => [v, k as CcidResponseType]));

/**
 * Total length (header + dwLength) of the CCID message that starts `bytes`, or null when fewer
 * than 5 bytes are available ("need more bytes"). [CCID §7.2]
 */
export function peekCcidMessageLength(bytes: Uint8Array): number | null {
  if (bytes.length < 5) return null;
  return CCID_HEADER_LENGTH + new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1, true);
}

/**
 * Decodes exactly one CCID bulk message (either direction; the bMessageType ranges are disjoint). [CCID §7.1, §7.2]
 * @throws ProtocolError `PROTO_ERR_CCID_TRUNCATED`, `PROTO_ERR_CCID_TRAILING`, `PROTO_ERR_CCID_MESSAGE_TYPE`,
 *   `PROTO_ERR_CCID_LENGTH`, `PROTO_ERR_CCID_RFU`, `PROTO_ERR_CCID_STATUS`, `PROTO_ERR_CCID_FIELD`,
 *   `PROTO_ERR_CCID_PARAMETERS`.
 */
export function decodeCcidMessage(bytes: Uint8Array, opts: CcidDecodeOptions = {}): CcidMessage {
  if (bytes.length < CCID_HEADER_LENGTH) {
    throw new ProtocolError('PROTO_ERR_CCID_TRUNCATED', 'shorter than the 10-byte header', { field: 'header', length: bytes.length });
  }
  const total = peekCcidMessageLength(bytes)!;
  if (bytes.length < total) throw new ProtocolError('PROTO_ERR_CCID_TRUNCATED', 'fewer data bytes than dwLength', { field: 'abData', expected: total, length: bytes.length });
  if (bytes.length > total) throw new ProtocolError('PROTO_ERR_CCID_TRAILING', 'more bytes than dwLength', { field: 'dwLength', expected: total, length: bytes.length });
  const code = bytes[0]!;
  const cmd = COMMAND_BY_CODE.get(code);
  if (cmd !== undefined) return decodeCommand(cmd, bytes, opts.strictRfu ?? true);
  const rsp = RESPONSE_BY_CODE.get(code);
  if (rsp !== undefined) return decodeResponse(rsp, bytes, opts.strictRfu ?? true);
  throw new ProtocolError('PROTO_ERR_CCID_MESSAGE_TYPE', `unknown bMessageType ${code.toString(16).padStart(2, '0')}`, { field: 'bMessageType', offset: 0, value: code });
}

/**
 * Decodes one host → reader message.
 * @throws ProtocolError as {@link decodeCcidMessage}; `PROTO_ERR_CCID_MESSAGE_TYPE` for a response.
 */
export function decodeCcidCommand(bytes: Uint8Array, opts: CcidDecodeOptions = {}): CcidCommand {
  const m = decodeCcidMessage(bytes, opts);
  if (!isCommand(m)) throw new ProtocolError('PROTO_ERR_CCID_MESSAGE_TYPE', 'a response where a command was expected', { field: 'bMessageType', offset: 0, value: bytes[0] });
  return m;
}

/**
 * Decodes one reader → host message.
 * @throws ProtocolError as {@link decodeCcidMessage}; `PROTO_ERR_CCID_MESSAGE_TYPE` for a command.
 */
export function decodeCcidResponse(bytes: Uint8Array, opts: CcidDecodeOptions = {}): CcidResponse {
  const m = decodeCcidMessage(bytes, opts);
  if (isCommand(m)) throw new ProtocolError('PROTO_ERR_CCID_MESSAGE_TYPE', 'a command where a response was expected', { field: 'bMessageType', offset: 0, value: bytes[0] });
  return m;
}

/** True for a PC_to_RDR message. */
export function isCommand(m: CcidMessage): m is CcidCommand {
  return m.type.startsWith('PC_to_RDR_');
}

/**
 * True when a response carries bmCommandStatus `80` (time extension): the host reads again with the
 * timeout multiplied by bError. A normal decoded message, not an error. [CCID §7.2, §5]
 */
export function isTimeExtension(m: CcidMessage): m is CcidResponse {
  return !isCommand(m) && m.bStatus.commandStatus === 'time-extension';
}

/** The read timeout after a time-extension response: multiplied by bError when bError > 0. [CCID §5] */
export function extendedTimeout(currentMs: number, m: CcidResponse): number {
  return m.bStatus.commandStatus === 'time-extension' && m.bError > 0 ? currentMs * m.bError : currentMs;
}

function noData(b: Uint8Array, type: string): void {
  if (b.length !== CCID_HEADER_LENGTH) {
    throw new ProtocolError('PROTO_ERR_CCID_LENGTH', `${type} carries no data`, { field: 'dwLength', offset: 1, value: b.length - CCID_HEADER_LENGTH });
  }
}

function rfu(b: Uint8Array, offsets: readonly number[], strict: boolean): void {
  if (!strict) return;
  for (const o of offsets) {
    if (b[o] !== 0) throw new ProtocolError('PROTO_ERR_CCID_RFU', `byte ${o} is RFU`, { field: `header[${o}]`, offset: o, value: b[o] });
  }
}

function rangeAt(b: Uint8Array, o: number, min: number, max: number, field: string): number {
  const v = b[o]!;
  if (v < min || v > max) throw new ProtocolError('PROTO_ERR_CCID_FIELD', `${field} out of range`, { field, offset: o, value: v });
  return v;
}

function decodeCommand(type: CcidCommandType, b: Uint8Array, strict: boolean): CcidCommand {
  const a = { bSlot: b[5]!, bSeq: b[6]! };
  const data = b.slice(CCID_HEADER_LENGTH);
  switch (type) {
    case 'PC_to_RDR_IccPowerOn':
      noData(b, type);
      rfu(b, [8, 9], strict);
      return { type, ...a, bPowerSelect: rangeAt(b, 7, 0, 3, 'bPowerSelect') };
    case 'PC_to_RDR_IccPowerOff':
    case 'PC_to_RDR_GetSlotStatus':
    case 'PC_to_RDR_GetParameters':
    case 'PC_to_RDR_ResetParameters':
    case 'PC_to_RDR_Abort':
      noData(b, type);
      rfu(b, [7, 8, 9], strict);
      return { type, ...a };
    case 'PC_to_RDR_XfrBlock':
    case 'PC_to_RDR_Secure':
      return { type, ...a, bBWI: b[7]!, wLevelParameter: b[8]! | (b[9]! << 8), abData: data };
    case 'PC_to_RDR_SetParameters': {
      rfu(b, [8, 9], strict);
      const num = b[7]!;
      if (num !== 0 && num !== 1) throw new ProtocolError('PROTO_ERR_CCID_PARAMETERS', 'bProtocolNum must be 00 or 01', { field: 'bProtocolNum', offset: 7, value: num });
      if (data.length !== PROTOCOL_DATA_LENGTH[num]) {
        throw new ProtocolError('PROTO_ERR_CCID_LENGTH', `T=${num} protocol data is ${PROTOCOL_DATA_LENGTH[num]} bytes`, { field: 'dwLength', offset: 1, value: data.length });
      }
      return { type, ...a, parameters: decodeProtocolParameters(num, data) };
    }
    case 'PC_to_RDR_Escape':
      rfu(b, [7, 8, 9], strict);
      return { type, ...a, abData: data };
    case 'PC_to_RDR_IccClock':
      noData(b, type);
      rfu(b, [8, 9], strict);
      return { type, ...a, bClockCommand: rangeAt(b, 7, 0, 1, 'bClockCommand') };
    case 'PC_to_RDR_T0APDU':
      noData(b, type);
      return { type, ...a, bmChanges: b[7]!, bClassGetResponse: b[8]!, bClassEnvelope: b[9]! };
    case 'PC_to_RDR_Mechanical':
      noData(b, type);
      rfu(b, [8, 9], strict);
      return { type, ...a, bFunction: rangeAt(b, 7, 1, 5, 'bFunction') };
    case 'PC_to_RDR_SetDataRateAndClockFrequency': {
      rfu(b, [7, 8, 9], strict);
      if (data.length !== 8) throw new ProtocolError('PROTO_ERR_CCID_LENGTH', 'data is dwClockFrequency and dwDataRate (8 bytes)', { field: 'dwLength', offset: 1, value: data.length });
      const dv = new DataView(data.buffer, data.byteOffset, 8);
      return { type, ...a, dwClockFrequency: dv.getUint32(0, true), dwDataRate: dv.getUint32(4, true) };
    }
  }
}

function decodeResponse(type: CcidResponseType, b: Uint8Array, strict: boolean): CcidResponse {
  const a = { bSlot: b[5]!, bSeq: b[6]!, bStatus: decodeStatus(b[7]!), bError: b[8]! };
  const data = b.slice(CCID_HEADER_LENGTH);
  switch (type) {
    case 'RDR_to_PC_DataBlock':
      return { type, ...a, bChainParameter: b[9]!, abData: data };
    case 'RDR_to_PC_SlotStatus':
      noData(b, type);
      return { type, ...a, bClockStatus: rangeAt(b, 9, 0, 3, 'bClockStatus') };
    case 'RDR_to_PC_Parameters': {
      const num = b[9]!;
      if (data.length === 0) return { type, ...a, bProtocolNum: num, parameters: null };
      return { type, ...a, bProtocolNum: num, parameters: decodeProtocolParameters(num, data) };
    }
    case 'RDR_to_PC_Escape':
      rfu(b, [9], strict);
      return { type, ...a, abData: data };
    case 'RDR_to_PC_DataRateAndClockFrequency': {
      rfu(b, [9], strict);
      if (data.length === 0) return { type, ...a, rates: null };
      if (data.length !== 8) throw new ProtocolError('PROTO_ERR_CCID_LENGTH', 'data is dwClockFrequency and dwDataRate (8 bytes)', { field: 'dwLength', offset: 1, value: data.length });
      const dv = new DataView(data.buffer, data.byteOffset, 8);
      return { type, ...a, rates: { dwClockFrequency: dv.getUint32(0, true), dwDataRate: dv.getUint32(4, true) } };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Interrupt messages [CCID §7.1]

/** One slot of bmSlotICCState: bit 0 present, bit 1 changed. [CCID §7.1] */
export interface SlotChange {
  readonly present: boolean;
  readonly changed: boolean;
}

export type CcidInterrupt =
  /** `slots` has 4 entries per bmSlotICCState byte (slot 0 in bits 1–0 of the first byte). */
  | { readonly type: 'RDR_to_PC_NotifySlotChange'; readonly slots: readonly SlotChange[] }
  | { readonly type: 'RDR_to_PC_HardwareError'; readonly bSlot: number; readonly bSeq: number; readonly bHardwareErrorCode: number };

/**
 * Decodes one interrupt IN message. [CCID §7.1]
 * @throws ProtocolError `PROTO_ERR_CCID_INTERRUPT` (empty, unknown type, wrong length), `PROTO_ERR_CCID_MESSAGE_TYPE`.
 */
export function decodeCcidInterrupt(bytes: Uint8Array): CcidInterrupt {
  if (bytes.length === 0) throw new ProtocolError('PROTO_ERR_CCID_INTERRUPT', 'empty interrupt message', { field: 'bMessageType' });
  const code = bytes[0]!;
  if (code === RDR_TO_PC_INTERRUPT.RDR_to_PC_NotifySlotChange) {
    if (bytes.length < 2) throw new ProtocolError('PROTO_ERR_CCID_INTERRUPT', 'NotifySlotChange needs bmSlotICCState', { field: 'bmSlotICCState', offset: 1 });
    const slots: SlotChange[] = [];
    for (let i = 1; i < bytes.length; i++) {
      for (let s = 0; s < 4; s++) {
        const bits = (bytes[i]! >> (2 * s)) & 3;
        slots.push({ present: (bits & 1) !== 0, changed: (bits & 2) !== 0 });
      }
    }
    return { type: 'RDR_to_PC_NotifySlotChange', slots };
  }
  if (code === RDR_TO_PC_INTERRUPT.RDR_to_PC_HardwareError) {
    if (bytes.length !== 4) throw new ProtocolError('PROTO_ERR_CCID_INTERRUPT', 'HardwareError is 4 bytes', { field: 'length', value: bytes.length });
    return { type: 'RDR_to_PC_HardwareError', bSlot: bytes[1]!, bSeq: bytes[2]!, bHardwareErrorCode: bytes[3]! };
  }
  throw new ProtocolError('PROTO_ERR_CCID_MESSAGE_TYPE', 'not an interrupt message', { field: 'bMessageType', offset: 0, value: code });
}

/**
 * Encodes an interrupt IN message; NotifySlotChange is padded to whole bytes (4 slots per byte). [CCID §7.1]
 * @throws ProtocolError `PROTO_ERR_CCID_INTERRUPT` (no slots), `PROTO_ERR_CCID_FIELD` (non-byte field).
 */
export function encodeCcidInterrupt(m: CcidInterrupt): Uint8Array {
  if (m.type === 'RDR_to_PC_NotifySlotChange') {
    if (m.slots.length === 0) throw new ProtocolError('PROTO_ERR_CCID_INTERRUPT', 'at least one slot', { field: 'slots' });
    const out = new Uint8Array(1 + Math.ceil(m.slots.length / 4));
    out[0] = RDR_TO_PC_INTERRUPT.RDR_to_PC_NotifySlotChange;
    m.slots.forEach((s, i) => {
      out[1 + (i >> 2)]! |= ((s.present ? 1 : 0) | (s.changed ? 2 : 0)) << (2 * (i & 3));
    });
    return out;
  }
  checkByte(m.bSlot, 'bSlot');
  checkByte(m.bSeq, 'bSeq');
  checkByte(m.bHardwareErrorCode, 'bHardwareErrorCode');
  return Uint8Array.of(RDR_TO_PC_INTERRUPT.RDR_to_PC_HardwareError, m.bSlot, m.bSeq, m.bHardwareErrorCode);
}
