/**
 * SIP2 message codec: pure functions over `Uint8Array`. A message on the wire is
 * `code fixed-fields {ID value |}* [AY n AZ xxxx] CR` [SIP2 2.00 §Message format]. With error
 * detection on, every message but the resend requests carries the sequence number `AY` (one
 * digit) and the checksum `AZ`, four upper-case hex digits: the two's complement of the 16-bit
 * sum of every byte from the first byte of the message up to and including the `AZ` identifier
 * [SIP2 2.00 §Error detection]. The sum is taken over the encoded bytes, so it holds for GBK and
 * UTF-8 alike. Text is decoded before it is split on `|` because a GBK trail byte may be `7C`.
 */
import { ProtocolError } from '../errors.ts';
import { decodeSip2Text, encodeSip2Text, type Sip2Charset } from './charset.ts';
import { SIP2_MESSAGES, isSip2Code, type Sip2Code, type Sip2FixedField } from './messages.ts';

/** A decoded (or to-be-encoded) message. `fields` keeps wire order; an id may repeat (AF, AS…). */
export interface Sip2Message {
  readonly code: Sip2Code;
  /** Fixed fields by their name in {@link SIP2_MESSAGES}. */
  readonly fixed: Readonly<Record<string, string>>;
  readonly fields: readonly (readonly [id: string, value: string])[];
  /** `AY`, when the message carried one. */
  readonly seq?: number;
  /** True when the message carried a checksum (it was verified). */
  readonly checksummed?: boolean;
}

export interface Sip2CodecOptions {
  readonly charset: Sip2Charset;
  /** Error detection: AY and AZ on every message (but 96/97, which carry AZ only). */
  readonly errorDetection: boolean;
}

/** The checksum of `bytes` (up to and including `AZ`) as four upper-case hex digits [SIP2 2.00 §Error detection]. */
export function sip2Checksum(bytes: Uint8Array): string {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xffff;
  return ((-sum) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

const FIELD_ID = /^[A-Z][A-Z]$/;
const DATE_RE = /^\d{8}[ A-Z0-9]{4}\d{6}$/;
// Printable ASCII for fixed fields; variable values: anything but the separator and control characters.
const FIXED_TEXT = /^[\x20-\x7e]*$/;
const BAD_VALUE = /[|\x00-\x1f\x7f]/;

function checkFixed(def: Sip2FixedField, value: string | undefined, code: string): string {
  const bad = (why: string): never => { throw new ProtocolError('PROTO_ERR_SIP2_FIXED_FIELD', `${code} ${def.name}: ${why}`, { code, field: def.name }); };
  if (value === undefined) return bad('missing');
  if (value.length !== def.length) return bad(`length ${value.length}, expected ${def.length}`);
  switch (def.kind) {
    case 'yn': if (value !== 'Y' && value !== 'N') bad('not Y or N'); break;
    case 'ynu': if (value !== 'Y' && value !== 'N' && value !== 'U') bad('not Y, N or U'); break;
    case 'digits': if (!/^\d+$/.test(value)) bad('not digits'); break;
    case 'date': if (!DATE_RE.test(value)) bad('not YYYYMMDDZZZZHHMMSS'); break;
    case 'date-or-blank': if (value !== ' '.repeat(18) && !DATE_RE.test(value)) bad('not YYYYMMDDZZZZHHMMSS or blank'); break;
    case 'flags': if (!/^[Y ]*$/.test(value)) bad('positions must be Y or blank'); break;
    case 'text': if (!FIXED_TEXT.test(value)) bad('not printable ASCII'); break;
  }
  return value;
}

/**
 * Encodes a message, with `AY seq` and `AZ` when error detection is on, and the closing CR.
 * @throws ProtocolError `PROTO_ERR_SIP2_FIXED_FIELD`, `PROTO_ERR_SIP2_FIELD_VALUE` (bad id, or a
 *   value with `|` or a control character), `PROTO_ERR_SIP2_SEQUENCE` (seq not 0–9),
 *   `PROTO_ERR_SIP2_CHARSET`
 */
export function encodeSip2(msg: Omit<Sip2Message, 'checksummed'>, opts: Sip2CodecOptions): Uint8Array {
  const def = SIP2_MESSAGES[msg.code];
  let text: string = msg.code;
  for (const fd of def.fixed) text += checkFixed(fd, msg.fixed[fd.name], msg.code);
  for (const [id, value] of msg.fields) {
    if (!FIELD_ID.test(id) || id === 'AY' || id === 'AZ') throw new ProtocolError('PROTO_ERR_SIP2_FIELD_VALUE', `field id '${id}'`, { code: msg.code, field: id });
    if (BAD_VALUE.test(value)) throw new ProtocolError('PROTO_ERR_SIP2_FIELD_VALUE', `field ${id}`, { code: msg.code, field: id });
    text += `${id}${value}|`;
  }
  const resend = msg.code === '96' || msg.code === '97';
  if (opts.errorDetection) {
    if (!resend) {
      const seq = msg.seq ?? 0;
      if (!Number.isInteger(seq) || seq < 0 || seq > 9) throw new ProtocolError('PROTO_ERR_SIP2_SEQUENCE', `seq ${seq}`, { code: msg.code });
      text += `AY${seq}`;
    }
    text += 'AZ';
  }
  const body = encodeSip2Text(text, opts.charset);
  const tail = opts.errorDetection ? `${sip2Checksum(body)}\r` : '\r';
  const out = new Uint8Array(body.length + tail.length);
  out.set(body);
  for (let i = 0; i < tail.length; i++) out[body.length + i] = tail.charCodeAt(i);
  return out;
}

/**
 * Decodes one message (the bytes before its CR; a trailing CR is tolerated). With error detection
 * on, the checksum is required and verified before anything else, and `AY` is required except on
 * 96/97; with it off, a checksum that is present is still verified.
 * @throws ProtocolError `PROTO_ERR_SIP2_CHECKSUM`, `PROTO_ERR_SIP2_SEQUENCE`, `PROTO_ERR_SIP2_CHARSET`,
 *   `PROTO_ERR_SIP2_FRAME` (no code, a field without its two-letter id, text after the last
 *   separator), `PROTO_ERR_SIP2_UNKNOWN_MESSAGE`, `PROTO_ERR_SIP2_FIXED_FIELD`,
 *   `PROTO_ERR_SIP2_FIELD_VALUE` (a control character in a value)
 */
export function decodeSip2(frame: Uint8Array, opts: Sip2CodecOptions): Sip2Message {
  let bytes = frame;
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
  // Locate a trailing "AZxxxx" on the raw bytes: the checksum covers bytes, not characters.
  let checksummed = false;
  const n = bytes.length;
  if (n >= 6 && bytes[n - 6] === 0x41 && bytes[n - 5] === 0x5a) {
    const given = String.fromCharCode(...bytes.subarray(n - 4));
    if (!/^[0-9A-Fa-f]{4}$/.test(given)) throw new ProtocolError('PROTO_ERR_SIP2_CHECKSUM', 'AZ is not four hex digits', {});
    const want = sip2Checksum(bytes.subarray(0, n - 4));
    if (given.toUpperCase() !== want) throw new ProtocolError('PROTO_ERR_SIP2_CHECKSUM', `AZ ${given}, computed ${want}`, { given, computed: want });
    bytes = bytes.subarray(0, n - 6);
    checksummed = true;
  } else if (opts.errorDetection) {
    throw new ProtocolError('PROTO_ERR_SIP2_CHECKSUM', 'no AZ at the end of the message', {});
  }
  const text = decodeSip2Text(bytes, opts.charset);
  const code = text.slice(0, 2);
  if (!/^\d\d$/.test(code)) throw new ProtocolError('PROTO_ERR_SIP2_FRAME', 'no two-digit message code', { offset: 0 });
  if (!isSip2Code(code)) throw new ProtocolError('PROTO_ERR_SIP2_UNKNOWN_MESSAGE', `code ${code}`, { code });
  const def = SIP2_MESSAGES[code];
  const fixed: Record<string, string> = {};
  let at = 2;
  for (const fd of def.fixed) {
    fixed[fd.name] = checkFixed(fd, at + fd.length <= text.length ? text.slice(at, at + fd.length) : undefined, code);
    at += fd.length;
  }
  let rest = text.slice(at);
  let seq: number | undefined;
  // "AYn" closes the variable part (it is followed directly by AZ, without a separator).
  const ay = /AY(.?)$/.exec(rest);
  if (ay !== null && (rest.length === ay[0].length || rest[rest.length - ay[0].length - 1] === '|')) {
    if (!/^\d$/.test(ay[1]!)) throw new ProtocolError('PROTO_ERR_SIP2_SEQUENCE', 'AY is not one digit', { code });
    seq = Number(ay[1]);
    rest = rest.slice(0, rest.length - ay[0].length);
  } else if (opts.errorDetection && code !== '96' && code !== '97') {
    throw new ProtocolError('PROTO_ERR_SIP2_SEQUENCE', 'no AY before AZ', { code });
  }
  const fields: [string, string][] = [];
  if (rest.length > 0) {
    if (!rest.endsWith('|')) throw new ProtocolError('PROTO_ERR_SIP2_FRAME', 'text after the last field separator', { code, offset: text.length - rest.length });
    for (const part of rest.slice(0, -1).split('|')) {
      const id = part.slice(0, 2);
      if (!FIELD_ID.test(id)) throw new ProtocolError('PROTO_ERR_SIP2_FRAME', `field without a two-letter id: '${part.slice(0, 8)}'`, { code });
      const value = part.slice(2);
      if (/[\x00-\x1f\x7f]/.test(value)) throw new ProtocolError('PROTO_ERR_SIP2_FIELD_VALUE', `field ${id} holds a control character`, { code, field: id });
      fields.push([id, value]);
    }
  }
  return { code, fixed, fields, ...(seq === undefined ? {} : { seq }), checksummed };
}

/** The first value of field `id`, or `undefined`. */
export function sip2Field(msg: Pick<Sip2Message, 'fields'>, id: string): string | undefined {
  for (const [k, v] of msg.fields) if (k === id) return v;
  return undefined;
}

/** Every value of field `id` in wire order (screen messages AF, item lists AS/AT/AU…). */
export function sip2Fields(msg: Pick<Sip2Message, 'fields'>, id: string): string[] {
  return msg.fields.filter(([k]) => k === id).map(([, v]) => v);
}

/**
 * Incremental framer: `push(chunk)` returns the complete messages (without CR) found so far. A
 * line feed after a CR (some systems send CR LF) is skipped.
 * @throws ProtocolError `PROTO_ERR_SIP2_TOO_LONG` when `maxLength` bytes pass without a CR (the
 *   framer is then reset)
 */
export class Sip2Framer {
  readonly #max: number;
  #buf: number[] = [];

  constructor(maxLength = 4096) { this.#max = maxLength; }

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const b of chunk) {
      if (b === 0x0d) {
        out.push(Uint8Array.from(this.#buf));
        this.#buf = [];
      } else if (b === 0x0a && this.#buf.length === 0) {
        continue;
      } else {
        this.#buf.push(b);
        if (this.#buf.length > this.#max) {
          this.#buf = [];
          throw new ProtocolError('PROTO_ERR_SIP2_TOO_LONG', `more than ${this.#max} bytes`, { max: this.#max });
        }
      }
    }
    return out;
  }

  /** Bytes held of an incomplete message. */
  get pending(): number { return this.#buf.length; }
}

/**
 * A SIP2 date `YYYYMMDDZZZZHHMMSS` for the instant `ms`, in the time zone `utcOffsetMinutes` east
 * of UTC, with the zone field blank (local time of the library system).
 */
export function formatSip2Date(ms: number, utcOffsetMinutes = 0): string {
  const d = new Date(ms + utcOffsetMinutes * 60_000);
  const p = (v: number, w = 2): string => String(v).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}    ${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * The calendar date `YYYY-MM-DD` of a SIP2 date or due-date text (due dates are free text in
 * SIP2; most systems send the 18-character form), or `undefined` when it has none.
 */
export function sip2CalendarDate(text: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(text);
  return m === null ? undefined : `${m[1]}-${m[2]}-${m[3]}`;
}
