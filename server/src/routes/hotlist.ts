/**
 * The card hotlist (lost, stolen or cancelled cards). Admins report and cancel cards; terminals
 * report losses after a PIN-verified request at a kiosk (an `up/events` record of type
 * `card.loss-report`, applied by the ingest plugin in the same transaction as the event). Every
 * change bumps the hotlist version and is audited in the same store transaction (the change and
 * its audit entries commit together or not at all), and is announced only after that commit,
 * once: a retry of a report that was already applied changes nothing and announces nothing, and a
 * report whose transaction failed left nothing behind to announce. The current version is announced with ONE
 * retained pointer `{v, version}` on `fleet/broadcast/hotlist` that every terminal subscribes to
 * (one publish for the whole fleet, re-published at start-up because the embedded broker keeps
 * retained messages in memory), preceded by the change itself since the previous announcement —
 * ONE retained `fleet/broadcast/hotlist/delta` `{v, fromVersion, version, add, remove}` when it
 * holds at most `HOTLIST_DELTA_MAX_CARDS` cards — so a terminal at `fromVersion` applies it without
 * any request. Other terminals fetch `GET /api/v1/terminal/hotlist?since=N`: a delta of
 * set operations, or the full sorted snapshot when N is unknown or too old, as JSON or as compact
 * text, gzip-compressed when they accept it.
 */
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HOTLIST_DELTA_MAX_CARDS, HOTLIST_DELTA_TOPIC, HOTLIST_POINTER_TOPIC, encodeFleetMessage } from '@onecard/protocol/fleet';
import { ServerError } from '../errors.ts';
import type { HotlistDelta } from '../store/types.ts';
import { auditEntry } from './admin.ts';

/** The single retained hotlist pointer every terminal subscribes to (under `fleet/broadcast/#`). */
export const HOTLIST_BROADCAST_TOPIC = HOTLIST_POINTER_TOPIC;
/** Social security card number (卡号): 9 characters, digits and capital letters [SPEC SC-IF §10.4]. */
export const CARD_NUMBER_PATTERN = '^[0-9A-Z]{9}$';
const CARD_NUMBER_RE = new RegExp(CARD_NUMBER_PATTERN);

export function isCardNumber(s: unknown): s is string {
  return typeof s === 'string' && CARD_NUMBER_RE.test(s);
}

/** Text form: a header line, then one card per line (full) or `+card` / `-card` (delta). */
export function hotlistText(d: HotlistDelta): string {
  if (d.kind === 'full') return `onecard-hotlist 1 full ${d.version} ${d.cards.length}\n${d.cards.map((c) => `${c}\n`).join('')}`;
  return `onecard-hotlist 1 delta ${d.fromVersion} ${d.version} ${d.add.length} ${d.remove.length}\n${d.add.map((c) => `+${c}\n`).join('')}${d.remove.map((c) => `-${c}\n`).join('')}`;
}

/** Sends `body`, gzip-compressed when the client accepts gzip and the body is worth it. */
export function sendMaybeGzip(req: FastifyRequest, reply: FastifyReply, body: string, type: string): FastifyReply {
  reply.type(type).header('vary', 'accept-encoding');
  const accept = req.headers['accept-encoding'];
  if (typeof accept === 'string' && /(^|,)\s*gzip(\s*;\s*q=(?!0(\.0*)?\s*(,|$))[0-9.]+)?\s*(,|$)/.test(accept) && body.length > 256) {
    return reply.header('content-encoding', 'gzip').send(gzipSync(Buffer.from(body, 'utf8')));
  }
  return reply.send(body);
}

/** Largest delta (cards added + removed) kept for the fleet's identical requests. */
const DELTA_CACHE_MAX_CARDS = 100_000;

const Cards = { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', pattern: CARD_NUMBER_PATTERN } } as const;

export default async function hotlistRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;

  /**
   * Delta answers by base and target version. A delta from one version to another never changes,
   * so after a change the whole fleet asking `since=N` (terminals not at the broadcast change's
   * base, terminals that predate it) costs one store read of the change log instead of one per
   * terminal; each request reads only the current version. Full snapshots are not kept.
   */
  const deltas = new Map<string, HotlistDelta>();
  const hotlistSince = async (since: number | undefined): Promise<HotlistDelta> => {
    if (since === undefined) return store.hotlistSince(undefined);
    const hit = deltas.get(`${since}:${await store.hotlistVersion()}`);
    if (hit !== undefined) return hit;
    const d = await store.hotlistSince(since);
    if (d.kind === 'delta' && d.add.length + d.remove.length <= DELTA_CACHE_MAX_CARDS) {
      if (deltas.size >= 64) deltas.clear();
      deltas.set(`${since}:${d.version}`, d);
    }
    return d;
  };

  /** The version the last announcement carried (undefined before the start-up one). */
  let announced: number | undefined;
  /** Announcements run one at a time, in the order of their commits. */
  let chain: Promise<void> = Promise.resolve();
  const announce = async (version: number): Promise<void> => {
    let pointer = version;
    if (announced !== undefined && version > announced) {
      // The change since the previous announcement, read once for the whole fleet.
      const d = await hotlistSince(announced);
      if (d.kind === 'delta' && d.version > d.fromVersion && d.add.length + d.remove.length <= HOTLIST_DELTA_MAX_CARDS) {
        await app.publishDown(HOTLIST_DELTA_TOPIC, encodeFleetMessage('hotlist/delta', { v: 1, fromVersion: d.fromVersion, version: d.version, add: [...d.add], remove: [...d.remove] }), true);
      }
      pointer = Math.max(version, d.version);
    }
    // A late announcement never takes the retained pointer back to an older version.
    pointer = Math.max(pointer, announced ?? 0);
    await app.publishDown(HOTLIST_BROADCAST_TOPIC, encodeFleetMessage('hotlist', { v: 1, version: pointer }), true);
    announced = pointer;
  };
  const queue = (version: number): Promise<void> => {
    const run = chain.then(() => announce(version));
    chain = run.catch((err: unknown) => app.log.error({ err }, 'hotlist announcement failed'));
    return run;
  };
  app.fleet.on('hotlist-changed', (version) => { void queue(version).catch(() => undefined); });
  app.addHook('onReady', async () => {
    await queue(await store.hotlistVersion());
  });
  app.addHook('onClose', async () => { await chain; });

  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');
  const operators = app.requireRole('operator');

  app.post<{ Body: { cardNumbers: string[]; reason: string } }>('/api/v1/hotlist/report', {
    preHandler: operators,
    schema: {
      tags: ['hotlist'], summary: 'Report cards lost (one new hotlist version for the whole request)',
      body: { type: 'object', additionalProperties: false, required: ['cardNumbers', 'reason'], properties: { cardNumbers: Cards, reason: { type: 'string', minLength: 1, maxLength: 256 } } },
    },
  }, async (req) => {
    // Cards in the registry change through their lifecycle there (the hotlist follows in that commit).
    const reg = await app.cardRegistry?.hotlistRequest(req.body.cardNumbers, 'report', `admin:${req.admin!.id}`, req.body.reason,
      (c, version, from, to) => (version === null ? [] : [auditEntry(req, clock, 'hotlist.report', c, { version, reason: req.body.reason, source: 'admin', registry: { from, to } })]));
    const r = await store.hotlistAdd((reg?.others ?? req.body.cardNumbers).map((c) => ({ cardNumber: c, reportedBy: req.admin!.id, source: 'admin' as const, reason: req.body.reason })), clock.now(),
      (res) => res.changed.map((c) => auditEntry(req, clock, 'hotlist.report', c, { version: res.version, reason: req.body.reason, source: 'admin' })));
    // Committed with its audit entries: announce the new version (only a real change has one).
    const version = Math.max(r.version, ...(reg?.versions ?? []));
    if (r.changed.length > 0 || (reg?.versions.length ?? 0) > 0) app.fleet.emit('hotlist-changed', version);
    const added = new Set([...r.changed, ...(reg?.changed ?? [])]);
    return { version, added: req.body.cardNumbers.filter((c) => added.has(c)), alreadyListed: req.body.cardNumbers.filter((c) => !added.has(c)) };
  });

  app.post<{ Body: { cardNumbers: string[]; reason: string } }>('/api/v1/hotlist/cancel', {
    preHandler: operators,
    schema: {
      tags: ['hotlist'], summary: 'Cancel loss reports: the cards are accepted again (one new version)',
      body: { type: 'object', additionalProperties: false, required: ['cardNumbers', 'reason'], properties: { cardNumbers: Cards, reason: { type: 'string', minLength: 1, maxLength: 256 } } },
    },
  }, async (req) => {
    // A registry card is cancelled through its lifecycle: a replaced or cancelled card stays listed (refused).
    const reg = await app.cardRegistry?.hotlistRequest(req.body.cardNumbers, 'cancel', `admin:${req.admin!.id}`, req.body.reason,
      (c, version, from, to) => (version === null ? [] : [auditEntry(req, clock, 'hotlist.cancel', c, { version, reason: req.body.reason, registry: { from, to } })]));
    const r = await store.hotlistRemove(reg?.others ?? req.body.cardNumbers, clock.now(), req.admin!.id,
      (res) => res.changed.map((c) => auditEntry(req, clock, 'hotlist.cancel', c, { version: res.version, reason: req.body.reason })));
    const version = Math.max(r.version, ...(reg?.versions ?? []));
    if (r.changed.length > 0 || (reg?.versions.length ?? 0) > 0) app.fleet.emit('hotlist-changed', version);
    const removed = new Set([...r.changed, ...(reg?.changed ?? [])]);
    const refused = new Set(reg?.refused.map((x) => x.cardNumber) ?? []);
    return {
      version, removed: req.body.cardNumbers.filter((c) => removed.has(c)), notListed: req.body.cardNumbers.filter((c) => !removed.has(c) && !refused.has(c)),
      ...(refused.size > 0 ? { refused: reg!.refused } : {}),
    };
  });

  app.get<{ Querystring: { prefix?: string; after?: string; limit?: number } }>('/api/v1/hotlist', {
    preHandler: viewers,
    schema: {
      tags: ['hotlist'], summary: 'Listed cards by card number; search by `prefix`, page with `after`',
      querystring: { type: 'object', additionalProperties: false, properties: { prefix: { type: 'string', pattern: '^[0-9A-Z]{1,9}$' }, after: { type: 'string', pattern: CARD_NUMBER_PATTERN }, limit: { type: 'integer', minimum: 1, maximum: 10000 } } },
    },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const entries = await store.listHotlist({ limit, ...(req.query.prefix !== undefined ? { prefix: req.query.prefix } : {}), ...(req.query.after !== undefined ? { afterCard: req.query.after } : {}) });
    return { version: await store.hotlistVersion(), entries, next: entries.length === limit ? entries[entries.length - 1]!.cardNumber : null };
  });

  app.get<{ Params: { card: string } }>('/api/v1/hotlist/:card', {
    preHandler: viewers,
    schema: { tags: ['hotlist'], summary: 'Is this card listed? (404 when not)', params: { type: 'object', properties: { card: { type: 'string', pattern: CARD_NUMBER_PATTERN } } } },
  }, async (req) => {
    const e = await store.getHotlistEntry(req.params.card);
    if (e === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card not listed');
    return e;
  });

  app.get<{ Querystring: { since?: number; format?: 'json' | 'text' } }>('/api/v1/terminal/hotlist', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'Hotlist delta since `since`, or the full snapshot (JSON or text; gzip with Accept-Encoding)',
      security: [{ terminalBasic: [] }, { bearer: [] }],
      querystring: { type: 'object', additionalProperties: false, properties: { since: { type: 'integer', minimum: 0 }, format: { type: 'string', enum: ['json', 'text'] } } },
    },
  }, async (req, reply) => {
    const d = await hotlistSince(req.query.since);
    reply.header('x-hotlist-version', String(d.version)).header('x-hotlist-kind', d.kind).header('cache-control', 'no-store');
    if (req.query.format === 'text') return sendMaybeGzip(req, reply, hotlistText(d), 'text/plain; charset=utf-8');
    return sendMaybeGzip(req, reply, JSON.stringify({ v: 1, ...d }), 'application/json; charset=utf-8');
  });
}
