/**
 * The fleet dashboard: serves the static web app in `server/dashboard` at `/` and `/dashboard/*`
 * (plain HTML, ES modules and CSS, no build step) and a live feed of fleet changes as server-sent
 * events at `GET /api/v1/live`. A browser's EventSource cannot send an Authorization header, so
 * the page first trades its admin token for a short-lived, single-use ticket at
 * `POST /api/v1/live/ticket` and opens `/api/v1/live?ticket=…`; the admin token never appears in a
 * URL. Other clients may call `/api/v1/live` with `Authorization: Bearer <token>` directly.
 *
 * The feed carries presence (birth, death, disconnect), telemetry health, counts of ingested
 * records by type (never their bodies: no personal data leaves through it), configuration
 * status, job progress, hotlist versions and disabled terminals. Changes are coalesced and
 * flushed to every subscriber a few times a second; a burst too large for one flush becomes a
 * `resync` event (the page reloads its lists), and a subscriber that stops reading is dropped.
 *
 * A stream lives only as long as its token: revoking the token closes its streams at once (the
 * `admin-token-revoked` bus event), and every heartbeat re-checks the tokens of open streams in
 * the store (a revocation made on another server). One token holds at most
 * {@link LIVE_MAX_PER_TOKEN} streams and {@link LIVE_MAX_TICKETS_PER_TOKEN} unused tickets, so no
 * single principal can take the {@link LIVE_MAX_SUBSCRIBERS} slots.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ServerError } from '../errors.ts';
import type { Role } from '../store/types.ts';

/** Where the static web app lives (server/dashboard). */
export const DASHBOARD_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dashboard');

/** Lifetime of a live-feed ticket. */
export const LIVE_TICKET_TTL_MS = 60_000;
/** How often pending changes are flushed to subscribers. */
export const LIVE_FLUSH_MS = 250;
/** Comment line sent this often so proxies keep the stream open. */
export const LIVE_HEARTBEAT_MS = 15_000;
/** Terminal changes per flush above which subscribers get one `resync` instead. */
export const LIVE_MAX_CHANGES_PER_FLUSH = 2_000;
/** Concurrent live subscribers; more are refused with 503. */
export const LIVE_MAX_SUBSCRIBERS = 200;
/** Concurrent live streams of one admin token; more are refused with 429. */
export const LIVE_MAX_PER_TOKEN = 4;
/** Unused tickets one admin token may hold; the oldest is dropped for a new one. */
export const LIVE_MAX_TICKETS_PER_TOKEN = 8;
/** Bytes buffered for one subscriber before it is considered stuck and dropped. */
export const LIVE_MAX_BUFFERED = 4 * 1024 * 1024;

/** Content-Security-Policy of the dashboard's own pages: same-origin only, no inline script. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface DashboardOptions {
  /** Directory of the static app (default {@link DASHBOARD_ROOT}). */
  readonly root?: string;
  /** Flush period of the live feed in ms (default {@link LIVE_FLUSH_MS}). */
  readonly flushMs?: number;
  /** Heartbeat period in ms (default {@link LIVE_HEARTBEAT_MS}). */
  readonly heartbeatMs?: number;
}

/** One message of the live feed: the SSE `event:` name and its JSON `data:`. */
export interface LiveMessage {
  readonly event: string;
  readonly data: unknown;
}

interface Ticket { readonly adminId: string; readonly role: Role; readonly expiresAt: number }

interface TerminalChange {
  id: string;
  online?: boolean;
  epoch?: number;
  at: number;
  versions?: unknown;
  readers?: unknown;
  health?: string;
  disabled?: boolean;
}

/**
 * Collects fleet changes between flushes and turns them into live messages: presence and health
 * per terminal (latest wins), record counts per terminal and type, and the rest in order.
 */
export class LiveHub {
  #terminals = new Map<string, TerminalChange>();
  #events = new Map<string, Map<string, number>>();
  #other: LiveMessage[] = [];
  #dropped = false;
  readonly #maxChanges: number;

  constructor(maxChanges = LIVE_MAX_CHANGES_PER_FLUSH) {
    this.#maxChanges = maxChanges;
  }

  terminal(change: TerminalChange): void {
    const prev = this.#terminals.get(change.id);
    if (prev === undefined && this.#terminals.size >= this.#maxChanges) {
      this.#dropped = true;
      return;
    }
    this.#terminals.set(change.id, { ...prev, ...change });
  }

  events(terminalId: string, types: readonly string[]): void {
    let m = this.#events.get(terminalId);
    if (m === undefined) {
      if (this.#events.size >= this.#maxChanges) {
        this.#dropped = true;
        return;
      }
      m = new Map();
      this.#events.set(terminalId, m);
    }
    for (const t of types) m.set(t, (m.get(t) ?? 0) + 1);
  }

  other(msg: LiveMessage): void {
    if (this.#other.length >= this.#maxChanges) {
      this.#dropped = true;
      return;
    }
    this.#other.push(msg);
  }

  /** Takes what accumulated since the last call (empty when nothing changed). */
  drain(now: number): LiveMessage[] {
    const out: LiveMessage[] = [];
    if (this.#dropped) {
      out.push({ event: 'resync', data: { at: now, reason: 'burst' } });
    } else {
      if (this.#terminals.size > 0) out.push({ event: 'terminals', data: { at: now, changes: [...this.#terminals.values()] } });
      if (this.#events.size > 0) {
        const batches = [...this.#events].map(([terminalId, m]) => ({ terminalId, count: [...m.values()].reduce((a, b) => a + b, 0), types: Object.fromEntries(m) }));
        out.push({ event: 'events', data: { at: now, total: batches.reduce((a, b) => a + b.count, 0), batches } });
      }
      out.push(...this.#other);
    }
    this.#terminals = new Map();
    this.#events = new Map();
    this.#other = [];
    this.#dropped = false;
    return out;
  }
}

/** Formats one SSE frame [HTML Living Standard §9.2.6 "Interpreting an event stream"]. */
export function sseFrame(msg: LiveMessage, id?: number): string {
  const data = JSON.stringify(msg.data);
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${msg.event.replace(/[\r\n]/g, '')}\ndata: ${data}\n\n`;
}

interface Subscriber { readonly reply: FastifyReply; readonly adminId: string }

/**
 * Registers the dashboard. Encapsulated (not wrapped with fastify-plugin) so its static-file
 * decorators and security headers stay inside; it uses the root's `uplink`, `fleet`,
 * `terminalEpochs`, `requireRole` and `audit`.
 * Errors answered: `SRV_ERR_UNAUTHENTICATED` (unknown, used or expired ticket),
 * `SRV_ERR_RATE_LIMITED` (too many subscribers, as 503 body code), plus those of `requireRole`.
 */
export default async function dashboardPlugin(app: FastifyInstance, opts: DashboardOptions = {}): Promise<void> {
  const root = opts.root ?? DASHBOARD_ROOT;
  if (!existsSync(join(root, 'index.html'))) throw new ServerError('SRV_ERR_CONFIG', `dashboard files not found in ${root}`);
  const { clock, store } = app.ctx;
  const tickets = new Map<string, Ticket>();
  const subscribers = new Set<Subscriber>();
  const hub = new LiveHub();
  let seq = 0;

  // Security headers on everything this plugin serves.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP);
    return payload;
  });

  await app.register(fastifyStatic, { root, prefix: '/dashboard/', index: ['index.html'], redirect: true, cacheControl: true, maxAge: 0, etag: true, lastModified: true });
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));

  // ── tickets ─────────────────────────────────────────────────────────────────────────────────
  const sweep = (now: number): void => {
    for (const [k, t] of tickets) if (t.expiresAt <= now) tickets.delete(k);
  };

  app.post('/api/v1/live/ticket', {
    preHandler: app.requireRole('viewer', 'operator', 'key-custodian'),
    schema: {
      tags: ['dashboard'],
      summary: 'Trade the admin token for a single-use ticket (60 s) to open the live feed; also tells the caller its role',
      response: { 200: { type: 'object', properties: { ticket: { type: 'string' }, expiresAt: { type: 'integer' }, role: { type: 'string' }, name: { type: 'string' }, tokenId: { type: 'string' } } } },
    },
  }, async (req) => {
    const now = clock.now();
    sweep(now);
    const admin = req.admin!;
    const mine = [...tickets].filter(([, t]) => t.adminId === admin.id);
    for (const [k] of mine.slice(0, Math.max(0, mine.length - LIVE_MAX_TICKETS_PER_TOKEN + 1))) tickets.delete(k);
    const ticket = `olt_${randomBytes(32).toString('base64url')}`;
    const expiresAt = now + LIVE_TICKET_TTL_MS;
    tickets.set(ticket, { adminId: admin.id, role: admin.role, expiresAt });
    return { ticket, expiresAt, role: admin.role, name: admin.name, tokenId: admin.id };
  });

  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');
  const authLive = async (req: FastifyRequest<{ Querystring: { ticket?: string } }>, reply: FastifyReply): Promise<void> => {
    const raw = req.query.ticket;
    if (raw === undefined) {
      await viewers.call(app, req, reply);
      return;
    }
    const t = tickets.get(raw);
    tickets.delete(raw);
    if (t === undefined || t.expiresAt <= clock.now()) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'unknown, used or expired live ticket');
    // The token may have been revoked since the ticket was issued.
    const tokens = await store.listAdminTokens();
    const rec = tokens.find((x) => x.id === t.adminId);
    if (rec === undefined || rec.revokedAt !== null) throw new ServerError('SRV_ERR_UNAUTHENTICATED', 'token revoked');
    req.admin = rec;
  };

  // ── live feed ───────────────────────────────────────────────────────────────────────────────
  app.get<{ Querystring: { ticket?: string } }>('/api/v1/live', {
    preHandler: authLive,
    schema: {
      tags: ['dashboard'],
      summary: 'Server-sent events: `hello`, `terminals` (presence/health), `events` (counts by type, no bodies), `quarantine` (unstorable records), `config-status`, `jobs`, `hotlist`, `stats`, `resync`, `revoked` (then the stream ends)',
      querystring: { type: 'object', additionalProperties: false, properties: { ticket: { type: 'string', pattern: '^olt_[A-Za-z0-9_-]{43}$' } } },
    },
  }, async (req, reply) => {
    if (subscribers.size >= LIVE_MAX_SUBSCRIBERS) {
      return reply.code(503).send({ error: { code: 'SRV_ERR_RATE_LIMITED', message: 'too many live subscribers' } });
    }
    let own = 0;
    for (const s of subscribers) if (s.adminId === req.admin!.id) own++;
    if (own >= LIVE_MAX_PER_TOKEN) {
      return reply.code(429).send({ error: { code: 'SRV_ERR_RATE_LIMITED', message: `at most ${LIVE_MAX_PER_TOKEN} live streams per token` } });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    const sub: Subscriber = { reply, adminId: req.admin!.id };
    subscribers.add(sub);
    res.write(`retry: 3000\n${sseFrame({ event: 'hello', data: { at: clock.now(), role: req.admin!.role, online: app.terminalEpochs.size } }, ++seq)}`);
    const done = (): void => { subscribers.delete(sub); };
    req.raw.on('close', done);
    res.on('close', done);
    res.on('error', done);
  });

  const broadcast = (text: string): void => {
    for (const s of subscribers) {
      const res = s.reply.raw;
      if (res.destroyed || res.writableEnded) { subscribers.delete(s); continue; }
      if (res.writableLength > LIVE_MAX_BUFFERED) { subscribers.delete(s); res.destroy(); continue; }
      res.write(text);
    }
  };
  const flush = (): void => {
    const msgs = hub.drain(clock.now());
    if (msgs.length === 0 || subscribers.size === 0) return;
    broadcast(msgs.map((m) => sseFrame(m, ++seq)).join(''));
  };
  const flushTimer = setInterval(flush, opts.flushMs ?? LIVE_FLUSH_MS);
  flushTimer.unref();
  /** Ends every stream of `adminId` (its token was revoked). */
  const closeStreamsOf = (adminId: string): void => {
    for (const s of subscribers) {
      if (s.adminId !== adminId) continue;
      subscribers.delete(s);
      const res = s.reply.raw;
      if (!res.destroyed && !res.writableEnded) res.end(sseFrame({ event: 'revoked', data: { at: clock.now() } }, ++seq));
    }
    for (const [k, t] of tickets) if (t.adminId === adminId) tickets.delete(k);
  };
  /** Closes streams whose token is no longer active in the store (revoked on any server). */
  const recheckTokens = async (): Promise<void> => {
    if (subscribers.size === 0) return;
    const active = new Set((await store.listAdminTokens()).filter((x) => x.revokedAt === null).map((x) => x.id));
    for (const id of new Set([...subscribers].map((s) => s.adminId))) if (!active.has(id)) closeStreamsOf(id);
  };
  const heartbeat = setInterval(() => {
    if (subscribers.size === 0) return;
    recheckTokens().catch((err: unknown) => app.log.error({ err }, 'live token re-check failed'));
    broadcast(`: keep-alive\n${sseFrame({ event: 'stats', data: { at: clock.now(), online: app.terminalEpochs.size, subscribers: subscribers.size } }, ++seq)}`);
  }, opts.heartbeatMs ?? LIVE_HEARTBEAT_MS);
  heartbeat.unref();

  // ── sources ─────────────────────────────────────────────────────────────────────────────────
  const up = app.uplink;
  up.on('birth', (id, msg) => hub.terminal({ id, online: true, epoch: msg.epoch, at: clock.now(), versions: msg.versions, readers: msg.readers }));
  up.on('death', (id, msg) => hub.terminal({ id, online: false, epoch: msg.epoch, at: clock.now() }));
  up.on('disconnect', (id, epoch) => hub.terminal({ id, online: false, epoch, at: clock.now() }));
  up.on('tele', (id, msg) => hub.terminal({ id, at: clock.now(), health: msg.health, readers: msg.readers }));
  up.on('events', (id, msg) => hub.events(id, msg.records.map((r) => r.type)));
  up.on('config/status', (id, msg) => hub.other({ event: 'config-status', data: { terminalId: id, version: msg.version, status: msg.status, errorCode: msg.error?.code ?? null, at: clock.now() } }));
  up.on('jobs', (id, msg, jobId) => hub.other({ event: 'jobs', data: { terminalId: id, jobId, status: msg.status, step: msg.step ?? null, errorCode: msg.error?.code ?? null, at: clock.now() } }));
  const onHotlist = (version: number): void => hub.other({ event: 'hotlist', data: { version, at: clock.now() } });
  const onDisabled = (id: string): void => hub.terminal({ id, disabled: true, online: false, at: clock.now() });
  const onQuarantine = (terminalId: string, count: number, reasons: readonly string[]): void => hub.other({ event: 'quarantine', data: { terminalId, count, reasons, at: clock.now() } });
  app.fleet.on('hotlist-changed', onHotlist);
  app.fleet.on('terminal-disabled', onDisabled);
  app.fleet.on('admin-token-revoked', closeStreamsOf);
  app.fleet.on('events-quarantined', onQuarantine);

  // Streams end before the HTTP server closes (it would otherwise wait for them).
  app.addHook('preClose', async () => {
    clearInterval(flushTimer);
    clearInterval(heartbeat);
    for (const s of subscribers) s.reply.raw.end();
    subscribers.clear();
    tickets.clear();
  });
  app.addHook('onClose', async () => {
    app.fleet.off('hotlist-changed', onHotlist);
    app.fleet.off('terminal-disabled', onDisabled);
    app.fleet.off('admin-token-revoked', closeStreamsOf);
    app.fleet.off('events-quarantined', onQuarantine);
  });
}
