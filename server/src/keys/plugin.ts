/**
 * Transit key sets (docs/keys.md). A key custodian imports a key set WRAPPED (TR-31 `D` blocks
 * under an import KBPK agreed by ECDH with the server's key; clear keys are never accepted or
 * returned); the server re-wraps each key under its master key (from a file or the environment,
 * never in the database) and keeps metadata only on the API: versions, usages, KCVs,
 * assignments, jobs. Assigning a version to a group creates a key job: for each terminal the
 * server derives its KBPK (`deriveKbpk`, ECDH + HKDF) and serves the keys as purse key blocks at
 * `GET /api/v1/terminal/jobs/{jobId}/key-blocks`; the terminal acknowledges on `up/jobs/{jobId}`
 * with the key-set check value it computed, which the server compares with the one it expects
 * (mismatch → failed). Rotation moves every group of a key set to a new version and keeps the old
 * version's keys in the deliveries until a deadline, then purges them. Import, assign and rotate
 * need `key-custodian` (admin implied); viewers and operators read metadata. Everything is audited.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { deriveKbpk, keySetCheckValue } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { ServerError } from '../errors.ts';
import { isP256PublicKey, newId } from '../crypto-util.ts';
import jobsPlugin from '../jobs/plugin.ts';
import { PENDING_JOB_STATUSES, type JobStatus, type PendingJob } from '../jobs/notifier.ts';
import { importKbpk, masterKeyCheckValue, openPurseKeyBlock, purseKeyBlock, IMPORT_FORMAT, IMPORT_INFO, PURSE_USAGES, type OpenedPurseKey } from './key-crypto.ts';
import { keysStoreFor, type KeyApprovalRecord, type KeyJobRecord, type KeyJobTerminalRecord, type KeyRef, type KeySetVersionRecord, type KeysStore, type StoredKey } from './store.ts';
import type { KeyWrite, NewAuditRecord, TerminalRecord } from '../store/types.ts';
import { auditEntry } from '../routes/admin.ts';

export interface KeysPluginOptions {
  /** AES-256 master key (32 bytes); key routes answer `SRV_ERR_KEYS_NO_MASTER_KEY` without it. */
  readonly masterKey?: Uint8Array | undefined;
  /** Defaults to the SQLite store on `app.ctx.store.db`, else in memory. */
  readonly store?: KeysStore;
  /** How often deadlines and timeouts are checked (default 60 s); 0 disables the timer (tests tick by hand). */
  readonly tickMs?: number;
  /** A terminal that fetched its key blocks and stays silent this long is timed out (default 1 h). */
  readonly terminalTimeoutMs?: number;
}

/** Longest soft-SAM permission a key custodian can grant at once (30 days); renewal re-delivers. */
export const MAX_APPROVAL_SECONDS = 30 * 86400;

/** Why a terminal may not receive purse roots now. */
export type DeliveryRefusal = 'not-approved' | 'revoked' | 'rekeyed' | 'expired' | 'disabled' | 'psam' | 'no-birth';

/** Whether the terminal's last birth reports a physical PSAM in one of its readers. */
export function reportsPsam(t: Pick<TerminalRecord, 'reported'>): boolean {
  const readers = t.reported['readers'];
  return Array.isArray(readers) && readers.some((r) => typeof r === 'object' && r !== null && (r as { psam?: unknown }).psam === true);
}

/** Whether the terminal sent a birth (so the server knows whether it has a PSAM). */
function reportedReaders(t: Pick<TerminalRecord, 'reported'>): boolean {
  return Array.isArray(t.reported['readers']);
}

/**
 * The custody rule (docs/keys.md "Custody"): a terminal may hold a soft SAM — receive the purse
 * roots — only with a key custodian's approval of its current key pair that is neither revoked
 * nor expired, while it is active and its last birth reported its readers, none with a PSAM.
 */
export function deliveryRefusal(t: TerminalRecord, a: KeyApprovalRecord | undefined, now: number): DeliveryRefusal | undefined {
  if (t.status !== 'active') return 'disabled';
  if (!reportedReaders(t)) return 'no-birth';
  if (reportsPsam(t)) return 'psam';
  if (a === undefined) return 'not-approved';
  if (a.revokedAt !== null) return 'revoked';
  if (a.publicKey !== t.publicKey) return 'rekeyed';
  if (a.expiresAt <= now) return 'expired';
  return undefined;
}

export interface KeysHandle {
  readonly store: KeysStore;
  /** Purges retiring versions whose deadline passed (re-issuing the affected jobs) and times out silent terminals. */
  tick(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeysHandle;
  }
}

const ID = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const ROLE_OF: Readonly<Record<string, string>> = { [PURSE_USAGES.purchase]: 'purchase', [PURSE_USAGES.tac]: 'tac' };
const slotOf = (k: { usage: string; keyVersion: number; algorithmId: number }): string => `${k.usage}/${k.keyVersion}/${k.algorithmId}`;

/** Metadata of one stored key (never the block). */
function keyView(k: StoredKey): Record<string, unknown> {
  return { usage: k.usage, role: ROLE_OF[k.usage] ?? k.usage, keyVersion: k.keyVersion, algorithmId: k.algorithmId, levels: k.levels, kcv: k.kcv, purged: k.block === null };
}

function countEntries(entries: readonly KeyJobTerminalRecord[]): Record<string, number> {
  const c: Record<string, number> = { total: entries.length };
  for (const e of entries) c[e.status] = (c[e.status] ?? 0) + 1;
  return c;
}

async function keysPlugin(app: FastifyInstance, opts: KeysPluginOptions): Promise<void> {
  if (!app.hasDecorator('jobs')) await app.register(jobsPlugin);
  const store = opts.store ?? keysStoreFor(app.ctx.store);
  await store.init();
  const { clock } = app.ctx;
  const master = opts.masterKey === undefined ? undefined : opts.masterKey.slice();
  if (master !== undefined && master.length !== 32) throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', 'the master key must be 32 bytes (AES-256)');
  const masterKcv = master === undefined ? undefined : masterKeyCheckValue(master);
  const timeoutMs = opts.terminalTimeoutMs ?? 3600_000;
  app.addHook('onClose', async () => { master?.fill(0); });

  const needMaster = (): Uint8Array => {
    if (master === undefined) throw new ServerError('SRV_ERR_KEYS_NO_MASTER_KEY');
    return master;
  };
  const requireMaster = async (): Promise<void> => { needMaster(); };
  const custodians = [requireMaster, app.requireRole('key-custodian')];
  const viewers = [requireMaster, app.requireRole('viewer', 'operator', 'key-custodian')];

  const checkMaster = (v: KeySetVersionRecord): void => {
    if (v.masterKcv !== masterKcv) throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', `key set ${v.keySetId} v${v.version} was stored under another master key`, { keySetId: v.keySetId, version: v.version });
  };

  const actorOf = (req: FastifyRequest): string => req.admin?.id ?? 'unknown';
  /** An audit entry of the server itself (or of a terminal: `actor` `terminal:{id}`). */
  const systemEntry = (action: string, target: string, details: Record<string, unknown>, actor = 'system'): NewAuditRecord => ({ ts: clock.now(), actor, action, target, ip: '', details });
  const auditSystem = (action: string, target: string, details: Record<string, unknown>, actor = 'system') => app.ctx.store.appendAudit(systemEntry(action, target, details, actor));

  // ---- custody: approvals (dual control) ----

  /** Why `t` may not receive purse roots now, with its approval. */
  const refusalOf = async (t: TerminalRecord): Promise<{ refusal: DeliveryRefusal | undefined; approval: KeyApprovalRecord | undefined }> => {
    const approval = await store.getApproval(t.id);
    return { refusal: deliveryRefusal(t, approval, clock.now()), approval };
  };

  /** The admin token that issued the enrolment (or re-key) token of the terminal's current key pair. */
  const mintedBy = async (terminalId: string): Promise<string | undefined> => {
    let best: { usedAt: number; createdBy: string } | undefined;
    for (const tok of await app.ctx.store.listEnrolmentTokens()) {
      if (tok.usedBy !== terminalId || tok.usedAt === null) continue;
      if (best === undefined || tok.usedAt >= best.usedAt) best = { usedAt: tok.usedAt, createdBy: tok.createdBy };
    }
    return best?.createdBy;
  };

  /** The writes cancelling a terminal's pending key deliveries (none when nothing is pending). */
  const cancelPendingWrites = async (terminalId: string, reason: string): Promise<KeyWrite[]> =>
    (await store.listTerminalEntries(terminalId, PENDING_JOB_STATUSES)).map((e) => ({ op: 'putJobTerminal', rec: { ...e, status: 'cancelled', error: reason, updatedAt: clock.now() } }));

  /** Cancels a terminal's pending key deliveries; returns whether any was cancelled. */
  const cancelPending = async (terminalId: string, reason: string): Promise<boolean> => {
    const writes = await cancelPendingWrites(terminalId, reason);
    if (writes.length > 0) await store.commit(writes);
    return writes.length > 0;
  };

  /**
   * Revokes a live approval (re-key, disabling, a custodian); returns whether there was one. The
   * revocation, the cancelled deliveries and the audit entry commit together; the terminal's job
   * notification is refreshed after the commit.
   */
  const revokeApproval = async (terminalId: string, by: string, reason: string, entry: (details: Record<string, unknown>) => NewAuditRecord): Promise<boolean> => {
    const a = await store.getApproval(terminalId);
    if (a === undefined || a.revokedAt !== null) return false;
    const details = { reason, approvedBy: a.approvedBy, approvedAt: a.approvedAt, expiresAt: a.expiresAt };
    try {
      await store.commit([{ op: 'revokeApproval', terminalId, at: clock.now(), by }, ...await cancelPendingWrites(terminalId, `approval-${reason}`)], () => [entry(details)]);
    } catch (err) {
      // Revoked meanwhile by another request: nothing to do here.
      if (err instanceof ServerError && err.code === 'SRV_ERR_NOT_FOUND') return false;
      throw err;
    }
    await app.jobs.refresh(terminalId);
    return true;
  };

  // A re-key or re-enrolment (new key pair) and disabling end the approval.
  for (const [event, reason] of [['terminal-credentials-changed', 'rekey'], ['terminal-disabled', 'disabled']] as const) {
    app.fleet.on(event, (terminalId: string) => {
      revokeApproval(terminalId, 'system', reason, (d) => systemEntry('key-approval.revoke', terminalId, d))
        .catch((err: unknown) => app.log.error({ err, terminalId }, 'revoking a key approval failed'));
    });
  }

  // ---- jobs ----

  /**
   * The keys a delivery of (keySetId, version) carries: that version's, then older retiring
   * versions' for slots it lacks. `planned`: the key set's versions as the same commit leaves them.
   */
  const jobContent = async (keySetId: string, version: number, planned?: readonly KeySetVersionRecord[]): Promise<{ keys: KeyRef[]; expectedKcv: string }> => {
    const all = planned ?? await store.listKeySetVersions(keySetId);
    const main = all.find((v) => v.version === version);
    if (main === undefined || main.status === 'purged') throw new ServerError('SRV_ERR_NOT_FOUND', `key set ${keySetId} version ${version}`);
    const refs: KeyRef[] = [];
    const seen = new Set<string>();
    const take = (v: KeySetVersionRecord) => v.keys.forEach((k, index) => {
      if (k.block === null || seen.has(slotOf(k))) return;
      seen.add(slotOf(k));
      refs.push({ version: v.version, index });
    });
    take(main);
    for (const v of all) if (v.version !== version && v.status === 'retiring') take(v);
    const entries = refs.map((r) => all.find((v) => v.version === r.version)!.keys[r.index]!);
    return { keys: refs, expectedKcv: keySetCheckValue(entries) };
  };

  /** The writes superseding a job and cancelling its pending entries, and the terminals they touch. */
  const supersedeWrites = async (job: KeyJobRecord, writes: KeyWrite[], touched: Set<string>): Promise<void> => {
    writes.push({ op: 'putJob', rec: { ...job, status: 'superseded' } });
    for (const e of await store.listJobTerminals(job.id)) {
      if (!PENDING_JOB_STATUSES.includes(e.status)) continue;
      writes.push({ op: 'putJobTerminal', rec: { ...e, status: 'cancelled', error: 'superseded', updatedAt: clock.now() } });
      touched.add(e.terminalId);
    }
  };

  /**
   * The writes creating the group's key job for its assignment (superseding the previous one),
   * appended to `writes`; the terminals to notify after the commit are added to `touched`. Returns
   * the job's audit entry, built from the job as committed (with its `seq`).
   */
  const planJob = async (groupId: string, keySetId: string, version: number, createdBy: string, writes: KeyWrite[], touched: Set<string>, planned?: readonly KeySetVersionRecord[]): Promise<(job: KeyJobRecord) => NewAuditRecord> => {
    const content = await jobContent(keySetId, version, planned);
    const mine = new Set<string>();
    for (const old of await store.listJobs({ groupId, status: 'active' })) await supersedeWrites(old, writes, mine);
    const jobId = newId('kj_');
    writes.push({ op: 'addJob', rec: { id: jobId, groupId, keySetId, version, keys: content.keys, expectedKcv: content.expectedKcv, status: 'active', createdAt: clock.now(), createdBy } });
    const now = clock.now();
    for (const t of await app.ctx.store.listTerminals({ groupId, status: 'active', limit: 1_000_000 })) {
      // Only terminals a key custodian approved join key distribution.
      if ((await refusalOf(t)).refusal !== undefined) continue;
      writes.push({ op: 'putJobTerminal', rec: { jobId, terminalId: t.id, status: 'queued', reportedKcv: null, error: null, createdAt: now, updatedAt: now } });
      mine.add(t.id);
    }
    for (const id of mine) touched.add(id);
    return (job) => systemEntry('key-job.create', job.id, { groupId, keySetId, version, seq: job.seq, expectedKcv: job.expectedKcv, terminals: mine.size }, createdBy);
  };

  app.jobs.register({
    kind: 'keys',
    pending: async (terminalId) => {
      const out: PendingJob[] = [];
      const t = await app.ctx.store.getTerminal(terminalId);
      if (t === undefined || (await refusalOf(t)).refusal !== undefined) return out;
      for (const e of await store.listTerminalEntries(terminalId, PENDING_JOB_STATUSES)) {
        const job = await store.getJob(e.jobId);
        if (job === undefined || job.status !== 'active') continue;
        out.push({ jobId: job.id, kind: 'keys', version: job.seq, status: e.status === 'in-progress' ? 'in-progress' : 'queued', priority: 10, createdAt: e.createdAt, url: `/api/v1/terminal/jobs/${job.id}/key-blocks` });
      }
      return out;
    },
  });

  // Late terminals (enrolled or moved after the assignment) join the group's active job on birth;
  // entries of jobs of another group are cancelled.
  app.uplink.handle('birth', async (terminalId) => {
    const t = await app.ctx.store.getTerminal(terminalId);
    if (t === undefined) return;
    let changed = false;
    const now = clock.now();
    for (const e of await store.listTerminalEntries(terminalId, PENDING_JOB_STATUSES)) {
      const job = await store.getJob(e.jobId);
      if (job !== undefined && job.status === 'active' && job.groupId === t.groupId) continue;
      await store.putJobTerminal({ ...e, status: 'cancelled', error: 'moved', updatedAt: now });
      changed = true;
    }
    const { refusal } = await refusalOf(t);
    // A birth may report a PSAM now, or come after the approval expired: nothing stays pending.
    if (refusal !== undefined && await cancelPending(terminalId, refusal)) changed = true;
    const active = (await store.listJobs({ groupId: t.groupId, status: 'active' }))[0];
    if (active !== undefined && refusal === undefined && (await store.getJobTerminal(active.id, terminalId)) === undefined) {
      await store.putJobTerminal({ jobId: active.id, terminalId, status: 'queued', reportedKcv: null, error: null, createdAt: now, updatedAt: now });
      changed = true;
    }
    if (changed) await app.jobs.refresh(terminalId);
  });

  // [fleet-protocol §Jobs] progress and the KCV check.
  app.uplink.handle('jobs', async (terminalId, msg, jobId) => {
    if (!jobId.startsWith('kj_')) return;
    const e = await store.getJobTerminal(jobId, terminalId);
    const job = await store.getJob(jobId);
    if (e === undefined || job === undefined || !PENDING_JOB_STATUSES.includes(e.status)) return;
    const now = clock.now();
    let status: JobStatus;
    let error: string | null = null;
    if (msg.status === 'in-progress') status = 'in-progress';
    else if (msg.status === 'succeeded') {
      if (msg.kcv === undefined) { status = 'failed'; error = 'kcv-missing'; }
      else if (msg.kcv !== job.expectedKcv) { status = 'failed'; error = 'kcv-mismatch'; }
      else status = 'succeeded';
    } else {
      status = msg.status === 'rejected' ? 'rejected' : 'failed';
      error = (msg.error?.code ?? msg.status).slice(0, 64);
    }
    // The entry's new status and its audit entry commit together; the notification follows.
    await store.commit([{ op: 'putJobTerminal', rec: { ...e, status, reportedKcv: msg.kcv ?? e.reportedKcv, error, updatedAt: now } }],
      status === 'in-progress' ? undefined : () => [systemEntry(`key-job.${status}`, jobId, { terminalId, expectedKcv: job.expectedKcv, ...(msg.kcv !== undefined ? { reportedKcv: msg.kcv } : {}), ...(error !== null ? { error } : {}) }, `terminal:${terminalId}`)]);
    if (status !== 'in-progress') await app.jobs.refresh(terminalId);
  });

  const tick = async (): Promise<void> => {
    const now = clock.now();
    for (const v of await store.listKeySetVersions()) {
      if (v.status !== 'retiring' || v.deadline === null || v.deadline > now) continue;
      const purged: KeySetVersionRecord = { ...v, status: 'purged', keys: v.keys.map((k) => ({ ...k, block: null })) };
      const planned = (await store.listKeySetVersions(v.keySetId)).map((x) => (x.version === v.version ? purged : x));
      const writes: KeyWrite[] = [{ op: 'putKeySetVersion', rec: purged }];
      const touched = new Set<string>();
      const jobAudits: ((job: KeyJobRecord) => NewAuditRecord)[] = [];
      // Deliveries that still carry the purged keys are re-issued without them, in the same commit.
      for (const job of await store.listJobs({ keySetId: v.keySetId, status: 'active' })) {
        if (job.keys.some((r) => r.version === v.version)) jobAudits.push(await planJob(job.groupId, job.keySetId, job.version, 'system', writes, touched, planned));
      }
      await store.commit(writes, (r) => [systemEntry('key-set.purge', v.keySetId, { version: v.version, deadline: v.deadline }), ...r.jobs.map((j, i) => jobAudits[i]!(j))]);
      await app.jobs.refreshMany(touched);
    }
    for (const job of await store.listJobs({ status: 'active' })) {
      for (const e of await store.listJobTerminals(job.id)) {
        if (e.status !== 'in-progress' || now - e.updatedAt < timeoutMs) continue;
        await store.commit([{ op: 'putJobTerminal', rec: { ...e, status: 'timed-out', error: 'timeout', updatedAt: now } }], () => [systemEntry('key-job.timed-out', job.id, { terminalId: e.terminalId })]);
        await app.jobs.refresh(e.terminalId);
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if ((opts.tickMs ?? 60_000) > 0) {
    timer = setInterval(() => { tick().catch((err: unknown) => app.log.error({ err }, 'keys tick failed')); }, opts.tickMs ?? 60_000);
    timer.unref();
  }
  app.addHook('onClose', async () => { if (timer !== undefined) clearInterval(timer); });
  app.decorate('keys', { store, tick } satisfies KeysHandle);

  // ---- views ----
  const versionView = async (v: KeySetVersionRecord): Promise<Record<string, unknown>> => {
    const assignments = (await store.listAssignments(v.keySetId)).filter((a) => a.version === v.version).map((a) => a.groupId);
    let terminals = 0;
    let acknowledged = 0;
    for (const g of assignments) {
      const job = (await store.listJobs({ groupId: g, status: 'active' }))[0];
      if (job === undefined) continue;
      const entries = await store.listJobTerminals(job.id);
      terminals += entries.length;
      acknowledged += entries.filter((e) => e.status === 'succeeded').length;
    }
    return {
      id: v.keySetId, version: v.version, status: v.status, deadline: v.deadline, description: v.description, createdAt: v.createdAt, createdBy: v.createdBy,
      keys: v.keys.map(keyView), assignments, terminals, acknowledged,
    };
  };
  const jobView = async (j: KeyJobRecord, full: boolean): Promise<Record<string, unknown>> => {
    const entries = await store.listJobTerminals(j.id);
    return {
      id: j.id, seq: j.seq, groupId: j.groupId, keySetId: j.keySetId, version: j.version, status: j.status, expectedKcv: j.expectedKcv,
      keys: j.keys, createdAt: j.createdAt, createdBy: j.createdBy, counts: countEntries(entries),
      ...(full ? { terminals: entries.map((e) => ({ terminalId: e.terminalId, status: e.status, reportedKcv: e.reportedKcv, error: e.error, updatedAt: e.updatedAt })) } : {}),
    };
  };

  // ---- admin routes ----
  app.get('/api/v1/key-sets/import-key', {
    preHandler: custodians,
    schema: { tags: ['keys'], summary: 'The server public key and parameters a key custodian wraps an import under (docs/keys.md)' },
  }, async () => ({ format: IMPORT_FORMAT, publicKey: app.ctx.keys.publicKeySpki, curve: 'P-256', kdf: 'HKDF-SHA256', salt: 'SHA-256(ephemeral SPKI DER)', info: `${IMPORT_INFO} keySetId=<keySetId>`, keyBlock: 'TR-31 D' }));

  interface ImportBody { keySetId: string; version?: number; description?: string; ephemeralPublicKey: string; keys: { block: string; kcv?: string }[] }
  app.post<{ Body: ImportBody }>('/api/v1/key-sets', {
    preHandler: custodians,
    schema: {
      tags: ['keys'], summary: 'Import a key-set version, wrapped (TR-31 D blocks under the ECDH import KBPK); clear keys are refused',
      body: {
        type: 'object', additionalProperties: false, required: ['keySetId', 'ephemeralPublicKey', 'keys'],
        properties: {
          keySetId: ID, version: { type: 'integer', minimum: 1, maximum: 1_000_000 }, description: { type: 'string', maxLength: 256 },
          ephemeralPublicKey: { type: 'string', minLength: 40, maxLength: 400 },
          keys: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'object', additionalProperties: false, required: ['block'], properties: { block: { type: 'string', minLength: 16, maxLength: 2000, pattern: '^D[0-9]{4}' }, kcv: { type: 'string', pattern: '^[0-9A-Fa-f]{6}$' } } } },
        },
      },
    },
  }, async (req, reply) => {
    const mk = needMaster();
    const b = req.body;
    if (!isP256PublicKey(b.ephemeralPublicKey)) throw new ServerError('SRV_ERR_KEYS_IMPORT', 'ephemeralPublicKey must be a P-256 SPKI (base64)', { field: 'ephemeralPublicKey' });
    const existing = await store.listKeySetVersions(b.keySetId);
    const version = b.version ?? (existing[0]?.version ?? 0) + 1;
    if (existing.some((v) => v.version === version)) throw new ServerError('SRV_ERR_CONFLICT', `key set ${b.keySetId} version ${version} exists`);
    let kbpk: Uint8Array;
    try { kbpk = importKbpk(app.ctx.keys.privateKeyPkcs8, b.ephemeralPublicKey, b.ephemeralPublicKey, b.keySetId); } catch (cause) {
      if (isProtocolError(cause)) throw new ServerError('SRV_ERR_KEYS_IMPORT', 'ephemeralPublicKey', { protocolCode: cause.code }, { cause });
      throw cause;
    }
    const opened: OpenedPurseKey[] = [];
    const stored: StoredKey[] = [];
    try {
      const seen = new Set<string>();
      for (const [i, k] of b.keys.entries()) {
        let o: OpenedPurseKey;
        try { o = openPurseKeyBlock(kbpk, k.block); } catch (err) {
          if (err instanceof ServerError) throw new ServerError('SRV_ERR_KEYS_IMPORT', `key ${i}: ${err.message}`, { index: i, ...err.details });
          throw err;
        }
        opened.push(o);
        if (k.kcv !== undefined && k.kcv.toUpperCase() !== o.kcv) throw new ServerError('SRV_ERR_KEYS_IMPORT', `key ${i}: KCV differs from the announced one`, { index: i, reason: 'kcv' });
        if (seen.has(slotOf(o))) throw new ServerError('SRV_ERR_KEYS_IMPORT', `key ${i}: duplicate slot`, { index: i, reason: 'duplicate' });
        seen.add(slotOf(o));
        stored.push({ usage: o.usage, keyVersion: o.keyVersion, algorithmId: o.algorithmId, levels: o.levels, kcv: o.kcv, block: purseKeyBlock(mk, o, '1') });
      }
    } catch (err) {
      await app.audit(req, 'key-set.import-refused', b.keySetId, { version, code: (err as { code?: string }).code, ...((err as { details?: Record<string, unknown> }).details ?? {}) });
      throw err;
    } finally {
      kbpk.fill(0);
      for (const o of opened) o.key.fill(0);
    }
    if (!stored.some((k) => k.usage === PURSE_USAGES.purchase)) throw new ServerError('SRV_ERR_KEYS_IMPORT', 'a key set needs a purchase key (usage 61)', { reason: 'no-purchase-key' });
    const rec: KeySetVersionRecord = { keySetId: b.keySetId, version, description: b.description ?? '', status: 'active', deadline: null, masterKcv: masterKcv!, keys: stored, createdAt: clock.now(), createdBy: actorOf(req) };
    // The key-set version and its audit entry commit together.
    await store.commit([{ op: 'addKeySetVersion', rec }], () => [auditEntry(req, clock, 'key-set.import', b.keySetId, { version, keys: stored.map((k) => ({ usage: k.usage, keyVersion: k.keyVersion, algorithmId: k.algorithmId, kcv: k.kcv })) })]);
    reply.code(201);
    return versionView(rec);
  });

  app.get('/api/v1/key-sets', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'Every key-set version: metadata only (usages, KCVs, assignments, acknowledgements)' },
  }, async () => ({ keySets: await Promise.all((await store.listKeySetVersions()).map(versionView)) }));

  app.get<{ Params: { id: string } }>('/api/v1/key-sets/:id', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'One key set: its versions (metadata only)', params: { type: 'object', properties: { id: ID }, required: ['id'] } },
  }, async (req) => {
    const versions = await store.listKeySetVersions(req.params.id);
    if (versions.length === 0) throw new ServerError('SRV_ERR_NOT_FOUND', `key set ${req.params.id}`);
    return { id: req.params.id, versions: await Promise.all(versions.map(versionView)), assignments: await store.listAssignments(req.params.id) };
  });

  app.put<{ Params: { groupId: string }; Body: { keySetId: string; version: number } }>('/api/v1/groups/:groupId/key-set', {
    preHandler: custodians,
    schema: {
      tags: ['keys'], summary: 'Assign a key-set version to a group: creates a key job for its terminals',
      params: { type: 'object', properties: { groupId: ID }, required: ['groupId'] },
      body: { type: 'object', additionalProperties: false, required: ['keySetId', 'version'], properties: { keySetId: ID, version: { type: 'integer', minimum: 1 } } },
    },
  }, async (req) => {
    const { groupId } = req.params;
    if ((await app.ctx.store.getGroup(groupId)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `group ${groupId}`);
    const v = await store.getKeySetVersion(req.body.keySetId, req.body.version);
    if (v === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `key set ${req.body.keySetId} version ${req.body.version}`);
    if (v.status === 'purged') throw new ServerError('SRV_ERR_KEYS_STATE', `version ${v.version} was purged`, { status: v.status });
    checkMaster(v);
    // Assignment, key job, its entries and their audit entries commit together; the terminals are
    // notified after the commit, once.
    const writes: KeyWrite[] = [{ op: 'putAssignment', rec: { groupId, keySetId: v.keySetId, version: v.version, assignedAt: clock.now(), assignedBy: actorOf(req) } }];
    const touched = new Set<string>();
    const jobAudit = await planJob(groupId, v.keySetId, v.version, actorOf(req), writes, touched);
    const { jobs: [job] } = await store.commit(writes, (r) => [auditEntry(req, clock, 'key-set.assign', groupId, { keySetId: v.keySetId, version: v.version }), ...r.jobs.map(jobAudit)]);
    await app.jobs.refreshMany(touched);
    return { assignment: await store.getAssignment(groupId), job: await jobView(job!, false) };
  });

  app.delete<{ Params: { groupId: string } }>('/api/v1/groups/:groupId/key-set', {
    preHandler: custodians,
    schema: { tags: ['keys'], summary: 'Unassign: pending deliveries are cancelled (terminals keep what they hold)', params: { type: 'object', properties: { groupId: ID }, required: ['groupId'] } },
  }, async (req, reply) => {
    const { groupId } = req.params;
    if ((await store.getAssignment(groupId)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `no key set assigned to ${groupId}`);
    const writes: KeyWrite[] = [{ op: 'deleteAssignment', groupId }];
    const touched = new Set<string>();
    for (const j of await store.listJobs({ groupId, status: 'active' })) await supersedeWrites(j, writes, touched);
    // Fails with SRV_ERR_NOT_FOUND, writing nothing, when another request unassigned it meanwhile.
    await store.commit(writes, () => [auditEntry(req, clock, 'key-set.unassign', groupId, {})]);
    await app.jobs.refreshMany(touched);
    reply.code(204);
  });

  app.post<{ Params: { id: string }; Body: { toVersion: number; retireAfterSeconds: number } }>('/api/v1/key-sets/:id/rotate', {
    preHandler: custodians,
    schema: {
      tags: ['keys'], summary: 'Rotate: every group on this key set moves to `toVersion`; older versions keep being delivered until the deadline, then are purged',
      params: { type: 'object', properties: { id: ID }, required: ['id'] },
      body: { type: 'object', additionalProperties: false, required: ['toVersion', 'retireAfterSeconds'], properties: { toVersion: { type: 'integer', minimum: 1 }, retireAfterSeconds: { type: 'integer', minimum: 0, maximum: 366 * 86400 } } },
    },
  }, async (req) => {
    const keySetId = req.params.id;
    const target = await store.getKeySetVersion(keySetId, req.body.toVersion);
    if (target === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `key set ${keySetId} version ${req.body.toVersion}`);
    if (target.status !== 'active') throw new ServerError('SRV_ERR_KEYS_STATE', `version ${target.version} is ${target.status}`, { status: target.status });
    checkMaster(target);
    const deadline = clock.now() + req.body.retireAfterSeconds * 1000;
    const retiring: { version: number; deadline: number }[] = [];
    const writes: KeyWrite[] = [];
    // The versions as this commit leaves them (the new jobs still carry the retiring keys).
    const planned = (await store.listKeySetVersions(keySetId)).map((v): KeySetVersionRecord => {
      if (v.version >= target.version || v.status !== 'active') return v;
      const r: KeySetVersionRecord = { ...v, status: 'retiring', deadline };
      writes.push({ op: 'putKeySetVersion', rec: r });
      retiring.push({ version: v.version, deadline });
      return r;
    });
    const groups: string[] = [];
    const touched = new Set<string>();
    const jobAudits: ((job: KeyJobRecord) => NewAuditRecord)[] = [];
    for (const a of await store.listAssignments(keySetId)) {
      writes.push({ op: 'putAssignment', rec: { ...a, version: target.version, assignedAt: clock.now(), assignedBy: actorOf(req) } });
      groups.push(a.groupId);
      jobAudits.push(await planJob(a.groupId, keySetId, target.version, actorOf(req), writes, touched, planned));
    }
    // Retirements, assignments, jobs and every audit entry commit together; notifications follow.
    const done = await store.commit(writes, (r) => [auditEntry(req, clock, 'key-set.rotate', keySetId, { toVersion: target.version, retiring, groups }), ...r.jobs.map((j, i) => jobAudits[i]!(j))]);
    await app.jobs.refreshMany(touched);
    const jobs = await Promise.all(done.jobs.map((j) => jobView(j, false)));
    return { keySetId, toVersion: target.version, retiring, groups, jobs };
  });

  app.get<{ Querystring: { groupId?: string; keySetId?: string } }>('/api/v1/key-jobs', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'Key jobs, newest first, with per-status counts', querystring: { type: 'object', additionalProperties: false, properties: { groupId: ID, keySetId: ID } } },
  }, async (req) => ({
    jobs: await Promise.all((await store.listJobs({ ...(req.query.groupId !== undefined ? { groupId: req.query.groupId } : {}), ...(req.query.keySetId !== undefined ? { keySetId: req.query.keySetId } : {}) })).map((j) => jobView(j, false))),
  }));

  app.get<{ Params: { id: string } }>('/api/v1/key-jobs/:id', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'A key job with every terminal\'s status and reported KCV', params: { type: 'object', properties: { id: ID }, required: ['id'] } },
  }, async (req) => {
    const j = await store.getJob(req.params.id);
    if (j === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `key job ${req.params.id}`);
    return jobView(j, true);
  });

  // ---- custody routes ----

  const approvalView = async (t: TerminalRecord): Promise<Record<string, unknown>> => {
    const { refusal, approval: a } = await refusalOf(t);
    // The approval's own state; `refusal` says why nothing is delivered right now (e.g. `psam`, `no-birth`).
    const state = a === undefined ? 'none'
      : a.revokedAt !== null || a.publicKey !== t.publicKey || t.status !== 'active' ? 'revoked'
        : a.expiresAt <= clock.now() ? 'expired' : 'approved';
    return {
      terminalId: t.id, groupId: t.groupId, state, ...(refusal !== undefined ? { refusal } : {}), psam: reportsPsam(t),
      approvedBy: a?.approvedBy ?? null, approvedAt: a?.approvedAt ?? null, expiresAt: a?.expiresAt ?? null, revokedAt: a?.revokedAt ?? null, revokedBy: a?.revokedBy ?? null,
    };
  };
  const terminalOr404 = async (id: string): Promise<TerminalRecord> => {
    const t = await app.ctx.store.getTerminal(id);
    if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${id}`);
    return t;
  };
  const TERMINAL_PARAMS = { type: 'object', properties: { id: ID }, required: ['id'] } as const;

  app.get('/api/v1/key-approvals', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'Every key-delivery approval (soft-SAM permission): state approved, expired or revoked, and the current delivery refusal if any (psam, no-birth, …)' },
  }, async () => {
    const out: Record<string, unknown>[] = [];
    for (const a of await store.listApprovals()) {
      const t = await app.ctx.store.getTerminal(a.terminalId);
      if (t !== undefined) out.push(await approvalView(t));
    }
    return { approvals: out };
  });

  app.get<{ Params: { id: string } }>('/api/v1/terminals/:id/key-approval', {
    preHandler: viewers,
    schema: { tags: ['keys'], summary: 'Whether this terminal may receive purse roots (soft SAM), who approved it and until when', params: TERMINAL_PARAMS },
  }, async (req) => approvalView(await terminalOr404(req.params.id)));

  app.put<{ Params: { id: string }; Body: { validForSeconds: number } }>('/api/v1/terminals/:id/key-approval', {
    preHandler: custodians,
    schema: {
      tags: ['keys'], summary: 'Approve (or renew) this terminal\'s key pair for key delivery: a soft-SAM permission that expires. Dual control: not by the admin who issued its enrolment or re-key token; never for a terminal with a PSAM',
      params: TERMINAL_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['validForSeconds'], properties: { validForSeconds: { type: 'integer', minimum: 60, maximum: MAX_APPROVAL_SECONDS } } },
    },
  }, async (req) => {
    const t = await terminalOr404(req.params.id);
    const actor = actorOf(req);
    if (t.status !== 'active') throw new ServerError('SRV_ERR_TERMINAL_DISABLED', `terminal ${t.id} is disabled`);
    if (reportsPsam(t)) throw new ServerError('SRV_ERR_KEYS_PSAM', `terminal ${t.id} reports a physical PSAM`, { terminalId: t.id });
    const minter = await mintedBy(t.id);
    if (minter !== undefined && minter === actor) throw new ServerError('SRV_ERR_KEYS_DUAL_CONTROL', 'the admin who issued this terminal\'s enrolment or re-key token cannot approve it', { terminalId: t.id });
    const now = clock.now();
    const approval: KeyApprovalRecord = { terminalId: t.id, publicKey: t.publicKey, approvedBy: actor, approvedAt: now, expiresAt: now + req.body.validForSeconds * 1000, revokedAt: null, revokedBy: null };
    const writes: KeyWrite[] = [{ op: 'putApproval', rec: approval }];
    // Join (or, on renewal, re-receive with the new expiry) the group's active key job.
    const active = (await store.listJobs({ groupId: t.groupId, status: 'active' }))[0];
    if (active !== undefined) {
      const e = await store.getJobTerminal(active.id, t.id);
      writes.push({ op: 'putJobTerminal', rec: { jobId: active.id, terminalId: t.id, status: 'queued', reportedKcv: null, error: null, createdAt: e?.createdAt ?? now, updatedAt: now } });
    }
    // The approval, the delivery entry and the audit entry commit together; the terminal is
    // notified after the commit.
    await store.commit(writes, () => [auditEntry(req, clock, 'key-approval.grant', t.id, { expiresAt: approval.expiresAt, enrolledBy: minter ?? null, groupId: t.groupId })]);
    if (active !== undefined) await app.jobs.refresh(t.id);
    return approvalView(t);
  });

  app.delete<{ Params: { id: string } }>('/api/v1/terminals/:id/key-approval', {
    preHandler: custodians,
    schema: { tags: ['keys'], summary: 'Revoke this terminal\'s key-delivery approval: pending deliveries are cancelled; the terminal erases its soft-SAM keys at their expiry', params: TERMINAL_PARAMS },
  }, async (req) => {
    const t = await terminalOr404(req.params.id);
    const done = await revokeApproval(t.id, actorOf(req), 'custodian', (d) => auditEntry(req, clock, 'key-approval.revoke', t.id, d));
    if (!done) throw new ServerError('SRV_ERR_NOT_FOUND', `no live key approval for terminal ${t.id}`);
    return approvalView(t);
  });

  // ---- terminal route ----

  // A refused terminal may keep asking: one audit entry per terminal and reason per minute, so its
  // credentials cannot grow the audit table without bound (the refusal itself is always answered).
  const refusalAudited = new Map<string, number>();
  const auditRefusal = async (terminalId: string, jobId: string, reason: string): Promise<void> => {
    const key = `${terminalId}\u0000${reason}`;
    const now = clock.now();
    const last = refusalAudited.get(key);
    if (last !== undefined && now - last < 60_000) return;
    if (refusalAudited.size >= 10_000) refusalAudited.clear();
    refusalAudited.set(key, now);
    await auditSystem('key-job.deliver-refused', jobId, { terminalId, reason }, `terminal:${terminalId}`);
  };
  app.get<{ Params: { jobId: string } }>('/api/v1/terminal/jobs/:jobId/key-blocks', {
    preHandler: [requireMaster, app.requireTerminal()],
    schema: {
      tags: ['terminal'], summary: 'The key blocks of a key job, wrapped under this terminal\'s KBPK (TR-31 D, purse convention)', security: [{ terminalBasic: [] }],
      params: { type: 'object', properties: { jobId: ID }, required: ['jobId'] },
    },
  }, async (req, reply) => {
    const mk = needMaster();
    const t = req.terminal!;
    // Custody first: without a live approval nothing is said about jobs either.
    const { refusal, approval } = await refusalOf(t);
    if (refusal !== undefined || approval === undefined) {
      await auditRefusal(t.id, req.params.jobId, refusal ?? 'not-approved');
      throw new ServerError('SRV_ERR_KEYS_NOT_APPROVED', `terminal ${t.id}: ${refusal ?? 'not-approved'}`, { reason: refusal ?? 'not-approved' });
    }
    const job = await store.getJob(req.params.jobId);
    const e = job === undefined ? undefined : await store.getJobTerminal(job.id, t.id);
    if (job === undefined || e === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `job ${req.params.jobId}`);
    if (job.status !== 'active' || !PENDING_JOB_STATUSES.includes(e.status)) throw new ServerError('SRV_ERR_KEYS_STATE', `job is ${job.status}, this terminal's entry ${e.status}`, { status: e.status });
    const versions = new Map<number, KeySetVersionRecord>();
    for (const r of job.keys) {
      if (versions.has(r.version)) continue;
      const v = await store.getKeySetVersion(job.keySetId, r.version);
      if (v === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `key set ${job.keySetId} version ${r.version}`);
      checkMaster(v);
      versions.set(r.version, v);
    }
    let kbpk: Uint8Array;
    try { kbpk = deriveKbpk(app.ctx.keys.privateKeyPkcs8, t.publicKey, t.id); } catch (cause) {
      throw new ServerError('SRV_ERR_INTERNAL', 'KBPK derivation failed', {}, { cause });
    }
    const keys: { block: string; kcv: string }[] = [];
    try {
      for (const r of job.keys) {
        const stored = versions.get(r.version)!.keys[r.index];
        if (stored === undefined || stored.block === null) throw new ServerError('SRV_ERR_KEYS_STATE', 'a key of this job was purged', {});
        const o = openPurseKeyBlock(mk, stored.block, 'SRV_ERR_KEYS_MASTER_KEY');
        try { keys.push({ block: purseKeyBlock(kbpk, o), kcv: o.kcv }); } finally { o.key.fill(0); }
      }
    } finally {
      kbpk.fill(0);
    }
    // The delivery is recorded and audited together before any key block leaves the server.
    await store.commit(e.status === 'queued' ? [{ op: 'putJobTerminal', rec: { ...e, status: 'in-progress', updatedAt: clock.now() } }] : [],
      () => [systemEntry('key-job.deliver', job.id, { terminalId: t.id, seq: job.seq, keys: keys.length, approvedBy: approval.approvedBy, approvedAt: approval.approvedAt, expiresAt: approval.expiresAt }, `terminal:${t.id}`)]);
    reply.header('cache-control', 'no-store');
    // `expiresAt`: the terminal's soft SAM stops using these keys and erases them at this time.
    return { v: 1, jobId: job.id, kind: 'keys', version: job.seq, keySetId: job.keySetId, keySetVersion: job.version, expiresAt: approval.expiresAt, keys };
  });
}

export default fp(keysPlugin, { name: 'onecard-keys', dependencies: ['onecard-broker', 'onecard-auth'] });
