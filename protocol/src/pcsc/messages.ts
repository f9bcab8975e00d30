/**
 * pcscd's client socket protocol, sans I/O: the messages a PC/SC client exchanges with the
 * pcsc-lite daemon over its unix socket (`/run/pcscd/pcscd.comm`), protocol version 4.4
 * (pcsc-lite 1.9.x). A request is an 8-byte header `size ‖ command` (u32 each) followed by the
 * command's fixed-size structure (and, for TRANSMIT, the command APDU); the daemon answers with
 * the same structure filled in (TRANSMIT: followed by the response APDU when `rv` is success),
 * or with the 16-entry reader-state table. There is no framing on answers: the reader of the
 * stream must know which answer it waits for ({@link decodeResponse} takes the kind). Integers
 * are in the host's byte order; every Linux target OneCard runs on is little-endian, so the codec
 * fixes little-endian. Layouts are those of x86_64 and aarch64 (no padding inside the message
 * structures; the reader-state entry pads its 33-byte ATR to 36). [pcsc-lite winscard_msg.h,
 * eventhandler.h, pcsclite.h]
 *
 * Decoders return `undefined` when more bytes are needed, throw a coded {@link ProtocolError}
 * for bytes that can never be valid, and report how many bytes they consumed.
 */
import { ProtocolError } from '../errors.ts';

/** Message protocol version this codec speaks. [winscard_msg.h PROTOCOL_VERSION_MAJOR/MINOR, pcsc-lite 1.9.9] */
export const PCSC_PROTOCOL_VERSION = Object.freeze({ major: 4, minor: 4 } as const);

/** Command numbers. [winscard_msg.h enum pcsc_msg_commands] */
export const PCSC_COMMAND = Object.freeze({
  'establish-context': 0x01,
  'release-context': 0x02,
  connect: 0x04,
  reconnect: 0x05,
  disconnect: 0x06,
  'begin-transaction': 0x07,
  'end-transaction': 0x08,
  transmit: 0x09,
  status: 0x0b,
  cancel: 0x0d,
  version: 0x11,
  'get-readers-state': 0x12,
  'wait-reader-state-change': 0x13,
  'stop-waiting-reader-state-change': 0x14,
} as const);
export type PcscCommandName = keyof typeof PCSC_COMMAND;

/** Sizes and limits. [pcsclite.h MAX_READERNAME, MAX_ATR_SIZE, PCSCLITE_MAX_READERS_CONTEXTS, MAX_BUFFER_SIZE_EXTENDED] */
export const PCSC_LIMITS = Object.freeze({
  HEADER_LENGTH: 8,
  MAX_READERNAME: 128,
  MAX_ATR_SIZE: 33,
  MAX_READERS: 16,
  /** One reader-state entry: name 128, eventCounter, readerState, readerSharing, ATR 33 (+3 padding), ATR length, protocol. */
  READER_STATE_LENGTH: 184,
  READER_STATES_LENGTH: 16 * 184,
  /** Largest APDU either way: 4 + 3 + 65536 + 3 + 2. */
  MAX_BUFFER_SIZE_EXTENDED: 65548,
  /** `sizeof(SCARD_IO_REQUEST)` on a 64-bit client (two `unsigned long`). */
  IO_REQUEST_LENGTH: 16,
} as const);

/** PC/SC constants used on the wire. [pcsclite.h] */
export const SCARD = Object.freeze({
  SCOPE_SYSTEM: 0x0002,
  PROTOCOL_T0: 0x0001,
  PROTOCOL_T1: 0x0002,
  PROTOCOL_ANY: 0x0003,
  SHARE_EXCLUSIVE: 0x0001,
  SHARE_SHARED: 0x0002,
  SHARE_DIRECT: 0x0003,
  LEAVE_CARD: 0x0000,
  RESET_CARD: 0x0001,
  UNPOWER_CARD: 0x0002,
  EJECT_CARD: 0x0003,
  /** readerState bits of a reader-state entry. */
  UNKNOWN: 0x0001,
  ABSENT: 0x0002,
  PRESENT: 0x0004,
  SWALLOWED: 0x0008,
  POWERED: 0x0010,
  NEGOTIABLE: 0x0020,
  SPECIFIC: 0x0040,
} as const);

/** Return values (`rv`) the daemon sends, by name. [pcsclite.h SCARD_S_ / SCARD_E_ / SCARD_W_ / SCARD_F_] */
export const SCARD_RV = Object.freeze({
  S_SUCCESS: 0x00000000,
  F_INTERNAL_ERROR: 0x80100001,
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_INVALID_PARAMETER: 0x80100004,
  E_NO_MEMORY: 0x80100006,
  E_INSUFFICIENT_BUFFER: 0x80100008,
  E_UNKNOWN_READER: 0x80100009,
  E_TIMEOUT: 0x8010000a,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_PROTO_MISMATCH: 0x8010000f,
  E_NOT_READY: 0x80100010,
  E_INVALID_VALUE: 0x80100011,
  F_COMM_ERROR: 0x80100013,
  F_UNKNOWN_ERROR: 0x80100014,
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  E_NO_READERS_AVAILABLE: 0x8010002e,
  E_COMM_DATA_LOST: 0x8010002f,
  W_UNSUPPORTED_CARD: 0x80100065,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const);

const RV_NAMES = new Map<number, string>(Object.entries(SCARD_RV).map(([k, v]) => [v, `SCARD_${k}`]));

/** The PC/SC name of a return value (`SCARD_E_NO_SMARTCARD`), or its hex value when unknown. */
export function scardRvName(rv: number): string {
  return RV_NAMES.get(rv >>> 0) ?? `0x${(rv >>> 0).toString(16).padStart(8, '0')}`;
}

/** One reader of the daemon's reader-state table. [eventhandler.h READER_STATE] */
export interface PcscReaderState {
  /** Position in the table (0..15). */
  readonly index: number;
  readonly name: string;
  /** Card events seen by the daemon on this reader (insertions and removals). */
  readonly eventCounter: number;
  /** {@link SCARD} ABSENT / PRESENT / SWALLOWED / POWERED / NEGOTIABLE / SPECIFIC bits. */
  readonly state: number;
  /** -1 exclusive, 0 unused, n shared by n handles. */
  readonly sharing: number;
  readonly atr: Uint8Array;
  /** Active protocol ({@link SCARD} PROTOCOL_T0 / PROTOCOL_T1), 0 when none. */
  readonly protocol: number;
}

/** A request from client to daemon. Handles and contexts are the daemon's 32-bit values. */
export type PcscRequest =
  | { readonly command: 'version'; readonly major: number; readonly minor: number }
  | { readonly command: 'establish-context'; readonly scope: number }
  | { readonly command: 'release-context'; readonly context: number }
  | { readonly command: 'connect'; readonly context: number; readonly reader: string; readonly shareMode: number; readonly preferredProtocols: number }
  | { readonly command: 'reconnect'; readonly card: number; readonly shareMode: number; readonly preferredProtocols: number; readonly initialization: number }
  | { readonly command: 'disconnect'; readonly card: number; readonly disposition: number }
  | { readonly command: 'begin-transaction'; readonly card: number }
  | { readonly command: 'end-transaction'; readonly card: number; readonly disposition: number }
  | { readonly command: 'status'; readonly card: number }
  | { readonly command: 'cancel'; readonly context: number }
  | { readonly command: 'transmit'; readonly card: number; readonly protocol: number; readonly apdu: Uint8Array; readonly receiveLength: number }
  | { readonly command: 'get-readers-state' }
  | { readonly command: 'wait-reader-state-change' }
  | { readonly command: 'stop-waiting-reader-state-change' };

/** An answer from the daemon. `rv` is the PC/SC return value ({@link SCARD_RV}). */
export type PcscResponse =
  | { readonly kind: 'version'; readonly major: number; readonly minor: number; readonly rv: number }
  | { readonly kind: 'establish-context'; readonly scope: number; readonly context: number; readonly rv: number }
  | { readonly kind: 'release-context'; readonly context: number; readonly rv: number }
  | { readonly kind: 'connect'; readonly context: number; readonly reader: string; readonly shareMode: number; readonly preferredProtocols: number; readonly card: number; readonly activeProtocol: number; readonly rv: number }
  | { readonly kind: 'reconnect'; readonly card: number; readonly shareMode: number; readonly preferredProtocols: number; readonly initialization: number; readonly activeProtocol: number; readonly rv: number }
  | { readonly kind: 'disconnect'; readonly card: number; readonly disposition: number; readonly rv: number }
  | { readonly kind: 'begin-transaction'; readonly card: number; readonly rv: number }
  | { readonly kind: 'end-transaction'; readonly card: number; readonly disposition: number; readonly rv: number }
  | { readonly kind: 'status'; readonly card: number; readonly rv: number }
  | { readonly kind: 'cancel'; readonly context: number; readonly rv: number }
  | { readonly kind: 'transmit'; readonly card: number; readonly protocol: number; readonly receiveProtocol: number; readonly receiveLength: number; readonly rv: number; readonly apdu: Uint8Array }
  /** Answer to get-readers-state, and the first answer to wait-reader-state-change. */
  | { readonly kind: 'readers-state'; readonly readers: readonly PcscReaderState[] }
  /** The later answer to wait-reader-state-change (an event, `rv` success) or to stop-waiting. */
  | { readonly kind: 'wait-end'; readonly rv: number };
export type PcscResponseKind = PcscResponse['kind'];

/** Body length of each request structure (the header's `size`; TRANSMIT's APDU comes on top). */
const REQUEST_BODY: Readonly<Record<PcscCommandName, number>> = {
  version: 12,
  'establish-context': 12,
  'release-context': 8,
  connect: 152,
  reconnect: 24,
  disconnect: 12,
  'begin-transaction': 8,
  'end-transaction': 12,
  status: 8,
  cancel: 8,
  transmit: 32,
  'get-readers-state': 0,
  'wait-reader-state-change': 0,
  'stop-waiting-reader-state-change': 0,
};

/** Fixed part of each answer. */
const RESPONSE_BODY: Readonly<Record<PcscResponseKind, number>> = {
  version: 12,
  'establish-context': 12,
  'release-context': 8,
  connect: 152,
  reconnect: 24,
  disconnect: 12,
  'begin-transaction': 8,
  'end-transaction': 12,
  status: 8,
  cancel: 8,
  transmit: 32,
  'readers-state': PCSC_LIMITS.READER_STATES_LENGTH,
  'wait-end': 8,
};

const COMMAND_BY_NUMBER = new Map<number, PcscCommandName>(Object.entries(PCSC_COMMAND).map(([k, v]) => [v, k as PcscCommandName]));

function u32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ProtocolError('PROTO_ERR_PCSC_FIELD', `${field} must be a 32-bit unsigned integer`, { field, value: v });
  return v;
}

function i32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new ProtocolError('PROTO_ERR_PCSC_FIELD', `${field} must fit 32 bits`, { field, value: v });
  return v | 0;
}

class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #o = 0;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.#view = new DataView(this.bytes.buffer);
  }
  u32(v: number, field: string): this {
    this.#view.setUint32(this.#o, u32(v, field), true);
    this.#o += 4;
    return this;
  }
  i32(v: number, field: string): this {
    this.#view.setInt32(this.#o, i32(v, field), true);
    this.#o += 4;
    return this;
  }
  name(v: string, field: string): this {
    this.bytes.set(encodeName(v, field), this.#o);
    this.#o += PCSC_LIMITS.MAX_READERNAME;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.#o);
    this.#o += b.length;
    return this;
  }
}

class Reader {
  readonly #view: DataView;
  readonly #b: Uint8Array;
  #o: number;
  constructor(b: Uint8Array, offset: number) {
    this.#b = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.#o = offset;
  }
  u32(): number {
    const v = this.#view.getUint32(this.#o, true);
    this.#o += 4;
    return v;
  }
  i32(): number {
    const v = this.#view.getInt32(this.#o, true);
    this.#o += 4;
    return v;
  }
  name(field: string): string {
    const v = decodeName(this.#b.subarray(this.#o, this.#o + PCSC_LIMITS.MAX_READERNAME), field);
    this.#o += PCSC_LIMITS.MAX_READERNAME;
    return v;
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: true });

/** A reader name as the 128-byte NUL-terminated field. */
function encodeName(name: string, field: string): Uint8Array {
  const b = utf8.encode(name);
  if (b.length === 0 || b.length >= PCSC_LIMITS.MAX_READERNAME || b.includes(0)) throw new ProtocolError('PROTO_ERR_PCSC_STRING', `${field}: ${b.length} bytes`, { field });
  const out = new Uint8Array(PCSC_LIMITS.MAX_READERNAME);
  out.set(b);
  return out;
}

/** The 128-byte field back to a name; `''` for an all-zero (unused) field. */
function decodeName(b: Uint8Array, field: string): string {
  const end = b.indexOf(0);
  if (end < 0) throw new ProtocolError('PROTO_ERR_PCSC_STRING', `${field} is not NUL-terminated`, { field });
  try {
    return utf8d.decode(b.subarray(0, end));
  } catch (e) {
    throw new ProtocolError('PROTO_ERR_PCSC_STRING', `${field} is not UTF-8`, { field }, { cause: e });
  }
}

function checkApdu(apdu: Uint8Array, field: string): void {
  if (apdu.length === 0 || apdu.length > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `${field}: ${apdu.length} bytes`, { field, value: apdu.length });
}

/**
 * Encodes a request: header (size of the structure, command number) and structure; TRANSMIT
 * appends the command APDU. [winscard_msg.c MessageSendWithHeader; winscard_clnt.c SCardTransmit]
 * @throws ProtocolError `PROTO_ERR_PCSC_FIELD` (a number out of range), `PROTO_ERR_PCSC_STRING`
 *   (reader name empty, ≥ 128 bytes or with a NUL), `PROTO_ERR_PCSC_LENGTH` (APDU empty or too long).
 */
export function encodeRequest(r: PcscRequest): Uint8Array {
  const body = REQUEST_BODY[r.command];
  const extra = r.command === 'transmit' ? r.apdu.length : 0;
  if (r.command === 'transmit') checkApdu(r.apdu, 'apdu');
  const w = new Writer(PCSC_LIMITS.HEADER_LENGTH + body + extra).u32(body, 'size').u32(PCSC_COMMAND[r.command], 'command');
  switch (r.command) {
    case 'version': w.i32(r.major, 'major').i32(r.minor, 'minor').u32(0, 'rv'); break;
    case 'establish-context': w.u32(r.scope, 'scope').u32(0, 'context').u32(0, 'rv'); break;
    case 'release-context': w.u32(r.context, 'context').u32(0, 'rv'); break;
    case 'connect': w.u32(r.context, 'context').name(r.reader, 'reader').u32(r.shareMode, 'shareMode').u32(r.preferredProtocols, 'preferredProtocols').i32(0, 'card').u32(0, 'activeProtocol').u32(0, 'rv'); break;
    case 'reconnect': w.i32(r.card, 'card').u32(r.shareMode, 'shareMode').u32(r.preferredProtocols, 'preferredProtocols').u32(r.initialization, 'initialization').u32(0, 'activeProtocol').u32(0, 'rv'); break;
    case 'disconnect': w.i32(r.card, 'card').u32(r.disposition, 'disposition').u32(0, 'rv'); break;
    case 'begin-transaction': w.i32(r.card, 'card').u32(0, 'rv'); break;
    case 'end-transaction': w.i32(r.card, 'card').u32(r.disposition, 'disposition').u32(0, 'rv'); break;
    case 'status': w.i32(r.card, 'card').u32(0, 'rv'); break;
    case 'cancel': w.i32(r.context, 'context').u32(0, 'rv'); break;
    case 'transmit':
      if (!Number.isInteger(r.receiveLength) || r.receiveLength < 2 || r.receiveLength > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `receiveLength ${r.receiveLength}`, { field: 'receiveLength', value: r.receiveLength });
      // [winscard_clnt.c SCardTransmit] send PCI = {protocol, sizeof(SCARD_IO_REQUEST)}; receive PCI = ANY.
      w.i32(r.card, 'card').u32(r.protocol, 'protocol').u32(PCSC_LIMITS.IO_REQUEST_LENGTH, 'sendPciLength').u32(r.apdu.length, 'sendLength')
        .u32(SCARD.PROTOCOL_ANY, 'receivePciProtocol').u32(PCSC_LIMITS.IO_REQUEST_LENGTH, 'receivePciLength').u32(r.receiveLength, 'receiveLength').u32(0, 'rv').raw(r.apdu);
      break;
    case 'get-readers-state':
    case 'wait-reader-state-change':
    case 'stop-waiting-reader-state-change':
      break;
  }
  return w.bytes;
}

/**
 * Decodes one request from the start of `bytes` (the daemon's side; OneCard's test daemon and
 * the round-trip tests use it). Returns `undefined` while the request is incomplete.
 * @throws ProtocolError `PROTO_ERR_PCSC_COMMAND` (unknown command), `PROTO_ERR_PCSC_SIZE` (header
 *   size is not the command's structure size), `PROTO_ERR_PCSC_LENGTH` (TRANSMIT APDU length),
 *   `PROTO_ERR_PCSC_STRING` (CONNECT reader name).
 */
export function decodeRequest(bytes: Uint8Array): { readonly request: PcscRequest; readonly length: number } | undefined {
  if (bytes.length < PCSC_LIMITS.HEADER_LENGTH) return undefined;
  const h = new Reader(bytes, 0);
  const size = h.u32();
  const number = h.u32();
  const command = COMMAND_BY_NUMBER.get(number);
  if (command === undefined) throw new ProtocolError('PROTO_ERR_PCSC_COMMAND', `command ${number}`, { field: 'command', value: number });
  const body = REQUEST_BODY[command];
  if (size !== body) throw new ProtocolError('PROTO_ERR_PCSC_SIZE', `${command}: size ${size}, expected ${body}`, { field: 'size', value: size });
  if (bytes.length < PCSC_LIMITS.HEADER_LENGTH + body) return undefined;
  const r = new Reader(bytes, PCSC_LIMITS.HEADER_LENGTH);
  const length = PCSC_LIMITS.HEADER_LENGTH + body;
  switch (command) {
    case 'version': return { request: { command, major: r.i32(), minor: r.i32() }, length };
    case 'establish-context': return { request: { command, scope: r.u32() }, length };
    case 'release-context': return { request: { command, context: r.u32() }, length };
    case 'connect': {
      const context = r.u32();
      const reader = r.name('reader');
      if (reader === '') throw new ProtocolError('PROTO_ERR_PCSC_STRING', 'reader name is empty', { field: 'reader' });
      return { request: { command, context, reader, shareMode: r.u32(), preferredProtocols: r.u32() }, length };
    }
    case 'reconnect': return { request: { command, card: r.i32(), shareMode: r.u32(), preferredProtocols: r.u32(), initialization: r.u32() }, length };
    case 'disconnect': return { request: { command, card: r.i32(), disposition: r.u32() }, length };
    case 'begin-transaction': return { request: { command, card: r.i32() }, length };
    case 'end-transaction': return { request: { command, card: r.i32(), disposition: r.u32() }, length };
    case 'status': return { request: { command, card: r.i32() }, length };
    case 'cancel': return { request: { command, context: r.i32() }, length };
    case 'transmit': {
      const card = r.i32();
      const protocol = r.u32();
      r.u32(); // send PCI length
      const sendLength = r.u32();
      r.u32(); // receive PCI protocol
      r.u32(); // receive PCI length
      const receiveLength = r.u32();
      if (sendLength === 0 || sendLength > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `sendLength ${sendLength}`, { field: 'sendLength', value: sendLength });
      if (receiveLength < 2 || receiveLength > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `receiveLength ${receiveLength}`, { field: 'receiveLength', value: receiveLength });
      if (bytes.length < length + sendLength) return undefined;
      return { request: { command, card, protocol, apdu: bytes.slice(length, length + sendLength), receiveLength }, length: length + sendLength };
    }
    case 'get-readers-state':
    case 'wait-reader-state-change':
    case 'stop-waiting-reader-state-change':
      return { request: { command }, length };
  }
}

function encodeReaderStates(readers: readonly PcscReaderState[]): Uint8Array {
  const out = new Uint8Array(PCSC_LIMITS.READER_STATES_LENGTH);
  const view = new DataView(out.buffer);
  const used = new Set<number>();
  for (const s of readers) {
    if (!Number.isInteger(s.index) || s.index < 0 || s.index >= PCSC_LIMITS.MAX_READERS || used.has(s.index)) throw new ProtocolError('PROTO_ERR_PCSC_FIELD', `reader index ${s.index}`, { field: 'index', value: s.index });
    used.add(s.index);
    if (s.atr.length > PCSC_LIMITS.MAX_ATR_SIZE) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `ATR of ${s.atr.length} bytes`, { field: 'atr', value: s.atr.length });
    const o = s.index * PCSC_LIMITS.READER_STATE_LENGTH;
    out.set(encodeName(s.name, 'name'), o);
    view.setUint32(o + 128, u32(s.eventCounter, 'eventCounter'), true);
    view.setUint32(o + 132, u32(s.state, 'state'), true);
    view.setInt32(o + 136, i32(s.sharing, 'sharing'), true);
    out.set(s.atr, o + 140);
    view.setUint32(o + 176, s.atr.length, true);
    view.setUint32(o + 180, u32(s.protocol, 'protocol'), true);
  }
  return out;
}

/**
 * Decodes the 16-entry reader-state table (exactly {@link PCSC_LIMITS}.READER_STATES_LENGTH
 * bytes); entries with an empty name are unused and left out. [eventhandler.h READER_STATE]
 * @throws ProtocolError `PROTO_ERR_PCSC_SIZE` (wrong length), `PROTO_ERR_PCSC_STRING`,
 *   `PROTO_ERR_PCSC_LENGTH` (ATR length above 33).
 */
export function decodeReaderStates(bytes: Uint8Array): PcscReaderState[] {
  if (bytes.length !== PCSC_LIMITS.READER_STATES_LENGTH) throw new ProtocolError('PROTO_ERR_PCSC_SIZE', `reader states: ${bytes.length} bytes`, { field: 'readerStates', value: bytes.length });
  const out: PcscReaderState[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let index = 0; index < PCSC_LIMITS.MAX_READERS; index++) {
    const o = index * PCSC_LIMITS.READER_STATE_LENGTH;
    if (bytes[o] === 0) continue;
    const name = decodeName(bytes.subarray(o, o + 128), `readers[${index}].name`);
    const atrLength = view.getUint32(o + 176, true);
    // pcscd marks a never-powered card with MAX_ATR_SIZE + 1 [eventhandler.h READER_NOT_INITIALIZED]: no ATR.
    if (atrLength > PCSC_LIMITS.MAX_ATR_SIZE + 1) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `readers[${index}]: ATR length ${atrLength}`, { field: `readers[${index}].atrLength`, value: atrLength });
    const atr = atrLength > PCSC_LIMITS.MAX_ATR_SIZE ? new Uint8Array(0) : bytes.slice(o + 140, o + 140 + atrLength);
    out.push({ index, name, eventCounter: view.getUint32(o + 128, true), state: view.getUint32(o + 132, true), sharing: view.getInt32(o + 136, true), atr, protocol: view.getUint32(o + 180, true) });
  }
  return out;
}

/**
 * Encodes an answer (the daemon's side: OneCard's test daemon and the round-trip tests).
 * @throws ProtocolError `PROTO_ERR_PCSC_FIELD`, `PROTO_ERR_PCSC_STRING`, `PROTO_ERR_PCSC_LENGTH`.
 */
export function encodeResponse(r: PcscResponse): Uint8Array {
  if (r.kind === 'readers-state') return encodeReaderStates(r.readers);
  const extra = r.kind === 'transmit' && r.rv === SCARD_RV.S_SUCCESS ? r.apdu.length : 0;
  const w = new Writer(RESPONSE_BODY[r.kind] + extra);
  switch (r.kind) {
    case 'version': w.i32(r.major, 'major').i32(r.minor, 'minor').u32(r.rv, 'rv'); break;
    case 'establish-context': w.u32(r.scope, 'scope').u32(r.context, 'context').u32(r.rv, 'rv'); break;
    case 'release-context': w.u32(r.context, 'context').u32(r.rv, 'rv'); break;
    case 'connect': w.u32(r.context, 'context').name(r.reader, 'reader').u32(r.shareMode, 'shareMode').u32(r.preferredProtocols, 'preferredProtocols').i32(r.card, 'card').u32(r.activeProtocol, 'activeProtocol').u32(r.rv, 'rv'); break;
    case 'reconnect': w.i32(r.card, 'card').u32(r.shareMode, 'shareMode').u32(r.preferredProtocols, 'preferredProtocols').u32(r.initialization, 'initialization').u32(r.activeProtocol, 'activeProtocol').u32(r.rv, 'rv'); break;
    case 'disconnect': w.i32(r.card, 'card').u32(r.disposition, 'disposition').u32(r.rv, 'rv'); break;
    case 'begin-transaction': w.i32(r.card, 'card').u32(r.rv, 'rv'); break;
    case 'end-transaction': w.i32(r.card, 'card').u32(r.disposition, 'disposition').u32(r.rv, 'rv'); break;
    case 'status': w.i32(r.card, 'card').u32(r.rv, 'rv'); break;
    case 'cancel': w.i32(r.context, 'context').u32(r.rv, 'rv'); break;
    case 'wait-end': w.u32(0, 'timeOut').u32(r.rv, 'rv'); break;
    case 'transmit':
      if (extra > 0) checkApdu(r.apdu, 'apdu');
      w.i32(r.card, 'card').u32(r.protocol, 'protocol').u32(PCSC_LIMITS.IO_REQUEST_LENGTH, 'sendPciLength').u32(0, 'sendLength')
        .u32(r.receiveProtocol, 'receiveProtocol').u32(PCSC_LIMITS.IO_REQUEST_LENGTH, 'receivePciLength').u32(extra > 0 ? r.apdu.length : r.receiveLength, 'receiveLength').u32(r.rv, 'rv');
      if (extra > 0) w.raw(r.apdu);
      break;
  }
  return w.bytes;
}

/**
 * Decodes the answer of kind `kind` from the start of `bytes` (the client's side). Returns
 * `undefined` while incomplete. A TRANSMIT answer carries the response APDU only when `rv` is
 * success; a CONNECT answer's reader name may be empty.
 * @throws ProtocolError `PROTO_ERR_PCSC_STRING`, `PROTO_ERR_PCSC_LENGTH` (response APDU or ATR
 *   length out of range).
 */
export function decodeResponse(kind: PcscResponseKind, bytes: Uint8Array): { readonly response: PcscResponse; readonly length: number } | undefined {
  const length = RESPONSE_BODY[kind];
  if (bytes.length < length) return undefined;
  if (kind === 'readers-state') return { response: { kind, readers: decodeReaderStates(bytes.subarray(0, length)) }, length };
  const r = new Reader(bytes, 0);
  switch (kind) {
    case 'version': return { response: { kind, major: r.i32(), minor: r.i32(), rv: r.u32() }, length };
    case 'establish-context': return { response: { kind, scope: r.u32(), context: r.u32(), rv: r.u32() }, length };
    case 'release-context': return { response: { kind, context: r.u32(), rv: r.u32() }, length };
    case 'connect': return { response: { kind, context: r.u32(), reader: r.name('reader'), shareMode: r.u32(), preferredProtocols: r.u32(), card: r.i32(), activeProtocol: r.u32(), rv: r.u32() }, length };
    case 'reconnect': return { response: { kind, card: r.i32(), shareMode: r.u32(), preferredProtocols: r.u32(), initialization: r.u32(), activeProtocol: r.u32(), rv: r.u32() }, length };
    case 'disconnect': return { response: { kind, card: r.i32(), disposition: r.u32(), rv: r.u32() }, length };
    case 'begin-transaction': return { response: { kind, card: r.i32(), rv: r.u32() }, length };
    case 'end-transaction': return { response: { kind, card: r.i32(), disposition: r.u32(), rv: r.u32() }, length };
    case 'status': return { response: { kind, card: r.i32(), rv: r.u32() }, length };
    case 'cancel': return { response: { kind, context: r.i32(), rv: r.u32() }, length };
    case 'wait-end': {
      r.u32(); // timeOut
      return { response: { kind, rv: r.u32() }, length };
    }
    case 'transmit': {
      const card = r.i32();
      const protocol = r.u32();
      r.u32(); // send PCI length
      r.u32(); // send length
      const receiveProtocol = r.u32();
      r.u32(); // receive PCI length
      const receiveLength = r.u32();
      const rv = r.u32();
      if (rv !== SCARD_RV.S_SUCCESS) return { response: { kind, card, protocol, receiveProtocol, receiveLength, rv, apdu: new Uint8Array(0) }, length };
      if (receiveLength > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new ProtocolError('PROTO_ERR_PCSC_LENGTH', `receiveLength ${receiveLength}`, { field: 'receiveLength', value: receiveLength });
      if (bytes.length < length + receiveLength) return undefined;
      return { response: { kind, card, protocol, receiveProtocol, receiveLength, rv, apdu: bytes.slice(length, length + receiveLength) }, length: length + receiveLength };
    }
  }
}

/**
 * Incremental answer reader for one socket: `expect(kind)` queues the answers the client waits
 * for, in order; `push(chunk)` returns every answer completed by the chunk. Bytes that arrive
 * while nothing is expected are a protocol violation.
 * @throws ProtocolError from {@link decodeResponse}; `PROTO_ERR_PCSC_TRAILING` for unexpected bytes.
 */
export class PcscResponseReader {
  #buf: Uint8Array = new Uint8Array(0);
  readonly #expect: PcscResponseKind[] = [];

  expect(kind: PcscResponseKind): void {
    this.#expect.push(kind);
  }

  /** Answers still awaited. */
  get pending(): number {
    return this.#expect.length;
  }

  push(chunk: Uint8Array): PcscResponse[] {
    if (this.#buf.length === 0) this.#buf = chunk.slice();
    else {
      const b = new Uint8Array(this.#buf.length + chunk.length);
      b.set(this.#buf);
      b.set(chunk, this.#buf.length);
      this.#buf = b;
    }
    const out: PcscResponse[] = [];
    while (this.#buf.length > 0) {
      const kind = this.#expect[0];
      if (kind === undefined) throw new ProtocolError('PROTO_ERR_PCSC_TRAILING', `${this.#buf.length} unexpected bytes`, { field: 'stream', value: this.#buf.length });
      const d = decodeResponse(kind, this.#buf);
      if (d === undefined) break;
      this.#expect.shift();
      out.push(d.response);
      this.#buf = this.#buf.subarray(d.length);
    }
    return out;
  }
}
