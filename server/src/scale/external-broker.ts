/**
 * External-broker mode: instead of embedding aedes, the server connects to a broker (Mosquitto,
 * EMQX, …) as one privileged MQTT client with a persistent session (`clean: false`), subscribes
 * to every terminal's uplink (`t/+/up/#`, QoS 1) and publishes the down topics.
 *
 * Delivery guarantee: the server acknowledges (PUBACK) each QoS 1 uplink on its own subscription
 * only after the uplink handlers ran (stored, acked to the terminal); if a handler fails, or the
 * server dies first, no PUBACK goes out and the broker redelivers the message from the server's
 * persistent session when it reconnects. mqtt.js handles incoming packets one at a time, so
 * uplinks are processed in the order the broker delivers them.
 *
 * Two connections: the subscriber (user `{username}`) whose packet loop is held while a handler
 * runs, and the publisher (user `{username}.pub`, same password) for down topics, whose PUBACKs
 * therefore arrive even while a handler awaits its own publish (the ingest ack).
 */
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { ServerError } from '../errors.ts';

export interface ExternalBrokerOptions {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  readonly url: string;
  readonly username: string;
  readonly password?: string | undefined;
  /** Defaults to the username (Mosquitto's `use_username_as_clientid` forces that anyway). */
  readonly clientId?: string | undefined;
  /** Extra mqtt.js options (TLS `ca`, `rejectUnauthorized`, …). */
  readonly tls?: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  /** How long the first connection may take (ms, default 30 000). */
  readonly connectTimeoutMs?: number;
}

/** The publisher connection's user name (and client id) for a server user name. */
export function publisherUsername(username: string): string {
  return `${username}.pub`;
}

/** The uplink filter the server subscribes to. */
export const UPLINK_FILTER = 't/+/up/#';

export interface ExternalBrokerLink {
  /** QoS 1 publish; resolves on the broker's PUBACK (queued while reconnecting). */
  publish(topic: string, payload: Uint8Array, retain: boolean): Promise<void>;
  readonly connected: boolean;
  /** Reconnects seen since start (not counting the first connection). */
  readonly reconnects: number;
  close(): Promise<void>;
}

export interface ExternalBrokerHooks {
  /** Runs for every uplink; the PUBACK waits for it. A rejection leaves the message unacknowledged and reconnects. */
  onUplink(topic: string, payload: Uint8Array): Promise<void>;
  onError?(err: Error): void;
  onConnect?(reconnect: boolean): void;
}

/**
 * Connects, subscribes and returns the link once the first SUBACK arrived.
 * @throws ServerError `SRV_ERR_BROKER_UNAVAILABLE` when the broker refuses or cannot be reached in time.
 */
export async function connectExternalBroker(opts: ExternalBrokerOptions, hooks: ExternalBrokerHooks): Promise<ExternalBrokerLink> {
  const base: IClientOptions = {
    protocolVersion: 4,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    resubscribe: false,
    ...(opts.tls ?? {}),
  };
  const client: MqttClient = mqtt.connect(opts.url, { ...base, clientId: opts.clientId ?? opts.username, username: opts.username, clean: false });
  const pub: MqttClient = mqtt.connect(opts.url, { ...base, clientId: publisherUsername(opts.clientId ?? opts.username), username: publisherUsername(opts.username), clean: true });
  let reconnects = 0;
  let first = true;

  // The PUBACK of a QoS 1 uplink is sent when this callback runs without an error. [MQTT-4.3.2]
  client.handleMessage = (packet: Packet, callback: (err?: Error) => void): void => {
    if (packet.cmd !== 'publish') return callback();
    const payload = typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
    hooks.onUplink(packet.topic, payload).then(() => callback(), (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      hooks.onError?.(e);
      callback(e);
      // Not acknowledged: drop the connection so the broker redelivers from the session.
      client.stream?.destroy();
    });
  };

  const subscribe = (): Promise<void> => new Promise((resolve, reject) => {
    client.subscribe(UPLINK_FILTER, { qos: 1 }, (err, granted) => {
      if (err) return reject(err);
      if (granted?.[0]?.qos === 128) return reject(new ServerError('SRV_ERR_BROKER_UNAVAILABLE', `subscription to ${UPLINK_FILTER} refused: check the server's ACL on the broker`));
      resolve();
    });
  });

  client.on('connect', () => {
    const again = !first;
    if (again) reconnects++;
    first = false;
    hooks.onConnect?.(again);
    if (again) subscribe().catch((err: unknown) => hooks.onError?.(err instanceof Error ? err : new Error(String(err))));
  });
  client.on('error', (err) => hooks.onError?.(err));
  pub.on('error', (err) => hooks.onError?.(err));

  let sessionPresent = false;
  client.once('connect', (ack) => { sessionPresent = ack.sessionPresent; });
  const connected = (c: MqttClient, who: string): Promise<void> => new Promise<void>((resolve, reject) => {
    if (c.connected) return resolve();
    const timer = setTimeout(() => reject(new ServerError('SRV_ERR_BROKER_UNAVAILABLE', `no CONNACK from ${opts.url} for ${who} in time`)), opts.connectTimeoutMs ?? 30_000);
    const onErr = (err: Error & { code?: unknown }): void => {
      // Refused credentials (CONNACK 4/5) will not get better by retrying.
      if (err.code === 4 || err.code === 5) { clearTimeout(timer); reject(new ServerError('SRV_ERR_BROKER_UNAVAILABLE', `${opts.url} refused ${who} (CONNACK ${String(err.code)})`, {}, { cause: err })); }
    };
    c.on('error', onErr);
    c.once('connect', () => { clearTimeout(timer); c.removeListener('error', onErr); resolve(); });
  });
  try {
    await Promise.all([connected(client, opts.username), connected(pub, publisherUsername(opts.username))]);
    // With a session present, uplinks queued in it come before the SUBACK and are held until the
    // app is ready, so waiting for the SUBACK here would deadlock; the subscription exists anyway.
    if (sessionPresent) subscribe().catch((err: unknown) => hooks.onError?.(err instanceof Error ? err : new Error(String(err))));
    else await subscribe();
  } catch (e) {
    await Promise.all([client.endAsync(true).catch(() => {}), pub.endAsync(true).catch(() => {})]);
    throw e;
  }

  return {
    publish: (topic, payload, retain) => new Promise<void>((resolve, reject) => {
      pub.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain }, (err) => (err ? reject(err) : resolve()));
    }),
    get connected() { return client.connected && pub.connected; },
    get reconnects() { return reconnects; },
    async close() {
      await Promise.all([client, pub].map((c) => c.endAsync(false).catch(() => c.endAsync(true))));
    },
  };
}
