/**
 * The terminal's local API for kiosk front-ends and hospital systems (HIS): HTTP + WebSocket on
 * 127.0.0.1. {@link buildLocalApi} builds the Fastify instance and never listens (the runtime
 * does). Access rule: a request whose `Host` is not a localhost name is refused (DNS rebinding);
 * a browser request (with `Origin`) must come from an allowed origin; a request without `Origin`
 * (HIS, scripts) must carry the token. OpenAPI at `/docs` (token not needed). Routes are listed in
 * docs/local-api.md.
 */
import { EventEmitter } from 'node:events';
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { toHex } from '@onecard/protocol/bytes';
import { TerminalError } from '../errors.ts';
import * as realServices from '../services/index.ts';
import type { Hotlist, PurchaseJournal } from '../services/index.ts';
import type { EcardIdentity, EcardVerifier } from '../ecard/index.ts';
import type { CardAccess } from './card-access.ts';
import { toHttpError } from './http-errors.ts';

/** The card services the API calls (the real ones by default; tests may wrap them). */
export interface LocalApiServices {
  readonly readBasicInfo: typeof realServices.readBasicInfo;
  readonly pinStatus: typeof realServices.pinStatus;
  readonly verifyPin: typeof realServices.verifyPin;
  readonly changePin: typeof realServices.changePin;
  readonly purchase: typeof realServices.purchase;
}

/** One scanner result, as emitted on `scans` (`'scan'` event) by the runtime. */
export type EcardScanResult =
  | { readonly ok: true; readonly identity: EcardIdentity }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export interface LocalApiOptions {
  readonly readers: CardAccess;
  readonly services?: Partial<LocalApiServices>;
  readonly hotlist?: Hotlist;
  /** Needed for purchases. */
  readonly journal?: PurchaseJournal;
  readonly ecard?: EcardVerifier;
  /** Emits `'scan'` with {@link EcardScanResult} for each code read by a scanner. */
  readonly scans?: EventEmitter;
  /** Token for non-browser clients. When absent, non-browser requests are refused (except /docs, /health). */
  readonly token?: string;
  /** Browser origins allowed, e.g. `http://localhost:8080`. */
  readonly allowedOrigins?: readonly string[];
  /** Extra Host names (without port) besides localhost, 127.0.0.1 and [::1]. */
  readonly allowedHosts?: readonly string[];
  readonly logger?: Logger;
  readonly clock?: { now(): number };
  /** 终端设备号 for field 11 of iReadCardBas. */
  readonly deviceNumber?: string;
  /** Longest wait of GET /v1/ecard/scan, ms (default 60 000). */
  readonly maxScanWaitMs?: number;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const OPEN_PATHS = ['/docs', '/health'];

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

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

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
  const allowedOrigins = new Set(opts.allowedOrigins ?? []);
  const allowedHosts = new Set([...LOCAL_HOSTS, ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  const app = Fastify({
    ...(opts.logger === undefined ? { logger: false } : { loggerInstance: opts.logger as FastifyBaseLogger }),
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
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
    const host = hostName(req.headers.host);
    if (host === undefined || !allowedHosts.has(host)) return sendError(reply, new TerminalError('TERM_ERR_API_HOST', String(req.headers.host)));
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!allowedOrigins.has(origin)) return sendError(reply, new TerminalError('TERM_ERR_API_ORIGIN', origin));
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      if (req.method === 'OPTIONS') {
        return reply
          .header('access-control-allow-methods', 'GET, POST')
          .header('access-control-allow-headers', 'content-type, x-onecard-token, authorization')
          .code(204)
          .send();
      }
      return;
    }
    const path = req.url.split('?')[0] ?? '';
    if (OPEN_PATHS.some((p) => path === p || path.startsWith(`${p}/`))) return;
    const given = tokenOf(req.headers);
    if (opts.token === undefined || given === undefined || !sameToken(given, opts.token)) return sendError(reply, new TerminalError('TERM_ERR_API_TOKEN'));
  });
  app.setErrorHandler((err, _req, reply) => {
    if ((err as { validation?: unknown }).validation !== undefined) {
      return sendError(reply, new TerminalError('TERM_ERR_API_BAD_REQUEST', (err as Error).message));
    }
    if (!(err instanceof TerminalError)) opts.logger?.error({ err }, 'local API internal error');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    const { body } = toHttpError(new TerminalError('TERM_ERR_API_BAD_REQUEST', `no route ${req.method} ${req.url.split('?')[0]}`));
    return reply.code(404).send(body);
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));

  app.get('/v1/readers', {
    schema: { summary: 'Reader status', tags: ['readers'], response: { 200: { type: 'object', properties: { readers: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errors } },
  }, async () => ({ readers: opts.readers.status() }));

  app.post<{ Body: { format?: 'json' | 'ireadcardbas' } }>('/v1/card/read', {
    schema: {
      summary: 'Read basic information of the card in the reader (PSAM mode)',
      description: 'format=json (default): typed data including readCardBas; format=ireadcardbas: {code: 0, readCardBas}. On failure the error body carries the national code.',
      tags: ['card'],
      body: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'ireadcardbas'] } }, additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
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

  app.get('/v1/events', { websocket: true, schema: { summary: 'WebSocket: card-inserted, card-removed, reader-status, ecard events as JSON messages', tags: ['events'] } }, (socket) => {
    const send = (msg: Record<string, unknown>): void => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
    };
    const onInserted = (e: { readerId: string; slot: number; atr: Uint8Array }): void => send({ type: 'card-inserted', readerId: e.readerId, slot: e.slot, atr: toHex(e.atr) });
    const onRemoved = (e: { readerId: string; slot: number }): void => send({ type: 'card-removed', readerId: e.readerId, slot: e.slot });
    const onStatus = (e: { readerId: string; status: string; detail?: string }): void => send({ type: 'reader-status', ...e });
    const onScan = (r: EcardScanResult): void => send({ type: 'ecard', ...r });
    const ev = opts.readers.events;
    ev.on('card-inserted', onInserted);
    ev.on('card-removed', onRemoved);
    ev.on('reader-status', onStatus);
    scans.on('scan', onScan);
    send({ type: 'hello', readers: opts.readers.status() });
    socket.on('close', () => {
      ev.off('card-inserted', onInserted);
      ev.off('card-removed', onRemoved);
      ev.off('reader-status', onStatus);
      scans.off('scan', onScan);
    });
  });

  return app;
}
