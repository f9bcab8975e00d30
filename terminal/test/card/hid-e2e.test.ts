import t from 'tap';
import { once } from 'node:events';
import { openReaderManager, type CardInsertedEvent, type ReaderManager, type ReaderStatusEvent } from '../../src/card/index.ts';
import { card, hidSim, readSsc } from './helpers.ts';

async function waitStatus(m: ReaderManager, status: string): Promise<void> {
  while (!m.status().every((r) => r.status === status)) await once(m, 'reader-status') as [ReaderStatusEvent];
}

for (const [file, version, number] of [['ssc-2.00.json', '2.00', 'X00000019'], ['ssc-3.00-long-name.json', '3.00', 'D2143569X']] as const) {
  for (const protocol of [0, 1] as const) {
    t.test(`HID reader (simulated device): ${version} card, T=${protocol}`, async (t) => {
      const sim = hidSim({ slots: [card(file, protocol), card('psam.json')] });
      const m = openReaderManager({ readers: [{ id: 'h1', link: 'hid', path: sim.path, psamSlot: 1 }], hidOpener: () => sim.open() });
      t.teardown(() => m.close());
      await once(m, 'card-inserted');
      const r = await m.withCard('h1', 0, async (ch) => {
        t.equal(ch.protocol, protocol);
        return readSsc(ch);
      });
      t.same(r, { select: 0x9000, ef05: 0x9000, cardNumber: `${number}/9000`, version: `${version}/9000` });
      const psam = await m.withCard('h1', 1, (ch) => ch.transmit({ cla: 0, ins: 0xb0, p1: 0x96, p2: 0, le: 6 }));
      t.equal(psam.sw, 0x9000, 'PSAM in slot 1 over HID');
    });
  }
}

t.test('HID: fast swap = remove + insert (notices as 50 messages); unplug, then reconnect after replug', async (t) => {
  const sim = hidSim({ slots: [card('ssc-2.00.json')] });
  const m = openReaderManager({ readers: [{ id: 'h1', link: 'hid', path: sim.path }], hidOpener: () => sim.open(), pollIntervalMs: 40, backoff: { initialMs: 20, maxMs: 100 } });
  t.teardown(() => m.close());
  const seen: string[] = [];
  m.on('card-inserted', (e: CardInsertedEvent) => seen.push(`in:${e.slot}`));
  m.on('card-removed', () => seen.push('out'));
  await once(m, 'card-inserted');
  const next = once(m, 'card-inserted');
  sim.swap(0, card('ssc-3.00-long-name.json', 1));
  await next;
  t.same(seen, ['in:0', 'out', 'in:0']);
  t.equal((await m.withCard('h1', 0, readSsc)).cardNumber, 'D2143569X/9000');
  const gone = once(m, 'card-removed');
  sim.unplug();
  await gone;
  await waitStatus(m, 'absent');
  await t.rejects(m.withCard('h1', 0, readSsc), { code: 'TERM_ERR_READER_UNAVAILABLE' });
  sim.replug();
  await waitStatus(m, 'ok');
  t.equal((await m.withCard('h1', 0, readSsc)).cardNumber, 'D2143569X/9000', 'read after reconnect');
});
