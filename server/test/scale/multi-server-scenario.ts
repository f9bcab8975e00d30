/**
 * Several-servers scenario (run by `.ci/suites/multi-server.sh`): two server processes share one
 * PostgreSQL database (`--store`) and one Redis (`--redis-url`: aedes persistence and emitter) and
 * the server key. Checks: a terminal connected to server A receives a configuration pushed through
 * server B's API and a hotlist change made on A reaches a terminal on B; when A is killed its
 * terminal reconnects to B, finds its retained pointers there, resends its unacknowledged events
 * and gets them acknowledged, and every event is stored exactly once (the (terminal, eventId)
 * dedup). Card login (multi-server-login.ts): both servers behind one balancer URL with the same
 * master key; a signing key rotated through A is published and used by B without a restart, and a
 * login started through A completes through B. Needs `ONECARD_TEST_PG_URL` (a database it may create databases from) and
 * `ONECARD_TEST_REDIS_URL`. Creates and drops its own database; stops its servers.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { crossServerLogin, startBalancer, type Balancer } from './multi-server-login.ts';
import { adminApi, birth, Checks, connectTerminal, enrol, eventsBatch, freePort, sleep, startServerProcess, waitFor, type ServerProcess, type Terminal } from './harness.ts';

const PG_URL = process.env.ONECARD_TEST_PG_URL;
const REDIS_URL = process.env.ONECARD_TEST_REDIS_URL;
const checks = new Checks();
const work = mkdtempSync(join(tmpdir(), 'onecard-multi-'));
const ADMIN = `scale-multi-${randomBytes(12).toString('hex')}`;
const dbName = `onecard_ms_${randomBytes(5).toString('hex')}`;
const servers: ServerProcess[] = [];
const terminals: Terminal[] = [];
let admin: pg.Pool | undefined;
let balancer: Balancer | undefined;

async function cleanup(): Promise<void> {
  for (const t of terminals) await t.end().catch(() => {});
  for (const s of servers) await s.stop().catch(() => {});
  await balancer?.close();
  if (admin !== undefined) {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e: Error) => console.error(`drop database: ${e.message}`));
    await admin.end();
  }
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (PG_URL === undefined || REDIS_URL === undefined) throw new Error('set ONECARD_TEST_PG_URL and ONECARD_TEST_REDIS_URL');
  admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(PG_URL);
  u.pathname = `/${dbName}`;
  const storeUrl = u.toString();

  const dirA = join(work, 'a');
  const dirB = join(work, 'b');
  // One public URL for the card-login issuer: a balancer in front of both servers.
  balancer = await startBalancer();
  const common = ['--store', storeUrl, '--redis-url', REDIS_URL, '--http-port', '0', '--public-http-url', balancer.url, '--log-level', process.env.SCALE_LOG_LEVEL ?? 'warn', '--auth-rate-limit', '1000'];
  const env = { ONECARD_ADMIN_TOKEN: ADMIN, ONECARD_MASTER_KEY: randomBytes(32).toString('hex') };
  console.log('start server A, then B with the same server key, store and Redis');
  const a = await startServerProcess('server A', [...common, '--data-dir', dirA, '--mqtt-port', String(await freePort())], env);
  servers.push(a);
  mkdirSync(dirB, { recursive: true, mode: 0o700 });
  copyFileSync(join(dirA, 'server-key.json'), join(dirB, 'server-key.json'));
  const b = await startServerProcess('server B', [...common, '--data-dir', dirB, '--mqtt-port', String(await freePort())], env);
  servers.push(b);
  checks.ok(a.mqtt !== b.mqtt, `two MQTT listeners (${a.mqtt}, ${b.mqtt})`);
  const apiA = adminApi(a.http, ADMIN);
  const apiB = adminApi(b.http, ADMIN);
  checks.equal((await apiA<{ store: string }>('GET', '/ready')).json.store, 'postgres', 'A runs on PostgreSQL');
  checks.equal((await apiB('POST', '/api/v1/groups', { id: 'gate', name: 'Gates' })).status, 201, 'group created through B');
  checks.equal((await apiA<{ id: string }>('GET', '/api/v1/groups')).status, 200, 'A sees the shared store');

  const e1 = await enrol(a.http, ADMIN, 'gate');
  const e2 = await enrol(b.http, ADMIN, 'gate');
  const t1 = await connectTerminal(a.mqtt, e1.terminalId, e1.password);
  const t2 = await connectTerminal(b.mqtt, e2.terminalId, e2.password);
  terminals.push(t1, t2);
  await t1.client.publishAsync(`t/${e1.terminalId}/up/birth`, birth(1), { qos: 1 });
  await t2.client.publishAsync(`t/${e2.terminalId}/up/birth`, birth(1), { qos: 1 });
  checks.ok(true, 'T1 on A, T2 on B, enrolled through different servers');

  console.log('cross-server delivery');
  const doc = await apiB<{ version: number; sha256: string }>('POST', '/api/v1/configs', { id: 'gate-cfg', name: 'Gate', document: EXAMPLE_TERMINAL_CONFIG });
  checks.equal(doc.status, 201, 'config created through B');
  checks.ok((await apiB('PUT', '/api/v1/groups/gate/config', { configId: 'gate-cfg' })).status < 300, 'assigned through B');
  const p1 = await waitFor('pointer on T1 (connected to A)', () => t1.inbox.find((m) => m.topic === `t/${e1.terminalId}/down/config`));
  checks.equal(JSON.parse(p1.payload), { v: 1, version: doc.json.version, sha256: doc.json.sha256 }, 'T1 on server A receives the config pushed through server B');
  const hot = await apiA<{ version: number }>('POST', '/api/v1/hotlist/report', { cardNumbers: ['X00000019'], reason: 'lost' });
  checks.ok(hot.status < 300, 'card reported through A');
  const hp = await waitFor('hotlist pointer v1 on T2 (connected to B)', () => t2.inbox.find((m) => m.topic === 'fleet/broadcast/hotlist' && JSON.parse(m.payload).version === 1));
  checks.ok(hp !== undefined, 'T2 on server B receives the hotlist pointer announced by server A');

  console.log('card login: key rotation through A, logins through B');
  await crossServerLogin(checks, a, b, balancer, ADMIN);

  console.log('events through A');
  const batch1 = eventsBatch(e1.terminalId, 1, 10);
  await t1.client.publishAsync(`t/${e1.terminalId}/up/events`, batch1.json, { qos: 1 });
  const ack1 = await waitFor('ack 10', () => t1.inbox.find((m) => m.topic === `t/${e1.terminalId}/down/ack` && JSON.parse(m.payload).upToSeq === 10));
  checks.ok(ack1 !== undefined, 'batch 1 acked by A');
  // Batch 2 goes out and A dies right after: whether A stored it or not, the terminal has no ack
  // it can rely on and resends it (with batch 1, as a terminal whose outbox lost its ack would).
  const batch2 = eventsBatch(e1.terminalId, 11, 10);
  t1.client.publish(`t/${e1.terminalId}/up/events`, batch2.json, { qos: 1 });
  await sleep(20);
  console.log('kill server A');
  await a.kill();
  servers.splice(servers.indexOf(a), 1);
  await waitFor('T1 notices', () => !t1.client.connected);
  await t1.end();
  terminals.splice(terminals.indexOf(t1), 1);

  console.log('T1 reconnects to B');
  const t1b = await connectTerminal(b.mqtt, e1.terminalId, e1.password);
  terminals.push(t1b);
  const retained = await waitFor('retained pointer on B', () => t1b.inbox.find((m) => m.topic === `t/${e1.terminalId}/down/config`));
  checks.ok(retained.retain && JSON.parse(retained.payload).version === doc.json.version, "T1 finds its retained config pointer on B (Redis persistence)");
  const hotRetained = await waitFor('retained hotlist on B', () => t1b.inbox.find((m) => m.topic === 'fleet/broadcast/hotlist'));
  checks.ok(hotRetained.retain && JSON.parse(hotRetained.payload).version === 1, 'and the retained hotlist pointer (version 1)', hotRetained);
  await t1b.client.publishAsync(`t/${e1.terminalId}/up/birth`, birth(2), { qos: 1 });
  const resend = JSON.stringify({ v: 1, records: [...JSON.parse(batch1.json).records, ...JSON.parse(batch2.json).records] });
  await t1b.client.publishAsync(`t/${e1.terminalId}/up/events`, resend, { qos: 1 });
  const ack2 = await waitFor('ack 20 from B', () => t1b.inbox.find((m) => m.topic === `t/${e1.terminalId}/down/ack` && JSON.parse(m.payload).upToSeq === 20));
  checks.ok(ack2 !== undefined, 'B acks the resent events up to seq 20');
  const events = (await apiB<{ events: { eventId: string; seq: number }[] }>('GET', `/api/v1/events?terminal=${e1.terminalId}&limit=1000`)).json.events;
  checks.equal(events.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'every event stored exactly once, in order (nothing lost, no duplicates)');
  checks.equal(new Set(events.map((e) => e.eventId)).size, 20, '20 distinct event ids');
  const term = (await apiB<{ online: boolean; epoch: number }>('GET', `/api/v1/terminals/${e1.terminalId}`)).json;
  checks.ok(term.online && term.epoch === 2, 'T1 online on B with its new epoch', term);

  console.log('B keeps serving');
  const hot2 = await apiB<{ version: number }>('POST', '/api/v1/hotlist/report', { cardNumbers: ['X00000027'], reason: 'lost' });
  checks.ok(hot2.status < 300, 'card reported through B');
  await waitFor('hotlist v2 on T1', () => t1b.inbox.find((m) => m.topic === 'fleet/broadcast/hotlist' && JSON.parse(m.payload).version === 2));
  await waitFor('hotlist v2 on T2', () => t2.inbox.find((m) => m.topic === 'fleet/broadcast/hotlist' && JSON.parse(m.payload).version === 2));
  checks.ok(true, 'both terminals, now on B, get the next hotlist pointer');
}

const guard = setTimeout(() => { console.error('multi-server scenario: overall time limit reached'); process.exitCode = 1; void cleanup().then(() => process.exit(1)); }, 240_000);
main().catch((e: unknown) => {
  checks.ok(false, 'scenario ran to the end', e instanceof Error ? e.stack : String(e));
  for (const s of servers) console.error(`--- server output (tail)\n${s.output().slice(-3000)}`);
}).finally(async () => {
  clearTimeout(guard);
  await cleanup();
  checks.done('multi-server scenario');
});
