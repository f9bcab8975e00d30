/**
 * Admin authentication and authorisation. Admins present `Authorization: Bearer <token>`; the
 * token's SHA-256 is looked up in the store and its role decides what the route allows. Routes
 * declare the roles they accept with `preHandler: app.requireRole('operator', 'admin')`; `admin`
 * is always accepted. Every mutation is audited through `app.audit()`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { ServerError } from '../errors.ts';
import { hashToken } from '../crypto-util.ts';
import type { ServerContext } from '../context.ts';
import type { AdminTokenRecord, Role } from '../store/types.ts';

declare module 'fastify' {
  interface FastifyInstance {
    ctx: ServerContext;
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    audit(req: FastifyRequest, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
  }
  interface FastifyRequest {
    admin: AdminTokenRecord | undefined;
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

async function authPlugin(app: FastifyInstance): Promise<void> {
  app.decorateRequest('admin', undefined);

  app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => {
    return async function requireRole(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'bearer token required');
      const rec = await app.ctx.store.findAdminTokenByHash(hashToken(token));
      if (rec === undefined || rec.revokedAt !== null) {
        app.metrics?.inc('onecard_auth_failures_total', { kind: 'admin' });
        throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'unknown or revoked token');
      }
      if (!roleAllowed(rec.role, roles)) throw new ServerError('SRV_ERR_FORBIDDEN', `role ${rec.role}`, { role: rec.role, allowed: roles });
      req.admin = rec;
    };
  });

  app.decorate('audit', async (req: FastifyRequest, action: string, target: string, details: Record<string, unknown> = {}): Promise<void> => {
    await app.ctx.store.appendAudit({ ts: app.ctx.clock.now(), actor: req.admin?.id ?? 'anonymous', action, target, ip: req.ip, details });
  });
}

export default fp(authPlugin, { name: 'onecard-auth', dependencies: ['onecard-metrics'] });
