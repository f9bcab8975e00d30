/**
 * The terminal configuration document the fleet server versions and pushes, and the canonical
 * JSON form its `sha256` is computed over. The server validates every admin edit against
 * {@link TerminalConfig}; the terminal validates the fetched document again before applying it
 * atomically and keeps its last good configuration when validation fails.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ProtocolError } from '../errors.ts';

/** Schema version of the configuration document (`v`). */
export const TERMINAL_CONFIG_SCHEMA_VERSION = 1;

const Seconds = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });

/** One card reader attached to the terminal. */
export const ReaderConfig = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'local reader name, e.g. `front`, `psam`' }),
  link: Type.Union([Type.Literal('serial'), Type.Literal('hid')], { description: 'CCID over serial framing, or over USB HID reports' }),
  /** Serial: tty path such as `/dev/ttyUSB0`; HID: hidraw path such as `/dev/hidraw0`. */
  path: Type.String({ minLength: 1, maxLength: 256, pattern: '^/dev/[A-Za-z0-9_./-]+$' }),
  baud: Type.Optional(Type.Integer({ minimum: 1200, maximum: 921600, description: 'serial only; default 115200' })),
  hid: Type.Optional(Type.Object({
    vendorId: Type.Integer({ minimum: 0, maximum: 0xffff }),
    productId: Type.Integer({ minimum: 0, maximum: 0xffff }),
  }, { additionalProperties: false, description: 'HID only: expected USB ids, checked when the device opens' })),
  model: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$', description: 'reader model key, e.g. `gempc-twin`' }),
  /** Slot index of the PSAM in this reader, or `null` when the reader has no PSAM. */
  psamSlot: Type.Union([Type.Integer({ minimum: 0, maximum: 7 }), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('psam'), Type.Literal('both')], { description: 'what the reader is used for' }),
}, { additionalProperties: false });

/** Services the terminal offers; a disabled service refuses requests with a coded error. */
export const ServicesConfig = Type.Object({
  identity: Type.Boolean(),
  pin: Type.Boolean({ description: 'PIN verify / change / unblock' }),
  ecardQr: Type.Boolean({ description: 'electronic social security card QR codes' }),
  transit: Type.Boolean({ description: 'transit e-purse purchases' }),
  venue: Type.Boolean({ description: 'venue and library gate entry' }),
  lossReport: Type.Boolean({ description: 'PIN-verified loss reports at the kiosk' }),
}, { additionalProperties: false });

export const KioskConfig = Type.Object({
  enabled: Type.Boolean(),
  language: Type.Union([Type.Literal('zh-CN'), Type.Literal('en')]),
  idleTimeoutSeconds: Seconds(10, 3600, 'return to the start screen after this much inactivity'),
  cardRemovalTimeoutSeconds: Seconds(5, 600, 'ask the cardholder to take the card after this long'),
}, { additionalProperties: false });

export const LocalApiConfig = Type.Object({
  enabled: Type.Boolean(),
  host: Type.Union([Type.Literal('127.0.0.1'), Type.Literal('::1')], { description: 'loopback only' }),
  port: Type.Integer({ minimum: 1024, maximum: 65535 }),
  allowedOrigins: Type.Array(Type.String({ maxLength: 256, pattern: '^https?://[^\\s/]+$' }), { maxItems: 16, description: 'browser origins of the kiosk UI' }),
  hisCompat: Type.Boolean({ description: 'expose the iReadCardBas-compatible endpoint for hospital systems' }),
}, { additionalProperties: false });

export const HotlistConfig = Type.Object({
  refreshIntervalSeconds: Seconds(30, 86400, 'poll the hotlist even without a pointer at this interval'),
  maxStaleSeconds: Seconds(60, 30 * 86400, 'older than this, offline transit/venue acceptance is refused'),
}, { additionalProperties: false });

export const UploadConfig = Type.Object({
  intervalSeconds: Seconds(1, 3600, 'flush the outbox at least this often'),
  batchSize: Type.Integer({ minimum: 1, maximum: 1000, description: 'records per `up/events` batch' }),
  maxOutboxRecords: Type.Integer({ minimum: 1000, maximum: 10_000_000, description: 'outbox full above this: card services that must journal stop' }),
}, { additionalProperties: false });

export const TelemetryConfig = Type.Object({
  intervalSeconds: Seconds(5, 3600, '`up/tele` period'),
}, { additionalProperties: false });

/** The whole terminal configuration document (version `v` = {@link TERMINAL_CONFIG_SCHEMA_VERSION}). */
export const TerminalConfig = Type.Object({
  v: Type.Literal(TERMINAL_CONFIG_SCHEMA_VERSION),
  name: Type.Optional(Type.String({ maxLength: 128, description: 'free text for operators' })),
  readers: Type.Array(ReaderConfig, { maxItems: 8 }),
  services: ServicesConfig,
  kiosk: KioskConfig,
  api: LocalApiConfig,
  hotlist: HotlistConfig,
  upload: UploadConfig,
  telemetry: TelemetryConfig,
  logLevel: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')]),
}, { additionalProperties: false, $id: 'TerminalConfig' });

export type TerminalConfigDocument = Static<typeof TerminalConfig>;

const check = TypeCompiler.Compile(TerminalConfig);

/**
 * Validates a configuration document; reader ids must also be unique.
 * @throws ProtocolError `PROTO_ERR_FLEET_SCHEMA` (details.path names the field)
 */
export function validateTerminalConfig(value: unknown): TerminalConfigDocument {
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const path = first?.path === undefined || first.path === '' ? '/' : first.path;
    throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `config ${path}: ${first?.message ?? 'invalid'}`, { kind: 'config-document', path });
  }
  const seen = new Set<string>();
  value.readers.forEach((r, i) => {
    if (seen.has(r.id)) throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `config /readers/${i}/id: duplicate reader id`, { kind: 'config-document', path: `/readers/${i}/id` });
    seen.add(r.id);
  });
  return value;
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code units at every level, no whitespace, arrays
 * in order. The configuration `sha256` is SHA-256 over the UTF-8 bytes of this string, and the
 * server serves the document as exactly these bytes.
 * @throws ProtocolError `PROTO_ERR_FLEET_JSON` for values JSON cannot represent (non-finite numbers, undefined, functions)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ProtocolError('PROTO_ERR_FLEET_JSON', 'non-finite number', { kind: 'canonical' });
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((x) => canonicalJson(x)).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new ProtocolError('PROTO_ERR_FLEET_JSON', `cannot encode ${typeof value}`, { kind: 'canonical' });
}

/** A plausible default document (kiosk in a service hall, one serial reader with a PSAM slot). */
export const EXAMPLE_TERMINAL_CONFIG: TerminalConfigDocument = {
  v: 1,
  name: 'service hall kiosk',
  readers: [{ id: 'front', link: 'serial', path: '/dev/ttyUSB0', baud: 115200, model: 'gempc-twin', psamSlot: 1, role: 'both' }],
  services: { identity: true, pin: true, ecardQr: true, transit: false, venue: false, lossReport: true },
  kiosk: { enabled: true, language: 'zh-CN', idleTimeoutSeconds: 120, cardRemovalTimeoutSeconds: 30 },
  api: { enabled: true, host: '127.0.0.1', port: 17777, allowedOrigins: ['http://127.0.0.1:17778'], hisCompat: false },
  hotlist: { refreshIntervalSeconds: 900, maxStaleSeconds: 86400 },
  upload: { intervalSeconds: 5, batchSize: 200, maxOutboxRecords: 1_000_000 },
  telemetry: { intervalSeconds: 60 },
  logLevel: 'info',
};
