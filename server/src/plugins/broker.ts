/**
 * The MQTT side of the server. By default an embedded aedes broker (in memory, or with its
 * sessions, retained messages and publishes shared over Redis with other servers when
 * `redisUrl` is set); or, with `external`, a privileged client of an external broker such as
 * Mosquitto (`scale/external-broker.ts`). Either way feature plugins see the same interface:
 * validated uplinks through `app.uplink` (acknowledged only after their handlers ran) and
 * `app.publishDown`. Access decisions of the embedded broker come from `broker/acl.ts`; this
 * plugin looks terminals up, counts refusals and drops the connection of a terminal that is
 * disabled or re-keyed. Resource limits (`broker/limits.ts`) hold before authentication — packet
 * sizes by fixed header, connections in total, per address and pending, the CONNECT deadline — and
 * after it: per-terminal in-flight uplink bytes, queued downlink bytes and subscriptions. It never
 * listens: `server.ts` hands each accepted socket to `app.mqttAccept`.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket } from 'aedes';
import { decodeFleetMessage, parseTopic, type FleetMessage, type FleetMessageKind, MAX_FLEET_PAYLOAD } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { decideConnect, decidePublish, decideSubscribe } from '../broker/acl.ts';
import { ConnectionGuard, type GuardStats } from '../broker/connection-guard.ts';
import { DEFAULT_BROKER_LIMITS, type BrokerLimits } from '../broker/limits.ts';
import { ServerError } from '../errors.ts';
import { groupCommit } from '../jobs/group-commit.ts';
import type { PresenceUpdate } from '../store/types.ts';
import { UNSAFE_TEXT_RE } from '../text-safety.ts';
import { createRedisBrokerBackends, type RedisBrokerBackends } from '../scale/redis.ts';
import { connectExternalBroker, type ExternalBrokerLink, type ExternalBrokerOptions } from '../scale/external-broker.ts';

const UNSAFE_TEXT_RE_G = new RegExp(UNSAFE_TEXT_RE.source, 'gu');

/** Uplink kinds a feature plugin can handle, and the schema each payload is checked against. */
export const UPLINK_SCHEMA: Readonly<Record<string, FleetMessageKind>> = {
  birth: 'birth',
  death: 'death',
  tele: 'tele',
  events: 'events',
  'config/status': 'config/status',
  jobs: 'jobs/progress',
  rpc: 'rpc/response',
};

export interface UplinkEvents {
  birth: [terminalId: string, msg: FleetMessage<'birth'>];
  death: [terminalId: string, msg: FleetMessage<'death'>];
  tele: [terminalId: string, msg: FleetMessage<'tele'>];
  events: [terminalId: string, msg: FleetMessage<'events'>];
  /**
   * An `up/events` payload that failed its schema, for salvage: the parsed JSON (undefined when it
   * is not JSON or too large) and the protocol error code. Its handler decides what is stored and
   * acknowledged; without a handler the payload is only counted.
   */
  'events/malformed': [terminalId: string, value: unknown, code: string];
  'config/status': [terminalId: string, msg: FleetMessage<'config/status'>];
  jobs: [terminalId: string, msg: FleetMessage<'jobs/progress'>, jobId: string];
  rpc: [terminalId: string, msg: FleetMessage<'rpc/response'>, reqId: string];
  /** A terminal's connection closed (clean or not); `epoch` is the one its last birth gave. */
  disconnect: [terminalId: string, epoch: number];
}

/**
 * Handlers registered with {@link Uplink.handle} run in order; the broker acknowledges a QoS 1
 * PUBLISH only after they resolve, so a handler that stores data makes the message durable before
 * the terminal sees PUBACK.
 */
export class Uplink extends EventEmitter<UplinkEvents> {
  readonly #handlers = new Map<string, ((terminalId: string, msg: never, extra: string) => Promise<void>)[]>();

  handle<K extends keyof UplinkEvents & string>(kind: K, fn: (...args: UplinkEvents[K]) => Promise<void>): void {
    const list = this.#handlers.get(kind) ?? [];
    list.push(fn as unknown as (terminalId: string, msg: never, extra: string) => Promise<void>);
    this.#handlers.set(kind, list);
  }

  async dispatch(kind: string, terminalId: string, msg: unknown, extra: string): Promise<void> {
    for (const h of this.#handlers.get(kind) ?? []) await h(terminalId, msg as never, extra);
    (this.emit as (k: string, ...a: unknown[]) => boolean)(kind, terminalId, msg, extra);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The embedded broker; throws `SRV_ERR_NO_EMBEDDED_BROKER` in external-broker mode (see `brokerMode`). */
    broker: Aedes;
    /** `embedded` (aedes in this process, `redis` when shared with other servers) or `external`. */
    brokerMode: 'embedded' | 'redis' | 'external';
    uplink: Uplink;
    /** Publishes from the server to the broker (QoS 1, optionally retained). */
    publishDown(topic: string, payload: Uint8Array, retain?: boolean): Promise<void>;
    /** Current connection epoch per connected terminal (from its last birth). */
    terminalEpochs: Map<string, number>;
    /**
     * Hands an accepted MQTT socket to the embedded broker through its connection guard (limits
     * before authentication); closes it when a limit refuses it. Throws
     * `SRV_ERR_NO_EMBEDDED_BROKER` in external-broker mode.
     */
    mqttAccept(socket: Socket): boolean;
    /** Connections and buffered bytes held by the embedded broker's connection guard. */
    mqttStats(): GuardStats;
    /** Closes every MQTT connection the guard holds, authenticated or not (shutdown). */
    mqttCloseAll(): void;
  }
}

export interface BrokerOptions {
  readonly maxPayload?: number;
  /** Embedded broker with Redis persistence and emitter (`redis://host:port/db`), shared with other servers. */
  readonly redisUrl?: string;
  /** External broker: connect as a client instead of embedding aedes (takes precedence over `redisUrl`). */
  readonly external?: ExternalBrokerOptions;
  /** Limits of the embedded broker (defaults: `DEFAULT_BROKER_LIMITS`). */
  readonly limits?: Partial<BrokerLimits>;
}

async function brokerPlugin(app: FastifyInstance, opts: BrokerOptions): Promise<void> {
  const maxPayload = opts.maxPayload ?? MAX_FLEET_PAYLOAD;
  const { store } = app.ctx;
  const m = app.metrics;
  m.define('onecard_mqtt_refused_total', 'counter', 'Refused MQTT connects, publishes and subscriptions by reason');
  m.define('onecard_mqtt_malformed_total', 'counter', 'Uplink payloads dropped because they failed their schema');
  m.define('onecard_mqtt_connected', 'gauge', 'Connected MQTT clients');
  const uplink = new Uplink();
  const epochs = new Map<string, number>();
  app.decorate('uplink', uplink);
  app.decorate('terminalEpochs', epochs);

  /**
   * Validates one uplink of `terminalId` and runs its handlers. Resolves when it may be
   * acknowledged (also for a malformed payload, which is counted and dropped, or for `up/events`
   * handed to the `events/malformed` salvage handlers); rejects when a handler failed (not
   * durable: the caller must not acknowledge).
   */
  const processUplink = async (terminalId: string, topic: string, payload: Uint8Array): Promise<void> => {
    const parsed = parseTopic(topic);
    if (parsed === undefined || parsed.dir !== 'up' || parsed.terminalId !== terminalId) return;
    const kind = parsed.kind;
    const schema = UPLINK_SCHEMA[kind];
    if (schema === undefined) return;
    let msg: unknown;
    try {
      msg = decodeFleetMessage(schema, payload, maxPayload);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      m.inc('onecard_mqtt_malformed_total', { kind });
      // The path may name a property a hostile terminal chose: printable and bounded in the log.
      const path = typeof err.details.path === 'string' ? err.details.path.slice(0, 128).replace(UNSAFE_TEXT_RE_G, '?') : undefined;
      app.log.warn({ terminalId, kind, code: err.code, path }, kind === 'events' ? 'malformed outbox batch: salvaging its records' : 'malformed uplink dropped');
      if (kind === 'events') {
        // A batch dropped unacknowledged comes back from the terminal's outbox for ever and stalls
        // its uplink: the ingest salvages every record it can identify and acknowledges past it,
        // in the terminal's batch order (the handler queues behind the terminal's earlier batches).
        let value: unknown;
        if (err.code === 'PROTO_ERR_FLEET_SCHEMA' || err.code === 'PROTO_ERR_FLEET_VERSION') {
          try { value = JSON.parse(new TextDecoder().decode(payload)) as unknown; } catch { value = undefined; }
        }
        await uplink.dispatch('events/malformed', terminalId, value, err.code);
      }
      return;
    }
    const extra = parsed.kind === 'jobs' ? parsed.jobId : parsed.kind === 'rpc' ? parsed.reqId : '';
    await uplink.dispatch(kind, terminalId, msg, extra);
  };

  // Births and deaths that arrive together (a fleet connecting) share one commit (jobs/group-commit.ts).
  const presence = groupCommit(
    (xs: readonly { id: string; update: PresenceUpdate }[]) => store.updatePresences(xs),
    (x) => store.updatePresence(x.id, x.update),
  );
  uplink.handle('birth', async (terminalId, msg) => {
    epochs.set(terminalId, msg.epoch);
    await presence({ id: terminalId, update: { online: true, epoch: msg.epoch, at: app.ctx.clock.now(), reported: { versions: msg.versions, readers: msg.readers, ...(msg.kind !== undefined ? { kind: msg.kind } : {}) } } });
  });
  uplink.handle('death', async (terminalId, msg) => {
    await presence({ id: terminalId, update: { online: false, epoch: msg.epoch, at: app.ctx.clock.now() } });
  });

  if (opts.external !== undefined) {
    await externalMode(app, opts.external, processUplink, epochs, uplink);
    return;
  }

  let redis: RedisBrokerBackends | undefined;
  if (opts.redisUrl !== undefined) {
    redis = createRedisBrokerBackends(opts.redisUrl, (err) => app.log.error({ err: { message: err.message } }, 'redis emitter error'));
  }
  app.decorate('brokerMode', redis === undefined ? 'embedded' : 'redis');
  // A PUBLISH may carry the configured largest payload plus topic and packet id.
  const limits: BrokerLimits = { ...DEFAULT_BROKER_LIMITS, maxPublishBytes: maxPayload + (DEFAULT_BROKER_LIMITS.maxPublishBytes - MAX_FLEET_PAYLOAD), ...opts.limits };
  const broker = await Aedes.createBroker({
    // Unique per process: with Redis, brokers tell each other apart (client takeover, wills) by id.
    id: `onecard-${process.pid}-${randomBytes(4).toString('hex')}`,
    heartbeatInterval: redis === undefined ? 60_000 : 5_000,
    // The guard's deadline (which also covers a CONNECT whose authentication hangs) fires first.
    connectTimeout: limits.connectDeadlineMs + 1_000,
    maxClientsIdLength: 64,
    // Packets a client may pipeline behind its CONNECT before CONNACK; the guard's
    // pre-authentication byte budget bounds their size.
    queueLimit: 8,
    keepaliveLimit: limits.maxKeepaliveSeconds,
    ...(redis !== undefined ? { persistence: redis.persistence, mq: redis.mq } : {}),
  });
  m.collect(() => m.set('onecard_mqtt_connected', broker.connectedClients));

  const refuse = (what: string, reason: string): void => {
    m.inc('onecard_mqtt_refused_total', { what, reason });
  };
  /**
   * Refusals by unauthenticated clients come in floods: one warning per kind and reason every 10 s,
   * saying how many were not logged since (the counters keep every one).
   */
  const lastWarned = new Map<string, { at: number; suppressed: number }>();
  const warnThrottled = (key: string, fields: Record<string, unknown>, msg: string): void => {
    const now = Date.now();
    const w = lastWarned.get(key);
    if (w !== undefined && now - w.at < 10_000) {
      w.suppressed++;
      return;
    }
    app.log.warn({ ...fields, ...(w !== undefined && w.suppressed > 0 ? { suppressed: w.suppressed } : {}) }, msg);
    lastWarned.set(key, { at: now, suppressed: 0 });
  };

  m.define('onecard_mqtt_pending', 'gauge', 'MQTT connections accepted and not yet authenticated');
  m.define('onecard_mqtt_buffered_bytes', 'gauge', 'Bytes held for incomplete inbound MQTT packets (now, and the peak of one connection)');
  const guard = new ConnectionGuard({
    limits,
    onRefuse: (reason, address) => {
      refuse('socket', reason);
      warnThrottled(`socket:${reason}`, { address, reason }, 'mqtt connection closed by a limit');
    },
  });
  m.collect(() => {
    const st = guard.stats();
    m.set('onecard_mqtt_pending', st.pending);
    m.set('onecard_mqtt_buffered_bytes', st.bufferedBytes, { of: 'all' });
    m.set('onecard_mqtt_buffered_bytes', st.peakBufferedBytes, { of: 'peak' });
  });
  app.decorate('mqttAccept', (socket: Socket) => guard.accept(socket, (s) => broker.handle(s)));
  app.decorate('mqttStats', () => guard.stats());
  app.decorate('mqttCloseAll', () => guard.closeAll());
  /** Uplink bytes authorised and not yet through the `published` handlers, per connection. */
  const inflight = new Map<Client, number>();
  /** The Last Will each CONNECT announced, kept from `preConnect` for `authenticate`. */
  const wills = new WeakMap<Client, { topic: string; retain: boolean }>();
  broker.preConnect = (client, packet, done) => {
    if (packet.will !== undefined && packet.will !== null) wills.set(client, { topic: packet.will.topic, retain: packet.will.retain === true });
    done(null, true);
  };

  broker.authenticate = (client, username, password, done) => {
    const lookup = username !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(username) ? store.getTerminal(username) : Promise.resolve(undefined);
    lookup.then((terminal) => {
      const v = decideConnect({ clientId: client.id, username, password: password === undefined ? undefined : new Uint8Array(password), clean: client.clean, will: wills.get(client) }, terminal);
      if (v.ok) {
        guard.authenticated(client.conn as Socket);
        return done(null, true);
      }
      refuse('connect', v.reason);
      warnThrottled(`connect:${v.reason}`, { clientId: client.id.slice(0, 64), reason: v.reason }, 'mqtt connect refused');
      const err = Object.assign(new Error(v.reason), { returnCode: v.reason === 'terminal-disabled' || v.reason === 'client-id-mismatch' || v.reason === 'persistent-session' || v.reason === 'will-not-allowed' ? 5 : 4 });
      return done(err as Error & { returnCode: 4 | 5 }, false);
    }, (err: unknown) => {
      app.log.error({ err }, 'mqtt authenticate failed');
      done(Object.assign(new Error('store unavailable'), { returnCode: 3 }) as Error & { returnCode: 3 }, false);
    });
  };

  broker.authorizePublish = (client, packet, cb) => {
    if (client === null) return cb(null); // the server's own publishes
    const v = decidePublish(client.id, { topic: packet.topic, payloadLength: packet.payload.length, retain: packet.retain }, maxPayload);
    if (v.ok) {
      const held = (inflight.get(client) ?? 0) + packet.payload.length;
      if (held <= limits.maxInflightBytes) {
        inflight.set(client, held);
        return cb(null);
      }
      refuse('publish', 'inflight-bytes');
      app.log.warn({ clientId: client.id, held }, 'mqtt publish refused: in-flight bytes over the limit');
      return cb(new Error('inflight-bytes'));
    }
    refuse('publish', v.reason);
    app.log.warn({ clientId: client.id, topic: packet.topic.slice(0, 128), reason: v.reason }, 'mqtt publish refused');
    return cb(new Error(v.reason));
  };

  // Downlinks: a terminal that does not read its socket cannot make the server queue for it
  // without bound; its connection is closed and it reconciles by version when it comes back.
  broker.authorizeForward = (client, packet) => {
    const queued = (client.conn as Socket).writableLength ?? 0;
    if (queued + packet.payload.length <= limits.maxQueuedBytes) return packet;
    refuse('forward', 'queued-bytes');
    app.log.warn({ clientId: client.id, queued }, 'mqtt downlink queue over the limit: connection closed');
    client.close();
    return null;
  };

  broker.authorizeSubscribe = (client, sub, cb) => {
    const v = decideSubscribe(client.id, sub.topic);
    const held = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
    if (v.ok && !(sub.topic in held) && Object.keys(held).length >= limits.maxSubscriptions) {
      refuse('subscribe', 'too-many-subscriptions');
      return cb(null, null);
    }
    if (v.ok) return cb(null, sub);
    refuse('subscribe', v.reason);
    app.log.warn({ clientId: client.id, filter: sub.topic.slice(0, 128), reason: v.reason }, 'mqtt subscribe refused');
    return cb(null, null); // SUBACK 0x80 for this filter [MQTT-3.9.3-2]
  };

  // Uplink: validated, then dispatched; the PUBACK waits for the handlers. [MQTT-4.3.2-2]
  broker.published = (packet: AedesPublishPacket, client: Client | null, cb) => {
    if (client === null || packet.topic.startsWith('$SYS')) return cb();
    const release = (): void => {
      const left = (inflight.get(client) ?? 0) - packet.payload.length;
      if (left > 0) inflight.set(client, left);
      else inflight.delete(client);
    };
    processUplink(client.id, packet.topic, new Uint8Array(packet.payload as Buffer)).then(() => { release(); cb(); }, (err: unknown) => {
      release();
      app.log.error({ err, terminalId: client.id, topic: packet.topic.slice(0, 128) }, 'uplink handler failed');
      // Not acknowledged as durable: close the connection so the terminal retransmits.
      client.close();
      cb();
    });
  };

  broker.on('clientDisconnect', (client) => {
    inflight.delete(client);
    const epoch = epochs.get(client.id);
    if (epoch === undefined) return;
    const current = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[client.id];
    if (current !== undefined && current !== client) return; // a newer connection took over
    epochs.delete(client.id);
    store.updatePresence(client.id, { online: false, epoch, at: app.ctx.clock.now() }).catch((err: unknown) => app.log.error({ err }, 'presence update failed'));
    uplink.emit('disconnect', client.id, epoch);
  });

  const dropClient = (terminalId: string): void => {
    const c = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[terminalId];
    c?.close();
  };
  app.fleet.on('terminal-disabled', dropClient);
  app.fleet.on('terminal-credentials-changed', dropClient);

  app.decorate('broker', broker);
  app.decorate('publishDown', (topic: string, payload: Uint8Array, retain = false) => new Promise<void>((resolve, reject) => {
    const packet: PublishPacket = { cmd: 'publish', topic, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: 1, retain, dup: false };
    broker.publish(packet, (err) => (err ? reject(err) : resolve()));
  }));
  app.addHook('onClose', async () => {
    guard.closeAll();
    await new Promise<void>((r) => broker.close(() => r()));
    await redis?.destroyPersistence();
  });
}

/**
 * External-broker mode: the broker (e.g. Mosquitto) authenticates terminals and enforces the
 * topic ACL (generated by `scale/mosquitto.ts`), so the topic names the publisher. As a second
 * line, uplinks of unknown or disabled terminals are dropped. Presence comes from births and
 * Last Wills (`up/death`), the only connection signals a client of the broker sees.
 */
async function externalMode(
  app: FastifyInstance,
  ext: ExternalBrokerOptions,
  processUplink: (terminalId: string, topic: string, payload: Uint8Array) => Promise<void>,
  epochs: Map<string, number>,
  uplink: Uplink,
): Promise<void> {
  const m = app.metrics;
  m.define('onecard_broker_reconnects_total', 'counter', 'Reconnections of the server to the external broker');
  m.define('onecard_mqtt_dropped_total', 'counter', 'Uplinks of unknown or disabled terminals dropped in external-broker mode');
  // Uplinks queued in the server's broker session arrive right after CONNACK, before the feature
  // plugins registered their handlers: hold them (unacknowledged) until the app is ready.
  let markReady!: () => void;
  const ready = new Promise<void>((r) => { markReady = r; });
  app.addHook('onReady', async () => { markReady(); });
  let link: ExternalBrokerLink | undefined;
  link = await connectExternalBroker(ext, {
    onUplink: async (topic, payload) => {
      await ready;
      const parsed = parseTopic(topic);
      if (parsed === undefined || parsed.dir !== 'up') return;
      const terminal = await app.ctx.store.getTerminal(parsed.terminalId);
      if (terminal === undefined || terminal.status !== 'active') {
        m.inc('onecard_mqtt_dropped_total', { reason: terminal === undefined ? 'unknown-terminal' : 'terminal-disabled' });
        return;
      }
      await processUplink(parsed.terminalId, topic, payload);
    },
    onError: (err) => app.log.warn({ err: { message: err.message } }, 'external broker link'),
    onConnect: (again) => {
      if (again) m.inc('onecard_broker_reconnects_total');
      app.log.info({ url: ext.url, reconnect: again }, 'connected to the external broker');
    },
  });
  m.collect(() => m.set('onecard_mqtt_connected', link?.connected === true ? 1 : 0));
  uplink.on('death', (terminalId) => {
    const epoch = epochs.get(terminalId);
    epochs.delete(terminalId);
    if (epoch !== undefined) uplink.emit('disconnect', terminalId, epoch);
  });
  app.decorate('brokerMode', 'external');
  app.decorate('mqttAccept', (): boolean => {
    throw new ServerError('SRV_ERR_NO_EMBEDDED_BROKER', `this server uses ${ext.url}`);
  });
  app.decorate('mqttStats', (): GuardStats => ({ open: 0, pending: 0, addresses: 0, peakBufferedBytes: 0, bufferedBytes: 0 }));
  app.decorate('mqttCloseAll', () => {});
  app.decorate('broker', {
    getter(): Aedes {
      throw new ServerError('SRV_ERR_NO_EMBEDDED_BROKER', `this server uses ${ext.url}`);
    },
  });
  app.decorate('publishDown', (topic: string, payload: Uint8Array, retain = false) => link!.publish(topic, payload, retain));
  app.addHook('onClose', async () => {
    await link?.close();
    link = undefined;
  });
}

export default fp(brokerPlugin, { name: 'onecard-broker', dependencies: ['onecard-metrics'] });
