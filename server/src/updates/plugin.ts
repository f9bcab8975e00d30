/**
 * The updates feature plugin: signed package upload and listing, staged rollouts driven by the
 * pure engine in `rollout.ts`, job notifications to terminals over MQTT (`down/jobs/notify`,
 * retained, through the shared jobs notifier `app.jobs`), their progress from `up/jobs/{jobId}`, and the package download (HTTP Range) for
 * terminals. Packages are verified against the configured trusted keys before they are stored;
 * archives live as files under `packageDir`. Register after the broker and auth plugins.
 *
 * Uploads, rollout creation and pause/resume/abort write their audit entries in the same store
 * transaction as the change.
 *
 * A rollout that may downgrade or reinstall (`force`, or its explicit alias `allowDowngrade`)
 * needs the admin role and is audited as `rollout.downgrade-allowed`; an operator's is refused
 * with `SRV_ERR_UPDATE_DOWNGRADE`. A terminal may fetch a package's job, signature and archive
 * only when a rollout of that package targets it (else 404, as for an unknown package).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { FleetMessage } from '@onecard/protocol/fleet';
import type { PendingJob } from '../jobs/notifier.ts';
import { ServerError } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { auditEntry } from '../routes/admin.ts';
import type { AuditOf } from '../store/types.ts';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '@onecard/protocol/update';
import { parseSignature } from './package-format.ts';
import { isPublicKeyString, verifyPackage } from './package-io.ts';
import { createRollout, countRollout, planProblem, step, type PhaseSpec, type ReportedUpdateStatus, type RolloutEvent, type RolloutPlan, type RolloutState } from './rollout.ts';
import { updatesStoreFor, type PackageRecord, type RolloutRecord, type TargetSelector, type UpdatesStore } from './store.ts';

export interface UpdatesPluginOptions {
  /** Directory for package archives and signatures (created when missing). */
  readonly packageDir: string;
  /** Public keys (`ed25519:…` / `sm2:…`) whose signatures the server accepts. */
  readonly trustedKeys: readonly string[];
  /** Defaults to the SQLite store on `app.ctx.store.db`, else in memory. */
  readonly store?: UpdatesStore;
  /** Largest accepted archive (default 256 MiB). */
  readonly maxPackageBytes?: number;
  readonly limits?: PackageLimits;
  /** How often rollouts are ticked (default 5 s); 0 disables the timer (tests tick by hand). */
  readonly tickMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The updates feature's handle (used by tests and the dashboard). */
    updates: UpdatesHandle;
  }
}

export interface UpdatesHandle {
  readonly store: UpdatesStore;
  /** Steps every open rollout with a tick. */
  tick(): Promise<void>;
  /** Feeds one event to a rollout and carries out the effects. */
  apply(rolloutId: string, event: RolloutEvent): Promise<RolloutState>;
}

const ID = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;

/** Maps a terminal's JobProgress to the engine's per-terminal status (`undefined`: nothing to record). */
export function progressStatus(msg: FleetMessage<'jobs/progress'>): ReportedUpdateStatus | undefined {
  if (msg.status === 'succeeded') return 'succeeded';
  if (msg.status === 'rejected') return 'failed';
  if (msg.status === 'failed') return msg.step === 'rolled-back' ? 'rolled-back' : 'failed';
  switch (msg.step) {
    case 'downloading': case 'verifying': return 'downloading';
    case 'installing': case 'switching': case 'starting': return 'installing';
    case 'health-check': return 'health-check';
    default: return undefined;
  }
}

function rolloutView(r: RolloutRecord, full: boolean): Record<string, unknown> {
  const s = r.state;
  const c = countRollout(s);
  return {
    id: r.id, packageId: r.packageId, targetVersion: s.plan.targetVersion, status: s.status, target: r.target, createdBy: r.createdBy,
    createdAt: s.createdAt, updatedAt: s.updatedAt, phase: s.phaseIndex + 1, phases: s.plan.phases, ratePerMinute: s.plan.ratePerMinute,
    successThreshold: s.plan.successThreshold, maxFailures: s.plan.maxFailures, force: s.plan.force,
    ...(s.status === 'aborted' ? { abortReason: s.abortReason, detail: s.detail } : {}),
    ...(s.status === 'paused' ? { pauseReason: s.pauseReason, detail: s.detail } : {}),
    counts: { total: c.total, started: c.started, ...c.byStatus },
    ...(full ? { terminals: s.order.map((id) => s.terminals[id]) } : {}),
  };
}

function packageView(p: PackageRecord): Record<string, unknown> {
  const { signature: _sig, ...rest } = p;
  return rest;
}

async function updatesPlugin(app: FastifyInstance, opts: UpdatesPluginOptions): Promise<void> {
  for (const k of opts.trustedKeys) if (!isPublicKeyString(k)) throw new ServerError('SRV_ERR_CONFIG', 'trusted update key is not ed25519:<base64> or sm2:<hex>');
  const store = opts.store ?? updatesStoreFor(app.ctx.store);
  await store.init();
  await mkdir(opts.packageDir, { recursive: true, mode: 0o700 });
  const maxBytes = opts.maxPackageBytes ?? 256 * 1024 * 1024;
  const limits = opts.limits ?? DEFAULT_PACKAGE_LIMITS;
  const clock = app.ctx.clock;
  const archivePath = (id: string) => join(opts.packageDir, `${id}.ocpkg`);

  // Open rollouts live in memory; every step is persisted before its effects run.
  const open = new Map<string, RolloutRecord>();
  for (const r of await store.listRollouts(['active', 'paused'])) open.set(r.id, r);

  // The retained `down/jobs/notify` pointer belongs to the shared jobs notifier (server/src/jobs):
  // this plugin lists a terminal's started rollouts as `update` jobs and asks it to refresh.
  const IN_FLIGHT: ReadonlySet<string> = new Set(['notified', 'downloading', 'installing', 'health-check']);
  app.jobs.register({
    kind: 'update',
    pending: async (terminalId) => {
      const out: PendingJob[] = [];
      for (const r of open.values()) {
        const e = r.state.terminals[terminalId];
        if (e === undefined || !IN_FLIGHT.has(e.status)) continue;
        out.push({ jobId: r.id, kind: 'update', version: r.state.plan.packageSeq, status: e.status === 'notified' ? 'queued' : 'in-progress', priority: 0, createdAt: e.startedAt ?? r.state.createdAt, url: `/api/v1/terminal/jobs/${r.id}` });
      }
      return out;
    },
  });
  const publishNotify = async (terminalId: string): Promise<void> => {
    await app.jobs.refresh(terminalId);
  };

  /** Steps a rollout; the new state is stored (with `audit`'s entries, atomically) before it is used or its effects run. */
  const apply = async (rolloutId: string, event: RolloutEvent, audit?: AuditOf<void>): Promise<RolloutState> => {
    const rec = open.get(rolloutId) ?? await store.getRollout(rolloutId);
    if (rec === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `rollout ${rolloutId}`);
    const { state, effects } = step(rec.state, event, clock.now());
    if (state === rec.state) return state;
    const next: RolloutRecord = { ...rec, state };
    await store.putRollout(next, audit);
    if (state.status === 'active' || state.status === 'paused') open.set(rolloutId, next);
    else open.delete(rolloutId);
    for (const e of effects) {
      if (e.type === 'notify' || e.type === 'cancel') await publishNotify(e.terminalId);
      else {
        app.log.info({ rolloutId, status: e.status, reason: e.reason }, 'rollout status');
        await app.ctx.store.appendAudit({ ts: clock.now(), actor: 'system', action: `rollout.${e.status}`, target: rolloutId, ip: '', details: { reason: e.reason } });
      }
    }
    return state;
  };

  const tick = async (): Promise<void> => {
    for (const id of [...open.keys()]) await apply(id, { type: 'tick' });
  };

  let timer: NodeJS.Timeout | undefined;
  if ((opts.tickMs ?? 5000) > 0) {
    timer = setInterval(() => { tick().catch((err: unknown) => app.log.error({ err }, 'rollout tick failed')); }, opts.tickMs ?? 5000);
    timer.unref();
  }
  app.addHook('onClose', async () => { if (timer !== undefined) clearInterval(timer); });
  app.decorate('updates', { store, tick, apply } satisfies UpdatesHandle);

  // ---- MQTT: progress and births ----
  app.uplink.handle('jobs', async (terminalId, msg, jobId) => {
    const rec = open.get(jobId) ?? await store.getRollout(jobId);
    if (rec === undefined || rec.state.terminals[terminalId] === undefined) return;
    const status = progressStatus(msg);
    if (status === undefined) return;
    const reason = msg.error?.code;
    await apply(jobId, { type: 'progress', terminalId, status, ...(reason !== undefined ? { reason } : {}) });
    if (status === 'succeeded' || status === 'failed' || status === 'rolled-back') await publishNotify(terminalId);
  });

  const matches = (sel: TargetSelector, t: { id: string; groupId: string; tags: readonly string[] }): boolean =>
    (sel.terminals ?? []).includes(t.id) || (sel.groups ?? []).includes(t.groupId) || (sel.tags ?? []).some((tag) => t.tags.includes(tag));

  app.uplink.handle('birth', async (terminalId, msg) => {
    if (open.size === 0) return;
    const t = await app.ctx.store.getTerminal(terminalId);
    if (t === undefined) return;
    for (const rec of [...open.values()]) {
      if (rec.state.terminals[terminalId] !== undefined) await apply(rec.id, { type: 'version', terminalId, version: msg.versions.software });
      else if (matches(rec.target, t)) await apply(rec.id, { type: 'add-target', terminalId, version: msg.versions.software });
    }
  });

  // ---- admin routes ----
  // The raw-body parser stays inside this scope so other plugins' routes are unaffected.
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', { bodyLimit: maxBytes }, (_req, payload, done) => done(null, payload));

    scope.post('/api/v1/updates/packages', {
      bodyLimit: maxBytes,
      preHandler: app.requireRole('operator'),
      schema: { tags: ['updates'], summary: 'Upload a signed package (raw archive body; signature file base64 in x-onecard-signature)' },
    }, async (req, reply) => {
      const sigHeader = req.headers['x-onecard-signature'];
      if (typeof sigHeader !== 'string' || sigHeader.length > 8192) throw new ServerError('SRV_ERR_UPDATE_SIGNATURE', 'x-onecard-signature header (base64 of the signature file) required');
      const sigText = Buffer.from(sigHeader, 'base64').toString('utf8');
      const sig = parseSignature(sigText);
      const id = newId('pkg_');
      const tmp = join(opts.packageDir, `.upload-${randomBytes(6).toString('hex')}`);
      let n = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (n > maxBytes) cb(new ServerError('SRV_ERR_PAYLOAD_TOO_LARGE', `package above ${maxBytes} bytes`));
          else cb(null, chunk);
        },
      });
      try {
        await pipeline(req.body as Readable, counter, createWriteStream(tmp, { mode: 0o600 }));
        const manifest = await verifyPackage(tmp, sig, opts.trustedKeys, limits);
        const rec = await store.addPackage({
          id, name: manifest.name, version: manifest.version, minPreviousVersion: manifest.minPreviousVersion, size: sig.archiveSize, sha256: sig.archiveSha256,
          manifestSha256: sig.manifestSha256, fileCount: manifest.files.length, keyId: sig.keyId, alg: sig.alg, signature: sigText, uploadedAt: clock.now(), uploadedBy: req.admin?.id ?? 'unknown',
        }, (p) => [auditEntry(req, clock, 'update-package.upload', id, { name: p.name, version: p.version, keyId: p.keyId, sha256: p.sha256 })]);
        await rename(tmp, archivePath(id));
        await writeFile(join(opts.packageDir, `${id}.sig`), sigText, { mode: 0o644 });
        reply.code(201);
        return packageView(rec);
      } catch (err) {
        await rm(tmp, { force: true });
        if (err instanceof ServerError && (err.code === 'SRV_ERR_UPDATE_SIGNATURE' || err.code === 'SRV_ERR_UPDATE_HASH' || err.code === 'SRV_ERR_UPDATE_PACKAGE')) {
          await app.audit(req, 'update-package.refused', sig.name, { version: sig.version, code: err.code, keyId: sig.keyId });
        }
        throw err;
      }
    });
  });

  app.get('/api/v1/updates/packages', { preHandler: app.requireRole('viewer'), schema: { tags: ['updates'], summary: 'Uploaded packages, newest first' } },
    async () => ({ packages: (await store.listPackages()).map(packageView) }));

  app.get<{ Params: { id: string } }>('/api/v1/updates/packages/:id', { preHandler: app.requireRole('viewer'), schema: { tags: ['updates'], params: { type: 'object', properties: { id: ID }, required: ['id'] } } }, async (req) => {
    const p = await store.getPackage(req.params.id);
    if (p === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `package ${req.params.id}`);
    return packageView(p);
  });

  interface CreateBody {
    packageId: string;
    target: TargetSelector;
    phases: PhaseSpec[];
    ratePerMinute?: number;
    successThreshold?: number;
    maxFailures?: number;
    maxFailureRatio?: number;
    force?: boolean;
    allowDowngrade?: boolean;
    terminalTimeoutSeconds?: number;
  }
  const strList = { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 64 } } as const;
  app.post<{ Body: CreateBody }>('/api/v1/updates/rollouts', {
    preHandler: app.requireRole('operator'),
    schema: {
      tags: ['updates'], summary: 'Create and start a rollout',
      body: {
        type: 'object', additionalProperties: false, required: ['packageId', 'target', 'phases'],
        properties: {
          packageId: ID,
          target: { type: 'object', additionalProperties: false, properties: { groups: strList, tags: strList, terminals: strList } },
          phases: { type: 'array', minItems: 1, maxItems: 20, items: { oneOf: [
            { type: 'object', additionalProperties: false, required: ['size'], properties: { size: { type: 'integer', minimum: 1 } } },
            { type: 'object', additionalProperties: false, required: ['percent'], properties: { percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } } },
          ] } },
          ratePerMinute: { type: 'integer', minimum: 1, maximum: 100000 },
          successThreshold: { type: 'number', minimum: 0, maximum: 1 },
          maxFailures: { type: 'integer', minimum: 1 },
          maxFailureRatio: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
          force: { type: 'boolean', description: 'allow same-version installs and downgrades (admin role only; audited)' },
          allowDowngrade: { type: 'boolean', description: 'same as force' },
          terminalTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 7 * 86400 },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body;
    const force = b.force === true || b.allowDowngrade === true;
    if (force && req.admin?.role !== 'admin') throw new ServerError('SRV_ERR_UPDATE_DOWNGRADE', `role ${req.admin?.role ?? 'none'}`, { role: req.admin?.role, allowed: ['admin'] });
    const pkg = await store.getPackage(b.packageId);
    if (pkg === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `package ${b.packageId}`);
    const id = newId('ro_');
    const plan: RolloutPlan = {
      id, packageId: pkg.id, packageSeq: pkg.seq, targetVersion: pkg.version, minPreviousVersion: pkg.minPreviousVersion, force,
      phases: b.phases, ratePerMinute: b.ratePerMinute ?? 60, successThreshold: b.successThreshold ?? 0.95, maxFailures: b.maxFailures ?? 1,
      ...(b.maxFailureRatio !== undefined ? { maxFailureRatio: b.maxFailureRatio } : {}), terminalTimeoutMs: (b.terminalTimeoutSeconds ?? 1800) * 1000,
    };
    const problem = planProblem(plan);
    if (problem !== undefined) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', problem);
    const found = new Map<string, { id: string; version: string | null }>();
    const add = (t: { id: string; reported: Readonly<Record<string, unknown>>; status: string }) => {
      if (t.status !== 'active' || found.has(t.id)) return;
      const v = (t.reported.versions as { software?: unknown } | undefined)?.software;
      found.set(t.id, { id: t.id, version: typeof v === 'string' ? v : null });
    };
    for (const g of b.target.groups ?? []) for (const t of await app.ctx.store.listTerminals({ groupId: g, limit: 100000 })) add(t);
    for (const tag of b.target.tags ?? []) for (const t of await app.ctx.store.listTerminals({ tag, limit: 100000 })) add(t);
    for (const tid of b.target.terminals ?? []) { const t = await app.ctx.store.getTerminal(tid); if (t !== undefined) add(t); }
    const rec: RolloutRecord = { id, packageId: pkg.id, target: b.target, createdBy: req.admin?.id ?? 'unknown', state: createRollout(plan, [...found.values()].sort((x, y) => (x.id < y.id ? -1 : 1)), clock.now()) };
    await store.putRollout(rec, () => [
      auditEntry(req, clock, 'rollout.create', id, { packageId: pkg.id, version: pkg.version, targets: found.size, phases: b.phases, force: plan.force }),
      ...(plan.force ? [auditEntry(req, clock, 'rollout.downgrade-allowed', id, { packageId: pkg.id, version: pkg.version, name: pkg.name })] : []),
    ]);
    open.set(id, rec);
    await apply(id, { type: 'tick' });
    reply.code(201);
    return rolloutView(open.get(id) ?? (await store.getRollout(id))!, true);
  });

  app.get<{ Querystring: { status?: string } }>('/api/v1/updates/rollouts', { preHandler: app.requireRole('viewer'), schema: { tags: ['updates'], summary: 'Rollouts, newest first' } },
    async () => ({ rollouts: (await store.listRollouts()).map((r) => rolloutView(open.get(r.id) ?? r, false)) }));

  app.get<{ Params: { id: string } }>('/api/v1/updates/rollouts/:id', { preHandler: app.requireRole('viewer'), schema: { tags: ['updates'], summary: 'Rollout status with every terminal', params: { type: 'object', properties: { id: ID }, required: ['id'] } } }, async (req) => {
    const r = open.get(req.params.id) ?? await store.getRollout(req.params.id);
    if (r === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `rollout ${req.params.id}`);
    return rolloutView(r, true);
  });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(`/api/v1/updates/rollouts/:id/${action}`, {
      preHandler: app.requireRole('operator'),
      schema: { tags: ['updates'], summary: `${action[0]!.toUpperCase()}${action.slice(1)} a rollout`, params: { type: 'object', properties: { id: ID }, required: ['id'] } },
    }, async (req) => {
      const r = open.get(req.params.id) ?? await store.getRollout(req.params.id);
      if (r === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `rollout ${req.params.id}`);
      const allowed = action === 'resume' ? r.state.status === 'paused' : action === 'pause' ? r.state.status === 'active' : r.state.status === 'active' || r.state.status === 'paused';
      if (!allowed) throw new ServerError('SRV_ERR_UPDATE_ROLLOUT_STATE', `${action} a ${r.state.status} rollout`, { status: r.state.status });
      const reason = typeof req.body?.reason === 'string' ? req.body.reason.slice(0, 200) : undefined;
      await apply(r.id, action === 'abort' ? { type: 'abort', ...(reason !== undefined ? { reason } : {}) } : { type: action },
        () => [auditEntry(req, clock, `rollout.${action}`, r.id, reason !== undefined ? { reason } : {})]);
      return rolloutView(open.get(r.id) ?? (await store.getRollout(r.id))!, false);
    });
  }

  // ---- terminal routes ----
  app.get<{ Params: { jobId: string } }>('/api/v1/terminal/jobs/:jobId', {
    preHandler: app.requireTerminal(),
    schema: { tags: ['terminal'], summary: 'What an update job asks of this terminal', security: [{ terminalBasic: [] }], params: { type: 'object', properties: { jobId: ID }, required: ['jobId'] } },
  }, async (req) => {
    const tid = req.terminal!.id;
    const r = open.get(req.params.jobId) ?? await store.getRollout(req.params.jobId);
    const e = r?.state.terminals[tid];
    if (r === undefined || e === undefined || e.phase === null) throw new ServerError('SRV_ERR_NOT_FOUND', `job ${req.params.jobId}`);
    const p = (await store.getPackage(r.packageId))!;
    const base = `/api/v1/terminal/updates/packages/${p.id}`;
    return {
      jobId: r.id, kind: 'update', status: e.status, force: r.state.plan.force,
      package: { id: p.id, seq: p.seq, name: p.name, version: p.version, minPreviousVersion: p.minPreviousVersion, size: p.size, sha256: p.sha256, url: `${base}/archive`, signatureUrl: `${base}/signature` },
    };
  });

  /** The package, when a rollout of it targets `terminalId` (else 404, never revealing which). */
  const pkgOr404 = async (id: string, terminalId: string): Promise<PackageRecord> => {
    const p = await store.getPackage(id);
    if (p === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `package ${id}`);
    const targets = (r: RolloutRecord): boolean => r.packageId === p.id && r.state.terminals[terminalId] !== undefined;
    if (![...open.values()].some(targets) && !(await store.listRollouts()).some(targets)) throw new ServerError('SRV_ERR_NOT_FOUND', `package ${id}`);
    return p;
  };

  app.get<{ Params: { id: string } }>('/api/v1/terminal/updates/packages/:id/signature', {
    preHandler: app.requireTerminal(),
    schema: { tags: ['terminal'], summary: 'A package signature file', security: [{ terminalBasic: [] }], params: { type: 'object', properties: { id: ID }, required: ['id'] } },
  }, async (req, reply) => {
    const p = await pkgOr404(req.params.id, req.terminal!.id);
    reply.type('application/json');
    return p.signature;
  });

  app.get<{ Params: { id: string } }>('/api/v1/terminal/updates/packages/:id/archive', {
    preHandler: app.requireTerminal(),
    schema: { tags: ['terminal'], summary: 'A package archive; supports `Range: bytes=a-b` to resume', security: [{ terminalBasic: [] }], params: { type: 'object', properties: { id: ID }, required: ['id'] } },
  }, async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const p = await pkgOr404(req.params.id, req.terminal!.id);
    reply.header('accept-ranges', 'bytes').header('etag', `"${p.sha256}"`).type('application/octet-stream');
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (range === undefined || (typeof ifRange === 'string' && ifRange !== `"${p.sha256}"`)) {
      reply.header('content-length', p.size);
      return reply.send(createReadStream(archivePath(p.id)));
    }
    // [RFC 9110 §14.1.2] a single byte range; anything else we cannot serve is 416
    const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(range);
    const start = m === null ? NaN : Number(m[1]);
    const end = m === null ? NaN : m[2] === '' ? p.size - 1 : Math.min(Number(m[2]), p.size - 1);
    if (!(start <= end && start < p.size)) {
      reply.header('content-range', `bytes */${p.size}`);
      throw new ServerError('SRV_ERR_UPDATE_RANGE', range.slice(0, 40));
    }
    reply.code(206).header('content-range', `bytes ${start}-${end}/${p.size}`).header('content-length', end - start + 1);
    return reply.send(createReadStream(archivePath(p.id), { start, end }));
  });
}

export default fp(updatesPlugin, { name: 'onecard-updates', dependencies: ['onecard-broker', 'onecard-auth', 'onecard-jobs'] });
