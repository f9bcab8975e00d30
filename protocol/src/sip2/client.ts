/**
 * The self-check (SC) side of a SIP2 link as an explicit state machine, stepped by a pure
 * function: `stepSip2Client(state, event) → {state, effects}`. SIP2 is strictly one request,
 * one response [SIP2 2.00 §Message format]. The machine numbers requests 0–9 (`AY`), waits for
 * the matching response, and recovers the two ways the specification gives:
 * - a response with a bad checksum: send Request ACS Resend (97) and wait again
 *   [SIP2 2.00 §Request ACS Resend];
 * - Request SC Resend (96) from the library system: send the request again, unchanged
 *   [SIP2 2.00 §Request SC Resend];
 * - no response by the deadline: send the request again with the same sequence number.
 * Each recovery counts against `maxRetries`; past it the request fails with a coded error. Time
 * comes with the events (`now`, milliseconds), so tests need no timers.
 */
import { ProtocolError, isProtocolError } from '../errors.ts';
import { decodeSip2, encodeSip2, type Sip2CodecOptions, type Sip2Message } from './codec.ts';
import { SIP2_MESSAGES, type Sip2Code } from './messages.ts';

export interface Sip2ClientOptions extends Sip2CodecOptions {
  /** How long to wait for a response before retransmitting (ms). */
  readonly timeoutMs: number;
  /** Retransmissions (timeouts, 97s sent, 96s honoured) allowed per request. */
  readonly maxRetries: number;
}

export type Sip2ClientState =
  | { readonly phase: 'idle'; readonly nextSeq: number }
  | {
    readonly phase: 'awaiting';
    readonly nextSeq: number;
    readonly request: Uint8Array;
    readonly expect: Sip2Code;
    readonly seq: number | undefined;
    readonly retries: number;
    readonly deadline: number;
  };

export type Sip2ClientEvent =
  /** Send a request (a message sent by the SC that has a response code). */
  | { readonly type: 'send'; readonly message: Pick<Sip2Message, 'code' | 'fixed' | 'fields'>; readonly now: number }
  /** One frame read from the link (without its CR). */
  | { readonly type: 'frame'; readonly frame: Uint8Array; readonly now: number }
  /** Time passed (call at or after `deadline`). */
  | { readonly type: 'tick'; readonly now: number }
  /** The link dropped: the request in flight fails. */
  | { readonly type: 'closed'; readonly now: number };

export type Sip2ClientEffect =
  | { readonly type: 'write'; readonly bytes: Uint8Array; readonly why: 'request' | 'resend-request' | 'timeout-retransmit' | 'sc-resend' }
  | { readonly type: 'response'; readonly message: Sip2Message }
  | { readonly type: 'failed'; readonly error: ProtocolError }
  /** A frame that answers nothing in flight (late answer to a retransmitted request), dropped. */
  | { readonly type: 'ignored'; readonly code: string; readonly reason: string };

export interface Sip2ClientStep {
  readonly state: Sip2ClientState;
  readonly effects: readonly Sip2ClientEffect[];
}

export const initialSip2ClientState: Sip2ClientState = { phase: 'idle', nextSeq: 0 };

/**
 * One step of the client. Throws only for a caller error: `PROTO_ERR_SIP2_STATE` (a send while a
 * request is in flight, or a message the SC does not send), and the encoder's codes for a bad
 * request. Link-side problems become `failed` effects, never throws.
 */
export function stepSip2Client(state: Sip2ClientState, event: Sip2ClientEvent, opts: Sip2ClientOptions): Sip2ClientStep {
  switch (event.type) {
    case 'send': {
      if (state.phase !== 'idle') throw new ProtocolError('PROTO_ERR_SIP2_STATE', 'a request is already in flight', { phase: state.phase });
      const def = SIP2_MESSAGES[event.message.code];
      if (def.from !== 'sc' || !('response' in def)) throw new ProtocolError('PROTO_ERR_SIP2_STATE', `${event.message.code} is not an SC request`, { code: event.message.code });
      const seq = opts.errorDetection ? state.nextSeq : undefined;
      const request = encodeSip2({ ...event.message, ...(seq === undefined ? {} : { seq }) }, opts);
      return {
        state: { phase: 'awaiting', nextSeq: (state.nextSeq + 1) % 10, request, expect: def.response as Sip2Code, seq, retries: 0, deadline: event.now + opts.timeoutMs },
        effects: [{ type: 'write', bytes: request, why: 'request' }],
      };
    }
    case 'closed': {
      if (state.phase === 'idle') return { state, effects: [] };
      return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'failed', error: new ProtocolError('PROTO_ERR_SIP2_STATE', 'link closed with a request in flight', { expect: state.expect }) }] };
    }
    case 'tick': {
      if (state.phase !== 'awaiting' || event.now < state.deadline) return { state, effects: [] };
      if (state.retries >= opts.maxRetries) {
        return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'failed', error: new ProtocolError('PROTO_ERR_SIP2_TIMEOUT', `no ${state.expect} after ${state.retries} retries`, { expect: state.expect, retries: state.retries }) }] };
      }
      return {
        state: { ...state, retries: state.retries + 1, deadline: event.now + opts.timeoutMs },
        effects: [{ type: 'write', bytes: state.request, why: 'timeout-retransmit' }],
      };
    }
    case 'frame': {
      if (state.phase !== 'awaiting') return { state, effects: [{ type: 'ignored', code: frameCode(event.frame), reason: 'no request in flight' }] };
      let msg: Sip2Message;
      try {
        msg = decodeSip2(event.frame, opts);
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        // A damaged answer: ask the library system to send it again [SIP2 2.00 §Request ACS Resend].
        if (state.retries >= opts.maxRetries) {
          return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'failed', error: err }] };
        }
        const resend = encodeSip2({ code: '97', fixed: {}, fields: [] }, opts);
        return {
          state: { ...state, retries: state.retries + 1, deadline: event.now + opts.timeoutMs },
          effects: [{ type: 'write', bytes: resend, why: 'resend-request' }],
        };
      }
      if (msg.code === '96') {
        if (state.retries >= opts.maxRetries) {
          return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'failed', error: new ProtocolError('PROTO_ERR_SIP2_RESPONSE', 'library system keeps asking for a resend', { expect: state.expect }) }] };
        }
        return {
          state: { ...state, retries: state.retries + 1, deadline: event.now + opts.timeoutMs },
          effects: [{ type: 'write', bytes: state.request, why: 'sc-resend' }],
        };
      }
      // With error detection, the answer echoes the request's sequence number [SIP2 2.00 §Error detection].
      if (state.seq !== undefined && msg.seq !== state.seq) {
        return { state, effects: [{ type: 'ignored', code: msg.code, reason: `sequence ${msg.seq ?? 'none'}, expected ${state.seq}` }] };
      }
      if (msg.code !== state.expect) {
        return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'failed', error: new ProtocolError('PROTO_ERR_SIP2_RESPONSE', `got ${msg.code}, expected ${state.expect}`, { code: msg.code, expect: state.expect }) }] };
      }
      return { state: { phase: 'idle', nextSeq: state.nextSeq }, effects: [{ type: 'response', message: msg }] };
    }
  }
}

function frameCode(frame: Uint8Array): string {
  return String.fromCharCode(...frame.subarray(0, 2));
}
