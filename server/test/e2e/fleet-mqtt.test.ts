/**
 * End to end over real loopback sockets: HTTP enrolment, MQTT (the `mqtt` npm client) birth,
 * retained configuration pointer, document fetch with terminal credentials, applied status,
 * events batch and its ack, hotlist broadcast and delta, malformed and oversized payloads.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EXAMPLE_TERMINAL_CONFIG, MAX_FLEET_PAYLOAD, decodeFleetMessage, encodeFleetMessage } from '@onecard/protocol/fleet';
import { startServer } from '../../src/server.ts';
import { CONFIG_DEFAULTS } from '../../src/config.ts';
import { newTerminalKey } from '../helpers.ts';

const ADMIN = 'e2e-admin-token-0123456789';

/** Collects messages by topic and lets a test wait for the next one matching a predicate. */
function inbox(client: MqttClient) {
  const msgs: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const waiters: { pred: (m: { topic: string; payload: Buffer }) => boolean; resolve: (m: { topic: string; payload: Buffer; retain: boolean }) => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload, retain: packet.retain };
    msgs.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  return {
    msgs,
    next(pred: (m: { topic: string; payload: Buffer }) => boolean, what: string): Promise<{ topic: string; payload: Buffer; retain: boolean }> {
      const have = msgs.find(pred);
      if (have !== undefined) { msgs.splice(msgs.indexOf(have), 1); return Promise.resolve(have); }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
        waiters.push({ pred, resolve: (m) => { clearTimeout(timer); msgs.splice(msgs.indexOf(m), 1); resolve(m); } });
      });
    },
  };
}

t.test('terminal life cycle over loopback HTTP + MQTT', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-e2e-'));
  const srv = await startServer({ config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'silent' }, dbPath: join(dir, 'onecard.db'), adminTokenPreset: ADMIN });
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` }) => {
    const res = await fetch(`${srv.httpUrl}${path}`, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: (text.length > 0 && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined) as Record<string, unknown> & { [k: string]: never }, text, headers: res.headers };
  };

  t.equal((await api('POST', '/api/v1/groups', { id: 'hall', name: 'Service hall' })).status, 201);
  const cfg = (await api('POST', '/api/v1/configs', { id: 'hall-kiosk', name: 'Hall kiosk', document: EXAMPLE_TERMINAL_CONFIG })).json as unknown as { version: number; sha256: string };
  await api('PUT', '/api/v1/groups/hall/config', { configId: 'hall-kiosk' });

  const enrolOne = async () => {
    const tok = (await api('POST', '/api/v1/enrolment-tokens', { groupId: 'hall' })).json as unknown as { token: string };
    const r = await api('POST', '/api/v1/enrol', { token: tok.token, publicKey: newTerminalKey(), kind: 'hall-kiosk' }, {});
    t.equal(r.status, 201);
    return r.json as unknown as { terminalId: string; mqtt: { url: string; clientId: string; username: string; password: string } };
  };
  const connect = async (e: Awaited<ReturnType<typeof enrolOne>>, epoch: number) => {
    const c = await mqtt.connectAsync(e.mqtt.url, {
      clientId: e.mqtt.clientId, username: e.mqtt.username, password: e.mqtt.password, protocolVersion: 4, clean: true, reconnectPeriod: 0,
      will: { topic: `t/${e.terminalId}/up/death`, payload: Buffer.from(encodeFleetMessage('death', { v: 1, epoch })), qos: 1, retain: false },
    });
    clients.push(c);
    return c;
  };

  const a = await enrolOne();
  t.equal(a.mqtt.url, srv.mqttUrl, 'enrolment hands out the real MQTT URL');
  const ca = await connect(a, 1);
  const ia = inbox(ca);
  await ca.subscribeAsync([`t/${a.terminalId}/down/#`, 'fleet/broadcast/#'], { qos: 1 });
  await ca.publishAsync(`t/${a.terminalId}/up/birth`, Buffer.from(encodeFleetMessage('birth', { v: 1, epoch: 1, ts: Date.now(), versions: { software: '0.1.0', config: 0, keys: 0, hotlist: 0 }, readers: [{ id: 'front', link: 'serial', status: 'ok', card: false, psam: true }] })), { qos: 1 });
  t.match((await api('GET', `/api/v1/terminals/${a.terminalId}`)).json, { online: true, epoch: 1 }, 'birth stored (PUBACK waited for it)');

  // Configuration pointer (retained) → fetch → verify → applied.
  const ptrMsg = await ia.next((m) => m.topic === `t/${a.terminalId}/down/config`, 'config pointer');
  const ptr = decodeFleetMessage('config', new Uint8Array(ptrMsg.payload));
  t.same(ptr, { v: 1, version: cfg.version, sha256: cfg.sha256 });
  const basic = `Basic ${Buffer.from(`${a.terminalId}:${a.mqtt.password}`).toString('base64')}`;
  const docRes = await fetch(`${srv.httpUrl}/api/v1/terminal/config/${ptr.version}`, { headers: { authorization: basic } });
  t.equal(docRes.status, 200);
  const bytes = Buffer.from(await docRes.arrayBuffer());
  t.equal(createHash('sha256').update(bytes).digest('hex'), ptr.sha256, 'document matches the pointer');
  t.same(JSON.parse(bytes.toString('utf8')), EXAMPLE_TERMINAL_CONFIG);
  await ca.publishAsync(`t/${a.terminalId}/up/config/status`, Buffer.from(encodeFleetMessage('config/status', { v: 1, version: ptr.version, status: 'applied' })), { qos: 1 });
  t.match((await api('GET', `/api/v1/terminals/${a.terminalId}/config`)).json, { inSync: true, appliedVersion: cfg.version });

  // Events batch → ack after durable → visible in the API.
  const records = Array.from({ length: 50 }, (_, i) => ({ eventId: `e2e-${String(i + 1).padStart(6, '0')}`, seq: i + 1, ts: Date.now(), type: i % 10 === 0 ? 'txn.purchase' : 'card.read', body: { n: i } }));
  await ca.publishAsync(`t/${a.terminalId}/up/events`, Buffer.from(encodeFleetMessage('events', { v: 1, records })), { qos: 1 });
  const ack = decodeFleetMessage('ack', new Uint8Array((await ia.next((m) => m.topic === `t/${a.terminalId}/down/ack`, 'ack')).payload));
  t.same(ack, { v: 1, upToSeq: 50 });
  const listed = (await api('GET', `/api/v1/events?terminal=${a.terminalId}&limit=1000`)).json as unknown as { events: unknown[] };
  t.equal(listed.events.length, 50);
  t.equal(((await api('GET', '/api/v1/events?typePrefix=txn.')).json as unknown as { events: unknown[] }).events.length, 5);

  // A second terminal sends garbage and an oversized payload: counted, dropped, A unaffected.
  const b = await enrolOne();
  const cb = await connect(b, 1);
  await cb.publishAsync(`t/${b.terminalId}/up/events`, Buffer.from('{"v":1,"records":[{"eventId":"x"}]}'), { qos: 1 });
  await cb.publishAsync(`t/${b.terminalId}/up/events`, Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
  const metrics = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  t.match(metrics, /onecard_mqtt_malformed_total\{kind="events"\} 2/);
  const closed = new Promise<void>((r) => cb.once('close', () => r()));
  cb.publish(`t/${b.terminalId}/up/events`, Buffer.alloc(MAX_FLEET_PAYLOAD + 1, 0x20), { qos: 1 });
  await closed;
  t.match(await (await fetch(`${srv.httpUrl}/metrics`)).text(), /onecard_mqtt_refused_total\{reason="payload-too-large",what="publish"\} 1/, 'oversized publish refused and counted');
  t.equal(((await api('GET', `/api/v1/events?terminal=${b.terminalId}`)).json as unknown as { events: unknown[] }).events.length, 0, 'nothing stored from B');
  await ca.publishAsync(`t/${a.terminalId}/up/events`, Buffer.from(encodeFleetMessage('events', { v: 1, records: [{ eventId: 'e2e-000051', seq: 51, ts: Date.now(), type: 'card.read', body: {} }] })), { qos: 1 });
  t.same(decodeFleetMessage('ack', new Uint8Array((await ia.next((m) => m.topic === `t/${a.terminalId}/down/ack`, 'second ack')).payload)), { v: 1, upToSeq: 51 }, 'A still served');

  // Loss report by an admin → broadcast pointer → delta.
  await ia.next((m) => m.topic === 'fleet/broadcast/hotlist', 'initial hotlist pointer');
  await api('POST', '/api/v1/hotlist/report', { cardNumbers: ['X00000019'], reason: 'lost' });
  const hp = decodeFleetMessage('hotlist', new Uint8Array((await ia.next((m) => m.topic === 'fleet/broadcast/hotlist', 'hotlist pointer')).payload));
  t.same(hp, { v: 1, version: 1 });
  const delta = await fetch(`${srv.httpUrl}/api/v1/terminal/hotlist?since=0`, { headers: { authorization: `Bearer ${a.mqtt.password}` } });
  t.same(await delta.json(), { v: 1, kind: 'delta', fromVersion: 0, version: 1, add: ['X00000019'], remove: [] });

  // Config edit reaches the connected terminal live.
  await api('PUT', '/api/v1/configs/hall-kiosk', { document: { ...EXAMPLE_TERMINAL_CONFIG, logLevel: 'debug' }, expectedVersion: cfg.version });
  const p2 = decodeFleetMessage('config', new Uint8Array((await ia.next((m) => m.topic === `t/${a.terminalId}/down/config`, 'new pointer')).payload));
  t.ok(p2.version > cfg.version);
});
