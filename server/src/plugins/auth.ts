/**
 * Admin authentication and authorisation. Admins present `Authorization: Bearer <token>`; the
 * token's SHA-256 is looked up in the store and its role decides what the route allows. Routes
 * declare the roles they accept with `preHandler: app.requireRole('operator', 'admin')`; `admin`
 * is always accepted. Every mutation is audited through `app.audit()`.
 *
 * Terminals authenticate their HTTP requests (configuration documents, hotlist) with the MQTT
 * credentials they got at enrolment: `Authorization: Basic base64(terminalId:password)`, or
 * `Authorization: Bearer <password>`. Routes declare `preHandler: app.requireTerminal()`.
 *
 * Failed authentications are counted per real client address (`req.ip`: the socket peer, or the
 * client named by `X-Forwarded-For` when the peer is one of the configured `trustedProxies`) and
 * per target — what is being guessed: one terminal's password (`terminal:{id}`), the terminal
 * credential space (Bearer form, no id) or the admin token space. Credentials are always checked
 * first, and correct credentials are always accepted: a limit never locks out an admin or a
 * terminal because of someone else's failures, wherever they come from. A limit changes the answer
 * to wrong credentials: 429 `SRV_ERR_RATE_LIMITED` with `Retry-After` instead of 401, without a
 * further audit entry or warning per attempt; the start of each limit is audited
 * (`auth.rate-limited`, target = the limited key). Online guessing is not what keeps tokens safe —
 * every token and terminal password the server issues has 256 bits of entropy — the limit keeps a
 * guesser visible and cheap to serve.
 *
 * `opsAccessGuard` guards `/metrics` and `/docs` according to `opsAccess`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { ServerError } from '../errors.ts';
import { hashToken, sameHash } from '../crypto-util.ts';
import type { ServerContext } from '../context.ts';
import type { AdminTokenRecord, Role, TerminalRecord } from '../store/types.ts';
import { FailureLimiter } from '../auth-limiter.ts';
import type { OpsAccess } from '../config.ts';

export interface AuthPluginOptions {
  /** Who may read `/metrics` and `/docs` (default `loopback`). */
  readonly opsAccess?: OpsAccess;
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: ServerContext;
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    /** Authenticates a terminal's HTTP request (Basic or Bearer with its MQTT credentials). */
    requireTerminal(): preHandlerAsyncHookHandler;
    /**
     * Guards operational endpoints (`/metrics`, `/docs`): `open` lets everyone in; `loopback` a
     * loopback peer without forwarding headers, or any valid admin token; `token` only a valid admin
     * token (any role).
     */
    opsAccessGuard(req: FastifyRequest, reply: FastifyReply): Promise<void>;
    audit(req: FastifyRequest, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
  }
  interface FastifyRequest {
    admin: AdminTokenRecord | undefined;
    terminal: TerminalRecord | undefined;
  }
}

/** Who may do what: admin is implicitly allowed everywhere. */
export function roleAllowed(role: Role, allowed: readonly Role[]): boolean {
  return role === 'admin' || allowed.includes(role);
}

/** Extracts the bearer token, or undefined when the header is absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.~+/]{16,256}=*)$/.exec(header);
  return m?.[1];
}

/**
 * Parses terminal credentials: `Basic base64(id:password)` → both, `Bearer <password>` → the
 * password only; `undefined` when absent or malformed.
 */
export function terminalCredentials(header: string | undefined): { terminalId?: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const basic = /^Basic ([A-Za-z0-9+/]{4,512}={0,2})$/.exec(header);
  if (basic !== null) {
    const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 1 || i === text.length - 1) return undefined;
    return { terminalId: text.slice(0, i), password: text.slice(i + 1) };
  }
  const token = bearerToken(header);
  return token === undefined ? undefined : { password: token };
}

/** True for an IPv4/IPv6 loopback address (also IPv4-mapped). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

async function authPlugin(app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  app.decorateRequest('admin', undefined);
  app.decorateRequest('terminal', undefined);
  const limiter = new FailureLimiter(app.ctx.settings.authRateLimitPerMinute, 60_000);
  const opsAccess: OpsAccess = opts.opsAccess ?? 'loopback';

  /**
   * Counts one failure against the client address and the target; answers 429 when either was
   * already limited (or this failure starts a limit), 401 otherwise.
   */
  const failed = async (req: FastifyRequest, reply: FastifyReply, kind: 'admin' | 'terminal', target: string, why: string): Promise<never> => {
    const now = app.ctx.clock.now();
    const keys = [`addr:${req.ip}`, `target:${target}`];
    const wasLimited = keys.some((k) => limiter.limited(k, now));
    app.metrics?.inc('onecard_auth_failures_total', { kind });
    for (const k of keys) {
      if (limiter.fail(k, now)) {
        app.log.warn({ kind, key: k.slice(0, 80) }, 'authentication failures over the limit');
        await app.ctx.store.appendAudit({ ts: now, actor: 'anonymous', action: 'auth.rate-limited', target: k.slice(0, 200), ip: req.ip, details: { kind } });
      }
    }
    if (wasLimited) {
      app.metrics?.inc('onecard_auth_limited_total', { kind });
      const wait = Math.max(...keys.map((k) => limiter.retryAfterMs(k, now)));
      reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
      throw new ServerError('SRV_ERR_RATE_LIMITED', 'too many failed authentications: wrong credentials are refused for a while');
    }
    throw new ServerError('SRV_ERR_UNAUTHENTICATED', why);
  };

  app.decorate('requireTerminal', (): preHandlerAsyncHookHandler => {
    return async function requireTerminal(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const cred = terminalCredentials(req.headers.authorization);
      if (cred === undefined) {
        if (req.headers.authorization === undefined) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'terminal credentials required');
        return failed(req, reply, 'terminal', 'terminal:*', 'malformed terminal credentials');
      }
      const hash = hashToken(cred.password);
      const validId = cred.terminalId !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(cred.terminalId);
      const t = cred.terminalId !== undefined
        ? (validId ? await app.ctx.store.getTerminal(cred.terminalId) : undefined)
        : await app.ctx.store.findTerminalByCredentialHash(hash);
      if (t === undefined || !sameHash(hash, t.credentialHash)) return failed(req, reply, 'terminal', validId ? `terminal:${cred.terminalId!}` : 'terminal:*', 'unknown terminal or wrong password');
      if (t.status !== 'active') throw new ServerError('SRV_ERR_TERMINAL_DISABLED', t.id);
      req.terminal = t;
    };
  });

  const authenticateAdmin = async (req: FastifyRequest, reply: FastifyReply): Promise<AdminTokenRecord> => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      if (req.headers.authorization === undefined) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'bearer token required');
      return failed(req, reply, 'admin', 'admin', 'malformed authorization header');
    }
    const rec = await app.ctx.store.findAdminTokenByHash(hashToken(token));
    if (rec === undefined || rec.revokedAt !== null) return failed(req, reply, 'admin', 'admin', 'unknown or revoked token');
    return rec;
  };

  app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => {
    return async function requireRole(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const rec = await authenticateAdmin(req, reply);
      if (!roleAllowed(rec.role, roles)) throw new ServerError('SRV_ERR_FORBIDDEN', `role ${rec.role}`, { role: rec.role, allowed: roles });
      req.admin = rec;
    };
  });

  app.decorate('opsAccessGuard', async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (opsAccess === 'open') return;
    // A forwarding header means the request came through a proxy: not a local caller, even when
    // the proxy runs on this host and is not a configured trusted proxy.
    const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    if (opsAccess === 'loopback' && req.headers.authorization === undefined && !forwarded && isLoopback(req.socket.remoteAddress)) return;
    req.admin = await authenticateAdmin(req, reply);
  });

  app.decorate('audit', async (req: FastifyRequest, action: string, target: string, details: Record<string, unknown> = {}): Promise<void> => {
    await app.ctx.store.appendAudit({ ts: app.ctx.clock.now(), actor: req.admin?.id ?? 'anonymous', action, target, ip: req.ip, details });
  });
}

export default fp(authPlugin, { name: 'onecard-auth', dependencies: ['onecard-metrics'] });

