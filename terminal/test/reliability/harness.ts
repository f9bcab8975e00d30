/**
 * Reliability test (issue 6; run by `.ci/suites/reliability.sh`): the real fleet server (SQLite in
 * a temporary data dir, embedded broker) in this process and 3 terminals as child processes
 * (`terminal-child.ts`, each with its own identity and file outbox). While the terminals append
 * RELIABILITY_TOTAL transactions in total (default 5,000), faults are injected at random: a
 * terminal process is SIGKILLed and restarted, the server is closed and started again on the
 * same data dir and ports, and the broker's client connections are dropped. Then the outboxes
 * drain (bounded) and the admin events API must hold every transaction a terminal saw appended,
 * exactly once, contiguous and in per-terminal order. Prints the counts; exit code 1 on any
 * violation or timeout. RELIABILITY_SEED fixes the fault schedule.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../../server/src/server.ts';
import { CONFIG_DEFAULTS } from '../../../server/src/config.ts';
import { enrol } from '../../src/agent/enrol.ts';

const TERMINALS = 3;
const TOTAL = Number(process.env.RELIABILITY_TOTAL ?? '5000');
const INTERVAL_MS = Number(process.env.RELIABILITY_INTERVAL_MS ?? '2');
const LIMIT_MS = Number(process.env.RELIABILITY_LIMIT_S ?? '240') * 1000;
const DRAIN_MS = 60_000;
if (!Number.isInteger(TOTAL) || TOTAL < TERMINALS) throw new Error('RELIABILITY_TOTAL must be an integer ≥ 3');
let seed = process.env.RELIABILITY_SEED !== undefined ? Number(process.env.RELIABILITY_SEED) : randomBytes(4).readUInt32LE();
const seedShown = seed;
const random = (): number => { seed = (seed + 0x6d2b79f5) >>> 0; let x = seed; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296; };

const t0 = Date.now();
const log = (m: string): void => void process.stdout.write(`[reliability +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const child = join(dirname(fileURLToPath(import.meta.url)), 'terminal-child.ts');
const root = mkdtempSync(join(tmpdir(), 'onecard-reliability-'));
const admin = `rel-admin-${randomBytes(12).toString('hex')}`;
const dbPath = join(root, 'server', 'onecard.db');
mkdirSync(dirname(dbPath), { recursive: true });

interface Term {
  readonly index: number;
  readonly dir: string;
  terminalId: string;
  proc: ChildProcess | undefined;
  /** seq → eventId of every append the terminal saw resolve (fsync'd). */
  readonly appended: Map<number, string>;
  pending: number;
  lastSeq: number;
  kills: number;
  starts: number;
  /** When the current process reported ready (identity and outbox open, agent started). */
  readyAt: number | undefined;
}
const terms: Term[] = [];
let producing = true;
let failure: string | undefined;
const fail = (m: string): void => { failure ??= m; };

let server: RunningServer | undefined;
let ports = { http: 0, mqtt: 0 };
async function start(): Promise<RunningServer> {
  const s = await startServer({
    config: { ...CONFIG_DEFAULTS, dataDir: dirname(dbPath), httpPort: ports.http, mqttPort: ports.mqtt, host: '127.0.0.1', mqttHost: '127.0.0.1', logLevel: 'error', authRateLimitPerMinute: 1_000_000 },
    dbPath, adminTokenPreset: admin,
  });
  ports = { http: Number(new URL(s.httpUrl).port), mqtt: Number(new URL(s.mqttUrl).port) };
  return s;
}
const api = async (path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; json: unknown }> => {
  const r = await fetch(`http://127.0.0.1:${ports.http}${path}`, { method: init.method ?? 'GET', headers: { authorization: `Bearer ${admin}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
  const text = await r.text();
  return { status: r.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
};
const brokerClients = (): { close(): void }[] => Object.values((server?.app.broker as unknown as { clients?: Record<string, { close(): void }> } | undefined)?.clients ?? {});
const appendedTotal = (): number => terms.reduce((s, t) => s + t.appended.size, 0);

function spawnTerm(t: Term): void {
  const p = spawn(process.execPath, ['--import', 'tsx', child, t.dir, String(INTERVAL_MS), producing ? '1' : '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.proc = p;
  t.readyAt = undefined;
  t.starts++;
  let buf = '';
  p.stdout!.setEncoding('utf8');
  p.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const [k, a, b] = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 1);
      if (k === 'R' && t.proc === p) {
        t.readyAt = Date.now();
      } else if (k === 'A') {
        const seq = Number(a);
        if (t.appended.has(seq) && t.appended.get(seq) !== b) fail(`terminal ${t.index}: seq ${seq} appended twice with different event ids`);
        t.appended.set(seq, b!);
        t.lastSeq = Math.max(t.lastSeq, seq);
        if (producing && enough()) stopProduction();
      } else if (k === 'S' && t.proc === p) {
        t.pending = Number(a);
        t.lastSeq = Math.max(t.lastSeq, Number(b));
      }
    }
  });
  p.stdin!.on('error', () => {});
  p.on('exit', (code, signal) => {
    if (t.proc === p) t.proc = undefined;
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) fail(`terminal ${t.index} exited by itself (code ${code}, signal ${signal})`);
  });
  if (!producing) p.stdin!.write('stop\n');
}
function stopProduction(): void {
  if (!producing) return;
  producing = false;
  for (const t of terms) t.proc?.stdin?.write('stop\n');
  log(`${appendedTotal()} transactions appended; production stopped`);
}
function killAll(): void {
  for (const t of terms) if (t.proc !== undefined && t.proc.exitCode === null) t.proc.kill('SIGKILL');
}
const deadline = setTimeout(() => { process.stderr.write(`reliability: FAILED — over the time limit of ${LIMIT_MS / 1000} s\n`); killAll(); if (process.env.RELIABILITY_KEEP === undefined) rmSync(root, { recursive: true, force: true }); process.exit(1); }, LIMIT_MS);
process.on('SIGINT', () => { killAll(); process.exit(130); });
process.on('SIGTERM', () => { killAll(); process.exit(143); });

const faults = { kills: 0, serverRestarts: 0, drops: 0 };
/** Production ends at TOTAL appends, but not before every kind of fault happened at least once. */
const enough = (): boolean => appendedTotal() >= TOTAL && faults.kills > 0 && faults.serverRestarts > 0 && faults.drops > 0;
let exitCode = 0;
try {
  server = await start();
  log(`server up (${server.httpUrl}, ${server.mqttUrl}); ${TERMINALS} terminals, ${TOTAL} transactions, seed ${seedShown}`);
  const g = await api('/api/v1/groups', { method: 'POST', body: { id: 'reliability', name: 'reliability' } });
  if (g.status !== 201) throw new Error(`group: ${g.status} ${JSON.stringify(g.json)}`);
  for (let i = 0; i < TERMINALS; i++) {
    const tok = await api('/api/v1/enrolment-tokens', { method: 'POST', body: { groupId: 'reliability' } });
    if (tok.status !== 201) throw new Error(`enrolment token: ${tok.status}`);
    const dir = join(root, `t${i}`);
    mkdirSync(dir, { recursive: true });
    const idn = await enrol({ serverUrl: server.httpUrl, token: (tok.json as { token: string }).token, dataDir: dir, kind: 'pos' });
    const t: Term = { index: i, dir, terminalId: idn.terminalId, proc: undefined, appended: new Map(), pending: -1, lastSeq: 0, kills: 0, starts: 0, readyAt: undefined };
    terms.push(t);
    spawnTerm(t);
  }

  // Faults while the terminals produce.
  let lastLine = Date.now();
  while (producing && failure === undefined) {
    await sleep(200 + random() * 1300);
    // The first faults cover every kind (kill, restart, drop), then they are drawn at random.
    const missing = [faults.kills === 0 ? 0.1 : -1, faults.serverRestarts === 0 ? 0.5 : -1, faults.drops === 0 ? 0.9 : -1].filter((x) => x >= 0);
    const roll = missing.length > 0 && random() < 0.7 ? missing[Math.floor(random() * missing.length)]! : random();
    if (roll < 0.4) {
      // Only a terminal that has been up a moment: kills land mid-production, not mid-startup.
      const up = terms.filter((x) => x.proc !== undefined && x.readyAt !== undefined && Date.now() - x.readyAt > 300);
      const t = up[Math.floor(random() * up.length)];
      if (t?.proc !== undefined) {
        const p = t.proc;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await gone;
        t.kills++; faults.kills++;
        await sleep(50 + random() * 400);
        spawnTerm(t);
      }
    } else if (roll < 0.6) {
      const s = server;
      server = undefined;
      await s?.close();
      await sleep(100 + random() * 700);
      server = await start();
      faults.serverRestarts++;
    } else {
      const cs = brokerClients();
      if (random() < 0.3) for (const c of cs) c.close();
      else cs[Math.floor(random() * cs.length)]?.close();
      faults.drops++;
    }
    if (Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      log(`${appendedTotal()} appended; faults: ${faults.kills} SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker drops`);
    }
    if (enough()) stopProduction();
  }
  if (failure !== undefined) throw new Error(failure);
  log(`faults: ${faults.kills} SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker drops; draining outboxes`);

  // Drain: every outbox empty and the server holding every record each terminal journaled.
  const fetchAll = async (terminalId: string): Promise<{ seq: number; eventId: string; type: string; body: { n?: number } }[]> => {
    const all: { seq: number; eventId: string; type: string; body: { n?: number } }[] = [];
    let after: number | null = null;
    do {
      const r = await api(`/api/v1/events?terminal=${terminalId}&limit=10000${after === null ? '' : `&after=${after}`}`);
      if (r.status !== 200) throw new Error(`events: ${r.status}`);
      const page = r.json as { events: { seq: number; eventId: string; type: string; body: { n?: number } }[]; next: number | null };
      all.push(...page.events);
      after = page.next;
    } while (after !== null);
    return all;
  };
  const drainEnd = Date.now() + DRAIN_MS;
  for (;;) {
    const counts = await Promise.all(terms.map(async (t) => (await fetchAll(t.terminalId)).length));
    if (terms.every((t, i) => t.pending === 0 && counts[i]! >= t.lastSeq)) break;
    if (Date.now() > drainEnd) throw new Error(`outboxes did not drain within ${DRAIN_MS / 1000} s: ${terms.map((t, i) => `t${t.index} pending ${t.pending}, lastSeq ${t.lastSeq}, stored ${counts[i]}`).join('; ')}`);
    await sleep(250);
  }

  // Verify against the admin API.
  const problems: string[] = [];
  let stored = 0;
  const lines: string[] = [];
  for (const t of terms) {
    const ev = (await fetchAll(t.terminalId)).filter((e) => e.type.startsWith('txn.'));
    stored += ev.length;
    const seqs = ev.map((e) => e.seq);
    const dupSeq = seqs.length - new Set(seqs).size;
    const dupIds = ev.length - new Set(ev.map((e) => e.eventId)).size;
    let outOfOrder = 0;
    for (let i = 1; i < ev.length; i++) if (ev[i]!.seq <= ev[i - 1]!.seq) outOfOrder++;
    let gaps = 0;
    for (let i = 0; i < ev.length; i++) if (ev[i]!.seq !== i + 1) { gaps++; }
    let counterMismatch = 0;
    for (const e of ev) if (e.body.n !== e.seq) counterMismatch++;
    const bySeq = new Map(ev.map((e) => [e.seq, e.eventId]));
    let lost = 0;
    let changed = 0;
    for (const [seq, id] of t.appended) {
      const got = bySeq.get(seq);
      if (got === undefined) lost++;
      else if (got !== id) changed++;
    }
    const extra = ev.length - t.appended.size;
    if (dupSeq + dupIds + outOfOrder + gaps + counterMismatch + lost + changed > 0) {
      problems.push(`t${t.index} (${t.terminalId}): ${lost} lost, ${changed} with another event id, ${dupSeq} duplicate seq, ${dupIds} duplicate event ids, ${outOfOrder} out of order, ${gaps} not at their position, ${counterMismatch} counter ≠ seq`);
    }
    lines.push(`  t${t.index} ${t.terminalId}: appended ${t.appended.size} (seq 1..${t.lastSeq}; ${extra} more journaled but killed before reporting), stored ${ev.length}, ${t.kills} SIGKILLs, ${t.starts} process starts`);
  }
  const dupMetric = server!.app.metrics.get('onecard_events_duplicate_total');
  process.stdout.write([
    '',
    `OneCard reliability: ${TERMINALS} terminals, seed ${seedShown}, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `faults         ${faults.kills} terminal SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker connection drops`,
    `transactions   ${appendedTotal()} appended (fsync acknowledged), ${stored} stored on the server; duplicates received and ignored since the last restart: ${dupMetric}`,
    ...lines,
    problems.length === 0 ? 'result         PASS: every transaction stored exactly once, contiguous and in per-terminal order' : `result         FAIL:\n  ${problems.join('\n  ')}`,
    '',
  ].join('\n'));
  if (problems.length > 0) exitCode = 1;
} catch (e) {
  process.stderr.write(`reliability: FAILED — ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  exitCode = 1;
} finally {
  for (const t of terms) t.proc?.kill('SIGTERM');
  await sleep(300);
  killAll();
  await server?.close().catch(() => {});
  clearTimeout(deadline);
  if (process.env.RELIABILITY_KEEP === undefined) rmSync(root, { recursive: true, force: true });
  else log(`kept ${root}`);
}
process.exit(exitCode);
