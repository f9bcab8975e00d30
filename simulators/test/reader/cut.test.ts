// Armed card cuts of the simulated reader (a card pulled away, or a contactless tap leaving the
// field, at an exact command) through the core and through the control API (stdin lines and HTTP).
import t from 'tap';
import { createReaderCore, type ReaderCore, type ReaderStep } from '../../src/reader/core.ts';
import { coreCut, runControlLine, startControlServer, type ControlTarget } from '../../src/reader/control.ts';
import { ccid, concatWrites, fakeCard, frame, fromHex, hex, split, type Item } from './helpers.ts';

const out = (s: ReaderStep): Item[] => split(concatWrites(s.writes));
const xfr = (seq: number, data: Uint8Array | number[], slot = 0) => frame(ccid(0x6f, slot, seq, 0, 0, 0, data));
const powerOn = (seq: number, slot = 0) => frame(ccid(0x62, slot, seq, 0, 0, 0));
function answer(core: ReaderCore, bytes: Uint8Array): Uint8Array {
  const a = out(core.receive(bytes)).flatMap((i) => (i.kind === 'ack' ? [i.msg] : []));
  const m = a[a.length - 1];
  if (m === undefined) throw new Error('no answer');
  return m;
}

t.test('cut during: the matching command runs on the card, no answer, the card is gone; one-shot', async (t) => {
  const card = fakeCard();
  const core = createReaderCore({ model: 'gempc-twin', slots: [card] });
  answer(core, powerOn(1));
  core.cut(0, 0xb0, 'during');
  t.same(core.cuts(), [{ slot: 0, ins: 0xb0, when: 'during' }]);
  const sel = answer(core, xfr(2, fromHex('00A4040000')));
  t.equal(hex(sel.slice(10)), '9000', 'another INS passes');
  const r = answer(core, xfr(3, fromHex('00B0000004')));
  t.same([r[7], r[8]], [0x42, 0xfe], 'no answer, card absent');
  t.equal(card.log.length, 2, 'the card executed the cut command');
  t.equal(core.status().slots[0]?.present, false);
  t.same(core.cuts(), [], 'disarmed once triggered');
  core.insert(0, card);
  answer(core, powerOn(4));
  t.equal(hex(answer(core, xfr(5, fromHex('00B0000004'))).slice(14)), '9000', 'next time the command answers');
});

t.test('cut before / after, other slot untouched, bad arguments refused', async (t) => {
  const a = fakeCard('AAAA');
  const b = fakeCard('PSAM');
  const core = createReaderCore({ model: 'sec1210', slots: [a, b] });
  answer(core, powerOn(1));
  answer(core, powerOn(2, 1));
  core.cut(0, 0xb0, 'before');
  t.equal(hex(answer(core, xfr(3, fromHex('00B0000004'), 1)).slice(14)), '9000', 'slot 1 not cut');
  const r = answer(core, xfr(4, fromHex('00B0000004')));
  t.same([r[7], r[8]], [0x42, 0xfe]);
  t.equal(a.log.length, 0, 'cut before: the card never saw it');
  core.insert(0, a);
  answer(core, powerOn(5));
  core.cut(0, 0xa4, 'after');
  const items = out(core.receive(xfr(6, fromHex('00A4040000'))));
  t.same(items.map((i) => i.kind), ['ack', 'notify'], 'answer, then the removal notice');
  t.equal(items[0]?.kind === 'ack' && hex(items[0].msg.slice(10)), '9000');
  t.equal(core.status().slots[0]?.present, false);
  t.throws(() => core.cut(0, 256, 'after'), { code: 'SIM_ERR_READER_CUT' });
  t.throws(() => core.cut(0, 0x54, 'later' as 'after'), { code: 'SIM_ERR_READER_CUT' });
  t.throws(() => core.cut(5, 0x54, 'after'), { code: 'SIM_ERR_READER_SLOT' });
});

t.test('control API: cut over stdin lines and HTTP', async (t) => {
  const card = fakeCard();
  const core = createReaderCore({ model: 'sec1210', slots: [card] });
  const target: ControlTarget = { insert: () => undefined, remove: () => undefined, swap: () => undefined, cut: coreCut(core), status: () => ({ cuts: core.cuts() }) };
  t.same(await runControlLine(target, 'cut 54 during'), { ok: true, status: { cuts: [{ slot: 0, ins: 0x54, when: 'during' }] } });
  t.match(await runControlLine(target, 'cut 5 during'), { ok: false, code: 'SIM_ERR_READER_CUT' }, 'INS must be two hex digits');
  t.match(await runControlLine(target, 'cut 54 soon'), { ok: false, code: 'SIM_ERR_READER_CUT' });
  t.match(await runControlLine(target, 'cut 54 after 1'), { ok: true });
  t.same(core.cuts().map((c) => c.slot).sort(), [0, 1]);
  const srv = await startControlServer(target, 0);
  t.teardown(() => srv.close());
  const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await fetch(`http://127.0.0.1:${srv.port}/cut`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const ok = await post({ ins: 0xb0, when: 'before', slot: 0 });
  t.equal(ok.status, 200);
  t.same(core.cuts().find((c) => c.slot === 0), { slot: 0, ins: 0xb0, when: 'before' }, 'replaces the earlier cut of the slot');
  const bad = await post({ ins: 'zz', when: 'before' });
  t.equal(bad.status, 400);
  t.equal(bad.json['code'], 'SIM_ERR_READER_CUT');
  const { cut: _unused, ...withoutCut } = target;
  const none = await runControlLine(withoutCut, 'cut 54 during');
  t.match(none, { ok: false }, 'a target without cut refuses');
});
