/**
 * Terminal start-up benchmark [architecture budget: cold start ≤ 500 ms, idle memory ≤ 64 MB RSS]:
 * starts a terminal the way a deployed box does — `onecard-terminal enroll --server URL --token T
 * --data-dir DIR` once against a fleet server started in this process, then `onecard-terminal run
 * --data-dir DIR` (terminal/bin/onecard-terminal.js, the real CLI and its composition root, in its
 * own process: start-up cost is a per-process cost) with the local file DIR/terminal.json naming
 * one simulated serial reader (3.00 card + PSAM on a pseudo-terminal, `onecard-sim reader`) —
 * and measures the time from spawn until the local API answers `/health` and the reader reports
 * `ok`, the time until the fleet server lists it online, then the process's RSS after
 * BENCH_IDLE_MS (default 3000) of idling. Repeated
 * BENCH_STARTUP_RUNS times (default 3); the baseline is a bare `node -e` start in the same run.
 * The terminal's CPU time (user + system) up to ready is reported too: on a loaded machine it is
 * steadier than wall time. The bin runs from its esbuild bundle cache; the first run warms it (a
 * build after a source change), so the median is the cached start.
 * Run alone: `node --import tsx bench/terminal-startup.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './lib/measure.ts';
import { startServer, type RunningServer } from '@onecard/server/src/server.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-startup-token-0123456789';
const runs = Number(process.env['BENCH_STARTUP_RUNS'] ?? 3) || 3;
const idleMs = Number(process.env['BENCH_IDLE_MS'] ?? 3000) || 3000;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
const stop = (p: ChildProcess): Promise<void> => new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) return r(); p.once('exit', () => r()); p.kill('SIGTERM'); });
/** User + system CPU time of a process so far, in ms (/proc/PID/stat fields 14 and 15). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function startSim(path: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [join(root, 'simulators/bin/onecard-sim.js'), 'reader', '--link', 'serial', '--pty', path, '--model', 'gemcore-sim-pro2',
    '--card', join(root, 'simulators/cards/ssc-3.00-long-name.json'), '--psam', join(root, 'simulators/cards/psam.json'), '--log-level', 'error'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => { buf += String(d); if (buf.includes('"event":"ready"')) resolve(); });
    proc.once('exit', (c) => reject(new Error(`simulator exited ${c}`)));
  });
  return proc;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0)); }); });
}

const ADMIN = `bench-startup-admin-${process.pid}-0123456789`;

/** `onecard-terminal enroll` into `dataDir`; returns the terminal id. */
async function enrolWithCli(server: RunningServer, dataDir: string): Promise<string> {
  const h = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  await fetch(`${server.httpUrl}/api/v1/groups`, { method: 'POST', headers: h, body: JSON.stringify({ id: 'bench', name: 'bench' }) });
  const tok = ((await (await fetch(`${server.httpUrl}/api/v1/enrolment-tokens`, { method: 'POST', headers: h, body: JSON.stringify({ groupId: 'bench' }) })).json()) as { token: string }).token;
  const p = spawn(process.execPath, [join(root, 'terminal/bin/onecard-terminal.js'), 'enroll', '--server', server.httpUrl, '--token', tok, '--data-dir', dataDir, '--name', 'bench-kiosk', '--kind', 'kiosk'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err += String(d); });
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  if (code !== 0) throw new Error(`onecard-terminal enroll exited ${code}: ${err}`);
  return (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { terminalId: string }).terminalId;
}

async function oneRun(dataDir: string, reader: string, server: RunningServer, terminalId: string): Promise<{ startMs: number; readyMs: number; onlineMs: number; cpuMs: number; rss: number }> {
  const port = await freePort();
  // The local file: only what the fleet cannot know (reader, API bind and token).
  writeFileSync(join(dataDir, 'terminal.json'), JSON.stringify({ readers: [{ id: 'front', link: 'serial', path: reader, model: 'gemcore-sim-pro2', psamSlot: 1 }], api: { port, token: TOKEN }, log: { level: 'warn' } }), { mode: 0o600 });
  const isOnline = async (): Promise<boolean> => ((await (await fetch(`${server.httpUrl}/api/v1/terminals/${terminalId}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { online?: boolean }).online === true;
  for (let i = 0; i < 200 && (await isOnline()); i++) await sleep(25); // the previous run's disconnect
  const t0 = performance.now();
  const p = spawn(process.execPath, [join(root, 'terminal/bin/onecard-terminal.js'), 'run', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err += String(d); });
  try {
    let startMs = NaN;
    let readyMs = NaN;
    let onlineMs = NaN;
    let cpuMs = NaN;
    const end = Date.now() + 90_000;
    while (Number.isNaN(readyMs)) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`terminal did not start: ${err.slice(-500)}`);
      try {
        if (Number.isNaN(startMs)) {
          const h = await fetch(`http://127.0.0.1:${port}/health`);
          if (h.ok) startMs = performance.now() - t0;
        }
        if (!Number.isNaN(startMs)) {
          const r = (await (await fetch(`http://127.0.0.1:${port}/v1/readers`, { headers: { 'x-onecard-token': TOKEN } })).json()) as { readers: { status: string }[] };
          if (r.readers[0]?.status === 'ok') { readyMs = performance.now() - t0; cpuMs = cpuMsOf(p.pid!); }
        }
      } catch { /* not listening yet */ }
      await sleep(5);
    }
    while (Number.isNaN(onlineMs)) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`terminal did not come online: ${err.slice(-500)}`);
      if (await isOnline()) onlineMs = performance.now() - t0;
      else await sleep(5);
    }
    await sleep(idleMs);
    return { startMs, readyMs, onlineMs, cpuMs, rss: rssOf(p.pid!) };
  } finally {
    await stop(p);
  }
}

export default async function run(): Promise<readonly BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const sim = await startSim(join(dir, 'reader'));
  const server = await startServer({
    config: { ...CONFIG_DEFAULTS, dataDir: join(dir, 'server'), httpPort: 0, mqttPort: 0, logLevel: 'error' },
    dbPath: join(dir, 'server.db'), adminTokenPreset: ADMIN,
  });
  try {
    const dataDir = join(dir, 'terminal');
    const terminalId = await enrolWithCli(server, dataDir);
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await oneRun(dataDir, join(dir, 'reader'), server, terminalId));
    // baseline: a bare node process start and its RSS
    const b0 = performance.now();
    const bare = spawn(process.execPath, ['-e', `process.stdout.write('up'); setTimeout(() => {}, ${idleMs + 2000})`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((r) => bare.stdout!.once('data', () => r()));
    const bareMs = performance.now() - b0;
    await sleep(idleMs);
    const bareRss = rssOf(bare.pid!);
    await stop(bare);
    const med = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ready = med(results.map((r) => r.readyMs));
    const start = med(results.map((r) => r.startMs));
    const cpu = med(results.map((r) => r.cpuMs));
    const online = med(results.map((r) => r.onlineMs));
    const rss = Math.max(...results.map((r) => r.rss));
    return [
      { name: `cold start (run --data-dir) to API + reader ok (median of ${runs})`, baseline: 'bare node start', ratio: ready / bareMs, note: `${ready.toFixed(0)} ms (API listening at ${start.toFixed(0)} ms; ${cpu.toFixed(0)} ms CPU; bare node ${bareMs.toFixed(0)} ms) — budget ≤ 500 ms: ${ready <= 500 ? 'met' : 'MISSED'}` },
      { name: `start (run --data-dir) to online on the fleet server (median of ${runs})`, baseline: 'bare node start', ratio: online / bareMs, note: `${online.toFixed(0)} ms from spawn to listed online (MQTT connect, birth)` },
      { name: `idle RSS after ${idleMs} ms (max of ${runs})`, baseline: 'bare node RSS', ratio: rss / bareRss, note: `${(rss / 1048576).toFixed(1)} MB (bare node ${(bareRss / 1048576).toFixed(1)} MB) — budget ≤ 64 MB: ${rss <= 64 * 1048576 ? 'met' : 'MISSED'}` },
    ];
  } finally {
    await stop(sim);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name.padEnd(52)} ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× ${r.baseline}  `}${r.note ?? ''}`);
}
