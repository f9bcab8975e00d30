/**
 * Issue 12 items 3 and 4 over real loopback sockets against servers started with `startServer`.
 *
 * Item 3 — unauthenticated clients exhausting memory and descriptors: six sockets announce a
 * 250 MiB CONNECT and stream it; the server closes each at the fixed header and the bytes it held
 * for them (measured by the server's connection guard, not by timing) stay at a few bytes, where
 * the same stream against a broker without the limit is held whole. Idle unauthenticated sockets
 * beyond the caps (total, per address, descriptor budget) are closed and `/health`, `/ready` keep
 * answering; a connection that does not authenticate within the (small, configured) CONNECT
 * deadline is closed; an oversize PUBLISH after authentication is refused at its header while a
 * PUBLISH at the protocol's maximum payload passes.
 *
 * Item 4 — one terminal growing broker memory: retained or non-protocol uplinks are refused and
 * nothing is retained; persistent sessions are refused; subscriptions, in-flight uplink bytes and
 * queued downlink bytes per terminal are capped.
 */
import t from 'tap';
import { connect as tcpConnect, type Socket } from 'node:net';
import { MAX_FLEET_PAYLOAD } from '@onecard/protocol/fleet';
import { startFleet, tryConnect, connectTerminal, subscribeCode, publishOutcome, end, type Fleet, type EnrolledTerminal } from './fleet-fixture.ts';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** A CONNECT (MQTT 3.1.1, clean session, keep-alive 30 s) with user name and password. */
function connectPacket(id: string, password: string): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 30]), str(id), str(id), str(password)]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

function mqttAddress(f: Fleet): { host: string; port: number } {
  const u = new URL(f.server.mqttUrl);
  return { host: u.hostname, port: Number(u.port) };
}

function open(f: Fleet, localAddress?: string): Promise<Socket> {
  const { host, port } = mqttAddress(f);
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the server has closed `s` (end or reset). */
function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.on('error', () => undefined);
    s.once('close', () => resolve());
    s.resume();
  });
}

/**
 * Writes `header` then streams zeros in 64 KiB chunks, waiting for drain, until the server closes
 * the socket or `max` bytes were written. Returns the bytes the client managed to hand to the kernel.
 */
async function stream(s: Socket, header: Uint8Array, max: number): Promise<number> {
  s.on('error', () => undefined);
  let sent = 0;
  let gone = false;
  s.once('close', () => { gone = true; });
  s.write(header);
  const chunk = Buffer.alloc(64 * 1024);
  while (!gone && sent < max) {
    sent += chunk.length;
    if (!s.write(chunk)) {
      await new Promise<void>((r) => {
        const done = (): void => { s.removeListener('drain', done); s.removeListener('close', done); r(); };
        s.once('drain', done);
        s.once('close', done);
      });
    }
  }
  return sent;
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

async function status(f: Fleet, path: string): Promise<number> {
  return (await fetch(`${f.server.httpUrl}${path}`)).status;
}

t.test('announced-huge CONNECT streams are closed at the fixed header; buffered bytes stay bounded', async (t) => {
  const f = await startFleet();
  t.teardown(() => f.close());
  const before = await f.refused('socket', 'connect-too-large');
  const sockets = await Promise.all(Array.from({ length: 6 }, () => open(f)));
  const header = new Uint8Array([0x10, ...varint(250 * 1024 * 1024)]);
  const sent = await Promise.all(sockets.map((s) => stream(s, header, 32 * 1024 * 1024)));
  await Promise.all(sockets.map(closed));
  t.pass(`all 6 closed by the server (client wrote ${sent.map((n) => `${Math.round(n / 1024)} KiB`).join(', ')} before the close)`);
  t.equal(await f.refused('socket', 'connect-too-large') - before, 6, 'each refused as connect-too-large');
  const st = f.server.app.mqttStats();
  t.ok(st.peakBufferedBytes <= 64 * 1024, `peak bytes held for one incomplete packet: ${st.peakBufferedBytes} (bounded, not 250 MiB)`);
  t.equal(st.open, 0, 'no connection left');
  t.equal(st.bufferedBytes, 0, 'nothing held');
  t.equal(await status(f, '/health'), 200);
});

t.test('control: without the limit the same stream is held by the parser (the measurement sees it)', async (t) => {
  const f = await startFleet({ brokerLimits: { maxConnectBytes: 300 * 1024 * 1024, maxPreAuthBytes: 300 * 1024 * 1024 } });
  t.teardown(() => f.close());
  const s = await open(f);
  const header = new Uint8Array([0x10, ...varint(250 * 1024 * 1024)]);
  void stream(s, header, 4 * 1024 * 1024);
  await until(() => f.server.app.mqttStats().bufferedBytes >= 3 * 1024 * 1024, 'the server holding 3 MiB of one CONNECT');
  t.ok(f.server.app.mqttStats().peakBufferedBytes >= 3 * 1024 * 1024, `held ${f.server.app.mqttStats().bufferedBytes} bytes of one unfinished CONNECT`);
  s.destroy();
});

t.test('idle unauthenticated sockets beyond the caps are closed; HTTP keeps answering', async (t) => {
  // Loopback stands in for three remote addresses here (per-address caps on loopback switched on).
  const f = await startFleet({ config: { mqttMaxPending: 20, mqttMaxPendingPerAddress: 8, mqttConnectTimeoutMs: 120_000 }, brokerLimits: { perAddressCapsOnLoopback: true } });
  t.teardown(() => f.close());
  const held: Socket[] = [];
  const outcomes: Record<string, number> = {};
  for (const local of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
    for (let i = 0; i < 12; i++) {
      const s = await open(f, local);
      s.on('error', () => undefined);
      held.push(s);
    }
  }
  await until(() => f.server.app.mqttStats().open === 20, '20 connections held');
  await new Promise((r) => setTimeout(r, 100));
  const st = f.server.app.mqttStats();
  t.equal(st.open, 20, 'the server holds exactly the pending cap');
  t.equal(st.pending, 20);
  outcomes.perAddress = await f.refused('socket', 'too-many-pending-from-address');
  outcomes.total = await f.refused('socket', 'too-many-pending');
  t.same(outcomes, { perAddress: 8, total: 8 }, '4 + 4 refused per address (127.0.0.1, .2), 8 refused over the total (.3)');
  t.equal(await status(f, '/health'), 200, '/health answers while MQTT is flooded');
  t.equal(await status(f, '/ready'), 200, '/ready answers while MQTT is flooded');
  for (const s of held) s.destroy();
  await until(() => f.server.app.mqttStats().open === 0, 'flood sockets gone');
  const c = await connectTerminal(f.terminals[0]);
  t.ok(c.connected, 'a terminal connects once the flood is gone');
  await end(c);
});

t.test('per-address caps do not apply to loopback by default (a local TLS terminator, local load tests)', async (t) => {
  const f = await startFleet({ config: { mqttMaxPending: 20, mqttMaxPendingPerAddress: 4, mqttConnectTimeoutMs: 120_000 } });
  t.teardown(() => f.close());
  const held: Socket[] = [];
  for (let i = 0; i < 12; i++) {
    const s = await open(f);
    s.on('error', () => undefined);
    held.push(s);
  }
  await until(() => f.server.app.mqttStats().open === 12, '12 loopback connections held');
  t.equal(await f.refused('socket', 'too-many-pending-from-address'), 0, 'no per-address refusal on loopback');
  for (const s of held) s.destroy();
});

t.test('descriptor budget: MQTT never takes the descriptors HTTP needs', async (t) => {
  // A pretend open-file limit of 400: 256 reserved, HTTP gets 36, MQTT the remaining 108.
  const f = await startFleet({ openFileLimit: 400, config: { mqttMaxPending: 1000, mqttMaxPendingPerAddress: 1000, mqttConnectTimeoutMs: 120_000 } });
  t.teardown(() => f.close());
  t.equal(f.server.app.server.maxConnections, 36, 'HTTP listener budget');
  const socks: Socket[] = [];
  for (let i = 0; i < 150; i++) {
    const s = await open(f);
    s.on('error', () => undefined);
    socks.push(s);
  }
  await until(() => f.server.app.mqttStats().open === 108, 'MQTT at its budget');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(f.server.app.mqttStats().open, 108, '150 sockets tried, 108 held');
  const answers = await Promise.all(Array.from({ length: 10 }, () => status(f, '/ready')));
  t.same(answers, Array(10).fill(200), 'HTTP answers with MQTT at its budget');
  for (const s of socks) s.destroy();
});

t.test('CONNECT deadline: silent and slow-loris connections are closed', async (t) => {
  const f = await startFleet({ config: { mqttConnectTimeoutMs: 300 } });
  t.teardown(() => f.close());
  const before = await f.refused('socket', 'connect-deadline');
  const silent = await open(f);
  const loris = await open(f);
  loris.write(Buffer.from([0x10, 40, 0, 4]));
  await Promise.all([closed(silent), closed(loris)]);
  t.equal(await f.refused('socket', 'connect-deadline') - before, 2, 'both closed by the deadline');
  const c = await connectTerminal(f.terminals[0]);
  await new Promise((r) => setTimeout(r, 600));
  t.ok(c.connected, 'an authenticated connection is not subject to the deadline');
  await end(c);
});

t.test('after authentication: PUBLISH at the protocol maximum passes, one over is refused at its header', async (t) => {
  const f = await startFleet();
  t.teardown(() => f.close());
  const A = f.terminals[0];
  const c = await connectTerminal(A);
  t.equal(await publishOutcome(c, `t/${A.id}/up/tele`, Buffer.alloc(MAX_FLEET_PAYLOAD, 0x20)), 'accepted', 'a maximum-size uplink is accepted');
  await end(c);
  const s = await open(f);
  s.write(connectPacket(A.id, A.password));
  await new Promise<void>((resolve) => s.once('data', () => resolve()));
  const before = await f.refused('socket', 'publish-too-large');
  const topic = str(`t/${A.id}/up/tele`);
  const sent = await stream(s, Buffer.concat([Buffer.from([0x30, ...varint(64 * 1024 * 1024)]), topic]), 8 * 1024 * 1024);
  await closed(s);
  t.equal(await f.refused('socket', 'publish-too-large') - before, 1, `refused (client wrote ${Math.round(sent / 1024)} KiB)`);
  t.ok(f.server.app.mqttStats().peakBufferedBytes <= MAX_FLEET_PAYLOAD + 64 * 1024, `peak held ${f.server.app.mqttStats().peakBufferedBytes} bytes`);
});

t.test('one terminal cannot grow broker memory (item 4)', async (t) => {
  const f = await startFleet({ brokerLimits: { maxSubscriptions: 4 } });
  t.teardown(() => f.close());
  const [A] = f.terminals;
  const tryPub = async (topic: string, retain: boolean): Promise<string> => {
    const c = await connectTerminal(A);
    const o = await new Promise<string>((resolve) => {
      c.once('close', () => resolve('disconnected'));
      c.publish(topic, '{}', { qos: 1, retain }, (err) => { if (err === undefined || err === null) setTimeout(() => resolve('accepted'), 100); });
    });
    await end(c);
    return o;
  };
  const r0 = await f.refused('publish', 'topic-not-allowed');
  const n0 = await f.refused('publish', 'retain-not-allowed');
  for (let i = 0; i < 3; i++) t.equal(await tryPub(`t/${A.id}/up/junk/${i}`, true), 'disconnected', `retained junk uplink ${i} refused`);
  t.equal(await tryPub(`t/${A.id}/up/junk`, false), 'disconnected', 'non-protocol uplink refused');
  t.equal(await tryPub(`t/${A.id}/up/tele`, true), 'disconnected', 'retained protocol uplink refused');
  t.equal(await tryPub(`t/${A.id}/up/jobs/j1`, true), 'disconnected', 'retained job progress refused');
  t.equal(await f.refused('publish', 'topic-not-allowed') - r0, 4);
  t.equal(await f.refused('publish', 'retain-not-allowed') - n0, 2);
  const retained: string[] = [];
  const persistence = (f.server.app.broker as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<{ topic: string }> } }).persistence;
  for await (const p of persistence.createRetainedStream('#')) retained.push(p.topic);
  t.same(retained.filter((x) => x.includes('/up/')), [], 'the broker retains no uplink');

  const persistent = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password, clean: false });
  t.equal(persistent.ok ? 0 : persistent.code, 5, 'persistent session refused (CONNACK 5)');
  for (const will of [{ topic: `t/${f.terminals[1].id}/down/config`, payload: '{}', qos: 1 as const, retain: true }, { topic: `t/${A.id}/up/junk`, payload: 'x', qos: 0 as const, retain: false }]) {
    const w = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password, will });
    t.equal(w.ok ? 0 : w.code, 5, `Last Will on ${will.topic}${will.retain ? ' (retained)' : ''} refused (CONNACK 5)`);
  }
  for (const keepalive of [0, 3601]) {
    const k = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password, keepalive });
    t.notOk(k.ok, `keep-alive ${keepalive} refused (a half-open connection would never be reaped)`);
  }
  const own = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password, will: { topic: `t/${A.id}/up/death`, payload: '{}', qos: 1, retain: false } });
  t.ok(own.ok, 'Last Will on its own up/death accepted');
  if (own.ok) await end(own.client);

  const c = await connectTerminal(A);
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push(await subscribeCode(c, `t/${A.id}/down/s${i}`));
  t.same(codes, [1, 1, 1, 1, 128, 128], 'subscriptions per connection capped');
  await end(c);
});

t.test('per-terminal in-flight uplink bytes are capped', async (t) => {
  const f = await startFleet({ brokerLimits: { maxInflightBytes: 1500 } });
  t.teardown(() => f.close());
  const A: EnrolledTerminal = f.terminals[0];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  f.server.app.uplink.handle('tele', async () => gate);
  const counters: Record<string, number> = {};
  for (let i = 0; i < 40; i++) counters[`c${String(i).padStart(2, '0')}.pad`] = i;
  const tele = JSON.stringify({ v: 1, epoch: 1, ts: Date.now(), health: 'ok', readers: [], counters });
  t.ok(tele.length > 500 && tele.length < 1500, `${tele.length}-byte telemetry`);
  const c = await connectTerminal(A);
  const before = await f.refused('publish', 'inflight-bytes');
  const gone = new Promise<void>((r) => c.once('close', () => r()));
  for (let i = 0; i < 4; i++) c.publish(`t/${A.id}/up/tele`, tele, { qos: 1 });
  await gone;
  release();
  t.ok(await f.refused('publish', 'inflight-bytes') - before >= 1, 'a terminal pipelining past its in-flight budget is disconnected');
  await end(c);
});

t.test('per-terminal queued downlink bytes are capped: a terminal that stops reading is dropped', async (t) => {
  const f = await startFleet();
  t.teardown(() => f.close());
  const A = f.terminals[0];
  const c = await connectTerminal(A);
  t.equal(await subscribeCode(c, `t/${A.id}/down/#`), 1);
  (c.stream as Socket).pause();
  const before = await f.refused('forward', 'queued-bytes');
  const payload = new Uint8Array(200 * 1024).fill(0x7b);
  for (let i = 0; i < 200; i++) {
    void f.server.app.publishDown(`t/${A.id}/down/rpc/r${i}`, payload).catch(() => undefined);
    if (await f.refused('forward', 'queued-bytes') > before) break;
    await new Promise((r) => setImmediate(r));
  }
  await until(async () => (await f.refused('forward', 'queued-bytes')) > before, 'queue limit hit');
  await until(() => f.server.app.broker.connectedClients === 0, 'the terminal dropped');
  t.pass('the non-reading terminal was disconnected when its queue passed the limit');
  c.end(true);
});
