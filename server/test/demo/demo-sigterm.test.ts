// `npm start` (scripts/demo/main.ts) stopped by SIGTERM to its own pid only (a supervisor or
// `kill PID`, so the terminal processes get no signal from anyone else) in the middle of starting,
// once its first terminal processes run: it exits 130 and leaves no `onecard-terminal` process
// (enrolment or run) behind. The Ctrl-C path after the day is demo.test.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../scripts/demo/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `onecard-terminal` processes (any command) working on a data dir under `dir`, from /proc. */
function terminalProcessesUnder(dir: string): { pid: number; cmd: string[] }[] {
  const out: { pid: number; cmd: string[] }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((x) => x.length > 0);
      if (cmd.some((a) => a.endsWith('onecard-terminal.js')) && cmd.some((a) => a.startsWith(dir))) out.push({ pid: Number(e), cmd });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Whether `pid` is a live process (a dead child nobody has reaped yet is a zombie, not running). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'onecard-demo-sigterm-'));
t.teardown(() => {
  for (const p of terminalProcessesUnder(dir)) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

t.test('SIGTERM while npm start brings its terminals up: exit 130, no terminal process left', async (t) => {
  const main = spawn(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dir, '--port', '0', '--interval', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (main.exitCode === null) main.kill('SIGKILL'); });
  process.once('exit', () => { for (const p of terminalProcessesUnder(dir)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } });
  let stderr = '';
  main.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  main.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => main.once('exit', (code, signal) => r({ code, signal })));
  let running: { pid: number; cmd: string[] }[] = [];
  const end = Date.now() + 100_000;
  while (running.length === 0 && Date.now() < end && main.exitCode === null) {
    running = terminalProcessesUnder(dir).filter((p) => p.cmd.includes('run'));
    if (running.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  if (!t.ok(running.length > 0, 'terminal processes started')) return;
  const seen = terminalProcessesUnder(dir);
  main.kill('SIGTERM');
  t.same(await exited, { code: 130, signal: null }, 'npm start exits 130 (stopped while starting)');
  t.match(stderr, /SIGTERM while starting: stopping/);
  await new Promise((r) => setTimeout(r, 300));
  const left = seen.filter((p) => isRunning(p.pid));
  t.same(left, [], 'every onecard-terminal process npm start had started is gone');
  t.same(terminalProcessesUnder(dir), [], 'and none started after');
});
