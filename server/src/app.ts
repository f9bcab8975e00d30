/**
 * `buildApp(opts)` composes the fleet server from its plugins and never listens; `main.ts` does.
 * Tests build it with an in-memory store and drive it with `inject()`.
 */
import { EventEmitter } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import { ServerError, SRV_ERRORS } from './errors.ts';
import { systemClock, type Clock, type ServerContext, type ServerKeys, type ServerSettings } from './context.ts';
import { generateServerKeys, hashToken, newId, newToken } from './crypto-util.ts';
import type { Store } from './store/types.ts';
import metricsPlugin from './plugins/metrics.ts';
import authPlugin from './plugins/auth.ts';
import type { OpsAccess } from './config.ts';
import textGuardPlugin from './plugins/text-guard.ts';
import brokerPlugin from './plugins/broker.ts';
import adminRoutes from './routes/admin.ts';
import terminalRoutes from './routes/terminals.ts';
import configRoutes from './routes/config.ts';
import configSecretsPlugin from './routes/config-secrets.ts';
import hotlistRoutes from './routes/hotlist.ts';
import ingestRoutes from './routes/ingest.ts';
import staffRoutes from './routes/staff.ts';
import venueRoutes from './venues/routes.ts';
import dashboardPlugin from './dashboard/plugin.ts';
import updatesPlugin, { type UpdatesPluginOptions } from './updates/plugin.ts';
import keysPlugin from './keys/plugin.ts';
import registryPlugin from './registry/plugin.ts';
import holderConsentPlugin from './sharing/holder-consent.ts';
import oidcPlugin from './oidc/plugin.ts';
import relyingPartyRoutes from './routes/relying-parties.ts';

/** Events between feature plugins (e.g. `terminal-disabled` → the broker drops the connection). */
export interface FleetBusEvents {
  'terminal-disabled': [terminalId: string];
  'terminal-credentials-changed': [terminalId: string];
  /** The hotlist moved to `version` (the hotlist plugin announces it to the fleet). */
  'hotlist-changed': [version: number];
  /** An admin token was revoked: its live streams close at once. */
  'admin-token-revoked': [tokenId: string];
  /** Outbox records of `terminalId` that could not be stored were quarantined (ingest alarm). */
  'events-quarantined': [terminalId: string, count: number, reasons: readonly string[]];
}

declare module 'fastify' {
  interface FastifyInstance {
    fleet: EventEmitter<FleetBusEvents>;
  }
}

export interface BuildAppOptions {
  readonly store: Store;
  readonly clock?: Clock;
  readonly keys?: ServerKeys;
  readonly settings?: Partial<ServerSettings>;
  /** Fastify logger option; `false` in tests unless a test parses the log. */
  readonly logger?: FastifyServerOptions['logger'];
  /** Largest accepted request body in bytes. */
  readonly bodyLimit?: number;
  /** Largest accepted MQTT payload in bytes. */
  readonly maxMqttPayload?: number;
  /** MQTT mode: Redis-shared embedded broker or an external broker (default: embedded, in memory). */
  readonly broker?: Omit<import('./plugins/broker.ts').BrokerOptions, 'maxPayload'>;
  /** AES-256 master key for transit key sets (`ONECARD_MASTER_KEY_FILE` / `ONECARD_MASTER_KEY`, see keys/key-crypto.ts `loadMasterKey`); key routes refuse without it. */
  readonly masterKey?: Uint8Array | undefined;
  /** Software updates (package store and trusted signing keys); off when absent. */
  readonly updates?: UpdatesPluginOptions;
  /**
   * Addresses/CIDRs of the reverse proxies in front of the API: only when the socket peer is one
   * of them is `X-Forwarded-For` believed for `req.ip` (failure limits, audit). Default: none.
   */
  readonly trustedProxies?: readonly string[];
  /** Who may read `/metrics` and `/docs` (default `loopback`, see `plugins/auth.ts`). */
  readonly opsAccess?: OpsAccess;
  /** Card login (OpenID Provider at `/oidc`, docs/login.md): on when a master key and an issuer are given. */
  readonly oidc?: { readonly issuer: string | (() => string) };
}

export const DEFAULT_SETTINGS: ServerSettings = {
  enrolmentTokenTtlSeconds: 24 * 3600,
  mqttUrl: 'mqtt://127.0.0.1:1883',
  authRateLimitPerMinute: 30,
};

/** Headers and body fields pino must never print. */
export const REDACT_PATHS = ['req.headers.authorization', 'req.body.token', 'req.body.password', 'res.body.token', 'res.body.password'];

/** Query parameters whose values are credentials (`?ticket=` of the live feed, `?token=`, the card login's `?code=` and `?id_token_hint=`, …). */
const SECRET_QUERY_PARAM = /^(token|access_token|ticket|password|secret|key|sig|signature|auth|code|id_token|id_token_hint|refresh_token|client_secret|code_verifier|logout_hint|login_hint)$/i;

/**
 * The request line as logged: credentials in the query string are replaced by `[redacted]`, so a
 * token or ticket put in a URL never reaches the log.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((kv) => {
    const eq = kv.indexOf('=');
    const name = eq < 0 ? kv : kv.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      return '[redacted]';
    }
    return SECRET_QUERY_PARAM.test(decoded) && eq >= 0 ? `${name}=[redacted]` : kv;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** pino serializer for `req` (replaces Fastify's default): no query-string credentials. */
export function requestSerializer(req: { method: string; url: string; host?: string; hostname?: string; ip?: string; socket?: { remoteAddress?: string | undefined; remotePort?: number | undefined } }): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), host: req.host ?? req.hostname, remoteAddress: req.ip ?? req.socket?.remoteAddress, remotePort: req.socket?.remotePort };
}

/** Adds the request serializer to a logger option that is a pino options object. */
function withSerializers(logger: FastifyServerOptions['logger'] | undefined): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  const existing = (base as { serializers?: Record<string, unknown> }).serializers ?? {};
  return { ...base, serializers: { ...existing, req: requestSerializer } } as FastifyServerOptions['logger'];
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: withSerializers(opts.logger) ?? false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Only the configured proxies' X-Forwarded-For is believed; without any, req.ip is the peer.
    trustProxy: opts.trustedProxies !== undefined && opts.trustedProxies.length > 0 ? [...opts.trustedProxies] : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  const ctx: ServerContext = {
    store: opts.store,
    clock: opts.clock ?? systemClock,
    keys: opts.keys ?? generateServerKeys(),
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
    logger: app.log,
  };
  app.decorate('ctx', ctx);
  app.decorate('fleet', new EventEmitter<FleetBusEvents>());

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ServerError) {
      if (err.code === 'SRV_ERR_UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer');
      return reply.code(err.statusCode).send({ error: { code: err.code, message: err.message, ...(Object.keys(err.details).length > 0 ? { details: err.details } : {}) } });
    }
    const e = err as { validation?: unknown; statusCode?: number; code?: string; message: string };
    if (e.validation !== undefined) return reply.code(400).send({ error: { code: 'SRV_ERR_VALIDATION', message: `${SRV_ERRORS.SRV_ERR_VALIDATION}: ${e.message}` } });
    if (e.statusCode === 429) return reply.code(429).send({ error: { code: 'SRV_ERR_RATE_LIMITED', message: SRV_ERRORS.SRV_ERR_RATE_LIMITED } });
    if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: { code: 'SRV_ERR_PAYLOAD_TOO_LARGE', message: SRV_ERRORS.SRV_ERR_PAYLOAD_TOO_LARGE } });
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ error: { code: 'SRV_ERR_INVALID_ARGUMENT', message: e.message } });
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'SRV_ERR_INTERNAL', message: SRV_ERRORS.SRV_ERR_INTERNAL } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'SRV_ERR_NOT_FOUND', message: `${SRV_ERRORS.SRV_ERR_NOT_FOUND}: ${req.method} ${req.url.split('?')[0]}` } }));

  await app.register(swagger, {
    openapi: {
      info: { title: 'OneCard fleet server', version: '0.1.0', description: 'Enrolment, terminals, configuration, hotlist, keys, rollouts, events and audit. Admin routes take `Authorization: Bearer <token>`; terminal routes (`/api/v1/terminal/...`) take `Authorization: Basic base64(terminalId:password)` or `Bearer <password>`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, terminalBasic: { type: 'http', scheme: 'basic', description: 'terminal id and MQTT password from enrolment' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiHooks: { onRequest: async (req, reply) => app.opsAccessGuard(req, reply) } });
  await app.register(rateLimit, { global: false });
  await app.register(metricsPlugin);
  await app.register(authPlugin, { ...(opts.opsAccess !== undefined ? { opsAccess: opts.opsAccess } : {}) });
  await app.register(textGuardPlugin);
  await app.register(brokerPlugin, { ...opts.broker, ...(opts.maxMqttPayload !== undefined ? { maxPayload: opts.maxMqttPayload } : {}) });

  app.get('/health', { schema: { tags: ['ops'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { tags: ['ops'], summary: 'Readiness: the store answers' } }, async (_req, reply) => {
    const ok = await ctx.store.ping().catch(() => false);
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ready' : 'not-ready', store: ctx.store.kind };
  });

  await app.register(adminRoutes);
  await app.register(terminalRoutes);
  await app.register(configSecretsPlugin, { masterKey: opts.masterKey }); // SIP2 password sealed at rest, delivered per terminal
  await app.register(configRoutes);
  await app.register(hotlistRoutes);
  await app.register(ingestRoutes);
  await app.register(staffRoutes);
  await app.register(venueRoutes);
  await app.register(keysPlugin, { masterKey: opts.masterKey }); // also registers the shared jobs notifier (server/src/jobs)
  await app.register(registryPlugin, { masterKey: opts.masterKey }); // card registry and the departments' data sharing (docs/data-sharing.md)
  if (opts.updates !== undefined) await app.register(updatesPlugin, opts.updates);
  if (opts.oidc !== undefined && opts.masterKey !== undefined) {
    await app.register(oidcPlugin, { masterKey: opts.masterKey, issuer: opts.oidc.issuer, proxy: opts.trustedProxies !== undefined && opts.trustedProxies.length > 0 });
    await app.register(holderConsentPlugin, { masterKey: opts.masterKey }); // the holder's consent pages behind the card login (docs/data-sharing.md)
  }
  else app.decorate('oidcLogin', undefined);
  await app.register(relyingPartyRoutes);
  await app.register(dashboardPlugin);
  return app;
}

/**
 * On an empty store, creates the first admin token: `presetToken` (from `ONECARD_ADMIN_TOKEN`) or a
 * new random one. Returns the clear token when one was created (the caller prints it once), or
 * `undefined` when admin tokens already exist. On a store that has tokens, a `presetToken` is the
 * recovery path: it becomes an active admin token again (re-activated and promoted when it exists,
 * else created), audited as `admin-token.recover`; nothing changes when it already is one.
 */
export async function bootstrapAdminToken(store: Store, clock: Clock, presetToken?: string): Promise<string | undefined> {
  if ((await store.listAdminTokens()).length > 0) {
    if (presetToken === undefined) return undefined;
    if (presetToken.length < 16) throw new ServerError('SRV_ERR_CONFIG', 'ONECARD_ADMIN_TOKEN must be at least 16 characters');
    await store.recoverAdminToken({ id: newId('adm_'), name: 'recovery', tokenHash: hashToken(presetToken), createdAt: clock.now() },
      (result) => (result === 'unchanged' ? [] : [{ ts: clock.now(), actor: 'system', action: 'admin-token.recover', target: 'ONECARD_ADMIN_TOKEN', ip: '', details: { result } }]));
    return undefined;
  }
  if (presetToken !== undefined && presetToken.length < 16) throw new ServerError('SRV_ERR_CONFIG', 'ONECARD_ADMIN_TOKEN must be at least 16 characters');
  const token = presetToken ?? newToken('oca');
  await store.createAdminToken({ id: newId('adm_'), name: 'bootstrap', role: 'admin', tokenHash: hashToken(token), createdAt: clock.now() },
    () => [{ ts: clock.now(), actor: 'system', action: 'admin-token.bootstrap', target: 'bootstrap', ip: '', details: { preset: presetToken !== undefined } }]);
  return token;
}
