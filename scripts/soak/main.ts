/**
 * Soak run (`npm run soak`): the fleet server (embedded broker, SQLite) in this process and N
 * terminals in a child process (scripts/soak/terminals.ts: each one built by the composition root
 * `startTerminal`, as `onecard-terminal run --data-dir` builds it, on a simulated serial reader,
 * driven through its local API), on loopback only, for a set time with random faults — the broker
 * dropping terminal connections, terminal restarts (closed and started again from the data dir)
 * and cards leaving during DEBIT FOR PURCHASE — then a report: records the terminals
 * appended vs what the server stored (lost, duplicated), fare books (card debits vs journal, no
 * double debit), RSS of server and terminals at start and end, and reconnects. Exit code 1 when
 * anything was lost, duplicated or double-debited.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startServer } from '@onecard/server/src/server.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';
import type { SoakCommand, SoakReply, TerminalReport } from './terminals.ts';

const USAGE = `Usage: npm run soak -- [--minutes M] [--terminals N] [--seed S] [--keep]
  --minutes M     how long the fleet runs with faults (default 2)
  --terminals N   simulated terminals (default 20)
  --action-ms MS  each terminal acts about once per MS (default 1000)
  --seed S        seed of the fault schedule (default: random, printed)
  --keep          keep the temporary data directory
`;
const { values: a } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, terminals: { type: 'string', default: '20' }, 'action-ms': { type: 'string', default: '1000' }, seed: { type: 'string' }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (a.help === true) { process.stdout.write(USAGE); process.exit(0); }
const minutes = Number(a.minutes);
const N = Number(a.terminals);
const actionMs = Number(a['action-ms']);
if (!(minutes > 0 && minutes <= 24 * 60) || !Number.isInteger(N) || N < 1 || N > 2000 || !(actionMs >= 10)) { process.stderr.write(USAGE); process.exit(2); }
let seed = a.seed === undefined ? randomBytes(4).readUInt32LE() : Number(a.seed);
const random = (): number => { seed = (seed + 0x6d2b79f5) >>> 0; let x = seed; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296; };
const seedShown = seed;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settledRss = (): number => { gc(); gc(); return process.memoryUsage().rss; };
const MB = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;
const t0 = Date.now();
const log = (m: string): void => void process.stdout.write(`[soak +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

const dir = mkdtempSync(join(tmpdir(), 'onecard-soak-'));
const admin = `soak-admin-${randomBytes(12).toString('hex')}`;
const server = await startServer({
  config: { ...CONFIG_DEFAULTS, dataDir: dir, httpPort: 0, mqttPort: 0, logLevel: 'error', authRateLimitPerMinute: 1_000_000 },
  dbPath: join(dir, 'onecard.db'), adminTokenPreset: admin,
});
const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
  const r = await fetch(`${server.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  return { status: r.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
};
await api('POST', '/api/v1/groups', { id: 'soak', name: 'soak' });

const child: ChildProcess = fork(fileURLToPath(new URL('./terminals.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const waiters: ((r: SoakReply) => void)[] = [];
child.on('message', (m: SoakReply) => waiters.shift()?.(m));
const next = (): Promise<SoakReply> => new Promise((r) => waiters.push(r));
const call = async (c: SoakCommand): Promise<SoakReply & { ok: true }> => {
  const p = next();
  child.send(c);
  const r = await p;
  if (!r.ok) throw new Error(`terminals ${c.cmd}: ${r.error}`);
  return r;
};
const clients = (): { id: string; close(): void }[] => Object.values((server.app.broker as unknown as { clients: Record<string, { id: string; close(): void }> }).clients ?? {});

let exitCode = 0;
try {
  await next(); // ready
  log(`server up (${server.httpUrl}); enrolling and starting ${N} terminals; seed ${seedShown}`);
  const started = await call({ cmd: 'start', terminals: N, dataDir: join(dir, 'terminals'), serverUrl: server.httpUrl, adminToken: admin, actionMs, removalEvery: 7 });
  const until = Date.now() + 20_000;
  while (server.app.broker.connectedClients < N && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2000));
  const serverRss0 = settledRss();
  const termRss0 = started.rss ?? 0;
  log(`${server.app.broker.connectedClients} connected; server RSS ${MB(serverRss0)}, terminals process RSS ${MB(termRss0)}; faults for ${minutes} min`);

  const faults = { drops: 0, dropAll: 0, restarts: 0 };
  const end = Date.now() + minutes * 60_000;
  let lastLine = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500 + random() * 2500));
    const roll = random();
    if (roll < 0.45) {
      const cs = clients();
      const victim = cs[Math.floor(random() * cs.length)];
      if (victim !== undefined) { victim.close(); faults.drops++; }
    } else if (roll < 0.5) {
      for (const c of clients()) c.close();
      faults.dropAll++;
    } else if (roll < 0.8) {
      await call({ cmd: 'restart', index: Math.floor(random() * N) });
      faults.restarts++;
    }
    if (Date.now() - lastLine > 20_000) {
      lastLine = Date.now();
      log(`faults so far: ${faults.drops} connection drops, ${faults.dropAll} broker-wide drops, ${faults.restarts} terminal restarts; stored ${server.app.metrics.get('onecard_events_ingested_total')} events`);
    }
  }
  log('fault phase over; draining outboxes');
  const stopped = await call({ cmd: 'stop' });
  await new Promise((r) => setTimeout(r, 500));
  const serverRss1 = settledRss();
  const reports: readonly TerminalReport[] = stopped.terminals ?? [];

  // Compare what the terminals appended with what the server stored.
  let lost = 0;
  let dupSeq = 0;
  let dupIds = 0;
  let appendedTotal = 0;
  let stored = 0;
  for (const r of reports) {
    const ev = (await api('GET', `/api/v1/events?terminal=${r.terminalId}&limit=10000`)).json as { events: { seq: number; eventId: string }[] };
    const seqs = new Set(ev.events.map((e) => e.seq));
    stored += ev.events.length;
    appendedTotal += r.lastSeq;
    for (let s = 1; s <= r.lastSeq; s++) if (!seqs.has(s)) lost++;
    dupSeq += ev.events.length - seqs.size;
    dupIds += ev.events.length - new Set(ev.events.map((e) => e.eventId)).size;
  }
  const fares = reports.reduce((acc, r) => ({
    completed: acc.completed + r.fares.completed, interrupted: acc.interrupted + r.fares.interrupted, recovered: acc.recovered + r.fares.recovered,
    mismatched: acc.mismatched + (r.fares.debitedOnCard === r.fares.journalCompleted ? 0 : 1), pending: acc.pending + r.fares.pendingInJournal, unknown: acc.unknown + r.fares.unknown,
    debited: acc.debited + r.fares.debitedOnCard, journal: acc.journal + r.fares.journalCompleted,
  }), { completed: 0, interrupted: 0, recovered: 0, mismatched: 0, pending: 0, unknown: 0, debited: 0, journal: 0 });
  const connects = reports.reduce((s, r) => s + r.connects, 0);
  const restarts = reports.reduce((s, r) => s + r.restarts, 0);
  const duplicatesIngested = server.app.metrics.get('onecard_events_duplicate_total');

  const lines = [
    '',
    `OneCard soak: ${N} terminals, ${minutes} min of faults, seed ${seedShown}, loopback only`,
    `faults injected     ${faults.drops} single connection drops, ${faults.dropAll} broker-wide drops, ${faults.restarts} terminal restarts, ${fares.interrupted} cards removed mid-fare`,
    `events              terminals appended ${appendedTotal}, server stored ${stored}: lost ${lost}, duplicated ${dupSeq + dupIds} (re-sent batches deduplicated by the server: ${duplicatesIngested})`,
    `fares               ${fares.completed} completed, ${fares.interrupted} interrupted → ${fares.recovered} settled on the next tap; card debits ${fares.debited} fen vs journal ${fares.journal} fen; ${fares.mismatched} terminals with mismatched books, ${fares.pending} left pending, ${fares.unknown} unknown`,
    `reconnects          ${connects - N - restarts} reconnects beyond the first connect of each agent (${connects} connects over ${N} terminals and ${restarts} restarts)`,
    `server memory       RSS ${MB(serverRss0)} → ${MB(serverRss1)} (${serverRss1 >= serverRss0 ? '+' : ''}${MB(serverRss1 - serverRss0)})`,
    `terminals memory    RSS of the terminals process ${MB(termRss0)} → ${MB(stopped.rss ?? 0)} (${N} terminals; ${MB(((stopped.rss ?? 0) - termRss0))} growth)`,
    `verdict             ${lost === 0 && dupSeq + dupIds === 0 && fares.mismatched === 0 && fares.unknown === 0 ? 'OK: nothing lost, nothing duplicated, no double debit' : 'FAILED'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!(lost === 0 && dupSeq + dupIds === 0 && fares.mismatched === 0 && fares.unknown === 0)) exitCode = 1;
} catch (e) {
  process.stderr.write(`soak failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  exitCode = 1;
} finally {
  if (child.exitCode === null && child.connected) await new Promise((r) => { child.once('exit', r); setTimeout(() => { child.kill('SIGKILL'); r(undefined); }, 5000); });
  else if (child.exitCode === null) child.kill('SIGKILL');
  await server.close();
  if (a.keep === true) log(`data kept in ${dir}`); else rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
