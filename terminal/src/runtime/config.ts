/**
 * The terminal's local configuration (JSON). Two forms, one parser:
 * - the **local file** of an enrolled terminal (`onecard-terminal run --data-dir DIR`, read from
 *   `DIR/terminal.json` or `--config FILE`): only what the fleet cannot know — readers (pinned:
 *   a fleet configuration's readers are then not applied), the local API bind and token, e-card
 *   keys and scanners, the update install root and pinned signing keys, the soft-SAM terminal
 *   number, logging. Every field is optional; the terminal id and data dir come from the
 *   enrolment, everything else from the fleet configuration and its last good copy on disk;
 * - the **full file** (`run --config FILE` without `--data-dir`): `terminalId` and `readers`
 *   required, optional `fleet.dataDir`; a fleet configuration's readers replace the file's.
 * {@link parseTerminalConfig} validates field by field and names the first wrong field
 * (`TERM_ERR_CONFIG`, `details.field` like `readers[0].path`). Sample: terminal/config.example.json;
 * reference: docs/local-api.md §Configuration.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TerminalError } from '../errors.ts';
import type { ReaderConfig } from '../card/index.ts';
import { apiTokenProblem } from '../api/token-policy.ts';

export interface ScannerConfig {
  readonly link: 'hid' | 'serial';
  readonly path: string;
  /** HID: report ID byte in front of each report. */
  readonly reportId?: number;
  /** Serial: line speed (default 9600). */
  readonly baudRate?: number;
}

export interface TerminalConfig {
  readonly terminalId: string;
  /** May be empty in the local form: the readers then come from the fleet configuration. */
  readonly readers: readonly ReaderConfig[];
  /** Undefined only when `readers` is empty. */
  readonly card: { readonly reader: string; readonly slot: number } | undefined;
  readonly psam?: { readonly reader: string; readonly slot: number };
  readonly hotlist?: { readonly file: string };
  readonly journal?: { readonly file: string };
  readonly deviceNumber?: string;
  readonly api: {
    readonly host: string;
    readonly port: number;
    readonly token?: string;
    readonly allowedOrigins: readonly string[];
    readonly allowedHosts: readonly string[];
    /** HTTPS (PEM files); required, with `allowedClients`, for a non-loopback `host`. */
    readonly tls?: { readonly certFile: string; readonly keyFile: string };
    /** Peer IP addresses allowed besides loopback; required, with `tls`, for a non-loopback `host`. */
    readonly allowedClients: readonly string[];
  };
  readonly ecard?: {
    readonly keys: readonly { readonly publicKey: string; readonly label?: string }[];
    readonly skewSeconds?: number;
    readonly maxTtlSeconds?: number;
    readonly online?: { readonly url: string; readonly mode: 'required' | 'best-effort'; readonly timeoutMs?: number };
    readonly scanners: readonly ScannerConfig[];
  };
  /**
   * Fleet membership: `dataDir` holds the identity from `onecard-terminal enroll`, the outbox
   * (`outbox/`), the compact hotlist (`hotlist/`) and the last good fleet configuration
   * (`config/last-good.json`).
   */
  readonly fleet?: { readonly dataDir: string; readonly softwareVersion?: string };
  /**
   * Software updates: the A/B install root the updater writes (`releases/`, `current`, …; see
   * docs/updates.md) and the package signing keys pinned on this terminal. Without it, update
   * jobs are refused.
   */
  readonly updates?: { readonly root: string; readonly pinnedKeys: readonly string[]; readonly healthDeadlineSeconds: number };
  /** The soft SAM (fares with delivered transit keys when no PSAM is configured). */
  readonly softSam?: { readonly terminalNumber: string };
  /** The screens served by the local API at `/kiosk/` and `/desk/` (both off by default). */
  readonly screens?: { readonly kiosk: boolean; readonly desk: boolean };
  /** A PIN pad device on a serial line (terminal/src/pinpad): the kiosk takes PINs on it instead of its on-screen keypad. */
  readonly pinpad?: { readonly link: 'serial'; readonly path: string; readonly baudRate: number; readonly timeoutSeconds: number };
  /** Library loan desk: the book barcode scanners of this box (the library system itself is in the fleet configuration). */
  readonly library?: { readonly scanners: readonly ScannerConfig[] };
  /** Settings the local file fixes, which a fleet configuration does not change (`readers`). */
  readonly pinned: readonly 'readers'[];
  readonly log: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; readonly file?: string };
}

type Obj = Record<string, unknown>;

class Checker {
  fail(field: string, why: string): never {
    throw new TerminalError('TERM_ERR_CONFIG', `${field}: ${why}`, { field });
  }
  obj(v: unknown, field: string, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    for (const k of Object.keys(v as Obj)) if (!allowed.includes(k) && k !== '$comment') this.fail(field === '' ? k : `${field}.${k}`, 'unknown field');
    return v as Obj;
  }
  str(v: unknown, field: string, re?: RegExp, hint?: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'must be a non-empty string');
    if (re !== undefined && !re.test(v as string)) this.fail(field, hint ?? `must match ${re}`);
    return v as string;
  }
  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `must be an integer ${min}..${max}`);
    return v as number;
  }
  oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(field, `must be one of ${values.join(', ')}`);
    return v as T;
  }
  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'must be an array');
    return v as unknown[];
  }
}

const MODELS = ['gempc-twin', 'gemcore-sim-pro2', 'sec1210'] as const;
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;
const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;

/**
 * The `api` section. The local API holds card data and PIN tries, so it listens on loopback
 * unless the file explicitly turns on TLS and a client allow-list; its token is long, random and
 * not the sample's placeholder (`apiTokenProblem`). Field errors name `api.host`, `api.token`, ….
 */
function parseApiSection(c: Checker, v: unknown): TerminalConfig['api'] {
  const apiIn = v === undefined ? {} : c.obj(v, 'api', ['host', 'port', 'token', 'allowedOrigins', 'allowedHosts', 'tls', 'allowedClients']);
  const host = apiIn['host'] === undefined ? '127.0.0.1' : c.str(apiIn['host'], 'api.host');
  const token = apiIn['token'] === undefined ? undefined : c.str(apiIn['token'], 'api.token');
  if (token !== undefined) {
    const why = apiTokenProblem(token);
    if (why !== undefined) c.fail('api.token', why);
  }
  let tls: { certFile: string; keyFile: string } | undefined;
  if (apiIn['tls'] !== undefined) {
    const t = c.obj(apiIn['tls'], 'api.tls', ['certFile', 'keyFile']);
    tls = { certFile: c.str(t['certFile'], 'api.tls.certFile'), keyFile: c.str(t['keyFile'], 'api.tls.keyFile') };
  }
  const allowedClients = apiIn['allowedClients'] === undefined ? [] : c.arr(apiIn['allowedClients'], 'api.allowedClients').map((a, i) => c.str(a, `api.allowedClients[${i}]`, IP_ADDRESS, 'must be an IP address'));
  if (!LOOPBACK_HOST.test(host) && (tls === undefined || allowedClients.length === 0)) {
    c.fail('api.host', `${host} is not a loopback address: listening beyond this machine needs api.tls and api.allowedClients`);
  }
  if (!LOOPBACK_HOST.test(host) && token === undefined) c.fail('api.token', `required when api.host (${host}) is not loopback`);
  return {
    host,
    port: apiIn['port'] === undefined ? 8930 : c.int(apiIn['port'], 'api.port', 0, 65535),
    ...(token === undefined ? {} : { token }),
    allowedOrigins: apiIn['allowedOrigins'] === undefined ? [] : c.arr(apiIn['allowedOrigins'], 'api.allowedOrigins').map((o, i) => c.str(o, `api.allowedOrigins[${i}]`, /^https?:\/\/[^/]+$/, 'must be an origin like http://localhost:8080')),
    allowedHosts: apiIn['allowedHosts'] === undefined ? [] : c.arr(apiIn['allowedHosts'], 'api.allowedHosts').map((h, i) => c.str(h, `api.allowedHosts[${i}]`)),
    ...(tls === undefined ? {} : { tls }),
    allowedClients,
  };
}
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What an enrolment fixes for the local form of the file (`run --data-dir DIR`). */
export interface LocalConfigContext {
  /** The enrolled terminal id (a `terminalId` in the file must equal it). */
  readonly terminalId: string;
  /** The data directory (identity, outbox, hotlist, keys, journal, last good configuration). */
  readonly dataDir: string;
  /** The install root given on the command line (`--root`): `updates.root` may then be left out. */
  readonly installRoot?: string;
}

/**
 * Validates a parsed JSON value: the full form, or with `local` the local form of an enrolled
 * terminal (every field optional; see the file comment). Throws `TERM_ERR_CONFIG` naming the first
 * wrong field.
 */
export function parseTerminalConfig(json: unknown, local?: LocalConfigContext): TerminalConfig {
  const c = new Checker();
  const root = c.obj(json, '', ['terminalId', 'readers', 'card', 'psam', 'hotlist', 'journal', 'deviceNumber', 'api', 'ecard', 'fleet', 'updates', 'softSam', 'log', 'screens', 'library', 'pinpad']);
  const terminalId = local !== undefined && root['terminalId'] === undefined
    ? local.terminalId
    : c.str(root['terminalId'], 'terminalId', /^[A-Za-z0-9._-]{1,64}$/, 'must be 1..64 of A-Z a-z 0-9 . _ -');
  if (local !== undefined && terminalId !== local.terminalId) c.fail('terminalId', `is not the enrolled terminal id ${local.terminalId} (leave it out: the enrolment sets it)`);
  const readerList = local !== undefined && root['readers'] === undefined ? [] : c.arr(root['readers'], 'readers');
  if (readerList.length === 0 && local === undefined) c.fail('readers', 'must name at least one reader');
  const ids = new Set<string>();
  const readers = readerList.map((r, i): ReaderConfig => {
    const f = `readers[${i}]`;
    const o = c.obj(r, f, ['id', 'link', 'path', 'model', 'userSlot', 'psamSlot']);
    const id = c.str(o['id'], `${f}.id`);
    if (ids.has(id)) c.fail(`${f}.id`, `duplicate reader id '${id}'`);
    ids.add(id);
    return {
      id,
      link: c.oneOf(o['link'], `${f}.link`, ['serial', 'hid', 'pcsc'] as const),
      path: c.str(o['path'], `${f}.path`),
      ...(o['model'] === undefined ? {} : { model: c.oneOf(o['model'], `${f}.model`, MODELS) }),
      ...(o['userSlot'] === undefined ? {} : { userSlot: c.int(o['userSlot'], `${f}.userSlot`, 0, 7) }),
      ...(o['psamSlot'] === undefined ? {} : { psamSlot: c.int(o['psamSlot'], `${f}.psamSlot`, 0, 7) }),
    };
  });
  const position = (v: unknown, f: string): { reader: string; slot: number } => {
    const o = c.obj(v, f, ['reader', 'slot']);
    const reader = c.str(o['reader'], `${f}.reader`);
    if (!ids.has(reader)) c.fail(`${f}.reader`, `no reader with id '${reader}' in readers`);
    return { reader, slot: o['slot'] === undefined ? 0 : c.int(o['slot'], `${f}.slot`, 0, 7) };
  };
  const first = readers[0];
  const card = root['card'] === undefined ? first === undefined ? undefined : { reader: first.id, slot: first.userSlot ?? 0 } : position(root['card'], 'card');
  const psam = root['psam'] === undefined
    ? readers.find((r) => r.psamSlot !== undefined) === undefined ? undefined : { reader: readers.find((r) => r.psamSlot !== undefined)!.id, slot: readers.find((r) => r.psamSlot !== undefined)!.psamSlot! }
    : position(root['psam'], 'psam');
  const file = (v: unknown, f: string): { file: string } => ({ file: c.str(c.obj(v, f, ['file'])['file'], `${f}.file`) });
  const api = parseApiSection(c, root['api']);
  let ecard: TerminalConfig['ecard'];
  if (root['ecard'] !== undefined) {
    const e = c.obj(root['ecard'], 'ecard', ['keys', 'skewSeconds', 'maxTtlSeconds', 'online', 'scanners']);
    const keys = c.arr(e['keys'], 'ecard.keys').map((k, i) => {
      const o = c.obj(k, `ecard.keys[${i}]`, ['publicKey', 'label']);
      return {
        publicKey: c.str(o['publicKey'], `ecard.keys[${i}].publicKey`, /^04[0-9A-Fa-f]{128}$/, 'must be 130 hex digits 04‖x‖y'),
        ...(o['label'] === undefined ? {} : { label: c.str(o['label'], `ecard.keys[${i}].label`) }),
      };
    });
    if (keys.length === 0) c.fail('ecard.keys', 'must hold at least one platform key');
    let online: NonNullable<TerminalConfig['ecard']>['online'];
    if (e['online'] !== undefined) {
      const o = c.obj(e['online'], 'ecard.online', ['url', 'mode', 'timeoutMs']);
      online = {
        url: c.str(o['url'], 'ecard.online.url', /^https?:\/\//, 'must be an http(s) URL'),
        mode: o['mode'] === undefined ? 'best-effort' : c.oneOf(o['mode'], 'ecard.online.mode', ['required', 'best-effort'] as const),
        ...(o['timeoutMs'] === undefined ? {} : { timeoutMs: c.int(o['timeoutMs'], 'ecard.online.timeoutMs', 100, 60_000) }),
      };
    }
    const scanners = e['scanners'] === undefined ? [] : c.arr(e['scanners'], 'ecard.scanners').map((s, i): ScannerConfig => {
      const f = `ecard.scanners[${i}]`;
      const o = c.obj(s, f, ['link', 'path', 'reportId', 'baudRate']);
      return {
        link: c.oneOf(o['link'], `${f}.link`, ['hid', 'serial'] as const),
        path: c.str(o['path'], `${f}.path`),
        ...(o['reportId'] === undefined ? {} : { reportId: c.int(o['reportId'], `${f}.reportId`, 0, 255) }),
        ...(o['baudRate'] === undefined ? {} : { baudRate: c.int(o['baudRate'], `${f}.baudRate`, 1200, 921600) }),
      };
    });
    ecard = {
      keys,
      scanners,
      ...(e['skewSeconds'] === undefined ? {} : { skewSeconds: c.int(e['skewSeconds'], 'ecard.skewSeconds', 0, 300) }),
      ...(e['maxTtlSeconds'] === undefined ? {} : { maxTtlSeconds: c.int(e['maxTtlSeconds'], 'ecard.maxTtlSeconds', 1, 600) }),
      ...(online === undefined ? {} : { online }),
    };
  }
  let fleet: TerminalConfig['fleet'];
  if (root['fleet'] !== undefined) {
    const f = c.obj(root['fleet'], 'fleet', ['dataDir', 'softwareVersion']);
    fleet = {
      dataDir: local !== undefined && f['dataDir'] === undefined ? local.dataDir : c.str(f['dataDir'], 'fleet.dataDir'),
      ...(f['softwareVersion'] === undefined ? {} : { softwareVersion: c.str(f['softwareVersion'], 'fleet.softwareVersion', /^.{1,64}$/, 'must be 1..64 characters') }),
    };
    if (local !== undefined && resolve(fleet.dataDir) !== resolve(local.dataDir)) c.fail('fleet.dataDir', `must be the data dir ${local.dataDir} (leave it out)`);
  } else if (local !== undefined) fleet = { dataDir: local.dataDir };
  let updates: TerminalConfig['updates'];
  if (root['updates'] !== undefined) {
    const u = c.obj(root['updates'], 'updates', ['root', 'pinnedKeys', 'healthDeadlineSeconds']);
    const pinnedKeys = c.arr(u['pinnedKeys'], 'updates.pinnedKeys').map((k, i) => c.str(k, `updates.pinnedKeys[${i}]`, /^(ed25519:[A-Za-z0-9+/]{43}=|sm2:04[0-9A-Fa-f]{128})$/, 'must be ed25519:<base64> or sm2:<130 hex> (docs/updates.md)'));
    if (pinnedKeys.length === 0) c.fail('updates.pinnedKeys', 'must pin at least one package signing key');
    updates = {
      root: u['root'] === undefined && local?.installRoot !== undefined ? local.installRoot : c.str(u['root'], 'updates.root'),
      pinnedKeys,
      healthDeadlineSeconds: u['healthDeadlineSeconds'] === undefined ? 120 : c.int(u['healthDeadlineSeconds'], 'updates.healthDeadlineSeconds', 5, 3600),
    };
  }
  const softSam = root['softSam'] === undefined ? undefined
    : { terminalNumber: c.str(c.obj(root['softSam'], 'softSam', ['terminalNumber'])['terminalNumber'], 'softSam.terminalNumber', /^[0-9]{12}$/, 'must be 12 digits') };
  const journal = root['journal'] === undefined ? local === undefined ? undefined : { file: join(local.dataDir, 'purchases.journal') } : file(root['journal'], 'journal');
  const logIn = root['log'] === undefined ? {} : c.obj(root['log'], 'log', ['level', 'file']);
  const screensIn = root['screens'] === undefined ? {} : c.obj(root['screens'], 'screens', ['kiosk', 'desk']);
  const flag = (v: unknown, f: string): boolean => {
    if (v !== undefined && typeof v !== 'boolean') c.fail(f, 'must be true or false');
    return v === true;
  };
  const screens = { kiosk: flag(screensIn['kiosk'], 'screens.kiosk'), desk: flag(screensIn['desk'], 'screens.desk') };
  let pinpad: TerminalConfig['pinpad'];
  if (root['pinpad'] !== undefined) {
    const o = c.obj(root['pinpad'], 'pinpad', ['link', 'path', 'baudRate', 'timeoutSeconds']);
    pinpad = {
      link: c.oneOf(o['link'], 'pinpad.link', ['serial'] as const),
      path: c.str(o['path'], 'pinpad.path'),
      baudRate: o['baudRate'] === undefined ? 9600 : c.int(o['baudRate'], 'pinpad.baudRate', 1200, 921600),
      timeoutSeconds: o['timeoutSeconds'] === undefined ? 60 : c.int(o['timeoutSeconds'], 'pinpad.timeoutSeconds', 5, 300),
    };
  }
  const libraryIn = root['library'] === undefined ? undefined : c.obj(root['library'], 'library', ['scanners']);
  const library = libraryIn === undefined ? undefined : {
    scanners: libraryIn['scanners'] === undefined ? [] : c.arr(libraryIn['scanners'], 'library.scanners').map((sc, i): ScannerConfig => {
      const f = `library.scanners[${i}]`;
      const o = c.obj(sc, f, ['link', 'path', 'reportId', 'baudRate']);
      return {
        link: c.oneOf(o['link'], `${f}.link`, ['hid', 'serial'] as const),
        path: c.str(o['path'], `${f}.path`),
        ...(o['reportId'] === undefined ? {} : { reportId: c.int(o['reportId'], `${f}.reportId`, 0, 255) }),
        ...(o['baudRate'] === undefined ? {} : { baudRate: c.int(o['baudRate'], `${f}.baudRate`, 1200, 921600) }),
      };
    }),
  };
  return {
    terminalId,
    readers,
    card,
    ...(psam === undefined ? {} : { psam }),
    ...(root['hotlist'] === undefined ? {} : { hotlist: file(root['hotlist'], 'hotlist') }),
    ...(journal === undefined ? {} : { journal }),
    ...(root['deviceNumber'] === undefined ? {} : { deviceNumber: c.str(root['deviceNumber'], 'deviceNumber') }),
    api,
    ...(ecard === undefined ? {} : { ecard }),
    ...(fleet === undefined ? {} : { fleet }),
    ...(updates === undefined ? {} : { updates }),
    ...(softSam === undefined ? {} : { softSam }),
    screens,
    ...(pinpad === undefined ? {} : { pinpad }),
    ...(library === undefined ? {} : { library }),
    pinned: local !== undefined && readers.length > 0 ? ['readers'] : [],
    log: {
      level: logIn['level'] === undefined ? 'info' : c.oneOf(logIn['level'], 'log.level', LEVELS),
      ...(logIn['file'] === undefined ? {} : { file: c.str(logIn['file'], 'log.file') }),
    },
  };
}

/**
 * Reads and validates a config file (the local form with `local`). Throws `TERM_ERR_CONFIG`
 * (unreadable, not JSON, or invalid). With `optional`, a missing file reads as `{}`.
 */
export async function loadTerminalConfig(path: string, local?: LocalConfigContext, optional = false): Promise<TerminalConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (optional && local !== undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') return parseTerminalConfig({}, local);
    throw new TerminalError('TERM_ERR_CONFIG', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { field: '' }, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TerminalError('TERM_ERR_CONFIG', `${path} is not JSON: ${(e as Error).message}`, { field: '' }, { cause: e });
  }
  return parseTerminalConfig(json, local);
}
