// The demo (scripts/demo) on a temporary data dir and free ports. First in-process (`startDemo`):
// each of the seven terminals is its own `onecard-terminal run --data-dir DIR` child process (one
// process per terminal, named by its data dir, a child of the demo), and the scripted day's
// outcomes are checked through the admin API — the lost card listed and refused at the pharmacy
// and the library gate, the fare cut during DEBIT FOR PURCHASE recovered with one debit only, the
// pharmacy configuration applied, the transit key job went only to the PSAM-less gate (custody),
// which acknowledged the expected check value and took a fare with the soft SAM; stopping sends SIGTERM and
// every terminal exits 0, and every record each terminal's outbox holds is stored exactly once.
// Then `npm start` itself (scripts/demo/main.ts) as a child process on the same data dir: it
// reuses the enrolments, replays the day with the next key-set version, and Ctrl-C (SIGINT) stops
// it with exit 0 and no terminal process left behind.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemo, type Demo } from '../../../scripts/demo/demo.ts';
import { openFileOutbox } from '../../../terminal/src/agent/outbox.ts';

const MAIN = fileURLToPath(new URL('../../../scripts/demo/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Ev { terminalId: string; eventId: string; seq: number; type: string; body: Record<string, unknown> }

async function get(d: Demo, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${d.httpUrl}${path}`, { headers: { authorization: `Bearer ${d.adminToken}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}
async function events(d: Demo, query: string): Promise<Ev[]> {
  const r = await get(d, `/api/v1/events?limit=10000${query}`);
  if (r.status !== 200) throw new Error(`events: HTTP ${r.status}`);
  return r.body['events'] as Ev[];
}

/** Processes on this machine: pid, parent pid, command line (from /proc). */
function processes(): { pid: number; ppid: number; cmd: string[] }[] {
  const out: { pid: number; ppid: number; cmd: string[] }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((x) => x.length > 0);
      out.push({ pid: Number(e), ppid, cmd });
    } catch { /* gone meanwhile */ }
  }
  return out;
}
/** `onecard-terminal run` processes whose data dir lies under `dir`. */
const terminalProcessesUnder = (dir: string): { pid: number; ppid: number; cmd: string[] }[] =>
  processes().filter((p) => p.cmd.some((a) => a.endsWith('onecard-terminal.js')) && p.cmd.includes('run') && p.cmd.some((a) => a.startsWith(dir)));
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const terminalId = (dataDir: string): string => (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { terminalId: string }).terminalId;

interface KeyJob { id: string; seq: number; keySetId: string; version: number; expectedKcv: string; counts: Record<string, number> }
interface KeyJobEntry { terminalId: string; status: string; reportedKcv: string | null }

/**
 * Checks through GET /api/v1/key-jobs that the newest transit-gates job went to the soft-SAM gate
 * only (custody: purse roots never go to a terminal with a physical PSAM) and that it acknowledged
 * the expected key-set check value.
 */
async function checkKeyJob(t: Test, d: Demo, jobId: string | undefined, version: number): Promise<void> {
  const job = ((await get(d, '/api/v1/key-jobs?groupId=transit-gates')).body['jobs'] as KeyJob[])[0];
  t.ok(job !== undefined && job.id === jobId, 'the newest transit-gates key job is the demo\'s');
  if (job === undefined) return;
  t.equal(job.keySetId, 'transit-demo');
  t.equal(job.version, version, `key-set version ${version}`);
  t.equal(job.counts['succeeded'], 1, 'key job succeeded on the soft-SAM gate');
  const entries = (await get(d, `/api/v1/key-jobs/${job.id}`)).body['terminals'] as KeyJobEntry[];
  const idOf = (name: string): string => d.terminals.find((y) => y.name === name)!.terminalId;
  const soft = entries.find((x) => x.terminalId === idOf('transit-gate-2'));
  t.equal(soft?.status, 'succeeded', 'transit-gate-2: succeeded');
  t.equal(soft?.reportedKcv, job.expectedKcv, 'transit-gate-2: acknowledged the expected key-set check value');
  t.notOk(entries.some((x) => x.terminalId === idOf('transit-gate-1')), 'transit-gate-1 (physical PSAM) is not part of the key job');
}

const dir = mkdtempSync(join(tmpdir(), 'onecard-demo-test-'));
t.teardown(() => {
  for (const p of terminalProcessesUnder(dir)) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

t.test('the demo runs each terminal as an onecard-terminal run process; the scripted day the server records', async (t) => {
  const lines: string[] = [];
  const demo = await startDemo({ dataDir: dir, fresh: true, httpPort: 0, narrate: (l) => lines.push(l) });
  t.teardown(() => demo.stop());
  t.equal(demo.terminals.length, 7, 'seven terminals');
  t.same(demo.terminals.map((x) => x.name), ['hall-kiosk', 'hospital-pos', 'pharmacy-pos-1', 'pharmacy-pos-2', 'transit-gate-1', 'transit-gate-2', 'library-gate']);

  // One process per terminal: a child of this process running the shipped CLI on its own data dir.
  const procs = terminalProcessesUnder(dir);
  t.equal(procs.length, 7, 'ps shows exactly one onecard-terminal run process per terminal');
  t.equal(new Set(demo.terminals.map((x) => x.proc.pid)).size, 7, 'seven distinct pids');
  for (const term of demo.terminals) {
    const p = procs.find((x) => x.pid === term.proc.pid);
    t.ok(p !== undefined, `${term.name}: pid ${term.proc.pid} is a terminal process`);
    t.equal(p?.ppid, process.pid, `${term.name}: a child of the demo`);
    t.same(p?.cmd.slice(-3), ['run', '--data-dir', term.dataDir], `${term.name}: onecard-terminal run --data-dir ${term.name}`);
    t.equal(terminalId(term.dataDir), term.terminalId, `${term.name}: enrolled with the CLI into its data dir`);
    t.equal(statSync(join(term.dataDir, 'terminal.json')).mode & 0o777, 0o600, `${term.name}: local file (API token inside) is 0600`);
    const h = await fetch(`${term.proc.apiUrl}/v1/readers`);
    t.equal(h.status, 401, `${term.name}: the local API wants its token`);
    await h.arrayBuffer();
  }

  const out = await demo.day();
  t.comment(lines.join('\n'));
  const idOf = (name: string): string => demo.terminals.find((x) => x.name === name)!.terminalId;

  // Lost card: listed on the server, refused at the pharmacy and the library gate.
  t.same(out.refusedAt.sort(), ['library-gate', 'pharmacy-pos-1']);
  t.equal((await get(demo, `/api/v1/hotlist/${out.lostCard}`)).status, 200, 'lost card on the server hotlist');
  const hotlisted = (await events(demo, '&type=card.refused')).filter((e) => e.body['code'] === 'TERM_ERR_CARD_HOTLISTED');
  t.ok(['pharmacy-pos-1', 'library-gate'].every((n) => hotlisted.some((e) => e.terminalId === idOf(n))), 'the terminals journaled the refusals and the server stored them');

  // The fare cut during DEBIT FOR PURCHASE: interrupted, then recovered as completed, debited exactly once.
  const f = out.interruptedFare!;
  t.equal(f.cut, 'TERM_ERR_PURCHASE_INTERRUPTED', 'the cut tap is reported interrupted');
  t.equal(f.recovery, 'recovered:completed');
  t.equal(f.balanceBefore - f.balanceAfter, f.amount, 'one debit only');
  const gateTxns = await events(demo, `&terminal=${idOf('transit-gate-1')}&type=txn.purchase`);
  t.equal(gateTxns.filter((e) => e.body['kind'] === 'recovered').length, 1, 'the recovery is stored once');

  // Configuration applied by both pharmacy terminals and seen so by the server.
  t.ok(out.configVersion !== undefined);
  t.same(out.configAppliedBy.sort(), ['pharmacy-pos-1', 'pharmacy-pos-2']);

  // Transit keys: a master key file, the key job succeeded on both gates, a soft-SAM fare.
  t.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600, 'master.key is 0600');
  t.equal(out.keyRollout, 'done', out.notes.join('; '));
  t.same(out.keyJob?.succeededBy, ['transit-gate-2']);
  await checkKeyJob(t, demo, out.keyJob?.id, 1);
  t.notOk(demo.terminals.find((x) => x.name === 'transit-gate-2')!.hasPsam, 'transit gate 2 has no physical PSAM');
  t.match(out.softSamFare, /^completed: ¥2\.00 debited/, 'the soft SAM fare completed on the delivered keys');
  const soft = await events(demo, `&terminal=${idOf('transit-gate-2')}&type=txn.purchase`);
  t.equal(soft.filter((e) => e.body['kind'] === 'completed').length, 1, 'the soft-SAM fare is stored');
  t.ok(lines.some((l) => /transit gate 2 .*key job succeeded.*KCV [0-9A-F]{6}/.test(l)), 'narrated per gate with the KCV');

  // Background actions, then SIGTERM to every terminal: each exits 0 and nothing is left running.
  demo.live(100);
  await new Promise((r) => setTimeout(r, 1500));
  const pids = demo.terminals.map((x) => x.proc.pid);
  await demo.stopTerminals();
  for (const term of demo.terminals) t.same(await term.proc.exited, { code: 0, signal: null }, `${term.name}: exited 0 on SIGTERM`);
  t.notOk(pids.some(alive), 'no terminal process left');
  t.equal(terminalProcessesUnder(dir).length, 0, 'ps shows no terminal of the demo');

  // Every record in each terminal's outbox reached the server once, in order.
  for (const term of demo.terminals) {
    const ob = await openFileOutbox({ dir: join(term.dataDir, 'outbox') });
    const { lastSeq, pending } = ob.stats();
    await ob.close();
    const stored = await events(demo, `&terminal=${term.terminalId}`);
    const seqs = stored.map((e) => e.seq);
    t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${term.name}: stored seq 1..${seqs.length}, each once`);
    t.equal(new Set(stored.map((e) => e.eventId)).size, stored.length, `${term.name}: no duplicate event ids`);
    t.ok(seqs.length >= lastSeq - pending && seqs.length <= lastSeq, `${term.name}: ${seqs.length} stored of ${lastSeq} journaled (${pending} still pending)`);
  }
});

t.test('npm start on the same data dir: enrolments reused, the next key version, Ctrl-C leaves no process', async (t) => {
  const before = new Map(readdirSync(join(dir, 'terminals')).map((n) => [n, terminalId(join(dir, 'terminals', n))]));
  const main = spawn(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dir, '--port', '0', '--interval', '500'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (main.exitCode === null) main.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  main.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  main.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => main.once('exit', (code, signal) => r({ code, signal })));
  const until = async (what: RegExp, ms: number): Promise<boolean> => {
    const end = Date.now() + ms;
    while (!what.test(stdout)) {
      if (Date.now() > end || main.exitCode !== null) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  };
  t.ok(await until(/the terminals keep working/, 240_000), 'the day ran');
  t.comment(stdout);
  if (stderr.length > 0) t.comment(stderr);
  t.match(stdout, /previous run taken off the hotlist/, 'the replayed loss report is cancelled first');
  t.match(stdout, /library gate\s+│ card X00000019 REFUSED: TERM_ERR_CARD_HOTLISTED/);
  t.match(stdout, /transit gate 2\s+│ key job succeeded: purse keys v2 .*acknowledged KCV [0-9A-F]{6}/, 'the next key-set version reaches the soft-SAM gate');
  t.match(stdout, /transit gate 1\s+│ has a physical PSAM: not part of the key job/, 'the PSAM gate gets no purse roots');
  t.match(stdout, /transit gate 2\s+│ no physical PSAM.*completed/, 'soft-SAM fare on the new keys');
  t.notMatch(stdout, /re-enrolled/, 'no re-enrolment');
  for (const [name, id] of before) t.equal(terminalId(join(dir, 'terminals', name)), id, `${name}: same terminal id`);

  const children = terminalProcessesUnder(dir);
  t.equal(children.length, 7, 'one process per terminal');
  t.ok(children.every((p) => p.ppid === main.pid), 'all children of npm start');
  main.kill('SIGINT');
  const e = await exited;
  t.same(e, { code: 0, signal: null }, 'Ctrl-C: npm start exits 0');
  t.match(stdout, /Ctrl-C: stopping the terminal processes, readers and the server[\s\S]*stopped cleanly\./);
  t.notOk(children.some((p) => alive(p.pid)), 'every terminal process has exited');
  t.equal(terminalProcessesUnder(dir).length, 0, 'no orphan terminal process');
  t.notOk(existsSync(join(dir, 'terminals', 'hall-kiosk', 'reader')), 'the pty links are gone');
});
