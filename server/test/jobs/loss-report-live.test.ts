/**
 * A kiosk loss report (`card.loss-report` on `up/events`) must reach every CONNECTED terminal
 * live: the retained `fleet/broadcast/hotlist` pointer is delivered to an MQTT client over a real
 * loopback socket right after the reporting terminal's batch is acknowledged.
 */
import t from 'tap';
import { createServer, type Server } from 'node:net';
import mqtt from 'mqtt';
import { encodeFleetMessage } from '@onecard/protocol/fleet';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';

async function enrol(ta: TestApp, groupId = 'hall'): Promise<{ terminalId: string; password: string }> {
  if ((await ta.app.ctx.store.getGroup(groupId)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: groupId, name: groupId } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password };
}

t.test('kiosk loss report: the hotlist pointer reaches a connected terminal live', async (t) => {
  const ta = await makeTestApp();
  const net: Server = createServer((s) => ta.app.broker.handle(s));
  await new Promise<void>((r) => net.listen(0, '127.0.0.1', () => r()));
  const port = (net.address() as { port: number }).port;
  await ta.app.ready();
  const kiosk = await enrol(ta);
  const other = await enrol(ta);
  const connect = (e: { terminalId: string; password: string }) => mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: e.terminalId, username: e.terminalId, password: e.password, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  const a = await connect(kiosk);
  const b = await connect(other);
  t.teardown(async () => {
    await a.endAsync(true); await b.endAsync(true);
    await new Promise<void>((r) => net.close(() => r()));
    await ta.app.close();
  });
  const versions: number[] = [];
  const kioskVersions: number[] = [];
  let wake: (() => void) | undefined;
  b.on('message', (topic, payload) => {
    if (topic !== 'fleet/broadcast/hotlist') return;
    versions.push((JSON.parse(payload.toString('utf8')) as { version: number }).version);
    wake?.();
  });
  a.on('message', (topic, payload) => {
    if (topic !== 'fleet/broadcast/hotlist') return;
    kioskVersions.push((JSON.parse(payload.toString('utf8')) as { version: number }).version);
    wake?.();
  });
  await b.subscribeAsync(['fleet/broadcast/#'], { qos: 1 });
  const acks: number[] = [];
  a.on('message', (topic, payload) => { if (topic.endsWith('/down/ack')) acks.push((JSON.parse(payload.toString('utf8')) as { upToSeq: number }).upToSeq); });
  await a.subscribeAsync([`t/${kiosk.terminalId}/down/#`, 'fleet/broadcast/#'], { qos: 1 });
  // The retained pointer of version 0 arrives on subscribe.
  await new Promise<void>((resolve) => { wake = () => { if (versions.length > 0 && kioskVersions.length > 0) resolve(); }; wake(); });
  t.same(versions, [0]);
  t.same(kioskVersions, [0]);

  const got = new Promise<void>((resolve) => { wake = () => { if (versions.includes(1) && kioskVersions.includes(1)) resolve(); }; });
  await a.publishAsync(`t/${kiosk.terminalId}/up/events`, Buffer.from(encodeFleetMessage('events', {
    v: 1, records: [{ eventId: `${kiosk.terminalId}-1-abcdef`, seq: 1, ts: 1, type: 'card.loss-report', body: { cardNumber: 'X00000019', pinVerified: true, reason: 'lost' } }],
  })), { qos: 1 });
  await got; // the test's timeout fails it when the pointer never arrives
  t.same(versions, [0, 1], 'pointer for the new version delivered live');
  t.same(kioskVersions, [0, 1], 'and to the reporting kiosk itself');
  t.same(acks, [1], 'the batch was acknowledged');
  t.equal((await ta.app.inject({ method: 'GET', url: '/api/v1/hotlist/X00000019', headers: ta.auth() })).statusCode, 200);
});

t.test('[fleet-protocol §6] the change itself is broadcast before the pointer; a terminal cannot forge it', async (t) => {
  const ta = await makeTestApp();
  const net: Server = createServer((s) => ta.app.broker.handle(s));
  await new Promise<void>((r) => net.listen(0, '127.0.0.1', () => r()));
  const port = (net.address() as { port: number }).port;
  await ta.app.ready();
  const honest = await enrol(ta);
  const attacker = await enrol(ta);
  const connect = (e: { terminalId: string; password: string }) => mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: e.terminalId, username: e.terminalId, password: e.password, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  const h = await connect(honest);
  const x = await connect(attacker);
  t.teardown(async () => {
    await h.endAsync(true); await x.endAsync(true).catch(() => undefined);
    await new Promise<void>((r) => net.close(() => r()));
    await ta.app.close();
  });
  const seen: { topic: string; body: Record<string, unknown> }[] = [];
  let wake: (() => void) | undefined;
  h.on('message', (topic, payload) => {
    if (!topic.startsWith('fleet/broadcast/hotlist')) return;
    seen.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> });
    wake?.();
  });
  await h.subscribeAsync(['fleet/broadcast/#'], { qos: 1 });
  await new Promise<void>((resolve) => { wake = () => { if (seen.length > 0) resolve(); }; wake(); });
  seen.length = 0;

  // The attacker tries to unlist nothing and list an honest card for the whole fleet.
  const forged = Buffer.from(encodeFleetMessage('hotlist/delta', { v: 1, fromVersion: 0, version: 1, add: ['A00000001'], remove: [] }));
  const closed = new Promise<void>((r) => x.once('close', () => r()));
  x.publish('fleet/broadcast/hotlist/delta', forged, { qos: 1, retain: true });
  await closed;
  t.equal(ta.app.metrics.get('onecard_mqtt_refused_total', { what: 'publish', reason: 'topic-not-allowed' }), 1, 'refused and counted');

  const got = new Promise<void>((resolve) => { wake = () => { if (seen.some((m) => m.topic === 'fleet/broadcast/hotlist' && m.body['version'] === 1)) resolve(); }; });
  await ta.app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: ta.auth(), payload: { cardNumbers: ['X00000019'], reason: 'lost' } });
  await got;
  t.same(seen.map((m) => m.topic), ['fleet/broadcast/hotlist/delta', 'fleet/broadcast/hotlist'], 'the change, then the pointer; nothing forged');
  t.same(seen[0]!.body, { v: 1, fromVersion: 0, version: 1, add: ['X00000019'], remove: [] });
  // A terminal connecting later gets the retained change and pointer on subscribe, and the same
  // change over HTTP.
  const late = await connect(await enrol(ta));
  t.teardown(() => late.endAsync(true));
  const retained: string[] = [];
  const both = new Promise<void>((resolve) => late.on('message', (topic) => { retained.push(topic); if (retained.length === 2) resolve(); }));
  await late.subscribeAsync(['fleet/broadcast/#'], { qos: 1 });
  await both;
  t.same(retained.sort(), ['fleet/broadcast/hotlist', 'fleet/broadcast/hotlist/delta']);
  const http = (await ta.app.inject({ url: '/api/v1/terminal/hotlist?since=0', headers: { authorization: `Basic ${Buffer.from(`${honest.terminalId}:${honest.password}`).toString('base64')}` } })).json() as Record<string, unknown>;
  t.same({ v: 1, fromVersion: http['fromVersion'], version: http['version'], add: http['add'], remove: http['remove'] }, seen[0]!.body, 'broadcast change = HTTP delta');
});

t.test('terminals asking for the same change read the change log once; a newer change is read again', async (t) => {
  const ta = await makeTestApp();
  t.teardown(() => ta.app.close());
  await ta.app.ready();
  const e = await enrol(ta);
  const store = ta.app.ctx.store;
  const real = store.hotlistSince.bind(store);
  const reads: (number | undefined)[] = [];
  store.hotlistSince = async (since) => { reads.push(since); return real(since); };
  const basic = { authorization: `Basic ${Buffer.from(`${e.terminalId}:${e.password}`).toString('base64')}` };
  const get = async (since: number) => (await ta.app.inject({ url: `/api/v1/terminal/hotlist?since=${since}`, headers: basic })).json() as { kind: string; version: number; add: string[]; remove: string[] };
  await ta.app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: ta.auth(), payload: { cardNumbers: ['X00000019', 'A00000001', 'B00000002'], reason: 'lost' } });
  for (let i = 0; i < 50 && reads.length === 0; i++) await new Promise((r) => setTimeout(r, 10)); // the announcement reads the change once
  reads.length = 0;
  const answers = await Promise.all(Array.from({ length: 20 }, () => get(0)));
  t.ok(answers.every((a) => a.kind === 'delta' && a.version === 1 && a.add.join() === 'A00000001,B00000002,X00000019'), 'every terminal gets the change');
  t.same(reads, [], 'answered without reading the change log again (the announcement read it)');
  await ta.app.inject({ method: 'POST', url: '/api/v1/hotlist/cancel', headers: ta.auth(), payload: { cardNumbers: ['X00000019'], reason: 'found' } });
  const from1 = await get(1);
  t.same([from1.kind, from1.version, from1.add, from1.remove], ['delta', 2, [], ['X00000019']]);
  const from0 = await get(0);
  t.same([from0.kind, from0.version], ['full', 2], 'a newer version is never answered from the older entry');
  t.ok(reads.includes(0) && reads.includes(1), 'read again for the new version');
});
