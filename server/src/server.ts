/**
 * Starts a whole server process from a configuration: store (SQLite, or PostgreSQL with
 * `storeUrl`), keys, HTTP API and the MQTT side — the embedded broker on its own port (in memory,
 * or shared with other servers over Redis with `redisUrl`), or a client of an external broker
 * (`brokerUrl`, no MQTT port of its own; with `mosquittoDir` the Mosquitto files are kept in
 * sync). Used by `main.ts` and by end-to-end tests and the demo, which need real ports.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, bootstrapAdminToken, REDACT_PATHS } from './app.ts';
import type { ServerConfig } from './config.ts';
import { systemClock } from './context.ts';
import { loadOrCreateServerKeys } from './keys-file.ts';
import { openStore, storeSpec } from './store/open.ts';
import type { Store } from './store/types.ts';
import type { BrokerOptions } from './plugins/broker.ts';
import mosquittoPlugin from './scale/mosquitto-plugin.ts';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { parseOpenFileLimit, splitDescriptors, type BrokerLimits } from './broker/limits.ts';
import { CONFIG_DEFAULTS, type OpsAccess } from './config.ts';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly bootstrapToken: string | undefined;
  /** Connections each listener may hold (after fitting the open-file limit). */
  readonly connectionBudget: { readonly mqtt: number; readonly http: number; readonly reducedToFitOpenFileLimit: boolean };
  close(): Promise<void>;
}

export interface StartOptions {
  readonly config: ServerConfig;
  readonly dbPath: string;
  readonly adminTokenPreset?: string | undefined;
  /** pino destination override (tests parse the log). */
  readonly logStream?: NodeJS.WritableStream;
  /** AES-256 master key for transit key sets (main.ts loads it from the environment). */
  readonly masterKey?: Uint8Array | undefined;
  /** Embedded broker limits not exposed as options (tests use small packet limits). */
  readonly brokerLimits?: Partial<BrokerLimits>;
  /** The process's open-file limit (default: read from /proc/self/limits; tests pass a small one). */
  readonly openFileLimit?: number | undefined;
}

/** The soft open-file limit of this process, or `undefined` when unknown or unlimited. */
function processOpenFileLimit(): number | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const cfg = opts.config;
  const store = await openStore(storeSpec(cfg.storeUrl, opts.dbPath));
  const keys = loadOrCreateServerKeys(dirname(opts.dbPath));
  const clock = systemClock;
  const brokerUsername = cfg.brokerUsername ?? DEFAULT_BROKER_USERNAME;
  // Separate descriptor budgets: MQTT can never use the descriptors HTTP needs.
  const d = CONFIG_DEFAULTS;
  const fds = splitDescriptors(opts.openFileLimit ?? processOpenFileLimit(), { mqtt: cfg.mqttMaxConnections ?? d.mqttMaxConnections!, http: cfg.httpMaxConnections ?? d.httpMaxConnections! });
  const limits: Partial<BrokerLimits> = {
    maxConnections: fds.mqtt,
    maxPerAddress: cfg.mqttMaxPerAddress ?? d.mqttMaxPerAddress!,
    maxPending: Math.min(cfg.mqttMaxPending ?? d.mqttMaxPending!, fds.mqtt),
    maxPendingPerAddress: cfg.mqttMaxPendingPerAddress ?? d.mqttMaxPendingPerAddress!,
    connectDeadlineMs: cfg.mqttConnectTimeoutMs ?? d.mqttConnectTimeoutMs!,
    ...opts.brokerLimits,
  };
  const broker: Omit<BrokerOptions, 'maxPayload'> = cfg.brokerUrl !== undefined
    ? { external: { url: cfg.brokerUrl, username: brokerUsername, password: cfg.brokerPassword } }
    : cfg.redisUrl !== undefined ? { redisUrl: cfg.redisUrl, limits } : { limits };
  let app: FastifyInstance;
  // The card-login issuer: the public HTTP URL, else the address listened on (known after listen).
  let listenedUrl = '';
  try {
    app = await buildApp({
      store, clock, keys, broker, masterKey: opts.masterKey,
      oidc: { issuer: () => `${(cfg.publicHttpUrl ?? listenedUrl).replace(/\/+$/, '')}/oidc` },
      trustedProxies: (cfg.trustedProxies ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0),
      opsAccess: (cfg.opsAccess ?? d.opsAccess) as OpsAccess,
      logger: { level: cfg.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, ...(opts.logStream !== undefined ? { stream: opts.logStream } : {}) },
      updates: { packageDir: join(dirname(opts.dbPath), 'packages'), trustedKeys: (cfg.updateKeys ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0) },
      settings: {
        enrolmentTokenTtlSeconds: cfg.enrolmentTokenTtlSeconds,
        authRateLimitPerMinute: cfg.authRateLimitPerMinute,
        mqttUrl: cfg.publicMqttUrl ?? cfg.brokerUrl ?? `mqtt://${cfg.mqttHost}:${cfg.mqttPort}`,
      },
    });
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  if (cfg.mosquittoDir !== undefined) {
    await app.register(mosquittoPlugin, { dir: cfg.mosquittoDir, serverUsername: brokerUsername, serverPassword: cfg.brokerPassword, pidFile: cfg.mosquittoPidFile });
  }
  const bootstrapToken = await bootstrapOnce(store, opts.adminTokenPreset);
  // Reported on the `ready` line by main.ts; logged at info so the start-up lines stay as they are.
  if (fds.reduced) app.log.info({ mqttMaxConnections: fds.mqtt, httpMaxConnections: fds.http }, 'connection limits reduced to fit the open-file limit');
  app.server.maxConnections = fds.http;
  await app.listen({ host: cfg.host, port: cfg.httpPort });
  const addr = app.server.address();
  const httpPort = typeof addr === 'object' && addr !== null ? addr.port : cfg.httpPort;
  const httpUrl = `http://${cfg.host}:${httpPort}`;
  listenedUrl = httpUrl;
  let mqttServer: Server | undefined;
  let mqttUrl: string;
  if (cfg.brokerUrl === undefined) {
    const srv = createServer((socket) => { app.mqttAccept(socket); });
    // The kernel-level backstop of the guard's own count: beyond it sockets are closed on accept.
    srv.maxConnections = fds.mqtt;
    mqttServer = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(cfg.mqttPort, cfg.mqttHost, () => resolve());
    });
    const maddr = srv.address();
    const mqttPort = typeof maddr === 'object' && maddr !== null ? maddr.port : cfg.mqttPort;
    mqttUrl = `mqtt://${cfg.mqttHost}:${mqttPort}`;
  } else {
    mqttUrl = cfg.brokerUrl;
  }
  // Terminals enrolled from now on are told the real port when 0 (a free one) was asked for.
  (app.ctx.settings as { mqttUrl: string }).mqttUrl = cfg.publicMqttUrl ?? mqttUrl;
  let closed = false;
  return {
    app,
    httpUrl,
    mqttUrl,
    bootstrapToken,
    connectionBudget: { mqtt: fds.mqtt, http: fds.http, reducedToFitOpenFileLimit: fds.reduced },
    async close() {
      if (closed) return;
      closed = true;
      if (mqttServer !== undefined) {
        const srv = mqttServer;
        await new Promise<void>((r) => { srv.close(() => r()); app.mqttCloseAll(); for (const c of (app.broker as unknown as { clients: Record<string, { close(): void }> }).clients ? Object.values((app.broker as unknown as { clients: Record<string, { close(): void }> }).clients) : []) c.close(); });
      }
      await app.close();
      await store.close();
    },
  };
}

/** The server's user name on an external broker when none is configured. */
export const DEFAULT_BROKER_USERNAME = 'onecard-server';

/**
 * {@link bootstrapAdminToken}, tolerating a second server that bootstrapped the same shared store
 * at the same moment (its insert wins; this one then finds tokens and creates none).
 */
async function bootstrapOnce(store: Store, preset: string | undefined): Promise<string | undefined> {
  try {
    return await bootstrapAdminToken(store, systemClock, preset);
  } catch (e) {
    if ((await store.listAdminTokens()).length > 0) return undefined;
    throw e;
  }
}
