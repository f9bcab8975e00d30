import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createSerialTransport, lineHolders } from '../../src/link/serial.ts';
import { TerminalError } from '../../src/errors.ts';
import { tmpLink } from '../card/helpers.ts';

/** A second process holding `path` open: plainly (as pcscd's serial driver does) or with flock. */
async function holder(t: { teardown(fn: () => void): void }, path: string, how: 'plain' | 'flock'): Promise<ChildProcess> {
  const script = how === 'plain'
    ? `const fs=require('fs');fs.openSync(${JSON.stringify(path)},fs.constants.O_RDWR|fs.constants.O_NOCTTY|fs.constants.O_NONBLOCK);console.log('ready');setInterval(()=>{},1000);`
    : `const {SerialPort}=require('serialport');const p=new SerialPort({path:${JSON.stringify(path)},baudRate:115200,lock:true},(e)=>{if(e){console.error(String(e));process.exit(1)}console.log('ready')});setInterval(()=>{},1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('../../', import.meta.url).pathname });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += String(d)));
  while (!out.includes('ready')) await once(child.stdout!, 'data');
  return child;
}

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));

/**
 * The simulated reader in its own process, as in the field: a pty master descriptor does not
 * close on exec, so a reader simulated in this process would leak into the holder child below.
 */
async function simulator(t: { teardown(fn: () => void): void }, path: string): Promise<void> {
  const child = spawn(process.execPath, [simBin, 'reader', '--link', 'serial', '--pty', path, '--log-level', 'warn', '--model', 'gempc-twin'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGTERM'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += String(d)));
  while (!/"event":"ready"/.test(out)) await once(child.stdout!, 'data');
}

// Held-out conformance run: a port held by another process (pcscd) was shared, not refused.
for (const how of ['plain', 'flock'] as const) {
  t.test(`[reader-link §8.1] a pty opened twice: the second opener gets TERM_ERR_LINK_BUSY naming the holder (${how} open)`, async (t) => {
    const path = tmpLink(t);
    await simulator(t, path);
    t.same(lineHolders(path), [], 'the simulated reader (far end of the pty) is not a competing holder');
    const other = await holder(t, path, how);
    t.same(lineHolders(path).map((h) => h.pid), [other.pid], 'the other process is found');
    const tr = createSerialTransport({ path });
    let err: unknown;
    try {
      await tr.open();
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof TerminalError, 'refused with a coded error');
    t.equal((err as TerminalError).code, 'TERM_ERR_LINK_BUSY');
    if (how === 'plain') t.match((err as TerminalError).message, new RegExp(`held by pid ${other.pid} \\(node\\)`));
    t.equal(tr.isOpen, false, 'nothing left open');
    other.kill('SIGKILL');
    await once(other, 'exit');
    await tr.open();
    t.ok(tr.isOpen, 'opens once the other process let go');
    await tr.close();
  });
}
