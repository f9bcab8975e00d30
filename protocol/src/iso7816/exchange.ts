/**
 * The APDU exchange rules a terminal applies itself (reader-link.md §3, §6), as a sans-I/O step
 * function: `startExchange` yields the first bytes to send; each card response goes into
 * `stepExchange`, which yields the next bytes or the final response. It covers GET RESPONSE on
 * `61XX` (same logical channel, bounded), one resend on `6CXX`, command chaining (CLA b5),
 * extended length when allowed, and the T=0 APDU→TPDU mapping (case 4 sent as case 3, case 1
 * with P3 = 00). Status words are data: a card error ends the exchange with that SW; only
 * protocol violations (unbounded GET RESPONSE loops, oversize data) throw.
 *
 * [ONECARD] decisions where the docs are silent:
 * - a case-4 command answered `9000` with no data on T=0 ends with that empty response; no GET
 *   RESPONSE is sent (neither ssc-card.md nor reader-link.md asks for one);
 * - Ne above 256 without extended length is sent as Le `00` (256) and the rest is expected
 *   through `61XX`;
 * - intermediate chained commands must answer `9000`; any other SW ends the exchange with it.
 */
import { ProtocolError } from '../errors.ts';
import type { CommandApdu, ResponseApdu } from './apdu.ts';
import { encodeCommandApdu, isInterindustryCla, logicalChannel, responseApdu, withChaining, withLogicalChannel, decodeResponseApdu } from './apdu.ts';
import { isWarning } from './status-words.ts';

/**
 * `t0`: the host drives T=0 at TPDU level (e.g. GemPC Twin serial), so commands are mapped to
 * TPDUs [7816-3 §12.2]. `apdu`: T=1 or an APDU-level reader carries APDUs as they are.
 */
export type ExchangeTransport = 't0' | 'apdu';

/** Exchange options; all optional. */
export interface ExchangeOptions {
  /** Default `apdu`. */
  readonly transport?: ExchangeTransport;
  /** The card and reader accept extended Lc/Le (ignored on `t0`, which cannot carry them). Default false. */
  readonly extendedLength?: boolean;
  /** The card accepts command chaining (CLA b5). Default true. */
  readonly chaining?: boolean;
  /** Largest data field per command: default 255, or 65535 with extended length. */
  readonly maxCommandData?: number;
  /** Most GET RESPONSE commands in one exchange. Default 256 (65536 bytes at 256 per round). */
  readonly maxGetResponseRounds?: number;
  /** Most response data bytes in one exchange. Default 65536. */
  readonly maxResponseLength?: number;
  /**
   * CLA of GET RESPONSE: a class byte (default `00`, as ISO, SSC and PBOC cards and PSAMs expect;
   * GSM 11.11 cards use `A0`), into which the original command's logical channel is copied; or
   * `same`, the original CLA with the chaining bit cleared [reader-link.md §6.2].
   */
  readonly getResponseCla?: number | 'same';
  /**
   * EMV-style warning rule on T=0: a case-4 command answered with a warning (`62XX`/`63XX`) and
   * no data is followed by GET RESPONSE Le `00`, and the warning is returned with the data
   * [reader-link.md §6.2]. Default false.
   */
  readonly getResponseOnWarning?: boolean;
}

interface Resolved {
  readonly transport: ExchangeTransport;
  readonly extended: boolean;
  readonly chaining: boolean;
  readonly maxData: number;
  readonly maxRounds: number;
  readonly maxResponse: number;
  readonly grCla: number | 'same';
  readonly onWarning: boolean;
}

interface Common {
  readonly opts: Resolved;
  /** The caller's command. */
  readonly command: CommandApdu;
  /** The last command sent, as an APDU (before T=0 mapping). */
  readonly sent: CommandApdu;
  /** Whether `sent` is already the one resend allowed after `6CXX`. */
  readonly resent: boolean;
  /** Response data gathered so far. */
  readonly parts: readonly Uint8Array[];
  readonly total: number;
  /** GET RESPONSE commands sent so far. */
  readonly rounds: number;
  /** Warning SW to report with the data (EMV rule), if any. */
  readonly warning: number | undefined;
}

/** Exchange state, a discriminated union on `phase`. Treat as opaque. */
export type ExchangeState =
  | (Common & { readonly phase: 'chaining'; readonly pending: readonly CommandApdu[] })
  | (Common & { readonly phase: 'command' })
  | (Common & { readonly phase: 'get-response' })
  | { readonly phase: 'done' };

/** Something to send: the wire bytes and the command they encode (for tracing). */
export interface ExchangeSend {
  readonly state: ExchangeState;
  readonly send: Uint8Array;
  /** The command as it goes on the wire (T=0: case 4 without Le). */
  readonly command: CommandApdu;
}

/** The exchange is over. */
export interface ExchangeDone {
  readonly done: ResponseApdu;
  readonly state: { readonly phase: 'done' };
}

export type ExchangeStep = ExchangeSend | ExchangeDone;

const DONE = { phase: 'done' } as const;

function resolve(o: ExchangeOptions): Resolved {
  const transport = o.transport ?? 'apdu';
  if (transport !== 't0' && transport !== 'apdu') bad('transport', String(transport));
  const extended = transport === 'apdu' && o.extendedLength === true;
  const cap = extended ? 65535 : 255;
  const maxData = o.maxCommandData ?? cap;
  if (!Number.isInteger(maxData) || maxData < 1 || maxData > cap) bad('maxCommandData', `${maxData} not in 1..${cap}`);
  const maxRounds = o.maxGetResponseRounds ?? 256;
  if (!Number.isInteger(maxRounds) || maxRounds < 0) bad('maxGetResponseRounds', String(maxRounds));
  const maxResponse = o.maxResponseLength ?? 65536;
  if (!Number.isInteger(maxResponse) || maxResponse < 0) bad('maxResponseLength', String(maxResponse));
  const grCla = o.getResponseCla ?? 0x00;
  if (grCla !== 'same' && (!Number.isInteger(grCla) || grCla < 0 || grCla > 0xfe)) bad('getResponseCla', String(grCla));
  return {
    transport, extended, chaining: o.chaining ?? true, maxData, maxRounds, maxResponse, grCla,
    onWarning: o.getResponseOnWarning === true,
  };
}

function bad(field: string, detail: string): never {
  throw new ProtocolError('PROTO_ERR_EXCHANGE_OPTION', `${field}: ${detail}`, { field });
}

/** The command as it goes on the wire, and its bytes [7816-3 §12.2; 7816-4 §5.1]. */
function wire(apdu: CommandApdu, o: Resolved): { command: CommandApdu; bytes: Uint8Array } {
  const { cla, ins, p1, p2 } = apdu;
  const data = apdu.data !== undefined && apdu.data.length > 0 ? apdu.data : undefined;
  let le = apdu.le;
  if (!o.extended && le !== undefined && le > 256) le = 256;
  if (o.transport === 't0') {
    if (data !== undefined) {
      // [7816-3 §12.2.4] case 3 as is; case 4 sent without Le, the data comes back through 61XX.
      const command = { cla, ins, p1, p2, data };
      return { command, bytes: encodeCommandApdu(command, 'short') };
    }
    // [7816-3 §12.2.2] case 1: P3 = 00 is added; case 2: P3 = Le (00 = 256).
    const command: CommandApdu = le === undefined ? { cla, ins, p1, p2 } : { cla, ins, p1, p2, le };
    return { command, bytes: encodeCommandApdu({ cla, ins, p1, p2, le: le ?? 256 }, 'short') };
  }
  const command: CommandApdu =
    data === undefined
      ? le === undefined ? { cla, ins, p1, p2 } : { cla, ins, p1, p2, le }
      : le === undefined ? { cla, ins, p1, p2, data } : { cla, ins, p1, p2, data, le };
  return { command, bytes: encodeCommandApdu(command, o.extended ? 'auto' : 'short') };
}

function sending(state: Exclude<ExchangeState, { phase: 'done' }>): ExchangeSend {
  const { command, bytes } = wire(state.sent, state.opts);
  return { state, send: bytes, command };
}

/**
 * Starts an exchange for `apdu`: splits it into a command chain when its data exceeds the maximum
 * command size [7816-4 §5.1.1.1] and returns the first bytes to send.
 * @throws ProtocolError `PROTO_ERR_EXCHANGE_OPTION`, `PROTO_ERR_EXCHANGE_T0_INS` (INS `6X`/`9X` on
 *   T=0 [7816-3 §10.3.2]), `PROTO_ERR_EXCHANGE_TOO_LARGE` (data too long and chaining disabled),
 *   and the encoding errors of `encodeCommandApdu` (`PROTO_ERR_APDU_FIELD`, `PROTO_ERR_APDU_LE_RANGE`).
 */
export function startExchange(apdu: CommandApdu, options: ExchangeOptions = {}): ExchangeSend {
  const opts = resolve(options);
  const hi = apdu.ins >> 4;
  if (opts.transport === 't0' && (hi === 0x6 || hi === 0x9)) {
    throw new ProtocolError('PROTO_ERR_EXCHANGE_T0_INS', `INS ${apdu.ins.toString(16)} is invalid on T=0`, { field: 'ins' });
  }
  encodeCommandApdu(apdu); // validates header bytes, Le and Nc once, whatever the chunking
  const data = apdu.data ?? new Uint8Array(0);
  const base: Omit<Common, 'sent'> = { opts, command: apdu, resent: false, parts: [], total: 0, rounds: 0, warning: undefined };
  if (data.length <= opts.maxData) {
    return sending({ ...base, sent: apdu, phase: 'command' });
  }
  if (!opts.chaining) {
    throw new ProtocolError('PROTO_ERR_EXCHANGE_TOO_LARGE', `Nc ${data.length} > ${opts.maxData}`, { field: 'data', length: data.length, max: opts.maxData });
  }
  // [7816-4 §5.1.1.1] every chunk but the last carries CLA b5 and no Le.
  const chunks: CommandApdu[] = [];
  const chainCla = withChaining(apdu.cla, true);
  for (let o = 0; o < data.length; o += opts.maxData) {
    const part = data.subarray(o, Math.min(o + opts.maxData, data.length));
    const last = o + opts.maxData >= data.length;
    if (!last) chunks.push({ cla: chainCla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: part });
    else chunks.push(apdu.le === undefined ? { cla: apdu.cla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: part } : { cla: apdu.cla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: part, le: apdu.le });
  }
  const [first, ...pending] = chunks as [CommandApdu, ...CommandApdu[]];
  return sending({ ...base, sent: first, phase: 'chaining', pending });
}

function getResponseCla(c: Common): number {
  const g = c.opts.grCla;
  if (g === 'same') return withChaining(c.command.cla, false);
  if (!isInterindustryCla(g)) return g;
  const ch = isInterindustryCla(c.command.cla) ? logicalChannel(c.command.cla) : 0;
  return withLogicalChannel(g, ch);
}

function finish(c: Common, r: ResponseApdu): ExchangeDone {
  const total = c.total + r.data.length;
  if (total > c.opts.maxResponse) {
    throw new ProtocolError('PROTO_ERR_EXCHANGE_TOO_LONG', `${total} bytes > ${c.opts.maxResponse}`, { length: total, max: c.opts.maxResponse });
  }
  let data = r.data;
  if (c.parts.length > 0) {
    data = new Uint8Array(total);
    let o = 0;
    for (const p of c.parts) { data.set(p, o); o += p.length; }
    data.set(r.data, o);
  }
  const sw = c.warning !== undefined && r.sw === 0x9000 ? c.warning : r.sw;
  return { done: responseApdu(data, sw), state: DONE };
}

function getResponse(c: Common, r: ResponseApdu, le: number, warning: number | undefined): ExchangeSend {
  const total = c.total + r.data.length;
  const room = c.opts.maxResponse - total;
  if (room <= 0) {
    throw new ProtocolError('PROTO_ERR_EXCHANGE_TOO_LONG', `more data offered after ${total} bytes (max ${c.opts.maxResponse})`, { length: total, max: c.opts.maxResponse });
  }
  if (c.rounds >= c.opts.maxRounds) {
    throw new ProtocolError('PROTO_ERR_EXCHANGE_ROUNDS', `more than ${c.opts.maxRounds} GET RESPONSE rounds`, { max: c.opts.maxRounds });
  }
  // [7816-4 §7.6.1] GET RESPONSE: CLA' C0 00 00 Le, Le = min(offered, room).
  const sent: CommandApdu = { cla: getResponseCla(c), ins: 0xc0, p1: 0, p2: 0, le: Math.min(le, room) };
  const parts = r.data.length > 0 ? [...c.parts, r.data] : c.parts;
  return sending({ ...c, phase: 'get-response', sent, resent: false, parts, total, rounds: c.rounds + 1, warning });
}

/**
 * Feeds the card's response (`data ‖ SW1 SW2`) to the exchange and returns the next command to
 * send or the final response.
 * - `61XX`: GET RESPONSE with Le = XX (00 = 256), data accumulated [7816-4 §5.1.3; reader-link.md §6.2];
 * - `6CXX`: the last command resent once with Le = XX [7816-3 §12.2.2; reader-link.md §6.3];
 * - chain: next chunk after `9000`, otherwise the SW ends the exchange [7816-4 §5.1.1.1];
 * - anything else ends the exchange; a kept warning replaces a final `9000`.
 * @throws ProtocolError `PROTO_ERR_RAPDU_TOO_SHORT`, `PROTO_ERR_EXCHANGE_FINISHED`,
 *   `PROTO_ERR_EXCHANGE_ROUNDS`, `PROTO_ERR_EXCHANGE_TOO_LONG`.
 */
export function stepExchange(state: ExchangeState, response: Uint8Array): ExchangeStep {
  if (state.phase === 'done') throw new ProtocolError('PROTO_ERR_EXCHANGE_FINISHED', 'no response expected');
  const r = decodeResponseApdu(response);
  if (state.phase === 'chaining') {
    if (r.sw !== 0x9000) return finish(state, r);
    const [next, ...pending] = state.pending as [CommandApdu, ...CommandApdu[]];
    if (pending.length === 0) return sending({ ...state, phase: 'command', sent: next, resent: false });
    return sending({ ...state, phase: 'chaining', sent: next, resent: false, pending });
  }
  const sw1 = r.sw1;
  if (sw1 === 0x61) return getResponse(state, r, r.sw2 || 256, state.warning);
  if (sw1 === 0x6c) {
    const t0Case3 = state.opts.transport === 't0' && state.sent.data !== undefined && state.sent.data.length > 0;
    if (state.resent || t0Case3) return finish(state, r);
    const le = r.sw2 || 256;
    const { cla, ins, p1, p2, data } = state.sent;
    const sent: CommandApdu = data === undefined ? { cla, ins, p1, p2, le } : { cla, ins, p1, p2, data, le };
    return sending({ ...state, sent, resent: true });
  }
  if (
    state.opts.onWarning && state.opts.transport === 't0' && state.phase === 'command' &&
    isWarning(r.sw) && r.data.length === 0 &&
    state.sent.le !== undefined && state.sent.data !== undefined && state.sent.data.length > 0
  ) {
    return getResponse(state, r, 256, r.sw);
  }
  return finish(state, r);
}
