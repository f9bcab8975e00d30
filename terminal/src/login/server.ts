/**
 * The fleet server's side of a card login as the terminal sees it (docs/login.md): look up the
 * pending login a portal's login page shows a short code for (`GET /api/v1/terminal/logins/{code}`
 * → `{nonce, client: {name}, expiresAt}`) and hand in the signed assertion
 * (`POST /api/v1/terminal/login-assertions {assertion}`). Both are authenticated like the
 * terminal's other fetches (`Basic base64(terminalId:password)`, fleet-http.ts). Answers are read
 * up to a small bound; nothing of a body reaches a log. Logging in cannot work offline: the
 * browser waiting for the login is served by the server.
 */
import { TerminalError } from '../errors.ts';

/** A pending login as the server describes it. */
export interface PendingLogin {
  readonly nonce: string;
  readonly client: { readonly name: string };
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** What the login service needs from the server. */
export interface LoginServer {
  /**
   * @throws TerminalError `TERM_ERR_LOGIN_UNKNOWN` (unknown, used or expired code),
   *   `TERM_ERR_LOGIN_REFUSED` (this terminal may not authenticate), `TERM_ERR_LOGIN_OFFLINE`
   */
  lookup(code: string): Promise<PendingLogin>;
  /** @throws TerminalError as {@link lookup} */
  submit(assertion: string): Promise<void>;
}

/** Short codes as a portal's login page shows them (letters are compared as upper case). */
export const LOGIN_CODE = /^[A-Za-z0-9]{4,16}$/;

const MAX_BODY = 8 * 1024;
/** Server codes that mean the login itself is gone (rather than this terminal being refused). */
const GONE = /LOGIN_(UNKNOWN|EXPIRED|NOT_FOUND|USED|CONSUMED|GONE)/;

export interface FleetLoginServerOptions {
  readonly serverUrl: string;
  readonly terminalId: string;
  readonly password: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** {@link LoginServer} over the fleet server's terminal API. */
export function fleetLoginServer(o: FleetLoginServerOptions): LoginServer {
  const authorization = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  const request = async (path: string, init: { method: 'GET' | 'POST'; body?: string }): Promise<{ status: number; body: unknown }> => {
    let status: number;
    let text: string;
    try {
      const res = await (o.fetch ?? fetch)(`${o.serverUrl}${path}`, {
        method: init.method,
        headers: { authorization, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        redirect: 'error',
      });
      status = res.status;
      text = (await res.text()).slice(0, MAX_BODY);
    } catch (cause) {
      throw new TerminalError('TERM_ERR_LOGIN_OFFLINE', 'fleet server unreachable', {}, { cause });
    }
    let body: unknown;
    try { body = text.length === 0 ? undefined : JSON.parse(text); } catch { body = undefined; }
    return { status, body };
  };
  const refusal = (status: number, body: unknown): TerminalError => {
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    const srv = typeof code === 'string' ? code.slice(0, 64) : undefined;
    if (status === 404 || status === 410 || (srv !== undefined && GONE.test(srv))) return new TerminalError('TERM_ERR_LOGIN_UNKNOWN', srv, { status });
    if (status >= 400 && status < 500) return new TerminalError('TERM_ERR_LOGIN_REFUSED', srv ?? `HTTP ${status}`, { status });
    return new TerminalError('TERM_ERR_LOGIN_OFFLINE', `fleet server answered HTTP ${status}`, { status });
  };
  return {
    async lookup(code) {
      if (!LOGIN_CODE.test(code)) throw new TerminalError('TERM_ERR_LOGIN_UNKNOWN', 'not a login code');
      const r = await request(`/api/v1/terminal/logins/${encodeURIComponent(code)}`, { method: 'GET' });
      if (r.status !== 200) throw refusal(r.status, r.body);
      const b = r.body as { nonce?: unknown; client?: { name?: unknown }; expiresAt?: unknown } | undefined;
      const expiresAt = typeof b?.expiresAt === 'number' ? b.expiresAt : typeof b?.expiresAt === 'string' ? Date.parse(b.expiresAt) : Number.NaN;
      const name = b?.client?.name;
      if (typeof b?.nonce !== 'string' || b.nonce.length === 0 || b.nonce.length > 512 || typeof name !== 'string' || name.length > 200 || !Number.isFinite(expiresAt)) {
        throw new TerminalError('TERM_ERR_LOGIN_OFFLINE', 'unexpected answer of the fleet server');
      }
      return { nonce: b.nonce, client: { name }, expiresAt };
    },
    async submit(assertion) {
      const r = await request('/api/v1/terminal/login-assertions', { method: 'POST', body: JSON.stringify({ assertion }) });
      if (r.status < 200 || r.status > 299) throw refusal(r.status, r.body);
    },
  };
}
