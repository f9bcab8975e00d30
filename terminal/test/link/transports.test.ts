import t from 'tap';
import { encodeCcidMessage, encodeHidReports, encodeSerialFrame } from '@onecard/protocol/ccid';
import { openSerialReader, createHidReader } from '@onecard/simulators';
import { createMemoryLink } from '../../src/link/memory.ts';
import { createSerialTransport } from '../../src/link/serial.ts';
import { createHidTransport } from '../../src/link/hid.ts';
import { conformance } from './conformance.ts';

const getSlotStatus = encodeCcidMessage({ type: 'PC_to_RDR_GetSlotStatus', bSlot: 0, bSeq: 7 });

conformance(t, 'memory', async (t) => {
  const link = createMemoryLink('conf', { maxChunk: 3, seed: 42 });
  await link.device.open();
  // The device end echoes what it receives, reversed, once 4 bytes arrived.
  let buf: number[] = [];
  link.device.onData((c) => {
    buf.push(...c);
    if (buf.length >= 4) {
      void link.device.write(Uint8Array.from(buf.reverse()));
      buf = [];
    }
  });
  t.teardown(() => link.device.close());
  return {
    transport: link.host,
    second: () => link.host,
    request: Uint8Array.of(1, 2, 3, 4),
    answered: (r) => r.length === 4 && r.join() === '4,3,2,1',
    unplug: () => link.unplug(),
  };
});

// [CCID serial §8.2] a GemPC Twin answers a GetSlotStatus frame with its echo then a SlotStatus frame: 2 × 13 bytes.
conformance(t, 'serial (serialport on a real pty, simulated GemPC Twin)', async (t) => {
  const sim = openSerialReader({ model: 'gempc-twin', slots: [] });
  t.teardown(() => sim.close());
  return {
    transport: createSerialTransport({ path: sim.ptsName }),
    second: () => createSerialTransport({ path: sim.ptsName }),
    request: encodeSerialFrame(getSlotStatus),
    answered: (r) => r.length === 26 && r[15] === 0x81,
    unplug: () => sim.close(),
  };
});

// [HID link §2] one report out, one SlotStatus report back.
conformance(t, 'hid (simulated HID reader)', async () => {
  const sim = createHidReader({ model: 'gemcore-sim-pro2', slots: [] });
  return {
    transport: createHidTransport({ path: sim.path, opener: () => sim.open() }),
    second: () => createHidTransport({ path: sim.path, opener: () => sim.open() }),
    request: encodeHidReports(getSlotStatus)[0]!,
    answered: (r) => r.length === 64 && r[0] === 1 && r[4] === 0x81,
    unplug: () => sim.unplug(),
  };
});

t.test('memory link delivers a write in several chunks (like real serial reads)', async (t) => {
  const link = createMemoryLink('frag', { maxChunk: 2, seed: 3 });
  await link.host.open();
  await link.device.open();
  const chunks: number[] = [];
  const done = new Promise<void>((r) => link.device.onData((c) => {
    chunks.push(c.length);
    if (chunks.reduce((a, b) => a + b, 0) === 10) r();
  }));
  await link.host.write(new Uint8Array(10));
  await done;
  t.ok(chunks.length >= 5, `10 bytes in ${chunks.length} chunks`);
});

t.test('serial transport: opening a missing device is TERM_ERR_LINK_OPEN', async (t) => {
  await t.rejects(createSerialTransport({ path: '/nonexistent/ttyX' }).open(), { code: 'TERM_ERR_LINK_OPEN' });
  await t.rejects(createHidTransport({ path: 'x', opener: async () => { throw new Error('no such device'); } }).open(), { code: 'TERM_ERR_LINK_OPEN' });
});
