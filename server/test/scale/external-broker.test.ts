import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { hashToken } from '../../src/crypto-util.ts';
import { parseRedisUrl } from '../../src/scale/redis.ts';
import { storeSpec, redactUrl, isPostgresUrl } from '../../src/store/open.ts';
import { parseServerConfig } from '../../src/config.ts';

/** A plain broker standing in for Mosquitto (no ACL: the external mode relies on the broker's). */
async function plainBroker(t: Test): Promise<{ url: string; broker: Aedes }> {
  const broker = await Aedes.createBroker();
  const srv: Server = createServer((s) => broker.handle(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.teardown(async () => { await new Promise<void>((r) => broker.close(() => r())); await new Promise<void>((r) => srv.close(() => r())); });
  const a = srv.address();
  return { url: `mqtt://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`, broker };
}

t.test('external-broker mode: uplinks handled, acked only after handlers, redelivered after a failure', async (t) => {
  const { url } = await plainBroker(t);
  const store = openSqliteStore(':memory:');
  await store.createGroup({ id: 'g', name: 'g', createdAt: 1 });
  await store.createTerminal({ id: 'T1', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: hashToken('pw'), createdAt: 1 });
  await store.createTerminal({ id: 'T2', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: hashToken('pw2'), createdAt: 1 });
  await store.updateTerminal('T2', { status: 'disabled' });
  const app = await buildApp({ store, broker: { external: { url, username: 'onecard-server', password: 'x' } } });
  await bootstrapAdminToken(store, { now: () => 1 });
  let failNext = 0;
  app.uplink.handle('tele', async () => { if (failNext > 0) { failNext--; throw new Error('store down'); } });
  await app.ready();
  t.teardown(() => app.close());
  t.equal(app.brokerMode, 'external');
  t.throws(() => app.broker, { code: 'SRV_ERR_NO_EMBEDDED_BROKER' });

  const term = mqtt.connect(url, { clientId: 'T1', protocolVersion: 4 });
  const got: { topic: string; payload: string }[] = [];
  term.on('message', (topic, p) => got.push({ topic, payload: p.toString() }));
  await new Promise<void>((r) => term.once('connect', () => r()));
  t.teardown(() => term.endAsync(true));
  await term.subscribeAsync('t/T1/down/#', { qos: 1 });
  const records = [1, 2, 3].map((i) => ({ eventId: `T1-evt-${String(i).padStart(4, '0')}`, seq: i, ts: 1000 + i, type: 'card.read', body: {} }));
  await term.publishAsync('t/T1/up/events', JSON.stringify({ v: 1, records }), { qos: 1 });
  for (let i = 0; i < 100 && !got.some((m) => m.topic === 't/T1/down/ack'); i++) await new Promise((r) => setTimeout(r, 50));
  t.same(JSON.parse(got.find((m) => m.topic === 't/T1/down/ack')!.payload), { v: 1, upToSeq: 3 }, 'events stored and acked through the external broker');
  t.equal((await store.listEvents({ terminalId: 'T1' })).length, 3);

  await term.publishAsync('t/T1/up/birth', JSON.stringify({ v: 1, epoch: 7, ts: 1, versions: { software: 's', config: 0, keys: 0, hotlist: 0 }, readers: [] }), { qos: 1 });
  for (let i = 0; i < 100 && (await store.getTerminal('T1'))!.epoch !== 7; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(await store.getTerminal('T1'), { online: true, epoch: 7 }, 'birth marks online');

  // A disabled terminal's uplink (the broker should not let it connect at all) is dropped.
  const t2 = mqtt.connect(url, { clientId: 'T2', protocolVersion: 4 });
  await new Promise<void>((r) => t2.once('connect', () => r()));
  await t2.publishAsync('t/T2/up/events', JSON.stringify({ v: 1, records: [{ eventId: 'T2-evt-0001', seq: 1, ts: 1, type: 'card.read', body: {} }] }), { qos: 1 });
  await t2.endAsync();

  // A failing handler: no PUBACK on the server's subscription, the link reconnects, the broker
  // redelivers from the persistent session and the second attempt succeeds.
  let teleSeen = 0;
  app.uplink.on('tele', () => { teleSeen++; });
  failNext = 1;
  await term.publishAsync('t/T1/up/tele', JSON.stringify({ v: 1, epoch: 7, ts: 2, health: 'ok', readers: [], counters: {} }), { qos: 1 });
  for (let i = 0; i < 100 && teleSeen === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(teleSeen, 1, 'redelivered after the failed attempt and handled once');
  t.equal(failNext, 0, 'the first attempt failed');
  t.equal((await store.listEvents({ terminalId: 'T2' })).length, 0, "the disabled terminal's events were dropped");

  const pointer = new Promise<string>((r) => term.on('message', (topic, p) => { if (topic === 't/T1/down/config') r(p.toString()); }));
  await app.publishDown('t/T1/down/config', new TextEncoder().encode('{"v":1}'), true);
  t.equal(await pointer, '{"v":1}', 'publishDown goes through the broker');
});

t.test('external broker unreachable: coded error', async (t) => {
  const store = openSqliteStore(':memory:');
  await t.rejects(buildApp({ store, broker: { external: { url: 'mqtt://127.0.0.1:1', username: 'u', connectTimeoutMs: 1500 } } }), { code: 'SRV_ERR_BROKER_UNAVAILABLE' });
});

t.test('configuration of the scale-out modes', async (t) => {
  t.same(parseRedisUrl('redis://:s3cret@redis.local:6380/2'), { host: 'redis.local', port: 6380, db: 2, password: 's3cret' });
  t.same(parseRedisUrl('rediss://u:p@h'), { host: 'h', port: 6379, db: 0, username: 'u', password: 'p', tls: {} });
  t.throws(() => parseRedisUrl('http://x'), { code: 'SRV_ERR_CONFIG' });
  t.throws(() => parseRedisUrl('redis://h/x'), { code: 'SRV_ERR_CONFIG' });
  t.same(storeSpec(undefined, '/d/onecard.db'), { kind: 'sqlite', path: '/d/onecard.db' });
  t.same(storeSpec('postgres://u:p@h/db', '/d/x'), { kind: 'postgres', url: 'postgres://u:p@h/db' });
  t.same(storeSpec('sqlite:/tmp/a.db', '/d/x'), { kind: 'sqlite', path: '/tmp/a.db' });
  t.throws(() => storeSpec('mysql://h/db', '/d/x'), { code: 'SRV_ERR_CONFIG' });
  t.ok(isPostgresUrl('postgresql://h/db'));
  t.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
  const p = parseServerConfig(['--store', 'postgres://h/db', '--redis-url', 'redis://h', '--broker-url', 'mqtt://m:1883', '--mosquitto-dir', '/m'], { ONECARD_BROKER_PASSWORD: 'pw' }, () => '');
  t.match(p, { help: false, config: { storeUrl: 'postgres://h/db', redisUrl: 'redis://h', brokerUrl: 'mqtt://m:1883', brokerPassword: 'pw', mosquittoDir: '/m' } });
});
