/**
 * Loss-report-to-refusal benchmark: the OneCard server (startServer: Fastify + embedded aedes +
 * SQLite) and N simulated online terminals (BENCH_TERMINALS, default 1,000; simulators/src/fleet)
 * run in this process. Every terminal subscribes to `fleet/broadcast/#` and holds a hotlist: the
 * retained `fleet/broadcast/hotlist/delta` (the change itself) is applied to its card set when the
 * terminal is at its base version; otherwise the retained `fleet/broadcast/hotlist` pointer makes
 * it fetch `GET /api/v1/terminal/hotlist?since=N` with its own credentials. `BENCH_LEGACY=1`
 * simulates terminals that predate the broadcast change (pointer and HTTP fetch only). An admin then reports one card
 * lost (`POST /api/v1/hotlist/report`), and the bench times, from just before that request, the
 * moment each terminal's set holds the card (it would refuse the card from then on). Repeated for
 * BENCH_ROUNDS measured rounds (default 3) after one warm-up round (not judged), one new card each. Reports p50/p99/max per-terminal latency and
 * the time until every terminal refuses the card, against the budget (architecture.md): ≤ 5 s.
 * Server and terminals share one event loop, so the figures include the simulators' own work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '@onecard/server/src/server.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';
import { SimFleet, enrolFleet, type SimTerminal, type SimTerminalEvent } from '@onecard/simulators/src/fleet/index.ts';
import type { BenchRow } from './lib/measure.ts';

const ADMIN = `bench-loss-admin-${process.pid}-0123456789`;
const BUDGET_MS = 5_000;
const envInt = (name: string, dflt: number): number => {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

const started = performance.now();
const log = (msg: string): void => {
  process.stderr.write(`[loss-report +${((performance.now() - started) / 1000).toFixed(1)} s] ${msg}\n`);
};

/** The `q`-quantile (0..1) of ascending `sorted`, nearest rank. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

/** A 9-character card number [0-9A-Z] unique to this run and round. */
const cardFor = (round: number): string => `L${(process.pid % 1_000_000).toString().padStart(6, '0')}${round.toString(36).toUpperCase().padStart(2, '0')}`.slice(0, 9);

export default async function lossReportBench(): Promise<BenchRow[]> {
  const N = envInt('BENCH_TERMINALS', 1_000);
  const rounds = envInt('BENCH_ROUNDS', 3);
  const timeoutMs = envInt('BENCH_LOSS_TIMEOUT_MS', 60_000);
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-loss-'));
  let server: RunningServer | undefined;
  let fleet: SimFleet | undefined;
  try {
    server = await startServer({
      config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'error', authRateLimitPerMinute: 10_000_000 },
      dbPath: join(dir, 'onecard.db'),
      adminTokenPreset: ADMIN,
    });
    log(`server up; enrolling ${N} terminals`);
    const e0 = performance.now();
    const creds = await enrolFleet({ server: server.httpUrl, adminToken: ADMIN, terminals: N, groupId: 'bench-loss', concurrency: 32 });
    const enrolMs = performance.now() - e0;

    // Hotlist events are routed to the round in progress.
    let onHotlist: ((t: SimTerminal) => void) | undefined;
    let hotlistErrors = 0;
    let lastError = '';
    const byId = new Map<string, SimTerminal>();
    const onEvent = (e: SimTerminalEvent): void => {
      if (e.type === 'hotlist') {
        const t = byId.get(e.terminalId);
        if (t !== undefined) onHotlist?.(t);
      } else if (e.type === 'error' && e.code === 'SIM_ERR_FLEET_HOTLIST') {
        hotlistErrors++;
        lastError = e.message.slice(0, 120);
      }
    };
    fleet = new SimFleet(creds, { server: server.httpUrl, concurrency: 200, reconnectDelayMs: 2_000, keepaliveSeconds: 300, httpSockets: 64, onEvent });
    if (process.env['BENCH_LEGACY'] === '1') fleet.setLegacy(true);
    for (const t of fleet.terminals) byId.set(t.id, t);
    log('connecting');
    const conn = await fleet.connectAll();
    const online = fleet.terminals.filter((t) => t.connected);
    rows.push({ name: `setup: enrol + connect ${N} terminals`, figure: `${online.length} of ${N} online`, note: `enrol ${fmtMs(enrolMs)}, connect ${fmtMs(conn.ms)}, ${conn.failed} failed` });

    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const all: number[] = [];
    const allTerminalsMs: number[] = [];
    const postMs: number[] = [];
    let incomplete = 0;
    for (let round = 0; round <= rounds; round++) {
      const warmup = round === 0;
      const card = cardFor(round);
      const waiting = new Set(online);
      const latencies: number[] = [];
      let t0 = 0;
      let finish: () => void = () => undefined;
      const done = new Promise<void>((r) => (finish = r));
      onHotlist = (t) => {
        if (!waiting.has(t) || !t.refuses(card)) return;
        latencies.push(performance.now() - t0);
        waiting.delete(t);
        if (waiting.size === 0) finish();
      };
      log(`round ${round}: reporting ${card} lost`);
      t0 = performance.now();
      const res = await fetch(`${server.httpUrl}/api/v1/hotlist/report`, { method: 'POST', headers: auth, body: JSON.stringify({ cardNumbers: [card], reason: 'bench: reported lost' }) });
      postMs.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`hotlist report: ${res.status} ${await res.text()}`);
      // Terminals that applied the change before the response arrived were counted by the handler.
      for (const t of [...waiting]) if (t.refuses(card)) throw new Error(`${t.id} refused ${card} without a hotlist event`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      onHotlist = undefined;
      const allMs = waiting.size === 0 ? Math.max(...latencies) : Infinity;
      if (!warmup) {
        if (waiting.size > 0) incomplete++;
        allTerminalsMs.push(allMs);
        all.push(...latencies);
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      log(`round ${round}: ${latencies.length}/${online.length} refuse ${card}; all after ${waiting.size === 0 ? fmtMs(allMs) : 'TIMEOUT'}`);
      rows.push({
        name: `${warmup ? 'warm-up' : `round ${round}`}: report ${card} → refused on ${online.length} terminals`,
        figure: waiting.size === 0 ? fmtMs(allMs) : `${latencies.length}/${online.length} after ${fmtMs(timeoutMs)}`,
        note: `p50 ${fmtMs(quantile(sorted, 0.5))}, p99 ${fmtMs(quantile(sorted, 0.99))}; POST answered after ${fmtMs(postMs[postMs.length - 1]!)}`,
      });
      // Let stragglers' connections settle between rounds.
      await new Promise((r) => setTimeout(r, 250));
    }

    const sorted = [...all].sort((a, b) => a - b);
    const worstAll = Math.max(...allTerminalsMs);
    const complete = incomplete === 0 && online.length > 0;
    const atScale = online.length >= 1_000;
    const pass = !complete || worstAll > BUDGET_MS ? false : atScale ? true : undefined;
    rows.push({
      name: `per-terminal latency, report → refusal (${sorted.length} samples, ${rounds} rounds)`,
      figure: `p50 ${fmtMs(quantile(sorted, 0.5))} / p99 ${fmtMs(quantile(sorted, 0.99))} / max ${fmtMs(quantile(sorted, 1))}`,
      note: `${process.env['BENCH_LEGACY'] === '1' ? 'legacy terminals: pointer → GET ?since=N delta → Set' : 'broadcast change → Set (GET ?since=N for a terminal not at its base)'}; ${hotlistErrors} hotlist fetch errors${hotlistErrors > 0 ? ` (last: ${lastError})` : ''}`,
    });
    rows.push({
      name: `loss report → refused on every one of ${online.length} online terminals (worst of ${rounds})`,
      figure: complete ? fmtMs(worstAll) : `INCOMPLETE in ${incomplete} of ${rounds} rounds`,
      budget: { key: 'loss-to-refusal', pass },
      note: `rounds: ${allTerminalsMs.map((m) => (Number.isFinite(m) ? fmtMs(m) : 'timeout')).join(', ')}; budget ≤ 5 s ${pass === false ? 'MISSED' : complete && worstAll <= BUDGET_MS ? 'met' : ''}${atScale ? '' : ` (below 1,000 terminals: not judged)`}`,
    });
    rows.push({ name: 'machine', note: `${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' / ')} at the end; server and terminals in one process (one event loop)` });
  } finally {
    log('closing');
    await fleet?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    log('done');
  }
  return rows;
}
