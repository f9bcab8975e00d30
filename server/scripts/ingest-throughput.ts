/**
 * Quick measurement of durable event ingest (not a test; numbers vary by machine):
 *  1. store only: `ingestEvents` batches into a file-backed SQLite store (WAL);
 *  2. end to end: terminals on loopback MQTT publish QoS 1 `up/events` batches and wait for the
 *     server's `down/ack` (sent only after the batch committed), one batch in flight each.
 * Usage: node --import tsx scripts/ingest-throughput.ts [events=200000] [batch=200] [terminals=20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import mqtt from 'mqtt';
import { encodeFleetMessage } from '@onecard/protocol/fleet';
import { openSqliteStore } from '../src/store/sqlite.ts';
import { startServer } from '../src/server.ts';
import { CONFIG_DEFAULTS } from '../src/config.ts';

const total = Number(process.argv[2] ?? 200_000);
const batch = Number(process.argv[3] ?? 200);
const terminals = Number(process.argv[4] ?? 20);
const rec = (t: number, i: number) => ({ eventId: `evt-${t}-${String(i).padStart(9, '0')}`, seq: i, ts: 1_764_000_000_000 + i, type: i % 5 === 0 ? 'txn.purchase' : 'card.read', body: { reader: 'front', amount: i % 1000, card: 'X0000001*' } });

async function storeOnly(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-ingest-'));
  const s = openSqliteStore(join(dir, 'db'));
  await s.createGroup({ id: 'g', name: 'g', createdAt: 1 });
  await s.createTerminal({ id: 'T1', groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: 'h', createdAt: 1 });
  const batches = Array.from({ length: Math.ceil(total / batch) }, (_, b) => Array.from({ length: batch }, (_, i) => rec(1, b * batch + i + 1)));
  const t0 = performance.now();
  for (const b of batches) await s.ingestEvents('T1', b, Date.now());
  const ms = performance.now() - t0;
  console.log(`store only: ${total} events in ${ms.toFixed(0)} ms = ${Math.round(total / (ms / 1000))} events/s (batch ${batch})`);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
}

async function endToEnd(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-ingest-'));
  const admin = 'bench-admin-token-0123456789';
  const srv = await startServer({ config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'warn' }, dbPath: join(dir, 'onecard.db'), adminTokenPreset: admin });
  const h = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
  await fetch(`${srv.httpUrl}/api/v1/groups`, { method: 'POST', headers: h, body: JSON.stringify({ id: 'g', name: 'g' }) });
  const clients = [];
  for (let t = 0; t < terminals; t++) {
    const tok = await (await fetch(`${srv.httpUrl}/api/v1/enrolment-tokens`, { method: 'POST', headers: h, body: JSON.stringify({ groupId: 'g' }) })).json() as { token: string };
    const pk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const res = await fetch(`${srv.httpUrl}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.token, publicKey: pk }) });
    if (res.status !== 201) throw new Error(`enrol: ${res.status} ${await res.text()}`);
    const e = await res.json() as { terminalId: string; mqtt: { password: string } };
    const c = await mqtt.connectAsync(srv.mqttUrl, { clientId: e.terminalId, username: e.terminalId, password: e.mqtt.password, protocolVersion: 4, reconnectPeriod: 0 });
    await c.subscribeAsync(`t/${e.terminalId}/down/ack`, { qos: 1 });
    clients.push({ c, id: e.terminalId });
  }
  const perTerminal = Math.ceil(total / terminals / batch);
  const payloads = clients.map((_, t) => Array.from({ length: perTerminal }, (_, b) => Buffer.from(encodeFleetMessage('events', { v: 1, records: Array.from({ length: batch }, (_, i) => rec(t, b * batch + i + 1)) }))));
  const t0 = performance.now();
  await Promise.all(clients.map(async ({ c, id }, t) => {
    for (const p of payloads[t]!) {
      const acked = new Promise<void>((r) => c.once('message', () => r()));
      await c.publishAsync(`t/${id}/up/events`, p, { qos: 1 });
      await acked;
    }
  }));
  const ms = performance.now() - t0;
  const n = perTerminal * batch * terminals;
  console.log(`end to end (MQTT QoS1 → SQLite commit → down/ack): ${n} events from ${terminals} terminals in ${ms.toFixed(0)} ms = ${Math.round(n / (ms / 1000))} events/s (batch ${batch})`);
  for (const { c } of clients) await c.endAsync(true);
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
}

await storeOnly();
await endToEnd();
