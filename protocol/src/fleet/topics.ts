/**
 * MQTT topics of the OneCard fleet protocol and the access rule the broker enforces on them.
 * Every terminal lives under `t/{terminalId}/`; it may publish only under `t/{id}/up/#` and
 * subscribe only under `t/{id}/down/#` and `fleet/broadcast/#`. The checks are pure functions so
 * the embedded broker, an external broker's ACL generator and the tests share one definition.
 */
import { ProtocolError } from '../errors.ts';

/** Terminal ids are 1–64 characters from `[A-Za-z0-9_-]`: never `/`, `+`, `#` or `$`. */
export const TERMINAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Uplink kinds (terminal → server) that carry no further topic levels. */
export const UP_KINDS = ['birth', 'death', 'tele', 'events', 'config/status'] as const;
/** Downlink kinds (server → terminal) that carry no further topic levels. */
export const DOWN_KINDS = ['ack', 'config', 'jobs/notify', 'hotlist'] as const;

export type UpKind = (typeof UP_KINDS)[number];
export type DownKind = (typeof DOWN_KINDS)[number];

export const BROADCAST_PREFIX = 'fleet/broadcast/';
/** The retained hotlist pointer `{v, version}` for the whole fleet. */
export const HOTLIST_POINTER_TOPIC = `${BROADCAST_PREFIX}hotlist`;
/** The retained newest hotlist change `{v, fromVersion, version, add, remove}` for the whole fleet. */
export const HOTLIST_DELTA_TOPIC = `${BROADCAST_PREFIX}hotlist/delta`;

/**
 * True when `id` is a valid terminal id.
 */
export function isTerminalId(id: string): boolean {
  return TERMINAL_ID_PATTERN.test(id);
}

/**
 * Checks a terminal id.
 * @throws ProtocolError `PROTO_ERR_FLEET_TERMINAL_ID`
 */
export function assertTerminalId(id: string): void {
  if (!isTerminalId(id)) throw new ProtocolError('PROTO_ERR_FLEET_TERMINAL_ID', JSON.stringify(id.slice(0, 80)));
}

/** `t/{id}/up/{kind}`. @throws ProtocolError `PROTO_ERR_FLEET_TERMINAL_ID` */
export function upTopic(terminalId: string, kind: UpKind): string {
  assertTerminalId(terminalId);
  return `t/${terminalId}/up/${kind}`;
}

/** `t/{id}/down/{kind}`. @throws ProtocolError `PROTO_ERR_FLEET_TERMINAL_ID` */
export function downTopic(terminalId: string, kind: DownKind): string {
  assertTerminalId(terminalId);
  return `t/${terminalId}/down/${kind}`;
}

const JOB_OR_REQ_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `t/{id}/up/jobs/{jobId}` — progress and result of one job. */
export function jobProgressTopic(terminalId: string, jobId: string): string {
  assertTerminalId(terminalId);
  if (!JOB_OR_REQ_ID.test(jobId)) throw new ProtocolError('PROTO_ERR_FLEET_TOPIC', 'invalid job id');
  return `t/${terminalId}/up/jobs/${jobId}`;
}

/** `t/{id}/down/rpc/{reqId}` or `t/{id}/up/rpc/{reqId}`. */
export function rpcTopic(terminalId: string, dir: 'up' | 'down', reqId: string): string {
  assertTerminalId(terminalId);
  if (!JOB_OR_REQ_ID.test(reqId)) throw new ProtocolError('PROTO_ERR_FLEET_TOPIC', 'invalid request id');
  return `t/${terminalId}/${dir}/rpc/${reqId}`;
}

/** A parsed terminal topic. */
export type ParsedTopic =
  | { readonly dir: 'up'; readonly terminalId: string; readonly kind: UpKind }
  | { readonly dir: 'up'; readonly terminalId: string; readonly kind: 'jobs'; readonly jobId: string }
  | { readonly dir: 'up' | 'down'; readonly terminalId: string; readonly kind: 'rpc'; readonly reqId: string }
  | { readonly dir: 'down'; readonly terminalId: string; readonly kind: DownKind };

/**
 * Parses a concrete (wildcard-free) terminal topic, or returns `undefined` when it is not one of
 * the fleet protocol's topics.
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== 't') return undefined;
  const terminalId = parts[1]!;
  if (!isTerminalId(terminalId)) return undefined;
  const dir = parts[2];
  const rest = parts.slice(3).join('/');
  if (dir === 'up') {
    if ((UP_KINDS as readonly string[]).includes(rest)) return { dir, terminalId, kind: rest as UpKind };
    if (parts.length === 5 && parts[3] === 'jobs' && JOB_OR_REQ_ID.test(parts[4]!)) return { dir, terminalId, kind: 'jobs', jobId: parts[4]! };
  } else if (dir === 'down') {
    if ((DOWN_KINDS as readonly string[]).includes(rest)) return { dir, terminalId, kind: rest as DownKind };
  } else {
    return undefined;
  }
  if (parts.length === 5 && parts[3] === 'rpc' && JOB_OR_REQ_ID.test(parts[4]!)) return { dir, terminalId, kind: 'rpc', reqId: parts[4]! };
  return undefined;
}

function isWithin(filterOrTopic: string, prefix: string): boolean {
  // The prefix ends in '/', so `t/ab/up/…` never matches the terminal `t/a/…`.
  if (!filterOrTopic.startsWith(prefix)) return false;
  return filterOrTopic.length > prefix.length;
}

/**
 * May `terminalId` publish to `topic`? Only concrete topics under its own `t/{id}/up/`.
 * Wildcards in a PUBLISH topic are a protocol violation. [MQTT-3.3.2-2]
 */
export function mayTerminalPublish(terminalId: string, topic: string): boolean {
  if (!isTerminalId(terminalId)) return false;
  if (topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false;
  return isWithin(topic, `t/${terminalId}/up/`);
}

/**
 * May `terminalId` subscribe to `filter`? Only filters that cannot match anything outside
 * `t/{id}/down/#` and `fleet/broadcast/#`. A wildcard may appear only after that prefix, and a
 * `#` only as the last level. [MQTT-4.7.1-2] [MQTT-4.7.1-3]
 */
export function mayTerminalSubscribe(terminalId: string, filter: string): boolean {
  if (!isTerminalId(terminalId)) return false;
  if (filter.includes('\u0000') || filter.startsWith('$')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  for (const prefix of [`t/${terminalId}/down/`, BROADCAST_PREFIX]) {
    if (isWithin(filter, prefix)) return true;
  }
  return false;
}
