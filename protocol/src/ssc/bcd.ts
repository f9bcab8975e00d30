/**
 * BCD (`cn`) helpers shared by the card application codecs: digit strings right-padded with `F`
 * nibbles, `YYYYMMDD` dates and `YYYYMMDDhhmmss` date-times, with calendar validation. Used by the
 * SSC data items, the PSAM terminal number and the purse records.
 */
import { ProtocolError } from '../errors.ts';

/**
 * Encodes a decimal digit string as `cn` of `length` bytes: left-aligned, right-padded with `F`
 * nibbles [V2 §7].
 * @throws ProtocolError `PROTO_ERR_SSC_BCD` when `digits` has a non-digit or does not fit.
 */
export function encodeCn(digits: string, length: number, field = 'cn'): Uint8Array {
  if (!/^[0-9]*$/.test(digits)) throw new ProtocolError('PROTO_ERR_SSC_BCD', 'non-decimal character', { field });
  if (digits.length > length * 2) {
    throw new ProtocolError('PROTO_ERR_SSC_BCD', `more than ${length * 2} digits`, { field, length: digits.length });
  }
  const out = new Uint8Array(length).fill(0xff);
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 48;
    const b = out[i >> 1]!;
    out[i >> 1] = i % 2 === 0 ? (d << 4) | (b & 0x0f) : (b & 0xf0) | d;
  }
  return out;
}

/**
 * Decodes `cn`: digits up to the first `F` nibble; everything after it must be `F` too [V2 §7].
 * An all-`F` value decodes to the empty string ("not set").
 * @throws ProtocolError `PROTO_ERR_SSC_BCD` on a nibble `A`–`E`, or a digit after the padding.
 */
export function decodeCn(bytes: Uint8Array, field = 'cn'): string {
  let s = '';
  let padded = false;
  for (let i = 0; i < bytes.length * 2; i++) {
    const b = bytes[i >> 1]!;
    const n = i % 2 === 0 ? b >> 4 : b & 0x0f;
    if (n === 0x0f) {
      padded = true;
      continue;
    }
    if (n > 9) throw new ProtocolError('PROTO_ERR_SSC_BCD', 'nibble is not a decimal digit', { field, offset: i >> 1 });
    if (padded) throw new ProtocolError('PROTO_ERR_SSC_BCD', 'digit after F padding', { field, offset: i >> 1 });
    s += String.fromCharCode(48 + n);
  }
  return s;
}

/** Decodes packed BCD that must be all decimal digits (no padding), e.g. dates and amounts. */
export function decodeBcdDigits(bytes: Uint8Array, field = 'bcd'): string {
  const s = decodeCn(bytes, field);
  if (s.length !== bytes.length * 2) throw new ProtocolError('PROTO_ERR_SSC_BCD', 'padding where digits are required', { field });
  return s;
}

/** True when `yyyymmdd` is 8 digits naming a real Gregorian calendar day (years 1000–9999). */
export function isValidDate(yyyymmdd: string): boolean {
  if (!/^[0-9]{8}$/.test(yyyymmdd)) return false;
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1000 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

/** True when `s` is `YYYYMMDDhhmmss` with a valid date and 00–23:00–59:00–59. */
export function isValidDateTime(s: string): boolean {
  if (!/^[0-9]{14}$/.test(s) || !isValidDate(s.slice(0, 8))) return false;
  return Number(s.slice(8, 10)) < 24 && Number(s.slice(10, 12)) < 60 && Number(s.slice(12, 14)) < 60;
}

/**
 * Encodes `YYYYMMDD` as 4 BCD bytes.
 * @throws ProtocolError `PROTO_ERR_SSC_DATE` when the date is not a real calendar day.
 */
export function encodeBcdDate(yyyymmdd: string, field = 'date'): Uint8Array {
  if (!isValidDate(yyyymmdd)) throw new ProtocolError('PROTO_ERR_SSC_DATE', 'expected a valid YYYYMMDD', { field });
  return encodeCn(yyyymmdd, 4, field);
}

/**
 * Decodes 4 BCD bytes to `YYYYMMDD`; an all-`F` value (not set) gives `''`.
 * @throws ProtocolError `PROTO_ERR_SSC_BCD` on bad nibbles, `PROTO_ERR_SSC_DATE` on an impossible date,
 * `PROTO_ERR_SSC_ITEM_LENGTH` when not 4 bytes.
 */
export function decodeBcdDate(bytes: Uint8Array, field = 'date'): string {
  if (bytes.length !== 4) throw new ProtocolError('PROTO_ERR_SSC_ITEM_LENGTH', 'a BCD date is 4 bytes', { field, length: bytes.length });
  const s = decodeCn(bytes, field);
  if (s === '') return '';
  if (!isValidDate(s)) throw new ProtocolError('PROTO_ERR_SSC_DATE', 'not a valid YYYYMMDD', { field });
  return s;
}

/**
 * Encodes `YYYYMMDDhhmmss` as 7 BCD bytes.
 * @throws ProtocolError `PROTO_ERR_SSC_DATE` when the date-time is invalid.
 */
export function encodeBcdDateTime(s: string, field = 'dateTime'): Uint8Array {
  if (!isValidDateTime(s)) throw new ProtocolError('PROTO_ERR_SSC_DATE', 'expected a valid YYYYMMDDhhmmss', { field });
  return encodeCn(s, 7, field);
}

/**
 * Decodes 7 BCD bytes to `YYYYMMDDhhmmss`.
 * @throws ProtocolError `PROTO_ERR_SSC_BCD` on bad nibbles or padding, `PROTO_ERR_SSC_DATE` when invalid.
 */
export function decodeBcdDateTime(bytes: Uint8Array, field = 'dateTime'): string {
  const s = decodeBcdDigits(bytes, field);
  if (bytes.length !== 7 || !isValidDateTime(s)) throw new ProtocolError('PROTO_ERR_SSC_DATE', 'not a valid YYYYMMDDhhmmss', { field });
  return s;
}

/** Big-endian unsigned integer of 1–4 bytes. */
export function readUint(bytes: Uint8Array, offset: number, length: number): number {
  let v = 0;
  for (let i = 0; i < length; i++) v = v * 256 + bytes[offset + i]!;
  return v;
}

/** Big-endian bytes of an unsigned integer; the caller checks the range. */
export function writeUint(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
