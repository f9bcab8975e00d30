/**
 * Starts a whole server process from a configuration: store, keys, HTTP API and embedded broker.
 * Used by `main.ts` and by end-to-end tests and the demo, which need real ports.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, bootstrapAdminToken, REDACT_PATHS } from './app.ts';
import type { ServerConfig } from './config.ts';
import { systemClock } from './context.ts';
import { loadOrCreateServerKeys } from './keys-file.ts';
import { openSqliteStore } from './store/sqlite.ts';
import { dirname, join } from 'node:path';
import { createServer, type Server } from 'node:net';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly bootstrapToken: string | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly config: ServerConfig;
  readonly dbPath: string;
  readonly adminTokenPreset?: string | undefined;
  /** pino destination override (tests parse the log). */
  readonly logStream?: NodeJS.WritableStream;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const cfg = opts.config;
  const store = openSqliteStore(opts.dbPath);
  const keys = loadOrCreateServerKeys(dirname(opts.dbPath));
  const clock = systemClock;
  const app = await buildApp({
    store, clock, keys,
    logger: { level: cfg.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, ...(opts.logStream !== undefined ? { stream: opts.logStream } : {}) },
    updates: { packageDir: join(dirname(opts.dbPath), 'packages'), trustedKeys: (cfg.updateKeys ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0) },
    settings: {
      enrolmentTokenTtlSeconds: cfg.enrolmentTokenTtlSeconds,
      authRateLimitPerMinute: cfg.authRateLimitPerMinute,
      mqttUrl: cfg.publicMqttUrl ?? `mqtt://${cfg.mqttHost}:${cfg.mqttPort}`,
    },
  });
  const bootstrapToken = await bootstrapAdminToken(store, clock, opts.adminTokenPreset);
  await app.listen({ host: cfg.host, port: cfg.httpPort });
  const addr = app.server.address();
  const httpPort = typeof addr === 'object' && addr !== null ? addr.port : cfg.httpPort;
  const httpUrl = `http://${cfg.host}:${httpPort}`;
  const mqttServer: Server = createServer((socket) => app.broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    mqttServer.once('error', reject);
    mqttServer.listen(cfg.mqttPort, cfg.mqttHost, () => resolve());
  });
  const maddr = mqttServer.address();
  const mqttPort = typeof maddr === 'object' && maddr !== null ? maddr.port : cfg.mqttPort;
  const mqttUrl = `mqtt://${cfg.mqttHost}:${mqttPort}`;
  // Terminals enrolled from now on are told the real port when 0 (a free one) was asked for.
  (app.ctx.settings as { mqttUrl: string }).mqttUrl = cfg.publicMqttUrl ?? mqttUrl;
  let closed = false;
  return {
    app,
    httpUrl,
    mqttUrl,
    bootstrapToken,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((r) => { mqttServer.close(() => r()); for (const c of (app.broker as unknown as { clients: Record<string, { close(): void }> }).clients ? Object.values((app.broker as unknown as { clients: Record<string, { close(): void }> }).clients) : []) c.close(); });
      await app.close();
      await store.close();
    },
  };
}
