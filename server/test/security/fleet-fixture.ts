/**
 * Fixture for the security suite: a real OneCard server (`startServer`, temp data dir, free ports)
 * with a group and three enrolled terminals, plus small promise wrappers over the `mqtt` client
 * that report exactly what the broker answered (CONNACK code, SUBACK codes, dropped connection).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { startServer, type RunningServer } from '../../src/server.ts';
import { CONFIG_DEFAULTS, type ServerConfig } from '../../src/config.ts';
import type { BrokerLimits } from '../../src/broker/limits.ts';

export const ADMIN_TOKEN = 'security-suite-admin-token-0123456789';

export interface EnrolledTerminal {
  readonly id: string;
  readonly password: string;
  readonly mqttUrl: string;
}

export interface Fleet {
  readonly server: RunningServer;
  readonly terminals: readonly [EnrolledTerminal, EnrolledTerminal, EnrolledTerminal];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  enrol(token: string): Promise<EnrolledTerminal>;
  enrolmentToken(): Promise<string>;
  /** Counter value of `onecard_mqtt_refused_total{what,reason}` scraped from `/metrics`. */
  refused(what: string, reason: string): Promise<number>;
  close(): Promise<void>;
}

export function p256PublicKey(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

export interface FleetOptions {
  /** Configuration over the suite's defaults (free ports, silent log, lenient auth limit). */
  readonly config?: Partial<ServerConfig>;
  /** Embedded broker limits not exposed as options (small packet limits in tests). */
  readonly brokerLimits?: Partial<BrokerLimits>;
  /** Pretend open-file limit of the process (descriptor budgets). */
  readonly openFileLimit?: number;
}

export async function startFleet(o: FleetOptions = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-sec-'));
  const server = await startServer({
    config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'silent', authRateLimitPerMinute: 1000, ...o.config },
    dbPath: join(dir, 'onecard.db'),
    adminTokenPreset: ADMIN_TOKEN,
    ...(o.brokerLimits !== undefined ? { brokerLimits: o.brokerLimits } : {}),
    ...(o.openFileLimit !== undefined ? { openFileLimit: o.openFileLimit } : {}),
  });
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${server.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  const g = await api('POST', '/api/v1/groups', { id: 'sec', name: 'security suite' });
  if (g.status !== 201 && g.status !== 200) throw new Error(`group create: ${g.status} ${JSON.stringify(g.json)}`);
  const enrolmentToken = async (): Promise<string> => {
    const r = await api('POST', '/api/v1/enrolment-tokens', { groupId: 'sec', tags: ['kind:kiosk'] });
    if (r.status !== 201) throw new Error(`enrolment token: ${r.status} ${JSON.stringify(r.json)}`);
    return (r.json as { token: string }).token;
  };
  const enrol = async (token: string): Promise<EnrolledTerminal> => {
    const res = await fetch(`${server.httpUrl}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, publicKey: p256PublicKey(), kind: 'kiosk' }) });
    const body = (await res.json()) as { terminalId: string; mqtt: { url: string; password: string } };
    if (res.status !== 201) throw new Error(`enrol: ${res.status} ${JSON.stringify(body)}`);
    return { id: body.terminalId, password: body.mqtt.password, mqttUrl: body.mqtt.url };
  };
  const terminals = [await enrol(await enrolmentToken()), await enrol(await enrolmentToken()), await enrol(await enrolmentToken())] as const;
  const refused = async (what: string, reason: string): Promise<number> => {
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`onecard_mqtt_refused_total{reason="${reason}",what="${what}"} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  };
  return {
    server,
    terminals,
    api,
    enrol,
    enrolmentToken,
    refused,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ConnectOutcome =
  | { readonly ok: true; readonly client: MqttClient }
  | { readonly ok: false; readonly code: number | undefined; readonly message: string };

/** Connects once (no reconnects, MQTT 3.1.1) and reports the CONNACK outcome. */
export function tryConnect(url: string, opts: IClientOptions): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, clean: true, ...opts });
    let settled = false;
    const settle = (o: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      if (!o.ok) client.end(true);
      resolve(o);
    };
    client.once('connect', () => settle({ ok: true, client }));
    client.once('error', (err) => settle({ ok: false, code: (err as { code?: number }).code, message: err.message }));
    client.once('close', () => settle({ ok: false, code: undefined, message: 'closed before CONNACK' }));
  });
}

/** Connects as an enrolled terminal (client id = username = terminal id) or fails the test. */
export async function connectTerminal(t: EnrolledTerminal, extra: IClientOptions = {}): Promise<MqttClient> {
  const o = await tryConnect(t.mqttUrl, { clientId: t.id, username: t.id, password: t.password, ...extra });
  if (!o.ok) throw new Error(`terminal ${t.id} could not connect: ${o.code} ${o.message}`);
  return o.client;
}

/** Subscribes to one filter and returns the return code the SUBACK carried for it. */
export function subscribeCode(client: MqttClient, filter: string, qos: 0 | 1 = 1): Promise<number> {
  return new Promise((resolve, reject) => {
    const onPacket = (p: Packet): void => {
      if (p.cmd !== 'suback') return;
      client.removeListener('packetreceive', onPacket);
      resolve(p.granted[0] as number);
    };
    client.on('packetreceive', onPacket);
    client.subscribe(filter, { qos }, () => undefined);
    setTimeout(() => {
      client.removeListener('packetreceive', onPacket);
      reject(new Error(`no SUBACK for ${filter}`));
    }, 5_000).unref();
  });
}

/** Resolves with 'closed' when the broker drops the connection within `ms`, else 'open'. */
export function closedWithin(client: MqttClient, ms: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve('closed');
    const timer = setTimeout(() => {
      client.removeListener('close', onClose);
      resolve('open');
    }, ms);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve('closed');
    };
    client.once('close', onClose);
  });
}

/**
 * Publishes and reports what the broker did: `accepted` (QoS 1: PUBACK and the connection stays
 * up; QoS 0: still connected 300 ms later), `disconnected` (the broker dropped the connection) or
 * `no-ack` (QoS 1 without PUBACK in 3 s).
 */
export function publishOutcome(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<'accepted' | 'disconnected' | 'no-ack'> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: 'accepted' | 'disconnected' | 'no-ack'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.removeListener('close', onClose);
      resolve(o);
    };
    const onClose = (): void => finish('disconnected');
    client.once('close', onClose);
    const timer = setTimeout(() => finish(qos === 1 ? 'no-ack' : 'accepted'), qos === 1 ? 3_000 : 300);
    client.publish(topic, payload, { qos }, (err) => {
      if (qos === 1 && (err === undefined || err === null)) setTimeout(() => finish('accepted'), 100);
    });
  });
}

export function end(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}
