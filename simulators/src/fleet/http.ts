/**
 * The simulated fleet's HTTP side: a small JSON client over `node:http` with one keep-alive agent
 * whose socket count is bounded (ten thousand terminals fetching a document at once must not open
 * ten thousand sockets), the loopback guard, enrolment (P-256 key pair per terminal, optional
 * group and enrolment-token creation with an admin token) and the configuration fetch.
 */
import { request, Agent, type IncomingMessage } from 'node:http';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { SimulatorError } from '../errors.ts';

/** What a simulated terminal keeps from its enrolment. */
export interface TerminalCredentials {
  readonly terminalId: string;
  readonly password: string;
  readonly mqttUrl: string;
  readonly serverPublicKey: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Parses a server URL and refuses anything that is not http(s)/mqtt on a loopback address.
 * @throws SimulatorError `SIM_ERR_FLEET_NOT_LOOPBACK`
 */
export function assertLoopbackUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SimulatorError('SIM_ERR_FLEET_NOT_LOOPBACK', `not a URL: ${url.slice(0, 80)}`);
  }
  if (!['http:', 'mqtt:'].includes(u.protocol) || !isLoopbackHost(u.hostname)) {
    throw new SimulatorError('SIM_ERR_FLEET_NOT_LOOPBACK', `${u.protocol}//${u.host}`, { url: `${u.protocol}//${u.host}` });
  }
  return u;
}

/** A JSON/bytes HTTP client bound to one loopback server with at most `maxSockets` connections. */
export class FleetHttp {
  readonly base: URL;
  readonly #agent: Agent;

  constructor(baseUrl: string, maxSockets = 64) {
    this.base = assertLoopbackUrl(baseUrl);
    if (this.base.protocol !== 'http:') throw new SimulatorError('SIM_ERR_FLEET_NOT_LOOPBACK', 'the server URL must be http://');
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * One request; resolves with any status (callers decide), rejects on transport errors.
   * @throws SimulatorError `SIM_ERR_FLEET_HTTP` on connection errors or a 30 s timeout
   */
  send(method: string, path: string, opts: { body?: unknown; authorization?: string } = {}): Promise<HttpResponse> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
    return new Promise((resolve, reject) => {
      const req = request({
        host: this.base.hostname,
        port: this.base.port,
        path,
        method,
        agent: this.#agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...(opts.authorization !== undefined ? { authorization: opts.authorization } : {}),
        },
        timeout: 30_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(new SimulatorError('SIM_ERR_FLEET_HTTP', `${method} ${path}: ${err.message}`, {}, { cause: err })));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => reject(new SimulatorError('SIM_ERR_FLEET_HTTP', `${method} ${path}: ${err.message}`, {}, { cause: err })));
      req.end(payload);
    });
  }

  /**
   * A request that must answer one of `okStatus`; returns the parsed JSON body.
   * @throws SimulatorError `SIM_ERR_FLEET_HTTP` with `details.status` and the server's error code
   */
  async json(method: string, path: string, okStatus: readonly number[], opts: { body?: unknown; authorization?: string } = {}): Promise<unknown> {
    const res = await this.send(method, path, opts);
    const text = res.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!okStatus.includes(res.status)) {
      const code = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
      throw new SimulatorError('SIM_ERR_FLEET_HTTP', `${method} ${path} → ${res.status}${code === undefined ? '' : ` ${code}`}`, { status: res.status, ...(code === undefined ? {} : { serverCode: code }) });
    }
    return parsed;
  }

  close(): void {
    this.#agent.destroy();
  }
}

const bearer = (token: string): string => `Bearer ${token}`;

/** Creates the group unless it exists. @throws SimulatorError `SIM_ERR_FLEET_HTTP` */
export async function ensureGroup(http: FleetHttp, adminToken: string, groupId: string, name: string): Promise<void> {
  const res = await http.send('POST', '/api/v1/groups', { body: { id: groupId, name }, authorization: bearer(adminToken) });
  if (res.status === 201 || res.status === 200 || res.status === 409) return;
  throw new SimulatorError('SIM_ERR_FLEET_HTTP', `POST /api/v1/groups → ${res.status} ${res.body.toString('utf8').slice(0, 200)}`, { status: res.status });
}

/** Creates one single-use enrolment token for the group. @throws SimulatorError `SIM_ERR_FLEET_HTTP` */
export async function createEnrolmentToken(http: FleetHttp, adminToken: string, groupId: string, tags: readonly string[]): Promise<string> {
  const r = (await http.json('POST', '/api/v1/enrolment-tokens', [201], { body: { groupId, tags }, authorization: bearer(adminToken) })) as { token: string };
  return r.token;
}

/** A fresh P-256 public key in SPKI DER, base64 (the private half is not needed by the simulator). */
export function newP256PublicKey(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * Enrols one terminal with an enrolment token.
 * @throws SimulatorError `SIM_ERR_FLEET_ENROL` (details.status, details.serverCode), `SIM_ERR_FLEET_NOT_LOOPBACK` when the server hands out a non-loopback broker URL
 */
export async function enrolTerminal(http: FleetHttp, token: string, kind: string): Promise<TerminalCredentials> {
  let r: { terminalId: string; mqtt: { url: string; password: string }; serverPublicKey: string };
  try {
    r = (await http.json('POST', '/api/v1/enrol', [201], { body: { token, publicKey: newP256PublicKey(), kind } })) as typeof r;
  } catch (err) {
    const e = err as SimulatorError;
    throw new SimulatorError('SIM_ERR_FLEET_ENROL', e.message, e.details, { cause: err });
  }
  assertLoopbackUrl(r.mqtt.url);
  return { terminalId: r.terminalId, password: r.mqtt.password, mqttUrl: r.mqtt.url, serverPublicKey: r.serverPublicKey };
}

/** The document behind a configuration pointer, checked against the pointer's digest. */
export interface FetchedConfig {
  readonly version: number;
  readonly document: unknown;
  readonly sha256: string;
}

/**
 * Fetches configuration `version` from `GET /api/v1/terminal/config/{version}` with the terminal's
 * own credentials (HTTP Basic) and verifies SHA-256 over the exact bytes served.
 * @throws SimulatorError `SIM_ERR_FLEET_CONFIG` (details.reason: `http`, `digest`, `json`)
 */
export async function fetchConfigDocument(http: FleetHttp, cred: TerminalCredentials, version: number, sha256: string): Promise<FetchedConfig> {
  const auth = `Basic ${Buffer.from(`${cred.terminalId}:${cred.password}`, 'utf8').toString('base64')}`;
  let res: HttpResponse;
  try {
    res = await http.send('GET', `/api/v1/terminal/config/${version}`, { authorization: auth });
  } catch (err) {
    throw new SimulatorError('SIM_ERR_FLEET_CONFIG', `version ${version}: ${(err as Error).message}`, { reason: 'http' }, { cause: err });
  }
  if (res.status !== 200) throw new SimulatorError('SIM_ERR_FLEET_CONFIG', `version ${version}: HTTP ${res.status}`, { reason: 'http', status: res.status });
  return configFromBytes(res.body, version, sha256);
}

/**
 * A configuration document from its canonical bytes (fetched, or inline in the pointer): the
 * SHA-256 of exactly these bytes must be the pointer's.
 * @throws SimulatorError `SIM_ERR_FLEET_CONFIG` (details.reason `digest` or `json`)
 */
export function configFromBytes(bytes: Uint8Array, version: number, sha256: string): FetchedConfig {
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== sha256) throw new SimulatorError('SIM_ERR_FLEET_CONFIG', `version ${version}: sha256 mismatch`, { reason: 'digest' });
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (cause) {
    throw new SimulatorError('SIM_ERR_FLEET_CONFIG', `version ${version}: not JSON`, { reason: 'json' }, { cause });
  }
  return { version, document, sha256: digest };
}

/** A hotlist answer: set operations since the terminal's version, or the whole list. */
export type FetchedHotlist =
  | { readonly kind: 'delta'; readonly fromVersion: number; readonly version: number; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly kind: 'full'; readonly version: number; readonly cards: readonly string[] };

const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/**
 * Fetches the hotlist delta since `since` (or the full list) from `GET /api/v1/terminal/hotlist`
 * with the terminal's own credentials (HTTP Basic), JSON representation.
 * @throws SimulatorError `SIM_ERR_FLEET_HOTLIST` (details.reason: `http`, `json`, `shape`)
 */
export async function fetchHotlist(http: FleetHttp, cred: TerminalCredentials, since: number): Promise<FetchedHotlist> {
  const auth = `Basic ${Buffer.from(`${cred.terminalId}:${cred.password}`, 'utf8').toString('base64')}`;
  let res: HttpResponse;
  try {
    res = await http.send('GET', `/api/v1/terminal/hotlist?since=${since}`, { authorization: auth });
  } catch (err) {
    throw new SimulatorError('SIM_ERR_FLEET_HOTLIST', `since ${since}: ${(err as Error).message}`, { reason: 'http' }, { cause: err });
  }
  if (res.status !== 200) throw new SimulatorError('SIM_ERR_FLEET_HOTLIST', `since ${since}: HTTP ${res.status}`, { reason: 'http', status: res.status });
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch (cause) {
    throw new SimulatorError('SIM_ERR_FLEET_HOTLIST', `since ${since}: not JSON`, { reason: 'json' }, { cause });
  }
  const b = body as Record<string, unknown>;
  if (typeof b === 'object' && b !== null && Number.isInteger(b['version'])) {
    const version = b['version'] as number;
    if (b['kind'] === 'delta' && Number.isInteger(b['fromVersion']) && isStringArray(b['add']) && isStringArray(b['remove'])) {
      return { kind: 'delta', fromVersion: b['fromVersion'] as number, version, add: b['add'], remove: b['remove'] };
    }
    if (b['kind'] === 'full' && isStringArray(b['cards'])) return { kind: 'full', version, cards: b['cards'] };
  }
  throw new SimulatorError('SIM_ERR_FLEET_HOTLIST', `since ${since}: unexpected answer`, { reason: 'shape' });
}
