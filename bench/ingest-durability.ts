/**
 * Durable ingest cost: what `synchronous=FULL` (every acknowledged batch is on disk before its
 * ack, surviving power loss) costs against the previous `synchronous=NORMAL` (WAL synced only at
 * checkpoints), on the same SQLite file system in the same run. Cases, each on a fresh store file:
 * the same records bulk-inserted in ONE transaction (the baseline of architecture.md's budget
 * "durable transaction ingest ≥ 0.5 × bulk insert"), store batches under FULL and under NORMAL,
 * and the server's whole ingest handler (schema-checked records, storability checks, store,
 * `down/ack` publish) under FULL, for one terminal and for BENCH_INGEST_TERMINALS (default 50)
 * terminals sending at once (their batches share commits: group commit). Not a budget row: the `ingest` budget is judged by the fleet
 * bench over MQTT; this one isolates the durability setting. BENCH_INGEST_RECORDS (default 20,000) records of ~200 bytes,
 * BENCH_INGEST_BATCH (default 100) per batch, as a terminal's outbox sends them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../server/src/app.ts';
import { openSqliteStore, type SqliteStore } from '../server/src/store/sqlite.ts';
import type { NewEvent } from '../server/src/store/types.ts';
import type { BenchRow } from './lib/measure.ts';

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

export default async function ingestDurability(): Promise<BenchRow[]> {
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
    { name: `server ingest handler, FULL, ${terminals} terminals at once (group commit)`, opsPerSec: fleet, baseline: 'bulk insert', ratio: fleet / bulk, note: `${note}; architecture.md asks ≥ 0.5× bulk insert` },
  ];
}
