/**
 * Enrolment and terminal management. Admins create single-use, expiring enrolment tokens for a
 * group; a terminal posts one with its P-256 public key and receives its id, its MQTT credentials
 * and the server's public key. Disabling a terminal drops its connection (through the `fleet`
 * event bus, which the broker listens to) and refuses it from then on; re-keying issues a token
 * bound to the terminal so it can enrol a new key pair and keep its id.
 */
import type { FastifyInstance } from 'fastify';
import { ServerError } from '../errors.ts';
import { hashToken, isP256PublicKey, newId, newToken } from '../crypto-util.ts';
import type { TerminalRecord } from '../store/types.ts';
import { auditEntry } from './admin.ts';

const Tag = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}:[^\\s]{1,64}$' } as const;
/**
 * A terminal's human name: 1..64 characters, no leading/trailing white space, no tab or line
 * breaks; NUL, other controls and bidirectional overrides are refused for every body by the text
 * guard (`SRV_ERR_UNSAFE_TEXT`).
 */
const TerminalName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\s](?:[^\\t\\n\\r\\v\\f]*[^\\s])?$' } as const;

/** The public view of a terminal (no credential hash). */
export function terminalView(t: TerminalRecord): Omit<TerminalRecord, 'credentialHash'> {
  const { credentialHash: _omit, ...rest } = t;
  return rest;
}

export default async function terminalRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock, settings, keys } = app.ctx;

  app.post<{ Body: { groupId: string; tags?: string[]; ttlSeconds?: number } }>('/api/v1/enrolment-tokens', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['terminals'], summary: 'Create a single-use, expiring enrolment token for a group',
      body: { type: 'object', additionalProperties: false, required: ['groupId'], properties: { groupId: { type: 'string', maxLength: 64 }, tags: { type: 'array', items: Tag, maxItems: 32, uniqueItems: true }, ttlSeconds: { type: 'integer', minimum: 60, maximum: 30 * 86400 } } },
    },
  }, async (req, reply) => {
    if ((await store.getGroup(req.body.groupId)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `group ${req.body.groupId}`);
    const token = newToken('oce');
    const id = newId('enr_');
    const expiresAt = clock.now() + 1000 * (req.body.ttlSeconds ?? settings.enrolmentTokenTtlSeconds);
    await store.createEnrolmentToken({ id, tokenHash: hashToken(token), groupId: req.body.groupId, tags: req.body.tags ?? [], expiresAt, createdAt: clock.now(), createdBy: req.admin!.id },
      () => [auditEntry(req, clock, 'enrolment-token.create', id, { groupId: req.body.groupId, tags: req.body.tags ?? [], expiresAt })]);
    reply.code(201);
    return { id, token, groupId: req.body.groupId, expiresAt };
  });

  // Revocation: an unused enrolment (or re-key) token stops working at once; audited in the same
  // transaction. A revoked token shows `expiresAt: 0` in the listing.
  app.delete<{ Params: { id: string } }>('/api/v1/enrolment-tokens/:id', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['terminals'], summary: 'Revoke an unused enrolment or re-key token (404 when unknown, used or already revoked)', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^enr_[A-Za-z0-9_-]{1,64}$' } } } },
  }, async (req, reply) => {
    if (!(await store.revokeEnrolmentToken(req.params.id, () => [auditEntry(req, clock, 'enrolment-token.revoke', req.params.id)]))) {
      throw new ServerError('SRV_ERR_NOT_FOUND', `unused enrolment token ${req.params.id}`);
    }
    reply.code(204);
  });

  app.get('/api/v1/enrolment-tokens', { preHandler: app.requireRole('operator'), schema: { tags: ['terminals'], summary: 'List enrolment tokens (never their values)' } }, async () => ({ tokens: await store.listEnrolmentTokens() }));

  app.post<{ Body: { token: string; publicKey: string; kind?: string; name?: string } }>('/api/v1/enrol', {
    config: { rateLimit: { max: settings.authRateLimitPerMinute, timeWindow: 60_000 } },
    schema: {
      tags: ['terminals'], summary: 'Enrol a terminal (called by the terminal with its enrolment token)',
      body: { type: 'object', additionalProperties: false, required: ['token', 'publicKey'], properties: { token: { type: 'string', minLength: 8, maxLength: 128 }, publicKey: { type: 'string', minLength: 40, maxLength: 400 }, kind: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' }, name: TerminalName } },
    },
  }, async (req, reply) => {
    if (!isP256PublicKey(req.body.publicKey)) throw new ServerError('SRV_ERR_VALIDATION', 'publicKey must be a P-256 key in SPKI DER, base64', { field: 'publicKey' });
    const candidateId = newId('T');
    const now = clock.now();
    const tok = await store.consumeEnrolmentToken(hashToken(req.body.token), candidateId, now);
    if (tok === undefined) {
      app.metrics.inc('onecard_auth_failures_total', { kind: 'enrolment' });
      throw new ServerError('SRV_ERR_ENROLMENT_TOKEN');
    }
    const password = newToken('oct');
    let terminalId: string;
    if (tok.forTerminal !== null) {
      terminalId = tok.forTerminal;
      // A re-key never re-enables: a disabled (e.g. stolen) terminal stays out until an operator
      // enables it, and its re-key tokens are refused like unknown ones.
      const current = await store.getTerminal(terminalId);
      if (current === undefined || current.status !== 'active') {
        app.metrics.inc('onecard_auth_failures_total', { kind: 'enrolment' });
        throw new ServerError('SRV_ERR_ENROLMENT_TOKEN');
      }
      await store.updateTerminal(terminalId, { publicKey: req.body.publicKey, credentialHash: hashToken(password) });
      // Drops the old connection and revokes the terminal's key-delivery approval (keys plugin).
      app.fleet.emit('terminal-credentials-changed', terminalId);
    } else {
      terminalId = candidateId;
      await store.createTerminal({ id: terminalId, groupId: tok.groupId, tags: tok.tags, kind: req.body.kind ?? 'terminal', publicKey: req.body.publicKey, credentialHash: hashToken(password), createdAt: now, ...(req.body.name === undefined ? {} : { name: req.body.name }) });
    }
    await store.appendAudit({ ts: now, actor: `terminal:${terminalId}`, action: tok.forTerminal !== null ? 'terminal.rekey' : 'terminal.enrol', target: terminalId, ip: req.ip, details: { enrolmentTokenId: tok.id, groupId: tok.groupId, ...(req.body.name === undefined ? {} : { name: req.body.name }) } });
    reply.code(201);
    const name = (await store.getTerminal(terminalId))?.name ?? null;
    return { terminalId, groupId: tok.groupId, name, mqtt: { url: settings.mqttUrl, clientId: terminalId, username: terminalId, password }, serverPublicKey: keys.publicKeySpki };
  });

  app.get<{ Querystring: { group?: string; tag?: string; status?: 'active' | 'disabled'; online?: boolean; limit?: number; after?: string } }>('/api/v1/terminals', {
    preHandler: app.requireRole('viewer', 'operator', 'key-custodian'),
    schema: {
      tags: ['terminals'], summary: 'List terminals with filters; page with `after`',
      querystring: { type: 'object', additionalProperties: false, properties: { group: { type: 'string' }, tag: { type: 'string' }, status: { type: 'string', enum: ['active', 'disabled'] }, online: { type: 'boolean' }, limit: { type: 'integer', minimum: 1, maximum: 10000 }, after: { type: 'string' } } },
    },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? 500;
    const list = await store.listTerminals({
      limit,
      ...(q.group !== undefined ? { groupId: q.group } : {}),
      ...(q.tag !== undefined ? { tag: q.tag } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.online !== undefined ? { online: q.online } : {}),
      ...(q.after !== undefined ? { afterId: q.after } : {}),
    });
    return { terminals: list.map(terminalView), next: list.length === limit ? list[list.length - 1]!.id : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/terminals/:id', { preHandler: app.requireRole('viewer', 'operator', 'key-custodian'), schema: { tags: ['terminals'], summary: 'One terminal' } }, async (req) => {
    const t = await store.getTerminal(req.params.id);
    if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
    return terminalView(t);
  });

  app.patch<{ Params: { id: string }; Body: { name: string | null } }>('/api/v1/terminals/:id', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['terminals'], summary: 'Set (or clear with null) the human name shown beside the terminal id; audited',
      body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { ...TerminalName, type: ['string', 'null'] } } },
    },
  }, async (req) => {
    const before = await store.getTerminal(req.params.id);
    if (before === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
    // The new name and its audit entry commit together.
    const t = await store.updateTerminal(req.params.id, { name: req.body.name }, (u) => [auditEntry(req, clock, 'terminal.rename', u.id, { from: before.name ?? null, to: u.name ?? null })]);
    if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
    return terminalView(t);
  });

  for (const [action, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/terminals/:id/${action}`, { preHandler: app.requireRole('operator'), schema: { tags: ['terminals'], summary: `${action[0]!.toUpperCase()}${action.slice(1)} a terminal` } }, async (req) => {
      // The status and its audit entry commit together; the connection is dropped (and the key
      // approval revoked) only after the commit, once.
      const t = await store.updateTerminal(req.params.id, { status }, (u) => [auditEntry(req, clock, `terminal.${action}`, u.id)]);
      if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
      if (status === 'disabled') app.fleet.emit('terminal-disabled', t.id);
      return terminalView(t);
    });
  }

  app.post<{ Params: { id: string }; Body: { ttlSeconds?: number } }>('/api/v1/terminals/:id/rekey', {
    preHandler: app.requireRole('operator'),
    schema: { tags: ['terminals'], summary: 'Issue a re-key token bound to this (active) terminal; its current credentials and its key-delivery approval end when it is used, and a disabled terminal refuses it', body: { type: 'object', additionalProperties: false, properties: { ttlSeconds: { type: 'integer', minimum: 60, maximum: 30 * 86400 } } } },
  }, async (req, reply) => {
    const t = await store.getTerminal(req.params.id);
    if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
    if (t.status !== 'active') throw new ServerError('SRV_ERR_TERMINAL_DISABLED', `terminal ${t.id} is disabled; enable it first`, { terminalId: t.id });
    const token = newToken('oce');
    const id = newId('enr_');
    const expiresAt = clock.now() + 1000 * (req.body?.ttlSeconds ?? settings.enrolmentTokenTtlSeconds);
    await store.createEnrolmentToken({ id, tokenHash: hashToken(token), groupId: t.groupId, tags: t.tags, expiresAt, createdAt: clock.now(), createdBy: req.admin!.id, forTerminal: t.id },
      () => [auditEntry(req, clock, 'terminal.rekey-token', t.id, { enrolmentTokenId: id, expiresAt })]);
    reply.code(201);
    return { id, token, terminalId: t.id, expiresAt };
  });
}
