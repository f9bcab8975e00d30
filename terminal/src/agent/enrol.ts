/**
 * Enrolment: generate the terminal's P-256 key pair, keep the private key in the data dir
 * (0600, dir 0700) BEFORE contacting the server (a consumed single-use token must never leave
 * the terminal without its key), post `{token, publicKey, kind, name?}` to `POST /api/v1/enrol`, then
 * store the terminal id, MQTT credentials and server public key. The token and password never
 * reach a log or an error message.
 */
import { TerminalError } from '../errors.ts';
import { generateEnrolmentKey, hasIdentity, saveIdentity, savePrivateKey, type TerminalIdentity } from './identity.ts';

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) => Promise<{ status: number; text(): Promise<string> }>;

export interface EnrolOptions {
  readonly serverUrl: string;
  readonly token: string;
  readonly dataDir: string;
  /** Terminal kind, `^[a-z][a-z0-9-]{0,31}$` (e.g. `kiosk`, `pos`, `gate`); default `terminal`. */
  readonly kind?: string;
  /**
   * Human name (e.g. `hall-kiosk`), shown in the dashboard, the API and the logs beside the id:
   * 1..64 printable characters, no control or bidirectional-override characters.
   */
  readonly name?: string;
  /** Replace an existing enrolment (re-key with a token bound to this terminal). */
  readonly force?: boolean;
  readonly fetch?: FetchLike;
  readonly clock?: () => number;
  readonly timeoutMs?: number;
}

const KIND_RE = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * A terminal name: 1..64 characters after trimming, no C0/C1 controls (NUL included), no
 * bidirectional embedding/override/isolate marks (U+202A–U+202E, U+2066–U+2069), no line or
 * paragraph separators. The server applies the same rule.
 */
export function isValidTerminalName(name: string): boolean {
  const t = name.trim();
  return t.length >= 1 && t.length <= 64 && t === name && !/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u.test(t);
}

function normaliseServerUrl(u: string): string {
  let url: URL;
  try { url = new URL(u); } catch { throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'server URL', { field: 'server' }); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'server URL must be http(s)', { field: 'server' });
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/**
 * Enrols this terminal and writes its identity.
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT`, `TERM_ERR_ENROL_EXISTS`, `TERM_ERR_ENROL_HTTP`
 *   (details.status, details.code from the server), `TERM_ERR_ENROL_RESPONSE`
 */
export async function enrol(options: EnrolOptions): Promise<TerminalIdentity> {
  const serverUrl = normaliseServerUrl(options.serverUrl);
  const kind = options.kind ?? 'terminal';
  if (!KIND_RE.test(kind)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'kind must match ^[a-z][a-z0-9-]{0,31}$', { field: 'kind' });
  if (options.name !== undefined && !isValidTerminalName(options.name)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'name must be 1..64 printable characters without control or bidirectional-override characters, no leading/trailing spaces', { field: 'name' });
  if (options.token.length < 8) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'token too short', { field: 'token' });
  if (options.force !== true && (await hasIdentity(options.dataDir))) throw new TerminalError('TERM_ERR_ENROL_EXISTS', options.dataDir, { dataDir: options.dataDir });
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const { privatePem, publicKeySpki } = generateEnrolmentKey();
  await savePrivateKey(options.dataDir, privatePem);
  let status: number;
  let text: string;
  try {
    const res = await doFetch(`${serverUrl}/api/v1/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: options.token, publicKey: publicKeySpki, kind, ...(options.name === undefined ? {} : { name: options.name }) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    status = res.status;
    text = await res.text();
  } catch (cause) {
    throw new TerminalError('TERM_ERR_ENROL_HTTP', `cannot reach ${serverUrl}`, { server: serverUrl }, { cause });
  }
  let body: Record<string, unknown> | undefined;
  try { body = JSON.parse(text) as Record<string, unknown>; } catch { body = undefined; }
  if (status !== 201 && status !== 200) {
    const err = body?.['error'] as Record<string, unknown> | undefined;
    const code = typeof err?.['code'] === 'string' ? err['code'] : undefined;
    throw new TerminalError('TERM_ERR_ENROL_HTTP', `server answered ${status}${code !== undefined ? ` ${code}` : ''}`, { status, ...(code !== undefined ? { code } : {}) });
  }
  const m = body?.['mqtt'] as Record<string, unknown> | undefined;
  const s = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  if (body === undefined || !s(body['terminalId']) || !s(body['groupId']) || !s(body['serverPublicKey']) || typeof m !== 'object' || m === null ||
    !s(m['url']) || !s(m['clientId']) || !s(m['username']) || !s(m['password'])) {
    throw new TerminalError('TERM_ERR_ENROL_RESPONSE', 'missing fields', { status });
  }
  const identity: TerminalIdentity = {
    v: 1,
    terminalId: body['terminalId'],
    groupId: body['groupId'],
    serverUrl,
    mqtt: { url: m['url'], clientId: m['clientId'], username: m['username'], password: m['password'] },
    serverPublicKey: body['serverPublicKey'],
    publicKey: publicKeySpki,
    kind,
    ...(options.name === undefined ? {} : { name: typeof body['name'] === 'string' ? body['name'] : options.name }),
    enrolledAt: Math.floor((options.clock ?? Date.now)()),
  };
  await saveIdentity(options.dataDir, identity);
  return identity;
}
