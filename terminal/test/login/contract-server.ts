/**
 * Test-only: the fleet server's terminal side of a card login as docs/login.md §3 states it, on a
 * loopback HTTP port, for tests of the terminal alone — terminal credentials (Basic), the lookup
 * (§3.1) and the assertion rules in their documented order (§3.2): ES256 over the enrolled key
 * named by `kid`, payload shape, `exp − iat` ≤ 120 s, terminal active, group allowed, login
 * pending, nonce, time window, assurance, the server's hotlist; accepted once. The end-to-end
 * suites run against the real server instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readLoginAssertion, type LoginAssertionClaims } from '../../src/login/index.ts';

export interface ContractTerminal {
  readonly password: string;
  readonly publicKey: string;
  active: boolean;
  groupAllowed: boolean;
}

export interface ContractLogin {
  readonly login: string;
  readonly nonce: string;
  readonly clientName: string;
  readonly expires: number;
  status: 'pending' | 'accepted' | 'refused';
  claims?: LoginAssertionClaims;
  refusal?: string;
}

export interface ContractServer {
  readonly url: string;
  readonly terminals: Map<string, ContractTerminal>;
  readonly logins: Map<string, ContractLogin>;
  readonly hotlist: Set<string>;
  /** Every request line seen (method and path), for tests that count calls. */
  readonly requests: string[];
  /** A new pending login for a portal; `ttlSeconds` default 300. */
  openLogin(clientName: string, ttlSeconds?: number): ContractLogin;
  /** Stops answering (connections refused), as when the server is unreachable. */
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};
const fail = (res: ServerResponse, status: number, code: string): void => send(res, status, { error: { code, message: code } });

async function bodyOf(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += String(c);
  return s;
}

export async function startContractServer(now: () => number = () => Date.now()): Promise<ContractServer> {
  const terminals = new Map<string, ContractTerminal>();
  const logins = new Map<string, ContractLogin>();
  const hotlist = new Set<string>();
  const requests: string[] = [];
  const authTerminal = (req: IncomingMessage): string | undefined => {
    const a = req.headers.authorization ?? '';
    if (!a.startsWith('Basic ')) return undefined;
    const [id, pw] = Buffer.from(a.slice(6), 'base64').toString('utf8').split(':');
    const t = id === undefined ? undefined : terminals.get(id);
    return t !== undefined && t.password === pw ? id : undefined;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      requests.push(`${req.method} ${req.url}`);
      const sec = Math.floor(now() / 1000);
      const m = /^\/api\/v1\/terminal\/logins\/([^/]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && m !== null) {
        const id = authTerminal(req);
        if (id === undefined) return fail(res, 401, 'SRV_ERR_UNAUTHENTICATED');
        const t = terminals.get(id)!;
        if (!t.active) return fail(res, 403, 'SRV_ERR_TERMINAL_DISABLED');
        if (!t.groupAllowed) return fail(res, 403, 'SRV_ERR_LOGIN_TERMINAL_GROUP');
        const l = logins.get(decodeURIComponent(m[1]!));
        if (l === undefined || l.expires < sec) return fail(res, 404, 'SRV_ERR_LOGIN_UNKNOWN');
        if (l.status !== 'pending') return fail(res, 409, 'SRV_ERR_LOGIN_REPLAYED');
        return send(res, 200, { login: l.login, nonce: l.nonce, clientName: l.clientName, expires: l.expires });
      }
      if (req.method === 'POST' && req.url === '/api/v1/terminal/login-assertions') {
        let jws: unknown;
        try { jws = (JSON.parse(await bodyOf(req)) as { assertion?: unknown }).assertion; } catch { jws = undefined; }
        if (typeof jws !== 'string' || jws.split('.').length !== 3) return fail(res, 400, 'SRV_ERR_LOGIN_ASSERTION_FORMAT');
        let header: { alg?: unknown; kid?: unknown };
        try { header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8')) as typeof header; } catch { return fail(res, 400, 'SRV_ERR_LOGIN_ASSERTION_FORMAT'); }
        if (header.alg !== 'ES256' || typeof header.kid !== 'string') return fail(res, 400, 'SRV_ERR_LOGIN_ASSERTION_FORMAT');
        const t = terminals.get(header.kid);
        const read = t === undefined ? undefined : readLoginAssertion(jws, t.publicKey);
        if (t === undefined || read === undefined) return fail(res, 401, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
        if (req.headers.authorization !== undefined && authTerminal(req) !== header.kid) return fail(res, 401, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
        const c = read.claims;
        if (typeof c.login !== 'string' || typeof c.nonce !== 'string' || typeof c.card?.cardNumber !== 'string' || typeof c.card.idNumber !== 'string' || typeof c.card.name !== 'string' ||
          !Array.isArray(c.amr) || !Number.isSafeInteger(c.iat) || !Number.isSafeInteger(c.exp) || c.exp - c.iat > 120 || c.exp < c.iat) return fail(res, 400, 'SRV_ERR_LOGIN_ASSERTION_FORMAT');
        if (!t.active) return fail(res, 403, 'SRV_ERR_TERMINAL_DISABLED');
        if (!t.groupAllowed) return fail(res, 403, 'SRV_ERR_LOGIN_TERMINAL_GROUP');
        const l = logins.get(c.login);
        if (l === undefined) return fail(res, 404, 'SRV_ERR_LOGIN_UNKNOWN');
        if (l.status !== 'pending') return fail(res, 409, 'SRV_ERR_LOGIN_REPLAYED');
        if (c.nonce !== l.nonce) return fail(res, 409, 'SRV_ERR_LOGIN_NONCE');
        const refuse = (status: number, code: string): void => { l.status = 'refused'; l.refusal = code; fail(res, status, code); };
        if (c.iat - 5 > sec || sec > c.exp + 5 || l.expires < sec) return refuse(410, 'SRV_ERR_LOGIN_EXPIRED');
        if (c.genuine !== true || !c.amr.includes('pin') || !c.amr.includes('hwk')) return refuse(403, 'SRV_ERR_LOGIN_ASSURANCE');
        if (hotlist.has(c.card.cardNumber)) return refuse(403, 'SRV_ERR_LOGIN_HOTLISTED');
        l.status = 'accepted';
        l.claims = c;
        return send(res, 200, { status: 'accepted', login: l.login, clientName: l.clientName, acr: 'urn:onecard:loa:high' });
      }
      return fail(res, 404, 'SRV_ERR_NOT_FOUND');
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url, terminals, logins, hotlist, requests,
    openLogin(clientName, ttlSeconds = 300) {
      let login: string;
      do login = String(randomBytes(4).readUInt32BE(0) % 100_000_000).padStart(8, '0'); while (logins.has(login));
      const l: ContractLogin = { login, nonce: randomBytes(32).toString('base64url'), clientName, expires: Math.floor(now() / 1000) + ttlSeconds, status: 'pending' };
      logins.set(login, l);
      return l;
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
