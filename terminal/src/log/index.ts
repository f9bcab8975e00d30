/**
 * The terminal's logger factory: one pino logger per process with serializers and redaction
 * compiled once [style.md habit 8]. Command APDUs are traced through `formatCommandApdu`, which
 * masks the data of secret-bearing commands (VERIFY 20, 24, 2C, CHANGE PIN 5E, external
 * authentication 82, key loading D4); CIPHER DATA (`80 FA`, PIN blocks on their way to the PSAM)
 * is masked too. Response APDUs are logged as SW and length only (EF06 answers hold personal
 * data). Personal data fields are masked (SSN, name, card number, card ID, birth data, reset
 * information, the `iReadCardBas` string) and PIN / key fields are censored wherever they appear.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { formatCommandApdu, type CommandApdu, type ResponseApdu } from '@onecard/protocol/iso7816';
import { maskPersonalData, PERSONAL_DATA_MASKERS } from '@onecard/protocol/ssc';

export type { Logger } from 'pino';

/** Log levels. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Options of {@link createLogger}. */
export interface LoggerFactoryOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** A stream (`{ write(line) }`), a file path, or a file descriptor; default stdout. */
  readonly destination?: DestinationStream | string | number;
  /** Base bindings (e.g. `{ terminalId }`); default none (no pid/hostname). */
  readonly base?: Readonly<Record<string, unknown>>;
}

/**
 * One-line trace of a command APDU with secret data masked [reader-link §6.7; ssc-card §11].
 * Anything that is not a command APDU is logged as `<not an APDU>`.
 */
export function serializeCommandApdu(value: unknown): string {
  if (typeof value !== 'object' || value === null) return '<not an APDU>';
  const a = value as Partial<CommandApdu>;
  if (typeof a.cla !== 'number' || typeof a.ins !== 'number' || typeof a.p1 !== 'number' || typeof a.p2 !== 'number') return '<not an APDU>';
  // `anyClass`: CIPHER DATA `FA` is masked in every class, not only in `8x`.
  return formatCommandApdu(a as CommandApdu, { anyClass: true });
}

/** A response APDU as `{ sw, len }`: the data is never logged (it may hold personal data). */
export function serializeResponseApdu(value: unknown): { sw: string; len: number } | string {
  if (typeof value !== 'object' || value === null) return '<not an APDU>';
  const r = value as Partial<ResponseApdu>;
  if (typeof r.sw !== 'number') return '<not an APDU>';
  return { sw: r.sw.toString(16).toUpperCase().padStart(4, '0'), len: r.data instanceof Uint8Array ? r.data.length : 0 };
}

/**
 * Personal-data record masked field by field (`maskPersonalData`); the `readCardBas` string is
 * masked by the redaction step that runs after the serializers.
 */
export function serializePersonal(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return maskPersonalData(value as Record<string, unknown>);
}

const SECRET_KEYS = ['pin', 'oldPin', 'newPin', 'key', 'keys', 'root', 'mpk', 'mtk', 'irk', 'rkssse', 'puk', 'stk', 'sessionKey', 'password', 'token'];
/** The one personal-data table (`@onecard/protocol/ssc`): record fields and the `iReadCardBas` string. */
const PERSONAL_KEYS = PERSONAL_DATA_MASKERS;

/** Redaction paths: each secret or personal key at the top level and one level down. */
const REDACT_PATHS = [...SECRET_KEYS, ...Object.keys(PERSONAL_KEYS)].flatMap((k) => [k, `*.${k}`]);

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? '';
  const mask = PERSONAL_KEYS[key];
  if (mask !== undefined) return typeof value === 'string' ? mask(value) : '[redacted]';
  return '[redacted]';
}

/**
 * Creates the process logger. Serializers: `apdu` (command APDU, secrets masked), `rapdu` (SW and
 * length only), `card` and `info` (personal data masked), `err` (pino's standard). Redaction:
 * PIN and key fields are censored, personal fields masked, at the top level and one level down.
 */
export function createLogger(opts: LoggerFactoryOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: opts.base === undefined ? null : { ...opts.base },
    serializers: {
      apdu: serializeCommandApdu,
      rapdu: serializeResponseApdu,
      card: serializePersonal,
      info: serializePersonal,
      err: pino.stdSerializers.err,
    },
    redact: { paths: REDACT_PATHS, censor },
  };
  const d = opts.destination;
  if (d === undefined) return pino(options);
  if (typeof d === 'string' || typeof d === 'number') return pino(options, pino.destination({ dest: d, sync: true }));
  return pino(options, d);
}

/** An in-memory destination for tests: keeps every written line. */
export interface MemoryDestination extends DestinationStream {
  /** The raw text written so far. */
  text(): string;
  /** The lines parsed back into objects. */
  records(): Record<string, unknown>[];
}

/** Creates a {@link MemoryDestination}. */
export function createMemoryDestination(): MemoryDestination {
  const chunks: string[] = [];
  return {
    write(s: string) {
      chunks.push(s);
    },
    text: () => chunks.join(''),
    records: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
