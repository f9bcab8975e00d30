/**
 * End to end over loopback HTTP + MQTT: a key custodian imports a wrapped transit key set and
 * assigns it to a group; a real terminal (FleetAgent + JobRunner + Keystore from terminal/src)
 * gets the job notification, fetches the key blocks wrapped under its own KBPK, loads them and
 * acknowledges with the key-set check value; the server marks it succeeded; then a purchase with
 * the soft SAM on the delivered keys is accepted by the simulated transit card. A second terminal
 * that reports a wrong check value is marked failed.
 */
import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { decodeFleetMessage, deriveKbpk, encodeFleetMessage } from '@onecard/protocol/fleet';
import { createCardFromFile, type UserCard } from '@onecard/simulators';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { wrapKeySetForImport } from '../../src/keys/key-crypto.ts';
import { enrol } from '@onecard/terminal/src/agent/enrol.ts';
import { loadIdentity } from '@onecard/terminal/src/agent/identity.ts';
import { MemoryOutbox } from '@onecard/terminal/src/agent/memory-outbox.ts';
import { FleetAgent } from '@onecard/terminal/src/agent/fleet-agent.ts';
import { JobRunner } from '@onecard/terminal/src/agent/job-runner.ts';
import { openKeystore } from '@onecard/terminal/src/agent/keystore.ts';
import { SoftSam } from '@onecard/terminal/src/agent/soft-sam.ts';
import { createMemoryChannel } from '@onecard/terminal/src/card/memory-channel.ts';
import { createMemoryJournal } from '@onecard/terminal/src/services/journal.ts';
import { purchase } from '@onecard/terminal/src/services/purchase.ts';
import { newTerminalKey } from '../helpers.ts';

// The simulated transit card's FIXED TEST keys (simulators/cards/transit-only.json).
const MPK = fromHex('544553542D4D504B2D334445532D3031');
const MTK = fromHex('544553542D4D544B2D334445532D3031');

async function until(what: string, fn: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('key set: import → assign → terminal loads and acknowledges → soft-SAM purchase', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'onecard-keys-e2e-'));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = { publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), privateKeyPkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })) };
  const store = openSqliteStore(':memory:');
  const net: Server = createServer();
  await new Promise<void>((r) => net.listen(0, '127.0.0.1', () => r()));
  const mqttUrl = `mqtt://127.0.0.1:${(net.address() as { port: number }).port}`;
  const app = await buildApp({ store, keys, masterKey: new Uint8Array(randomBytes(32)), settings: { mqttUrl, authRateLimitPerMinute: 1000 } });
  net.on('connection', (s) => app.broker.handle(s));
  const adminToken = (await bootstrapAdminToken(store, { now: () => Date.now() }))!;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const httpUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const stops: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    for (const c of Object.values((app.broker as unknown as { clients: Record<string, { close(): void }> }).clients)) c.close();
    await new Promise<void>((r) => net.close(() => r()));
    await app.close();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  const call = async (method: string, url: string, token: string, payload?: unknown) => {
    const r = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
    return { status: r.statusCode, body: r.body.length > 0 ? r.json() as Record<string, unknown> : {} };
  };
  const custodian = (await call('POST', '/api/v1/admin/tokens', adminToken, { name: 'custodian', role: 'key-custodian' })).body.token as string;
  t.equal((await call('POST', '/api/v1/groups', adminToken, { id: 'transit', name: 'Transit gates' })).status, 201);
  const token = async () => (await call('POST', '/api/v1/enrolment-tokens', adminToken, { groupId: 'transit' })).body.token as string;

  // --- the terminal: enrolment, KBPK, keystore, agent with the job runner ---
  await enrol({ serverUrl: httpUrl, token: await token(), dataDir: root, kind: 'gate' });
  const id = await loadIdentity(root);
  const kbpk = deriveKbpk(id.privateKey, id.serverPublicKey, id.terminalId);
  const ks = await openKeystore(join(root, 'keys'), kbpk);
  const runner = new JobRunner({ serverUrl: id.serverUrl, terminalId: id.terminalId, password: id.mqtt.password, keystore: ks });
  const agent = new FleetAgent({
    terminalId: id.terminalId, serverUrl: id.serverUrl, mqtt: id.mqtt, outbox: new MemoryOutbox(), softwareVersion: '1.0.0', kind: 'gate',
    keysVersion: () => ks.version, onJobNotify: runner.onJobNotify, flushIntervalMs: 100, policy: { backoffBaseMs: 50, backoffMaxMs: 200 },
  });
  agent.start();
  stops.push(() => agent.stop());
  await until('online', () => agent.state.kind === 'online');

  // --- a second terminal (raw MQTT) that will report a wrong check value ---
  const en = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: await token(), publicKey: newTerminalKey() } });
  const liar = en.json() as { terminalId: string; mqtt: { password: string } };
  const lc = await mqtt.connectAsync(mqttUrl, { clientId: liar.terminalId, username: liar.terminalId, password: liar.mqtt.password, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  stops.push(() => lc.endAsync(true));
  lc.on('message', (topic, payload) => {
    if (!topic.endsWith('/down/jobs/notify')) return;
    const n = decodeFleetMessage('jobs/notify', new Uint8Array(payload));
    if (n.next?.kind !== 'keys') return;
    void lc.publishAsync(`t/${liar.terminalId}/up/jobs/${n.next.jobId}`, Buffer.from(encodeFleetMessage('jobs/progress', { v: 1, status: 'succeeded', kcv: '000000' })), { qos: 1 });
  });
  await lc.subscribeAsync(`t/${liar.terminalId}/down/#`, { qos: 1 });
  // Its birth reports its readers (no PSAM): without one the server delivers no keys.
  await lc.publishAsync(`t/${liar.terminalId}/up/birth`, Buffer.from(encodeFleetMessage('birth', { v: 1, epoch: 1, ts: Date.now(), versions: { software: '1.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [{ id: 'front', link: 'serial', status: 'ok' }] })), { qos: 1 });

  // --- the custodian imports a key set, wrapped ---
  const ik = await call('GET', '/api/v1/key-sets/import-key', custodian);
  t.equal(ik.status, 200);
  const wrapped = wrapKeySetForImport(ik.body.publicKey as string, 'transit-2025', [
    { usage: '61', keyVersion: 1, algorithmId: 0, levels: 2, key: MPK },
    { usage: '62', keyVersion: 1, algorithmId: 0, levels: 2, key: MTK },
  ]);
  const imp = await call('POST', '/api/v1/key-sets', custodian, { keySetId: 'transit-2025', description: 'test keys', ...wrapped });
  // Custody: the key custodian approves both terminals' key pairs (the admin enrolled them).
  for (const tid of [id.terminalId, liar.terminalId]) {
    t.equal((await call('PUT', `/api/v1/terminals/${tid}/key-approval`, custodian, { validForSeconds: 86400 })).status, 200, 'approved for soft-SAM delivery');
  }
  t.equal(imp.status, 201, JSON.stringify(imp.body));
  t.same((imp.body.keys as { kcv: string }[]).map((k) => k.kcv.length), [6, 6]);
  const assign = await call('PUT', '/api/v1/groups/transit/key-set', custodian, { keySetId: 'transit-2025', version: 1 });
  t.equal(assign.status, 200, JSON.stringify(assign.body));
  const job = assign.body.job as { id: string; seq: number; expectedKcv: string };

  const entries = async () => ((await call('GET', `/api/v1/key-jobs/${job.id}`, adminToken)).body.terminals as { terminalId: string; status: string; reportedKcv: string | null; error: string | null }[]);
  await until('both terminals finished', async () => (await entries()).every((e) => e.status !== 'queued' && e.status !== 'in-progress'));
  const byId = Object.fromEntries((await entries()).map((e) => [e.terminalId, e]));
  t.equal(byId[id.terminalId]?.status, 'succeeded', 'the real terminal acknowledged with the expected check value');
  t.equal(byId[id.terminalId]?.reportedKcv, job.expectedKcv);
  t.equal(byId[liar.terminalId]?.status, 'failed', 'a wrong check value is marked failed');
  t.equal(byId[liar.terminalId]?.error, 'kcv-mismatch');
  t.equal(ks.version, job.seq, 'the keystore holds the job version');
  t.same(ks.list().map((k) => [k.role, k.keyVersion]), [['purchase', 1], ['tac', 1]]);

  // The audit trail has the import, the assignment, the delivery and both outcomes.
  const audit = (await call('GET', '/api/v1/audit?limit=200', adminToken)).body as { entries?: { action: string }[]; audit?: { action: string }[] };
  const actions = new Set((audit.entries ?? audit.audit ?? []).map((a) => a.action));
  for (const a of ['key-set.import', 'key-set.assign', 'key-job.create', 'key-job.deliver', 'key-job.succeeded', 'key-job.failed']) t.ok(actions.has(a), `audited: ${a}`);

  // --- a purchase with the soft SAM on the delivered keys ---
  const sam = new SoftSam({ keystore: ks, terminalNumber: '639900000001', nextSerial: (() => { let s = 0; return () => ++s; })() });
  const card = createCardFromFile(new URL('../../../simulators/cards/transit-only.json', import.meta.url).pathname) as UserCard;
  const res = await purchase({ card: createMemoryChannel(card), psam: sam, journal: createMemoryJournal(), amount: 120, clock: { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) } });
  t.equal(res.kind, 'completed', 'the simulated card accepted MAC1 from the delivered key');
  if (res.kind === 'completed') {
    t.equal(res.record.mac2Verified, true, 'MAC2 verified with the delivered key');
    t.equal(res.balanceAfter, 380);
  }

  // Reconnect: nothing pending any more, nothing reloaded.
  const loads = runner.stats.keysLoaded;
  const list = await fetch(`${httpUrl}/api/v1/terminal/jobs`, { headers: { authorization: `Basic ${Buffer.from(`${id.terminalId}:${id.mqtt.password}`).toString('base64')}` } });
  t.same(await list.json(), { v: 1, jobs: [] }, 'no pending job after success');
  t.equal(runner.stats.keysLoaded, loads);
  t.notOk(JSON.stringify(await (await fetch(`${httpUrl}/api/v1/key-sets`, { headers: { authorization: `Bearer ${adminToken}` } })).json()).includes(toHex(MPK)), 'no clear key over the API');
});
