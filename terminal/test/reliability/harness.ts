/**
 * Reliability test (issue 6; run by `.ci/suites/reliability.sh`): the real fleet server (SQLite in
 * a temporary data dir, embedded broker) in this process and 3 terminals exactly as a box runs
 * them — enrolled with `onecard-terminal enroll --data-dir DIR --name …`, then each its own
 * `onecard-terminal run --data-dir DIR` process (the shipped CLI and its composition root) on a
 * simulated serial reader hosted here (pty; a transit card in slot 0, the PSAM in slot 1: the
 * card and its purse outlive every terminal process). The harness buys fares through each
 * terminal's local API (`POST /v1/card/purchase`, with the API token) until RELIABILITY_TOTAL
 * purchases were answered (default 1,000), while faults are injected at random: a terminal
 * process is SIGKILLed (often in the middle of a purchase) and started again, the server is
 * closed and started again on the same data dir and ports, and the broker's client connections
 * are dropped. Then every card is tapped once more (a fare cut by a kill is settled by GET
 * TRANSACTION PROVE), the outboxes drain (bounded), the terminals stop with SIGTERM, and:
 *  - the server holds each terminal's outbox records exactly once, seq 1..lastSeq in order;
 *  - every purchase the API answered (its journal record id) is stored, none twice;
 *  - the books balance: what each card lost equals the completed fares the server stored, and no
 *    fare is left pending or unknown in a journal (never a double debit, never an unrecorded one).
 * Prints the counts; exit code 1 on any violation or timeout. RELIABILITY_SEED fixes the fault
 * schedule; RELIABILITY_INTERVAL_MS paces each terminal's purchases (default 5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCard, createTransitCard, loadCardFile, openSerialReader, parseTransitCardProfile, type SerialReader, type SimulatedCard } from '@onecard/simulators';
import { startServer, type RunningServer } from '@onecard/server/src/server.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';
import { openFileOutbox } from '../../src/agent/outbox.ts';
import { openFileJournal } from '../../src/services/index.ts';

const TERMINALS = 3;
const TOTAL = Number(process.env.RELIABILITY_TOTAL ?? '1000');
const INTERVAL_MS = Number(process.env.RELIABILITY_INTERVAL_MS ?? '5');
const LIMIT_MS = Number(process.env.RELIABILITY_LIMIT_S ?? '240') * 1000;
const DRAIN_MS = 60_000;
if (!Number.isInteger(TOTAL) || TOTAL < TERMINALS) throw new Error('RELIABILITY_TOTAL must be an integer ≥ 3');
let seed = process.env.RELIABILITY_SEED !== undefined ? Number(process.env.RELIABILITY_SEED) : randomBytes(4).readUInt32LE();
const seedShown = seed;
const random = (): number => { seed = (seed + 0x6d2b79f5) >>> 0; let x = seed; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296; };

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '../../bin/onecard-terminal.js');
const CARDS = join(here, '../../../simulators/cards');
const t0 = Date.now();
const log = (m: string): void => void process.stdout.write(`[reliability +${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(join(tmpdir(), 'onecard-reliability-'));
const admin = `rel-admin-${randomBytes(12).toString('hex')}`;
const dbPath = join(root, 'server', 'onecard.db');
mkdirSync(dirname(dbPath), { recursive: true });

/** A purchase the local API answered: its journal record and what it settled. */
interface Answered { readonly amount: number; readonly state: string }
interface Term {
  readonly index: number;
  readonly dir: string;
  readonly terminalId: string;
  readonly apiPort: number;
  readonly token: string;
  readonly reader: SerialReader;
  readonly purse: SimulatedCard;
  readonly startBalance: number;
  proc: ChildProcess | undefined;
  /** When the current process answered with its reader up. */
  readyAt: number | undefined;
  /** Journal record id → the answer, for every purchase the API answered 200. */
  readonly answered: Map<string, Answered>;
  refusals: Map<string, number>;
  /** Answers that settled a fare a kill had left pending (GET TRANSACTION PROVE) instead of a new one. */
  recoveries: number;
  kills: number;
  starts: number;
}
const terms: Term[] = [];
let producing = true;
let failure: string | undefined;
const fail = (m: string): void => { failure ??= m; };
const answeredTotal = (): number => terms.reduce((s, t) => s + t.answered.size, 0);
const balance = (c: SimulatedCard): number => (c as { transit?: { balance: number } }).transit!.balance;

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
/** A local API call to terminal `t` with its token. Throws when the process is not answering. */
const local = async (t: Term, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const r = await fetch(`http://127.0.0.1:${t.apiPort}${path}`, { signal: AbortSignal.timeout(20_000), method: body === undefined ? 'GET' : 'POST', headers: { 'x-onecard-token': t.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};
const brokerClients = (): { close(): void }[] => Object.values((server?.app.broker as unknown as { clients?: Record<string, { close(): void }> } | undefined)?.clients ?? {});

/** A free port on 127.0.0.1 for a terminal's local API (kept across its restarts). */
const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const port = (s.address() as AddressInfo).port; s.close(() => resolve(port)); });
});

/** `onecard-terminal ARGS` to completion. */
function cli(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += String(c); });
    p.stderr.on('data', (c: Buffer) => { out += String(c); });
    p.once('close', (code) => resolve({ code, out }));
  });
}

/** Starts `onecard-terminal run --data-dir DIR`; `readyAt` is set once its API answers with the reader up. */
function spawnTerm(t: Term): void {
  const logFd = openSync(join(root, `t${t.index}.log`), 'a');
  const p = spawn(process.execPath, [BIN, 'run', '--data-dir', t.dir], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  t.proc = p;
  t.readyAt = undefined;
  t.starts++;
  p.on('exit', (code, signal) => {
    if (t.proc === p) { t.proc = undefined; t.readyAt = undefined; }
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) fail(`terminal ${t.index} exited by itself (code ${code}, signal ${signal}); see t${t.index}.log`);
  });
  void (async () => {
    while (t.proc === p) {
      try {
        const r = await local(t, '/v1/readers');
        const readers = (r.json['readers'] ?? []) as { status?: string; slots?: { role: string; present: boolean }[] }[];
        if (r.status === 200 && readers.length > 0 && readers.every((x) => x.status === 'ok') && readers.some((x) => (x.slots ?? []).some((s) => s.role === 'user' && s.present))) {
          if (t.proc === p) t.readyAt = Date.now();
          return;
        }
      } catch { /* not listening yet */ }
      await sleep(50);
    }
  })();
}

/** One purchase through the local API; records the answer. Returns its kind/code, or undefined when the process did not answer. */
async function purchase(t: Term, amount: number): Promise<string | undefined> {
  let r;
  try {
    r = await local(t, '/v1/card/purchase', { amount });
  } catch {
    return undefined; // killed mid-request, or restarting
  }
  if (r.status !== 200) {
    const code = (r.json['error'] as { code?: string } | undefined)?.code ?? `HTTP ${r.status}`;
    t.refusals.set(code, (t.refusals.get(code) ?? 0) + 1);
    return code;
  }
  const j = r.json as { kind: string; record?: { id: string; amount: number; state: string }; recovery?: { kind: string; record: { id: string; amount: number; state: string } } };
  const rec = j.kind === 'completed' ? j.record : j.recovery?.record;
  if (rec === undefined) { fail(`terminal ${t.index}: purchase answer without a record: ${JSON.stringify(j).slice(0, 200)}`); return 'bad'; }
  const prev = t.answered.get(rec.id);
  if (prev !== undefined && prev.state === 'completed' && j.kind === 'completed') fail(`terminal ${t.index}: record ${rec.id} answered completed twice`);
  t.answered.set(rec.id, { amount: rec.amount, state: rec.state });
  if (j.kind !== 'completed') t.recoveries++;
  if (producing && enough()) stopProduction();
  return j.kind === 'completed' ? 'completed' : `recovered:${j.recovery?.kind ?? '?'}`;
}

async function produce(t: Term): Promise<void> {
  let n = 0;
  while (producing && failure === undefined) {
    if (t.proc === undefined || t.readyAt === undefined) { await sleep(25); continue; }
    n++;
    const r = await purchase(t, 1 + (n % 97));
    if (r === undefined || (r !== 'completed' && !r.startsWith('recovered'))) await sleep(50);
    await sleep(INTERVAL_MS * (0.5 + Math.random()));
  }
}

function stopProduction(): void {
  if (!producing) return;
  producing = false;
  log(`${answeredTotal()} purchases answered; production stopped`);
}
function killAll(): void {
  for (const t of terms) if (t.proc !== undefined && t.proc.exitCode === null) t.proc.kill('SIGKILL');
}
const deadline = setTimeout(() => { process.stderr.write(`reliability: FAILED — over the time limit of ${LIMIT_MS / 1000} s\n`); killAll(); if (process.env.RELIABILITY_KEEP === undefined) rmSync(root, { recursive: true, force: true }); process.exit(1); }, LIMIT_MS);
process.on('SIGINT', () => { killAll(); process.exit(130); });
process.on('SIGTERM', () => { killAll(); process.exit(143); });

const faults = { kills: 0, serverRestarts: 0, drops: 0 };
/** Production ends at TOTAL answered purchases, but not before every kind of fault happened at least once. */
const enough = (): boolean => answeredTotal() >= TOTAL && faults.kills > 0 && faults.serverRestarts > 0 && faults.drops > 0;

interface StoredEvent { seq: number; eventId: string; type: string; body: { recordId?: string; kind?: string; state?: string; amount?: number } }
const fetchAll = async (terminalId: string): Promise<StoredEvent[]> => {
  const all: StoredEvent[] = [];
  let after: number | null = null;
  do {
    const r = await api(`/api/v1/events?terminal=${terminalId}&limit=10000${after === null ? '' : `&after=${after}`}`);
    if (r.status !== 200) throw new Error(`events: ${r.status}`);
    const page = r.json as { events: StoredEvent[]; next: number | null };
    all.push(...page.events);
    after = page.next;
  } while (after !== null);
  return all;
};
const waitReady = async (t: Term, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (t.readyAt === undefined) {
    if (Date.now() > end || failure !== undefined) return false;
    await sleep(50);
  }
  return true;
};

let exitCode = 0;
try {
  server = await start();
  log(`server up (${server.httpUrl}, ${server.mqttUrl}); ${TERMINALS} terminal processes, ${TOTAL} purchases, seed ${seedShown}`);
  const g = await api('/api/v1/groups', { method: 'POST', body: { id: 'reliability', name: 'reliability' } });
  if (g.status !== 201) throw new Error(`group: ${g.status} ${JSON.stringify(g.json)}`);
  await cli(['--help']); // compile the CLI bundle once, before three processes want it
  const tj = JSON.parse(readFileSync(join(CARDS, 'transit-only.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const psam = loadCardFile(join(CARDS, 'psam.json'));
  for (let i = 0; i < TERMINALS; i++) {
    const tok = await api('/api/v1/enrolment-tokens', { method: 'POST', body: { groupId: 'reliability' } });
    if (tok.status !== 201) throw new Error(`enrolment token: ${tok.status}`);
    const dir = join(root, `t${i}`);
    const e = await cli(['enroll', '--server', server.httpUrl, '--token', (tok.json as { token: string }).token, '--data-dir', dir, '--name', `reliability-${i}`, '--kind', 'gate']);
    if (e.code !== 0) throw new Error(`onecard-terminal enroll: exit ${e.code}: ${e.out}`);
    const terminalId = (JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as { terminalId: string }).terminalId;
    const purse = createTransitCard(parseTransitCardProfile({ ...tj, transit: { ...tj['transit'], balance: 100_000_000, serial: String(20000000 + i).padStart(20, '0') } }));
    const reader = openSerialReader({ model: 'gemcore-sim-pro2', slots: [purse, createCard(psam)], path: join(root, `t${i}.tty`) });
    const token = randomBytes(24).toString('hex');
    const apiPort = await freePort();
    // The local file: the reader and the API bind; everything else comes from the enrolment and the fleet.
    writeFileSync(join(dir, 'terminal.json'), JSON.stringify({ readers: [{ id: 'front', link: 'serial', path: reader.path, model: 'gemcore-sim-pro2', userSlot: 0, psamSlot: 1 }], api: { host: '127.0.0.1', port: apiPort, token }, log: { level: 'warn' } }), { mode: 0o600 });
    const t: Term = { index: i, dir, terminalId, apiPort, token, reader, purse, startBalance: balance(purse), proc: undefined, readyAt: undefined, answered: new Map(), refusals: new Map(), recoveries: 0, kills: 0, starts: 0 };
    terms.push(t);
    spawnTerm(t);
  }
  for (const t of terms) if (!(await waitReady(t, 120_000))) throw new Error(failure ?? `terminal ${t.index} not ready; see t${t.index}.log`);
  log('terminals up; purchasing');
  const producers = terms.map(produce);

  // Faults while the terminals sell fares.
  let lastLine = Date.now();
  while (producing && failure === undefined) {
    await sleep(300 + random() * 1500);
    // The first faults cover every kind (kill, restart, drop), then they are drawn at random.
    const missing = [faults.kills === 0 ? 0.1 : -1, faults.serverRestarts === 0 ? 0.5 : -1, faults.drops === 0 ? 0.9 : -1].filter((x) => x >= 0);
    const roll = missing.length > 0 && random() < 0.7 ? missing[Math.floor(random() * missing.length)]! : random();
    if (roll < 0.4) {
      // Only a terminal that has been selling a moment: kills land mid-purchase, not mid-startup.
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
      log(`${answeredTotal()} purchases answered; faults: ${faults.kills} SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker drops`);
    }
    if (enough()) stopProduction();
  }
  await Promise.all(producers);
  if (failure !== undefined) throw new Error(failure);
  log(`faults: ${faults.kills} SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker drops; settling and draining`);

  // Settle: one more tap per card until a fare completes (a fare cut by a kill is recovered first).
  for (const t of terms) {
    let done = false;
    for (let i = 0; i < 10 && !done; i++) {
      if (!(await waitReady(t, 60_000))) throw new Error(failure ?? `terminal ${t.index} not ready to settle`);
      done = (await purchase(t, 1)) === 'completed';
    }
    if (!done) throw new Error(`terminal ${t.index}: no completed fare when settling (${[...t.refusals].map(([c, n]) => `${c}×${n}`).join(', ')})`);
  }

  // Drain: the server holds every answered purchase; then SIGTERM, and the outbox on disk must be empty.
  const drainEnd = Date.now() + DRAIN_MS;
  const outboxOf = new Map<Term, { lastSeq: number; pending: number }>();
  for (const t of terms) {
    for (;;) {
      const stored = new Set((await fetchAll(t.terminalId)).flatMap((e) => (e.type === 'txn.purchase' && typeof e.body.recordId === 'string' ? [e.body.recordId] : [])));
      if ([...t.answered.keys()].every((id) => stored.has(id))) {
        const p = t.proc;
        if (p !== undefined) {
          const gone = new Promise((r) => p.once('exit', r));
          p.kill('SIGTERM');
          await gone;
        }
        const ob = await openFileOutbox({ dir: join(t.dir, 'outbox') });
        const s = ob.stats();
        await ob.close();
        if (s.pending === 0) { outboxOf.set(t, { lastSeq: s.lastSeq, pending: 0 }); break; }
        spawnTerm(t); // records still to send: run it again
        await waitReady(t, 60_000);
      }
      if (Date.now() > drainEnd) throw new Error(`terminal ${t.index}: outbox did not drain within ${DRAIN_MS / 1000} s`);
      await sleep(250);
    }
  }

  // Verify against the admin API, the outboxes and the journals.
  const problems: string[] = [];
  const lines: string[] = [];
  let storedTxns = 0;
  for (const t of terms) {
    const ev = await fetchAll(t.terminalId);
    const { lastSeq } = outboxOf.get(t)!;
    const seqs = ev.map((e) => e.seq);
    const dupSeq = seqs.length - new Set(seqs).size;
    const dupIds = ev.length - new Set(ev.map((e) => e.eventId)).size;
    let misplaced = 0;
    for (let i = 0; i < ev.length; i++) if (ev[i]!.seq !== i + 1) misplaced++;
    const missingSeq = lastSeq - new Set(seqs).size;
    const txns = ev.filter((e) => e.type === 'txn.purchase');
    storedTxns += txns.length;
    const byRecord = new Map<string, StoredEvent[]>();
    for (const e of txns) byRecord.set(e.body.recordId ?? '?', [...(byRecord.get(e.body.recordId ?? '?') ?? []), e]);
    let lost = 0;
    for (const id of t.answered.keys()) if (!byRecord.has(id)) lost++;
    let dupTxn = 0;
    for (const list of byRecord.values()) if (new Set(list.map((e) => e.body.kind)).size !== list.length) dupTxn++;
    const completedAmount = [...byRecord.values()].reduce((s, list) => s + (list.some((e) => e.body.state === 'completed') ? (list[0]!.body.amount ?? 0) : 0), 0);
    const debited = t.startBalance - balance(t.purse);
    const journal = await openFileJournal(join(t.dir, 'purchases.journal'));
    const jl = journal.list();
    await journal.close();
    const pendingJ = jl.filter((r) => r.state === 'pending').length;
    const unknownJ = jl.filter((r) => r.state === 'unknown').length;
    const journalCompleted = jl.filter((r) => r.state === 'completed').reduce((s, r) => s + r.amount, 0);
    const v = [
      lost > 0 ? `${lost} answered purchases not stored` : '', dupTxn > 0 ? `${dupTxn} purchases stored twice` : '',
      dupSeq + dupIds > 0 ? `${dupSeq} duplicate seq, ${dupIds} duplicate event ids` : '', misplaced > 0 ? `${misplaced} records not at their position` : '',
      missingSeq !== 0 ? `outbox seq 1..${lastSeq} but ${new Set(seqs).size} stored` : '',
      debited !== completedAmount ? `card lost ${debited} fen but the server stored ${completedAmount} fen of completed fares` : '',
      debited !== journalCompleted ? `card lost ${debited} fen but the journal holds ${journalCompleted} fen completed` : '',
      pendingJ + unknownJ > 0 ? `${pendingJ} pending and ${unknownJ} unknown fares left in the journal` : '',
    ].filter((x) => x.length > 0);
    if (v.length > 0) problems.push(`t${t.index} (${t.terminalId}): ${v.join('; ')}`);
    lines.push(`  t${t.index} ${t.terminalId}: ${t.answered.size} purchases answered, ${txns.length} stored (${ev.length} records, seq 1..${lastSeq}); card debited ${debited} fen = ${completedAmount} fen stored completed; ${t.recoveries} fares cut by a kill settled on the next tap; ${t.kills} SIGKILLs, ${t.starts} process starts${t.refusals.size > 0 ? `; refused: ${[...t.refusals].map(([c, n]) => `${c}×${n}`).join(', ')}` : ''}`);
  }
  const dupMetric = server!.app.metrics.get('onecard_events_duplicate_total');
  process.stdout.write([
    '',
    `OneCard reliability: ${TERMINALS} onecard-terminal run processes, seed ${seedShown}, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `faults         ${faults.kills} terminal SIGKILLs, ${faults.serverRestarts} server restarts, ${faults.drops} broker connection drops`,
    `purchases      ${answeredTotal()} answered by the local APIs, ${storedTxns} stored on the server; duplicates received and ignored since the last restart: ${dupMetric}`,
    ...lines,
    problems.length === 0 ? 'result         PASS: every record stored exactly once and in order, every answered purchase stored, books balance, nothing pending' : `result         FAIL:\n  ${problems.join('\n  ')}`,
    '',
  ].join('\n'));
  if (problems.length > 0) exitCode = 1;
} catch (e) {
  process.stderr.write(`reliability: FAILED — ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  exitCode = 1;
} finally {
  producing = false;
  for (const t of terms) t.proc?.kill('SIGTERM');
  await sleep(500);
  killAll();
  for (const t of terms) await t.reader.close().catch(() => {});
  await server?.close().catch(() => {});
  clearTimeout(deadline);
  if (process.env.RELIABILITY_KEEP === undefined) rmSync(root, { recursive: true, force: true });
  else log(`kept ${root}`);
}
process.exit(exitCode);
