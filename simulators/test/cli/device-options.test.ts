/**
 * The option parsing the `onecard-sim` device commands share (src/cli/options.ts): the control
 * port, and `pinpad` / `scanner` run as processes with good and bad options.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseControlPort } from '../../src/cli/options.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '../../bin/onecard-sim.js');

t.test('--control-port: a port number 0..65535, undefined when absent, null otherwise', async (t) => {
  t.equal(parseControlPort(undefined), undefined);
  t.equal(parseControlPort('0'), 0, '0 = any free port');
  t.equal(parseControlPort('65535'), 65535);
  for (const bad of ['65536', '-1', '1.5', 'x', '80x']) t.equal(parseControlPort(bad), null, bad);
});

function run(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const ready = new Promise<string>((resolve) => {
    child.stdout.on('data', () => {
      const l = stdout.split('\n').find((x) => x.includes('"event":"ready"'));
      if (l !== undefined) resolve(l);
    });
  });
  return { child, exit, ready, out: () => stdout, err: () => stderr };
}

for (const command of ['pinpad', 'scanner']) {
  t.test(`${command}: --help, missing --pty and a bad --control-port end with their exit status`, async (t) => {
    const h = run([command, '--help']);
    t.equal(await h.exit, 0);
    t.match(h.out(), /--control-port N/);
    const nopty = run([command]);
    t.equal(await nopty.exit, 2);
    t.match(nopty.err(), /--pty PATH is required/);
    const badPort = run([command, '--pty', '/tmp/x', '--control-port', '70000']);
    t.equal(await badPort.exit, 2);
    t.match(badPort.err(), /--control-port needs a port number/);
  });

  t.test(`${command}: starts on its pty with a control port and stops on SIGTERM`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `onecard-${command}-`));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const link = path.join(dir, 'tty');
    const sim = run([command, '--pty', link, '--control-port', '0', '--log-level', 'warn']);
    const ready = JSON.parse(await sim.ready) as { pty: string; controlPort: number };
    t.equal(ready.pty, link);
    t.ok(Number.isInteger(ready.controlPort) && ready.controlPort > 0, 'a free port was taken');
    t.ok(fs.lstatSync(link).isSymbolicLink());
    sim.child.kill('SIGTERM');
    t.equal(await sim.exit, 0);
    t.notOk(fs.existsSync(link), 'the link is removed on close');
  });
}
