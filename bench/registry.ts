/**
 * The card registry under load, SQLite and PostgreSQL side by side in the same run:
 * BENCH_REGISTRY_CARDS synthetic cards (default 1,000,000; `bench/run.ts --registry-cards=N` or
 * the variable for CI-sized runs) are imported through the registry's streaming CSV import
 * (validated, sealed, keyed-hashed, batched), then holder verification (HMAC of ID number + name,
 * indexed lookup) and card status (lookup by card number) run for BENCH_REGISTRY_MS (default
 * 3,000 ms) each with BENCH_REGISTRY_WORKERS concurrent callers (default 8), and holder
 * verification once more through the departments' HTTP interface (`inject()`: token and
 * department in one read, purpose, then the call's access record and quota use committed durably
 * in one transaction before the answer, grouped with the concurrent callers' records), with the
 * same workers and with one caller (no grouping: one durable commit per call). The baseline is a plain indexed SELECT by card
 * number on the same store in the same run. Figures: import time and rows/s, lookups/s, p99
 * latency, store size. PostgreSQL runs on a throw-away cluster (bench/lib/postgres.ts).
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { buildApp, bootstrapAdminToken } from '@onecard/server/src/app.ts';
import { openSqliteStore, type SqliteStore } from '@onecard/server/src/store/sqlite.ts';
import { openPostgresStore, type PostgresStore } from '@onecard/server/src/store/postgres.ts';
import type { Store } from '@onecard/server/src/store/types.ts';
import { USABLE_STATUSES, regionCodes } from '@onecard/server/src/registry/model.ts';
import { PiiCipher } from '@onecard/server/src/registry/pii.ts';
import { RegistryService } from '@onecard/server/src/registry/service.ts';
import { csvLine, syntheticCard, SYNTHETIC_CSV_HEADER } from '@onecard/server/src/registry/synthetic.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import type { BenchRow } from './lib/measure.ts';

const envInt = (name: string, dflt: number): number => {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

interface Load { readonly opsPerSec: number; readonly p99Ms: number; readonly p50Ms: number }

/** `workers` concurrent callers of `op(i)` for `ms`; ops/s and latency percentiles. */
async function load(op: (i: number) => Promise<unknown>, ms: number, workers: number): Promise<Load> {
  const lat: number[] = [];
  let seq = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      await op(seq++);
      lat.push(performance.now() - s);
    }
  }));
  const elapsed = performance.now() - t0;
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { opsPerSec: (lat.length / elapsed) * 1000, p99Ms: pct(0.99), p50Ms: pct(0.5) };
}

/** Lazily generated CSV of `n` synthetic cards. */
function csvStream(n: number): Readable {
  let i = -1;
  return new Readable({
    read() {
      let chunk = '';
      for (let k = 0; k < 2000 && i < n; k++, i++) chunk += i < 0 ? `${SYNTHETIC_CSV_HEADER}\n` : `${csvLine(syntheticCard(i))}\n`;
      this.push(chunk === '' ? null : chunk);
    },
  });
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function runOne(label: string, store: Store, n: number, baselineLookup: (card: string) => Promise<unknown>, size: () => Promise<number>): Promise<BenchRow[]> {
  const master = new Uint8Array(randomBytes(32));
  let now = Date.now();
  const clock = { now: () => now };
  const svc = new RegistryService({ store: store.registry, cipher: new PiiCipher(master), regions: regionCodes(), clock });
  const rows: BenchRow[] = [];

  const t0 = performance.now();
  const rep = await svc.import('bench', 'csv', csvStream(n), 'import:bench', () => {}, () => {});
  const importS = (performance.now() - t0) / 1000;
  if (rep.created !== n || rep.refusedCount !== 0) throw new Error(`${label}: import created ${rep.created} of ${n}, refused ${rep.refusedCount}`);
  rows.push({ name: `${label}: import ${fmt(n)} cards (CSV, validated, sealed, batched)`, opsPerSec: n / importS, figure: `${importS.toFixed(1)} s` });

  const ms = envInt('BENCH_REGISTRY_MS', 3000);
  const workers = envInt('BENCH_REGISTRY_WORKERS', 8);
  const pick = (i: number): number => (i * 7_919 + 13) % n;
  const usable = [...USABLE_STATUSES];
  const base = await load((i) => baselineLookup(syntheticCard(pick(i)).cardNumber), ms, workers);
  rows.push({ name: `${label}: baseline plain indexed SELECT by card number`, opsPerSec: base.opsPerSec, note: `p50 ${base.p50Ms.toFixed(2)} ms, p99 ${base.p99Ms.toFixed(2)} ms` });
  const status = await load(async (i) => {
    const c = await svc.store.getCard(syntheticCard(pick(i)).cardNumber);
    if (c === undefined) throw new Error('card missing');
    return USABLE_STATUSES.has(c.status);
  }, ms, workers);
  rows.push({ name: `${label}: card status (registry store)`, opsPerSec: status.opsPerSec, baseline: 'plain indexed SELECT', ratio: status.opsPerSec / base.opsPerSec, note: `p50 ${status.p50Ms.toFixed(2)} ms, p99 ${status.p99Ms.toFixed(2)} ms` });
  const verify = await load(async (i) => {
    const c = syntheticCard(pick(i));
    if (!(await svc.store.holderHasCardIn(svc.cipher.holderHash(c.idNumber, c.name), usable))) throw new Error('no match');
  }, ms, workers);
  rows.push({ name: `${label}: holder verification (HMAC + indexed lookup)`, opsPerSec: verify.opsPerSec, baseline: 'plain indexed SELECT', ratio: verify.opsPerSec / base.opsPerSec, note: `p50 ${verify.p50Ms.toFixed(2)} ms, p99 ${verify.p99Ms.toFixed(2)} ms` });

  // Through the departments' interface: token check, purpose, quota and the tracker write per call.
  const app = await buildApp({ store, clock, masterKey: master, logger: false });
  try {
    // The app builds its own service over the same master key: same seals and hashes.
    const admin = (await bootstrapAdminToken(store, clock))!;
    const d = (await app.inject({ method: 'POST', url: '/api/v1/sharing/departments', headers: { authorization: `Bearer ${admin}` }, payload: { id: 'bench', name: 'bench', purposes: ['subsidy'], ratePerMinute: 100_000, dailyQuota: 100_000_000 } })).json() as { clientId: string; clientSecret: string };
    const tok = (await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${d.clientId}&client_secret=${d.clientSecret}` })).json() as { access_token: string };
    const headers = { authorization: `Bearer ${tok.access_token}` };
    const verifyApi = async (i: number): Promise<void> => {
      const c = syntheticCard(pick(i));
      const r = await app.inject({ method: 'POST', url: '/sharing/v1/holders/verify', headers, payload: { purpose: 'subsidy', idNumber: c.idNumber, name: c.name } });
      if (r.statusCode !== 200 || !(r.json() as { match: boolean }).match) throw new Error(`verify via API: ${r.statusCode} ${r.body}`);
    };
    const api = await load(verifyApi, ms, workers);
    rows.push({ name: `${label}: holder verification via /sharing/v1, ${workers} callers (auth, quota, tracker write)`, opsPerSec: api.opsPerSec, baseline: 'plain indexed SELECT', ratio: api.opsPerSec / base.opsPerSec, note: `p50 ${api.p50Ms.toFixed(2)} ms, p99 ${api.p99Ms.toFixed(2)} ms; access record + quota in one durable commit per call, concurrent calls' records grouped` });
    const one = await load(verifyApi, ms, 1);
    rows.push({ name: `${label}: holder verification via /sharing/v1, 1 caller`, opsPerSec: one.opsPerSec, baseline: 'plain indexed SELECT', ratio: one.opsPerSec / base.opsPerSec, note: `p50 ${one.p50Ms.toFixed(2)} ms, p99 ${one.p99Ms.toFixed(2)} ms; one durable commit per call, nothing to group` });
  } finally {
    await app.close();
  }
  now = Date.now();
  rows.push({ name: `${label}: store size after import`, figure: mib(await size()), note: `${(await size() / n).toFixed(0)} B per card (cards, history, indexes)` });
  return rows;
}

export default async function registryBench(): Promise<BenchRow[]> {
  const n = envInt('BENCH_REGISTRY_CARDS', 1_000_000);
  const out: BenchRow[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-registry-'));
  try {
    const file = join(dir, 'registry.db');
    const lite: SqliteStore = openSqliteStore(file);
    const plain = lite.db.prepare('SELECT status FROM registry_cards WHERE card_number = ?');
    const size = async (): Promise<number> => {
      lite.db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    };
    out.push(...await runOne('SQLite', lite, n, async (card) => plain.get(card), size));
    await lite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const pg = await startBenchPostgres();
  if ('skipped' in pg) {
    out.push({ name: 'PostgreSQL', note: `skipped: ${pg.skipped}` });
    return out;
  }
  try {
    const store: PostgresStore = await openPostgresStore(pg.url, { max: 16 });
    try {
      const size = async (): Promise<number> => Number((await store.pool.query<{ b: string }>("SELECT (pg_total_relation_size('registry_cards') + pg_total_relation_size('registry_history'))::text AS b")).rows[0]!.b);
      out.push(...await runOne('PostgreSQL', store, n, async (card) => store.pool.query({ name: 'bench_plain', text: 'SELECT status FROM registry_cards WHERE card_number = $1', values: [card] }), size));
    } finally {
      await store.close();
    }
  } finally {
    pg.stop();
  }
  return out;
}
