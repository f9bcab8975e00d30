/**
 * Staff credentials for the counter desk (docs/security.md "Staff credentials"). An operator
 * issues one per named member of staff, valid at terminals of the listed groups; its clear value
 * is shown once, only its SHA-256 is stored, and issuing and revoking are audited in the same store
 * transaction. A terminal checks a credential presented at its desk with
 * `POST /api/v1/terminal/staff/check`, authenticated with its own terminal credentials: the answer
 * is the staff id and name when the credential is known, not revoked and valid for the terminal's
 * group, else 401 `SRV_ERR_STAFF_CREDENTIAL` / 403 `SRV_ERR_STAFF_GROUP`. Wrong credentials are
 * counted per terminal and per client address ({@link FailureLimiter}); over the limit a wrong one
 * answers 429 `SRV_ERR_RATE_LIMITED` (a correct one is always accepted). Each accepted check is
 * audited as `staff.sign-in` with the member of staff as actor. The credential is never logged.
 */
import type { FastifyInstance } from 'fastify';
import { ServerError } from '../errors.ts';
import { hashToken, newId, newToken } from '../crypto-util.ts';
import { FailureLimiter } from '../auth-limiter.ts';
import { auditEntry } from './admin.ts';

/** Shape of a staff credential as issued (`ocs_` + 43 base64url characters). */
export const STAFF_CREDENTIAL = /^ocs_[A-Za-z0-9_-]{43}$/;
/** A staff id: employee number or login name. */
export const STAFF_ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
const GroupId = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const;

export default async function staffRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;
  const limiter = new FailureLimiter(app.ctx.settings.authRateLimitPerMinute, 60_000);

  app.get('/api/v1/staff-credentials', {
    preHandler: app.requireRole('viewer', 'operator'),
    schema: { tags: ['staff'], summary: 'List staff credentials (never their values)' },
  }, async () => ({ credentials: await store.listStaffCredentials() }));

  app.post<{ Body: { staffId: string; name: string; groups: string[] } }>('/api/v1/staff-credentials', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['staff'], summary: 'Issue a desk credential for a member of staff; the value is shown only in this response',
      body: {
        type: 'object', additionalProperties: false, required: ['staffId', 'name', 'groups'],
        properties: { staffId: STAFF_ID, name: { type: 'string', minLength: 1, maxLength: 64 }, groups: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: GroupId } },
      },
    },
  }, async (req, reply) => {
    const credential = newToken('ocs');
    const id = newId('stf_');
    const rec = { id, staffId: req.body.staffId, name: req.body.name, groups: req.body.groups, createdAt: clock.now(), createdBy: req.admin?.id ?? 'anonymous' };
    await store.createStaffCredential({ ...rec, credentialHash: hashToken(credential) },
      () => [auditEntry(req, clock, 'staff-credential.create', id, { staffId: rec.staffId, name: rec.name, groups: rec.groups })]);
    reply.code(201);
    return { ...rec, revokedAt: null, credential };
  });

  app.delete<{ Params: { id: string } }>('/api/v1/staff-credentials/:id', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['staff'], summary: 'Revoke a staff credential: desks refuse it at their next check' },
  }, async (req, reply) => {
    if (!(await store.revokeStaffCredential(req.params.id, clock.now(), () => [auditEntry(req, clock, 'staff-credential.revoke', req.params.id)]))) {
      throw new ServerError('SRV_ERR_NOT_FOUND', `staff credential ${req.params.id}`);
    }
    reply.code(204);
  });

  app.post<{ Body: { credential: string } }>('/api/v1/terminal/staff/check', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'Check a staff credential presented at this terminal\'s desk',
      body: { type: 'object', additionalProperties: false, required: ['credential'], properties: { credential: { type: 'string', minLength: 1, maxLength: 256 } } },
    },
  }, async (req, reply) => {
    const t = req.terminal!;
    const now = clock.now();
    const keys = [`addr:${req.ip}`, `terminal:${t.id}`];
    const rec = STAFF_CREDENTIAL.test(req.body.credential) ? await store.findStaffCredentialByHash(hashToken(req.body.credential)) : undefined;
    if (rec === undefined || rec.revokedAt !== null) {
      const wasLimited = keys.some((k) => limiter.limited(k, now));
      app.metrics?.inc('onecard_auth_failures_total', { kind: 'staff' });
      for (const k of keys) {
        if (limiter.fail(k, now)) {
          app.log.warn({ kind: 'staff', key: k.slice(0, 80) }, 'staff credential failures over the limit');
          await store.appendAudit({ ts: now, actor: `terminal:${t.id}`, action: 'auth.rate-limited', target: `staff:${k}`.slice(0, 200), ip: req.ip, details: { kind: 'staff' } });
        }
      }
      if (wasLimited) {
        const wait = Math.max(...keys.map((k) => limiter.retryAfterMs(k, now)));
        reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
        throw new ServerError('SRV_ERR_RATE_LIMITED', 'too many wrong staff credentials: refused for a while');
      }
      throw new ServerError('SRV_ERR_STAFF_CREDENTIAL', rec === undefined ? 'unknown staff credential' : 'staff credential revoked');
    }
    if (!rec.groups.includes(t.groupId)) {
      await store.appendAudit({ ts: now, actor: `staff:${rec.staffId}`, action: 'staff.sign-in-refused', target: t.id, ip: req.ip, details: { credentialId: rec.id, group: t.groupId } });
      throw new ServerError('SRV_ERR_STAFF_GROUP', `not valid at terminals of group ${t.groupId}`);
    }
    await store.appendAudit({ ts: now, actor: `staff:${rec.staffId}`, action: 'staff.check', target: t.id, ip: req.ip, details: { credentialId: rec.id, name: rec.name } });
    return { staffId: rec.staffId, name: rec.name, credentialId: rec.id };
  });
}
