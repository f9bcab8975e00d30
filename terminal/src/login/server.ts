/**
 * The fleet server's side of a card login as the terminal sees it (docs/login.md): look up the
 * pending login a portal's login page shows an 8-digit code for (`GET /api/v1/terminal/logins/{code}`
 * → `{login, nonce, clientName, expires}`, §3.1) and hand in the signed assertion
 * (`POST /api/v1/terminal/login-assertions {assertion}`, §3.2). Both are authenticated like the
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

/** A login code as the terminal sends it: the 8 digits of the login page, spaces removed [docs/login.md §3.1]. */
export const LOGIN_CODE = /^[0-9]{8}$/;

const MAX_BODY = 8 * 1024;
/**
 * Server refusals that mean the login itself is gone — unknown, expired, already used or refused
 * (the holder starts again on the portal) — rather than this terminal being refused [docs/login.md §3.2].
 */
const GONE = new Set(['SRV_ERR_LOGIN_UNKNOWN', 'SRV_ERR_LOGIN_EXPIRED', 'SRV_ERR_LOGIN_REPLAYED']);

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
    if (status === 404 || status === 410 || (srv !== undefined && GONE.has(srv))) return new TerminalError('TERM_ERR_LOGIN_UNKNOWN', srv, { status });
    // The server's hotlist may already hold a card this terminal's copy does not yet.
    if (srv === 'SRV_ERR_LOGIN_HOTLISTED') return new TerminalError('TERM_ERR_CARD_HOTLISTED', 'on the fleet server\'s hotlist', { status });
    if (status >= 400 && status < 500) return new TerminalError('TERM_ERR_LOGIN_REFUSED', srv ?? `HTTP ${status}`, { status });
    return new TerminalError('TERM_ERR_LOGIN_OFFLINE', `fleet server answered HTTP ${status}`, { status });
  };
  return {
    async lookup(code) {
      if (!LOGIN_CODE.test(code)) throw new TerminalError('TERM_ERR_LOGIN_UNKNOWN', 'not a login code');
      const r = await request(`/api/v1/terminal/logins/${encodeURIComponent(code)}`, { method: 'GET' });
      if (r.status !== 200) throw refusal(r.status, r.body);
      const b = r.body as { login?: unknown; nonce?: unknown; clientName?: unknown; expires?: unknown } | undefined;
      const expiresAt = typeof b?.expires === 'number' && Number.isSafeInteger(b.expires) ? b.expires * 1000 : Number.NaN;
      const name = b?.clientName;
      if (b?.login !== code || typeof b.nonce !== 'string' || b.nonce.length === 0 || b.nonce.length > 512 || typeof name !== 'string' || name.length > 200 || !Number.isFinite(expiresAt)) {
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
