/**
 * Durable ingest against the store itself. The budget (architecture.md): OneCard's end-to-end
 * ingest — terminals publishing QoS 1 outbox batches over MQTT, the server checking, storing
 * (acknowledged = on disk: SQLite `synchronous=FULL`, PostgreSQL `fsync` + `synchronous_commit`
 * on) and sending `down/ack` — at ≥ 0.5 × the same number of records of the same shape bulk-inserted
 * straight into the same store (same SQLite file / same PostgreSQL database, same durability) in
 * ONE transaction, in the same run. Measured on SQLite and on a throw-away PostgreSQL cluster
 * (skipped with the reason when PostgreSQL is not installed). The simulated terminals
 * (BENCH_INGEST_E2E_TERMINALS, default 500, × BENCH_INGEST_E2E_RECORDS, default 200 records in
 * batches of 100) run in a child process (`bench/fleet-worker.ts`); the server in this one.
 *
 * Also, to isolate the durability setting: store batches under `synchronous=FULL` and `NORMAL`,
 * and the server's ingest handler without MQTT (one terminal, and BENCH_INGEST_TERMINALS, default
 * 50, at once: group commit), each on a fresh SQLite file, BENCH_INGEST_RECORDS (default 20,000)
 * records of ~200 bytes, BENCH_INGEST_BATCH (default 100) per batch.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '@onecard/server/src/app.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';
import { hashToken } from '@onecard/server/src/crypto-util.ts';
import { startServer, type RunningServer } from '@onecard/server/src/server.ts';
import { openSqliteStore, type SqliteStore } from '@onecard/server/src/store/sqlite.ts';
import type { NewEvent } from '@onecard/server/src/store/types.ts';
import type { TerminalCredentials } from './fleet-worker.ts';
import { FleetChild } from './lib/fleet-child.ts';
import type { BenchRow } from './lib/measure.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { startProfile, stopProfile } from './lib/profile.ts';

const envInt = (name: string, dflt: number): number => {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

function records(n: number, offset = 0): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `evt-${String(offset + i).padStart(12, '0')}`, seq: offset + i + 1, ts: 1_764_000_000_000 + i, type: i % 4 === 0 ? 'txn.purchase' : 'card.read',
    body: { reader: 'front', result: 'ok', cardNumber: 'A87654321', amount: i % 1000, tac: 'A1B2C3D4', terminalSeq: i, note: 'x'.repeat(80) },
  }));
}

async function withStore<T>(sync: 'FULL' | 'NORMAL', fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-ingest-'));
  const s = openSqliteStore(join(dir, 'onecard.db'));
  s.db.pragma(`synchronous = ${sync}`);
  try {
    return await fn(s);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const log = (msg: string): void => {
  process.stderr.write(`[ingest-durability] ${msg}\n`);
};

interface E2E { readonly mqttPerSec: number; readonly bulkPerSec: number; readonly records: number; readonly mqttMs: number; readonly bulkMs: number }

/**
 * End-to-end MQTT ingest, then the same number of records bulk-inserted into the same store in one
 * transaction. `storeUrl` undefined = SQLite file in a temp dir.
 */
async function endToEnd(label: string, storeUrl: string | undefined, terminals: number, perTerminal: number): Promise<E2E> {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-ingest-e2e-'));
  let server: RunningServer | undefined;
  const child = new FleetChild();
  try {
    server = await startServer({
      config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'error', authRateLimitPerMinute: 10_000_000, storeUrl, mqttMaxPerAddress: 100_000, mqttMaxPending: 2_000, mqttMaxPendingPerAddress: 2_000 },
      dbPath: join(dir, 'onecard.db'),
      adminTokenPreset: `bench-ingest-admin-${process.pid}-0123456789`,
    });
    const store = server.app.ctx.store;
    await store.createGroup({ id: 'bench', name: 'bench', createdAt: Date.now() });
    const creds: TerminalCredentials[] = [];
    for (let i = 0; i < terminals; i++) {
      const id = `I${String(i).padStart(6, '0')}`;
      const password = randomBytes(18).toString('base64url');
      await store.createTerminal({ id, groupId: 'bench', tags: [], kind: 'kiosk', publicKey: 'bench', credentialHash: hashToken(password), createdAt: Date.now() });
      creds.push({ terminalId: id, password, mqttUrl: server.mqttUrl, serverPublicKey: '' });
    }
    if (!(await child.next()).ok) throw new Error('worker failed to start');
    await child.call({ cmd: 'load', server: server.httpUrl, credentials: creds });
    await child.call({ cmd: 'connect', batchSize: 100 });
    // Warm-up: a few records from every terminal (JIT, statements), not timed.
    await child.call({ cmd: 'burst', recordsPerTerminal: 10, terminals, timeoutMs: 120_000 });
    log(`${label}: ${terminals} terminals × ${perTerminal} records over MQTT`);
    await child.call({ cmd: 'profile-start' });
    await startProfile();
    const burst = await child.call({ cmd: 'burst', recordsPerTerminal: perTerminal, terminals, timeoutMs: 300_000 });
    await stopProfile(`ingest-e2e-server-${label}`);
    await child.call({ cmd: 'profile-stop', name: `ingest-e2e-terminals-${label}` });
    const records = Number(burst['records']);
    // The baseline: the same number of records, same shape as the simulator sends, per terminal,
    // all in ONE transaction of the same store.
    const ts = Date.now();
    const batches = creds.map((c, t) => ({
      terminalId: c.terminalId, receivedAt: ts,
      records: Array.from({ length: perTerminal }, (_, i) => ({ eventId: `bulk.${t}.${i}`, seq: 9e12 + i, ts, type: 'sim.card-read', body: { ok: true } })),
    }));
    log(`${label}: bulk insert of ${records} records`);
    const b0 = performance.now();
    await store.ingestEventBatches(batches);
    const bulkMs = performance.now() - b0;
    await child.call({ cmd: 'close' });
    return { mqttPerSec: (records * 1000) / burst.ms, bulkPerSec: (records * 1000) / bulkMs, records, mqttMs: burst.ms, bulkMs };
  } finally {
    child.kill();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function e2eRows(label: string, r: E2E, durability: string): BenchRow[] {
  const ratio = r.mqttPerSec / r.bulkPerSec;
  return [
    { name: `${label}: bulk insert, one transaction, ${durability} (baseline)`, opsPerSec: r.bulkPerSec, note: `${r.records} records in ${(r.bulkMs / 1000).toFixed(2)} s, same store as the MQTT case` },
    {
      name: `${label}: end-to-end MQTT ingest (QoS 1 batches → checks → store → down/ack), ${durability}`,
      opsPerSec: r.mqttPerSec, baseline: `${label} bulk insert`, ratio,
      budget: { key: 'ingest', part: label, pass: ratio >= 0.5 },
      note: `${r.records} records acknowledged in ${(r.mqttMs / 1000).toFixed(2)} s; budget ≥ 0.5× ${ratio >= 0.5 ? 'met' : 'MISSED'}`,
    },
  ];
}

export default async function ingestDurability(): Promise<BenchRow[]> {
  const out: BenchRow[] = [];
  const e2eTerminals = envInt('BENCH_INGEST_E2E_TERMINALS', 500);
  const e2eRecords = envInt('BENCH_INGEST_E2E_RECORDS', 200);
  out.push(...e2eRows('SQLite', await endToEnd('sqlite', undefined, e2eTerminals, e2eRecords), 'synchronous=FULL'));
  const pg = await startBenchPostgres();
  if ('skipped' in pg) {
    out.push({ name: 'PostgreSQL: end-to-end MQTT ingest vs bulk insert', note: `not run: ${pg.skipped}` });
  } else {
    try {
      out.push(...e2eRows('PostgreSQL', await endToEnd('postgres', pg.url, e2eTerminals, e2eRecords), 'fsync + synchronous_commit on'));
    } finally {
      pg.stop();
    }
  }
  if (process.env['BENCH_INGEST_E2E_ONLY'] === '1') return out;
  return [...out, ...(await storeCases())];
}

async function storeCases(): Promise<BenchRow[]> {
  const n = envInt('BENCH_INGEST_RECORDS', 20_000);
  const batch = envInt('BENCH_INGEST_BATCH', 100);
  const recs = records(n);
  const batches: NewEvent[][] = [];
  for (let i = 0; i < n; i += batch) batches.push(recs.slice(i, i + batch));
  const time = async (fn: () => Promise<void>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return (n * 1000) / (performance.now() - t0);
  };

  const bulkCase = () => withStore('FULL', (s) => time(async () => { await s.ingestEvents('T1', recs, 1); }));
  const fullCase = () => withStore('FULL', (s) => time(async () => { for (const b of batches) await s.ingestEvents('T1', b, 1); }));
  const normalCase = () => withStore('NORMAL', (s) => time(async () => { for (const b of batches) await s.ingestEvents('T1', b, 1); }));
  const handlerCase = () => withStore('FULL', async (s) => {
    const app = await buildApp({ store: s });
    try {
      await app.ready();
      return await time(async () => { for (const b of batches) await app.uplink.dispatch('events', 'T1', { v: 1, records: b }, ''); });
    } finally {
      await app.close();
    }
  });
  // The same records from `terminals` terminals sending their batches at the same time: the
  // handler groups the batches that arrive together into one commit.
  const terminals = envInt('BENCH_INGEST_TERMINALS', 50);
  const perTerminal: NewEvent[][][] = Array.from({ length: terminals }, () => []);
  batches.forEach((b, i) => perTerminal[i % terminals]!.push(b));
  const fleetCase = () => withStore('FULL', async (s) => {
    const app = await buildApp({ store: s });
    try {
      await app.ready();
      return await time(async () => {
        await Promise.all(perTerminal.map(async (mine, t) => { for (const b of mine) await app.uplink.dispatch('events', `T${t}`, { v: 1, records: b }, ''); }));
      });
    } finally {
      await app.close();
    }
  });
  // One warm-up round (JIT, statement caches), then the best of ROUNDS interleaved rounds, so
  // every case sees the same disk and load.
  const rounds = envInt('BENCH_INGEST_ROUNDS', 3);
  await bulkCase(); await fullCase(); await normalCase(); await handlerCase(); await fleetCase();
  let bulk = 0; let full = 0; let normal = 0; let handler = 0; let fleet = 0;
  for (let r = 0; r < rounds; r++) {
    bulk = Math.max(bulk, await bulkCase());
    normal = Math.max(normal, await normalCase());
    full = Math.max(full, await fullCase());
    handler = Math.max(handler, await handlerCase());
    fleet = Math.max(fleet, await fleetCase());
  }

  const note = `${n} records, ${batches.length} batches of ${batch}, best of ${rounds}`;
  return [
    { name: 'bulk insert, one transaction (baseline)', opsPerSec: bulk, note },
    { name: `store batches, synchronous=NORMAL (before)`, opsPerSec: normal, baseline: 'bulk insert', ratio: normal / bulk, note: 'not power-loss safe' },
    { name: `store batches, synchronous=FULL (now)`, opsPerSec: full, baseline: 'bulk insert', ratio: full / bulk, note: `${((1 - full / normal) * 100).toFixed(0)}% slower than NORMAL` },
    { name: 'server ingest handler (checks, store, ack), FULL, one terminal', opsPerSec: handler, baseline: 'bulk insert', ratio: handler / bulk, note },
    { name: `server ingest handler, FULL, ${terminals} terminals at once (group commit)`, opsPerSec: fleet, baseline: 'bulk insert', ratio: fleet / bulk, note: `${note}; without MQTT` },
  ];
}
