/**
 * The serial link of the card-issuing device (dispenser with IC and SAM contacts and a print
 * station) [issuance §9]. Command texts follow the CRT-591 ASCII commands of KIOSK-JS (`C10`
 * status, `C22n` move, `CI00` IC cold reset, `CI3`‖APDU, `CI@0` SAM reset, `CII`‖APDU) and replies
 * carry the success byte `P` with data from offset 5 [CODE KIOSK-JS `CRT_591_H001Help.cs`]; the
 * error codes are the Evolis driver's 4-digit codes [CODE KIOSK-ZJ `Evolis_Z390_ErrorCode.xml`].
 * [ONECARD] The frame (`02` ‖ length 2 ‖ text ‖ `03` ‖ BCC), the reply status bytes, the `N`
 * reply and the print/eject/retain commands are OneCard's own: no public frame format exists.
 */
import { ProtocolError } from '../errors.ts';
import { concat } from '../bytes.ts';

const STX = 0x02;
const ETX = 0x03;
/** Largest text a frame carries (an APDU of 261 bytes plus header fits easily). */
export const DEVICE_MAX_TEXT = 1024;

/** Card positions of the dispenser [issuance §9.1; `0` no card inside, `5` at the bezel: ONECARD]. */
export const DEVICE_POSITIONS = { none: 0, magnetic: 1, contact: 2, contactless: 3, print: 4, bezel: 5 } as const;
export type DevicePosition = keyof typeof DEVICE_POSITIONS;
/** Stations a card can be moved to with `C22n` [issuance §9.1]. */
export type DeviceStation = 'magnetic' | 'contact' | 'contactless' | 'print';

/** Supply-box states [issuance §9.2 `BoxStatus`: 0 ok, 1 low, 2 empty]. */
export const STOCK_STATES = { ok: 0, low: 1, empty: 2 } as const;
export type StockState = keyof typeof STOCK_STATES;

/** Device error codes [issuance §9.2, CODE KIOSK-ZJ `Evolis_Z390_ErrorCode.xml`]. */
export const DEVICE_ERRORS = {
  '0001': 'connect failed',
  '0003': 'not opened',
  '0005': 'bad parameter',
  '0006': 'communication error',
  '0009': 'feeder empty',
  '0010': 'offline',
  '0011': 'busy',
  '0012': 'timeout',
  '0015': 'card at bezel or inside',
  '0016': 'card jammed',
  '0017': 'card not ready',
  '0019': 'IC power-on failed',
  '0020': 'IC exchange failed',
  '0021': 'ribbon out',
  '0099': 'unknown error',
} as const;
export type DeviceErrorCode = keyof typeof DEVICE_ERRORS;

/** Commands of the device. */
export type DeviceCommand =
  | { readonly kind: 'status' }
  /** Dispense from the stock when no card is inside, else move the card to the station. */
  | { readonly kind: 'move'; readonly to: DeviceStation }
  | { readonly kind: 'icReset' }
  | { readonly kind: 'icApdu'; readonly apdu: Uint8Array }
  | { readonly kind: 'samReset' }
  | { readonly kind: 'samApdu'; readonly apdu: Uint8Array }
  /** Print UTF-8 text lines on the card at the print station [ONECARD]. */
  | { readonly kind: 'print'; readonly text: string }
  | { readonly kind: 'eject' }
  | { readonly kind: 'retain' };

/** A reply: `P` with position, stock and data, or `N` with a 4-digit error code. */
export type DeviceReply =
  | { readonly ok: true; readonly command: string; readonly position: DevicePosition; readonly stock: StockState; readonly data: Uint8Array }
  | { readonly ok: false; readonly command: string; readonly error: DeviceErrorCode };

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array): string => String.fromCharCode(...b);
const STATION_DIGIT: Record<DeviceStation, string> = { magnetic: '1', contact: '2', contactless: '3', print: '4' };

/** The 3-character command code (`C` ‖ CM ‖ PM) of a command, e.g. `C22`, `CI3`. */
export function deviceCommandCode(c: DeviceCommand): string {
  const codes = { status: 'C10', move: 'C22', icReset: 'CI0', icApdu: 'CI3', samReset: 'CI@', samApdu: 'CII', print: 'CP0', eject: 'CE0', retain: 'CR0' } as const;
  return codes[c.kind];
}

function apduParam(apdu: Uint8Array): void {
  if (apdu.length < 4 || apdu.length > 261) throw new ProtocolError('PROTO_ERR_DEVICE_COMMAND', 'APDU must be 4–261 bytes', { field: 'apdu', length: apdu.length });
}

/**
 * Encodes a command text.
 * @throws ProtocolError `PROTO_ERR_DEVICE_COMMAND` on an APDU outside 4–261 bytes or a print text
 * that is empty or over 512 bytes.
 */
export function encodeDeviceCommand(c: DeviceCommand): Uint8Array {
  const code = ascii(deviceCommandCode(c));
  switch (c.kind) {
    case 'move':
      if (!(c.to in STATION_DIGIT)) throw new ProtocolError('PROTO_ERR_DEVICE_COMMAND', 'unknown station', { field: 'to' });
      return concat(code, ascii(STATION_DIGIT[c.to]));
    case 'icReset':
    case 'samReset':
      return concat(code, ascii('0'));
    case 'icApdu':
    case 'samApdu':
      apduParam(c.apdu);
      return concat(code, c.apdu);
    case 'print': {
      const t = new TextEncoder().encode(c.text);
      if (t.length < 1 || t.length > 512) throw new ProtocolError('PROTO_ERR_DEVICE_COMMAND', 'print text must be 1–512 bytes', { field: 'text', length: t.length });
      return concat(code, t);
    }
    default:
      return code;
  }
}

/**
 * Decodes a command text (the device side).
 * @throws ProtocolError `PROTO_ERR_DEVICE_COMMAND` on an unknown code, a missing or extra
 * parameter, a bad station digit, a bad APDU length or print text that is not UTF-8.
 */
export function decodeDeviceCommand(t: Uint8Array): DeviceCommand {
  const bad = (detail: string): never => {
    throw new ProtocolError('PROTO_ERR_DEVICE_COMMAND', detail, { field: 'text', length: t.length });
  };
  if (t.length < 3 || t[0] !== 0x43) return bad('command text starts with C and a 2-character code');
  const code = text(t.subarray(0, 3));
  const rest = t.subarray(3);
  const none = <C extends DeviceCommand>(c: C): C => (rest.length === 0 ? c : bad(`${code} takes no parameter`));
  switch (code) {
    case 'C10':
      return none({ kind: 'status' });
    case 'C22': {
      const station = (Object.keys(STATION_DIGIT) as DeviceStation[]).find((s) => rest.length === 1 && STATION_DIGIT[s].charCodeAt(0) === rest[0]);
      return station === undefined ? bad('C22 takes a station digit 1–4') : { kind: 'move', to: station };
    }
    case 'CI0':
    case 'CI@':
      if (rest.length !== 1 || rest[0] !== 0x30) return bad(`${code} takes the parameter 0`);
      return { kind: code === 'CI0' ? 'icReset' : 'samReset' };
    case 'CI3':
    case 'CII':
      if (rest.length < 4 || rest.length > 261) return bad('APDU must be 4–261 bytes');
      return { kind: code === 'CI3' ? 'icApdu' : 'samApdu', apdu: rest.slice() };
    case 'CP0': {
      if (rest.length < 1 || rest.length > 512) return bad('print text must be 1–512 bytes');
      let s: string;
      try {
        s = new TextDecoder('utf-8', { fatal: true }).decode(rest);
      } catch {
        return bad('print text must be UTF-8');
      }
      return { kind: 'print', text: s };
    }
    case 'CE0':
      return none({ kind: 'eject' });
    case 'CR0':
      return none({ kind: 'retain' });
    default:
      return bad(`unknown command ${code.replace(/[^ -~]/g, '?')}`);
  }
}

const POSITION_BY_DIGIT = Object.fromEntries(Object.entries(DEVICE_POSITIONS).map(([k, v]) => [48 + v, k])) as Record<number, DevicePosition>;
const STOCK_BY_DIGIT = Object.fromEntries(Object.entries(STOCK_STATES).map(([k, v]) => [48 + v, k])) as Record<number, StockState>;

/**
 * Encodes a reply text: `P` ‖ code(2) ‖ position digit ‖ stock digit ‖ data, or `N` ‖ code(2) ‖ error(4).
 * @throws ProtocolError `PROTO_ERR_DEVICE_REPLY` on a command code that is not 3 characters starting with C.
 */
export function encodeDeviceReply(r: DeviceReply): Uint8Array {
  if (!/^C[ -~]{2}$/.test(r.command)) throw new ProtocolError('PROTO_ERR_DEVICE_REPLY', 'command code must be C and 2 printable characters', { field: 'command' });
  const cmPm = ascii(r.command.slice(1));
  if (r.ok) return concat(ascii('P'), cmPm, Uint8Array.of(48 + DEVICE_POSITIONS[r.position], 48 + STOCK_STATES[r.stock]), r.data);
  return concat(ascii('N'), cmPm, ascii(r.error));
}

/**
 * Decodes a reply text.
 * @throws ProtocolError `PROTO_ERR_DEVICE_REPLY` on a first byte other than `P`/`N`, a short text,
 * unknown position/stock digits, or an error code not in {@link DEVICE_ERRORS}.
 */
export function decodeDeviceReply(t: Uint8Array): DeviceReply {
  const bad = (detail: string): never => {
    throw new ProtocolError('PROTO_ERR_DEVICE_REPLY', detail, { field: 'text', length: t.length });
  };
  if (t.length < 3) return bad('reply shorter than 3 bytes');
  const command = `C${text(t.subarray(1, 3))}`;
  if (t[0] === 0x50) {
    if (t.length < 5) return bad('positive reply needs position and stock');
    const position = POSITION_BY_DIGIT[t[3]!];
    const stock = STOCK_BY_DIGIT[t[4]!];
    if (position === undefined || stock === undefined) return bad('unknown position or stock digit');
    return { ok: true, command, position, stock, data: t.slice(5) };
  }
  if (t[0] === 0x4e) {
    const code = text(t.subarray(3));
    if (t.length !== 7 || !(code in DEVICE_ERRORS)) return bad('negative reply carries a known 4-digit error code');
    return { ok: false, command, error: code as DeviceErrorCode };
  }
  return bad('reply starts with P or N');
}

function bcc(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

/**
 * Frames a text: `02` ‖ length (2 bytes, big-endian) ‖ text ‖ `03` ‖ BCC (XOR of all previous bytes) [ONECARD].
 * @throws ProtocolError `PROTO_ERR_DEVICE_FRAME` on an empty text or one over {@link DEVICE_MAX_TEXT}.
 */
export function frameDeviceText(t: Uint8Array): Uint8Array {
  if (t.length < 1 || t.length > DEVICE_MAX_TEXT) throw new ProtocolError('PROTO_ERR_DEVICE_FRAME', 'text must be 1–1024 bytes', { field: 'length', length: t.length });
  const body = concat(Uint8Array.of(STX, t.length >> 8, t.length & 0xff), t, Uint8Array.of(ETX));
  return concat(body, Uint8Array.of(bcc(body)));
}

/**
 * Incremental deframer: `push(chunk)` returns the texts of the frames completed by the chunk
 * (none while bytes are missing). Garbage throws a coded error and is dropped, so the next push
 * resynchronises on the next `02`; when complete frames precede the garbage in one chunk, they
 * are returned and the garbage is reported by the next push.
 */
export class DeviceDeframer {
  #buf: Uint8Array = new Uint8Array(0);

  /**
   * @throws ProtocolError `PROTO_ERR_DEVICE_FRAME` on a byte other than `02` where a frame must
   * start, a length of 0 or over {@link DEVICE_MAX_TEXT}, or a missing `03`; `PROTO_ERR_DEVICE_BCC`
   * when the check byte differs.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = concat(this.#buf, chunk);
    const out: Uint8Array[] = [];
    for (;;) {
      const b = this.#buf;
      if (b.length === 0) return out;
      const problem = this.#check(b);
      if (problem === 'more') return out;
      if (problem !== undefined) {
        if (out.length > 0) return out;
        this.#buf = problem.rest;
        throw new ProtocolError(problem.code, problem.detail, { buffered: problem.rest.length });
      }
      const len = (b[1]! << 8) | b[2]!;
      out.push(b.slice(3, len + 3));
      this.#buf = b.slice(len + 5);
    }
  }

  #check(b: Uint8Array): 'more' | undefined | { code: 'PROTO_ERR_DEVICE_FRAME' | 'PROTO_ERR_DEVICE_BCC'; detail: string; rest: Uint8Array } {
    if (b[0] !== STX) {
      const next = b.indexOf(STX);
      return { code: 'PROTO_ERR_DEVICE_FRAME', detail: 'frame does not start with 02', rest: next < 0 ? new Uint8Array(0) : b.slice(next) };
    }
    if (b.length < 3) return 'more';
    const len = (b[1]! << 8) | b[2]!;
    if (len === 0 || len > DEVICE_MAX_TEXT) return { code: 'PROTO_ERR_DEVICE_FRAME', detail: `length ${len} out of range`, rest: b.slice(1) };
    if (b.length < len + 5) return 'more';
    if (b[len + 3] !== ETX) return { code: 'PROTO_ERR_DEVICE_FRAME', detail: 'end byte is not 03', rest: b.slice(len + 5) };
    if (bcc(b.subarray(0, len + 4)) !== b[len + 4]) return { code: 'PROTO_ERR_DEVICE_BCC', detail: 'check byte differs', rest: b.slice(len + 5) };
    return undefined;
  }
}
