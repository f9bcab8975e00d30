import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { maskCommand, describeResponse } from '../../src/cli/apdu-log.ts';
import { ccid, frame, split } from './helpers.ts';
import { runSim as run } from '../cli/run-sim.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const cards = path.join(here, '../../cards');

t.test('[reader-link §6.7] APDU log serializer masks secret-bearing data', async (t) => {
  t.equal(maskCommand(Uint8Array.of(0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56)), '0020000003******');
  t.equal(maskCommand(Uint8Array.of(0x80, 0x5e, 0, 0, 2, 1, 2)), '805E000002****');
  t.equal(maskCommand(Uint8Array.of(0, 0x82, 0, 0x0a, 1, 9)), '0082000A01**');
  t.equal(maskCommand(Uint8Array.of(0x84, 0xd4, 0, 0, 1, 9)), '84D4000001**');
  t.equal(maskCommand(Uint8Array.of(0, 0xb2, 1, 0, 0)), '00B2010000');
  t.same(describeResponse(Uint8Array.of(1, 2, 0x90, 0)), { sw: '9000', dataLength: 2 });
});

t.test('CLI: --help, --link hid refused, missing --pty refused', async (t) => {
  const h = run(['reader', '--help']);
  t.equal(await h.exit, 0);
  t.match(h.out(), /--faults SPEC/);
  const hid = run(['reader', '--link', 'hid', '--pty', '/tmp/x']);
  t.equal(await hid.exit, 2);
  t.match(hid.err(), /SIM_ERR_READER_LINK/);
  const nopty = run(['reader']);
  t.equal(await nopty.exit, 2);
  t.match(nopty.err(), /SIM_ERR_READER_CLI_USAGE/);
});

t.test('CLI end to end: ready line, VERIFY over the pty, stdin control, PIN never logged', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const link = path.join(dir, 'tty');
  const sim = run(['reader', '--link', 'serial', '--pty', link, '--card', path.join(cards, 'ssc-2.00.json'), '--control-port', '0']);
  const ready = JSON.parse(await sim.line(/"event":"ready"/)) as { pty: string; controlPort: number };
  t.equal(ready.pty, link);
  const port = new SerialPort({ path: link, baudRate: 115200, stopBits: 2, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  let buf: number[] = [];
  port.on('data', (d: Buffer) => buf.push(...d));
  const xchg = async (msg: Uint8Array) => {
    buf = [];
    port.write(Buffer.from(frame(msg)));
    for (;;) {
      try {
        const items = split(Uint8Array.from(buf)).filter((i) => i.kind === 'ack');
        if (items.length >= 2) return items[1];
      } catch {
        /* partial */
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await xchg(ccid(0x62, 0, 1, 0, 0, 0));
  const ssse = [0x73, 0x78, 0x31, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf];
  const sel = await xchg(ccid(0x6f, 0, 2, 0, 0, 0, [0x00, 0xa4, 0x04, 0x00, ssse.length, ...ssse]));
  t.ok(sel?.kind === 'ack' && sel.msg[10] === 0x61, 'SELECT SSSE → 61xx (T=0, case 4)');
  const v = await xchg(ccid(0x6f, 0, 3, 0, 0, 0, [0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56]));
  t.ok(v?.kind === 'ack' && v.msg[10] === 0x90 && v.msg[11] === 0x00, 'VERIFY accepted');
  sim.child.stdin.write('status\n');
  const st = JSON.parse(await sim.line(/"event":"control"/)) as { ok: boolean; status: { slots: Array<{ present: boolean }> } };
  t.equal(st.ok, true);
  t.equal(st.status.slots[0]?.present, true);
  const res = await fetch(`http://127.0.0.1:${ready.controlPort}/remove`, { method: 'POST', body: '{}' });
  t.equal(res.status, 200);
  const s2 = await xchg(ccid(0x65, 0, 4, 0, 0, 0));
  t.ok(s2?.kind === 'ack' && s2.msg[7] === 0x02, 'HTTP /remove took the card out');
  await new Promise<void>((res) => port.close(() => res()));
  sim.child.kill('SIGTERM');
  t.equal(await sim.exit, 0);
  const logs = sim.err().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(logs.some((l) => l['event'] === 'apdu' && l['command'] === '0020000003******'), 'VERIFY logged masked');
  t.ok(logs.some((l) => l['event'] === 'card' && l['action'] === 'removed'));
  t.notMatch(sim.err(), /123456/, 'the PIN never reaches the log');
});
