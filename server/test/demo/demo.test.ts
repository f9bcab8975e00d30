// `npm start` (scripts/demo/main.ts) as a child process in its own process group, on a temporary
// data dir and free ports, checked from the outside as a user would see it:
//  - one `onecard-terminal run --data-dir …/NAME` process per terminal (/proc: seven, each a child
//    of npm start with its own pid and data dir, enrolled by the CLI with its name; the local file
//    holding the API token is 0600 and the local API refuses a request without the token);
//  - the scripted day, through the narration and the admin API: the lost card listed and refused at
//    the pharmacy and the library gate (refusals journaled by those terminals and stored), the fare
//    cut during DEBIT FOR PURCHASE reported interrupted and recovered with one debit, the pharmacy
//    configuration applied by both pharmacies, the transit key job delivered only to the PSAM-less
//    gate (custody) which acknowledged the expected check value and took a soft-SAM fare;
//  - Ctrl-C (SIGINT to the process group, as a shell sends it): npm start exits 0, every terminal
//    exits 0 by itself, no terminal process and no pty link is left, and each terminal's outbox on
//    disk holds exactly what the server stored (seq 1..n, each once, nothing pending).
// One run only: seven terminal processes on a 2-core machine take most of a minute to start.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileOutbox } from '@onecard/terminal/src/agent/outbox.ts';

const MAIN = fileURLToPath(new URL('../../../scripts/demo/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NAMES = ['hall-kiosk', 'hospital-pos', 'pharmacy-pos-1', 'pharmacy-pos-2', 'transit-gate-1', 'transit-gate-2', 'library-gate', 'museum-gate'];

interface Ev { terminalId: string; eventId: string; seq: number; type: string; body: Record<string, unknown> }
interface Proc { pid: number; ppid: number; cmd: string[] }

/** Processes on this machine: pid, parent pid, command line (from /proc). */
function processes(): Proc[] {
  const out: Proc[] = [];
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
const terminalProcessesUnder = (dir: string): Proc[] =>
  processes().filter((p) => p.cmd.some((a) => a.endsWith('onecard-terminal.js')) && p.cmd.includes('run') && p.cmd.some((a) => a.startsWith(dir)));
/** Whether `pid` is a live process (a dead child nobody has reaped yet is a zombie, not running). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'onecard-demo-test-'));
const termDir = (name: string): string => join(dir, 'terminals', name);
const identity = (name: string): { terminalId: string; name?: string } => JSON.parse(readFileSync(join(termDir(name), 'identity.json'), 'utf8')) as { terminalId: string; name?: string };
t.teardown(() => {
  for (const p of terminalProcessesUnder(dir)) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

t.test('npm start: one onecard-terminal run process per terminal, the scripted day, Ctrl-C leaves nothing behind', async (t) => {
  // Its own process group, as a shell gives a foreground job: Ctrl-C signals the whole group.
  const main = spawn(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dir, '--port', '0', '--interval', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killGroup = (): void => { if (main.exitCode === null) try { process.kill(-main.pid!, 'SIGKILL'); } catch { /* gone */ } };
  t.teardown(killGroup);
  process.once('exit', killGroup); // also when the runner's timeout ends this process before the teardown
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
  const dayRan = await until(/the terminals stay up, idle/, 150_000);
  t.comment(stdout);
  if (stderr.length > 0) t.comment(stderr);
  if (!t.ok(dayRan, 'the scripted day ran')) return;

  // One process per terminal, children of npm start, on their own data dirs.
  const procs = terminalProcessesUnder(dir);
  t.equal(procs.length, NAMES.length, 'ps shows exactly one onecard-terminal run process per terminal');
  t.ok(procs.every((p) => p.ppid === main.pid), 'each a child of npm start');
  for (const name of NAMES) {
    const p = procs.find((x) => x.cmd.at(-1) === termDir(name));
    t.same(p?.cmd.slice(-3), ['run', '--data-dir', termDir(name)], `${name}: onecard-terminal run --data-dir …/${name}`);
    t.equal(identity(name).name, name, `${name}: enrolled by the CLI with its name`);
    t.equal(statSync(join(termDir(name), 'terminal.json')).mode & 0o777, 0o600, `${name}: local file (API token inside) is 0600`);
  }
  const kioskPort = (JSON.parse(readFileSync(join(termDir('hall-kiosk'), 'terminal.json'), 'utf8')) as { api: { port: number } }).api.port;
  const noToken = await fetch(`http://127.0.0.1:${kioskPort}/v1/readers`);
  t.equal(noToken.status, 401, 'the local API wants its token');
  await noToken.arrayBuffer();

  // The day, as narrated.
  t.match(stdout, /hall kiosk\s+│ card X00000019 read: .*PSAM authentication OK/);
  t.match(stdout, /hall kiosk\s+│ login code \d{8} approved: card genuine, PIN verified/, 'the kiosk login to the demo portal');
  t.match(stdout, /received an ID token: 张\*, acr urn:onecard:loa:high, amr \["hwk","pin"\]/, 'the portal got its ID token');
  // The screens: switched on in terminal.json and printed with a single-use launch URL each.
  for (const [name, page] of [['hall-kiosk', 'kiosk'], ['hall-kiosk', 'desk'], ['hospital-pos', 'desk']] as const) {
    t.equal((JSON.parse(readFileSync(join(termDir(name), 'terminal.json'), 'utf8')) as { screens?: Record<string, boolean> }).screens?.[page], true, `${name}: ${page} switched on`);
    t.match(stdout, new RegExp(`${name} ${page}\\s+http://127\\.0\\.0\\.1:\\d+/${page}/  open once within 60 s: http://127\\.0\\.0\\.1:\\d+/session/start\\?code=`), `${name}: ${page} URL and launch URL printed`);
  }
  t.match(stdout, /hospital POS\s+│ PIN mistyped: TERM_ERR_PIN_WRONG, 2 tries left/);
  t.match(stdout, /pharmacy POS 1\s+│ card X00000019 REFUSED: TERM_ERR_CARD_HOTLISTED/);
  t.match(stdout, /library gate\s+│ card X00000019 REFUSED: TERM_ERR_CARD_HOTLISTED/);
  t.match(stdout, /library gate\s+│ SIP2 password sealed by the fleet \(admins see \{"set":true\}\)/, 'the library password is sealed, shown only as set');
  t.match(stdout, /museum gate\s+│ X\*+7 ADMITTED \(admitted, standard ¥30\.00\)/, 'the museum visit (docs/venues.md)');
  t.match(stdout, /museum gate\s+│ Abdurahman: D\*+X ADMITTED \(admitted-registered/, 'the event entry of the holder registered at the kiosk');
  t.match(stdout, /museum gate\s+│ Li Si: X\*+7 REFUSED: not-registered/);
  t.match(stdout, /transit gate 1\s+│ a commuter pulls the card away during DEBIT FOR PURCHASE: TERM_ERR_PURCHASE_INTERRUPTED/, 'the cut tap is reported interrupted');
  const settled = /transit gate 1\s+│ the same card taps again: GET TRANSACTION PROVE settled the pending fare \(completed\), no second debit; balance ¥(\d+\.\d\d) → ¥(\d+\.\d\d)/.exec(stdout);
  t.ok(settled !== null, 'the interrupted fare is recovered on the next tap');
  if (settled !== null) t.equal(Math.round((Number(settled[1]) - Number(settled[2])) * 100), 200, 'one debit of ¥2.00 only');
  t.match(stdout, /config 'pharmacy' v\d+ fetched, checked \(sha-256\) and applied by pharmacy-pos-1 and pharmacy-pos-2/);
  t.match(stdout, /transit gate 1\s+│ has a physical PSAM: not part of the key job/, 'the PSAM gate gets no purse roots');
  t.match(stdout, /transit gate 2\s+│ key job succeeded: purse keys v1 loaded under the terminal's KBPK, acknowledged KCV [0-9A-F]{6}/);
  t.match(stdout, /transit gate 2\s+│ no physical PSAM; .*soft SAM .*: completed: ¥2\.00 debited/, 'the soft-SAM fare');
  t.notMatch(stdout, /note: key rollout|the scripted day stopped/);

  // The same, through the admin API.
  const url = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)?.[1];
  const admin = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  const get = async (path: string): Promise<Record<string, unknown>> => (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, unknown>;
  const events = async (q: string): Promise<Ev[]> => (await get(`/api/v1/events?limit=10000${q}`))['events'] as Ev[];
  const idOf = (name: string): string => identity(name).terminalId;
  const listed = await fetch(`${url}/api/v1/hotlist/X00000019`, { headers: { authorization: `Bearer ${admin}` } });
  t.equal(listed.status, 200, 'the lost card is on the server hotlist');
  await listed.arrayBuffer();
  const hotlisted = (await events('&type=card.refused')).filter((e) => e.body['code'] === 'TERM_ERR_CARD_HOTLISTED');
  t.ok(['pharmacy-pos-1', 'library-gate'].every((n) => hotlisted.some((e) => e.terminalId === idOf(n))), 'the refusals were journaled by those terminals and stored');
  const gate1 = await events(`&terminal=${idOf('transit-gate-1')}&type=txn.purchase`);
  t.equal(gate1.filter((e) => e.body['kind'] === 'recovered' && e.body['state'] === 'completed').length, 1, 'the recovered fare is stored once');
  for (const name of ['pharmacy-pos-1', 'pharmacy-pos-2']) t.equal((await get(`/api/v1/terminals/${idOf(name)}/config`))['inSync'], true, `${name}: configuration in sync`);
  const job = ((await get('/api/v1/key-jobs?groupId=transit-gates'))['jobs'] as { id: string; expectedKcv: string; counts: Record<string, number> }[])[0];
  const entries = (await get(`/api/v1/key-jobs/${job?.id}`))['terminals'] as { terminalId: string; status: string; reportedKcv: string | null }[];
  const soft = entries.find((e) => e.terminalId === idOf('transit-gate-2'));
  t.same([soft?.status, soft?.reportedKcv], ['succeeded', job?.expectedKcv], 'transit-gate-2 acknowledged the expected key-set check value');
  t.notOk(entries.some((e) => e.terminalId === idOf('transit-gate-1')), 'transit-gate-1 (physical PSAM) is not part of the key job');
  t.equal((await events(`&terminal=${idOf('transit-gate-2')}&type=txn.purchase`)).filter((e) => e.body['state'] === 'completed').length, 1, 'the soft-SAM fare is stored');

  // What the server stored, per terminal, once nothing moves any more.
  const storedOf = new Map<string, Ev[]>();
  for (let i = 0; i < 40; i++) {
    let changed = false;
    for (const name of NAMES) {
      const ev = await events(`&terminal=${idOf(name)}`);
      if (ev.length !== storedOf.get(name)?.length) changed = true;
      storedOf.set(name, ev);
    }
    if (!changed && i > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }

  // Ctrl-C.
  process.kill(-main.pid!, 'SIGINT');
  const e = await exited;
  t.same(e, { code: 0, signal: null }, 'Ctrl-C: npm start exits 0');
  t.match(stdout, /Ctrl-C: stopping the terminal processes, readers and the server[\s\S]*stopped cleanly\./);
  t.notMatch(stdout, /warning: .* exited with/, 'every terminal process exited 0');
  t.notOk(procs.some((p) => alive(p.pid)), 'every terminal process has exited');
  t.equal(terminalProcessesUnder(dir).length, 0, 'no orphan terminal process');
  t.notOk(NAMES.some((n) => existsSync(join(termDir(n), 'reader'))), 'the pty links are gone');

  // Each outbox on disk against what the server stored.
  for (const name of NAMES) {
    const ob = await openFileOutbox({ dir: join(termDir(name), 'outbox') });
    const { lastSeq, pending } = ob.stats();
    await ob.close();
    const stored = storedOf.get(name) ?? [];
    t.same(stored.map((x) => x.seq), Array.from({ length: lastSeq }, (_, i) => i + 1), `${name}: the server holds seq 1..${lastSeq}, each once`);
    t.equal(new Set(stored.map((x) => x.eventId)).size, stored.length, `${name}: no duplicate event ids`);
    t.equal(pending, 0, `${name}: nothing left pending in the outbox`);
  }
});
