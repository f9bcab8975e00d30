/**
 * The option parsing the `onecard-sim` device commands share (src/cli/options.ts): the control
 * port, and `pinpad` / `scanner` run as processes with good and bad options.
 */
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseControlPort } from '../../src/cli/options.ts';
import { runSim as run } from './run-sim.ts';

t.test('--control-port: a port number 0..65535, undefined when absent, null otherwise', async (t) => {
  t.equal(parseControlPort(undefined), undefined);
  t.equal(parseControlPort('0'), 0, '0 = any free port');
  t.equal(parseControlPort('65535'), 65535);
  for (const bad of ['65536', '-1', '1.5', 'x', '80x']) t.equal(parseControlPort(bad), null, bad);
});

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
    const ready = JSON.parse(await sim.line(/"event":"ready"/)) as { pty: string; controlPort: number };
    t.equal(ready.pty, link);
    t.ok(Number.isInteger(ready.controlPort) && ready.controlPort > 0, 'a free port was taken');
    t.ok(fs.lstatSync(link).isSymbolicLink());
    sim.child.kill('SIGTERM');
    t.equal(await sim.exit, 0);
    t.notOk(fs.existsSync(link), 'the link is removed on close');
  });
}
