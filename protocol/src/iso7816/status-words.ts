/**
 * Status words as data: the ISO/IEC 7816-4 table [7816-4 §5.1.3, tables 5–6], the social security
 * card's own table [SSC P5 table 5, ssc-card.md §12], classification helpers, and the national
 * reader interface's negative-decimal error codes [SC-IF app. A, national-interface.md §6.2].
 * Nothing here throws on a status word; only an out-of-range number is an error.
 */
import { ProtocolError } from '../errors.ts';

/** Broad class of a status word [7816-4 §5.1.3]. */
export type StatusKind = 'success' | 'warning' | 'execution-error' | 'checking-error' | 'proprietary' | 'invalid';

/** Which table a meaning came from. */
export type StatusTable = 'iso7816' | 'ssc';

/** One row of a status-word table; `mask` selects the bits that must equal `value`. */
export interface StatusWordEntry {
  readonly value: number;
  readonly mask: number;
  readonly pattern: string;
  readonly meaning: string;
}

/** What a status word means. */
export interface StatusWordInfo {
  readonly sw: number;
  readonly kind: StatusKind;
  readonly meaning: string;
  /** The table the meaning came from; absent when no table lists this SW. */
  readonly table?: StatusTable;
  /** The table row's pattern, e.g. `63CX`. */
  readonly pattern?: string;
}

function rows(table: ReadonlyArray<readonly [string, string]>): readonly StatusWordEntry[] {
  return table.map(([pattern, meaning]) => {
    let value = 0, mask = 0;
    for (const c of pattern) {
      value <<= 4; mask <<= 4;
      if (c !== 'X') { value |= parseInt(c, 16); mask |= 0xf; }
    }
    return { value, mask, pattern, meaning };
  });
}

/** ISO/IEC 7816-4 interindustry status words [7816-4 §5.1.3, tables 5 and 6]. */
export const ISO7816_STATUS_WORDS: readonly StatusWordEntry[] = rows([
  ['9000', 'No further qualification (success)'],
  ['61XX', 'SW2 encodes the number of data bytes still available (GET RESPONSE)'],
  ['6200', 'Warning, state of non-volatile memory unchanged: no information given'],
  ['6281', 'Part of returned data may be corrupted'],
  ['6282', 'End of file or record reached before reading Ne bytes'],
  ['6283', 'Selected file deactivated'],
  ['6284', 'File control information not formatted according to 7816-4'],
  ['6285', 'Selected file in termination state'],
  ['6286', 'No input data available from a sensor on the card'],
  ['62XX', 'Warning, state of non-volatile memory unchanged'],
  ['6300', 'Warning, state of non-volatile memory changed: no information given'],
  ['6381', 'File filled up by the last write'],
  ['63CX', 'Counter value X (verification failed, X tries left)'],
  ['63XX', 'Warning, state of non-volatile memory changed'],
  ['6400', 'Execution error, state of non-volatile memory unchanged'],
  ['6401', 'Immediate response required by the card'],
  ['64XX', 'Execution error, state of non-volatile memory unchanged'],
  ['6500', 'Execution error, state of non-volatile memory changed: no information given'],
  ['6581', 'Memory failure'],
  ['65XX', 'Execution error, state of non-volatile memory changed'],
  ['66XX', 'Security-related issue'],
  ['6700', 'Wrong length; no further indication'],
  ['67XX', 'Wrong length'],
  ['6800', 'Function in CLA not supported: no information given'],
  ['6881', 'Logical channel not supported'],
  ['6882', 'Secure messaging not supported'],
  ['6883', 'Last command of the chain expected'],
  ['6884', 'Command chaining not supported'],
  ['68XX', 'Function in CLA not supported'],
  ['6900', 'Command not allowed: no information given'],
  ['6981', 'Command incompatible with file structure'],
  ['6982', 'Security status not satisfied'],
  ['6983', 'Authentication method blocked'],
  ['6984', 'Reference data not usable'],
  ['6985', 'Conditions of use not satisfied'],
  ['6986', 'Command not allowed (no current EF)'],
  ['6987', 'Expected secure messaging data objects missing'],
  ['6988', 'Incorrect secure messaging data objects'],
  ['69XX', 'Command not allowed'],
  ['6A00', 'Wrong parameters P1-P2: no information given'],
  ['6A80', 'Incorrect parameters in the command data field'],
  ['6A81', 'Function not supported'],
  ['6A82', 'File or application not found'],
  ['6A83', 'Record not found'],
  ['6A84', 'Not enough memory space in the file'],
  ['6A85', 'Nc inconsistent with TLV structure'],
  ['6A86', 'Incorrect parameters P1-P2'],
  ['6A87', 'Nc inconsistent with parameters P1-P2'],
  ['6A88', 'Referenced data or reference data not found'],
  ['6A89', 'File already exists'],
  ['6A8A', 'DF name already exists'],
  ['6AXX', 'Wrong parameters P1-P2'],
  ['6B00', 'Wrong parameters P1-P2'],
  ['6CXX', 'Wrong Le field; SW2 encodes the exact number of available data bytes'],
  ['6D00', 'Instruction code not supported or invalid'],
  ['6E00', 'Class not supported'],
  ['6F00', 'No precise diagnosis'],
]);

/** The social security card's status words [SSC P5 table 5 and per-command tables; ssc-card.md §12]. */
export const SSC_STATUS_WORDS: readonly StatusWordEntry[] = rows([
  ['9000', 'Success'],
  ['61XX', 'More bytes available (XX hex); send GET RESPONSE 00 C0 00 00 XX'],
  ['63CX', 'Authentication or PIN failed; X tries left (63C0 = now locked)'],
  ['6581', 'Memory failure'],
  ['6700', 'Wrong Lc/Le'],
  ['6901', 'Command not accepted, invalid state'],
  ['6981', 'Command incompatible with file structure'],
  ['6982', 'Security status not satisfied'],
  ['6983', 'Authentication method / PIN / key locked'],
  ['6984', 'Reference data invalid (e.g. no challenge issued)'],
  ['6985', 'Conditions of use not satisfied'],
  ['6986', 'No current EF'],
  ['6987', 'Secure-messaging MAC missing'],
  ['6988', 'Secure-messaging MAC incorrect'],
  ['6A80', 'Incorrect data field'],
  ['6A81', 'Function not supported (also every command after CARD BLOCK)'],
  ['6A82', 'File not found'],
  ['6A83', 'Record not found'],
  ['6A84', 'Not enough space'],
  ['6A86', 'Incorrect P1/P2'],
  ['6A88', 'Referenced data / key not found'],
  ['6B00', 'Offset beyond the EF'],
  ['6CXX', 'Wrong Le; the correct length is XX (hex)'],
  ['6D00', 'INS not supported'],
  ['6E00', 'CLA not supported'],
  ['6F00', 'Data invalid'],
  ['9302', 'MAC invalid'],
  ['9303', 'Application permanently locked'],
  ['9401', 'Insufficient funds'],
  ['9402', 'Transaction counter at maximum'],
  ['9403', 'Key index not supported'],
  ['9406', 'Required MAC not available'],
]);

function checkSw(sw: number): void {
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) throw new ProtocolError('PROTO_ERR_SW_RANGE', `sw ${sw}`, { field: 'sw' });
}

/**
 * Broad class [7816-4 §5.1.3]: `9000`/`61XX` success (normal processing), `62XX`/`63XX` warning,
 * `64XX`–`66XX` execution error, `67XX`–`6FXX` checking error, other `9XXX` proprietary, anything
 * else (SW1 not `6X`/`9X`, or `60`) invalid.
 * @throws ProtocolError `PROTO_ERR_SW_RANGE`.
 */
export function statusKind(sw: number): StatusKind {
  checkSw(sw);
  const sw1 = sw >> 8;
  if (sw === 0x9000 || sw1 === 0x61) return 'success';
  if (sw1 === 0x62 || sw1 === 0x63) return 'warning';
  if (sw1 >= 0x64 && sw1 <= 0x66) return 'execution-error';
  if (sw1 >= 0x67 && sw1 <= 0x6f) return 'checking-error';
  if ((sw1 & 0xf0) === 0x90) return 'proprietary';
  return 'invalid';
}

function lookup(table: readonly StatusWordEntry[], sw: number): StatusWordEntry | undefined {
  // Exact rows come before wildcard rows of the same family, so the first match is the most specific.
  for (const e of table) if ((sw & e.mask) === e.value) return e;
  return undefined;
}

/**
 * Meaning of a status word. With `table: 'ssc'` the social security card's table is consulted
 * first and the ISO table second; with `'iso7816'` (default) only the ISO table.
 * @throws ProtocolError `PROTO_ERR_SW_RANGE`.
 */
export function describeStatusWord(sw: number, opts: { readonly table?: StatusTable } = {}): StatusWordInfo {
  const kind = statusKind(sw);
  const ssc = opts.table === 'ssc' ? lookup(SSC_STATUS_WORDS, sw) : undefined;
  const hit = ssc ?? lookup(ISO7816_STATUS_WORDS, sw);
  if (hit === undefined) {
    const meaning = kind === 'proprietary' ? 'Proprietary status' : kind === 'invalid' ? 'Invalid status word' : 'Unknown status word';
    return { sw, kind, meaning };
  }
  // In meanings, `XX` stands for SW2 in hex and a lone `X` for the low nibble in decimal.
  const meaning = hit.pattern.includes('X')
    ? hit.meaning.replace(/\bXX\b/g, (sw & 0xff).toString(16).toUpperCase().padStart(2, '0')).replace(/\bX\b/g, String(sw & 0x0f))
    : hit.meaning;
  return { sw, kind, meaning, table: ssc !== undefined ? 'ssc' : 'iso7816', pattern: hit.pattern };
}

/** `9000` or `61XX` (normal processing) [7816-4 §5.1.3]. */
export function isSuccess(sw: number): boolean {
  return sw === 0x9000 || (sw >> 8) === 0x61;
}

/** SW1 `62` or `63` [7816-4 §5.1.3]. */
export function isWarning(sw: number): boolean {
  const sw1 = sw >> 8;
  return sw1 === 0x62 || sw1 === 0x63;
}

/** Neither success nor warning (execution/checking errors, proprietary `9XXX`, invalid). */
export function isError(sw: number): boolean {
  return !isSuccess(sw) && !isWarning(sw);
}

/** For `63CX`, the tries left X [7816-4 table 6; ssc-card.md §12]; otherwise undefined. */
export function retriesLeft(sw: number): number | undefined {
  return (sw & 0xfff0) === 0x63c0 ? sw & 0x0f : undefined;
}

/** For `61XX`, the bytes available (`00` = 256) [7816-4 §5.1.3]; otherwise undefined. */
export function bytesAvailable(sw: number): number | undefined {
  return (sw & 0xff00) === 0x6100 ? (sw & 0xff) || 256 : undefined;
}

/** For `6CXX`, the exact Le to resend with (`00` = 256) [7816-4 §5.1.3]; otherwise undefined. */
export function correctLe(sw: number): number | undefined {
  return (sw & 0xff00) === 0x6c00 ? (sw & 0xff) || 256 : undefined;
}

// ---------------------------------------------------------------------------------------------
// National reader interface codes [SC-IF app. A; national-interface.md §6.2]

/**
 * SW-derived entries of the national interface's error table. All but two follow −SW; the two
 * exceptions (code −26370 for `6A86`, −26371 for `6E00`) carry those SWs' meanings at codes
 * that do not follow the rule [CODE SSCARD].
 */
export const NATIONAL_SW_CODES: ReadonlyMap<number, number> = new Map([
  [0x63c0, -25536], [0x63c1, -25537], [0x63c2, -25538],
  [0x6700, -26368], [0x6901, -26881],
  [0x6981, -27009], [0x6982, -27010], [0x6983, -27011], [0x6984, -27012], [0x6985, -27013], [0x6988, -27016],
  [0x6a80, -27264], [0x6a81, -27265], [0x6a82, -27266], [0x6a83, -27267], [0x6a88, -27272],
  [0x6a86, -26370], [0x6e00, -26371],
  [0x9302, -37634], [0x9303, -37635], [0x9403, -37891], [0x9406, -37894],
]);

/** Interface code −26369 ("P1/P2 inconsistent with Lc") has no status word of its own [CODE SSCARD]. */
export const NATIONAL_CODE_P1P2_LC = -26369;
/** Interface code −51: PIN wrong, N tries left [SC-IF app. A]. */
export const NATIONAL_CODE_PIN_WRONG = -51;
/** Interface code −52: PIN locked [SC-IF app. A]. */
export const NATIONAL_CODE_PIN_LOCKED = -52;

/**
 * The national interface's error code for a card status word: the listed code for a listed SW,
 * otherwise −SW [ONECARD] (the public table is not exhaustive). With `pinCommand: true` (VERIFY,
 * CHANGE/UNBLOCK PIN) `63CX` with X > 0 becomes −51 and `63C0`/`6983` become −52 [ONECARD,
 * after CODE SSCARD]. `9000` maps to 0.
 * @throws ProtocolError `PROTO_ERR_SW_RANGE`.
 */
export function nationalInterfaceCode(sw: number, opts: { readonly pinCommand?: boolean } = {}): number {
  checkSw(sw);
  if (sw === 0x9000) return 0;
  if (opts.pinCommand === true) {
    if (sw === 0x63c0 || sw === 0x6983) return NATIONAL_CODE_PIN_LOCKED;
    if ((sw & 0xff00) === 0x6300) return NATIONAL_CODE_PIN_WRONG;
  }
  return NATIONAL_SW_CODES.get(sw) ?? -sw;
}

/**
 * The status word behind a national interface code, when it has one: the listed SWs (including
 * the two exceptions), otherwise −code when that is a valid SW (`6XXX`/`9XXX`); undefined for
 * interface errors such as −1 or −51 and for −26369.
 */
export function statusWordFromNationalCode(code: number): number | undefined {
  if (!Number.isInteger(code) || code >= 0) return undefined;
  for (const [sw, c] of NATIONAL_SW_CODES) if (c === code) return sw;
  const sw = -code;
  if (sw > 0xffff) return undefined;
  const sw1 = sw >> 8;
  if (code === NATIONAL_CODE_P1P2_LC || !((sw1 >= 0x61 && sw1 <= 0x6f) || (sw1 & 0xf0) === 0x90)) return undefined;
  return sw;
}
