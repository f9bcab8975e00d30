/**
 * Strings and error codes of the national unified reader interface (iReadCardBas family)
 * [SC-IF §1.1.2, app. A; national-interface §4, §6]: the 11-field `iReadCardBas` output, the
 * `pCardInfo` string, the interface error table and the mapping from card status words to
 * negative decimal codes. Strings are JavaScript text; the DLL boundary converts them to GBK.
 */
import { ProtocolError } from '../errors.ts';
import { isValidDate } from './bcd.ts';
import { parseCardIdHex } from './card-id.ts';
import { encodeGbk } from './gbk.ts';

/** The eleven fields of the `iReadCardBas` output, in order [SC-IF §1.1.2]. */
export interface ReadCardBasInfo {
  /** 1 发卡地区行政区划代码: first 6 digits of the card ID. */
  readonly regionCode: string;
  /** 2 社会保障号码 (18 characters on resident cards). */
  readonly ssn: string;
  /** 3 卡号, 9 characters. */
  readonly cardNumber: string;
  /** 4 卡识别码, 32 hex digits. */
  readonly cardId: string;
  /** 5 姓名 (`09` ‖ `4E`, padding removed). */
  readonly name: string;
  /** 6 卡复位信息: the ATR historical bytes, hex. */
  readonly resetInfo: string;
  /** 7 规范版本, e.g. `3.00` (empty on some 1.0 cards). */
  readonly specVersion: string;
  /** 8 发卡日期 `YYYYMMDD`. */
  readonly issueDate: string;
  /** 9 卡有效期 `YYYYMMDD`. */
  readonly expiryDate: string;
  /** 10 终端机编号, 12 digits; {@link NO_PSAM_TERMINAL_NUMBER} without a PSAM. */
  readonly terminalNumber: string;
  /** 11 终端设备号, vendor-defined, may be empty. */
  readonly deviceNumber: string;
}

/** Terminal number reported when there is no PSAM [ssc-card §9.3]. */
export const NO_PSAM_TERMINAL_NUMBER = '000000000000';

const FIELD_NAMES = ['regionCode', 'ssn', 'cardNumber', 'cardId', 'name', 'resetInfo', 'specVersion', 'issueDate', 'expiryDate', 'terminalNumber', 'deviceNumber'] as const;

function bad(field: string, detail: string): never {
  throw new ProtocolError('PROTO_ERR_SSC_NATIONAL_FIELD', detail, { field });
}

/** Field checks shared by build and parse. */
function checkInfo(info: ReadCardBasInfo): void {
  for (const f of FIELD_NAMES) {
    if (/[|\x00-\x1f]/.test(info[f])) bad(f, 'contains "|" or a control character');
  }
  if (!/^[0-9]{6}$/.test(info.regionCode)) bad('regionCode', 'expected 6 digits');
  if (!/^[\x21-\x7e]{1,18}$/.test(info.ssn)) bad('ssn', 'expected 1–18 printable characters');
  if (!/^[\x21-\x7e]{9}$/.test(info.cardNumber)) bad('cardNumber', 'expected 9 characters');
  try {
    const id = parseCardIdHex(info.cardId);
    if (id.regionCode !== info.regionCode) bad('regionCode', 'differs from the card ID');
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'PROTO_ERR_SSC_NATIONAL_FIELD') throw err;
    throw new ProtocolError('PROTO_ERR_SSC_NATIONAL_FIELD', 'card ID', { field: 'cardId' }, { cause: err });
  }
  if (!/^(?:[0-9A-F]{2}){0,15}$/.test(info.resetInfo)) bad('resetInfo', 'expected up to 15 bytes of upper-case hex');
  if (!/^[\x20-\x7e]{0,4}$/.test(info.specVersion)) bad('specVersion', 'expected up to 4 characters');
  if (info.issueDate !== '' && !isValidDate(info.issueDate)) bad('issueDate', 'expected YYYYMMDD');
  if (info.expiryDate !== '' && !isValidDate(info.expiryDate)) bad('expiryDate', 'expected YYYYMMDD');
  if (!/^[0-9]{12}$/.test(info.terminalNumber)) bad('terminalNumber', 'expected 12 digits');
}

/**
 * Builds the `iReadCardBas` output: the 11 fields, each followed by `|` [SC-IF §1.1.2].
 * @throws ProtocolError `PROTO_ERR_SSC_NATIONAL_FIELD` naming the first invalid field.
 */
export function buildReadCardBas(info: ReadCardBasInfo): string {
  checkInfo(info);
  return FIELD_NAMES.map((f) => `${info[f]}|`).join('');
}

/** Byte encodings of national-interface strings: `gbk` is the interface's own [SC-IF §1.1.2]. */
export const NATIONAL_ENCODINGS = ['gbk', 'utf8'] as const;
export type NationalEncoding = (typeof NATIONAL_ENCODINGS)[number];

/**
 * The bytes of a national-interface string as the DLL returns them: GBK by default, the name
 * (field 5) being GBK text [national-interface §4.1]; `utf8` for UTF-8 consumers.
 * @throws ProtocolError `PROTO_ERR_SSC_GBK_UNMAPPABLE` for a character outside GBK.
 */
export function encodeNationalString(text: string, encoding: NationalEncoding = 'gbk'): Uint8Array {
  return encoding === 'gbk' ? encodeGbk(text) : new TextEncoder().encode(text);
}

/**
 * Parses an `iReadCardBas` output string.
 * @throws ProtocolError `PROTO_ERR_SSC_NATIONAL_FORMAT` when it is not 11 `|`-terminated fields,
 * `PROTO_ERR_SSC_NATIONAL_FIELD` naming the first invalid field.
 */
export function parseReadCardBas(text: string): ReadCardBasInfo {
  if (!text.endsWith('|')) throw new ProtocolError('PROTO_ERR_SSC_NATIONAL_FORMAT', 'must end with "|"', { field: 'output' });
  const parts = text.slice(0, -1).split('|');
  if (parts.length !== FIELD_NAMES.length) {
    throw new ProtocolError('PROTO_ERR_SSC_NATIONAL_FORMAT', `expected ${FIELD_NAMES.length} fields`, { field: 'output', count: parts.length });
  }
  const info = Object.fromEntries(FIELD_NAMES.map((f, i) => [f, parts[i]!])) as unknown as ReadCardBasInfo;
  checkInfo(info);
  return info;
}

/** `pCardInfo`: card ID and card number [SC-IF]. */
export interface CardInfoString {
  readonly cardId: string;
  readonly cardNumber: string;
}

/**
 * Builds `pCardInfo` = `卡识别码|卡号|` (32 hex `|` 9 characters `|`).
 * @throws ProtocolError `PROTO_ERR_SSC_NATIONAL_FIELD` on a bad card ID or card number.
 */
export function buildCardInfo(info: CardInfoString): string {
  checkCardInfo(info);
  return `${info.cardId}|${info.cardNumber}|`;
}

/**
 * Parses `pCardInfo`.
 * @throws ProtocolError `PROTO_ERR_SSC_NATIONAL_FORMAT` when not two `|`-terminated fields,
 * `PROTO_ERR_SSC_NATIONAL_FIELD` on a bad value.
 */
export function parseCardInfo(text: string): CardInfoString {
  const m = /^([^|]*)\|([^|]*)\|$/.exec(text);
  if (m === null) throw new ProtocolError('PROTO_ERR_SSC_NATIONAL_FORMAT', 'expected "cardId|cardNumber|"', { field: 'pCardInfo' });
  const info = { cardId: m[1]!, cardNumber: m[2]! };
  checkCardInfo(info);
  return info;
}

function checkCardInfo(info: CardInfoString): void {
  if (!/^[0-9A-Fa-f]{32}$/.test(info.cardId)) bad('cardId', 'expected 32 hex digits');
  if (!/^[\x21-\x7b\x7d\x7e]{9}$/.test(info.cardNumber)) bad('cardNumber', 'expected 9 characters');
}

/** Interface (non-SW) error codes [SC-IF app. A]. */
export const NATIONAL_INTERFACE_ERRORS = {
  WRONG_CARD_TYPE: -1,
  NO_CARD: -2,
  NOT_POWERED: -3,
  NO_RESPONSE: -4,
  DLL_LOAD: -5,
  READER_CONNECT: -11,
  NOT_CONNECTED: -12,
  NOT_SUPPORTED: -13,
  BAD_PARAMETER: -14,
  CHECKSUM: -15,
  CARD_ID_FORMAT: -20,
  INTERNAL_AUTH_FAILED: -21,
  INPUT_MISMATCH: -22,
  ILLEGAL_INPUT: -23,
  PSAM_KEY_LEVEL: -24,
  HSM_INTERNAL_AUTH_MISMATCH: -25,
  PIN_CANCELLED: -31,
  PIN_TIMEOUT: -32,
  PIN_LENGTH: -33,
  PIN_ENTRIES_DIFFER: -34,
  INITIAL_PIN_NOT_ALLOWED: -35,
  CHANGE_TO_INITIAL_PIN: -36,
  ILLEGAL_CHARACTERS: -41,
  DATA_LENGTH: -42,
  PIN_WRONG: -51,
  PIN_LOCKED: -52,
  NO_PSAM: -2201,
  PSAM_NO_SSF33_SM4: -2202,
  PSAM_NO_RKSSSE: -2203,
  HSM_NOT_NEEDED: -2204,
} as const;
export type NationalInterfaceErrorName = keyof typeof NATIONAL_INTERFACE_ERRORS;

/** Meanings of the interface and SW-derived codes, as summarised in national-interface §6 [SC-IF app. A]. */
export const NATIONAL_ERROR_TEXTS: Readonly<Record<number, string>> = {
  [-1]: 'wrong card type', [-2]: 'no card', [-3]: 'card present but not powered', [-4]: 'card does not respond',
  [-5]: 'error loading a DLL', [-11]: 'reader connection error', [-12]: 'not connected',
  [-13]: 'command not supported', [-14]: 'bad parameter', [-15]: 'checksum error', [-20]: 'card-ID format error',
  [-21]: 'internal authentication failed (card not genuine)', [-22]: 'input does not match the card',
  [-23]: 'illegal input', [-24]: 'PSAM key level insufficient', [-25]: 'internal authentication differs from the HSM result',
  [-31]: 'PIN entry cancelled', [-32]: 'PIN entry timeout', [-33]: 'wrong PIN length', [-34]: 'the two PIN entries differ',
  [-35]: 'initial PIN may not be used for transactions', [-36]: 'may not change back to the initial PIN',
  [-41]: 'illegal characters in the data', [-42]: 'data length error', [-51]: 'PIN wrong', [-52]: 'PIN locked',
  [-2201]: 'no PSAM', [-2202]: 'PSAM lacks SSF33/SM4', [-2203]: 'PSAM lacks RKSSSE', [-2204]: 'HSM authentication not needed',
  [-25536]: 'external authentication failed, tries left', [-25537]: 'external authentication failed, tries left',
  [-25538]: 'external authentication failed, tries left', [-26368]: 'wrong Lc/Le', [-26369]: 'P1/P2 inconsistent with Lc',
  [-26370]: 'incorrect P1/P2', [-26371]: 'CLA error', [-26881]: 'command not accepted (invalid state)',
  [-27009]: 'command incompatible with file structure', [-27010]: 'security status not satisfied',
  [-27011]: 'key / authentication method locked', [-27012]: 'reference data / random invalid',
  [-27013]: 'conditions of use not satisfied', [-27016]: 'SM data item or MAC incorrect', [-27264]: 'incorrect data field',
  [-27265]: 'function not supported, card or application locked', [-27266]: 'file not found', [-27267]: 'record not found',
  [-27272]: 'referenced data or key not found', [-37634]: 'MAC invalid', [-37635]: 'application permanently locked',
  [-37891]: 'key index not supported', [-37894]: 'required MAC/TAC not available',
};

/**
 * SWs whose code in the public table does not follow the −SW rule [CODE SSCARD; national-interface
 * §6.2]: `6A86` → −26370, `6E00` → −26371, and [INFER] `6A87` (Lc inconsistent with P1–P2) → −26369.
 */
const SW_EXCEPTIONS: ReadonlyMap<number, number> = new Map([
  [0x6a86, -26370],
  [0x6e00, -26371],
  [0x6a87, -26369],
]);

/** Where the SW came from: during PIN verification/change `63Cx` and `6983` become −51/−52. */
export interface NationalErrorContext {
  readonly pin?: boolean;
}

/** A national-interface error code with its text and, for −51, the tries left. */
export interface NationalError {
  readonly code: number;
  readonly text: string;
  readonly triesLeft?: number;
}

/**
 * Maps a card status word or an interface error name to the national error code
 * [SC-IF app. A; ONECARD compatibility rule, national-interface §6.2]:
 * `9000` → 0; PIN context: `63Cx` (x > 0) → −51, `63C0` / `6983` → −52; a listed exception → its
 * code; any other SW → −SW.
 * @throws ProtocolError `PROTO_ERR_SSC_PARAM` when a numeric SW is not 0000–FFFF.
 */
export function nationalError(source: number | NationalInterfaceErrorName, context: NationalErrorContext = {}): NationalError {
  if (typeof source === 'string') {
    const code = NATIONAL_INTERFACE_ERRORS[source];
    return { code, text: NATIONAL_ERROR_TEXTS[code] ?? source };
  }
  if (!Number.isInteger(source) || source < 0 || source > 0xffff) throw new ProtocolError('PROTO_ERR_SSC_PARAM', 'SW must be 0000–FFFF', { field: 'sw' });
  if (source === 0x9000) return { code: 0, text: 'success' };
  if (context.pin === true) {
    if (source === 0x6983 || source === 0x63c0) return { code: -52, text: NATIONAL_ERROR_TEXTS[-52]! };
    if ((source & 0xfff0) === 0x63c0) return { code: -51, text: NATIONAL_ERROR_TEXTS[-51]!, triesLeft: source & 0x0f };
  }
  const code = SW_EXCEPTIONS.get(source) ?? -source;
  return { code, text: NATIONAL_ERROR_TEXTS[code] ?? `card status word ${source.toString(16).toUpperCase().padStart(4, '0')}` };
}

/** The numeric code of {@link nationalError}. Throws as it. */
export function nationalErrorCode(source: number | NationalInterfaceErrorName, context: NationalErrorContext = {}): number {
  return nationalError(source, context).code;
}
