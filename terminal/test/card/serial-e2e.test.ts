import t from 'tap';
import { once } from 'node:events';
import { openReaderManager, type ReaderManager, type ReaderStatusEvent, type CardInsertedEvent } from '../../src/card/index.ts';
import { card, readSsc, serialSim, tmpLink } from './helpers.ts';

async function waitStatus(m: ReaderManager, status: string): Promise<void> {
  if (m.status().every((r) => r.status === status)) return;
  for (;;) {
    const [e] = (await once(m, 'reader-status')) as [ReaderStatusEvent];
    if (e.status === status && m.status().every((r) => r.status === status)) return;
  }
}

for (const [file, version, number] of [['ssc-2.00.json', '2.00', 'X00000019'], ['ssc-3.00-long-name.json', '3.00', 'D2143569X']] as const) {
  for (const protocol of [0, 1] as const) {
    t.test(`serial GemPC Twin over a pty: ${version} card, T=${protocol}, SELECT SSSE and READ RECORD`, async (t) => {
      const path = tmpLink(t);
      serialSim(t, { model: 'gempc-twin', slots: [card(file, protocol)], path });
      const m = openReaderManager({ readers: [{ id: 'r1', link: 'serial', path }] });
      t.teardown(() => m.close());
      const inserted = once(m, 'card-inserted') as Promise<[CardInsertedEvent]>;
      await waitStatus(m, 'ok');
      const [ev] = await inserted;
      t.equal(ev.readerId, 'r1');
      t.equal(ev.atr[0], 0x3b, 'ATR reported with the insertion');
      const r = await m.withCard('r1', 0, async (ch) => {
        t.equal(ch.protocol, protocol, `protocol T=${protocol} from the ATR`);
        return readSsc(ch);
      });
      t.same(r, { select: 0x9000, ef05: 0x9000, cardNumber: `${number}/9000`, version: `${version}/9000` });
    });
  }
}

t.test('two-slot GemCore SIM Pro 2 (no echo): user card in slot 0, PSAM in slot 1', async (t) => {
  const path = tmpLink(t);
  serialSim(t, { model: 'gemcore-sim-pro2', slots: [card('ssc-2.00.json'), card('psam.json')], path });
  const m = openReaderManager({ readers: [{ id: 'r2', link: 'serial', path, model: 'gemcore-sim-pro2', userSlot: 0, psamSlot: 1 }] });
  t.teardown(() => m.close());
  await waitStatus(m, 'ok');
  const r = await m.withCard('r2', 0, readSsc);
  t.equal(r.cardNumber, 'X00000019/9000');
  const term = await m.withCard('r2', 1, (ch) => ch.transmit({ cla: 0x00, ins: 0xb0, p1: 0x96, p2: 0x00, le: 6 }));
  t.equal(term.sw, 0x9000, 'PSAM terminal number read from slot 1');
  t.equal(term.data.length, 6);
  t.same(m.status()[0]?.slots.map((s) => [s.role, s.present]), [['user', true], ['psam', true]]);
});

t.test('fast swap is seen as remove + insert; removal during a session is TERM_ERR_CARD_REMOVED', async (t) => {
  const path = tmpLink(t);
  const sim = serialSim(t, { model: 'gempc-twin', slots: [card('ssc-2.00.json')], path });
  const m = openReaderManager({ readers: [{ id: 'r1', link: 'serial', path }], pollIntervalMs: 50 });
  t.teardown(() => m.close());
  const seen: string[] = [];
  m.on('card-inserted', (e: CardInsertedEvent) => seen.push(`in:${e.slot}`));
  m.on('card-removed', () => seen.push('out'));
  await once(m, 'card-inserted');
  const next = once(m, 'card-inserted');
  sim.swap(0, card('ssc-3.00-long-name.json'));
  await next;
  t.same(seen, ['in:0', 'out', 'in:0'], 'swap between two polls → removed then inserted');
  t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'D2143569X/9000', 'the new card is read');
  await t.rejects(m.withCard('r1', 0, async (ch) => {
    await readSsc(ch);
    sim.remove(0);
    return readSsc(ch);
  }), { code: 'TERM_ERR_CARD_REMOVED' });
  await t.rejects(m.withCard('r1', 0, readSsc), { code: 'TERM_ERR_NO_CARD' }, 'empty slot');
  await t.rejects(m.withCard('nope', 0, readSsc), { code: 'TERM_ERR_READER_UNKNOWN' });
  let kept: import('../../src/card/channel.ts').CardChannel | undefined;
  sim.insert(0, card('ssc-2.00.json'));
  await m.withCard('r1', 0, async (ch) => { kept = ch; });
  await t.rejects(kept!.transmit({ cla: 0, ins: 0xa4, p1: 0, p2: 0 }), { code: 'TERM_ERR_SESSION_CLOSED' }, 'channel unusable after the session');
});

t.test('reconnect with back-off after the reader is unplugged', async (t) => {
  const path = tmpLink(t);
  const sim = serialSim(t, { model: 'gempc-twin', slots: [card('ssc-2.00.json')], path });
  const m = openReaderManager({ readers: [{ id: 'r1', link: 'serial', path }], pollIntervalMs: 50, backoff: { initialMs: 20, maxMs: 200 } });
  t.teardown(() => m.close());
  await once(m, 'card-inserted');
  const removed = once(m, 'card-removed');
  await sim.close();
  await waitStatus(m, 'absent');
  await removed;
  await t.rejects(m.withCard('r1', 0, readSsc), { code: 'TERM_ERR_READER_UNAVAILABLE' });
  serialSim(t, { model: 'gempc-twin', slots: [card('ssc-3.00-long-name.json')], path });
  await waitStatus(m, 'ok');
  t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'D2143569X/9000', 'read after re-open');
});
