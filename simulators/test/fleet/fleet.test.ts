/**
 * The simulated fleet against a real in-process OneCard server (temp data dir, free ports): 20
 * terminals enrol, connect with births, apply a pushed configuration, send event batches that are
 * acknowledged and stored once, retransmit after a lost connection, leave a Last Will, and reject
 * a pointer whose digest does not match. Also the CLI (`onecard-sim fleet`) and the guards.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '@onecard/server/server';
import { EXAMPLE_TERMINAL_CONFIG, encodeFleetMessage } from '@onecard/protocol/fleet';
import { SimFleet, enrolFleet, runFleet, formatFleetProgress, ProgressDisplay, isLoopbackHost, type TerminalCredentials } from '../../src/fleet/index.ts';

const ADMIN = 'fleet-sim-test-admin-token-0123456789';
const N = 20;
let server: RunningServer;
let dir: string;

type Cfg = Parameters<typeof startServer>[0]['config'];

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onecard-simfleet-'));
  const config: Cfg = {
    dataDir: dir, host: '127.0.0.1', httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', publicMqttUrl: undefined, publicHttpUrl: undefined,
    logLevel: 'silent', enrolmentTokenTtlSeconds: 3600, authRateLimitPerMinute: 100_000,
  };
  server = await startServer({ config, dbPath: join(dir, 'onecard.db'), adminTokenPreset: ADMIN });
});
t.teardown(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

const until = async (cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

t.test('guards: loopback only, bounded size and duration', async (t) => {
  t.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('localhost') && isLoopbackHost('[::1]') && isLoopbackHost('127.9.8.7'));
  t.notOk(isLoopbackHost('10.0.0.1') || isLoopbackHost('128.0.0.1') || isLoopbackHost('example.org') || isLoopbackHost('127.0.0.1.example.org'));
  await t.rejects(enrolFleet({ server: 'http://192.168.1.10:8080', adminToken: ADMIN, terminals: 1 }), { code: 'SIM_ERR_FLEET_NOT_LOOPBACK' });
  await t.rejects(enrolFleet({ server: 'https://127.0.0.1:8080', adminToken: ADMIN, terminals: 1 }), { code: 'SIM_ERR_FLEET_NOT_LOOPBACK' });
  await t.rejects(enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 0 }), { code: 'SIM_ERR_FLEET_LIMIT' });
  await t.rejects(enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 20_001 }), { code: 'SIM_ERR_FLEET_LIMIT' });
  await t.rejects(enrolFleet({ server: server.httpUrl, terminals: 1 }), { code: 'SIM_ERR_FLEET_ENROL' });
  await t.rejects(enrolFleet({ server: server.httpUrl, adminToken: 'not-the-admin-token-xxxxxxxx', terminals: 1 }), { code: 'SIM_ERR_FLEET_HTTP' });
  await t.rejects(runFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 1, durationSeconds: 0 }), { code: 'SIM_ERR_FLEET_LIMIT' });
  await t.rejects(runFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: 1, durationSeconds: 3601 }), { code: 'SIM_ERR_FLEET_LIMIT' });
});

t.test('progress display: one redrawn line on a TTY, periodic lines otherwise', async (t) => {
  const stats = { terminals: 3, enrolled: 3, connected: 2, births: 2, disconnects: 0, reconnects: 0, connectFailures: 0, configApplied: 1, configRejected: 0, configVersion: 4, configAtVersion: 1, eventsQueued: 10, eventsPublished: 10, eventsAcked: 7, retransmitted: 0, telemetry: 5, downMessages: 0, errors: 0, lastError: undefined };
  const line = formatFleetProgress('run', stats, 1500);
  t.match(line, /1\.5 s\] run .*enrolled 3\/3 \| connected 2 \| births 2 \| config v4 1\/3 \| events 7\/10 acked \| tele 5$/);
  const tty: string[] = [];
  const d1 = new ProgressDisplay({ isTTY: true, write: (s: string) => tty.push(s) });
  d1.update('a', 0);
  d1.update('b', 1);
  d1.done('c');
  t.same(tty, ['\r\u001b[2Ka', '\r\u001b[2Kb', '\r\u001b[2Kc\n']);
  const plain: string[] = [];
  const d2 = new ProgressDisplay({ write: (s: string) => plain.push(s) }, { lineEveryMs: 1000 });
  d2.update('a', 0);
  d2.update('b', 500);
  d2.update('c', 1000);
  d2.done('d');
  t.same(plain, ['a\n', 'c\n', 'd\n']);
});

t.test(`a fleet of ${N}: enrol, connect, config apply, events, retransmit, Last Will`, async (t) => {
  const creds: TerminalCredentials[] = await enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: N, groupId: 'sim20', tags: ['city:wuhan'] });
  t.equal(new Set(creds.map((c) => c.terminalId)).size, N, 'distinct terminal ids');
  const deaths: [string, number][] = [];
  server.app.uplink.on('death', (id, msg) => deaths.push([id, msg.epoch]));
  const fleet = new SimFleet(creds, { server: server.httpUrl, batchSize: 10, reconnectDelayMs: 50 });
  t.teardown(() => fleet.close());

  const c = await fleet.connectAll();
  t.equal(c.failed, 0, 'all connected');
  t.equal(fleet.stats().connected, N);
  t.ok(await until(async () => (await api('GET', '/api/v1/terminals?group=sim20&online=true')).json.terminals.length === N), 'server sees all online after births');
  const one = (await api('GET', `/api/v1/terminals/${creds[0]!.terminalId}`)).json;
  t.equal(one.epoch, fleet.terminals[0]!.epoch, 'birth carried the connection epoch');

  // Configuration: create, assign to the group, every terminal fetches, verifies and applies.
  const created = await api('POST', '/api/v1/configs', { id: 'sim-kiosk', name: 'sim kiosk', document: EXAMPLE_TERMINAL_CONFIG });
  t.equal(created.status, 201, 'config created');
  const version = created.json.version as number;
  const assigned = await api('PUT', '/api/v1/groups/sim20/config', { configId: 'sim-kiosk' });
  t.equal(assigned.status, 200, 'assigned to the group');
  await fleet.waitForConfig(version, 15_000);
  t.equal(fleet.appliedCount(version), N, `all ${N} applied version ${version}`);
  t.ok(fleet.terminals.every((x) => x.configVersion === version));
  t.ok(await until(async () => {
    const states = await Promise.all(creds.map(async (cr) => (await api('GET', `/api/v1/terminals/${cr.terminalId}/config`)).json));
    return states.every((s: { inSync: boolean }) => s.inSync);
  }), 'server records every terminal in sync');
  // A new version is pushed and applied too.
  const updated = await api('PUT', '/api/v1/configs/sim-kiosk', { document: { ...EXAMPLE_TERMINAL_CONFIG, logLevel: 'debug' }, expectedVersion: version });
  t.equal(updated.status, 200);
  await fleet.waitForConfig(updated.json.version as number, 15_000);
  t.pass('second version applied by all');

  // Events: 25 records per terminal in batches of 10, all acknowledged and stored once.
  const before = await metric('onecard_events_ingested_total');
  const burst = await fleet.burst(25, 15_000);
  t.equal(burst.records, N * 25);
  t.equal(fleet.stats().eventsAcked, N * 25, 'every record acknowledged by down/ack');
  t.ok(fleet.terminals.every((x) => x.pending === 0), 'outboxes empty');
  t.equal(await metric('onecard_events_ingested_total') - before, N * 25, 'server stored each record once');
  const page = (await api('GET', `/api/v1/events?terminal=${creds[1]!.terminalId}&limit=100`)).json;
  t.equal(page.events.length, 25, 'queryable per terminal');

  // Retransmit: the first events batch of terminal 2 is lost (connection dropped before it is
  // stored or acknowledged); after reconnecting the terminal sends it again.
  const victim = fleet.terminals[2]!;
  const broker = server.app.broker;
  const orig = broker.published;
  let dropped = 0;
  broker.published = (packet, client, cb) => {
    if (dropped === 0 && client !== null && client.id === victim.id && packet.topic.endsWith('/up/events')) {
      dropped++;
      client.close();
      return cb();
    }
    return orig.call(broker, packet, client, cb);
  };
  t.teardown(() => {
    broker.published = orig;
  });
  const beforeRetx = await metric('onecard_events_ingested_total');
  await Promise.race([victim.sendEvents(7), new Promise((_, rej) => setTimeout(() => rej(new Error('not acked after reconnect')), 15_000))]);
  t.equal(dropped, 1, 'one batch was lost in transit');
  t.ok(fleet.stats().retransmitted >= 7, 'the unacknowledged records were sent again');
  t.ok(fleet.stats().reconnects >= 1, 'after a reconnect');
  t.equal(await metric('onecard_events_ingested_total') - beforeRetx, 7, 'stored exactly once');
  broker.published = orig;

  // Last Will: an abrupt drop makes the broker publish up/death with the connection epoch.
  const w = fleet.terminals[3]!;
  const epoch = w.epoch;
  w.dropConnection();
  t.ok(await until(() => deaths.some(([id, e]) => id === w.id && e === epoch)), 'Last Will up/death with the epoch reached the server');
  t.ok(await until(() => w.connected && w.epoch > epoch), 'reconnected with a newer epoch');

  // A pointer whose digest does not match the served document is rejected with a reason.
  const target = fleet.terminals[4]!;
  const statuses: { status: string; code?: string }[] = [];
  server.app.uplink.on('config/status', (id, msg) => {
    if (id === target.id) statuses.push({ status: msg.status, ...(msg.error ? { code: msg.error.code } : {}) });
  });
  const current = target.configVersion;
  await server.app.publishDown(target.configTopic, encodeFleetMessage('config', { v: 1, version: current, sha256: 'ab'.repeat(32) }), false);
  t.ok(await until(() => statuses.length > 0), 'status reported');
  t.same(statuses[0], { status: 'rejected', code: 'SIM_ERR_FLEET_CONFIG' }, 'rejected: sha256 mismatch');
  t.equal(target.configVersion, current, 'last good configuration kept');
  t.equal(fleet.stats().errors, 0, `no errors (${fleet.stats().lastError ?? ''})`);
});

t.test('runFleet: bounded run with telemetry and events, periodic progress lines', async (t) => {
  const lines: string[] = [];
  const r = await runFleet({
    server: server.httpUrl, adminToken: ADMIN, terminals: 5, durationSeconds: 2.5, groupId: 'sim-run',
    telemetrySeconds: 1, eventsEverySeconds: 0.5, eventsPerTick: 3, drainSeconds: 60,
    out: { write: (s: string) => lines.push(s) },
  });
  t.equal(r.stats.connected, 5);
  t.ok(r.stats.telemetry >= 5, `telemetry sent (${r.stats.telemetry})`);
  t.ok(r.stats.eventsQueued >= 15, `events queued (${r.stats.eventsQueued})`);
  t.equal(r.stats.eventsAcked, r.stats.eventsQueued, 'all acknowledged after the drain');
  t.match(lines[lines.length - 1], /done .*connected 5/);
  t.ok(lines.length >= 2, 'progress lines were printed');
  const tele = (await api('GET', '/api/v1/telemetry')).json;
  t.ok(JSON.stringify(tele).includes('events.queued'), 'server stored the telemetry counters');
});

t.test('onecard-sim fleet CLI: --help and a short run', async (t) => {
  const bin = new URL('../../bin/onecard-sim.js', import.meta.url).pathname;
  const run = (args: string[]): Promise<{ code: number | null; out: string; err: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
  const help = await run(['fleet', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /--terminals N/);
  t.match(help.out, /--duration S/);
  const bad = await run(['fleet', '--server', server.httpUrl]);
  t.equal(bad.code, 2);
  t.match(bad.err, /SIM_ERR_FLEET_CLI_USAGE/);
  const ok = await run(['fleet', '--server', server.httpUrl, '--admin-token', ADMIN, '--terminals', '3', '--duration', '2', '--telemetry', '1', '--events-every', '1', '--group', 'sim-cli']);
  t.equal(ok.code, 0, ok.err);
  const summary = JSON.parse(ok.out.trim().split('\n').pop()!);
  t.match(summary, { event: 'summary', terminals: 3, enrolled: 3, connected: 3, connectFailures: 0 });
  t.equal(summary.eventsAcked, summary.eventsQueued);
  t.match(ok.err, /done/, 'progress on stderr');
});
