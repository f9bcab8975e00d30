/**
 * Security suite over real loopback MQTT: a server started with `startServer` (temp data dir, free
 * ports) and a three-terminal fleet. Every credential and topic combination is tried with the
 * `mqtt` client and only the allowed ones work: refusals show as CONNACK codes, SUBACK 0x80 and a
 * dropped connection on a forbidden publish; nothing ever crosses from one terminal to another;
 * each refusal is counted at /metrics.
 */
import t from 'tap';
import type { MqttClient, Packet } from 'mqtt';
import { startFleet, tryConnect, connectTerminal, subscribeCode, publishOutcome, closedWithin, end, p256PublicKey, type Fleet, type EnrolledTerminal } from './fleet-fixture.ts';
import { UP_KINDS, DOWN_KINDS } from '@onecard/protocol/fleet';

let fleet: Fleet;
/** Every publish the broker let through from a terminal: [client id, topic]. */
const passed: [string, string][] = [];

t.before(async () => {
  fleet = await startFleet();
  fleet.server.app.broker.on('publish', (packet, client) => {
    if (client !== null && client !== undefined) passed.push([client.id, packet.topic]);
  });
});
t.teardown(async () => {
  await fleet.close();
});

const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORISED = 5;

function topicsOf(owner: string): { topic: string; dir: 'up' | 'down' }[] {
  return [
    ...UP_KINDS.map((k) => ({ topic: `t/${owner}/up/${k}`, dir: 'up' as const })),
    { topic: `t/${owner}/up/jobs/job1`, dir: 'up' },
    { topic: `t/${owner}/up/rpc/req1`, dir: 'up' },
    ...DOWN_KINDS.map((k) => ({ topic: `t/${owner}/down/${k}`, dir: 'down' as const })),
    { topic: `t/${owner}/down/rpc/req1`, dir: 'down' },
  ];
}

/** Messages received per client, for cross-terminal leak checks. */
function recorder(client: MqttClient): [string, string][] {
  const got: [string, string][] = [];
  client.on('message', (topic, payload) => got.push([topic, payload.toString('utf8')]));
  return got;
}

t.test('CONNECT: 27 client-id × username × password combinations plus missing and unknown credentials', async (t) => {
  const T = fleet.terminals;
  const url = T[0].mqttUrl;
  // Sentinel sessions: a refused attempt must never take over or disturb a live session.
  const sentinels = new Map<string, MqttClient>();
  for (const x of T) sentinels.set(x.id, await connectTerminal(x));
  const before = { mismatch: await fleet.refused('connect', 'client-id-mismatch'), badpw: await fleet.refused('connect', 'bad-password'), unknown: await fleet.refused('connect', 'unknown-terminal'), none: await fleet.refused('connect', 'no-credentials'), badid: await fleet.refused('connect', 'bad-client-id') };
  let mismatch = 0;
  let badpw = 0;
  for (const cid of T) {
    for (const user of T) {
      for (const pw of T) {
        const name = `client id ${cid === T[0] ? 'A' : cid === T[1] ? 'B' : 'C'} / user ${user === T[0] ? 'A' : user === T[1] ? 'B' : 'C'} / password ${pw === T[0] ? 'A' : pw === T[1] ? 'B' : 'C'}`;
        const o = await tryConnect(url, { clientId: cid.id, username: user.id, password: pw.password });
        const allowed = cid === user && user === pw;
        if (allowed) {
          t.ok(o.ok, `${name}: accepted`);
          if (o.ok) {
            // The legitimate new session takes over the sentinel (normal MQTT); restore it.
            t.equal(await closedWithin(sentinels.get(cid.id)!, 2_000), 'closed', `${name}: older session replaced`);
            await end(o.client);
            sentinels.set(cid.id, await connectTerminal(cid));
          }
          continue;
        }
        const want = cid !== user ? CONNACK_NOT_AUTHORISED : CONNACK_BAD_CREDENTIALS;
        if (cid !== user) mismatch++;
        else badpw++;
        t.match(o, { ok: false, code: want }, `${name}: CONNACK ${want}`);
        t.equal(await closedWithin(sentinels.get(cid.id)!, 50), 'open', `${name}: the live session of that client id is untouched`);
      }
    }
  }
  const others: [string, Parameters<typeof tryConnect>[1], number, 'unknown' | 'none' | 'badid' | 'badpw'][] = [
    ['unknown user', { clientId: 'Tunknown0000000000', username: 'Tunknown0000000000', password: T[0].password }, CONNACK_BAD_CREDENTIALS, 'unknown'],
    ['no credentials', { clientId: T[0].id }, CONNACK_BAD_CREDENTIALS, 'none'],
    ['username without password', { clientId: T[0].id, username: T[0].id }, CONNACK_BAD_CREDENTIALS, 'none'],
    ['empty password', { clientId: T[0].id, username: T[0].id, password: '' }, CONNACK_BAD_CREDENTIALS, 'badpw'],
    ['client id with a wildcard', { clientId: 'T#1', username: 'T#1', password: T[0].password }, CONNACK_BAD_CREDENTIALS, 'badid'],
  ];
  const extra = { unknown: 0, none: 0, badid: 0, badpw: 0 };
  for (const [name, opts, code, bucket] of others) {
    const o = await tryConnect(url, opts);
    t.match(o, { ok: false, code }, `${name}: CONNACK ${code}`);
    extra[bucket]++;
  }
  for (const [id, s] of sentinels) {
    t.ok(s.connected, `sentinel ${id} still connected`);
    await end(s);
  }
  t.equal(await fleet.refused('connect', 'client-id-mismatch') - before.mismatch, mismatch, `${mismatch} client-id-mismatch refusals counted`);
  t.equal(await fleet.refused('connect', 'bad-password') - before.badpw, badpw + extra.badpw, 'bad-password refusals counted');
  t.equal(await fleet.refused('connect', 'unknown-terminal') - before.unknown, extra.unknown, 'unknown-terminal counted');
  t.equal(await fleet.refused('connect', 'no-credentials') - before.none, extra.none, 'no-credentials counted');
  t.equal(await fleet.refused('connect', 'bad-client-id') - before.badid, extra.badid, 'bad-client-id counted');
});

t.test('PUBLISH: every terminal × every fleet topic — only own up/ is accepted, anything else drops the connection', async (t) => {
  const T = fleet.terminals;
  const clients = new Map<string, MqttClient>();
  const inbox = new Map<string, [string, string][]>();
  for (const x of T) {
    const c = await connectTerminal(x);
    t.equal(await subscribeCode(c, `t/${x.id}/down/#`), 1);
    inbox.set(x.id, recorder(c));
    clients.set(x.id, c);
  }
  const before = await fleet.refused('publish', 'topic-not-allowed');
  passed.length = 0;
  let refusedCount = 0;
  let acceptedCount = 0;
  for (const subject of T) {
    for (const owner of T) {
      for (const { topic, dir } of [...topicsOf(owner.id), { topic: 'fleet/broadcast/all', dir: 'bcast' as const }, { topic: '$SYS/onecard/x', dir: 'sys' as const }]) {
        if (owner !== T[0] && dir !== 'up' && dir !== 'down') continue; // broadcast/$SYS once per subject
        const allowed = subject === owner && dir === 'up';
        for (const qos of [1, 0] as const) {
          let c = clients.get(subject.id)!;
          if (!c.connected) {
            c = await connectTerminal(subject);
            clients.set(subject.id, c);
          }
          const out = await publishOutcome(c, topic, JSON.stringify({ probe: `${subject.id}->${topic}` }), qos);
          t.equal(out, allowed ? 'accepted' : 'disconnected', `${subject.id} publishes QoS ${qos} to ${topic}`);
          if (allowed) acceptedCount++;
          else refusedCount++;
        }
      }
    }
  }
  // Re-attach subscriptions on fresh connections and let any stray delivery arrive.
  await new Promise((r) => setTimeout(r, 200));
  for (const [id, got] of inbox) t.same(got, [], `${id} received nothing: no terminal can publish into another's down topic`);
  for (const [cid, topic] of passed) t.ok(topic.startsWith(`t/${cid}/up/`), `broker passed ${cid} → ${topic} only under its own up/`);
  t.equal(passed.length, acceptedCount, 'exactly the accepted publishes reached the broker');
  t.equal(await fleet.refused('publish', 'topic-not-allowed') - before, refusedCount, `${refusedCount} refused publishes counted`);
  for (const c of clients.values()) await end(c);
});

t.test('SUBSCRIBE: wildcards and foreign filters get SUBACK 0x80, nothing leaks (retained included)', async (t) => {
  const T = fleet.terminals;
  const [A, B, C] = T;
  const app = fleet.server.app;
  // Retained pointers for every terminal before anyone subscribes.
  for (const x of T) await app.publishDown(`t/${x.id}/down/config`, new TextEncoder().encode(JSON.stringify({ v: 1, version: 7, sha256: x.id.padEnd(64, '0').slice(0, 64) })), true);
  const before = await fleet.refused('subscribe', 'topic-not-allowed');
  let refused = 0;
  const clients: MqttClient[] = [];
  const inbox = new Map<string, [string, string][]>();
  for (const x of T) {
    const other = T.find((y) => y !== x)!;
    const c = await connectTerminal(x);
    clients.push(c);
    inbox.set(x.id, recorder(c));
    const table: [string, number][] = [
      ['#', 0x80], ['+/#', 0x80], ['t/#', 0x80], ['t/+/down/#', 0x80], ['t/+/down/config', 0x80], [`t/${x.id}/#`, 0x80], [`t/${x.id}/up/#`, 0x80],
      [`t/${other.id}/#`, 0x80], [`t/${other.id}/down/#`, 0x80], [`t/${other.id}/down/config`, 0x80], ['fleet/#', 0x80], ['$SYS/#', 0x80], [`$share/g/t/${x.id}/down/#`, 0x80],
      [`t/${x.id}/down/#`, 1], ['fleet/broadcast/#', 1],
    ];
    for (const [filter, want] of table) {
      t.equal(await subscribeCode(c, filter), want, `${x.id} SUBSCRIBE ${filter} → ${want === 0x80 ? '0x80' : `granted QoS ${want}`}`);
      if (want === 0x80) refused++;
    }
    t.ok(c.connected, `${x.id} stays connected after refused subscriptions`);
  }
  // Several filters in one SUBSCRIBE: each gets its own return code [MQTT-3.9.3-1].
  const mixed = await new Promise<number[]>((resolve) => {
    const c = clients[0]!;
    const on = (p: Packet): void => {
      if (p.cmd !== 'suback') return;
      c.removeListener('packetreceive', on);
      resolve(p.granted as number[]);
    };
    c.on('packetreceive', on);
    c.subscribe({ [`t/${A.id}/down/ack`]: { qos: 1 }, [`t/${B.id}/down/ack`]: { qos: 1 }, 'fleet/broadcast/x': { qos: 0 } }, () => undefined);
  });
  t.same(mixed, [1, 0x80, 0], 'mixed SUBSCRIBE: own granted, foreign 0x80, broadcast granted');
  refused++;
  await new Promise((r) => setTimeout(r, 200));
  for (const x of T) {
    const topics = inbox.get(x.id)!.map(([topic]) => topic);
    // Retained broadcast pointers (e.g. fleet/broadcast/hotlist) are for everyone; of the
    // per-terminal tree each terminal gets exactly its own pointer and nothing of the others'.
    t.same(topics.filter((tp) => !tp.startsWith('fleet/broadcast/')), [`t/${x.id}/down/config`], `${x.id} got exactly its own retained pointer`);
  }
  for (const got of inbox.values()) got.length = 0;
  for (const x of T) await app.publishDown(`t/${x.id}/down/ack`, new TextEncoder().encode(JSON.stringify({ v: 1, upToSeq: 3 })));
  await app.publishDown('fleet/broadcast/notice', new TextEncoder().encode('{"v":1}'));
  await new Promise((r) => setTimeout(r, 300));
  for (const x of T) {
    const got = inbox.get(x.id)!.map(([topic]) => topic).sort();
    t.same(got, [`t/${x.id}/down/ack`, 'fleet/broadcast/notice'].sort(), `${x.id} received its own ack and the broadcast only`);
  }
  t.equal(await fleet.refused('subscribe', 'topic-not-allowed') - before, refused, `${refused} refused subscriptions counted`);
  for (const c of clients) await end(c);
  void C;
});

t.test('Last Will cannot be aimed at another terminal', async (t) => {
  const [A, B] = fleet.terminals;
  const before = await fleet.refused('connect', 'will-not-allowed');
  passed.length = 0;
  // Refused at CONNECT (not only when the Will fires): with Redis-shared brokers another server may
  // publish a Will long after the connection is gone.
  const bad = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password, will: { topic: `t/${B.id}/up/death`, payload: Buffer.from('{"v":1,"epoch":1}'), qos: 1, retain: false } });
  t.match(bad, { ok: false, code: CONNACK_NOT_AUTHORISED }, 'a CONNECT whose Will names B\'s topic is refused');
  await new Promise((r) => setTimeout(r, 300));
  t.same(passed, [], 'a will on B\'s topic is not published');
  t.equal(await fleet.refused('connect', 'will-not-allowed') - before, 1, 'and the refusal is counted');
  const good = await connectTerminal(A, { will: { topic: `t/${A.id}/up/death`, payload: Buffer.from('{"v":1,"epoch":1}'), qos: 1, retain: false } });
  good.stream.destroy();
  await new Promise((r) => setTimeout(r, 300));
  t.same(passed, [[A.id, `t/${A.id}/up/death`]], 'a will on its own death topic is published');
  good.end(true);
});

t.test('disabled terminal: connection dropped, reconnect refused; enable restores it', async (t) => {
  const C = fleet.terminals[2];
  const c = await connectTerminal(C);
  const closed = closedWithin(c, 3_000);
  const before = await fleet.refused('connect', 'terminal-disabled');
  const r = await fleet.api('POST', `/api/v1/terminals/${C.id}/disable`);
  t.equal(r.status, 200, 'disabled via the API');
  t.equal(await closed, 'closed', 'live connection dropped');
  const again = await tryConnect(C.mqttUrl, { clientId: C.id, username: C.id, password: C.password });
  t.match(again, { ok: false, code: CONNACK_NOT_AUTHORISED }, 'reconnect refused with CONNACK 5');
  t.equal(await fleet.refused('connect', 'terminal-disabled') - before, 1, 'counted as terminal-disabled');
  const wrong = await tryConnect(C.mqttUrl, { clientId: C.id, username: C.id, password: 'oct_wrong' });
  t.match(wrong, { ok: false, code: CONNACK_BAD_CREDENTIALS }, 'a wrong password on a disabled terminal says only "bad credentials"');
  t.equal((await fleet.api('POST', `/api/v1/terminals/${C.id}/enable`)).status, 200);
  const back = await tryConnect(C.mqttUrl, { clientId: C.id, username: C.id, password: C.password });
  t.ok(back.ok, 're-enabled terminal connects');
  if (back.ok) await end(back.client);
});

t.test('re-keyed terminal: old password refused, new one works, token single-use', async (t) => {
  const A = fleet.terminals[0];
  const live = await connectTerminal(A);
  const closed = closedWithin(live, 3_000);
  const rk = await fleet.api('POST', `/api/v1/terminals/${A.id}/rekey`, {});
  t.equal(rk.status, 201);
  const token = (rk.json as { token: string }).token;
  t.equal(await closedWithin(live, 100), 'open', 'issuing the re-key token alone does not drop the terminal');
  const fresh: EnrolledTerminal = await fleet.enrol(token);
  t.equal(fresh.id, A.id, 'same terminal id after re-key');
  t.not(fresh.password, A.password, 'new password');
  t.equal(await closed, 'closed', 'connection with the old credentials dropped');
  const before = await fleet.refused('connect', 'bad-password');
  const old = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: A.password });
  t.match(old, { ok: false, code: CONNACK_BAD_CREDENTIALS }, 'old password refused');
  t.equal(await fleet.refused('connect', 'bad-password') - before, 1, 'counted');
  const now = await tryConnect(A.mqttUrl, { clientId: A.id, username: A.id, password: fresh.password });
  t.ok(now.ok, 'new password accepted');
  if (now.ok) await end(now.client);
  const reuse = await fetch(`${fleet.server.httpUrl}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, publicKey: p256PublicKey() }) });
  t.equal(reuse.status >= 400 && reuse.status < 500, true, `re-key token is single-use (${reuse.status})`);
});
