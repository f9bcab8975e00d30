/**
 * Admin tokens, groups and the audit log. Creating a token returns its clear value once; only
 * its hash is stored. Every mutation here writes its audit entry in the same store transaction
 * (`AuditOf`): a change is never kept without its audit entry. The last active admin token cannot
 * be revoked (`SRV_ERR_LAST_ADMIN`); `ONECARD_ADMIN_TOKEN` at start restores admin access.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServerError } from '../errors.ts';
import { hashToken, newId, newToken } from '../crypto-util.ts';
import type { Clock } from '../context.ts';
import { ROLES, type NewAuditRecord, type Role } from '../store/types.ts';

/** The audit entry of an admin request (who, what, when, from where), for a store mutation's `AuditOf`. */
export function auditEntry(req: FastifyRequest, clock: Clock, action: string, target: string, details: Record<string, unknown> = {}): NewAuditRecord {
  return { ts: clock.now(), actor: req.admin?.id ?? 'anonymous', action, target, ip: req.ip, details };
}

const GroupId = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const;

export default async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;

  app.get('/api/v1/admin/tokens', { preHandler: app.requireRole(), schema: { tags: ['admin'], summary: 'List admin tokens (never their values)' } }, async () => ({ tokens: await store.listAdminTokens() }));

  app.post<{ Body: { name: string; role: Role } }>('/api/v1/admin/tokens', {
    preHandler: app.requireRole(),
    schema: {
      tags: ['admin'], summary: 'Create an admin token; the value is shown only in this response',
      body: { type: 'object', additionalProperties: false, required: ['name', 'role'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, role: { type: 'string', enum: [...ROLES] } } },
    },
  }, async (req, reply) => {
    const token = newToken('oca');
    const id = newId('adm_');
    await store.createAdminToken({ id, name: req.body.name, role: req.body.role, tokenHash: hashToken(token), createdAt: clock.now() },
      () => [auditEntry(req, clock, 'admin-token.create', id, { name: req.body.name, role: req.body.role })]);
    reply.code(201);
    return { id, name: req.body.name, role: req.body.role, token };
  });

  app.delete<{ Params: { id: string } }>('/api/v1/admin/tokens/:id', { preHandler: app.requireRole(), schema: { tags: ['admin'], summary: 'Revoke an admin token (never the last active admin token: 409 SRV_ERR_LAST_ADMIN)' } }, async (req, reply) => {
    if (!(await store.revokeAdminToken(req.params.id, clock.now(), () => [auditEntry(req, clock, 'admin-token.revoke', req.params.id)]))) throw new ServerError('SRV_ERR_NOT_FOUND', `token ${req.params.id}`);
    app.fleet.emit('admin-token-revoked', req.params.id);
    reply.code(204);
  });

  app.get('/api/v1/groups', { preHandler: app.requireRole('viewer', 'operator', 'key-custodian'), schema: { tags: ['groups'], summary: 'List groups' } }, async () => ({ groups: await store.listGroups() }));

  app.post<{ Body: { id: string; name: string } }>('/api/v1/groups', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['groups'], summary: 'Create a group', body: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: GroupId, name: { type: 'string', minLength: 1, maxLength: 128 } } } },
  }, async (req, reply) => {
    await store.createGroup({ id: req.body.id, name: req.body.name, createdAt: clock.now() }, () => [auditEntry(req, clock, 'group.create', req.body.id, { name: req.body.name })]);
    reply.code(201);
    return store.getGroup(req.body.id);
  });

  app.get<{ Querystring: { limit?: number; before?: number; actor?: string; action?: string } }>('/api/v1/audit', {
    preHandler: app.requireRole('viewer', 'operator', 'key-custodian'),
    schema: {
      tags: ['audit'], summary: 'Audit log, newest first; page with `before`',
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 }, before: { type: 'integer', minimum: 1 }, actor: { type: 'string', maxLength: 64 }, action: { type: 'string', maxLength: 64 } } },
    },
  }, async (req) => {
    const q = req.query;
    const entries = await store.listAudit({
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.before !== undefined ? { beforeId: q.before } : {}),
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
    });
    return { entries, next: entries.length > 0 ? entries[entries.length - 1]!.id : null };
  });
}
