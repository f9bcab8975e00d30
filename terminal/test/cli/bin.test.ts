import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/onecard-terminal.js', import.meta.url));

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { input: input ?? '', encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('the real bin: atr --json reads stdin and sets the exit code', async (t) => {
  const r = run(['atr', '--json', '-'], '3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E\n3B 80 01 00\n');
  t.equal(r.status, 1, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { valid: boolean; protocols: number[] });
  t.same(rows.map((x) => x.valid), [true, false]);
  t.same(rows[0]?.protocols, [0, 1, 15]);
});

t.test('the real bin: readable report exit 0, usage exit 2', async (t) => {
  const ok = run(['atr', '3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A']);
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /Result: valid ATR/);
  const usage = run(['atr', '--nope']);
  t.equal(usage.status, 2);
  t.match(usage.stderr, /unknown option/);
  t.equal(run([]).status, 2);
});
