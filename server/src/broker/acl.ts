/**
 * The broker's access decisions as pure functions: who may connect, publish and subscribe. The
 * aedes wiring in `broker.ts` only looks up the terminal and applies these verdicts. A terminal
 * connects with client id = username = its terminal id, the password it got at enrolment and a
 * clean session; it may publish only the protocol's uplink topics of its own `t/{id}/up/` tree
 * (never retained), and subscribe only under `t/{id}/down/` and `fleet/broadcast/` (the topic
 * rules live in `@onecard/protocol/fleet`).
 */
import { mayTerminalPublish, mayTerminalSubscribe, isTerminalId, parseTopic } from '@onecard/protocol/fleet';
import { hashToken, sameHash } from '../crypto-util.ts';
import type { TerminalRecord } from '../store/types.ts';

/** Why a connection, publish or subscription was refused (a metrics label and log field). */
export type Refusal =
  | 'no-credentials'
  | 'bad-client-id'
  | 'client-id-mismatch'
  | 'unknown-terminal'
  | 'bad-password'
  | 'terminal-disabled'
  | 'persistent-session'
  | 'will-not-allowed'
  | 'topic-not-allowed'
  | 'retain-not-allowed'
  | 'payload-too-large';

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: Refusal };

const OK: Verdict = { ok: true };
const no = (reason: Refusal): Verdict => ({ ok: false, reason });

export interface ConnectAttempt {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Uint8Array | undefined;
  /**
   * The CONNECT's clean-session flag (absent = clean). Terminals reconcile everything by version
   * on each connection and never rely on the broker keeping messages for them, so a persistent
   * session is refused: it would let one terminal's credentials make the broker queue downlinks
   * for it without bound while it stays away.
   */
  readonly clean?: boolean;
  /** The CONNECT's Last Will, if any. */
  readonly will?: { readonly topic: string; readonly retain: boolean } | undefined;
}

/**
 * Decides a CONNECT given the terminal record found for `username` (or `undefined`). The client
 * id must equal the username so one terminal cannot take over another's session or Last Will.
 * [MQTT-3.1.3-8] The broker answers refusals with CONNACK 4 (bad credentials) or 5 (not
 * authorised).
 */
export function decideConnect(a: ConnectAttempt, terminal: TerminalRecord | undefined): Verdict {
  if (a.username === undefined || a.password === undefined) return no('no-credentials');
  if (!isTerminalId(a.clientId)) return no('bad-client-id');
  if (a.clientId !== a.username) return no('client-id-mismatch');
  if (terminal === undefined) return no('unknown-terminal');
  if (!sameHash(hashToken(Buffer.from(a.password).toString('utf8')), terminal.credentialHash)) return no('bad-password');
  if (terminal.status !== 'active') return no('terminal-disabled');
  if (a.clean === false) return no('persistent-session');
  // The Will is published by the broker on the terminal's behalf, possibly by another server of a
  // Redis-shared layout long after the connection is gone: it must be the protocol's own
  // `up/death`, not retained, decided here rather than when it fires. [MQTT-3.1.2-8]
  if (a.will !== undefined && (a.will.retain || a.will.topic !== `t/${a.clientId}/up/death`)) return no('will-not-allowed');
  return OK;
}

/** One PUBLISH as the ACL sees it. */
export interface PublishAttempt {
  readonly topic: string;
  readonly payloadLength: number;
  readonly retain: boolean;
}

/**
 * Decides a PUBLISH by an authenticated terminal: only a topic of the fleet protocol's uplink
 * table (`up/birth`, `up/death`, `up/tele`, `up/events`, `up/config/status`, `up/jobs/{jobId}`,
 * `up/rpc/{reqId}`) of its own tree, never retained (the protocol says "retained: no" for every
 * `up/` topic, and a retained uplink would be kept by the broker for ever), and at most
 * `maxPayload` bytes.
 */
export function decidePublish(terminalId: string, p: PublishAttempt, maxPayload: number): Verdict {
  if (p.payloadLength > maxPayload) return no('payload-too-large');
  if (!mayTerminalPublish(terminalId, p.topic)) return no('topic-not-allowed');
  const parsed = parseTopic(p.topic);
  if (parsed === undefined || parsed.dir !== 'up' || parsed.terminalId !== terminalId) return no('topic-not-allowed');
  // [MQTT-3.3.1-5] a retained PUBLISH is stored by the server: uplinks are events, not state.
  if (p.retain) return no('retain-not-allowed');
  return OK;
}

/** Decides one SUBSCRIBE filter of an authenticated terminal. */
export function decideSubscribe(terminalId: string, filter: string): Verdict {
  return mayTerminalSubscribe(terminalId, filter) ? OK : no('topic-not-allowed');
}
