// [issue 20] A terminal process killed (SIGKILL) in the middle of an issuance, then started again:
// the device (pseudo-terminal) and the region (HTTP, signed requests) live in this process and
// outlive the terminal. Wherever the kill lands, the job ends with exactly one card out of the
// hopper, and that card is either issued, complete and at the bezel, or in the retain bin with a
// failure 回盘 — never a half-written card released, never a second card.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '@onecard/protocol/bytes';
import { decodeBasicData, decodeSimpleTlvs } from '@onecard/protocol/ssc';
import { IssuingDeviceCore, openSerialIssuingDevice } from '@onecard/simulators/src/issuance/device.ts';
import { createIssuancePsam } from '@onecard/simulators/src/issuance/psam.ts';
import { FakeRegion } from '@onecard/simulators/src/issuance/region.ts';
import { serveRegion } from '@onecard/simulators/src/issuance/region-server.ts';
import { blank, clock, holder, roots } from './fixtures.ts';

const child = fileURLToPath(new URL('./kill-child.ts', import.meta.url));
const SECRET = '000102030405060708090A0B0C0D0E0F000102030405060708090A0B0C0D0E0F';

function run(args: string[]): { proc: ReturnType<typeof spawn>; done: Promise<{ code: number | null; out: string }> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  return { proc, done: new Promise((res) => proc.on('exit', (code) => res({ code, out }))) };
}

// Kill points: the first journal entry showing this step and phase.
const POINTS = [['dispense', 'before'], ['write', 'before'], ['print', 'before'], ['returnData', 'before'], ['eject', 'before']] as const;

for (const [step, phase] of POINTS) {
  t.test(`SIGKILL once the journal shows ${step}/${phase}, then resume`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-kill-'));
    const core = new IssuingDeviceCore({ stock: [blank('2.00', 1), blank('2.00', 2)], sam: createIssuancePsam({ roots, region: '639900' }) });
    const dev = openSerialIssuingDevice(core, { path: path.join(dir, 'issuer0') });
    const region = new FakeRegion({ region: '639900', holders: [holder], ukssseRoot: roots.ukssse, clock });
    const srv = await serveRegion(region, { secret: Buffer.from(SECRET, 'hex') });
    t.teardown(async () => {
      await srv.close();
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const jobs = path.join(dir, 'jobs');
    const args = (mode: string): string[] => [dev.path, srv.url, SECRET, jobs, 'K1', mode];
    const first = run(args('start'));
    const file = path.join(jobs, 'K1.json');
    let killed = false;
    while (!killed) {
      const exited = await Promise.race([first.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2))]);
      if (exited) break;
      try {
        const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as { history: { step: string; phase: string }[] };
        if (rec.history.some((h) => h.step === step && h.phase === phase)) {
          first.proc.kill('SIGKILL');
          killed = true;
        }
      } catch {
        /* not written yet, or being replaced */
      }
    }
    const firstEnd = await first.done;
    t.ok(killed || firstEnd.code === 0, 'killed mid-job (or it finished first)');
    core.powerCycle();
    if (killed) {
      const second = await run(args('resume')).done;
      t.equal(second.code, 0, 'the resumed process ends normally');
    }
    const snap = core.snapshot();
    t.equal(snap.stock, 1, 'exactly one card left the hopper');
    const job = region.job('K1')!;
    if (core.retained.length === 0) {
      const card = core.takeCard();
      t.ok(card, 'the issued card waits at the bezel');
      const items = decodeBasicData([...card!.records('EF05'), ...card!.records('EF06')].flatMap((r) => decodeSimpleTlvs(r)));
      t.match(items, { ssn: holder.ssn, name: holder.name, cardNumber: job.cardNumber, issueDate: '20261207' });
      t.match(job, { enabled: true, returned: { outcome: 'issued', cardId: toHex(card!.cardId) } });
    } else {
      t.equal(core.retained.length, 1, 'or the one card is in the retain bin');
      t.equal(snap.position, 'none');
      t.match(job, { enabled: false, returned: { outcome: 'failed' } });
    }
    t.equal(core.delivered.length, core.retained.length === 0 ? 1 : 0, 'one card out in total');
  });
}
