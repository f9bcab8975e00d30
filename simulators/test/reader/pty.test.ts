import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerialPort } from 'serialport';
import { openSerialReader } from '../../src/reader/pty-reader.ts';
import { ccid, fakeCard, FAKE_ATR, frame, hex, split, type Item } from './helpers.ts';

/** Collects bytes from the port until `count` complete items arrived. */
function reader(port: SerialPort) {
  let buf = new Uint8Array(0);
  const waiters: Array<() => void> = [];
  port.on('data', (d: Buffer) => {
    buf = Uint8Array.from([...buf, ...d]);
    waiters.splice(0).forEach((w) => w());
  });
  return async (count: number): Promise<Item[]> => {
    for (;;) {
      try {
        const items = split(buf);
        if (items.length >= count) {
          buf = new Uint8Array(0);
          return items;
        }
      } catch {
        /* partial frame: wait for more */
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

t.test('end to end over a real pty: serialport at 115200 8N2 exchanges frames with the simulated GemPC Twin', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-pty-'));
  const link = path.join(dir, 'ttyGemPC');
  const events: string[] = [];
  const sim = openSerialReader({ model: 'gempc-twin', slots: [fakeCard('PTY!')], path: link, onEvent: (e) => events.push(e.type) });
  t.teardown(async () => {
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.equal(fs.readlinkSync(link), sim.ptsName, 'symlink to the slave side');
  const port = new SerialPort({ path: link, baudRate: 115200, stopBits: 2, dataBits: 8, parity: 'none', autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  const read = reader(port);
  const send = (b: Uint8Array) => new Promise<void>((res, rej) => port.write(Buffer.from(b), (e) => (e ? rej(e) : port.drain(() => res()))));

  const fw = frame(ccid(0x6b, 0, 0, 0, 0, 0, [0x02]));
  await send(fw);
  const a = await read(2);
  t.ok(a[0]?.kind === 'ack' && hex(a[0].raw) === hex(fw), 'echo of the host frame, byte for byte');
  t.ok(a[1]?.kind === 'ack' && new TextDecoder().decode(a[1].msg.slice(10)).startsWith('GemTwin'), 'firmware string');

  await send(frame(ccid(0x6b, 0, 1, 0, 0, 0, [0x01, 0x01, 0x01])));
  await read(2);
  await send(frame(ccid(0x62, 0, 2, 0, 0, 0)));
  const p = await read(2);
  t.ok(p[1]?.kind === 'ack' && hex(p[1].msg.slice(10)) === hex(FAKE_ATR), 'ATR');
  await send(frame(ccid(0x6f, 0, 3, 0, 0, 0, [0x00, 0xb0, 0x00, 0x00, 0x04])));
  const r = await read(2);
  t.ok(r[1]?.kind === 'ack' && hex(r[1].msg.slice(10)) === hex(Uint8Array.from([...new TextEncoder().encode('PTY!'), 0x90, 0x00])), 'READ BINARY through the card');

  sim.remove(0);
  await send(frame(ccid(0x65, 0, 4, 0, 0, 0)));
  const s = await read(3);
  t.same(s.map((i) => i.kind), ['ack', 'notify', 'ack'], 'synchronous 50 02 between echo and answer');
  t.ok(s[2]?.kind === 'ack' && s[2].msg[7] === 0x02, 'slot absent');
  t.ok(events.includes('apdu') && events.includes('card'));

  await new Promise<void>((res) => port.close(() => res()));
  // a second open by another client works (a slave descriptor is kept open between opens)
  const port2 = new SerialPort({ path: link, baudRate: 115200, stopBits: 2, autoOpen: false });
  await new Promise<void>((res, rej) => port2.open((e) => (e ? rej(e) : res())));
  const read2 = reader(port2);
  await new Promise<void>((res) => port2.write(Buffer.from(frame(ccid(0x65, 0, 5, 0, 0, 0))), () => res()));
  t.equal((await read2(2)).length, 2, 'reopen works');
  await new Promise<void>((res) => port2.close(() => res()));
  await sim.close();
  t.notOk(fs.existsSync(link), 'unplug removes the link');
  t.equal(sim.status().model, 'gempc-twin');
});

t.test('unplug fault closes the pty', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-pty-'));
  const link = path.join(dir, 'tty');
  const sim = openSerialReader({ model: 'sec1210', slots: [fakeCard()], path: link, faults: [{ kind: 'unplug', at: 1 }] });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const port = new SerialPort({ path: link, baudRate: 115200, stopBits: 2, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  port.on('error', () => undefined);
  port.write(Buffer.from(frame(ccid(0x65, 0, 0, 0, 0, 0))));
  await sim.closed;
  t.notOk(fs.existsSync(link), 'link removed');
  await new Promise<void>((res) => port.close(() => res()));
});
