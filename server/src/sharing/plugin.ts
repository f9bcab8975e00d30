/**
 * The departments' data-sharing interface (`/sharing/v1`), its administration
 * (`/api/v1/sharing/departments`) and the terminal-facing consent and tracker endpoints
 * (`/api/v1/terminal/sharing/...`, terminal-authenticated, after card + PIN at a kiosk or desk).
 *
 * Every department call is authenticated (an access token from the client-credentials grant,
 * checked through {@link AccessTokenVerifier}), names a purpose the department is granted,
 * is rate-limited and counted against a daily quota, releases the minimum (status only; yes/no;
 * basic information only under the holder's live consent) and is recorded in the holder's data
 * tracker with what was released or the refusal code. Plain ID numbers and names are never logged.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServerError, type ServerErrorCode } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { auditEntry } from '../routes/admin.ts';
import { bearerToken } from '../plugins/auth.ts';
import { HOTLISTED_STATUSES, USABLE_STATUSES, normaliseIdNumber } from '../registry/model.ts';
import type { RegistryService } from '../registry/service.ts';
import { trackerOf } from '../registry/tracker.ts';
import type { BatchJobRecord, ConsentRecord, DepartmentRecord, NewAccess } from '../store/registry-types.ts';
import { CallLog } from './call-log.ts';
import { StoreTokenService, newClientSecret, type AccessTokenIssuer, type AccessTokenVerifier } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    department?: DepartmentRecord;
  }
}

export interface SharingPluginOptions {
  readonly need: () => RegistryService;
  readonly tokenTtlSeconds: number;
  /** Token verification (default: the store-backed {@link StoreTokenService}). */
  readonly verifier?: AccessTokenVerifier;
}

/** Largest batch verification. */
export const BATCH_MAX = 10_000;
/** Items verified per step of a batch job (one access-log transaction each). */
const BATCH_STEP = 500;
const PURPOSE = { type: 'string', pattern: '^[a-z][a-z0-9-]{1,47}$' } as const;
const USABLE = [...USABLE_STATUSES];
const BASIC_FIELDS = ['name', 'idNumber', 'region', 'generation', 'issuedOn', 'expiresOn', 'status'] as const;

/** The UTC day of a timestamp (quota period). */
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export default async function sharingPlugin(app: FastifyInstance, opts: SharingPluginOptions): Promise<void> {
  const { store, clock } = app.ctx;
  const tokens = new StoreTokenService(store.registry, opts.tokenTtlSeconds);
  const verifier: AccessTokenVerifier = opts.verifier ?? tokens;
  const issuer: AccessTokenIssuer = tokens;
  const { need } = opts;
  const m = app.metrics;
  m?.define('onecard_sharing_calls_total', 'counter', 'Department calls by call and outcome');
  m?.define('onecard_sharing_tokens_total', 'counter', 'Token requests by result');
  const running = new Set<Promise<void>>();
  // Every call about a person: its access record and quota use in one durable commit (grouped).
  // PostgreSQL overlaps a few commits on separate connections; SQLite commits one at a time anyway.
  const calls = new CallLog(store.registry, { maxInFlight: store.kind === 'postgres' ? 4 : 1 });
  app.addHook('onClose', async () => { await Promise.allSettled([...running]); await calls.idle(); });

  // ── administration ────────────────────────────────────────────────────────────────────────
  const admins = app.requireRole('admin');
  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');
  const deptView = (d: DepartmentRecord): Record<string, unknown> => ({ ...d });

  app.post<{ Body: { id: string; name: string; purposes: string[]; ratePerMinute?: number; dailyQuota?: number } }>('/api/v1/sharing/departments', {
    preHandler: admins,
    schema: {
      tags: ['sharing-admin'], summary: 'Register a department as an OAuth client; the client secret is in this response only',
      body: {
        type: 'object', additionalProperties: false, required: ['id', 'name', 'purposes'],
        properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }, name: { type: 'string', minLength: 1, maxLength: 128 }, purposes: { type: 'array', maxItems: 32, uniqueItems: true, items: PURPOSE }, ratePerMinute: { type: 'integer', minimum: 1, maximum: 100000 }, dailyQuota: { type: 'integer', minimum: 1, maximum: 100000000 } },
      },
    },
  }, async (req, reply) => {
    need();
    const { secret, hash } = newClientSecret();
    const rec: DepartmentRecord = { id: req.body.id, name: req.body.name, clientId: newId('dpt_'), purposes: req.body.purposes, ratePerMinute: req.body.ratePerMinute ?? 600, dailyQuota: req.body.dailyQuota ?? 100_000, createdAt: clock.now(), createdBy: req.admin!.id, disabledAt: null };
    await store.registry.createDepartment({ ...rec, secretHash: hash }, () => [auditEntry(req, clock, 'sharing.department.create', rec.id, { purposes: rec.purposes })]);
    reply.code(201);
    return { department: deptView(rec), clientId: rec.clientId, clientSecret: secret };
  });

  app.get('/api/v1/sharing/departments', { preHandler: viewers, schema: { tags: ['sharing-admin'], summary: 'Registered departments (no secrets)' } }, async () => {
    need();
    return { departments: (await store.registry.listDepartments()).map(deptView) };
  });

  app.patch<{ Params: { id: string }; Body: { purposes?: string[]; ratePerMinute?: number; dailyQuota?: number; disabled?: boolean } }>('/api/v1/sharing/departments/:id', {
    preHandler: admins,
    schema: {
      tags: ['sharing-admin'], summary: 'Change a department\'s purposes, limits, or disable it (its tokens stop working at once)',
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
      body: { type: 'object', additionalProperties: false, properties: { purposes: { type: 'array', maxItems: 32, uniqueItems: true, items: PURPOSE }, ratePerMinute: { type: 'integer', minimum: 1, maximum: 100000 }, dailyQuota: { type: 'integer', minimum: 1, maximum: 100000000 }, disabled: { type: 'boolean' } } },
    },
  }, async (req) => {
    need();
    const b = req.body;
    const rec = await store.registry.updateDepartment(req.params.id, {
      ...(b.purposes !== undefined ? { purposes: b.purposes } : {}), ...(b.ratePerMinute !== undefined ? { ratePerMinute: b.ratePerMinute } : {}),
      ...(b.dailyQuota !== undefined ? { dailyQuota: b.dailyQuota } : {}), ...(b.disabled !== undefined ? { disabledAt: b.disabled ? clock.now() : null } : {}),
    }, (d) => [auditEntry(req, clock, 'sharing.department.update', d.id, { ...b })]);
    if (rec === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such department');
    return { department: deptView(rec) };
  });

  app.post<{ Params: { id: string } }>('/api/v1/sharing/departments/:id/secret', {
    preHandler: admins,
    schema: { tags: ['sharing-admin'], summary: 'Rotate a department\'s client secret (the old one stops working; issued tokens run out within their lifetime)', params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } },
  }, async (req) => {
    need();
    const { secret, hash } = newClientSecret();
    const rec = await store.registry.updateDepartment(req.params.id, { secretHash: hash }, (d) => [auditEntry(req, clock, 'sharing.department.rotate-secret', d.id)]);
    if (rec === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such department');
    return { clientId: rec.clientId, clientSecret: secret };
  });

  // ── token endpoint (RFC 6749 §4.4) ─────────────────────────────────────────────────────────
  await app.register(async (t) => {
    t.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    t.post<{ Body: Record<string, string> }>('/sharing/v1/token', {
      config: { rateLimit: { max: 60, timeWindow: 60_000 } },
      schema: {
        tags: ['sharing'], summary: 'Client credentials grant: an access token for a registered department',
        description: 'RFC 6749 §4.4. Body `application/x-www-form-urlencoded` with `grant_type=client_credentials`; the client authenticates with HTTP Basic (`client_id:client_secret`, §2.3.1) or `client_id` and `client_secret` in the body. Errors follow §5.2 (`error`, `error_description`) and carry the OneCard `code`.',
        security: [],
        body: { type: 'object', properties: { grant_type: { type: 'string' }, client_id: { type: 'string', maxLength: 128 }, client_secret: { type: 'string', maxLength: 256 }, scope: { type: 'string', maxLength: 1024 } } },
      },
    }, async (req, reply) => {
      need();
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      const oauthError = (status: number, error: string, code: ServerErrorCode, description: string): FastifyReply => {
        m?.inc('onecard_sharing_tokens_total', { result: error });
        if (status === 401) reply.header('www-authenticate', 'Basic realm="sharing"');
        return reply.code(status).send({ error, error_description: description, code });
      };
      const body = req.body ?? {};
      if (body.grant_type !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'SRV_ERR_VALIDATION', 'grant_type must be client_credentials');
      let clientId = body.client_id;
      let clientSecret = body.client_secret;
      const auth = req.headers.authorization;
      if (auth !== undefined && /^Basic /i.test(auth)) {
        const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
        const i = dec.indexOf(':');
        if (i > 0) { clientId = decodeURIComponent(dec.slice(0, i)); clientSecret = decodeURIComponent(dec.slice(i + 1)); }
      }
      if (clientId === undefined || clientSecret === undefined) return oauthError(401, 'invalid_client', 'SRV_ERR_SHARING_INVALID_CLIENT', 'client authentication required');
      const dept = await issuer.authenticateClient(clientId, clientSecret);
      if (dept === undefined) return oauthError(401, 'invalid_client', 'SRV_ERR_SHARING_INVALID_CLIENT', 'unknown client, wrong secret or disabled department');
      const tok = await issuer.issue(dept.id, clock.now());
      m?.inc('onecard_sharing_tokens_total', { result: 'issued' });
      return { access_token: tok.accessToken, token_type: 'Bearer', expires_in: tok.expiresIn, scope: dept.purposes.join(' ') };
    });
  });

  // ── department calls ───────────────────────────────────────────────────────────────────────
  const authDepartment = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    need();
    const token = bearerToken(req.headers.authorization);
    const grant = token === undefined ? undefined : await verifier.verify(token, clock.now());
    const dept = grant === undefined ? undefined : grant.department ?? await store.registry.getDepartment(grant.departmentId);
    if (dept === undefined || dept.disabledAt !== null) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      m?.inc('onecard_sharing_calls_total', { call: 'auth', outcome: 'SRV_ERR_SHARING_INVALID_TOKEN' });
      throw new ServerError('SRV_ERR_SHARING_INVALID_TOKEN');
    }
    req.department = dept;
  };
  const limited = { rateLimit: { hook: 'preHandler' as const, timeWindow: 60_000, max: async (req: FastifyRequest) => req.department?.ratePerMinute ?? 1, keyGenerator: (req: FastifyRequest) => `dept:${req.department?.id ?? req.ip}` } };
  const secured = [{ bearer: [] }];

  /** Refuses a purpose the department is not granted (recorded when the call is about a person). */
  const checkPurpose = (dept: DepartmentRecord, purpose: string): void => {
    if (!dept.purposes.includes(purpose)) throw new ServerError('SRV_ERR_SHARING_PURPOSE_NOT_GRANTED', purpose, { purpose });
  };
  const quota = async (dept: DepartmentRecord, n: number): Promise<void> => {
    if (!(await store.registry.consumeQuota(dept.id, dayOf(clock.now()), n, dept.dailyQuota))) throw new ServerError('SRV_ERR_SHARING_QUOTA', `${dept.dailyQuota} per day`, { dailyQuota: dept.dailyQuota });
  };
  /**
   * Runs a call about one person: the outcome (released fields or the refusal code) lands in the
   * tracker. A call that releases something uses `quotaUnits` of the daily quota: its access record
   * and its quota use are committed together (one durable write, grouped with concurrent calls)
   * before the answer is returned; over the quota nothing is released or recorded.
   */
  const tracked = async <R>(dept: DepartmentRecord, purpose: string, call: string, subject: { subjectHash: string | null; cardNumber: string | null }, quotaUnits: number, fn: () => Promise<{ result: R; released: string[] }>): Promise<R> => {
    const at = clock.now();
    const base: Omit<NewAccess, 'released' | 'outcome'> = { at, departmentId: dept.id, purpose, call, subjectHash: subject.subjectHash, cardNumber: subject.cardNumber, jobId: null };
    let out: { result: R; released: string[] };
    try {
      checkPurpose(dept, purpose);
      out = await fn();
    } catch (e) {
      const code = e instanceof ServerError ? e.code : 'SRV_ERR_INTERNAL';
      // A refusal about a person is recorded (it uses no quota).
      if (subject.subjectHash !== null || subject.cardNumber !== null) await calls.commit({ access: { ...base, released: [], outcome: code } });
      m?.inc('onecard_sharing_calls_total', { call, outcome: code });
      throw e;
    }
    // A failing commit fails the call: nothing is answered that is not on record.
    if (!(await calls.commit({ access: { ...base, released: out.released, outcome: 'released' }, quota: { day: dayOf(at), n: quotaUnits, limit: dept.dailyQuota } }))) {
      // Over the quota: nothing released, nothing recorded about the person.
      m?.inc('onecard_sharing_calls_total', { call, outcome: 'SRV_ERR_SHARING_QUOTA' });
      throw new ServerError('SRV_ERR_SHARING_QUOTA', `${dept.dailyQuota} per day`, { dailyQuota: dept.dailyQuota });
    }
    m?.inc('onecard_sharing_calls_total', { call, outcome: 'released' });
    return out.result;
  };

  app.get<{ Params: { card: string }; Querystring: { purpose: string } }>('/sharing/v1/cards/:card/status', {
    preHandler: authDepartment, config: limited,
    schema: {
      tags: ['sharing'], summary: 'Card status: is this card usable? No personal data', security: secured,
      params: { type: 'object', required: ['card'], properties: { card: { type: 'string', pattern: '^[0-9A-Z]{9}$' } } },
      querystring: { type: 'object', additionalProperties: false, required: ['purpose'], properties: { purpose: PURPOSE } },
    },
  }, async (req) => {
    const dept = req.department!;
    const svc = need();
    const card = await svc.store.getCard(req.params.card);
    return tracked(dept, req.query.purpose, 'card-status', { subjectHash: card?.idHash ?? null, cardNumber: req.params.card }, 1, async () => {
      if (card === undefined) {
        // Not in the registry: only the hotlist can speak for it.
        const listed = (await store.getHotlistEntry(req.params.card)) !== undefined;
        return { result: { cardNumber: req.params.card, known: false, usable: listed ? false : null, status: listed ? 'hotlisted' : 'unknown' }, released: ['status'] };
      }
      return { result: { cardNumber: card.cardNumber, known: true, usable: USABLE_STATUSES.has(card.status), status: card.status, ...(card.replacedBy !== null ? { replacedBy: card.replacedBy } : {}) }, released: ['status'] };
    });
  });

  const verifyBody = { type: 'object', additionalProperties: false, required: ['purpose', 'idNumber', 'name'], properties: { purpose: PURPOSE, idNumber: { type: 'string', minLength: 1, maxLength: 32 }, name: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
  app.post<{ Body: { purpose: string; idNumber: string; name: string } }>('/sharing/v1/holders/verify', {
    preHandler: authDepartment, config: limited,
    schema: { tags: ['sharing'], summary: 'Holder verification: does this ID number and name belong to a usable card? Answers yes or no, nothing else', security: secured, body: verifyBody },
  }, async (req) => {
    const dept = req.department!;
    const svc = need();
    const id = normaliseIdNumber(req.body.idNumber);
    return tracked(dept, req.body.purpose, 'verify', { subjectHash: svc.cipher.idHash(id), cardNumber: null }, 1, async () => {
      const match = await svc.store.holderHasCardIn(svc.cipher.holderHash(id, req.body.name), USABLE);
      return { result: { match }, released: ['match'] };
    });
  });

  app.post<{ Body: { purpose: string; cardNumber: string } }>('/sharing/v1/holders/basic-info', {
    preHandler: authDepartment, config: limited,
    schema: {
      tags: ['sharing'], summary: 'Basic information of a card\'s holder, only under the holder\'s live consent for this department and purpose',
      description: 'Refusals: `SRV_ERR_SHARING_PURPOSE_NOT_GRANTED`, `SRV_ERR_SHARING_NO_CONSENT`, `SRV_ERR_SHARING_CONSENT_EXPIRED`, `SRV_ERR_SHARING_CONSENT_REVOKED` (all 403).',
      security: secured,
      body: { type: 'object', additionalProperties: false, required: ['purpose', 'cardNumber'], properties: { purpose: PURPOSE, cardNumber: { type: 'string', pattern: '^[0-9A-Z]{9}$' } } },
    },
  }, async (req) => {
    const dept = req.department!;
    const svc = need();
    const card = await svc.store.getCard(req.body.cardNumber);
    return tracked(dept, req.body.purpose, 'basic-info', { subjectHash: card?.idHash ?? null, cardNumber: req.body.cardNumber }, 1, async () => {
      if (card === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
      const now = clock.now();
      const consents = (await svc.store.listConsents({ idHash: card.idHash, departmentId: dept.id })).filter((c) => c.purpose === req.body.purpose);
      const live = consents.find((c) => c.revokedAt === null && c.expiresAt > now);
      if (live === undefined) {
        const newest = consents[0];
        if (newest === undefined) throw new ServerError('SRV_ERR_SHARING_NO_CONSENT');
        if (newest.revokedAt !== null) throw new ServerError('SRV_ERR_SHARING_CONSENT_REVOKED', undefined, { revokedAt: newest.revokedAt });
        throw new ServerError('SRV_ERR_SHARING_CONSENT_EXPIRED', undefined, { expiredAt: newest.expiresAt });
      }
      const result = {
        cardNumber: card.cardNumber, name: svc.cipher.open(card.cardNumber, 'name', card.nameSealed), idNumber: svc.cipher.open(card.cardNumber, 'idNumber', card.idSealed),
        region: card.region, generation: card.generation, issuedOn: card.issuedOn, expiresOn: card.expiresOn, status: card.status, consent: { id: live.id, expiresAt: live.expiresAt },
      };
      return { result, released: [...BASIC_FIELDS] };
    });
  });

  // Batch verification: accepted at once, verified in the background, downloaded as JSON lines.
  const runBatch = async (svc: RegistryService, job: BatchJobRecord, items: readonly { ref?: string; idNumber: string; name: string }[]): Promise<void> => {
    await store.registry.putBatchJob({ ...job, status: 'running' });
    const lines: string[] = [];
    let matched = 0;
    try {
      for (let i = 0; i < items.length; i += BATCH_STEP) {
        const part = items.slice(i, i + BATCH_STEP);
        const at = clock.now();
        const accesses: NewAccess[] = [];
        for (let j = 0; j < part.length; j++) {
          const it = part[j]!;
          const id = normaliseIdNumber(it.idNumber);
          const match = await svc.store.holderHasCardIn(svc.cipher.holderHash(id, it.name), USABLE);
          if (match) matched++;
          lines.push(JSON.stringify({ index: i + j, ...(it.ref !== undefined ? { ref: it.ref } : {}), match }));
          accesses.push({ at, departmentId: job.departmentId, purpose: job.purpose, call: 'batch-verify', subjectHash: svc.cipher.idHash(id), cardNumber: null, released: ['match'], outcome: 'released', jobId: job.id });
        }
        await store.registry.recordAccesses(accesses);
        await new Promise<void>((r) => setImmediate(r));
      }
      await store.registry.putBatchJob({ ...job, status: 'done', matched, finishedAt: clock.now() }, `${lines.join('\n')}\n`);
      m?.inc('onecard_sharing_calls_total', { call: 'batch-verify', outcome: 'released' });
    } catch (err) {
      app.log.error({ err, jobId: job.id }, 'batch verification failed');
      await store.registry.putBatchJob({ ...job, status: 'failed', matched, finishedAt: clock.now() }).catch(() => {});
    }
  };

  app.post<{ Body: { purpose: string; items: { ref?: string; idNumber: string; name: string }[] } }>('/sharing/v1/batch-verifications', {
    preHandler: authDepartment, config: limited, bodyLimit: 4 * 1024 * 1024,
    schema: {
      tags: ['sharing'], summary: 'Batch holder verification of up to 10,000 beneficiaries (e.g. before a subsidy run): accepted as a job, result downloadable as JSON lines',
      security: secured,
      body: {
        type: 'object', additionalProperties: false, required: ['purpose', 'items'],
        properties: { purpose: PURPOSE, items: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['idNumber', 'name'], properties: { ref: { type: 'string', maxLength: 64 }, idNumber: { type: 'string', minLength: 1, maxLength: 32 }, name: { type: 'string', minLength: 1, maxLength: 128 } } } } },
      },
    },
  }, async (req, reply) => {
    const dept = req.department!;
    const svc = need();
    if (req.body.items.length === 0 || req.body.items.length > BATCH_MAX) throw new ServerError('SRV_ERR_SHARING_BATCH_LIMIT', `${req.body.items.length} items`, { items: req.body.items.length, max: BATCH_MAX });
    try {
      checkPurpose(dept, req.body.purpose);
    } catch (e) {
      m?.inc('onecard_sharing_calls_total', { call: 'batch-verify', outcome: (e as ServerError).code });
      throw e;
    }
    await quota(dept, req.body.items.length);
    const job: BatchJobRecord = { id: newId('bat_'), departmentId: dept.id, purpose: req.body.purpose, status: 'queued', total: req.body.items.length, matched: 0, createdAt: clock.now(), finishedAt: null };
    await store.registry.putBatchJob(job);
    const p = runBatch(svc, job, req.body.items).finally(() => running.delete(p));
    running.add(p);
    reply.code(202);
    return { jobId: job.id, status: job.status, total: job.total };
  });

  const jobOf = async (req: FastifyRequest<{ Params: { id: string } }>): Promise<BatchJobRecord> => {
    const job = await store.registry.getBatchJob(req.params.id);
    // Another department's job is as unknown as a missing one.
    if (job === undefined || job.departmentId !== req.department!.id) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such batch verification');
    return job;
  };
  const JobParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
  app.get<{ Params: { id: string } }>('/sharing/v1/batch-verifications/:id', {
    preHandler: authDepartment, config: limited,
    schema: { tags: ['sharing'], summary: 'State of a batch verification', security: secured, params: JobParam },
  }, async (req) => {
    const job = await jobOf(req);
    return { jobId: job.id, status: job.status, total: job.total, matched: job.matched, createdAt: job.createdAt, finishedAt: job.finishedAt };
  });
  app.get<{ Params: { id: string } }>('/sharing/v1/batch-verifications/:id/result', {
    preHandler: authDepartment, config: limited,
    schema: { tags: ['sharing'], summary: 'Result of a finished batch verification: one JSON line per item, `{index, ref?, match}`', security: secured, params: JobParam },
  }, async (req, reply) => {
    const job = await jobOf(req);
    if (job.status !== 'done') throw new ServerError('SRV_ERR_SHARING_JOB_PENDING', job.status, { status: job.status });
    const body = (await store.registry.getBatchResult(job.id)) ?? '';
    return reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="${job.id}.jsonl"`).send(body);
  });

  app.get<{ Querystring: { purpose: string; cursor?: number; limit?: number } }>('/sharing/v1/changes', {
    preHandler: authDepartment, config: limited,
    schema: {
      tags: ['sharing'], summary: 'Change feed of card status (no personal data): the newest status of every card changed after `cursor`; pass the returned cursor next time',
      security: secured,
      querystring: { type: 'object', additionalProperties: false, required: ['purpose'], properties: { purpose: PURPOSE, cursor: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10000 } } },
    },
  }, async (req) => {
    const dept = req.department!;
    const svc = need();
    checkPurpose(dept, req.query.purpose);
    await quota(dept, 1);
    const cursor = req.query.cursor ?? 0;
    const list = await svc.store.feed(cursor, req.query.limit ?? 1000);
    m?.inc('onecard_sharing_calls_total', { call: 'changes', outcome: 'released' });
    return {
      changes: list.map((f) => ({ seq: f.seq, cardNumber: f.cardNumber, status: f.status, usable: USABLE_STATUSES.has(f.status), hotlisted: HOTLISTED_STATUSES.has(f.status), ...(f.replacedBy !== null ? { replacedBy: f.replacedBy } : {}), at: f.at })),
      cursor: list.length > 0 ? list[list.length - 1]!.seq : cursor,
    };
  });

  // ── terminal side: consent and the holder's own tracker (card + PIN verified at the terminal) ──
  const holderBody = { cardNumber: { type: 'string', pattern: '^[0-9A-Z]{9}$' }, pinVerified: { const: true } } as const;
  const holderCard = async (svc: RegistryService, cardNumber: string): Promise<import('../store/registry-types.ts').CardRecord> => {
    const card = await svc.store.getCard(cardNumber);
    if (card === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
    if (!USABLE_STATUSES.has(card.status)) throw new ServerError('SRV_ERR_REGISTRY_TRANSITION', `the card is ${card.status}`, { status: card.status });
    return card;
  };
  const terminalAudit = (req: FastifyRequest, action: string, target: string, details: Record<string, unknown>) => ({ ts: clock.now(), actor: `terminal:${req.terminal!.id}`, action, target, ip: req.ip, details });

  app.post<{ Body: { cardNumber: string; pinVerified: true; department: string; purposes: string[]; days: number } }>('/api/v1/terminal/sharing/consents', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'The holder grants a department time-limited consent for purposes (after card + PIN at a kiosk or desk)',
      security: [{ terminalBasic: [] }, { bearer: [] }],
      body: { type: 'object', additionalProperties: false, required: ['cardNumber', 'pinVerified', 'department', 'purposes', 'days'], properties: { ...holderBody, department: { type: 'string', maxLength: 64 }, purposes: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: PURPOSE }, days: { type: 'integer', minimum: 1, maximum: 365 } } },
    },
  }, async (req, reply) => {
    const svc = need();
    const card = await holderCard(svc, req.body.cardNumber);
    const dept = await store.registry.getDepartment(req.body.department);
    if (dept === undefined || dept.disabledAt !== null) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such department');
    for (const p of req.body.purposes) checkPurpose(dept, p);
    const now = clock.now();
    const out: ConsentRecord[] = [];
    for (const purpose of req.body.purposes) {
      const rec: ConsentRecord = { id: newId('cns_'), cardNumber: card.cardNumber, idHash: card.idHash, departmentId: dept.id, purpose, grantedAt: now, expiresAt: now + req.body.days * 86_400_000, grantedVia: `terminal:${req.terminal!.id}`, revokedAt: null, revokedVia: null };
      await store.registry.putConsent(rec, () => [terminalAudit(req, 'sharing.consent.grant', rec.id, { cardNumber: card.cardNumber, department: dept.id, purpose, expiresAt: rec.expiresAt })]);
      out.push(rec);
    }
    reply.code(201);
    return { consents: out.map((c) => ({ id: c.id, department: c.departmentId, purpose: c.purpose, grantedAt: c.grantedAt, expiresAt: c.expiresAt })) };
  });

  app.post<{ Params: { id: string }; Body: { cardNumber: string; pinVerified: true } }>('/api/v1/terminal/sharing/consents/:id/revoke', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'The holder revokes one of their consents (after card + PIN)', security: [{ terminalBasic: [] }, { bearer: [] }],
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
      body: { type: 'object', additionalProperties: false, required: ['cardNumber', 'pinVerified'], properties: holderBody },
    },
  }, async (req) => {
    const svc = need();
    const card = await svc.store.getCard(req.body.cardNumber);
    const mine = card === undefined ? undefined : (await svc.store.listConsents({ idHash: card.idHash })).find((c) => c.id === req.params.id);
    if (card === undefined || mine === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such consent of this holder');
    const ok = await svc.store.revokeConsent(mine.id, clock.now(), `terminal:${req.terminal!.id}`, () => [terminalAudit(req, 'sharing.consent.revoke', mine.id, { cardNumber: card.cardNumber, department: mine.departmentId, purpose: mine.purpose })]);
    return { revoked: ok };
  });

  app.post<{ Body: { cardNumber: string; pinVerified: true; limit?: number } }>('/api/v1/terminal/sharing/tracker', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'The holder\'s own data tracker (after card + PIN): every access by departments and their consents', security: [{ terminalBasic: [] }, { bearer: [] }],
      body: { type: 'object', additionalProperties: false, required: ['cardNumber', 'pinVerified'], properties: { ...holderBody, limit: { type: 'integer', minimum: 1, maximum: 500 } } },
    },
  }, async (req) => {
    const svc = need();
    const card = await svc.store.getCard(req.body.cardNumber);
    if (card === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
    await store.appendAudit(terminalAudit(req, 'sharing.tracker.view', card.cardNumber, {}));
    return trackerOf(svc, card.idHash, req.body.limit ?? 100);
  });
}
