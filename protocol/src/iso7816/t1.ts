/**
 * T=1 block protocol engine [7816-3 §11] for both ends of the link, sans I/O. The terminal role
 * (`t1Terminal` + `t1TerminalStep`) turns an APDU into I-blocks, reassembles the response, answers the
 * card's S-requests and runs error recovery (R-blocks, retransmission, RESYNCH, dead channel). The card role
 * (`t1Card` + `t1CardStep`) reassembles command APDUs, hands them up, chains the response back and mirrors
 * the recovery rules. States are discriminated unions; each step returns the new state and a list of
 * effects. There are no timers: every terminal transmission says how long to wait, and the caller feeds
 * `{type:'timeout'}` when that time passes without a block.
 */
import { concat } from '../bytes.ts';
import { ProtocolError, isProtocolError } from '../errors.ts';
import { T1_DEFAULT_IFS, T1_MAX_INF, decodeT1Block, encodeT1Block } from './t1-block.ts';
import type { T1Block, T1Edc, T1RError } from './t1-block.ts';
import type { T1_ERRORS } from './t1-error-codes.ts';

/** Codes carried by `error` effects. */
export type T1ErrorCode = keyof typeof T1_ERRORS;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// ---------------------------------------------------------------------------------------------------------
// Timing [7816-3 §11.4.3; reader-link.md §5]

/** Clock and waiting-time integers, as read from the ATR (TA1, TC1, TBi for T=1) and the reader. */
export interface T1TimingParams {
  /** Clock rate conversion integer F (the value, e.g. 372, not the TA1 nibble). 0 = non-ISO: 60 s timeouts. */
  readonly fi?: number;
  /** Baud rate adjustment integer D (the value, e.g. 1). 0 = non-ISO: 60 s timeouts. */
  readonly di?: number;
  /** Card clock in Hz; 4 MHz when absent. */
  readonly clockHz?: number;
  /** N from TC1 (extra guard time); 0 when absent. */
  readonly extraGuardTime?: number;
  /** Block waiting time integer BWI, 0..9 (TBi high nibble); 4 when absent. */
  readonly bwi?: number;
  /** Character waiting time integer CWI, 0..15 (TBi low nibble); 13 when absent. */
  readonly cwi?: number;
  /** Added to every timeout so that a reader reports its own timeout first; 1000 ms when absent. */
  readonly marginMs?: number;
}

/** Derived times in milliseconds. */
export interface T1Timing {
  readonly etuMs: number;
  readonly egtMs: number;
  readonly bwtMs: number;
  readonly cwtMs: number;
  readonly marginMs: number;
  /** F or D was 0: every timeout is 60 s (times the WTX multiplier). */
  readonly nonIso: boolean;
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError('PROTO_ERR_T1_PARAM', `${name} must be an integer ${min}..${max}`, { field: name, value: v });
  }
  return v;
}

/**
 * Computes etu, EGT, BWT and CWT [7816-3 §11.4.3]: etu = F/(D·f); EGT = 12 etu + (F/D)·N/f;
 * BWT = 11 etu + 2^BWI · 960 · 372/f; CWT = (11 + 2^CWI) etu.
 * @throws ProtocolError `PROTO_ERR_T1_PARAM` for BWI outside 0..9, CWI outside 0..15, a clock ≤ 0, N outside
 *   0..255 or a negative F, D or margin.
 */
export function t1Timing(p: T1TimingParams = {}): T1Timing {
  const fi = p.fi ?? 372;
  const di = p.di ?? 1;
  const f = p.clockHz ?? 4_000_000;
  const n = intIn('extraGuardTime', p.extraGuardTime ?? 0, 0, 255);
  const bwi = intIn('bwi', p.bwi ?? 4, 0, 9);
  const cwi = intIn('cwi', p.cwi ?? 13, 0, 15);
  const marginMs = p.marginMs ?? 1000;
  if (!(f > 0)) throw new ProtocolError('PROTO_ERR_T1_PARAM', 'clockHz must be > 0', { field: 'clockHz', value: f });
  if (!(fi >= 0) || !(di >= 0) || !(marginMs >= 0)) {
    throw new ProtocolError('PROTO_ERR_T1_PARAM', 'F, D and margin must be ≥ 0', { field: 'fi' });
  }
  const nonIso = fi === 0 || di === 0;
  const etuMs = nonIso ? 0 : (fi / di / f) * 1000;
  return {
    etuMs,
    egtMs: nonIso ? 0 : 12 * etuMs + ((fi / di) * n * 1000) / f,
    bwtMs: 11 * etuMs + ((2 ** bwi * 960 * 372) / f) * 1000,
    cwtMs: (11 + 2 ** cwi) * etuMs,
    marginMs,
    nonIso,
  };
}

/**
 * How long to wait for the card's next block: 260·EGT + m·BWT + 260·CWT + margin, rounded up to a whole
 * millisecond, where m is the WTX multiplier granted for this wait only (reader-link.md §5). Non-ISO F/D:
 * m · 60 s.
 */
export function t1BlockTimeoutMs(timing: T1Timing, wtx = 1): number {
  const m = Math.max(1, wtx);
  if (timing.nonIso) return 60_000 * m;
  return Math.ceil(260 * timing.egtMs + m * timing.bwtMs + 260 * timing.cwtMs + timing.marginMs);
}

// ---------------------------------------------------------------------------------------------------------
// Shared

interface Sent {
  readonly kind: 'I' | 'R' | 'S';
  readonly bytes: Uint8Array;
}
interface SentI extends Sent {
  readonly kind: 'I';
  readonly ns: 0 | 1;
  readonly more: boolean;
}

function swapNibbles(b: number): number {
  return ((b & 0x0f) << 4) | (b >> 4);
}

type Decoded = { ok: true; block: T1Block } | { ok: false; code: T1ErrorCode };

function tryDecode(bytes: Uint8Array, edc: T1Edc, maxInf: number, nad: number, parityError: boolean | undefined): Decoded {
  if (parityError === true) return { ok: false, code: 'PROTO_ERR_T1_EDC' };
  try {
    return { ok: true, block: decodeT1Block(bytes, { edc, maxInf, nad: swapNibbles(nad) }) };
  } catch (err) {
    if (isProtocolError(err) && err.code.startsWith('PROTO_ERR_T1_')) return { ok: false, code: err.code as T1ErrorCode };
    throw err;
  }
}

const EMPTY = new Uint8Array(0);
const MAX_SHORT_OR_EXTENDED_COMMAND = 4 + 3 + 65535 + 3;

// ---------------------------------------------------------------------------------------------------------
// Terminal role

/** Parameters of the terminal (interface device) role. */
export interface T1TerminalParams extends T1TimingParams {
  /** EDC from TCi; LRC when absent. */
  readonly edc?: T1Edc;
  /** IFSC from TAi of the ATR (1..254; 255 is clamped to 254); 32 when absent. */
  readonly ifsc?: number;
  /** When given (1..254), the terminal announces this IFSD with S(IFS request) before its first exchange and after every resynchronisation. */
  readonly ifsd?: number;
  /** NAD put in transmitted blocks; received blocks must carry it nibble-swapped. 0 when absent. */
  readonly nad?: number;
  /** Recovery transmissions allowed before a resynchronisation [7816-3 §11.6.3 rule 7.4.2]; 3 when absent. */
  readonly maxRetries?: number;
  /** S(RESYNCH request) transmissions allowed per exchange before the channel is dead [7816-3 §11.6.3 rule 6.4]; 3 when absent. */
  readonly maxResynchs?: number;
  /** Longest response accepted (data + SW); 65538 when absent. */
  readonly maxResponseLength?: number;
}

/** Normalised terminal parameters. */
export interface T1TerminalConfig {
  readonly edc: T1Edc;
  readonly ifsc: number;
  readonly ifsd: number | null;
  readonly nad: number;
  readonly maxRetries: number;
  readonly maxResynchs: number;
  readonly maxResponseLength: number;
  readonly timing: T1Timing;
}

/** Link variables that outlive one exchange. */
export interface T1TerminalLink {
  readonly config: T1TerminalConfig;
  /** N(S) of the next new I-block the terminal sends. */
  readonly ns: 0 | 1;
  /** N(S) expected in the next I-block from the card. */
  readonly nr: 0 | 1;
  /** Current IFSC: the largest INF the terminal sends. */
  readonly ifsc: number;
  /** Current IFSD: the largest INF the terminal accepts. */
  readonly ifsd: number;
  readonly ifsdNegotiated: boolean;
}

/** One APDU exchange in progress. */
export interface T1TerminalExchange {
  readonly apdu: Uint8Array;
  /** Bytes of the command the card has acknowledged. */
  readonly offset: number;
  /** INF length of the last I-block sent. */
  readonly chunk: number;
  readonly lastI: SentI | null;
  /** The last I-block of the command was transmitted at least once: the card may have executed it. */
  readonly finalSent: boolean;
  readonly response: Uint8Array;
  /** Last block transmitted (for rule 7.2 and S-request retransmission). */
  readonly last: Sent | null;
  /** Consecutive recovery transmissions since the last progress. */
  readonly errors: number;
  readonly resynchs: number;
  /** Why the terminal is aborting the chain, reported once S(ABORT response) comes back. */
  readonly abortCode: T1ErrorCode | null;
}

/**
 * Terminal state. `ifs`: S(IFS request) sent; `sending`: command I-block sent, waiting for an R-block or the
 * response; `receiving`: response chain in progress; `aborting`: S(ABORT request) sent; `resynch`:
 * S(RESYNCH request) sent; `dead`: refuses everything until a new state is built after a card reset.
 */
export type T1TerminalState =
  | { readonly phase: 'idle'; readonly link: T1TerminalLink }
  | { readonly phase: 'dead'; readonly link: T1TerminalLink }
  | {
      readonly phase: 'ifs' | 'sending' | 'receiving' | 'aborting' | 'resynch';
      readonly link: T1TerminalLink;
      readonly x: T1TerminalExchange;
    };

export type T1TerminalPhase = T1TerminalState['phase'];

export type T1TerminalEvent =
  | { readonly type: 'send-apdu'; readonly apdu: Uint8Array }
  /** One complete block as received; `parityError` when the reader flagged a character parity error. */
  | { readonly type: 'block-received'; readonly bytes: Uint8Array; readonly parityError?: boolean }
  /** The wait armed by the last `transmit` effect expired. */
  | { readonly type: 'timeout' };

export type T1TerminalEffect =
  /**
   * Send these bytes. `timeoutMs` is the wait to arm for the card's answer (null: no answer expected);
   * `wtx` is the waiting-time multiplier granted to the card for this wait only (1 when none).
   */
  | { readonly type: 'transmit'; readonly bytes: Uint8Array; readonly timeoutMs: number | null; readonly wtx: number }
  | { readonly type: 'deliver-response'; readonly apdu: Uint8Array }
  | { readonly type: 'error'; readonly code: T1ErrorCode; readonly detail: string };

export interface T1TerminalStepResult {
  readonly state: T1TerminalState;
  readonly effects: readonly T1TerminalEffect[];
}

function ifsParam(name: string, v: number): number {
  if (v === 255) return T1_MAX_INF; // [reader-link.md §2.3] 255 is clamped to 254
  return intIn(name, v, 1, T1_MAX_INF);
}

/**
 * Initial terminal state after the ATR (and PPS): N(S) = N(R) = 0, IFSD = 32 until negotiated
 * [7816-3 §11.4.2].
 * @throws ProtocolError `PROTO_ERR_T1_PARAM` for an out-of-range parameter.
 */
export function t1Terminal(params: T1TerminalParams = {}): T1TerminalState {
  const config: T1TerminalConfig = {
    edc: params.edc ?? 'lrc',
    ifsc: ifsParam('ifsc', params.ifsc ?? T1_DEFAULT_IFS),
    ifsd: params.ifsd === undefined ? null : ifsParam('ifsd', params.ifsd),
    nad: intIn('nad', params.nad ?? 0, 0, 255),
    maxRetries: intIn('maxRetries', params.maxRetries ?? 3, 0, 100),
    maxResynchs: intIn('maxResynchs', params.maxResynchs ?? 3, 1, 100),
    maxResponseLength: intIn('maxResponseLength', params.maxResponseLength ?? 65538, 1, 1 << 24),
    timing: t1Timing(params),
  };
  return {
    phase: 'idle',
    link: { config, ns: 0, nr: 0, ifsc: config.ifsc, ifsd: T1_DEFAULT_IFS, ifsdNegotiated: false },
  };
}

interface TermWork {
  phase: T1TerminalPhase;
  link: Mutable<T1TerminalLink>;
  x: Mutable<T1TerminalExchange> | null;
  effects: T1TerminalEffect[];
}

function termState(w: TermWork): T1TerminalState {
  if (w.phase === 'idle' || w.phase === 'dead' || w.x === null) return { phase: w.phase === 'dead' ? 'dead' : 'idle', link: w.link };
  return { phase: w.phase, link: w.link, x: w.x };
}

function tTransmit(w: TermWork, block: T1Block, expectReply = true, wtx = 1): Uint8Array {
  const bytes = encodeT1Block(block, w.link.config.edc);
  w.effects.push({ type: 'transmit', bytes, timeoutMs: expectReply ? t1BlockTimeoutMs(w.link.config.timing, wtx) : null, wtx });
  if (w.x) w.x.last = { kind: block.kind, bytes };
  return bytes;
}

function tRetransmit(w: TermWork, sent: Sent): void {
  w.effects.push({ type: 'transmit', bytes: sent.bytes, timeoutMs: t1BlockTimeoutMs(w.link.config.timing, 1), wtx: 1 });
  w.x!.last = sent;
}

function tFinish(w: TermWork, effect: T1TerminalEffect): void {
  w.effects.push(effect);
  w.phase = 'idle';
  w.x = null;
}

function tError(w: TermWork, code: T1ErrorCode, detail: string): void {
  tFinish(w, { type: 'error', code, detail });
}

/** Sends the next command I-block from `x.offset`, chained when the rest exceeds IFSC [7816-3 §11.6.2 rule 5]. */
function tSendChunk(w: TermWork): void {
  const x = w.x!;
  const len = Math.min(w.link.ifsc, x.apdu.length - x.offset);
  const more = x.offset + len < x.apdu.length;
  const ns = w.link.ns;
  const bytes = tTransmit(w, { kind: 'I', nad: w.link.config.nad, ns, more, inf: x.apdu.subarray(x.offset, x.offset + len) });
  x.lastI = { kind: 'I', bytes, ns, more };
  x.last = x.lastI;
  x.chunk = len;
  if (!more) x.finalSent = true;
  w.link.ns = (ns ^ 1) as 0 | 1;
  w.phase = 'sending';
}

/** Starts (or restarts after RESYNCH) the exchange: IFSD announcement first when configured [7816-3 §11.6.2 rule 4]. */
function tStart(w: TermWork): void {
  const ifsd = w.link.config.ifsd;
  if (ifsd !== null && !w.link.ifsdNegotiated) {
    w.phase = 'ifs';
    tTransmit(w, { kind: 'S', nad: w.link.config.nad, type: 'ifs', response: false, value: ifsd });
    return;
  }
  w.x!.offset = 0;
  w.x!.response = EMPTY;
  tSendChunk(w);
}

/** [7816-3 §11.6.3 rule 6] resynchronise; [7816-3 §11.6.3 rule 6.4] a bounded number of times, then the channel is dead. */
function tResynch(w: TermWork, why: string): void {
  const x = w.x!;
  if (x.resynchs >= w.link.config.maxResynchs) {
    w.effects.push({ type: 'error', code: 'PROTO_ERR_T1_DEAD', detail: `${x.resynchs} S(RESYNCH) without recovery; last: ${why}` });
    w.phase = 'dead';
    w.x = null;
    return;
  }
  x.resynchs++;
  x.errors = 0;
  w.phase = 'resynch';
  tTransmit(w, { kind: 'S', nad: w.link.config.nad, type: 'resynch', response: false });
}

/** Invalid block, unexpected block or timeout: recovery per [7816-3 §11.6.3 rules 7.1, 7.2, 7.4.2]. */
function tFail(w: TermWork, error: T1RError, why: string): void {
  const x = w.x!;
  if (w.phase === 'resynch') {
    tResynch(w, why);
    return;
  }
  if (x.errors >= w.link.config.maxRetries) {
    tResynch(w, why); // [7816-3 §11.6.3 rule 7.4.2]
    return;
  }
  x.errors++;
  if (w.phase === 'ifs' || w.phase === 'aborting') {
    tRetransmit(w, x.last!); // an unanswered S(request) is sent again
    return;
  }
  if (x.last !== null && x.last.kind === 'R') {
    tRetransmit(w, x.last); // [7816-3 §11.6.3 rule 7.2] after an R-block, send that same R-block again
    return;
  }
  tTransmit(w, { kind: 'R', nad: w.link.config.nad, nr: w.link.nr, error }); // [7816-3 §11.6.3 rule 7.1]
}

function tOnResynchResponse(w: TermWork): void {
  const x = w.x!;
  // [7816-3 §11.6.3 rule 6.2/6.3] N(S) = N(R) = 0 on both sides, information field sizes back to their initial values
  w.link.ns = 0;
  w.link.nr = 0;
  w.link.ifsc = w.link.config.ifsc;
  w.link.ifsd = T1_DEFAULT_IFS;
  w.link.ifsdNegotiated = false;
  x.errors = 0;
  x.lastI = null;
  if (x.abortCode !== null) {
    tError(w, x.abortCode, 'chain abandoned by resynchronisation');
  } else if (x.finalSent) {
    // OneCard never replays a command the card may already have executed (no double debit); the
    // caller decides (e.g. GET TRANSACTION PROVE).
    tError(w, 'PROTO_ERR_T1_OUTCOME_UNKNOWN', 'resynchronised after the last command block was sent');
  } else {
    tStart(w); // [7816-3 §11.6.3 rule 6.3] the command had not reached the card: send it again from the start
  }
}

function tOnBlock(w: TermWork, block: T1Block): void {
  const x = w.x!;
  const link = w.link;
  const nad = link.config.nad;

  if (block.kind === 'S' && !block.response && block.type === 'resynch') {
    tResynch(w, 'S(RESYNCH request) from the card'); // [reader-link.md §4.4] illegal from a card
    return;
  }
  switch (w.phase) {
    case 'resynch':
      if (block.kind === 'S' && block.response && block.type === 'resynch') tOnResynchResponse(w);
      else tResynch(w, 'block other than S(RESYNCH response)');
      return;
    case 'ifs':
      if (block.kind === 'S' && block.response && block.type === 'ifs' && block.value === link.config.ifsd) {
        link.ifsd = block.value; // [7816-3 §11.6.2 rule 4] the card echoes the announced IFSD
        link.ifsdNegotiated = true;
        x.errors = 0;
        tStart(w);
      } else tFail(w, 'other', 'expected S(IFS response) echoing IFSD');
      return;
    case 'aborting':
      if (block.kind === 'S' && block.response && block.type === 'abort') tError(w, x.abortCode ?? 'PROTO_ERR_T1_ABORTED', 'chain aborted');
      else tFail(w, 'other', 'expected S(ABORT response)');
      return;
    default:
      break;
  }

  // phases 'sending' and 'receiving'
  if (block.kind === 'S') {
    if (block.response) {
      tFail(w, 'other', 'unsolicited S-response');
      return;
    }
    switch (block.type) {
      case 'wtx': // [7816-3 §11.6.2 rule 3] acknowledge; the multiplier applies to the next wait only
        tTransmit(w, { kind: 'S', nad, type: 'wtx', response: true, value: block.value }, true, Math.max(1, block.value));
        return;
      case 'ifs': // [7816-3 §11.6.2 rule 4] the card announces a new IFSC
        link.ifsc = block.value;
        tTransmit(w, { kind: 'S', nad, type: 'ifs', response: true, value: block.value });
        return;
      case 'abort': // [7816-3 §11.6.3 rule 9] the card abandons the chain
        tTransmit(w, { kind: 'S', nad, type: 'abort', response: true }, false);
        tError(w, 'PROTO_ERR_T1_ABORTED', 'S(ABORT request) from the card');
        return;
      default:
        return; // resynch handled above
    }
  }

  if (block.kind === 'I') {
    if (w.phase === 'sending' && (x.lastI === null || x.lastI.more)) {
      tFail(w, 'other', 'I-block while the command chain is unacknowledged'); // [7816-3 §11.6.2 rule 5] chain blocks are acknowledged by R-blocks
      return;
    }
    if (block.ns !== link.nr) {
      tFail(w, 'other', `I-block N(S)=${block.ns}, expected ${link.nr}`);
      return;
    }
    // [7816-3 §11.6.2 rule 2] the card's I-block acknowledges our last I-block
    link.nr = (link.nr ^ 1) as 0 | 1;
    x.errors = 0;
    x.response = concat(x.response, block.inf);
    if (x.response.length > link.config.maxResponseLength) {
      if (!block.more) {
        tError(w, 'PROTO_ERR_T1_RESPONSE_TOO_LONG', `${x.response.length} bytes`);
        return;
      }
      x.abortCode = 'PROTO_ERR_T1_RESPONSE_TOO_LONG';
      w.phase = 'aborting'; // [7816-3 §11.6.3 rule 9] the receiver of a chain may abort it
      tTransmit(w, { kind: 'S', nad, type: 'abort', response: false });
      return;
    }
    if (block.more) {
      w.phase = 'receiving';
      tTransmit(w, { kind: 'R', nad, nr: link.nr, error: 'none' }); // [7816-3 §11.6.2 rule 5] ask for the next chained block
      return;
    }
    tFinish(w, { type: 'deliver-response', apdu: x.response });
    return;
  }

  // R-block
  if (w.phase === 'receiving' || x.lastI === null) {
    tFail(w, 'other', 'R-block while receiving the response'); // the card missed our R-block: rule 7.2 resends it
    return;
  }
  if (block.nr === x.lastI.ns) {
    // the card asks for our last I-block again
    if (x.errors >= link.config.maxRetries) {
      tResynch(w, 'repeated retransmission requests'); // [7816-3 §11.6.3 rule 7.4.2]
      return;
    }
    x.errors++;
    tRetransmit(w, x.lastI);
    return;
  }
  if (x.lastI.more) {
    // [7816-3 §11.6.2 rule 5] acknowledgement of a chained block: send the next one
    x.offset += x.chunk;
    x.errors = 0;
    tSendChunk(w);
    return;
  }
  tFail(w, 'other', 'R-block acknowledging the last command block');
}

/**
 * Steps the terminal role. Misuse (a second APDU while busy, an empty APDU, anything on a dead channel)
 * yields an `error` effect and leaves the state unchanged; blocks and timeouts arriving while idle or dead are
 * ignored (stale). Never throws for received bytes.
 *
 * Error effect codes: `PROTO_ERR_T1_BUSY`, `PROTO_ERR_T1_EMPTY_APDU`, `PROTO_ERR_T1_DEAD`,
 * `PROTO_ERR_T1_OUTCOME_UNKNOWN`, `PROTO_ERR_T1_ABORTED`, `PROTO_ERR_T1_RESPONSE_TOO_LONG`.
 */
export function t1TerminalStep(state: T1TerminalState, event: T1TerminalEvent): T1TerminalStepResult {
  if (state.phase === 'dead') {
    if (event.type !== 'send-apdu') return { state, effects: [] };
    return { state, effects: [{ type: 'error', code: 'PROTO_ERR_T1_DEAD', detail: 'reset the card first' }] };
  }
  if (event.type === 'send-apdu') {
    if (state.phase !== 'idle') return { state, effects: [{ type: 'error', code: 'PROTO_ERR_T1_BUSY', detail: state.phase }] };
    if (event.apdu.length === 0) return { state, effects: [{ type: 'error', code: 'PROTO_ERR_T1_EMPTY_APDU', detail: '0 bytes' }] };
    const w: TermWork = {
      phase: 'idle',
      link: { ...state.link },
      x: { apdu: event.apdu.slice(), offset: 0, chunk: 0, lastI: null, finalSent: false, response: EMPTY, last: null, errors: 0, resynchs: 0, abortCode: null },
      effects: [],
    };
    tStart(w);
    return { state: termState(w), effects: w.effects };
  }
  if (state.phase === 'idle') return { state, effects: [] };
  const w: TermWork = { phase: state.phase, link: { ...state.link }, x: { ...state.x }, effects: [] };
  if (event.type === 'timeout') {
    tFail(w, 'none', 'timeout'); // [7816-3 §11.6.3 rule 7.1] no block within the waiting time
  } else {
    const d = tryDecode(event.bytes, w.link.config.edc, w.link.ifsd, w.link.config.nad, event.parityError);
    if (d.ok) tOnBlock(w, d.block);
    else if (d.code === 'PROTO_ERR_T1_S_TYPE' || d.code === 'PROTO_ERR_T1_IFS_VALUE') tResynch(w, d.code); // [reader-link.md §4.4]
    else tFail(w, d.code === 'PROTO_ERR_T1_EDC' ? 'edc' : 'other', d.code); // [7816-3 §11.6.3 rule 7.1]
  }
  return { state: termState(w), effects: w.effects };
}

// ---------------------------------------------------------------------------------------------------------
// Card role

/** Parameters of the card role. */
export interface T1CardParams {
  /** EDC announced in the ATR; LRC when absent. */
  readonly edc?: T1Edc;
  /** IFSC announced in the ATR (1..254): the largest INF the card accepts; 32 when absent. */
  readonly ifsc?: number;
  /** NAD put in transmitted blocks; received blocks must carry it nibble-swapped. 0 when absent. */
  readonly nad?: number;
  /** Longest chained command accepted before the card aborts the chain; 65545 when absent. */
  readonly maxCommandLength?: number;
}

export interface T1CardConfig {
  readonly edc: T1Edc;
  readonly ifsc: number;
  readonly nad: number;
  readonly maxCommandLength: number;
}

export interface T1CardLink {
  readonly config: T1CardConfig;
  /** N(S) of the next new I-block the card sends. */
  readonly ns: 0 | 1;
  /** N(S) expected in the next I-block from the terminal. */
  readonly nr: 0 | 1;
  /** Current IFSC: the largest INF the card accepts. */
  readonly ifsc: number;
  /** Current IFSD: the largest INF the card sends. */
  readonly ifsd: number;
  readonly last: Sent | null;
  readonly lastI: SentI | null;
}

/**
 * Card state. `idle`: waiting for a command; `receiving`: command chain in progress; `processing`: the
 * command went up, waiting for `send-response` (or a WTX/IFS request); `requesting`: S(WTX/IFS request)
 * sent; `sending`: response chain in progress; `aborting`: S(ABORT request) sent.
 */
export type T1CardState =
  | { readonly phase: 'idle' | 'processing' | 'aborting'; readonly link: T1CardLink }
  | { readonly phase: 'receiving'; readonly link: T1CardLink; readonly command: Uint8Array }
  | {
      readonly phase: 'requesting';
      readonly link: T1CardLink;
      readonly request: { readonly type: 'wtx' | 'ifs'; readonly value: number };
      readonly pending: Uint8Array | null;
    }
  | { readonly phase: 'sending'; readonly link: T1CardLink; readonly response: Uint8Array; readonly offset: number; readonly chunk: number };

export type T1CardEvent =
  | { readonly type: 'block-received'; readonly bytes: Uint8Array; readonly parityError?: boolean }
  /** The application's response APDU to the delivered command. */
  | { readonly type: 'send-response'; readonly apdu: Uint8Array }
  /** Ask for more time while processing [7816-3 §11.6.2 rule 3]: multiplier 1..255. */
  | { readonly type: 'request-wtx'; readonly multiplier: number }
  /** Announce a new IFSC while processing [7816-3 §11.6.2 rule 4]: 1..254. */
  | { readonly type: 'request-ifs'; readonly ifsc: number };

export type T1CardEffect =
  | { readonly type: 'transmit'; readonly bytes: Uint8Array }
  | { readonly type: 'deliver-command'; readonly apdu: Uint8Array }
  /** The terminal resynchronised: anything in progress was dropped. */
  | { readonly type: 'resynchronised' }
  /** A chain was aborted (by either side). */
  | { readonly type: 'aborted' }
  | { readonly type: 'error'; readonly code: T1ErrorCode; readonly detail: string };

export interface T1CardStepResult {
  readonly state: T1CardState;
  readonly effects: readonly T1CardEffect[];
}

/**
 * Initial card state after the ATR: N(S) = N(R) = 0, IFSD = 32 until the terminal announces another.
 * @throws ProtocolError `PROTO_ERR_T1_PARAM` for an out-of-range parameter.
 */
export function t1Card(params: T1CardParams = {}): T1CardState {
  const config: T1CardConfig = {
    edc: params.edc ?? 'lrc',
    ifsc: intIn('ifsc', params.ifsc ?? T1_DEFAULT_IFS, 1, T1_MAX_INF),
    nad: intIn('nad', params.nad ?? 0, 0, 255),
    maxCommandLength: intIn('maxCommandLength', params.maxCommandLength ?? MAX_SHORT_OR_EXTENDED_COMMAND, 1, 1 << 24),
  };
  return { phase: 'idle', link: { config, ns: 0, nr: 0, ifsc: config.ifsc, ifsd: T1_DEFAULT_IFS, last: null, lastI: null } };
}

interface CardWork {
  phase: T1CardState['phase'];
  link: Mutable<T1CardLink>;
  command: Uint8Array;
  request: { readonly type: 'wtx' | 'ifs'; readonly value: number };
  pending: Uint8Array | null;
  response: Uint8Array;
  offset: number;
  chunk: number;
  effects: T1CardEffect[];
}

function cardWork(s: T1CardState): CardWork {
  return {
    phase: s.phase,
    link: { ...s.link },
    command: s.phase === 'receiving' ? s.command : EMPTY,
    request: s.phase === 'requesting' ? s.request : { type: 'wtx', value: 1 },
    pending: s.phase === 'requesting' ? s.pending : null,
    response: s.phase === 'sending' ? s.response : EMPTY,
    offset: s.phase === 'sending' ? s.offset : 0,
    chunk: s.phase === 'sending' ? s.chunk : 0,
    effects: [],
  };
}

function cardState(w: CardWork): T1CardState {
  switch (w.phase) {
    case 'receiving':
      return { phase: w.phase, link: w.link, command: w.command };
    case 'requesting':
      return { phase: w.phase, link: w.link, request: w.request, pending: w.pending };
    case 'sending':
      return { phase: w.phase, link: w.link, response: w.response, offset: w.offset, chunk: w.chunk };
    default:
      return { phase: w.phase, link: w.link };
  }
}

function cTransmit(w: CardWork, block: T1Block): Uint8Array {
  const bytes = encodeT1Block(block, w.link.config.edc);
  w.effects.push({ type: 'transmit', bytes });
  w.link.last = { kind: block.kind, bytes };
  return bytes;
}

function cRetransmit(w: CardWork, sent: Sent): void {
  w.effects.push({ type: 'transmit', bytes: sent.bytes });
  w.link.last = sent;
}

function cSendChunk(w: CardWork): void {
  const len = Math.min(w.link.ifsd, w.response.length - w.offset);
  const more = w.offset + len < w.response.length;
  const ns = w.link.ns;
  const bytes = cTransmit(w, { kind: 'I', nad: w.link.config.nad, ns, more, inf: w.response.subarray(w.offset, w.offset + len) });
  w.link.lastI = { kind: 'I', bytes, ns, more };
  w.link.last = w.link.lastI;
  w.link.ns = (ns ^ 1) as 0 | 1;
  w.chunk = len;
  w.phase = more ? 'sending' : 'idle';
}

function cStartResponse(w: CardWork, apdu: Uint8Array): void {
  w.response = apdu.slice();
  w.offset = 0;
  w.pending = null;
  cSendChunk(w);
}

/** Invalid or unexpected block: [7816-3 §11.6.3 rule 7.2] resend our R-block, else [7816-3 §11.6.3 rule 7.1] R-block with the error. */
function cInvalid(w: CardWork, error: T1RError): void {
  if (w.phase === 'processing') return; // not our turn to speak yet; the response will follow
  if (w.phase === 'requesting' || w.phase === 'aborting') {
    cRetransmit(w, w.link.last!); // our S(request) was not answered: send it again
    return;
  }
  if (w.link.last !== null && w.link.last.kind === 'R') {
    cRetransmit(w, w.link.last);
    return;
  }
  cTransmit(w, { kind: 'R', nad: w.link.config.nad, nr: w.link.nr, error });
}

function cOnBlock(w: CardWork, block: T1Block): void {
  const link = w.link;
  const nad = link.config.nad;
  if (block.kind === 'S') {
    if (!block.response) {
      switch (block.type) {
        case 'resynch': // [7816-3 §11.6.3 rule 6] reset the link and confirm
          link.ns = 0;
          link.nr = 0;
          link.ifsc = link.config.ifsc;
          link.ifsd = T1_DEFAULT_IFS;
          link.lastI = null;
          w.phase = 'idle';
          cTransmit(w, { kind: 'S', nad, type: 'resynch', response: true });
          w.effects.push({ type: 'resynchronised' });
          return;
        case 'abort': // [7816-3 §11.6.3 rule 9] the terminal abandons the chain
          w.phase = 'idle';
          cTransmit(w, { kind: 'S', nad, type: 'abort', response: true });
          w.effects.push({ type: 'aborted' });
          return;
        case 'ifs': // [7816-3 §11.6.2 rule 4] the terminal announces its IFSD
          if (w.phase === 'processing' || w.phase === 'requesting') {
            cInvalid(w, 'other');
            return;
          }
          link.ifsd = block.value;
          cTransmit(w, { kind: 'S', nad, type: 'ifs', response: true, value: block.value });
          return;
        case 'wtx':
          cInvalid(w, 'other'); // only the card asks for waiting time
          return;
      }
    }
    if (w.phase === 'requesting' && block.type === w.request.type && 'value' in block && block.value === w.request.value) {
      if (block.type === 'ifs') link.ifsc = block.value; // [7816-3 §11.6.2 rule 4] the terminal confirmed our new IFSC
      if (w.pending !== null) cStartResponse(w, w.pending);
      else w.phase = 'processing';
      return;
    }
    if (w.phase === 'aborting' && block.type === 'abort') {
      w.phase = 'idle';
      return;
    }
    cInvalid(w, 'other');
    return;
  }

  if (block.kind === 'I') {
    if (w.phase === 'processing') return;
    if (w.phase === 'requesting' || w.phase === 'sending') {
      cInvalid(w, 'other');
      return;
    }
    if (block.ns !== link.nr) {
      cInvalid(w, 'other'); // a repeated or out-of-sequence I-block is never delivered twice
      return;
    }
    link.nr = (link.nr ^ 1) as 0 | 1;
    w.command = w.phase === 'receiving' ? concat(w.command, block.inf) : block.inf;
    if (w.command.length > link.config.maxCommandLength) {
      w.phase = 'aborting'; // [7816-3 §11.6.3 rule 9]
      w.command = EMPTY;
      cTransmit(w, { kind: 'S', nad, type: 'abort', response: false });
      w.effects.push({ type: 'error', code: 'PROTO_ERR_T1_COMMAND_TOO_LONG', detail: `more than ${link.config.maxCommandLength} bytes` });
      return;
    }
    if (block.more) {
      w.phase = 'receiving';
      cTransmit(w, { kind: 'R', nad, nr: link.nr, error: 'none' }); // [7816-3 §11.6.2 rule 5]
      return;
    }
    w.phase = 'processing';
    w.effects.push({ type: 'deliver-command', apdu: w.command });
    w.command = EMPTY;
    return;
  }

  // R-block
  switch (w.phase) {
    case 'processing':
      return;
    case 'requesting':
    case 'aborting':
    case 'receiving':
      cInvalid(w, 'other'); // the terminal missed our last block: send it again
      return;
    case 'sending':
      if (link.lastI !== null && block.nr === link.lastI.ns) {
        cRetransmit(w, link.lastI);
        return;
      }
      w.offset += w.chunk; // [7816-3 §11.6.2 rule 5] acknowledged: next chunk
      cSendChunk(w);
      return;
    case 'idle':
      if (link.lastI !== null && block.nr === link.lastI.ns) {
        cRetransmit(w, link.lastI); // the terminal did not get our response
        return;
      }
      if (link.last !== null && link.last.kind === 'R') cRetransmit(w, link.last);
      else cTransmit(w, { kind: 'R', nad, nr: link.nr, error: 'none' }); // "send me I-block N(R)"
      return;
  }
}

/**
 * Steps the card role. Events out of turn (`send-response` without a pending command, a request while not
 * processing, invalid values) yield an `error` effect and leave the state unchanged. Never throws for
 * received bytes.
 *
 * Error effect codes: `PROTO_ERR_T1_UNEXPECTED_EVENT`, `PROTO_ERR_T1_EMPTY_APDU`, `PROTO_ERR_T1_PARAM`,
 * `PROTO_ERR_T1_COMMAND_TOO_LONG` (the card aborted an oversized chain).
 */
export function t1CardStep(state: T1CardState, event: T1CardEvent): T1CardStepResult {
  const refuse = (code: T1ErrorCode, detail: string): T1CardStepResult => ({ state, effects: [{ type: 'error', code, detail }] });
  const w = cardWork(state);
  switch (event.type) {
    case 'block-received': {
      const d = tryDecode(event.bytes, w.link.config.edc, w.link.ifsc, w.link.config.nad, event.parityError);
      if (d.ok) cOnBlock(w, d.block);
      else cInvalid(w, d.code === 'PROTO_ERR_T1_EDC' ? 'edc' : 'other'); // [7816-3 §11.6.3 rule 7.1]
      break;
    }
    case 'send-response':
      if (state.phase !== 'processing' && state.phase !== 'requesting') return refuse('PROTO_ERR_T1_UNEXPECTED_EVENT', `send-response in ${state.phase}`);
      if (event.apdu.length === 0) return refuse('PROTO_ERR_T1_EMPTY_APDU', '0 bytes');
      if (state.phase === 'requesting') w.pending = event.apdu.slice();
      else cStartResponse(w, event.apdu);
      break;
    case 'request-wtx':
    case 'request-ifs': {
      if (state.phase !== 'processing') return refuse('PROTO_ERR_T1_UNEXPECTED_EVENT', `${event.type} in ${state.phase}`);
      const type = event.type === 'request-wtx' ? 'wtx' : 'ifs';
      const value = event.type === 'request-wtx' ? event.multiplier : event.ifsc;
      if (!Number.isInteger(value) || value < 1 || value > (type === 'wtx' ? 255 : T1_MAX_INF)) {
        return refuse('PROTO_ERR_T1_PARAM', `${type} value ${value}`);
      }
      w.request = { type, value };
      w.pending = null;
      w.phase = 'requesting';
      cTransmit(w, { kind: 'S', nad: w.link.config.nad, type, response: false, value }); // [7816-3 §11.6.2 rules 3, 4]
      break;
    }
  }
  return { state: cardState(w), effects: w.effects };
}
