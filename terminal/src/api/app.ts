/**
 * The terminal's local API for kiosk front-ends and hospital systems (HIS): HTTP + WebSocket on
 * 127.0.0.1. {@link buildLocalApi} builds the Fastify instance and never listens (the runtime
 * does). Access rule, checked before any route runs: the peer must be loopback or on the client
 * allow-list; `Host` must be a localhost name or an allowed host (DNS rebinding); an `Origin`, when
 * sent, must be the API's own origin or an allowed one; and then every request and every WebSocket
 * needs a credential — the token (HIS, scripts, launchers) or the session cookie of a page the
 * terminal serves (`sessions.ts`), used from that page's own origin. `Origin` is never a
 * credential. Only `/health`, `/docs` and `/session/start` (which trades a launch code) are open.
 * Routes are listed in docs/local-api.md.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { toHex } from '@onecard/protocol/bytes';
import { encodeNationalString } from '@onecard/protocol/ssc';
import { TerminalError } from '../errors.ts';
import * as realServices from '../services/index.ts';
import type { Hotlist, PurchaseJournal } from '../services/index.ts';
import type { EcardIdentity, EcardVerifier } from '../ecard/index.ts';
import type { CardAccess } from './card-access.ts';
import { toHttpError } from './http-errors.ts';
import { PAGE_NAME, SESSION_COOKIE, SessionStore } from './sessions.ts';
import { apiTokenProblem, sameToken } from './token-policy.ts';
import { registerScreens, type ScreenPage } from './screens.ts';
import { registerCardServices } from './card-services.ts';
import { registerStaff, staffOf, type CheckStaff } from './staff.ts';
import type { PinEntry, PinEntryProgress } from '../pinpad/index.ts';
import { registerLogin, type LocalApiLogin } from './login.ts';
import { registerVenue } from './venue.ts';
import type { VenueGate } from '../services/venue.ts';
import { registerLibrary, type LocalApiLibrary } from './library.ts';
import { registerHolder } from './holder.ts';
import { registerIssuance, type IssuanceApiOptions } from './issuance.ts';
import type { HolderServerLink } from '../services/holder-link.ts';

/** The card services the API calls (the real ones by default; tests may wrap them). */
export interface LocalApiServices {
  readonly readBasicInfo: typeof realServices.readBasicInfo;
  readonly pinStatus: typeof realServices.pinStatus;
  readonly verifyPin: typeof realServices.verifyPin;
  readonly changePin: typeof realServices.changePin;
  readonly purchase: typeof realServices.purchase;
}

/** A desk PIN service as the fleet journals it (`card-services.ts`). */
export interface DeskActionRecord {
  readonly type: 'pin.unblock' | 'pin.reload';
  readonly result: 'ok' | 'failed';
  readonly cardNumber?: string;
  readonly code?: string;
  readonly staffId?: string;
}

/** One scanner result, as emitted on `scans` (`'scan'` event) by the runtime. */
export type EcardScanResult =
  | { readonly ok: true; readonly identity: EcardIdentity }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export interface LocalApiOptions extends IssuanceApiOptions {
  readonly readers: CardAccess;
  readonly services?: Partial<LocalApiServices>;
  readonly hotlist?: Hotlist;
  /** Needed for purchases. */
  readonly journal?: PurchaseJournal;
  readonly ecard?: EcardVerifier;
  /** Emits `'scan'` with {@link EcardScanResult} for each code read by a scanner. */
  readonly scans?: EventEmitter;
  /**
   * The API token (HIS, scripts, the launcher that mints page sessions). When absent, only
   * `/health` and `/docs` answer. Throws `TERM_ERR_CONFIG` (field `api.token`) when too weak.
   */
  readonly token?: string;
  /**
   * Other browser origins (e.g. a HIS web app at `http://localhost:8080`) that may call the API
   * with the token: they get CORS headers. Being listed grants nothing without the token.
   */
  readonly allowedOrigins?: readonly string[];
  /** Peer addresses allowed besides loopback (only meaningful with `tls` and a non-loopback listen address). */
  readonly allowedClients?: readonly string[];
  /** Serve HTTPS (required by the config for a non-loopback `api.host`). PEM strings. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Page sessions (kiosk, desk); one store per API by default. */
  readonly sessions?: SessionStore;
  /** Extra Host names (without port) besides localhost, 127.0.0.1 and [::1]. */
  readonly allowedHosts?: readonly string[];
  readonly logger?: Logger;
  readonly clock?: { now(): number };
  /** 终端设备号 for field 11 of iReadCardBas. */
  readonly deviceNumber?: string;
  /** Longest wait of GET /v1/ecard/scan, ms (default 60 000). */
  readonly maxScanWaitMs?: number;
  /** The screens served at `/kiosk/` and `/desk/` (`screens.ts`); none when absent. */
  readonly screens?: { readonly pages: readonly ScreenPage[]; readonly root?: string };
  /**
   * Queues a cardholder's loss report (PIN verified on the card present) for the fleet: the runtime
   * appends a `card.loss-report` transaction to the outbox. `online` says whether the fleet link is
   * up now (else the report waits in the outbox). Without it the route answers 501.
   */
  readonly reportLoss?: (r: { readonly cardNumber: string; readonly staffId?: string }) => Promise<{ readonly online: boolean; readonly seq?: number }>;
  /**
   * The outbox's acknowledgement watermark: records up to this sequence number reached the fleet.
   * With it, a loss report answers `delivery` (its sequence number) and `GET /v1/outbox/delivered`
   * tells a page when it was sent (`card-services.ts`).
   */
  readonly deliveredSeq?: () => number;
  /**
   * Checks a staff credential with the fleet server for desk sign-in (`staff.ts`); without it the
   * desk cannot sign staff in, so its card-changing actions are refused.
   */
  readonly checkStaff?: CheckStaff;
  /** Queues a `card.loss-cancel` (holder's ID checked by staff) like {@link reportLoss}; without it the route answers 501. */
  readonly cancelLoss?: (r: { readonly cardNumber: string; readonly staffId?: string }) => Promise<{ readonly online: boolean }>;
  /**
   * Journals a desk PIN service (unblock or reload through the PSAM) for the fleet's audit, naming
   * the member of staff signed in at the desk: `ok` with the card number, or `failed` with the
   * terminal error code. Never the PIN. Must not throw (a journal failure is logged by the runtime).
   */
  readonly deskAction?: (r: DeskActionRecord) => Promise<void>;
  /** The PIN pad, when the box has one (`card-services.ts` routes `/v1/card/pinpad/*`; progress on the WebSocket). */
  readonly pinpad?: PinEntry;
  /** Card login to portals (`login.ts`): the fleet server link and the identity-key signer; without it `/v1/login/*` answers 501. */
  readonly login?: LocalApiLogin;
  /** Library gate and loan desk over SIP2 (`library.ts`); without it `/v1/library/*` answers 501. */
  readonly library?: LocalApiLibrary;
  /** The venue gate (`venue.ts`); without it `/v1/venue/*` answers 501. */
  readonly venue?: VenueGate;
  /** Fleet server link of the kiosk's holder services (`holder.ts`: open events, the data tracker); enrolled terminals. */
  readonly holderLink?: HolderServerLink;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const OPEN_PATHS = ['/docs', '/health', '/session/start'];
/** Largest request body, bytes; larger ones answer 413 `TERM_ERR_API_TOO_LARGE`. */
export const BODY_LIMIT = 16 * 1024;

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } },
      required: ['code', 'message', 'national'],
    },
  },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
const pinSchema = { type: 'string', pattern: '^[0-9]{4,16}$' } as const;

function hostName(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(host);
  return m?.[1]?.toLowerCase();
}

function tokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const h = headers['x-onecard-token'];
  if (typeof h === 'string') return h;
  const a = headers['authorization'];
  if (typeof a === 'string' && a.startsWith('Bearer ')) return a.slice(7);
  return undefined;
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`) compared as IPv4. */
function peerAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}
const isLoopbackPeer = (a: string): boolean => a === '::1' || /^127\./.test(a);

/** How a request was let in (routes that need a particular kind check it). */
export type LocalApiAuth = { readonly kind: 'token' } | { readonly kind: 'session'; readonly sessionId: string; readonly page: string };

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = toHttpError(err);
  return reply.code(status).send(body);
}

/**
 * Builds the local API (not listening). Throws nothing; route failures answer the error body of
 * `http-errors.ts` with the `TERM_ERR_*` code of the failure.
 */
export async function buildLocalApi(opts: LocalApiOptions): Promise<FastifyInstance> {
  const svc: LocalApiServices = { ...realServices, ...opts.services };
  if (opts.token !== undefined) {
    const why = apiTokenProblem(opts.token);
    if (why !== undefined) throw new TerminalError('TERM_ERR_CONFIG', `api.token: ${why}`, { field: 'api.token' });
  }
  const allowedOrigins = new Set(opts.allowedOrigins ?? []);
  const allowedHosts = new Set([...LOCAL_HOSTS, ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  const allowedClients = new Set((opts.allowedClients ?? []).map(peerAddress));
  const sessions = opts.sessions ?? new SessionStore(opts.clock === undefined ? {} : { clock: opts.clock });
  const scheme = opts.tls === undefined ? 'http' : 'https';
  const auth = new WeakMap<object, LocalApiAuth>();
  const app = Fastify({
    ...(opts.logger === undefined ? { logger: false } : { loggerInstance: opts.logger as FastifyBaseLogger }),
    ...(opts.tls === undefined ? {} : { https: { key: opts.tls.key, cert: opts.tls.cert } }),
    bodyLimit: BODY_LIMIT,
    // Request lines are logged by the hook below without the query string (no code or secret reaches the log).
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  }) as unknown as FastifyInstance;
  app.addHook('onClose', async () => sessions.clear());
  const scans = opts.scans ?? new EventEmitter();

  await app.register(swagger, {
    openapi: {
      info: { title: 'OneCard terminal local API', version: '1.0.0', description: 'Card reading (JSON and iReadCardBas), PIN, purchase, e-card QR and card events for kiosk front-ends and HIS. See docs/local-api.md.' },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'x-onecard-token' } } },
      security: [{ token: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: 4096 } });

  app.addHook('onRequest', async (req, reply) => {
    const peer = peerAddress(req.ip);
    if (!isLoopbackPeer(peer) && !allowedClients.has(peer)) return sendError(reply, new TerminalError('TERM_ERR_API_CLIENT', peer));
    const host = hostName(req.headers.host);
    // DNS rebinding: a page of evil.example resolved to 127.0.0.1 still says Host: evil.example.
    if (host === undefined || !allowedHosts.has(host)) return sendError(reply, new TerminalError('TERM_ERR_API_HOST', String(req.headers.host)));
    const selfOrigin = `${scheme}://${String(req.headers.host).toLowerCase()}`;
    const origin = req.headers.origin;
    const crossOrigin = origin !== undefined && origin !== selfOrigin;
    if (crossOrigin) {
      if (!allowedOrigins.has(origin)) return sendError(reply, new TerminalError('TERM_ERR_API_ORIGIN', origin));
      // CORS lets an allowed origin read answers to requests that carry the token; it is no credential.
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      if (req.method === 'OPTIONS') {
        return reply
          .header('access-control-allow-methods', 'GET, POST')
          .header('access-control-allow-headers', 'content-type, x-onecard-token, authorization')
          .code(204)
          .send();
      }
    }
    // Open routes are recognised by the route the router matched, not by the raw path, so no
    // spelling of a URL (`/docs/../v1/…`, encoded slashes) reaches a protected route as an open one.
    const route = req.routeOptions.url;
    if (route !== undefined && OPEN_PATHS.some((p) => route === p || route.startsWith(`${p}/`))) return;
    const given = tokenOf(req.headers);
    if (given !== undefined) {
      if (opts.token === undefined || !sameToken(given, opts.token)) return sendError(reply, new TerminalError('TERM_ERR_API_TOKEN'));
      auth.set(req, { kind: 'token' });
      return;
    }
    const sid = cookieOf(req.headers.cookie, SESSION_COOKIE);
    if (sid === undefined) return sendError(reply, new TerminalError('TERM_ERR_API_TOKEN'));
    // A session cookie counts only on requests from the served page itself: never from another
    // origin (not even an allowed one or another port of localhost, which is the same site).
    const site = req.headers['sec-fetch-site'];
    if (crossOrigin || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
      return sendError(reply, new TerminalError('TERM_ERR_API_ORIGIN', 'session cookie used from another origin'));
    }
    const session = sessions.use(sid);
    if (session === undefined) return sendError(reply, new TerminalError('TERM_ERR_API_SESSION'));
    auth.set(req, { kind: 'session', sessionId: sid, page: session.page });
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
  });
  app.setErrorHandler((err, _req, reply) => {
    if ((err as { validation?: unknown }).validation !== undefined) {
      return sendError(reply, new TerminalError('TERM_ERR_API_BAD_REQUEST', (err as Error).message));
    }
    const status = (err as { statusCode?: unknown }).statusCode;
    if (status === 413) return sendError(reply, new TerminalError('TERM_ERR_API_TOO_LARGE', `body over ${BODY_LIMIT} bytes`));
    // Fastify's own refusals of a request (bad JSON, unsupported media type, …) are the client's fault.
    if (!(err instanceof TerminalError) && typeof status === 'number' && status >= 400 && status < 500) {
      const { body } = toHttpError(new TerminalError('TERM_ERR_API_BAD_REQUEST', String((err as { code?: unknown }).code ?? 'request refused')));
      return reply.code(status).send(body);
    }
    if (!(err instanceof TerminalError)) opts.logger?.error({ err }, 'local API internal error');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    const { body } = toHttpError(new TerminalError('TERM_ERR_API_BAD_REQUEST', `no route ${req.method} ${req.url.split('?')[0]}`));
    return reply.code(404).send(body);
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));

  app.post<{ Body: { page: string } }>('/v1/session/launch', {
    schema: {
      summary: 'Mint a single-use launch code for a page the terminal serves (token only)',
      description: 'Open `path` in the browser within `expiresInSeconds`: it sets an HttpOnly, SameSite=Strict session cookie and redirects to `/{page}/`. A session cannot mint codes.',
      tags: ['session'],
      body: { type: 'object', properties: { page: { type: 'string', pattern: PAGE_NAME.source } }, required: ['page'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { code: { type: 'string' }, path: { type: 'string' }, expiresInSeconds: { type: 'integer' } } }, ...errors },
    },
  }, async (req) => {
    if (auth.get(req)?.kind !== 'token') throw new TerminalError('TERM_ERR_API_TOKEN', 'launch codes are minted with the API token only');
    const { code, expiresAt } = sessions.mintLaunchCode(req.body.page);
    const now = opts.clock?.now() ?? Date.now();
    return { code, path: `/session/start?code=${code}`, expiresInSeconds: Math.max(1, Math.round((expiresAt - now) / 1000)) };
  });

  app.get<{ Querystring: { code?: string } }>('/session/start', {
    schema: { summary: 'Trade a launch code for the page session cookie and go to the page', tags: ['session'], querystring: { type: 'object', properties: { code: { type: 'string', maxLength: 64 } } } },
  }, async (req, reply) => {
    // Only a navigation the user or the launcher started, or one from the terminal's own pages:
    // a remote page cannot make the browser redeem a code here.
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'none' && site !== 'same-origin') throw new TerminalError('TERM_ERR_API_ORIGIN', `session start from a ${site} page`);
    const s = req.query.code === undefined ? undefined : sessions.redeem(req.query.code);
    void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    if (s === undefined) throw new TerminalError('TERM_ERR_API_SESSION', 'launch code unknown, used or expired');
    const cookie = `${SESSION_COOKIE}=${s.sessionId}; Path=/; HttpOnly; SameSite=Strict${scheme === 'https' ? '; Secure' : ''}`;
    return reply.header('set-cookie', cookie).redirect(`/${s.page}/`, 303);
  });

  app.get('/v1/session', {
    schema: { summary: 'How this request is authenticated (page sessions: which page, idle expiry)', tags: ['session'], response: { 200: { type: 'object', additionalProperties: true }, ...errors } },
  }, async (req) => {
    const a = auth.get(req);
    if (a?.kind !== 'session') return { kind: 'token' };
    return { kind: 'session', page: a.page, idleSeconds: Math.round(sessions.idleMs / 1000) };
  });

  app.post('/v1/session/end', {
    schema: { summary: 'End this page session (its WebSockets close) and clear the cookie', tags: ['session'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors } },
  }, async (req, reply) => {
    const a = auth.get(req);
    if (a?.kind === 'session') sessions.end(a.sessionId);
    void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${scheme === 'https' ? '; Secure' : ''}`);
    return { ok: true };
  });

  app.get('/v1/readers', {
    schema: { summary: 'Reader status', tags: ['readers'], response: { 200: { type: 'object', properties: { readers: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errors } },
  }, async () => ({ readers: opts.readers.status() }));

  app.post<{ Body: { format?: 'json' | 'ireadcardbas'; encoding?: 'utf8' | 'gbk' } }>('/v1/card/read', {
    schema: {
      summary: 'Read basic information of the card in the reader (PSAM mode)',
      description: 'format=json (default): typed data including readCardBas; format=ireadcardbas: {code: 0, readCardBas} (JSON, UTF-8); format=ireadcardbas with encoding=gbk: the iReadCardBas string as GBK bytes (text/plain; charset=gbk), as the national interface returns it, for HIS bridges. On failure the error body carries the national code.',
      tags: ['card'],
      body: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'ireadcardbas'] }, encoding: { type: 'string', enum: ['utf8', 'gbk'] } }, additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req, reply) => {
    const info = await opts.readers.withCard(({ card, psam }) =>
      svc.readBasicInfo({
        card,
        psam,
        hotlist: opts.hotlist,
        logger: opts.logger,
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
        ...(opts.deviceNumber === undefined ? {} : { deviceNumber: opts.deviceNumber }),
      }),
    );
    // [national-interface §4.1] the name is GBK text: HIS bridges get the DLL's own bytes.
    if (req.body?.format === 'ireadcardbas' && req.body.encoding === 'gbk') return reply.type('text/plain; charset=gbk').send(Buffer.from(encodeNationalString(info.readCardBas, 'gbk')));
    if (req.body?.format === 'ireadcardbas') return { code: 0, readCardBas: info.readCardBas };
    return info;
  });

  app.get('/v1/card/pin', {
    schema: { summary: 'PIN state (set, locked, tries left) without using a try', tags: ['card'], response: { 200: { type: 'object', additionalProperties: true }, ...errors } },
  }, async () => opts.readers.withCard(({ card }) => svc.pinStatus({ card, hotlist: opts.hotlist, logger: opts.logger })));

  app.post<{ Body: { pin: string } }>('/v1/card/pin/verify', {
    schema: {
      summary: 'Verify the card PIN',
      description: 'Wrong PIN: 422 TERM_ERR_PIN_WRONG with details.triesLeft (national −51); locked: TERM_ERR_PIN_LOCKED (−52).',
      tags: ['card'],
      body: { type: 'object', properties: { pin: pinSchema }, required: ['pin'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors },
    },
  }, async (req) => {
    await opts.readers.withCard(({ card }) => svc.verifyPin({ card, pin: req.body.pin, hotlist: opts.hotlist, logger: opts.logger }));
    return { ok: true };
  });

  app.post<{ Body: { oldPin: string; newPin: string } }>('/v1/card/pin/change', {
    schema: {
      summary: 'Change the card PIN',
      tags: ['card'],
      body: { type: 'object', properties: { oldPin: pinSchema, newPin: pinSchema }, required: ['oldPin', 'newPin'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors },
    },
  }, async (req) => {
    await opts.readers.withCard(({ card }) => svc.changePin({ card, oldPin: req.body.oldPin, newPin: req.body.newPin, hotlist: opts.hotlist, logger: opts.logger }));
    return { ok: true };
  });

  app.post<{ Body: { amount: number } }>('/v1/card/purchase', {
    schema: {
      summary: 'Transit purse purchase of `amount` fen with the PSAM',
      description: 'kind=completed with the journal record (TAC) and the balance after, or kind=recovered when an interrupted purchase of this card was settled instead.',
      tags: ['card'],
      body: { type: 'object', properties: { amount: { type: 'integer', minimum: 1, maximum: 4294967295 } }, required: ['amount'], additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
    const journal = opts.journal;
    if (journal === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no purchase journal');
    return opts.readers.withCard(({ card, psam }) =>
      svc.purchase({ card, psam, journal, amount: req.body.amount, hotlist: opts.hotlist, logger: opts.logger, ...(opts.clock === undefined ? {} : { clock: opts.clock }) }),
    );
  });

  app.post<{ Body: { code: string } }>('/v1/ecard/verify', {
    schema: {
      summary: 'Verify an e-card QR code read by the front-end (camera or its own scanner)',
      tags: ['ecard'],
      body: { type: 'object', properties: { code: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['code'], additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
    if (opts.ecard === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no e-card verifier (ecard.keys in the config)');
    return opts.ecard.verify(req.body.code);
  });

  app.post<{ Body: { pin: string } }>('/v1/card/loss-report', {
    schema: {
      summary: 'Report the card in the reader lost (挂失), after its PIN is verified',
      description: 'Reads the card (genuine, not already hotlisted), verifies the PIN on the card, then queues a card.loss-report for the fleet. `online: false` means the report waits in the outbox until the fleet link is back. The PIN goes to the card only.',
      tags: ['card'],
      body: { type: 'object', properties: { pin: pinSchema }, required: ['pin'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { queued: { type: 'boolean' }, online: { type: 'boolean' }, cardNumber: { type: 'string' }, delivery: { type: 'string' } } }, ...errors },
    },
  }, async (req) => {
    const reportLoss = opts.reportLoss;
    if (reportLoss === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no fleet outbox for loss reports');
    const cardNumber = await opts.readers.withCard(async ({ card, psam }) => {
      const info = await svc.readBasicInfo({ card, psam, hotlist: opts.hotlist, logger: opts.logger, ...(opts.clock === undefined ? {} : { clock: opts.clock }) });
      await svc.verifyPin({ card, pin: req.body.pin, hotlist: opts.hotlist, logger: opts.logger });
      return info.cardNumber;
    });
    const { online, seq } = await reportLoss({ cardNumber, ...staffOf(req) });
    return { queued: true, online, cardNumber: cardNumber.length > 4 ? `${'*'.repeat(cardNumber.length - 4)}${cardNumber.slice(-4)}` : cardNumber, ...(seq === undefined ? {} : { delivery: String(seq) }) };
  });

  registerCardServices(app, opts);
  registerLogin(app, opts, svc);
  registerVenue(app, opts);
  registerLibrary(app, opts, svc);
  registerHolder(app, opts, svc, { authOf: (req) => auth.get(req), holderLink: opts.holderLink });
  registerIssuance(app, opts);
  registerStaff(app, { authOf: (req) => auth.get(req), idleMs: sessions.idleMs, ...(opts.checkStaff === undefined ? {} : { checkStaff: opts.checkStaff }), ...(opts.clock === undefined ? {} : { clock: opts.clock }) });

  if (opts.screens !== undefined && opts.screens.pages.length > 0) {
    registerScreens(app, { pages: opts.screens.pages, ...(opts.screens.root === undefined ? {} : { root: opts.screens.root }), authOf: (req) => auth.get(req) });
  }

  const maxWait = opts.maxScanWaitMs ?? 60_000;
  app.get<{ Querystring: { timeoutMs?: string } }>('/v1/ecard/scan', {
    schema: {
      summary: 'Wait for the next code read by the terminal scanner and return its verification result',
      tags: ['ecard'],
      querystring: { type: 'object', properties: { timeoutMs: { type: 'string', pattern: '^[0-9]{1,7}$' } } },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
    if (opts.scans === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no scanner');
    const timeout = Math.min(Number(req.query.timeoutMs ?? maxWait), maxWait);
    const result = await new Promise<EcardScanResult | undefined>((resolve) => {
      const onScan = (r: EcardScanResult): void => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        scans.off('scan', onScan);
        resolve(undefined);
      }, timeout);
      scans.once('scan', onScan);
      req.raw.once('close', () => {
        clearTimeout(timer);
        scans.off('scan', onScan);
      });
    });
    if (result === undefined) throw new TerminalError('TERM_ERR_API_TIMEOUT', `no code scanned within ${timeout} ms`);
    if (!result.ok) throw new TerminalError(result.error.code as ConstructorParameters<typeof TerminalError>[0], undefined);
    return result.identity;
  });

  app.get('/v1/events', { websocket: true, schema: { summary: 'WebSocket: card-inserted, card-removed, reader-status, ecard events as JSON messages', tags: ['events'] } }, (socket, req) => {
    const a = auth.get(req);
    // A page session stays alive while its WebSocket is open and closes it when the session ends.
    const release = a?.kind === 'session' ? sessions.hold(a.sessionId, () => socket.close(1008, 'session ended')) : (): void => undefined;
    const send = (msg: Record<string, unknown>): void => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
    };
    const onInserted = (e: { readerId: string; slot: number; atr: Uint8Array }): void => send({ type: 'card-inserted', readerId: e.readerId, slot: e.slot, atr: toHex(e.atr) });
    const onRemoved = (e: { readerId: string; slot: number }): void => send({ type: 'card-removed', readerId: e.readerId, slot: e.slot });
    const onStatus = (e: { readerId: string; status: string; detail?: string }): void => send({ type: 'reader-status', ...e });
    const onScan = (r: EcardScanResult): void => send({ type: 'ecard', ...r });
    const onPinpad = (p: PinEntryProgress): void => send({ type: 'pinpad', ...p });
    opts.pinpad?.events.on('progress', onPinpad);
    const ev = opts.readers.events;
    ev.on('card-inserted', onInserted);
    ev.on('card-removed', onRemoved);
    ev.on('reader-status', onStatus);
    scans.on('scan', onScan);
    send({ type: 'hello', readers: opts.readers.status() });
    socket.on('close', () => {
      release();
      ev.off('card-inserted', onInserted);
      ev.off('card-removed', onRemoved);
      ev.off('reader-status', onStatus);
      scans.off('scan', onScan);
      opts.pinpad?.events.off('progress', onPinpad);
    });
  });

  return app;
}

/**
 * Reads the PEM files of `api.tls` for {@link LocalApiOptions.tls}.
 * @throws TerminalError `TERM_ERR_CONFIG` naming `api.tls.certFile` or `api.tls.keyFile`
 */
export function readApiTls(tls: { readonly certFile: string; readonly keyFile: string }): { key: string; cert: string } {
  const read = (path: string, field: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new TerminalError('TERM_ERR_CONFIG', `${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { field }, { cause: e });
    }
  };
  return { cert: read(tls.certFile, 'api.tls.certFile'), key: read(tls.keyFile, 'api.tls.keyFile') };
}
