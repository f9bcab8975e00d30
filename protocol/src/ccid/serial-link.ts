/**
 * GemPC Twin serial link framing ("ccid_serial", reader-link.md §8): CCID messages wrapped in
 * `SYNC ‖ CTRL ‖ message ‖ LRC`, the 3-byte NAK frame, the inline `50 xx` card-movement notice and
 * the one-byte T=0 time request. The encoders build what either side writes; the incremental
 * decoder ({@link createSerialDecoder}) reads either direction: `side: 'host'` parses what a reader
 * sends, exactly as the pcsc-lite serial driver does (including dropping the GemPC Twin's echo of
 * the host frame), and `side: 'reader'` parses what the host driver writes (the reader simulator).
 * Sans-I/O: bytes in, events out; "need more bytes" is silence, malformed bytes become `garbage`
 * events and the decoder resynchronises on the next byte that can start a frame.
 */
import { ProtocolError } from '../errors.ts';
import type { ProtocolErrorCode } from '../errors.ts';
import { CCID_HEADER_LENGTH } from './messages.ts';

/** Byte values of the serial framing. [CCID serial §8.2] */
export const SERIAL_BYTES = {
  SYNC: 0x03,
  CTRL_ACK: 0x06,
  CTRL_NAK: 0x15,
  /** LRC of the NAK frame: 03 ⊕ 15. */
  NAK_LRC: 0x16,
  NOTIFY_SLOT_CHANGE: 0x50,
  CARD_ABSENT: 0x02,
  CARD_PRESENT: 0x03,
  /** T=0 time request bytes are 80..FF. */
  TIME_REQUEST_MIN: 0x80,
  /** XOR of the CCID message bytes and the LRC of a good ACK frame: 03 ⊕ 06. */
  LRC_CHECK: 0x05,
} as const;

/** Driver buffer: (271 + 2 + 1) · 2 = 548 bytes (short APDU, header, LRC, doubled for the echo). [CCID serial §8.2] */
export const SERIAL_BUFFER_SIZE = (271 + 2 + 1) * 2;

/** Longest CCID message the driver writes: buffer minus SYNC, CTRL and LRC = 545. [CCID serial §8.2] */
export const SERIAL_MAX_MESSAGE_LENGTH = SERIAL_BUFFER_SIZE - 3;

/** The NAK frame `03 15 16`. [CCID serial §8.2] */
export const SERIAL_NAK_FRAME: Uint8Array = Uint8Array.of(SERIAL_BYTES.SYNC, SERIAL_BYTES.CTRL_NAK, SERIAL_BYTES.NAK_LRC);

/** XOR of all bytes. [CCID serial §8.2] */
export function serialLrc(bytes: Uint8Array, initial = 0): number {
  let x = initial;
  for (let i = 0; i < bytes.length; i++) x ^= bytes[i]!;
  return x;
}

/**
 * Wraps one CCID message: `03 ‖ 06 ‖ message ‖ LRC`, LRC = XOR of every byte before it, SYNC and
 * CTRL included. The same bytes serve for a host command, a reader response and the reader's echo.
 * [CCID serial §8.2]
 * @throws ProtocolError `PROTO_ERR_CCID_SERIAL_TOO_LONG` when the message exceeds `maxMessageLength`
 *   (default 545, the driver's limit), `PROTO_ERR_CCID_TRUNCATED` when shorter than a CCID header.
 */
export function encodeSerialFrame(message: Uint8Array, maxMessageLength: number = SERIAL_MAX_MESSAGE_LENGTH): Uint8Array {
  if (message.length < CCID_HEADER_LENGTH) {
    throw new ProtocolError('PROTO_ERR_CCID_TRUNCATED', 'a serial frame carries a whole CCID message', { field: 'message', length: message.length });
  }
  // [CCID serial §8.2] a command longer than the buffer minus 3 is refused.
  if (message.length > maxMessageLength) {
    throw new ProtocolError('PROTO_ERR_CCID_SERIAL_TOO_LONG', `${message.length} > ${maxMessageLength}`, { field: 'message', length: message.length, max: maxMessageLength });
  }
  const out = new Uint8Array(message.length + 3);
  out[0] = SERIAL_BYTES.SYNC;
  out[1] = SERIAL_BYTES.CTRL_ACK;
  out.set(message, 2);
  out[out.length - 1] = serialLrc(message, SERIAL_BYTES.SYNC ^ SERIAL_BYTES.CTRL_ACK);
  return out;
}

/**
 * The asynchronous card-movement notice `50 ‖ state`: `02` absent, `03` present (any byte may be
 * given for fault injection). [CCID serial §8.2]
 * @throws ProtocolError `PROTO_ERR_CCID_SERIAL_BYTE` for a non-byte state.
 */
export function encodeSlotChangeNotice(state: 'absent' | 'present' | number): Uint8Array {
  const b = state === 'absent' ? SERIAL_BYTES.CARD_ABSENT : state === 'present' ? SERIAL_BYTES.CARD_PRESENT : state;
  if (!Number.isInteger(b) || b < 0 || b > 0xff) throw new ProtocolError('PROTO_ERR_CCID_SERIAL_BYTE', 'slot state must be a byte', { field: 'state', value: b });
  return Uint8Array.of(SERIAL_BYTES.NOTIFY_SLOT_CHANGE, b);
}

/**
 * A T=0 time request: one byte `80`–`FF`, which the host ignores while it keeps waiting. [CCID serial §8.2, §8.3]
 * @throws ProtocolError `PROTO_ERR_CCID_SERIAL_BYTE` outside 80..FF.
 */
export function encodeTimeRequest(byte: number = SERIAL_BYTES.TIME_REQUEST_MIN): Uint8Array {
  if (!Number.isInteger(byte) || byte < SERIAL_BYTES.TIME_REQUEST_MIN || byte > 0xff) {
    throw new ProtocolError('PROTO_ERR_CCID_SERIAL_BYTE', 'time request must be 80..FF', { field: 'timeRequest', value: byte });
  }
  return Uint8Array.of(byte);
}

/** What the serial decoder reports. */
export type SerialEvent =
  /** An ACK frame: `message` is the CCID message, `raw` the frame as received. `lrcOk` false only in compatible mode. */
  | { readonly type: 'frame'; readonly message: Uint8Array; readonly raw: Uint8Array; readonly lrcOk: boolean }
  /** Host side, echo on: the first complete frame after {@link SerialDecoder.expectEcho}, dropped by the driver. */
  | { readonly type: 'echo'; readonly message: Uint8Array; readonly raw: Uint8Array; readonly lrcOk: boolean }
  /** The NAK frame `03 15 16`: the host replays the whole command. */
  | { readonly type: 'nak' }
  /** Host side: `50 xx`; `present` is null for a state other than 02 / 03 (logged as unknown by the driver). */
  | { readonly type: 'slot-change'; readonly bits: number; readonly present: boolean | null }
  /** Host side: a T=0 time request byte (80..FF), ignored while waiting. */
  | { readonly type: 'time-request'; readonly byte: number }
  /** Bytes dropped while resynchronising; `code` says which rule they broke, `field` which byte. */
  | { readonly type: 'garbage'; readonly bytes: Uint8Array; readonly code: ProtocolErrorCode; readonly field: string };

export interface SerialDecoderOptions {
  /**
   * `host`: decode reader → host bytes (notices, time requests, echo). `reader`: decode host →
   * reader bytes (the driver only writes SYNC frames; anything else is garbage).
   */
  readonly side: 'host' | 'reader';
  /** Host side: the reader echoes each host frame (GemPC Twin: true; GemCore POS/SIM Pro, SEC1210: false). Default false. */
  readonly echo?: boolean;
  /**
   * `compatible` (default): a wrong LRC is reported on the frame (`lrcOk: false`) and the frame is
   * delivered, as the driver only logs it. `strict`: the frame becomes `garbage`
   * (`PROTO_ERR_CCID_SERIAL_LRC`). [CCID serial §8.3, ONECARD]
   */
  readonly lrc?: 'strict' | 'compatible';
  /** Largest accepted frame size (10 + dwLength); default 545. Larger sizes are garbage. [CCID serial §8.3] */
  readonly maxMessageLength?: number;
}

/** Incremental serial decoder: see {@link createSerialDecoder}. */
export interface SerialDecoder {
  /** Feeds received bytes; returns the events they complete (none while a frame is incomplete). */
  push(chunk: Uint8Array): SerialEvent[];
  /**
   * Host side with echo on: the next complete ACK frame is the echo of the host command. Call it
   * each time the host starts reading a reply (after writing a command, and again before any
   * re-read, since the driver re-arms the echo at every read, including the re-read after a
   * time-extension response). A NAK or the echo itself disarms it. No effect when echo is off.
   */
  expectEcho(): void;
  /** True while an echo is expected. */
  readonly echoPending: boolean;
  /** Bytes buffered waiting for the rest of a frame. */
  readonly buffered: number;
  /** Drops buffered bytes and the echo expectation (the driver does so after a failed read). */
  reset(): void;
}

type Step = { readonly need: true } | { readonly need: false; readonly consumed: number; readonly event: SerialEvent | null };
const NEED: Step = { need: true };

class SerialDecoderImpl implements SerialDecoder {
  readonly #host: boolean;
  readonly #echo: boolean;
  readonly #strict: boolean;
  readonly #max: number;
  #buf: Uint8Array = new Uint8Array(0);
  #echoPending = false;

  constructor(opts: SerialDecoderOptions) {
    this.#host = opts.side === 'host';
    this.#echo = this.#host && (opts.echo ?? false);
    this.#strict = opts.lrc === 'strict';
    this.#max = opts.maxMessageLength ?? SERIAL_MAX_MESSAGE_LENGTH;
  }

  get echoPending(): boolean {
    return this.#echoPending;
  }

  get buffered(): number {
    return this.#buf.length;
  }

  expectEcho(): void {
    if (this.#echo) this.#echoPending = true;
  }

  reset(): void {
    this.#buf = new Uint8Array(0);
    this.#echoPending = false;
  }

  push(chunk: Uint8Array): SerialEvent[] {
    let b: Uint8Array;
    if (this.#buf.length === 0) b = chunk;
    else {
      b = new Uint8Array(this.#buf.length + chunk.length);
      b.set(this.#buf);
      b.set(chunk, this.#buf.length);
    }
    const events: SerialEvent[] = [];
    let p = 0;
    while (p < b.length) {
      const s = this.#step(b, p);
      if (s.need) break;
      if (s.event !== null) events.push(s.event);
      p += s.consumed;
    }
    this.#buf = b.slice(p);
    return events;
  }

  #garbage(b: Uint8Array, p: number, n: number, code: ProtocolErrorCode, field: string): Step {
    return { need: false, consumed: n, event: { type: 'garbage', bytes: b.slice(p, p + n), code, field } };
  }

  #step(b: Uint8Array, p: number): Step {
    const avail = b.length - p;
    const c = b[p]!;
    if (c === SERIAL_BYTES.SYNC) return this.#afterSync(b, p, avail);
    if (this.#host) {
      // [CCID serial §8.3] 50: read the state byte, report the card movement, keep reading.
      if (c === SERIAL_BYTES.NOTIFY_SLOT_CHANGE) {
        if (avail < 2) return NEED;
        const bits = b[p + 1]!;
        const present = bits === SERIAL_BYTES.CARD_PRESENT ? true : bits === SERIAL_BYTES.CARD_ABSENT ? false : null;
        return { need: false, consumed: 2, event: { type: 'slot-change', bits, present } };
      }
      // [CCID serial §8.3] 80..FF: T=0 time request, ignored while waiting.
      if (c >= SERIAL_BYTES.TIME_REQUEST_MIN) return { need: false, consumed: 1, event: { type: 'time-request', byte: c } };
    }
    // [CCID serial §8.3] anything else is a communication error; resynchronise on the next byte.
    return this.#garbage(b, p, 1, 'PROTO_ERR_CCID_SERIAL_LEAD', 'sync');
  }

  #afterSync(b: Uint8Array, p: number, avail: number): Step {
    if (avail < 2) return NEED;
    const ctrl = b[p + 1]!;
    if (ctrl === SERIAL_BYTES.CTRL_NAK) {
      if (avail < 3) return NEED;
      // [CCID serial §8.3] after 03 15 the next byte must be 16.
      if (b[p + 2] !== SERIAL_BYTES.NAK_LRC) return this.#garbage(b, p, 2, 'PROTO_ERR_CCID_SERIAL_NAK_LRC', 'lrc');
      this.#echoPending = false; // a NAK ends the read
      return { need: false, consumed: 3, event: { type: 'nak' } };
    }
    // [CCID serial §8.3] CTRL neither ACK nor NAK: drop the SYNC byte only; CTRL may start a frame.
    if (ctrl !== SERIAL_BYTES.CTRL_ACK) return this.#garbage(b, p, 1, 'PROTO_ERR_CCID_SERIAL_CTRL', 'ctrl');
    // [CCID serial §8.3] ACK: bMessageType and dwLength give the frame size 10 + dwLength.
    if (avail < 7) return NEED;
    const dwLength = ((b[p + 3]! | (b[p + 4]! << 8) | (b[p + 5]! << 16)) >>> 0) + b[p + 6]! * 0x1000000;
    const size = CCID_HEADER_LENGTH + dwLength;
    // [CCID serial §8.3] a frame size above the buffer is an error.
    if (size > this.#max) return this.#garbage(b, p, 2, 'PROTO_ERR_CCID_SERIAL_FRAME_SIZE', 'dwLength');
    const total = 2 + size + 1;
    if (avail < total) return NEED;
    const raw = b.slice(p, p + total);
    const message = raw.slice(2, 2 + size);
    // [CCID serial §8.2] XOR of the CCID message bytes and the LRC must equal 03 ⊕ 06 = 05.
    const lrcOk = serialLrc(message, raw[total - 1]!) === SERIAL_BYTES.LRC_CHECK;
    const wasEcho = this.#echoPending;
    this.#echoPending = false;
    // [ONECARD] strict mode rejects a wrong LRC; compatible mode only flags it, like the driver.
    if (!lrcOk && this.#strict) return { need: false, consumed: total, event: { type: 'garbage', bytes: raw, code: 'PROTO_ERR_CCID_SERIAL_LRC', field: 'lrc' } };
    // [CCID serial §8.3] with echo on, the first complete frame is the echo and is dropped.
    return { need: false, consumed: total, event: { type: wasEcho ? 'echo' : 'frame', message, raw, lrcOk } };
  }
}

/**
 * Creates an incremental serial decoder for one direction of the GemPC serial link. Never throws
 * on input: malformed bytes become `garbage` events carrying one of `PROTO_ERR_CCID_SERIAL_LEAD`,
 * `PROTO_ERR_CCID_SERIAL_CTRL`, `PROTO_ERR_CCID_SERIAL_NAK_LRC`, `PROTO_ERR_CCID_SERIAL_FRAME_SIZE`,
 * `PROTO_ERR_CCID_SERIAL_LRC` (strict mode). The events for a byte stream do not depend on how it
 * is split into chunks. [CCID serial §8.2, §8.3]
 */
export function createSerialDecoder(opts: SerialDecoderOptions): SerialDecoder {
  return new SerialDecoderImpl(opts);
}
