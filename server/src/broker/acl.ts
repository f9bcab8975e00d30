/**
 * The broker's access decisions as pure functions: who may connect, publish and subscribe. The
 * aedes wiring in `broker.ts` only looks up the terminal and applies these verdicts. A terminal
 * connects with client id = username = its terminal id and the password it got at enrolment; it
 * may publish only under `t/{id}/up/` and subscribe only under `t/{id}/down/` and
 * `fleet/broadcast/` (the rule itself lives in `@onecard/protocol/fleet`).
 */
import { mayTerminalPublish, mayTerminalSubscribe, isTerminalId } from '@onecard/protocol/fleet';
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
  | 'topic-not-allowed'
  | 'payload-too-large';

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: Refusal };

const OK: Verdict = { ok: true };
const no = (reason: Refusal): Verdict => ({ ok: false, reason });

export interface ConnectAttempt {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Uint8Array | undefined;
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
  return OK;
}

/** Decides a PUBLISH by an authenticated terminal. */
export function decidePublish(terminalId: string, topic: string, payloadLength: number, maxPayload: number): Verdict {
  if (payloadLength > maxPayload) return no('payload-too-large');
  return mayTerminalPublish(terminalId, topic) ? OK : no('topic-not-allowed');
}

/** Decides one SUBSCRIBE filter of an authenticated terminal. */
export function decideSubscribe(terminalId: string, filter: string): Verdict {
  return mayTerminalSubscribe(terminalId, filter) ? OK : no('topic-not-allowed');
}
