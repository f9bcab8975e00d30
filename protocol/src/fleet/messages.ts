/**
 * Message bodies of the OneCard fleet protocol. Every body is a UTF-8 JSON object with a schema
 * version `v`; each topic kind has one TypeBox schema, compiled once. Decoding is strict:
 * oversized payloads, invalid JSON, a wrong `v` and schema mismatches each fail with their own
 * code, and the schema error names the offending path.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ProtocolError } from '../errors.ts';

/**
 * Schema version carried in every envelope as `v`. Adding an optional field keeps it; a receiver
 * that predates the field refuses messages carrying it (schemas are closed), so the server is
 * upgraded before its terminals. Removing or retyping a field, or adding a required one, needs
 * the next `v`.
 */
export const FLEET_SCHEMA_VERSION = 1;
/** Largest payload the decoder accepts (the broker refuses larger ones before they get here). */
export const MAX_FLEET_PAYLOAD = 256 * 1024;

const V = Type.Literal(FLEET_SCHEMA_VERSION);
const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const Version = Type.Integer({ minimum: 0 });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Epoch = Type.Integer({ minimum: 0 });
const Ts = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });

export const ReaderInfo = Type.Object({
  id: Type.String({ maxLength: 64 }),
  link: Type.Union([Type.Literal('serial'), Type.Literal('hid'), Type.Literal('pcsc'), Type.Literal('memory')]),
  status: Type.Union([Type.Literal('ok'), Type.Literal('absent'), Type.Literal('error')]),
  card: Type.Optional(Type.Boolean()),
  psam: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const DataVersions = Type.Object({
  software: Type.String({ maxLength: 64 }),
  config: Version,
  keys: Version,
  hotlist: Version,
}, { additionalProperties: false });

/**
 * What a terminal can take in a downlink beyond `v: 1` as first published (a receiver that
 * predates a field refuses it, so the server adds one only for terminals that said so):
 * `config-body` — the configuration document inline in the `down/config` pointer.
 */
export const DOWNLINK_FEATURES = ['config-body'] as const;
export type DownlinkFeature = (typeof DOWNLINK_FEATURES)[number];

export const Birth = Type.Object({
  v: V,
  epoch: Epoch,
  ts: Ts,
  versions: DataVersions,
  readers: Type.Array(ReaderInfo, { maxItems: 16 }),
  kind: Type.Optional(Type.String({ maxLength: 32 })),
  /** Downlink features this terminal takes (optional, added within `v: 1`). */
  accepts: Type.Optional(Type.Array(Type.Union([Type.Literal('config-body')]), { maxItems: 8, uniqueItems: true })),
}, { additionalProperties: false });

export const Death = Type.Object({ v: V, epoch: Epoch }, { additionalProperties: false });

export const Telemetry = Type.Object({
  v: V,
  epoch: Epoch,
  ts: Ts,
  health: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('failed')]),
  readers: Type.Array(ReaderInfo, { maxItems: 16 }),
  counters: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,63}$' }), Type.Number()),
  outbox: Type.Optional(Type.Object({ pending: Type.Integer({ minimum: 0 }), full: Type.Boolean() }, { additionalProperties: false })),
}, { additionalProperties: false });

export const OutboxRecord = Type.Object({
  eventId: Type.String({ minLength: 8, maxLength: 64 }),
  seq: Type.Integer({ minimum: 1 }),
  ts: Ts,
  type: Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$' }),
  body: Type.Record(Type.String(), Type.Unknown()),
}, { additionalProperties: false });

export const EventsBatch = Type.Object({
  v: V,
  records: Type.Array(OutboxRecord, { minItems: 1, maxItems: 1000 }),
}, { additionalProperties: false });

export const Ack = Type.Object({ v: V, upToSeq: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

/**
 * Largest configuration document (canonical JSON, UTF-8 bytes) the server puts inline in a
 * `down/config` pointer; a larger one is fetched over HTTP. Typical documents are a few KiB. The
 * pointer is retained per terminal: the embedded broker's retained messages share one payload per
 * version, a Redis-shared layout stores each, so this bounds what a fleet's pointers hold there.
 */
export const CONFIG_INLINE_MAX = 16 * 1024;

/**
 * `t/{id}/down/config`: the terminal's desired configuration `{v, version, sha256}`. `body`
 * (optional, added within `v: 1`, sent only to terminals whose birth `accepts` `config-body`) is
 * the document itself as its canonical JSON text: the terminal checks that the SHA-256 of its
 * UTF-8 bytes equals `sha256` and applies it without an HTTP fetch. The pointer is published by
 * the server on the terminal's own downlink tree, which no other client may read or write, so
 * whatever arrives there is meant for this terminal. Further per-terminal fields can be added the
 * same way (optional, announced by a birth feature).
 */
export const ConfigPointer = Type.Object({
  v: V,
  version: Version,
  sha256: Sha256,
  body: Type.Optional(Type.String({ minLength: 2, maxLength: CONFIG_INLINE_MAX })),
}, { additionalProperties: false });

/**
 * One changed field of an applied configuration and what took effect: `live`, `session-end`,
 * `restart`, or `pinned` (the terminal's local file fixes the field; the fleet value is not used).
 * `at` is when it took effect; absent while it is still pending (a restart not yet done).
 */
export const ConfigFieldEffect = Type.Object({
  field: Type.String({ pattern: '^(/[A-Za-z0-9_]{1,64}){1,4}$' }),
  effect: Type.Union([Type.Literal('live'), Type.Literal('session-end'), Type.Literal('restart'), Type.Literal('pinned')]),
  at: Type.Optional(Ts),
}, { additionalProperties: false });

/**
 * `up/config/status`. `changes` (optional, added within `v: 1`: a receiver that predates it
 * still sees the same `version`/`status`) lists the fields that changed and their effect; a
 * terminal reports the same version again once pending effects (a restart) are done.
 */
export const ConfigStatus = Type.Object({
  v: V,
  version: Version,
  status: Type.Union([Type.Literal('applied'), Type.Literal('rejected')]),
  error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })),
  changes: Type.Optional(Type.Array(ConfigFieldEffect, { maxItems: 64 })),
}, { additionalProperties: false });

export const JobKind = Type.Union([Type.Literal('keys'), Type.Literal('hotlist'), Type.Literal('update'), Type.Literal('config')]);

export const JobNotify = Type.Object({
  v: V,
  next: Type.Union([Type.Null(), Type.Object({ jobId: Id, kind: JobKind, version: Version }, { additionalProperties: false })]),
}, { additionalProperties: false });

export const JobProgress = Type.Object({
  v: V,
  status: Type.Union([Type.Literal('in-progress'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('rejected')]),
  step: Type.Optional(Type.String({ maxLength: 64 })),
  kcv: Type.Optional(Type.String({ pattern: '^[0-9A-F]{6,10}$' })),
  error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })),
}, { additionalProperties: false });

export const HotlistPointer = Type.Object({ v: V, version: Version }, { additionalProperties: false });

/** Most card numbers (`add` + `remove`) the server broadcasts in one `hotlist/delta`. */
export const HOTLIST_DELTA_MAX_CARDS = 2000;
const CardNumber = Type.String({ pattern: '^[0-9A-Z]{9}$' });

/**
 * `fleet/broadcast/hotlist/delta` (retained): the newest hotlist change as set operations, the
 * same body as `GET /api/v1/terminal/hotlist?since={fromVersion}` answers. A terminal at
 * `fromVersion` applies it (remove, then add) and is at `version` without an HTTP fetch; any other
 * terminal fetches as for the pointer. Published just before the `fleet/broadcast/hotlist`
 * pointer of the same version, which older terminals follow.
 */
export const HotlistDeltaMessage = Type.Object({
  v: V,
  fromVersion: Version,
  version: Version,
  add: Type.Array(CardNumber, { maxItems: HOTLIST_DELTA_MAX_CARDS }),
  remove: Type.Array(CardNumber, { maxItems: HOTLIST_DELTA_MAX_CARDS }),
}, { additionalProperties: false });

export const RpcRequest = Type.Object({
  v: V,
  method: Type.Union([Type.Literal('diagnostics'), Type.Literal('reader-info'), Type.Literal('reboot'), Type.Literal('reconcile')]),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}, { additionalProperties: false });

export const RpcResponse = Type.Object({
  v: V,
  ok: Type.Boolean(),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })),
}, { additionalProperties: false });

/** Schema of each message kind, by the topic suffix that carries it. */
export const FLEET_SCHEMAS = {
  birth: Birth,
  death: Death,
  tele: Telemetry,
  events: EventsBatch,
  ack: Ack,
  config: ConfigPointer,
  'config/status': ConfigStatus,
  'jobs/notify': JobNotify,
  'jobs/progress': JobProgress,
  hotlist: HotlistPointer,
  'hotlist/delta': HotlistDeltaMessage,
  'rpc/request': RpcRequest,
  'rpc/response': RpcResponse,
} as const;

export type FleetMessageKind = keyof typeof FLEET_SCHEMAS;
export type FleetMessage<K extends FleetMessageKind> = Static<(typeof FLEET_SCHEMAS)[K]>;
export type BirthMessage = Static<typeof Birth>;
export type TelemetryMessage = Static<typeof Telemetry>;
export type OutboxRecordMessage = Static<typeof OutboxRecord>;
export type EventsBatchMessage = Static<typeof EventsBatch>;
export type ConfigStatusMessage = Static<typeof ConfigStatus>;
export type ConfigFieldEffectMessage = Static<typeof ConfigFieldEffect>;
export type JobProgressMessage = Static<typeof JobProgress>;

const compiled = new Map<FleetMessageKind, TypeCheck<TSchema>>();
function checker(kind: FleetMessageKind): TypeCheck<TSchema> {
  let c = compiled.get(kind);
  if (c === undefined) {
    c = TypeCompiler.Compile(FLEET_SCHEMAS[kind]);
    compiled.set(kind, c);
  }
  return c;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Enc = new TextEncoder();

/**
 * Validates an already-parsed value as a message of `kind`.
 * @throws ProtocolError `PROTO_ERR_FLEET_VERSION`, `PROTO_ERR_FLEET_SCHEMA` (details.path names the field)
 */
export function validateFleetMessage<K extends FleetMessageKind>(kind: K, value: unknown): FleetMessage<K> {
  const c = checker(kind);
  if (c.Check(value)) return value as FleetMessage<K>;
  if (typeof value === 'object' && value !== null && 'v' in value && (value as { v: unknown }).v !== FLEET_SCHEMA_VERSION) {
    throw new ProtocolError('PROTO_ERR_FLEET_VERSION', `${kind}: v=${String((value as { v: unknown }).v).slice(0, 16)}`, { kind });
  }
  const first = c.Errors(value).First();
  const path = first?.path === undefined || first.path === '' ? '/' : first.path;
  throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `${kind} ${path}: ${first?.message ?? 'invalid'}`, { kind, path });
}

/**
 * Decodes a payload as a message of `kind`.
 * @throws ProtocolError `PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE`, `PROTO_ERR_FLEET_JSON`,
 *   `PROTO_ERR_FLEET_VERSION`, `PROTO_ERR_FLEET_SCHEMA`
 */
export function decodeFleetMessage<K extends FleetMessageKind>(kind: K, payload: Uint8Array, maxBytes = MAX_FLEET_PAYLOAD): FleetMessage<K> {
  if (payload.length > maxBytes) throw new ProtocolError('PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE', `${payload.length} > ${maxBytes}`, { kind, length: payload.length });
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_FLEET_JSON', kind, { kind }, { cause });
  }
  return validateFleetMessage(kind, value);
}

/**
 * Encodes a message of `kind`, validating it first so nothing malformed leaves a process.
 * @throws ProtocolError `PROTO_ERR_FLEET_SCHEMA`, `PROTO_ERR_FLEET_VERSION`, `PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE`
 */
export function encodeFleetMessage<K extends FleetMessageKind>(kind: K, message: FleetMessage<K>): Uint8Array {
  validateFleetMessage(kind, message);
  const bytes = utf8Enc.encode(JSON.stringify(message));
  if (bytes.length > MAX_FLEET_PAYLOAD) throw new ProtocolError('PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE', `${bytes.length} > ${MAX_FLEET_PAYLOAD}`, { kind, length: bytes.length });
  return bytes;
}
