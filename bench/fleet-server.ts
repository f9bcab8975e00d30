/**
 * Fleet server benchmark: the OneCard server (startServer: Fastify + embedded aedes + SQLite) runs
 * in this process; the simulated terminals run in a child process (`bench/fleet-worker.ts`, with
 * the fd limit raised to the hard limit). Connects N terminals (BENCH_TERMINALS, default 10,000),
 * pushes one configuration version to all and waits for every `applied` status, ingests a burst of
 * QoS 1 event batches, and measures a bare aedes broker's QoS 1 relay (publisher → subscriber, same
 * payloads, same publisher count) in the same run for the ratio. Reports connect time,
 * push-to-all-applied time, server memory per terminal (RSS delta / N), durable events/s.
 * Budgets (architecture.md): ≤ 50 KB per terminal, ≤ 5 s to all applied, ≥ 20,000 events/s and
 * ≥ 0.5 × raw relay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Aedes } from 'aedes';
import { startServer, type RunningServer } from '../server/src/server.ts';
import { CONFIG_DEFAULTS } from '../server/src/config.ts';
import { EXAMPLE_TERMINAL_CONFIG } from '../protocol/src/fleet/index.ts';
import type { BenchRow } from './lib/measure.ts';
import type { WorkerCommand, WorkerReply } from './fleet-worker.ts';

const ADMIN = `bench-fleet-admin-${process.pid}-0123456789`;
const envInt = (name: string, dflt: number): number => {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

const started = performance.now();
/** Phase lines on stderr so a long run shows where it is. */
const log = (msg: string): void => {
  process.stderr.write(`[fleet-server +${((performance.now() - started) / 1000).toFixed(1)} s] ${msg}\n`);
};

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function settledRss(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().rss;
}

class Worker {
  readonly #child: ChildProcess;
  #waiters: ((r: WorkerReply) => void)[] = [];

  constructor() {
    const script = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
    // `ulimit -n` is inherited: raise the soft limit to the hard one for the child.
    const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "${process.execPath}" --import tsx "${script}"`;
    this.#child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ONECARD_FLEET_WORKER: '1' } });
    this.#child.on('message', (m: WorkerReply) => this.#waiters.shift()?.(m));
  }

  next(): Promise<WorkerReply> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async call(c: WorkerCommand): Promise<WorkerReply & { ok: true }> {
    const p = this.next();
    this.#child.send(c);
    const r = await p;
    if (!r.ok) throw new Error(`worker ${c.cmd}: ${r.error}`);
    return r as WorkerReply & { ok: true };
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}

function softFdLimit(): string {
  try {
    return execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

async function rawBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const srv: Server = createServer((s) => broker.handle(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const a = srv.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

export default async function fleetServerBench(): Promise<BenchRow[]> {
  const N = envInt('BENCH_TERMINALS', 10_000);
  const ingestTerminals = Math.min(N, envInt('BENCH_INGEST_TERMINALS', 1_000));
  const recordsPerTerminal = envInt('BENCH_RECORDS_PER_TERMINAL', 200);
  const batch = envInt('BENCH_BATCH', 100);
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-fleet-'));
  let server: RunningServer | undefined;
  const worker = new Worker();
  try {
    server = await startServer({
      config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'error', authRateLimitPerMinute: 10_000_000 },
      dbPath: join(dir, 'onecard.db'),
      adminTokenPreset: ADMIN,
    });
    const app = server.app;
    const ready = await worker.next();
    if (!ready.ok) throw new Error('worker failed to start');

    log(`server up; enrolling ${N} terminals`);
    const enrol = await worker.call({ cmd: 'enrol', server: server.httpUrl, adminToken: ADMIN, terminals: N, groupId: 'bench' });
    rows.push({ name: `enrol ${N} terminals (setup, HTTP)`, opsPerSec: (N * 1000) / enrol.ms, note: `${(enrol.ms / 1000).toFixed(1)} s; fd soft limit here ${softFdLimit()}` });

    // Memory: settle, connect everyone (births processed), settle again.
    let births = 0;
    app.uplink.on('birth', () => void births++);
    const rss0 = settledRss();
    log('connecting');
    const conn = await worker.call({ cmd: 'connect', batchSize: batch });
    const t0 = performance.now();
    while (births < N - Number(conn['failed']) && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    const rss1 = settledRss();
    const perTerminal = (rss1 - rss0) / N;
    rows.push({ name: `connect ${N} terminals (CONNECT+SUBSCRIBE+birth)`, opsPerSec: (N * 1000) / conn.ms, figure: `${births} of ${N} connected`, budget: { key: 'fleet-terminals', part: 'connected', pass: births >= 10_000 ? true : undefined }, note: `${(conn.ms / 1000).toFixed(2)} s, ${String(conn['failed'])} failed, ${births} births stored, ${app.broker.connectedClients} connected` });
    const atScale = N >= 10_000 && births === N;
    rows.push({ name: 'server memory per connected terminal', figure: `${(perTerminal / 1024).toFixed(1)} KB × ${births} connected`, budget: { key: 'fleet-terminals', part: 'memory per terminal', pass: perTerminal > 50 * 1024 ? false : atScale ? true : undefined }, note: `${(perTerminal / 1024).toFixed(1)} KB (RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(rss1 / 2 ** 20).toFixed(0)} MB; budget ≤ 50 KB) ${perTerminal <= 50 * 1024 ? 'OK' : 'OVER BUDGET'}` });

    // Configuration: one version to every terminal, until the server has every `applied`.
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = await fetch(`${server.httpUrl}/api/v1/configs`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'bench', name: 'bench', document: EXAMPLE_TERMINAL_CONFIG }) });
    if (created.status !== 201) throw new Error(`config create: ${created.status} ${await created.text()}`);
    const version = ((await created.json()) as { version: number }).version;
    let applied = 0;
    let rejected = 0;
    let allApplied: () => void = () => undefined;
    const done = new Promise<void>((r) => (allApplied = r));
    app.uplink.on('config/status', (_id, msg) => {
      if (msg.version !== version) return;
      if (msg.status === 'applied' && ++applied === N) allApplied();
      if (msg.status === 'rejected') rejected++;
    });
    log('pushing configuration');
    const p0 = performance.now();
    const assign = await fetch(`${server.httpUrl}/api/v1/groups/bench/config`, { method: 'PUT', headers: auth, body: JSON.stringify({ configId: 'bench' }) });
    if (assign.status !== 200) throw new Error(`config assign: ${assign.status} ${await assign.text()}`);
    const assignMs = performance.now() - p0;
    await Promise.race([done, new Promise((r) => setTimeout(r, 120_000))]);
    const pushMs = performance.now() - p0;
    rows.push({ name: `config push → ${N} applied (fetch + sha256 + status)`, figure: applied === N ? `${(pushMs / 1000).toFixed(2)} s` : `${applied}/${N} applied`, budget: { key: 'config-push', pass: applied !== N || pushMs > 5000 ? false : N >= 10_000 ? true : undefined }, note: `${applied === N ? `${(pushMs / 1000).toFixed(2)} s` : `INCOMPLETE ${applied}/${N} after ${(pushMs / 1000).toFixed(0)} s`} (PUT returned after ${(assignMs / 1000).toFixed(2)} s; ${rejected} rejected; budget ≤ 5 s) ${applied === N && pushMs <= 5000 ? 'OK' : 'OVER BUDGET'}` });

    // Ingest burst: durable (stored in SQLite, then down/ack), measured until every ack arrived.
    const payload = JSON.stringify({ v: 1, records: Array.from({ length: batch }, (_, i) => ({ eventId: `relay-000000-${i}`, seq: i + 1, ts: Date.now(), type: 'sim.card-read', body: { ok: true } })) });
    const before = app.metrics.get('onecard_events_ingested_total');
    log(`ingest burst: ${ingestTerminals} terminals × ${recordsPerTerminal} records`);
    const burst = await worker.call({ cmd: 'burst', recordsPerTerminal, terminals: ingestTerminals, timeoutMs: 300_000 });
    const stored = app.metrics.get('onecard_events_ingested_total') - before;
    const eventsPerSec = (Number(burst['records']) * 1000) / burst.ms;

    // Raw aedes QoS 1 relay, same payload size and publisher count, in this process.
    log('raw aedes relay');
    const raw = await rawBroker();
    const messages = Math.ceil((ingestTerminals * recordsPerTerminal) / batch);
    const rel = await worker.call({ cmd: 'relay', url: raw.url, publishers: ingestTerminals, messages, payload });
    await raw.close();
    const relayMsgs = (messages * 1000) / rel.ms;
    const relayRecords = relayMsgs * batch;
    rows.push({ name: `raw aedes QoS1 relay (${ingestTerminals} pubs → 1 sub, ${batch}-record payloads)`, opsPerSec: relayRecords, note: `${relayMsgs.toFixed(0)} msg/s, ${messages} msgs in ${(rel.ms / 1000).toFixed(2)} s` });
    const ratio = eventsPerSec / relayRecords;
    rows.push({
      name: `durable event ingest (${ingestTerminals} terminals × ${recordsPerTerminal}, batches of ${batch})`,
      opsPerSec: eventsPerSec,
      baseline: 'raw aedes QoS1 relay (records/s)',
      ratio,
      budget: { key: 'ingest', pass: eventsPerSec >= 20_000 && ratio >= 0.5 },
      note: `${stored} stored in ${(burst.ms / 1000).toFixed(2)} s; budget ≥ 20k/s and ≥ 0.5× ${eventsPerSec >= 20_000 && ratio >= 0.5 ? 'OK' : 'BELOW BUDGET'}`,
    });
    rows.push({ name: 'machine', note: `${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' / ')} at the end (other processes share the cores)` });
    log('closing');
    await worker.call({ cmd: 'close' });
  } finally {
    worker.kill();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    log('done');
  }
  return rows;
}
