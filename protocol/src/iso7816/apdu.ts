/**
 * Command and response APDUs [7816-4 §5.1]: typed values, byte encoding and strict decoding of
 * every case (1, 2S/3S/4S, 2E/3E/4E), class-byte helpers (logical channel, command chaining,
 * secure-messaging indication) and a redacting trace formatter for secret-bearing commands.
 * Pure functions over `Uint8Array`; `Le` is carried as Ne, the number of bytes expected (1..65536).
 */
import { ProtocolError } from '../errors.ts';

/**
 * A command APDU. `le` is Ne (bytes expected): absent means no Le field; 256 is short Le `00`,
 * 65536 is extended Le `0000`. `data` absent or empty means no command data (no Lc field).
 */
export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data?: Uint8Array;
  readonly le?: number;
}

/** The seven encodings of [7816-4 §5.1] / [7816-3 §12.1.3]. */
export const APDU_CASES = ['1', '2S', '3S', '4S', '2E', '3E', '4E'] as const;
export type ApduCase = (typeof APDU_CASES)[number];

/** A decoded command APDU together with the case its bytes used. */
export interface DecodedCommandApdu extends CommandApdu {
  readonly case: ApduCase;
}

/** A response APDU: body plus status word (`sw` = sw1 << 8 | sw2). */
export interface ResponseApdu {
  readonly data: Uint8Array;
  readonly sw1: number;
  readonly sw2: number;
  readonly sw: number;
}

/** `auto` picks extended only when Nc > 255 or Ne > 256 [7816-4 §5.1]. */
export type ApduForm = 'auto' | 'short' | 'extended';

const EMPTY = new Uint8Array(0);

function checkByte(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new ProtocolError('PROTO_ERR_APDU_FIELD', `${field} is not a byte`, { field });
}

function checkLe(le: number, max: number): void {
  if (!Number.isInteger(le) || le < 1 || le > max) {
    throw new ProtocolError('PROTO_ERR_APDU_LE_RANGE', `Le ${le} not in 1..${max}`, { field: 'le', max });
  }
}

/**
 * Encodes a command APDU. With `form: 'auto'` (default) the short form is used unless
 * Nc > 255 or Ne > 256.
 * @throws ProtocolError `PROTO_ERR_APDU_FIELD` (header byte out of range, CLA `FF`),
 *   `PROTO_ERR_APDU_LE_RANGE`, `PROTO_ERR_APDU_DATA_LENGTH`.
 */
export function encodeCommandApdu(apdu: CommandApdu, form: ApduForm = 'auto'): Uint8Array {
  const { cla, ins, p1, p2, le } = apdu;
  const data = apdu.data ?? EMPTY;
  checkByte(cla, 'cla');
  checkByte(ins, 'ins');
  checkByte(p1, 'p1');
  checkByte(p2, 'p2');
  // [7816-4 §5.1.1] CLA 'FF' is invalid.
  if (cla === 0xff) throw new ProtocolError('PROTO_ERR_APDU_FIELD', 'CLA FF is invalid', { field: 'cla' });
  const nc = data.length;
  if (le !== undefined) checkLe(le, 65536);
  if (nc > 65535) throw new ProtocolError('PROTO_ERR_APDU_DATA_LENGTH', `Nc ${nc} > 65535`, { field: 'data', length: nc });
  const extended = form === 'extended' || (form === 'auto' && (nc > 255 || (le !== undefined && le > 256)));
  if (!extended) {
    if (nc > 255) throw new ProtocolError('PROTO_ERR_APDU_DATA_LENGTH', `Nc ${nc} > 255 in short form`, { field: 'data', length: nc });
    if (le !== undefined && le > 256) throw new ProtocolError('PROTO_ERR_APDU_LE_RANGE', `Le ${le} > 256 in short form`, { field: 'le', max: 256 });
    const out = new Uint8Array(4 + (nc > 0 ? 1 + nc : 0) + (le !== undefined ? 1 : 0));
    out[0] = cla; out[1] = ins; out[2] = p1; out[3] = p2;
    let o = 4;
    if (nc > 0) { out[o++] = nc; out.set(data, o); o += nc; }
    if (le !== undefined) out[o] = le & 0xff; // 256 -> 00
    return out;
  }
  // [7816-4 §5.1] extended: Lc = 00 Lc1 Lc2; Le = Le1 Le2 after Lc, or 00 Le1 Le2 without Lc.
  if (nc === 0 && le === undefined) {
    throw new ProtocolError('PROTO_ERR_APDU_DATA_LENGTH', 'case 1 has no extended form', { field: 'data', length: 0 });
  }
  const out = new Uint8Array(4 + (nc > 0 ? 3 + nc : 0) + (le !== undefined ? (nc > 0 ? 2 : 3) : 0));
  out[0] = cla; out[1] = ins; out[2] = p1; out[3] = p2;
  let o = 4;
  if (nc > 0) {
    out[o++] = 0; out[o++] = nc >> 8; out[o++] = nc & 0xff;
    out.set(data, o); o += nc;
  } else {
    out[o++] = 0;
  }
  if (le !== undefined) { out[o++] = (le >> 8) & 0xff; out[o] = le & 0xff; } // 65536 -> 0000
  return out;
}

/**
 * Decodes a command APDU strictly [7816-3 §12.1.3]: the body length must match exactly one case.
 * @throws ProtocolError `PROTO_ERR_APDU_TOO_SHORT` (< 4 bytes), `PROTO_ERR_APDU_FIELD` (CLA `FF`),
 *   `PROTO_ERR_APDU_LC_MISMATCH` (fewer data bytes than Lc), `PROTO_ERR_APDU_LENGTH` (lone `00`,
 *   extended Lc of zero, extended Lc with a 1-byte Le), `PROTO_ERR_APDU_TRAILING`.
 */
export function decodeCommandApdu(bytes: Uint8Array): DecodedCommandApdu {
  const n = bytes.length;
  if (n < 4) throw new ProtocolError('PROTO_ERR_APDU_TOO_SHORT', `${n} bytes`, { field: 'header', length: n });
  const cla = bytes[0]!, ins = bytes[1]!, p1 = bytes[2]!, p2 = bytes[3]!;
  if (cla === 0xff) throw new ProtocolError('PROTO_ERR_APDU_FIELD', 'CLA FF is invalid', { field: 'cla', offset: 0 });
  const l = n - 4;
  if (l === 0) return { cla, ins, p1, p2, case: '1' };
  const b1 = bytes[4]!;
  if (l === 1) return { cla, ins, p1, p2, le: b1 === 0 ? 256 : b1, case: '2S' };
  if (b1 !== 0) {
    // short Lc
    if (l < 1 + b1) throw new ProtocolError('PROTO_ERR_APDU_LC_MISMATCH', `Lc ${b1}, ${l - 1} data bytes`, { field: 'lc', offset: 4, expected: b1 });
    const data = bytes.slice(5, 5 + b1);
    if (l === 1 + b1) return { cla, ins, p1, p2, data, case: '3S' };
    if (l === 2 + b1) {
      const le = bytes[5 + b1]!;
      return { cla, ins, p1, p2, data, le: le === 0 ? 256 : le, case: '4S' };
    }
    throw new ProtocolError('PROTO_ERR_APDU_TRAILING', `${l - 2 - b1} bytes after Le`, { field: 'le', offset: 6 + b1 });
  }
  // b1 = 00 with more bytes: extended length
  if (l === 2) throw new ProtocolError('PROTO_ERR_APDU_LENGTH', '00 followed by a single byte', { field: 'lc', offset: 4 });
  const x = (bytes[5]! << 8) | bytes[6]!;
  if (l === 3) return { cla, ins, p1, p2, le: x === 0 ? 65536 : x, case: '2E' };
  if (x === 0) throw new ProtocolError('PROTO_ERR_APDU_LENGTH', 'extended Lc of 0000', { field: 'lc', offset: 4 });
  if (l < 3 + x) throw new ProtocolError('PROTO_ERR_APDU_LC_MISMATCH', `Lc ${x}, ${l - 3} data bytes`, { field: 'lc', offset: 4, expected: x });
  const data = bytes.slice(7, 7 + x);
  if (l === 3 + x) return { cla, ins, p1, p2, data, case: '3E' };
  if (l === 4 + x) throw new ProtocolError('PROTO_ERR_APDU_LENGTH', 'extended Lc followed by a 1-byte Le', { field: 'le', offset: 7 + x });
  if (l === 5 + x) {
    const le = (bytes[7 + x]! << 8) | bytes[8 + x]!;
    return { cla, ins, p1, p2, data, le: le === 0 ? 65536 : le, case: '4E' };
  }
  throw new ProtocolError('PROTO_ERR_APDU_TRAILING', `${l - 5 - x} bytes after Le`, { field: 'le', offset: 9 + x });
}

/** The case a command APDU would be encoded as with `form` (see {@link encodeCommandApdu}). */
export function commandApduCase(apdu: CommandApdu, form: ApduForm = 'auto'): ApduCase {
  const nc = apdu.data?.length ?? 0;
  const le = apdu.le;
  if (nc === 0 && le === undefined) return '1';
  const ext = form === 'extended' || (form === 'auto' && (nc > 255 || (le !== undefined && le > 256)));
  const n = nc === 0 ? '2' : le === undefined ? '3' : '4';
  return `${n}${ext ? 'E' : 'S'}` as ApduCase;
}

/**
 * Splits a response APDU into body and status word. `data` is a copy.
 * @throws ProtocolError `PROTO_ERR_RAPDU_TOO_SHORT` when fewer than 2 bytes.
 */
export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  const n = bytes.length;
  if (n < 2) throw new ProtocolError('PROTO_ERR_RAPDU_TOO_SHORT', `${n} bytes`, { field: 'sw', length: n });
  const sw1 = bytes[n - 2]!, sw2 = bytes[n - 1]!;
  return { data: bytes.slice(0, n - 2), sw1, sw2, sw: (sw1 << 8) | sw2 };
}

/**
 * Encodes `data ‖ SW1 SW2`. Takes the status word from `sw`.
 * @throws ProtocolError `PROTO_ERR_SW_RANGE` when `sw` is not 0000..FFFF.
 */
export function encodeResponseApdu(resp: { readonly data?: Uint8Array; readonly sw: number }): Uint8Array {
  const { sw } = resp;
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) throw new ProtocolError('PROTO_ERR_SW_RANGE', `sw ${sw}`, { field: 'sw' });
  const data = resp.data ?? EMPTY;
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

/** Builds a {@link ResponseApdu} from data and a status word. */
export function responseApdu(data: Uint8Array, sw: number): ResponseApdu {
  return { data, sw1: (sw >> 8) & 0xff, sw2: sw & 0xff, sw: sw & 0xffff };
}

// ---------------------------------------------------------------------------------------------
// Class byte [7816-4 §5.1.1]
//
// First interindustry class 0x0X–0x3X: b5 chaining, b4b3 secure messaging, b2b1 channel 0..3.
// Further interindustry class 0x4X–0x7X: b5 chaining, b6 SM, b4..b1 channel 4..19.
// Proprietary classes 0x8X–0xFE are treated like the first interindustry class: SSC/PBOC cards
// and PSAMs use 80 (plain) and 84 (secure messaging) exactly that way [INFER, ssc-card.md §12].

/** Secure-messaging indication of a class byte. */
export type SecureMessaging = 'none' | 'proprietary' | 'sm-header-not-authenticated' | 'sm-header-authenticated';

const SM_BITS: Readonly<Record<SecureMessaging, number>> = {
  none: 0x00,
  proprietary: 0x04,
  'sm-header-not-authenticated': 0x08,
  'sm-header-authenticated': 0x0c,
};
const SM_NAMES = ['none', 'proprietary', 'sm-header-not-authenticated', 'sm-header-authenticated'] as const;

function checkCla(cla: number): void {
  checkByte(cla, 'cla');
  if (cla === 0xff) throw new ProtocolError('PROTO_ERR_APDU_FIELD', 'CLA FF is invalid', { field: 'cla' });
}

const isFurther = (cla: number): boolean => (cla & 0xc0) === 0x40;

/** True for interindustry classes (b8 = 0) [7816-4 §5.1.1]. */
export function isInterindustryCla(cla: number): boolean {
  return (cla & 0x80) === 0;
}

/**
 * Logical channel number (0..19) encoded in CLA [7816-4 §5.1.1.2].
 * @throws ProtocolError `PROTO_ERR_APDU_FIELD` when `cla` is not a byte or is `FF`.
 */
export function logicalChannel(cla: number): number {
  checkCla(cla);
  return isFurther(cla) ? 4 + (cla & 0x0f) : cla & 0x03;
}

/** True when CLA b5 (`10`) marks a non-last command of a chain [7816-4 §5.1.1.1]. */
export function isChainingCla(cla: number): boolean {
  return (cla & 0x10) !== 0;
}

/**
 * Sets or clears the command-chaining bit b5 (`10`) [7816-4 §5.1.1.1].
 * @throws ProtocolError `PROTO_ERR_APDU_FIELD` when `cla` is not a byte or is `FF`.
 */
export function withChaining(cla: number, chaining: boolean): number {
  checkCla(cla);
  return chaining ? cla | 0x10 : cla & ~0x10;
}

/**
 * Secure-messaging indication of CLA [7816-4 §5.1.1]. In the further interindustry class only
 * "none" and "header not authenticated" exist.
 * @throws ProtocolError `PROTO_ERR_APDU_FIELD` when `cla` is not a byte or is `FF`.
 */
export function secureMessaging(cla: number): SecureMessaging {
  checkCla(cla);
  if (isFurther(cla)) return (cla & 0x20) !== 0 ? 'sm-header-not-authenticated' : 'none';
  return SM_NAMES[(cla >> 2) & 3]!;
}

/**
 * Re-encodes CLA for another logical channel, keeping chaining and secure messaging; channels
 * 0..3 use the first interindustry class, 4..19 the further one [7816-4 §5.1.1.2].
 * @throws ProtocolError `PROTO_ERR_APDU_CLA` for a proprietary class and channel > 3, a channel
 *   outside 0..19, or an SM setting the further class cannot express; `PROTO_ERR_APDU_FIELD`.
 */
export function withLogicalChannel(cla: number, channel: number): number {
  checkCla(cla);
  if (!Number.isInteger(channel) || channel < 0 || channel > 19) {
    throw new ProtocolError('PROTO_ERR_APDU_CLA', `logical channel ${channel} not in 0..19`, { field: 'channel' });
  }
  const chaining = cla & 0x10;
  const sm = secureMessaging(cla);
  if (!isInterindustryCla(cla)) {
    if (channel > 3) throw new ProtocolError('PROTO_ERR_APDU_CLA', 'proprietary class carries channels 0..3 only', { field: 'channel' });
    return (cla & 0xfc) | channel;
  }
  if (channel <= 3) return isFurther(cla) ? chaining | SM_BITS[sm] | channel : (cla & 0xfc) | channel;
  if (sm !== 'none' && sm !== 'sm-header-not-authenticated') {
    throw new ProtocolError('PROTO_ERR_APDU_CLA', `further interindustry class cannot express SM "${sm}"`, { field: 'cla' });
  }
  return 0x40 | (sm === 'none' ? 0 : 0x20) | chaining | (channel - 4);
}

/**
 * Re-encodes CLA with another secure-messaging indication, keeping channel and chaining.
 * @throws ProtocolError `PROTO_ERR_APDU_CLA` when the further interindustry class cannot
 *   express `sm`; `PROTO_ERR_APDU_FIELD`.
 */
export function withSecureMessaging(cla: number, sm: SecureMessaging): number {
  checkCla(cla);
  if (isFurther(cla)) {
    if (sm !== 'none' && sm !== 'sm-header-not-authenticated') {
      throw new ProtocolError('PROTO_ERR_APDU_CLA', `further interindustry class cannot express SM "${sm}"`, { field: 'cla' });
    }
    return (cla & ~0x20) | (sm === 'none' ? 0 : 0x20);
  }
  return (cla & ~0x0c) | SM_BITS[sm];
}

// ---------------------------------------------------------------------------------------------
// Trace redaction [reader-link.md §6.7; style.md habit 8]

/**
 * The one list of instructions whose data field carries secrets, in any class: VERIFY `20`,
 * CHANGE REFERENCE DATA `24` (incl. SSC `84 24`), RESET RETRY COUNTER `2C`, SSC CHANGE PIN `5E`,
 * EXTERNAL/MUTUAL AUTHENTICATE `82`, key loading `D4`.
 */
export const SECRET_BEARING_INS: ReadonlySet<number> = new Set([0x20, 0x24, 0x2c, 0x5e, 0x82, 0xd4]);

/** Instructions whose data carries secrets in the proprietary class `8x`: PSAM CIPHER DATA `FA` (the clear PIN block of a PIN reload [P9 §9.7]). */
export const PROPRIETARY_SECRET_BEARING_INS: ReadonlySet<number> = new Set([0xfa]);

/**
 * True when the command's data field carries secrets and must be masked in traces
 * ({@link SECRET_BEARING_INS}, and {@link PROPRIETARY_SECRET_BEARING_INS} in class `8x` or when
 * the class is not given). With `anyClass`, the proprietary ones count in every class too (the
 * terminal's logger, which would rather over-mask).
 */
export function isSecretBearingCommand(apdu: Pick<CommandApdu, 'ins'> & Partial<Pick<CommandApdu, 'cla'>>, opts: { readonly anyClass?: boolean } = {}): boolean {
  const ins = apdu.ins;
  if (SECRET_BEARING_INS.has(ins)) return true;
  return PROPRIETARY_SECRET_BEARING_INS.has(ins) && (opts.anyClass === true || apdu.cla === undefined || (apdu.cla & 0xf0) === 0x80);
}

const HEX = '0123456789ABCDEF';
const hex2 = (b: number): string => HEX[(b >> 4) & 15]! + HEX[b & 15]!;
const hexAll = (d: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < d.length; i++) s += hex2(d[i]!);
  return s;
};

/**
 * One-line trace of a command APDU, e.g. `00 20 00 00 Lc=03 <redacted 3 bytes>`. The data of
 * secret-bearing commands ({@link isSecretBearingCommand}, `anyClass` passed on) is replaced by
 * its length unless `unsafe` is set deliberately.
 */
export function formatCommandApdu(apdu: CommandApdu, opts: { readonly unsafe?: boolean; readonly anyClass?: boolean } = {}): string {
  let s = `${hex2(apdu.cla)} ${hex2(apdu.ins)} ${hex2(apdu.p1)} ${hex2(apdu.p2)}`;
  const data = apdu.data;
  if (data !== undefined && data.length > 0) {
    s += ` Lc=${data.length}`;
    s += isSecretBearingCommand(apdu, { anyClass: opts.anyClass === true }) && opts.unsafe !== true ? ` <redacted ${data.length} bytes>` : ` ${hexAll(data)}`;
  }
  if (apdu.le !== undefined) s += ` Le=${apdu.le}`;
  return s;
}
