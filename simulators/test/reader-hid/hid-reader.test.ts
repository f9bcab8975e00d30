import t from 'tap';
import { createHidReassembler, encodeHidReports } from '@onecard/protocol/ccid';
import { createHidReader } from '../../src/reader-hid/index.ts';
import { ccid, fakeCard, FAKE_ATR, hex } from '../reader/helpers.ts';

function collector(dev: { on(e: 'data', l: (b: Buffer) => void): unknown }) {
  const re = createHidReassembler();
  const messages: Uint8Array[] = [];
  const errors: string[] = [];
  let wake: () => void = () => undefined;
  dev.on('data', (b: Buffer) => {
    for (const ev of re.push(new Uint8Array(b))) {
      if (ev.type === 'message') messages.push(ev.message);
      else errors.push(ev.code);
    }
    wake();
  });
  return {
    messages,
    errors,
    async next(n: number): Promise<Uint8Array[]> {
      while (messages.length + errors.length < n) await new Promise<void>((r) => (wake = r));
      return messages.splice(0);
    },
  };
}

const send = async (dev: { write(v: Uint8Array): Promise<number> }, msg: Uint8Array) => {
  for (const r of encodeHidReports(msg)) await dev.write(r);
};

t.test('[HID link §2] the simulated reader answers CCID messages in 64-byte reports, without echo', async (t) => {
  const sim = createHidReader({ model: 'gempc-twin', slots: [fakeCard('HID!')] });
  const dev = await sim.open();
  const c = collector(dev);
  await send(dev, ccid(0x6b, 0, 0, 0, 0, 0, [0x02]));
  const [fw] = await c.next(1);
  t.equal(fw?.[0], 0x83, 'escape response, the echo is not carried on HID');
  t.match(new TextDecoder().decode(fw!.subarray(10)), /^GemTwin/);
  await send(dev, ccid(0x62, 0, 1, 0, 0, 0));
  const [atr] = await c.next(1);
  t.equal(hex(atr!.subarray(10)), hex(FAKE_ATR));
  // A 70-byte XfrBlock spans two reports.
  const data = Uint8Array.from([0x00, 0xee, 0, 0, 60, ...new Array(60).fill(0x5a)]);
  await send(dev, ccid(0x6f, 0, 2, 0, 0, 0, data));
  const [r] = await c.next(1);
  t.equal(r![0], 0x80);
  t.equal(r!.length, 10 + 2, 'T=0 case 4 → 61xx from the reader');
  await t.rejects(sim.open(), { code: 'SIM_ERR_READER_HID' }, 'one open at a time');
  await dev.close();
});

t.test('card movements become 50 bmSlotICCState messages; unplug raises the read error', async (t) => {
  const sim = createHidReader({ model: 'sec1210', slots: [fakeCard('A')] });
  const dev = await sim.open();
  const c = collector(dev);
  sim.remove(0);
  const [n] = await c.next(1);
  t.equal(hex(n!), '5002', 'asynchronous notice: slot 0 absent + changed');
  const errors: string[] = [];
  dev.on('error', (e: Error) => errors.push(e.message));
  sim.unplug();
  t.same(errors, ['could not read from HID device']);
  await t.rejects(dev.write(new Uint8Array(64)), { code: 'SIM_ERR_READER_HID' });
  await t.rejects(sim.open(), { code: 'SIM_ERR_READER_HID' });
  sim.replug();
  const dev2 = await sim.open();
  const c2 = collector(dev2);
  await send(dev2, ccid(0x65, 0, 0, 0, 0, 0));
  const [s] = await c2.next(1);
  t.equal(s![7], 0x02, 'the replugged reader kept the slot state (empty)');
});

t.test('faults on HID: lrc corrupts the answer report, drop and nak give no answer, unplug fault errors', async (t) => {
  const sim = createHidReader({ model: 'gemcore-sim-pro2', slots: [fakeCard('A')], faults: [{ kind: 'lrc', at: 1 }, { kind: 'nak', at: 2 }, { kind: 'unplug', at: 3 }] });
  const dev = await sim.open();
  const c = collector(dev);
  await send(dev, ccid(0x65, 0, 0, 0, 0, 0));
  await c.next(1);
  t.same(c.errors, ['PROTO_ERR_CCID_HID_PADDING'], 'corrupted report rejected by the host reassembler');
  const errors: string[] = [];
  dev.on('error', (e: Error) => errors.push(e.message));
  await send(dev, ccid(0x65, 0, 1, 0, 0, 0));
  await new Promise((r) => setTimeout(r, 30));
  t.equal(c.messages.length, 0, 'NAK: nothing on the HID link');
  await send(dev, ccid(0x65, 0, 2, 0, 0, 0));
  await new Promise((r) => setTimeout(r, 30));
  t.same(errors, ['could not read from HID device'], 'unplug');
  t.ok(sim.unplugged);
});
