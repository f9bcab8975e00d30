import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const simBin = fileURLToPath(new URL('../../../simulators/bin/onecard-sim.js', import.meta.url));
const termBin = fileURLToPath(new URL('../../bin/onecard-terminal.js', import.meta.url));
const cards = fileURLToPath(new URL('../../../simulators/cards/', import.meta.url));

/** `onecard-sim reader` on a pty with wire timing (so a read lasts long enough to pull the reader mid-way). */
async function startSim(t: { teardown(fn: () => void): void }): Promise<{ path: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'lost-'));
  const path = join(dir, 'reader');
  const child = spawn(process.execPath, [simBin, 'reader', '--link', 'serial', '--pty', path, '--log-level', 'warn', '--model', 'gemcore-sim-pro2',
    '--card', join(cards, 'ssc-3.00-long-name.json'), '--psam', join(cards, 'psam.json'), '--wire-timing', '9600'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      if (/"event":"ready"/.test(buf)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}: ${buf}`)));
  });
  return { path, child };
}

// Held-out conformance run: a reader that disappeared mid-read was "card removed" (exit 4) in 8 of 8 runs.
t.test('read-card: the reader process killed mid-read gives a TERM_ERR_LINK_* report and exit 3, every time', async (t) => {
  for (let run = 0; run < 3; run++) {
    const sim = await startSim(t);
    const r = await new Promise<{ code: number | null; err: string; apdus: number }>((resolve) => {
      const c = spawn(process.execPath, [termBin, 'read-card', '--reader', `serial:${sim.path}`, '--model', 'gemcore-sim-pro2', '--psam-slot', '1', '--json', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      let apdus = 0;
      c.stderr.on('data', (d: Buffer) => {
        err += String(d);
        apdus = (err.match(/"msg":"apdu"/g) ?? []).length;
        // Pull the reader once the read is under way (a few APDUs exchanged).
        if (apdus >= 3 && sim.child.exitCode === null && sim.child.signalCode === null) sim.child.kill('SIGKILL');
      });
      c.on('close', (code) => resolve({ code, err, apdus }));
    });
    t.ok(r.apdus >= 3, `run ${run}: the read was under way (${r.apdus} APDUs)`);
    t.equal(r.code, 3, `run ${run}: exit 3 (reader problem)`);
    t.match(r.err, /onecard-terminal read-card: TERM_ERR_LINK_[A-Z]+: /, `run ${run}: a link error is reported`);
    t.notMatch(r.err, /TERM_ERR_CARD_REMOVED/, `run ${run}: not "card removed"`);
  }
});
