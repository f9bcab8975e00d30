/**
 * Terminal configuration. Admins keep named documents (validated against `TerminalConfig` from
 * `@onecard/protocol/fleet`); every edit creates a new fleet-wide version whose `sha256` is taken
 * over the canonical JSON. Documents are assigned to groups or single terminals (terminal beats
 * group). When a terminal's effective configuration changes, the server publishes a retained
 * pointer `{v, version, sha256}` on `t/{id}/down/config`. A terminal whose birth `accepts`
 * `config-body` gets the document inline in that pointer (`body`, its canonical JSON, up to
 * `CONFIG_INLINE_MAX`); any other, or for a larger document, fetches it from
 * `GET /api/v1/terminal/config/{version}` with its own credentials. The pointer bytes of a version
 * are encoded once and shared by every terminal it goes to. The terminal applies it and reports
 * `applied`/`rejected` on `up/config/status` with, per changed field, what took effect (`live`,
 * `session-end`, `restart`, `pinned`, and when), stored as the terminal's reported status and shown
 * by `GET /api/v1/terminals/{id}/config`. On birth the pointer is re-published when the terminal
 * reports a different version than the desired one. Secrets in a document (the SIP2 password) are
 * sealed before it is stored and shown only as `{"set": true|false}` (`config-secrets.ts`).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CONFIG_INLINE_MAX, canonicalJson, downTopic, encodeFleetMessage, validateTerminalConfig } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { ServerError } from '../errors.ts';
import type { ConfigDocRecord, ConfigScope, ConfigStatusRecord, ConfigVersionRecord, EffectiveConfig } from '../store/types.ts';
import { FanoutQueue } from '../jobs/fanout.ts';
import { groupCommit } from '../jobs/group-commit.ts';
import { auditEntry } from './admin.ts';
import { maskConfigDocument } from './config-secrets.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Configuration announcements queued after their commit (pointer fan-out, birth
     * reconciliation); `await app.configFanout.idle()` waits until what is queued has been published.
     */
    configFanout: FanoutQueue;
  }
}

const DocId = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const;
const TargetId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const VersionParam = { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1 } } } as const;

/**
 * Publishes in slices of this many, yielding to the event loop between slices: the status reports
 * of terminals that already have the pointer, and other requests, are served while a large group
 * is still being published.
 */
export const PUSH_SLICE = 200;

/** Most status reports stored in one commit. */
const STATUS_GROUP_MAX = 2000;

/**
 * Canonical bytes and digest of a document validated against the one terminal schema (field types
 * and ranges, reader models from protocol/ccid, reader roles), so that a document a terminal
 * would refuse is refused here for the whole group.
 * @throws ServerError `SRV_ERR_CONFIG_SCHEMA` (400, details.path names the field)
 */
export function canonicalConfig(document: unknown): { body: string; sha256: string } {
  try {
    validateTerminalConfig(document);
  } catch (err) {
    if (isProtocolError(err)) throw new ServerError('SRV_ERR_CONFIG_SCHEMA', err.message, { path: err.details.path });
    throw err;
  }
  const body = canonicalJson(document);
  return { body, sha256: createHash('sha256').update(body, 'utf8').digest('hex') };
}

/** `If-Match: "7"` / `If-Match: 7` / `expectedVersion: 7` → 7; conflicting values are refused. */
function expectedVersion(req: FastifyRequest, bodyValue: number | undefined): number | undefined {
  const h = req.headers['if-match'];
  let fromHeader: number | undefined;
  if (typeof h === 'string' && h !== '*') {
    const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(h.trim());
    if (m === null) throw new ServerError('SRV_ERR_VALIDATION', 'If-Match must be a version number', { field: 'If-Match' });
    fromHeader = Number(m[1]);
  }
  if (fromHeader !== undefined && bodyValue !== undefined && fromHeader !== bodyValue) throw new ServerError('SRV_ERR_VALIDATION', 'If-Match and expectedVersion differ', { field: 'expectedVersion' });
  return fromHeader ?? bodyValue;
}

async function configRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;
  const m = app.metrics;
  m.define('onecard_config_pointers_published_total', 'counter', 'Retained configuration pointers published');
  m.define('onecard_config_status_total', 'counter', 'Configuration status reports by status');
  m.define('onecard_config_fanout_failures_total', 'counter', 'Configuration announcements that failed after their commit');
  m.define('onecard_config_status_commits_total', 'counter', 'Store commits that carried configuration status reports');

  const fanout = new FanoutQueue({
    onError: (what, err) => {
      m.inc('onecard_config_fanout_failures_total');
      app.log.error({ err, what }, 'configuration announcement failed after its commit');
    },
    onRefused: (what) => app.log.info({ what }, 'configuration announcement not started: the server is closing'),
  });
  app.decorate('configFanout', fanout);
  app.addHook('onClose', async () => { await fanout.close(); });
  /**
   * Bumped right after every committed configuration change, before the affected terminals are
   * listed: a queued announcement whose generation is no longer current lists them again when it
   * runs, so it never publishes a state older than a later commit.
   */
  let generation = 0;
  /**
   * Queues the announcement of a committed change: `listed` (the affected terminals' effective
   * configurations, read after the commit) is published as is when no other change committed
   * since, otherwise `load` reads them again.
   */
  const announce = (what: string, gen: number, listed: readonly EffectiveConfig[] | undefined, load: () => Promise<readonly EffectiveConfig[]>, after?: (effs: readonly EffectiveConfig[]) => Promise<void>): void => {
    fanout.enqueue({
      what,
      run: async () => {
        const effs = listed !== undefined && gen === generation ? listed : await load();
        await pushPointers(effs);
        await after?.(effs);
      },
    });
  };

  /** Configuration versions are immutable: the bodies terminals fetch are kept for the newest few. */
  const versionCache = new Map<number, ConfigVersionRecord>();
  const configVersion = async (version: number): Promise<ConfigVersionRecord | undefined> => {
    let v = versionCache.get(version);
    if (v === undefined) {
      v = await store.getConfigVersion(version);
      if (v === undefined) return undefined;
      if (versionCache.size >= 16) versionCache.delete(versionCache.keys().next().value!);
      versionCache.set(version, v);
    }
    return v;
  };

  /**
   * Terminals connected to this server whose last birth `accepts` `config-body`: their pointer
   * carries the document. Another server of a shared layout does not know them and sends the
   * plain pointer, which they follow over HTTP as before.
   */
  const takesBody = new Set<string>();
  app.uplink.on('disconnect', (terminalId) => { takesBody.delete(terminalId); });

  /**
   * The encoded pointers of a version, plain and with the document inline, built once per version
   * rather than once per terminal (every publish of a version shares the same bytes). Keyed by
   * version and digest, so a version whose stored body was rewritten (secrets sealed in place at
   * start) never reuses the bytes of its former body.
   */
  type Pointers = { readonly plain: Uint8Array; readonly withBody: Uint8Array | undefined };
  const pointers = new Map<string, Pointers>();
  const pointersOf = async (version: number, sha256: string): Promise<Pointers> => {
    const key = `${version}:${sha256}`;
    let p = pointers.get(key);
    if (p === undefined) {
      const v = await configVersion(version);
      const inline = v !== undefined && v.sha256 === sha256 && Buffer.byteLength(v.body, 'utf8') <= CONFIG_INLINE_MAX;
      p = {
        plain: encodeFleetMessage('config', { v: 1, version, sha256 }),
        withBody: inline ? encodeFleetMessage('config', { v: 1, version, sha256, body: v.body }) : undefined,
      };
      if (pointers.size >= 64) pointers.clear();
      pointers.set(key, p);
    }
    return p;
  };
  /** Publishes the retained pointers of these effective configurations, in slices. */
  const pushPointers = async (effs: readonly EffectiveConfig[]): Promise<void> => {
    const byVersion = new Map<string, Pointers>();
    for (const e of effs) {
      const key = `${e.version}:${e.sha256}`;
      if (!byVersion.has(key)) byVersion.set(key, await pointersOf(e.version, e.sha256));
    }
    for (let i = 0; i < effs.length; i += PUSH_SLICE) {
      const slice = effs.slice(i, i + PUSH_SLICE);
      await Promise.all(slice.map((e) => {
        const p = byVersion.get(`${e.version}:${e.sha256}`)!;
        return app.publishDown(downTopic(e.terminalId, 'config'), (takesBody.has(e.terminalId) ? p.withBody : undefined) ?? p.plain, true);
      }));
      m.inc('onecard_config_pointers_published_total', {}, slice.length);
      if (i + PUSH_SLICE < effs.length) await new Promise((r) => setImmediate(r));
    }
  };
  /** Clears the retained pointer of terminals that no longer have any configuration. */
  const clearPointers = async (terminalIds: readonly string[]): Promise<void> => {
    await Promise.all(terminalIds.map((id) => app.publishDown(downTopic(id, 'config'), new Uint8Array(0), true)));
  };
  /**
   * After an assignment change on `scope/target` committed: lists the terminals affected (the
   * count is the answer's `pushed`) and queues their pointers, and the clearing of the pointer of
   * those left without any configuration.
   */
  const pushAfterAssignment = async (scope: ConfigScope, target: string): Promise<number> => {
    const gen = ++generation;
    const load = () => store.listEffectiveConfigs(scope === 'group' ? { groupId: target } : { terminalIds: [target] });
    const effs = await load();
    announce(`config ${scope}:${target}`, gen, effs, load, async (pushed) => {
      if (scope === 'terminal' && pushed.length === 0) await clearPointers([target]);
      if (scope === 'group') {
        const have = new Set(pushed.map((e) => e.terminalId));
        const members = await store.listTerminals({ groupId: target, limit: 100000 });
        await clearPointers(members.filter((t) => !have.has(t.id)).map((t) => t.id));
      }
    });
    return effs.length;
  };

  const docView = async (d: ConfigDocRecord) => ({ ...d, assignments: await store.listConfigAssignments(d.id), rollout: await store.configRolloutSummary(d.id) });

  // ── admin ───────────────────────────────────────────────────────────────────────────────────
  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');
  const operators = app.requireRole('operator');

  app.get('/api/v1/configs', { preHandler: viewers, schema: { tags: ['config'], summary: 'List configuration documents' } }, async () => ({ configs: await store.listConfigDocs() }));

  app.post<{ Body: { id: string; name: string; document: unknown } }>('/api/v1/configs', {
    preHandler: operators,
    schema: {
      tags: ['config'], summary: 'Create a configuration document (version = next fleet-wide number)',
      body: { type: 'object', additionalProperties: false, required: ['id', 'name', 'document'], properties: { id: DocId, name: { type: 'string', minLength: 1, maxLength: 128 }, document: { type: 'object' } } },
    },
  }, async (req, reply) => {
    // Secrets (the SIP2 password) are sealed before anything is stored (config-secrets.ts).
    const { document, replaced } = app.configSecrets.sealIncoming(req.body.id, req.body.document, undefined);
    const { body, sha256 } = canonicalConfig(document);
    // The document and its audit entry commit together (nothing is announced: no assignment yet).
    const doc = await store.createConfigDoc({ id: req.body.id, name: req.body.name, body, sha256, at: clock.now(), by: req.admin!.id },
      (d) => [auditEntry(req, clock, 'config.create', d.id, { version: d.version, sha256, ...(replaced.length > 0 ? { secretsSet: replaced } : {}) })]);
    reply.code(201).header('etag', `"${doc.version}"`);
    return docView(doc);
  });

  app.get<{ Params: { id: string } }>('/api/v1/configs/:id', { preHandler: viewers, schema: { tags: ['config'], summary: 'A document: newest version, its body, assignments and rollout state', params: { type: 'object', properties: { id: DocId } } } }, async (req, reply) => {
    const doc = await store.getConfigDoc(req.params.id);
    if (doc === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${req.params.id}`);
    const v = await store.getConfigVersion(doc.version);
    reply.header('etag', `"${doc.version}"`);
    return { ...(await docView(doc)), document: maskConfigDocument(JSON.parse(v!.body)) };
  });

  app.put<{ Params: { id: string }; Body: { document: unknown; expectedVersion?: number } }>('/api/v1/configs/:id', {
    preHandler: operators,
    schema: {
      tags: ['config'], summary: 'New version of a document; precondition with `If-Match: "<version>"` or `expectedVersion` (409 SRV_ERR_VERSION_MISMATCH)',
      params: { type: 'object', properties: { id: DocId } },
      body: { type: 'object', additionalProperties: false, required: ['document'], properties: { document: { type: 'object' }, expectedVersion: { type: 'integer', minimum: 1 } } },
    },
  }, async (req, reply) => {
    const expected = expectedVersion(req, req.body.expectedVersion);
    // `{"set": true}` keeps the current version's sealed secret; text is sealed (config-secrets.ts).
    const current = await store.getConfigDoc(req.params.id);
    const previous = current === undefined ? undefined : await configVersion(current.version);
    const { document, replaced } = app.configSecrets.sealIncoming(req.params.id, req.body.document, previous === undefined ? undefined : JSON.parse(previous.body) as unknown);
    const { body, sha256 } = canonicalConfig(document);
    // The version and its audit entry commit together; the pointers are announced only after.
    const doc = await store.updateConfigDoc(req.params.id, { body, sha256, at: clock.now(), by: req.admin!.id, ...(expected !== undefined ? { expectedVersion: expected } : {}) },
      (d) => [auditEntry(req, clock, 'config.update', d.id, { version: d.version, sha256, ...(expected !== undefined ? { expectedVersion: expected } : {}), ...(replaced.length > 0 ? { secretsSet: replaced } : {}) })]);
    const gen = ++generation;
    // The fan-out lists the terminals and publishes after this answer (FanoutQueue), not inside
    // the request; the answer counts them (the rollout summary's `terminals`).
    announce(`config ${doc.id} v${doc.version}`, gen, undefined, () => store.listEffectiveConfigs({ docId: doc.id }));
    reply.header('etag', `"${doc.version}"`);
    const view = await docView(doc);
    return { ...view, pushed: view.rollout.terminals };
  });

  app.get<{ Params: { id: string } }>('/api/v1/configs/:id/versions', { preHandler: viewers, schema: { tags: ['config'], summary: 'Versions of a document, newest first', params: { type: 'object', properties: { id: DocId } } } }, async (req) => {
    if ((await store.getConfigDoc(req.params.id)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${req.params.id}`);
    return { versions: await store.listConfigVersions(req.params.id) };
  });

  app.get<{ Params: { id: string; version: number } }>('/api/v1/configs/:id/versions/:version', {
    preHandler: viewers,
    schema: { tags: ['config'], summary: 'One version\'s document', params: { type: 'object', required: ['id', 'version'], properties: { id: DocId, version: { type: 'integer', minimum: 1 } } } },
  }, async (req) => {
    const v = await store.getConfigVersion(req.params.version);
    if (v === undefined || v.docId !== req.params.id) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${req.params.id} version ${req.params.version}`);
    return { version: v.version, docId: v.docId, sha256: v.sha256, createdAt: v.createdAt, createdBy: v.createdBy, document: maskConfigDocument(JSON.parse(v.body)) };
  });

  for (const scope of ['group', 'terminal'] as const) {
    const base = scope === 'group' ? '/api/v1/groups/:id/config' : '/api/v1/terminals/:id/config';
    app.put<{ Params: { id: string }; Body: { configId: string } }>(base, {
      preHandler: operators,
      schema: {
        tags: ['config'], summary: `Assign a configuration document to a ${scope} (${scope === 'terminal' ? 'overrides its group' : 'unless a terminal has its own'})`,
        params: { type: 'object', properties: { id: TargetId } },
        body: { type: 'object', additionalProperties: false, required: ['configId'], properties: { configId: DocId } },
      },
    }, async (req) => {
      await store.assignConfig({ scope, target: req.params.id, docId: req.body.configId },
        () => [auditEntry(req, clock, 'config.assign', `${scope}:${req.params.id}`, { configId: req.body.configId })]);
      return { scope, target: req.params.id, configId: req.body.configId, pushed: await pushAfterAssignment(scope, req.params.id) };
    });
    app.delete<{ Params: { id: string } }>(base, {
      preHandler: operators,
      schema: { tags: ['config'], summary: `Remove a ${scope}'s configuration assignment`, params: { type: 'object', properties: { id: TargetId } } },
    }, async (req, reply) => {
      if (!(await store.unassignConfig(scope, req.params.id, () => [auditEntry(req, clock, 'config.unassign', `${scope}:${req.params.id}`)]))) {
        throw new ServerError('SRV_ERR_NOT_FOUND', `no assignment for ${scope} ${req.params.id}`);
      }
      await pushAfterAssignment(scope, req.params.id);
      reply.code(204);
    });
  }

  app.get<{ Params: { id: string } }>('/api/v1/terminals/:id/config', {
    preHandler: viewers,
    schema: { tags: ['config'], summary: 'Desired vs reported configuration of a terminal', params: { type: 'object', properties: { id: TargetId } } },
  }, async (req) => {
    const t = await store.getTerminal(req.params.id);
    if (t === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `terminal ${req.params.id}`);
    const st = await store.getTerminalConfigState(t.id);
    const versions = (t.reported as { versions?: { config?: number } }).versions;
    return { ...st, birthVersion: versions?.config ?? null, inSync: st.desired !== null && st.appliedVersion === st.desired.version };
  });

  // ── terminal ────────────────────────────────────────────────────────────────────────────────

  app.get('/api/v1/terminal/config', {
    preHandler: app.requireTerminal(),
    schema: { tags: ['terminal'], summary: 'The caller\'s current configuration pointer `{v, version, sha256}` (204 when none is assigned)', security: [{ terminalBasic: [] }, { bearer: [] }] },
  }, async (req, reply) => {
    const [eff] = await store.listEffectiveConfigs({ terminalIds: [req.terminal!.id] });
    if (eff === undefined) return reply.code(204).send();
    return { v: 1, version: eff.version, sha256: eff.sha256 };
  });

  app.get<{ Params: { version: number } }>('/api/v1/terminal/config/:version', {
    preHandler: app.requireTerminal(),
    schema: { tags: ['terminal'], summary: 'A configuration document as its canonical JSON bytes (SHA-256 in `ETag`)', params: VersionParam, security: [{ terminalBasic: [] }, { bearer: [] }] },
  }, async (req, reply) => {
    const [eff] = await store.listEffectiveConfigs({ terminalIds: [req.terminal!.id] });
    const v = await configVersion(req.params.version);
    // Only versions of the caller's own effective document: no reading other groups' settings.
    if (eff === undefined || v === undefined || v.docId !== eff.docId) throw new ServerError('SRV_ERR_NOT_FOUND', `config version ${req.params.version}`);
    reply.header('etag', `"${v.sha256}"`).header('x-config-version', String(v.version)).header('cache-control', 'private, max-age=31536000, immutable').type('application/json; charset=utf-8');
    return reply.send(v.body);
  });

  // ── uplink ──────────────────────────────────────────────────────────────────────────────────

  // Status reports that arrive together (a fleet answering a push) share one commit; each
  // report's handler, and so its PUBACK, completes only after that commit.
  const recordStatus = groupCommit(
    async (recs: readonly ConfigStatusRecord[]) => { await store.recordConfigStatuses(recs); return recs.map(() => undefined); },
    (rec) => store.recordConfigStatus(rec),
    { max: STATUS_GROUP_MAX, onGroup: () => m.inc('onecard_config_status_commits_total') },
  );

  app.uplink.handle('config/status', async (terminalId, msg) => {
    m.inc('onecard_config_status_total', { status: msg.status });
    await recordStatus({
      terminalId, version: msg.version, status: msg.status, errorCode: msg.error?.code ?? null, errorMessage: msg.error?.message ?? null, at: clock.now(),
      ...(msg.changes === undefined ? {} : { changes: msg.changes }),
    });
    if (msg.status === 'rejected') app.log.warn({ terminalId, version: msg.version, code: msg.error?.code }, 'configuration rejected by terminal');
  });

  // Reconcile on (re)connect: the broker may have lost the retained pointer (restart), so a
  // terminal that reports another version gets it again. Births that arrive together (a fleet
  // reconnecting) are checked with one query, in the fan-out queue so a reconcile never lands
  // after, and undoes, a newer announcement.
  let births = new Map<string, number>();
  let birthsQueued = false;
  app.uplink.handle('birth', async (terminalId, msg) => {
    if (msg.accepts?.includes('config-body') === true) takesBody.add(terminalId);
    else takesBody.delete(terminalId);
    births.set(terminalId, msg.versions.config);
    if (birthsQueued) return;
    birthsQueued = true;
    fanout.enqueue({
      what: 'config birth reconcile',
      run: async () => {
        birthsQueued = false;
        const reported = births;
        births = new Map();
        const effs = await store.listEffectiveConfigs({ terminalIds: [...reported.keys()] });
        await pushPointers(effs.filter((e) => e.version !== reported.get(e.terminalId)));
      },
    });
  });
}

/** Not encapsulated, so `app.configFanout` is visible on the root instance (tests, shutdown). */
export default fp(configRoutes, { name: 'onecard-config', dependencies: ['onecard-broker', 'onecard-auth', 'onecard-config-secrets'] });
