/**
 * The card registry plugin: builds the {@link RegistryService} from the server's master key
 * (without one the registry and data sharing answer `SRV_ERR_REGISTRY_NO_MASTER_KEY` and the
 * hotlist works as before), exposes it as `app.cardRegistry` for the hotlist and ingest paths, and
 * mounts the admin API (`/api/v1/registry/...`: streaming import with progress, single updates,
 * lifecycle events, masked views with an audited reveal for admins, history, the holder's data
 * tracker) and the departments' interface (`sharing/plugin.ts`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServerError } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { auditEntry } from '../routes/admin.ts';
import { roleAllowed } from '../plugins/auth.ts';
import { CARD_EVENT_TYPES, cardNumberProblem, regionCodes, validateCard, type CardEvent, type RegionCodes } from './model.ts';
import { PiiCipher } from './pii.ts';
import { RegistryService, type ImportReport } from './service.ts';
import sharingPlugin from '../sharing/plugin.ts';
import { accessView, trackerOf } from './tracker.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The card registry, when the server has a master key (else undefined: plain hotlist). */
    cardRegistry?: RegistryService;
  }
}

export interface RegistryPluginOptions {
  readonly masterKey?: Uint8Array | undefined;
  /** Region codes accepted on import (default: any GB/T 2260-shaped code under a known province). */
  readonly regions?: RegionCodes;
  /** Access-token lifetime for departments (seconds, default 300). */
  readonly tokenTtlSeconds?: number;
}

/** Imports kept for progress queries. */
const IMPORTS_KEPT = 20;
const CardParam = { type: 'object', required: ['card'], properties: { card: { type: 'string', pattern: '^[0-9A-Z]{9}$' } } } as const;

async function registryPlugin(app: FastifyInstance, opts: RegistryPluginOptions): Promise<void> {
  const { store, clock } = app.ctx;
  const service = opts.masterKey === undefined ? undefined
    : new RegistryService({ store: store.registry, cipher: new PiiCipher(opts.masterKey), regions: opts.regions ?? regionCodes(), clock });
  if (service !== undefined) {
    app.decorate('cardRegistry', service);
    // A crash between a terminal record's commit and the registry following it leaves them apart: mend at start-up.
    app.addHook('onReady', async () => {
      const r = await service.reconcile();
      if (r.followed.length + r.restored.length > 0) app.log.warn({ followed: r.followed.length, restored: r.restored.length }, 'registry and hotlist reconciled at start-up');
      if (r.hotlistVersion !== null) app.fleet.emit('hotlist-changed', r.hotlistVersion);
    });
  }
  const need = (): RegistryService => {
    if (service === undefined) throw new ServerError('SRV_ERR_REGISTRY_NO_MASTER_KEY');
    return service;
  };
  app.metrics?.define('onecard_registry_import_rows_total', 'counter', 'Registry import rows by outcome');
  app.metrics?.define('onecard_registry_events_total', 'counter', 'Registry lifecycle events by event and result');

  await app.register(async (r) => {
    const viewers = app.requireRole('viewer', 'operator', 'key-custodian');
    const operators = app.requireRole('operator');
    const imports = new Map<string, ImportReport>();
    const keep = (rep: ImportReport): void => {
      imports.set(rep.id, rep);
      while (imports.size > IMPORTS_KEPT) imports.delete(imports.keys().next().value!);
    };

    // Import bodies are streamed to the importer line by line, never buffered whole.
    r.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/jsonl'], (_req, payload, done) => done(null, payload));

    r.post<{ Querystring: { format?: 'csv' | 'jsonl' } }>('/api/v1/registry/import', {
      preHandler: operators,
      schema: {
        tags: ['registry'], summary: 'Bulk import from the card management system (CSV with a header, or JSON lines); idempotent; report of refused rows',
        description: 'Body `text/csv` (header: cardNumber,idNumber,name,region,generation,issuedOn,expiresOn[,status]) or `application/x-ndjson` (one object per line, same fields). Rows are validated (GB 11643 check character, card-number check character, region codes, dates), sealed and written in batches; progress at `GET /api/v1/registry/imports/{id}`.',
        querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['csv', 'jsonl'] } } },
      },
    }, async (req) => {
      const svc = need();
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const format = req.query.format ?? (type === 'text/csv' ? 'csv' : type === 'application/x-ndjson' || type === 'application/jsonl' ? 'jsonl' : undefined);
      if (format === undefined || typeof (req.body as { pipe?: unknown } | null)?.pipe !== 'function') throw new ServerError('SRV_ERR_REGISTRY_IMPORT_FORMAT', 'send text/csv or application/x-ndjson');
      const id = newId('imp_');
      let last = 0;
      const rep = await svc.import(id, format, req.body as NodeJS.ReadableStream as import('node:stream').Readable, `import:${id}`, (p) => {
        keep(p);
        if (p.rows - last >= 100_000) { last = p.rows; req.log.info({ importId: id, rows: p.rows, refused: p.refusedCount }, 'registry import progress'); }
      }, (v) => app.fleet.emit('hotlist-changed', v));
      for (const k of ['created', 'updated', 'unchanged'] as const) app.metrics?.inc('onecard_registry_import_rows_total', { outcome: k }, rep[k]);
      app.metrics?.inc('onecard_registry_import_rows_total', { outcome: 'refused' }, rep.refusedCount);
      await store.appendAudit(auditEntry(req, clock, 'registry.import', id, { format, rows: rep.rows, created: rep.created, updated: rep.updated, unchanged: rep.unchanged, refused: rep.refusedCount }));
      return rep;
    });

    r.get<{ Params: { id: string } }>('/api/v1/registry/imports/:id', {
      preHandler: viewers,
      schema: { tags: ['registry'], summary: 'Progress and report of a recent import', params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } },
    }, async (req) => {
      const rep = imports.get(req.params.id);
      if (rep === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such recent import');
      return rep;
    });

    r.put<{ Params: { card: string }; Body: Record<string, unknown> }>('/api/v1/registry/cards/:card', {
      preHandler: operators,
      schema: {
        tags: ['registry'], summary: 'Create or update one card (incremental update); the status of an existing card changes only through events',
        params: CardParam,
        body: {
          type: 'object', additionalProperties: false, required: ['idNumber', 'name', 'region', 'generation', 'issuedOn', 'expiresOn'],
          properties: { idNumber: { type: 'string', maxLength: 32 }, name: { type: 'string', maxLength: 128 }, region: { type: 'string', maxLength: 6 }, generation: { type: 'string', enum: ['1.0', '2.0', '3.0'] }, issuedOn: { type: 'string', maxLength: 10 }, expiresOn: { type: 'string', maxLength: 10 }, status: { type: 'string', enum: ['issued', 'active'] } },
        },
      },
    }, async (req) => {
      const svc = need();
      const v = validateCard({ ...req.body, cardNumber: req.params.card }, svc.regions);
      if (!v.ok) throw new ServerError('SRV_ERR_REGISTRY_INVALID_CARD', v.problems.map((p) => `${p.field}: ${p.reason}`).join('; '), { problems: v.problems });
      const actor = `admin:${req.admin!.id}`;
      const { outcomes } = await svc.upsert([v.card], actor);
      if (outcomes[0] !== 'unchanged') await store.appendAudit(auditEntry(req, clock, `registry.${outcomes[0]!}`, req.params.card));
      const card = await svc.store.getCard(req.params.card);
      return { outcome: outcomes[0], card: svc.view(card!, false) };
    });

    r.post<{ Params: { card: string }; Body: { type: CardEvent['type']; replacedBy?: string; reason?: string } }>('/api/v1/registry/cards/:card/events', {
      preHandler: operators,
      schema: {
        tags: ['registry'], summary: 'A lifecycle event: activate, report-loss, cancel-loss, replace (by card N), cancel; the hotlist follows in the same commit',
        params: CardParam,
        body: { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { type: 'string', enum: [...CARD_EVENT_TYPES] }, replacedBy: { type: 'string', pattern: '^[0-9A-Z]{9}$' }, reason: { type: 'string', maxLength: 256 } } },
      },
    }, async (req) => {
      const svc = need();
      const b = req.body;
      if (b.type === 'replace' && (b.replacedBy === undefined || cardNumberProblem(b.replacedBy) !== undefined || b.replacedBy === req.params.card)) throw new ServerError('SRV_ERR_REGISTRY_INVALID_CARD', 'replace needs replacedBy, another valid card number', { field: 'replacedBy' });
      const event: CardEvent = b.type === 'replace' ? { type: 'replace', replacedBy: b.replacedBy! } : { type: b.type };
      try {
        const res = await svc.apply(req.params.card, event, `admin:${req.admin!.id}`, b.reason !== undefined ? { reason: b.reason } : {},
          (x) => [auditEntry(req, clock, `registry.${event.type}`, req.params.card, { from: x.from, to: x.to, hotlistVersion: x.hotlistVersion })]);
        if (res.hotlistVersion !== null) app.fleet.emit('hotlist-changed', res.hotlistVersion);
        app.metrics?.inc('onecard_registry_events_total', { event: event.type, result: res.changed ? 'changed' : 'unchanged' });
        return { changed: res.changed, card: svc.view(res.card, false), hotlistVersion: res.hotlistVersion };
      } catch (e) {
        app.metrics?.inc('onecard_registry_events_total', { event: event.type, result: 'refused' });
        throw e;
      }
    });

    r.get<{ Params: { card: string }; Querystring: { reveal?: boolean } }>('/api/v1/registry/cards/:card', {
      preHandler: viewers,
      schema: {
        tags: ['registry'], summary: 'A card with its holder masked; `reveal=true` (admin role only, audited) shows the plain ID number and name',
        params: CardParam, querystring: { type: 'object', additionalProperties: false, properties: { reveal: { type: 'boolean' } } },
      },
    }, async (req) => {
      const svc = need();
      const c = await svc.store.getCard(req.params.card);
      if (c === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
      const reveal = req.query.reveal === true;
      if (reveal) {
        if (!roleAllowed(req.admin!.role, [])) throw new ServerError('SRV_ERR_FORBIDDEN', 'only the admin role may reveal personal data', { role: req.admin!.role });
        await store.appendAudit(auditEntry(req, clock, 'registry.reveal', req.params.card));
      }
      return svc.view(c, reveal);
    });

    r.get<{ Params: { card: string } }>('/api/v1/registry/cards/:card/history', {
      preHandler: viewers,
      schema: { tags: ['registry'], summary: 'Every change of a card: who, when, from which status to which', params: CardParam },
    }, async (req) => {
      const svc = need();
      if ((await svc.store.getCard(req.params.card)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
      return { history: await svc.store.cardHistory(req.params.card) };
    });

    r.get<{ Params: { card: string }; Querystring: { limit?: number; before?: number } }>('/api/v1/registry/cards/:card/accesses', {
      preHandler: viewers,
      schema: {
        tags: ['registry'], summary: 'The holder\'s data tracker: every access by a department to the data of this card\'s holder (department, purpose, call, fields released, outcome, when), and their consents',
        params: CardParam, querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 }, before: { type: 'integer', minimum: 1 } } },
      },
    }, async (req) => {
      const svc = need();
      const c = await svc.store.getCard(req.params.card);
      if (c === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry');
      return trackerOf(svc, c.idHash, req.query.limit ?? 100, req.query.before);
    });

    r.get<{ Querystring: { department?: string; limit?: number; before?: number } }>('/api/v1/registry/accesses', {
      preHandler: viewers,
      schema: {
        tags: ['registry'], summary: 'Accesses by departments, newest first (card numbers only; no personal data)',
        querystring: { type: 'object', additionalProperties: false, properties: { department: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, before: { type: 'integer', minimum: 1 } } },
      },
    }, async (req) => {
      const svc = need();
      const list = await svc.store.listAccesses({ limit: req.query.limit ?? 100, ...(req.query.department !== undefined ? { departmentId: req.query.department } : {}), ...(req.query.before !== undefined ? { beforeId: req.query.before } : {}) });
      return { accesses: list.map(accessView) };
    });
  });

  await app.register(sharingPlugin, { need, tokenTtlSeconds: opts.tokenTtlSeconds ?? 300 });
}

export type NeedRegistry = () => RegistryService;
export type { FastifyRequest };

export default fp(registryPlugin, { name: 'onecard-registry', dependencies: ['onecard-auth'] });
