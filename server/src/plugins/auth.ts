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
 * Failed authentications (admin and terminal) are limited per client address: after
 * `authRateLimitPerMinute` failures in a minute, every request from that address that needs
 * authentication is refused with 429 `SRV_ERR_RATE_LIMITED` until the minute has passed; the start
 * of each such lock-out is audited (`auth.rate-limited`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { ServerError } from '../errors.ts';
import { hashToken, sameHash } from '../crypto-util.ts';
import type { ServerContext } from '../context.ts';
import type { AdminTokenRecord, Role, TerminalRecord } from '../store/types.ts';
import { FailureLimiter } from '../auth-limiter.ts';

declare module 'fastify' {
  interface FastifyInstance {
    ctx: ServerContext;
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    /** Authenticates a terminal's HTTP request (Basic or Bearer with its MQTT credentials). */
    requireTerminal(): preHandlerAsyncHookHandler;
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

async function authPlugin(app: FastifyInstance): Promise<void> {
  app.decorateRequest('admin', undefined);
  app.decorateRequest('terminal', undefined);
  const limiter = new FailureLimiter(app.ctx.settings.authRateLimitPerMinute, 60_000);

  const checkLimit = (req: FastifyRequest): void => {
    if (limiter.limited(req.ip, app.ctx.clock.now())) throw new ServerError('SRV_ERR_RATE_LIMITED', 'too many failed authentications from this address');
  };
  const failed = async (req: FastifyRequest, kind: 'admin' | 'terminal', why: string): Promise<never> => {
    app.metrics?.inc('onecard_auth_failures_total', { kind });
    if (limiter.fail(req.ip, app.ctx.clock.now())) {
      await app.ctx.store.appendAudit({ ts: app.ctx.clock.now(), actor: 'anonymous', action: 'auth.rate-limited', target: req.ip, ip: req.ip, details: { kind } });
    }
    throw new ServerError('SRV_ERR_UNAUTHENTICATED', why);
  };

  app.decorate('requireTerminal', (): preHandlerAsyncHookHandler => {
    return async function requireTerminal(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
      checkLimit(req);
      const cred = terminalCredentials(req.headers.authorization);
      if (cred === undefined) {
        if (req.headers.authorization === undefined) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'terminal credentials required');
        return failed(req, 'terminal', 'malformed terminal credentials');
      }
      const hash = hashToken(cred.password);
      const t = cred.terminalId !== undefined
        ? (/^[A-Za-z0-9_-]{1,64}$/.test(cred.terminalId) ? await app.ctx.store.getTerminal(cred.terminalId) : undefined)
        : await app.ctx.store.findTerminalByCredentialHash(hash);
      if (t === undefined || !sameHash(hash, t.credentialHash)) return failed(req, 'terminal', 'unknown terminal or wrong password');
      if (t.status !== 'active') throw new ServerError('SRV_ERR_TERMINAL_DISABLED', t.id);
      req.terminal = t;
    };
  });

  app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => {
    return async function requireRole(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
      checkLimit(req);
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) {
        if (req.headers.authorization === undefined) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'bearer token required');
        return failed(req, 'admin', 'malformed authorization header');
      }
      const rec = await app.ctx.store.findAdminTokenByHash(hashToken(token));
      if (rec === undefined || rec.revokedAt !== null) return failed(req, 'admin', 'unknown or revoked token');
      if (!roleAllowed(rec.role, roles)) throw new ServerError('SRV_ERR_FORBIDDEN', `role ${rec.role}`, { role: rec.role, allowed: roles });
      req.admin = rec;
    };
  });

  app.decorate('audit', async (req: FastifyRequest, action: string, target: string, details: Record<string, unknown> = {}): Promise<void> => {
    await app.ctx.store.appendAudit({ ts: app.ctx.clock.now(), actor: req.admin?.id ?? 'anonymous', action, target, ip: req.ip, details });
  });
}

export default fp(authPlugin, { name: 'onecard-auth', dependencies: ['onecard-metrics'] });
