/**
 * The simulated library system's own reading and writing of SIP2 lines. It is deliberately
 * written apart from the terminal's codec (`@onecard/protocol/sip2`) so that the two check each
 * other: requests are cut at the fixed offsets the specification gives for each message, variable
 * fields are looked up by their two-letter id, and the checksum is computed here as 0x10000 minus
 * the byte sum, kept to 16 bits.
 */
import { SimulatorError } from '../errors.ts';

export type LibraryCharset = 'utf-8' | 'gbk';

/** Bytes → text in the configured set; `undefined` when the bytes are not valid in it. */
export function readText(bytes: Uint8Array, charset: LibraryCharset): string | undefined {
  try {
    return new TextDecoder(charset, { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

let gbkTable: Map<string, number> | undefined;

/** Text → bytes; GBK through a reverse table built from the platform decoder (unmappable → `?`). */
export function writeText(text: string, charset: LibraryCharset): Uint8Array {
  if (charset === 'utf-8') return new TextEncoder().encode(text);
  if (gbkTable === undefined) {
    gbkTable = new Map();
    const dec = new TextDecoder('gbk');
    for (let hi = 0x81; hi < 0xff; hi++) {
      for (let lo = 0x40; lo < 0xff; lo++) {
        if (lo === 0x7f) continue;
        const ch = dec.decode(Uint8Array.of(hi, lo));
        if (ch.length === 1 && ch !== '\ufffd' && !gbkTable.has(ch)) gbkTable.set(ch, hi * 256 + lo);
      }
    }
  }
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c < 0x80) out.push(c);
    else {
      const g = gbkTable.get(ch);
      if (g === undefined) out.push(0x3f);
      else out.push(g >> 8, g & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** Four upper-case hex digits: 0x10000 − (sum of `bytes` mod 0x10000), mod 0x10000. */
export function checksumOf(bytes: Uint8Array): string {
  let total = 0;
  for (let i = 0; i < bytes.length; i++) total += bytes[i]!;
  const v = (0x10000 - (total % 0x10000)) % 0x10000;
  return v.toString(16).toUpperCase().padStart(4, '0');
}

/** A request line as the library system sees it. */
export interface LibraryRequest {
  readonly code: string;
  /** The text between the code and the first variable field. */
  readonly fixed: string;
  readonly fields: ReadonlyMap<string, string>;
  readonly seq: string | undefined;
}

/** Why a line was not accepted: `checksum` makes the system ask for a resend (96). */
export type LineProblem = 'checksum' | 'charset' | 'format';

/** Length of the fixed part of each request the system answers [SIP2 2.00 §Messages]. */
const FIXED_LENGTH: Readonly<Record<string, number>> = {
  '93': 2, '99': 8, '23': 21, '63': 31, '11': 38, '09': 37, '29': 38, '97': 0,
};

/**
 * Reads one line (without CR). With `checksums`, a line must end in `AZ` + four hex digits that
 * match; `AY` is taken from just before it.
 */
export function readLine(line: Uint8Array, charset: LibraryCharset, checksums: boolean): LibraryRequest | LineProblem {
  let body = line;
  const len = line.length;
  const hasAz = len >= 6 && line[len - 6] === 0x41 && line[len - 5] === 0x5a;
  if (hasAz) {
    const given = new TextDecoder('latin1').decode(line.subarray(len - 4)).toUpperCase();
    if (given !== checksumOf(line.subarray(0, len - 4))) return 'checksum';
    body = line.subarray(0, len - 6);
  } else if (checksums) {
    return 'checksum';
  }
  const text = readText(body, charset);
  if (text === undefined) return 'charset';
  const code = text.substring(0, 2);
  const fixedLength = FIXED_LENGTH[code];
  if (fixedLength === undefined || text.length < 2 + fixedLength) return 'format';
  let rest = text.substring(2 + fixedLength);
  let seq: string | undefined;
  const ayAt = rest.lastIndexOf('AY');
  if (ayAt >= 0 && ayAt === rest.length - 3 && (ayAt === 0 || rest[ayAt - 1] === '|')) {
    seq = rest.substring(ayAt + 2);
    rest = rest.substring(0, ayAt);
  }
  const fields = new Map<string, string>();
  for (const piece of rest.split('|')) {
    if (piece === '') continue;
    if (!fields.has(piece.substring(0, 2))) fields.set(piece.substring(0, 2), piece.substring(2));
  }
  return { code, fixed: text.substring(2, 2 + fixedLength), fields, seq };
}

/**
 * Writes a response line: `code`, fixed text, `IDvalue|` fields (values with `|` or control
 * characters are refused — a simulator bug, not a client's), then `AYn AZxxxx` when `seq` is
 * given or checksums are on, and CR.
 */
export function writeLine(code: string, fixed: string, fields: readonly (readonly [string, string | undefined])[], charset: LibraryCharset, checksums: boolean, seq: string | undefined): Uint8Array {
  let text = code + fixed;
  for (const [id, value] of fields) {
    if (value === undefined) continue;
    if (/[|\r\n]/.test(value)) throw new SimulatorError('SIM_ERR_LIBRARY_DATA', `field ${id} holds a separator`, { field: id });
    text += `${id}${value}|`;
  }
  if (checksums) {
    if (code !== '96') text += `AY${seq ?? '0'}`;
    text += 'AZ';
    const bytes = writeText(text, charset);
    const tail = `${checksumOf(bytes)}\r`;
    const out = new Uint8Array(bytes.length + 5);
    out.set(bytes);
    for (let i = 0; i < 5; i++) out[bytes.length + i] = tail.charCodeAt(i);
    return out;
  }
  return writeText(`${text}\r`, charset);
}
