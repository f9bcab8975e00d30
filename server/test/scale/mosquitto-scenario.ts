/**
 * External-broker scenario (run by `.ci/suites/mosquitto.sh`; needs the Debian `mosquitto`
 * package): generates Mosquitto's files with `onecard-server mosquitto-sync`, starts Mosquitto on
 * a free loopback port and the server in external-broker mode (`--broker-url`, `--mosquitto-dir`),
 * enrols terminals (their broker entries are captured and Mosquitto reloaded), and checks: own
 * traffic works, wrong credentials and cross-terminal traffic are refused by Mosquitto, an events
 * batch is stored and acked, a config pointer reaches the terminal (live and retained), uplinks
 * sent while the server is down are delivered when it comes back (its persistent session), and a
 * disabled terminal loses broker access. Cleans up its processes and directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { adminApi, birth, Checks, connectTerminal, enrol, eventsBatch, freePort, SERVER_BIN, sleep, startServerProcess, waitFor, type ServerProcess, type Terminal } from './harness.ts';

const checks = new Checks();
const work = mkdtempSync(join(tmpdir(), 'onecard-mosq-'));
chmodSync(work, 0o755);
const dataDir = join(work, 'data');
const mdir = join(work, 'mosquitto');
const pidFile = join(mdir, 'mosquitto.pid');
const ADMIN = `scale-mosq-${randomBytes(12).toString('hex')}`;
const BROKER_PASSWORD = randomBytes(18).toString('base64url');
let mosquitto: ChildProcess | undefined;
let server: ServerProcess | undefined;
const terminals: Terminal[] = [];

async function cleanup(): Promise<void> {
  for (const t of terminals) await t.end().catch(() => {});
  await server?.stop().catch(() => {});
  if (mosquitto !== undefined && mosquitto.exitCode === null) {
    mosquitto.kill('SIGTERM');
    await Promise.race([new Promise((r) => mosquitto!.once('exit', r)), sleep(5000)]);
  }
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const port = await freePort();
  const brokerUrl = `mqtt://127.0.0.1:${port}`;
  const env = { ONECARD_BROKER_PASSWORD: BROKER_PASSWORD, ONECARD_ADMIN_TOKEN: ADMIN };

  console.log('generate the Mosquitto files from the (empty) registry');
  const asRoot = process.getuid?.() === 0;
  const gen = spawnSync(process.execPath, [SERVER_BIN, 'mosquitto-sync', '--data-dir', dataDir, '--out', mdir, '--pid-file', pidFile,
    '--listen', `127.0.0.1:${port}`, '--persistence-dir', join(mdir, 'db'), ...(asRoot ? ['--run-as', 'root'] : [])], { env: { ...process.env, ...env }, encoding: 'utf8' });
  checks.ok(gen.status === 0, 'mosquitto-sync writes password_file, acl_file, mosquitto.conf', gen.stderr);
  const pw = readFileSync(join(mdir, 'password_file'), 'utf8');
  checks.ok(/^onecard-server:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==\nonecard-server\.pub:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==\n$/.test(pw), 'server entries (subscriber, publisher) in mosquitto_passwd $7$ format', pw.replace(/\$[^$\n]*\n/g, '$…\n'));
  checks.ok(readFileSync(join(mdir, 'acl_file'), 'utf8').includes('pattern write t/%u/up/events'), 'pattern ACL written');

  console.log(`start mosquitto on ${brokerUrl}`);
  mosquitto = spawn('mosquitto', ['-c', join(mdir, 'mosquitto.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitFor('mosquitto pid file', () => existsSync(pidFile));
  await waitFor('mosquitto listening', async () => connectTerminal(brokerUrl, 'probe', 'x', { subscribe: false }).then(() => true, (e: Error) => /Not authorized|Bad username|refused|Connection refused: Not/i.test(e.message) || undefined));

  console.log('start the server in external-broker mode');
  const args = ['--data-dir', dataDir, '--http-port', '0', '--broker-url', brokerUrl, '--mosquitto-dir', mdir, '--mosquitto-pid-file', pidFile, '--log-level', process.env.SCALE_LOG_LEVEL ?? 'warn', '--auth-rate-limit', '1000'];
  server = await startServerProcess('server', args, env);
  checks.equal(server.mqtt, brokerUrl, 'server reports the external broker as its MQTT URL');
  const api = adminApi(server.http, ADMIN);
  checks.equal((await api('POST', '/api/v1/groups', { id: 'hall', name: 'Hall' })).status, 201, 'group created');

  const a = await enrol(server.http, ADMIN, 'hall');
  const b = await enrol(server.http, ADMIN, 'hall');
  checks.equal(a.mqttUrl, brokerUrl, 'enrolment hands out the external broker URL');
  await waitFor('both terminals in password_file', () => {
    const f = readFileSync(join(mdir, 'password_file'), 'utf8');
    return f.includes(`${a.terminalId}:$7$`) && f.includes(`${b.terminalId}:$7$`);
  });
  checks.ok(!readFileSync(join(mdir, 'password_file'), 'utf8').includes(a.password), 'no clear password in the password file');
  await sleep(500); // let Mosquitto finish the SIGHUP reload

  console.log('authentication (Mosquitto)');
  const ta = await connectTerminal(brokerUrl, a.terminalId, a.password);
  terminals.push(ta);
  checks.ok(ta.client.connected, 'A connects with its enrolment credentials and subscribes to its trees');
  const wrong = await connectTerminal(brokerUrl, a.terminalId, 'oct_wrong', { subscribe: false }).then(() => 'connected', (e: Error) => e.message);
  checks.ok(wrong !== 'connected', 'wrong password refused', wrong);
  const bWithA = await connectTerminal(brokerUrl, a.terminalId, b.password, { subscribe: false }).then(() => 'connected', (e: Error) => e.message);
  checks.ok(bWithA !== 'connected', "B's password for A refused", bWithA);

  const tb = await connectTerminal(brokerUrl, b.terminalId, b.password);
  terminals.push(tb);
  console.log('access control (Mosquitto ACL)');
  // Mosquitto 2.0 grants the SUBACK and enforces `read` on delivery: B must never receive A's traffic.
  await tb.client.subscribeAsync([`t/${a.terminalId}/down/#`, 't/+/up/#'], { qos: 1 });
  await tb.client.publishAsync(`t/${a.terminalId}/up/birth`, birth(777), { qos: 1 });
  await tb.client.publishAsync(`t/${a.terminalId}/down/ack`, JSON.stringify({ v: 1, upToSeq: 999 }), { qos: 1 });
  await ta.client.publishAsync(`t/${a.terminalId}/up/birth`, birth(41), { qos: 1 });
  await waitFor("A's own birth stored", async () => (await api<{ epoch: number }>('GET', `/api/v1/terminals/${a.terminalId}`)).json.epoch === 41);
  checks.ok(true, "A's own birth reaches the server");
  await sleep(300);
  checks.equal((await api<{ epoch: number }>('GET', `/api/v1/terminals/${a.terminalId}`)).json.epoch, 41, "B's forged birth for A never reached the server");
  checks.ok(!ta.inbox.some((m) => m.topic.endsWith('/down/ack')), "A received nothing B wrote into A's down tree");

  console.log('events batch: stored, acked');
  const batch = eventsBatch(a.terminalId, 1, 20);
  await ta.client.publishAsync(`t/${a.terminalId}/up/events`, batch.json, { qos: 1 });
  const ack = await waitFor('down/ack', () => ta.inbox.find((m) => m.topic === `t/${a.terminalId}/down/ack`));
  checks.equal(JSON.parse(ack.payload), { v: 1, upToSeq: 20 }, 'server acks upToSeq 20 after storing');
  const stored = await api<{ events: unknown[] }>('GET', `/api/v1/events?terminal=${a.terminalId}&limit=100`);
  checks.equal(stored.json.events.length, 20, '20 events stored');

  console.log('config pointer');
  const doc = await api<{ version: number; sha256: string }>('POST', '/api/v1/configs', { id: 'hall-kiosk', name: 'Hall kiosk', document: EXAMPLE_TERMINAL_CONFIG });
  checks.equal(doc.status, 201, 'config created');
  checks.ok((await api('PUT', '/api/v1/groups/hall/config', { configId: 'hall-kiosk' })).status < 300, 'config assigned to the group');
  const ptr = await waitFor('config pointer', () => ta.inbox.find((m) => m.topic === `t/${a.terminalId}/down/config`));
  checks.equal(JSON.parse(ptr.payload), { v: 1, version: doc.json.version, sha256: doc.json.sha256 }, 'config pointer reaches A live');
  await sleep(300);
  const leaked = tb.inbox.filter((m) => m.topic.startsWith(`t/${a.terminalId}/`));
  checks.equal(leaked.map((m) => m.topic), [], "B, subscribed to A's down tree and every uplink, received none of A's messages");
  const late = await connectTerminal(brokerUrl, b.terminalId, b.password);
  terminals.push(late);
  const retained = await waitFor('retained pointer', () => late.inbox.find((m) => m.topic === `t/${b.terminalId}/down/config`));
  checks.ok(retained.retain && JSON.parse(retained.payload).version === doc.json.version, 'a (re)connecting terminal gets the retained pointer from Mosquitto');

  console.log('server down: uplinks wait in its Mosquitto session');
  await server.kill();
  const batch2 = eventsBatch(a.terminalId, 21, 5);
  await ta.client.publishAsync(`t/${a.terminalId}/up/events`, batch2.json, { qos: 1 });
  ta.inbox.length = 0;
  server = await startServerProcess('server (restarted)', args, env);
  const api3 = adminApi(server.http, ADMIN);
  await waitFor('events stored after restart', async () => (await api3<{ events: unknown[] }>('GET', `/api/v1/events?terminal=${a.terminalId}&limit=100`)).json.events.length === 25, 30_000);
  checks.ok(true, 'events published while the server was down are stored after it restarts');
  const ack2 = await waitFor('ack after restart', () => ta.inbox.find((m) => m.topic === `t/${a.terminalId}/down/ack`), 30_000);
  checks.equal(JSON.parse(ack2.payload), { v: 1, upToSeq: 25 }, 'events published while the server was down are stored and acked after it restarts');
  checks.equal((await adminApi(server.http, ADMIN)<{ events: unknown[] }>('GET', `/api/v1/events?terminal=${a.terminalId}&limit=100`)).json.events.length, 25, '25 events, none lost, none duplicated');

  console.log('disable: broker access withdrawn');
  const api2 = adminApi(server.http, ADMIN);
  checks.equal((await api2('POST', `/api/v1/terminals/${b.terminalId}/disable`, {})).status, 200, 'B disabled');
  await waitFor('B removed from password_file', () => !readFileSync(join(mdir, 'password_file'), 'utf8').includes(`${b.terminalId}:`));
  await sleep(500);
  const again = await connectTerminal(brokerUrl, b.terminalId, b.password, { subscribe: false }).then(() => 'connected', (e: Error) => e.message);
  checks.ok(again !== 'connected', 'disabled B cannot connect to Mosquitto any more', again);
  const stillA = await connectTerminal(brokerUrl, a.terminalId, a.password, { subscribe: false }).then((t) => { terminals.push(t); return 'connected'; }, (e: Error) => e.message);
  checks.equal(stillA, 'connected', 'A still connects after the reload');
}

const guard = setTimeout(() => { console.error('mosquitto scenario: overall time limit reached'); process.exitCode = 1; void cleanup().then(() => process.exit(1)); }, 240_000);
main().catch((e: unknown) => {
  checks.ok(false, 'scenario ran to the end', e instanceof Error ? e.stack : String(e));
  if (server !== undefined) console.error(`--- server output (tail)\n${server.output().slice(-3000)}`);
}).finally(async () => {
  clearTimeout(guard);
  await cleanup();
  checks.done('mosquitto scenario');
});
