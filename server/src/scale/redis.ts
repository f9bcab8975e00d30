/**
 * Several OneCard servers behind one MQTT address space: the embedded aedes broker of each server
 * keeps its sessions, subscriptions, retained messages and in-flight QoS 1 packets in Redis
 * (`aedes-persistence-redis`) and relays every publish through Redis pub/sub (`mqemitter-redis`),
 * so a terminal connected to one server receives what another server publishes, and a terminal
 * that moves to another server finds its retained pointers there.
 */
import { createRequire } from 'node:module';
import { ServerError } from '../errors.ts';

const require = createRequire(import.meta.url);

/** What aedes takes as `persistence` and `mq` (both untyped CommonJS packages). */
export interface RedisBrokerBackends {
  readonly persistence: unknown;
  readonly mq: unknown;
  /** Closes the persistence's Redis connections (aedes closes the emitter itself). */
  destroyPersistence(): Promise<void>;
}

export interface RedisConnection {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
  readonly tls?: Record<string, never>;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS).
 * @throws ServerError `SRV_ERR_CONFIG` for anything else.
 */
export function parseRedisUrl(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new ServerError('SRV_ERR_CONFIG', 'redis URL is not a URL', { option: 'redisUrl' }, { cause });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ServerError('SRV_ERR_CONFIG', 'redis URL must start with redis:// or rediss://', { option: 'redisUrl' });
  const db = u.pathname === '' || u.pathname === '/' ? 0 : Number(u.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) throw new ServerError('SRV_ERR_CONFIG', 'redis URL database must be a number', { option: 'redisUrl' });
  const port = u.port === '' ? 6379 : Number(u.port);
  return {
    host: u.hostname === '' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

interface PersistenceInstance { destroy(cb?: () => void): Promise<void> | undefined }

/**
 * Builds the aedes persistence and emitter for `redisUrl`. Connection errors are retried by the
 * Redis client; `onError` hears about them (never with credentials).
 * @throws ServerError `SRV_ERR_CONFIG` for a bad URL.
 */
export function createRedisBrokerBackends(redisUrl: string, onError: (err: Error) => void = () => {}): RedisBrokerBackends {
  const conn = parseRedisUrl(redisUrl);
  const persistenceFactory = require('aedes-persistence-redis') as (opts: object) => PersistenceInstance;
  const mqFactory = require('mqemitter-redis') as (opts: object) => { state: { on(ev: 'error', fn: (e: Error) => void): void } };
  const redisOpts = { ...conn, maxRetriesPerRequest: null, enableOfflineQueue: true };
  const persistence = persistenceFactory({ ...redisOpts, maxSessionDelivery: 1000 });
  const mq = mqFactory(redisOpts);
  mq.state.on('error', onError);
  let destroyed = false;
  return {
    persistence,
    mq,
    async destroyPersistence() {
      if (destroyed) return;
      destroyed = true;
      await new Promise<void>((resolve) => {
        const p = persistence.destroy(() => resolve());
        if (p !== undefined) p.then(() => resolve(), () => resolve());
      });
    },
  };
}
