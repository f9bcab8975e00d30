/**
 * OneCard HID link [ONECARD]: CCID messages (any size up to 65 546 bytes) carried in fixed-size
 * HID reports (64 bytes by default), for readers reached through hidraw / node-hid instead of a
 * serial port. Each report is `report id ‖ flags ‖ sequence ‖ payload length ‖ payload ‖ zero
 * padding`; the exact format is in docs/hid-link.md. {@link encodeHidReports} fragments a message;
 * {@link createHidReassembler} reassembles reports incrementally and reports every violation as a
 * coded `error` event, then resynchronises on the next first report.
 */
import { ProtocolError } from '../errors.ts';
import type { ProtocolErrorCode } from '../errors.ts';

/** Report layout constants. [HID link §2] */
export const HID_LINK = Object.freeze({
  /** Default report size, report id byte included. */
  REPORT_SIZE: 64,
  /** Default report id. */
  REPORT_ID: 0x01,
  /** Bytes before the payload: report id, flags, sequence, payload length. */
  HEADER_LENGTH: 4,
  FLAG_FIRST: 0x01,
  FLAG_LAST: 0x02,
  /** Largest message: a 10-byte CCID header plus 65 536 data bytes. */
  MAX_MESSAGE_LENGTH: 10 + 65536,
} as const);

export interface HidLinkOptions {
  /** Report id in byte 0 (0..255), default 01. */
  readonly reportId?: number;
  /** Report size including the report id byte (5..255), default 64. */
  readonly reportSize?: number;
  /** Largest message accepted or produced, default 65 546. */
  readonly maxMessageLength?: number;
}

interface Resolved {
  readonly reportId: number;
  readonly reportSize: number;
  readonly capacity: number;
  readonly max: number;
}

function resolve(opts: HidLinkOptions): Resolved {
  const reportId = opts.reportId ?? HID_LINK.REPORT_ID;
  const reportSize = opts.reportSize ?? HID_LINK.REPORT_SIZE;
  const max = opts.maxMessageLength ?? HID_LINK.MAX_MESSAGE_LENGTH;
  if (!Number.isInteger(reportId) || reportId < 0 || reportId > 0xff) throw new ProtocolError('PROTO_ERR_CCID_FIELD', 'reportId must be a byte', { field: 'reportId', value: reportId });
  // [HID link §2] the payload length is one byte, so at most 255 - 4 payload bytes per report.
  if (!Number.isInteger(reportSize) || reportSize < HID_LINK.HEADER_LENGTH + 1 || reportSize > 0xff + HID_LINK.HEADER_LENGTH) {
    throw new ProtocolError('PROTO_ERR_CCID_FIELD', 'reportSize out of range', { field: 'reportSize', value: reportSize });
  }
  if (!Number.isInteger(max) || max < 1) throw new ProtocolError('PROTO_ERR_CCID_FIELD', 'maxMessageLength must be positive', { field: 'maxMessageLength', value: max });
  return { reportId, reportSize, capacity: reportSize - HID_LINK.HEADER_LENGTH, max };
}

/**
 * Splits one message into reports: the first has flag FIRST and sequence 0, each next report
 * increments the sequence (mod 256), the last has flag LAST; every report but the last is full.
 * [HID link §2, §3]
 * @throws ProtocolError `PROTO_ERR_CCID_HID_LENGTH` for an empty message,
 *   `PROTO_ERR_CCID_HID_OVERFLOW` above `maxMessageLength`, `PROTO_ERR_CCID_FIELD` for bad options.
 */
export function encodeHidReports(message: Uint8Array, opts: HidLinkOptions = {}): Uint8Array[] {
  const o = resolve(opts);
  if (message.length === 0) throw new ProtocolError('PROTO_ERR_CCID_HID_LENGTH', 'empty message', { field: 'message', length: 0 });
  if (message.length > o.max) throw new ProtocolError('PROTO_ERR_CCID_HID_OVERFLOW', `${message.length} > ${o.max}`, { field: 'message', length: message.length, max: o.max });
  const n = Math.ceil(message.length / o.capacity);
  const reports: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const part = message.subarray(i * o.capacity, Math.min(message.length, (i + 1) * o.capacity));
    const r = new Uint8Array(o.reportSize);
    r[0] = o.reportId;
    r[1] = (i === 0 ? HID_LINK.FLAG_FIRST : 0) | (i === n - 1 ? HID_LINK.FLAG_LAST : 0);
    r[2] = i & 0xff;
    r[3] = part.length;
    r.set(part, HID_LINK.HEADER_LENGTH);
    reports.push(r);
  }
  return reports;
}

/** What the reassembler reports. */
export type HidLinkEvent =
  | { readonly type: 'message'; readonly message: Uint8Array }
  /** A violation; the offending report is dropped and any partial message discarded (except `UNEXPECTED_FIRST`, see below). */
  | { readonly type: 'error'; readonly code: ProtocolErrorCode; readonly field: string; readonly detail: string };

/** Incremental reassembler: see {@link createHidReassembler}. */
export interface HidReassembler {
  /** Feeds one input report; returns the completed message and/or errors it causes. */
  push(report: Uint8Array): HidLinkEvent[];
  /** True while a message has started and not ended. */
  readonly inProgress: boolean;
  /** Discards any partial message. */
  reset(): void;
}

class HidReassemblerImpl implements HidReassembler {
  readonly #o: Resolved;
  #parts: Uint8Array[] = [];
  #length = 0;
  #nextSeq = -1; // -1: idle

  constructor(opts: HidLinkOptions) {
    this.#o = resolve(opts);
  }

  get inProgress(): boolean {
    return this.#nextSeq >= 0;
  }

  reset(): void {
    this.#parts = [];
    this.#length = 0;
    this.#nextSeq = -1;
  }

  #fail(code: ProtocolErrorCode, field: string, detail: string): HidLinkEvent[] {
    this.reset();
    return [{ type: 'error', code, field, detail }];
  }

  push(report: Uint8Array): HidLinkEvent[] {
    const o = this.#o;
    // [HID link §2] fixed report size, report id byte included.
    if (report.length !== o.reportSize) return this.#fail('PROTO_ERR_CCID_HID_REPORT_SIZE', 'report', `${report.length} bytes, expected ${o.reportSize}`);
    if (report[0] !== o.reportId) return this.#fail('PROTO_ERR_CCID_HID_REPORT_ID', 'reportId', `got ${report[0]}, expected ${o.reportId}`);
    const flags = report[1]!;
    const seq = report[2]!;
    const len = report[3]!;
    // [HID link §2] flag bits 7–2 are reserved and zero.
    if ((flags & ~(HID_LINK.FLAG_FIRST | HID_LINK.FLAG_LAST)) !== 0) return this.#fail('PROTO_ERR_CCID_HID_FLAGS', 'flags', `reserved bits in ${flags}`);
    const first = (flags & HID_LINK.FLAG_FIRST) !== 0;
    const last = (flags & HID_LINK.FLAG_LAST) !== 0;
    // [HID link §2] length 1..capacity in the last report, exactly capacity in the others.
    if (len > o.capacity) return this.#fail('PROTO_ERR_CCID_HID_LENGTH', 'length', `${len} > ${o.capacity}`);
    if (last ? len === 0 : len !== o.capacity) return this.#fail('PROTO_ERR_CCID_HID_LENGTH', 'length', last ? 'empty last report' : `non-last report carries ${len} bytes`);
    // [HID link §2] padding after the payload is zero.
    for (let i = HID_LINK.HEADER_LENGTH + len; i < report.length; i++) {
      if (report[i] !== 0) return this.#fail('PROTO_ERR_CCID_HID_PADDING', 'padding', `non-zero byte at offset ${i}`);
    }
    const events: HidLinkEvent[] = [];
    if (first) {
      // [HID link §3] a first report while a message is open: the open message is lost; start the new one.
      if (this.inProgress) {
        events.push({ type: 'error', code: 'PROTO_ERR_CCID_HID_UNEXPECTED_FIRST', field: 'flags', detail: `message abandoned after ${this.#length} bytes` });
        this.reset();
      }
      // [HID link §3] the first report has sequence 0.
      if (seq !== 0) return [...events, ...this.#fail('PROTO_ERR_CCID_HID_SEQUENCE', 'sequence', `first report has sequence ${seq}`)];
    } else {
      // [HID link §3] a continuation needs an open message and the next sequence number.
      if (!this.inProgress) return this.#fail('PROTO_ERR_CCID_HID_MISSING_FIRST', 'flags', `continuation report ${seq} with no message open`);
      if (seq !== this.#nextSeq) return this.#fail('PROTO_ERR_CCID_HID_SEQUENCE', 'sequence', `got ${seq}, expected ${this.#nextSeq}`);
    }
    // [HID link §3] the message may not grow past maxMessageLength.
    if (this.#length + len > o.max) return [...events, ...this.#fail('PROTO_ERR_CCID_HID_OVERFLOW', 'length', `more than ${o.max} bytes`)];
    this.#parts.push(report.slice(HID_LINK.HEADER_LENGTH, HID_LINK.HEADER_LENGTH + len));
    this.#length += len;
    this.#nextSeq = (seq + 1) & 0xff;
    if (last) {
      const message = new Uint8Array(this.#length);
      let off = 0;
      for (const p of this.#parts) {
        message.set(p, off);
        off += p.length;
      }
      this.reset();
      events.push({ type: 'message', message });
    }
    return events;
  }
}

/**
 * Creates an incremental HID reassembler. Never throws on input; each violation is an `error`
 * event with one of `PROTO_ERR_CCID_HID_REPORT_SIZE`, `PROTO_ERR_CCID_HID_REPORT_ID`,
 * `PROTO_ERR_CCID_HID_FLAGS`, `PROTO_ERR_CCID_HID_LENGTH`, `PROTO_ERR_CCID_HID_PADDING`,
 * `PROTO_ERR_CCID_HID_SEQUENCE`, `PROTO_ERR_CCID_HID_MISSING_FIRST`,
 * `PROTO_ERR_CCID_HID_UNEXPECTED_FIRST`, `PROTO_ERR_CCID_HID_OVERFLOW`. [HID link §3]
 * @throws ProtocolError `PROTO_ERR_CCID_FIELD` for invalid options.
 */
export function createHidReassembler(opts: HidLinkOptions = {}): HidReassembler {
  return new HidReassemblerImpl(opts);
}
