/**
 * The terminal configuration document the fleet server versions and pushes, and the canonical
 * JSON form its `sha256` is computed over. The server validates every admin edit against
 * {@link TerminalConfig}; the terminal validates the fetched document again before applying it
 * atomically and keeps its last good configuration when validation fails.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ProtocolError } from '../errors.ts';
import { TERMINAL_READER_MODEL_KEYS } from '../ccid/reader-models.ts';
import { VenueRules, venueRulesProblem } from '../venue/rules.ts';
import { SealedSecretRef } from './config-secret.ts';

/** Schema version of the configuration document (`v`). */
export const TERMINAL_CONFIG_SCHEMA_VERSION = 1;

const Seconds = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });

/** One card reader attached to the terminal. */
export const ReaderConfig = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'local reader name, e.g. `front`, `psam`' }),
  link: Type.Union([Type.Literal('serial'), Type.Literal('hid'), Type.Literal('pcsc')], { description: 'CCID over serial framing, over USB HID reports, or any reader through pcscd (PC/SC)' }),
  /** Serial: tty path such as `/dev/ttyUSB0`; HID: hidraw path such as `/dev/hidraw0`; PC/SC: reader name or glob (docs/readers.md; `model` is then not used). */
  path: Type.String({ minLength: 1, maxLength: 256, pattern: '^(/dev/[A-Za-z0-9_./-]+|[^/\\x00-\\x1f][^\\x00-\\x1f]{0,126})$' }),
  // The models a terminal drives: one table, protocol/ccid/reader-models.ts.
  model: Type.Union(TERMINAL_READER_MODEL_KEYS.map((k) => Type.Literal(k)), { description: 'reader model key (protocol/ccid reader-models.ts)' }),
  /** Slot index of the PSAM in this reader, or `null` when the reader has no PSAM. */
  psamSlot: Type.Union([Type.Integer({ minimum: 0, maximum: 7 }), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('psam'), Type.Literal('both')], { description: 'what the reader is used for' }),
}, { additionalProperties: false });

/** Services the terminal offers; a disabled service refuses requests with a coded error. */
export const ServicesConfig = Type.Object({
  identity: Type.Boolean({ description: 'basic-information card reads' }),
  pin: Type.Boolean({ description: 'PIN verify / change / unblock' }),
  ecardQr: Type.Boolean({ description: 'electronic social security card QR codes (local API and scanners)' }),
  transit: Type.Boolean({ description: 'transit e-purse purchases' }),
}, { additionalProperties: false });

/** What the fleet sets on the local API; its bind address and token are the local file's. */
export const LocalApiConfig = Type.Object({
  allowedOrigins: Type.Array(Type.String({ maxLength: 256, pattern: '^https?://[^\\s/]+$' }), { maxItems: 16, description: 'browser origins of the kiosk UI, added to those of the local file' }),
  hisCompat: Type.Boolean({ description: 'offer the iReadCardBas-compatible read (`format: ireadcardbas`) to hospital systems' }),
}, { additionalProperties: false });

export const HotlistConfig = Type.Object({
  refreshIntervalSeconds: Seconds(30, 86400, 'poll the hotlist even without a pointer at this interval'),
  maxStaleSeconds: Seconds(60, 30 * 86400, 'transit purchases are refused while the hotlist was last confirmed current longer ago than this'),
}, { additionalProperties: false });

export const UploadConfig = Type.Object({
  intervalSeconds: Seconds(1, 3600, 'flush the outbox at least this often'),
  batchSize: Type.Integer({ minimum: 1, maximum: 1000, description: 'records per `up/events` batch' }),
  maxOutboxRecords: Type.Integer({ minimum: 1000, maximum: 10_000_000, description: 'outbox full above this: card services that must journal stop' }),
}, { additionalProperties: false });

export const TelemetryConfig = Type.Object({
  intervalSeconds: Seconds(5, 3600, '`up/tele` period'),
}, { additionalProperties: false });

/**
 * The library system this terminal talks SIP2 to (docs/sip2.md): the library gate and the
 * self-service loan desk. The SIP2 login password is a credential: the document carries it sealed
 * (`config-secret.ts`), the terminal never logs it.
 */
export const LibraryConfig = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$', description: 'library system (ACS) host name or address' }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  institutionId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^|\\r\\n]+$', description: 'SIP2 institution id (AO)' }),
  user: Type.String({ maxLength: 64, pattern: '^[^|\\r\\n]*$', description: 'SIP2 login user (CN)' }),
  // [docs/sip2.md "The SIP2 password"] the fleet server stores and pushes only the sealed form; the
  // text form is what a terminal may still hold from a document saved before sealing existed.
  password: Type.Union([
    SealedSecretRef,
    Type.String({ maxLength: 64, pattern: '^[^|\\r\\n]*$', description: 'SIP2 login password (CO) in clear: documents saved before sealing only; never logged' }),
  ], { description: 'SIP2 login password (CO): sealed by the fleet server, each terminal fetches its own copy; never logged' }),
  location: Type.String({ maxLength: 64, pattern: '^[^|\\r\\n]*$', description: 'SIP2 location code (CP at login, AP at checkin)' }),
  charset: Type.Union([Type.Literal('utf-8'), Type.Literal('gbk')], { description: 'character set of the SIP2 link' }),
  errorDetection: Type.Boolean({ description: 'SIP2 error detection: sequence numbers (AY) and checksums (AZ)' }),
  timeoutMs: Type.Integer({ minimum: 200, maximum: 60_000, description: 'wait for a response before retransmitting' }),
  maxRetries: Type.Integer({ minimum: 0, maximum: 5, description: 'retransmissions per request (timeouts, 97 on a bad checksum, 96 honoured)' }),
  gate: Type.Boolean({ description: 'library gate: admit or refuse by patron status' }),
  loanDesk: Type.Boolean({ description: 'self-service loan desk: checkout, renew, checkin' }),
}, { additionalProperties: false });

/** The whole terminal configuration document (version `v` = {@link TERMINAL_CONFIG_SCHEMA_VERSION}). */
export const TerminalConfig = Type.Object({
  v: Type.Literal(TERMINAL_CONFIG_SCHEMA_VERSION),
  name: Type.Optional(Type.String({ maxLength: 128, description: 'free text for operators' })),
  readers: Type.Array(ReaderConfig, { maxItems: 8 }),
  services: ServicesConfig,
  api: LocalApiConfig,
  hotlist: HotlistConfig,
  upload: UploadConfig,
  telemetry: TelemetryConfig,
  logLevel: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')]),
  /** Venue gates: the rules of the venue the document's terminals serve (`@onecard/protocol/venue`). */
  venues: Type.Optional(VenueRules),
  /** Libraries over SIP2: the library system and the services offered (docs/sip2.md). */
  library: Type.Optional(LibraryConfig),
}, { additionalProperties: false, $id: 'TerminalConfig' });

export type TerminalConfigDocument = Static<typeof TerminalConfig>;

const check = TypeCompiler.Compile(TerminalConfig);

/**
 * Validates a configuration document, then the rules a schema cannot say: reader ids are unique,
 * at most one reader holds the user card (`user`/`both`) and at most one the PSAM (`psam`/`both`),
 * and a reader with a PSAM role names its PSAM slot. The server runs this at PUT, the terminal
 * again before applying, so a document one terminal would refuse is refused for all at the server.
 * @throws ProtocolError `PROTO_ERR_FLEET_SCHEMA` (details.path names the field)
 */
export function validateTerminalConfig(value: unknown): TerminalConfigDocument {
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const path = first?.path === undefined || first.path === '' ? '/' : first.path;
    throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `config ${path}: ${first?.message ?? 'invalid'}`, { kind: 'config-document', path });
  }
  const fail = (path: string, why: string): never => { throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `config ${path}: ${why}`, { kind: 'config-document', path }); };
  const seen = new Set<string>();
  let user: string | undefined;
  let psam: string | undefined;
  value.readers.forEach((r, i) => {
    if (seen.has(r.id)) fail(`/readers/${i}/id`, 'duplicate reader id');
    seen.add(r.id);
    if ((r.link === 'pcsc') === r.path.startsWith('/dev/')) fail(`/readers/${i}/path`, r.link === 'pcsc' ? 'a pcsc reader is named by its PC/SC reader name, not a device path' : `a ${r.link} reader needs a /dev path`);
    if (r.role === 'user' || r.role === 'both') {
      if (user !== undefined) fail(`/readers/${i}/role`, `reader '${user}' already holds the user card`);
      user = r.id;
    }
    if (r.role === 'user' && r.psamSlot !== null) fail(`/readers/${i}/psamSlot`, "role 'user' has no PSAM (use role 'both')");
    if (r.role === 'psam' || r.role === 'both') {
      if (r.psamSlot === null) fail(`/readers/${i}/psamSlot`, `role '${r.role}' needs a PSAM slot`);
      if (psam !== undefined) fail(`/readers/${i}/role`, `reader '${psam}' already holds the PSAM`);
      psam = r.id;
    }
  });
  if (value.readers.length > 0 && user === undefined) fail('/readers', 'no reader with role user or both');
  if (value.venues !== undefined) {
    const p = venueRulesProblem(value.venues);
    if (p !== undefined) fail(`/venues${p.path}`, p.why);
  }
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

/**
 * A plausible default document (kiosk in a service hall, one serial reader with a PSAM slot). Its
 * restart-class values equal the terminal's own defaults, so a first push needs no restart.
 */
export const EXAMPLE_TERMINAL_CONFIG: TerminalConfigDocument = {
  v: 1,
  name: 'service hall kiosk',
  readers: [{ id: 'front', link: 'serial', path: '/dev/ttyUSB0', model: 'gempc-twin', psamSlot: 1, role: 'both' }],
  services: { identity: true, pin: true, ecardQr: true, transit: false },
  api: { allowedOrigins: [], hisCompat: false },
  hotlist: { refreshIntervalSeconds: 900, maxStaleSeconds: 86400 },
  upload: { intervalSeconds: 5, batchSize: 200, maxOutboxRecords: 100_000 },
  telemetry: { intervalSeconds: 60 },
  logLevel: 'info',
};
