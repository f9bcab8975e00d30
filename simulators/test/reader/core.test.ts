import t from 'tap';
import { createReaderCore, type ReaderCore, type ReaderStep } from '../../src/reader/core.ts';
import { parseFaults } from '../../src/reader/faults.ts';
import { toT1Atr, atrOffersT1 } from '../../src/reader/card-port.ts';
import { t1Block } from '../../src/reader/t1-card.ts';
import { NAK_FRAME } from '../../src/reader/serial-frames.ts';
import { ccid, concatWrites, fakeCard, FAKE_ATR, frame, fromHex, hex, split, type Item } from './helpers.ts';

const out = (s: ReaderStep): Item[] => split(concatWrites(s.writes));
const acks = (s: ReaderStep): Uint8Array[] => out(s).flatMap((i) => (i.kind === 'ack' ? [i.msg] : []));
const escape = (seq: number, data: number[], slot = 0) => frame(ccid(0x6b, slot, seq, 0, 0, 0, data));
const xfr = (seq: number, data: Uint8Array | number[], slot = 0) => frame(ccid(0x6f, slot, seq, 0, 0, 0, data));
const powerOn = (seq: number, slot = 0) => frame(ccid(0x62, slot, seq, 0, 0, 0));
const slotStatus = (seq: number, slot = 0) => frame(ccid(0x65, slot, seq, 0, 0, 0));

function last(core: ReaderCore, bytes: Uint8Array): Uint8Array {
  const a = acks(core.receive(bytes));
  const m = a[a.length - 1];
  if (m === undefined) throw new Error('no answer');
  return m;
}
const data = (m: Uint8Array): Uint8Array => m.slice(10);

t.test('[reader-link §8.4] GemPC Twin open-time probes: echo, firmware, notification mode, 6A refused', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  const f1 = escape(1, [0x02]);
  const items = out(core.receive(f1));
  t.equal(items.length, 2, 'echo + answer');
  t.equal(items[0]?.kind === 'ack' && hex(items[0].raw), hex(f1), 'first frame is the echo, byte for byte');
  const ans = items[1];
  t.ok(ans?.kind === 'ack' && ans.lrcOk, 'answer LRC ok');
  if (ans?.kind !== 'ack') throw new Error('x');
  t.equal(ans.msg[0], 0x83, 'RDR_to_PC_Escape');
  t.equal(ans.msg[6], 1, 'bSeq echoed');
  t.match(new TextDecoder().decode(data(ans.msg)), /GemTwin/);
  t.equal(core.status().syncNotifications, false);
  const m2 = last(core, escape(2, [0x01, 0x01, 0x01]));
  t.equal(m2[7], 0x01, 'OK, card present inactive');
  t.equal(core.status().syncNotifications, true, '01 01 01 switches to synchronous notifications');
  const m3 = last(core, escape(3, [0x6a]));
  t.equal(m3[7]! & 0xc0, 0x40, 'GET_FIRMWARE_FEATURES fails');
  t.equal(m3[8], 0x00, 'bError 00 command not supported');
  const m4 = last(core, slotStatus(4));
  t.same([m4[0], m4[7], m4[8]], [0x81, 0x01, 0x00], 'SlotStatus: present, inactive');
});

t.test('[reader-link §8.5] SEC1210 and GemCore SIM Pro 2: no echo, two slots, own firmware escape', async (t) => {
  const sec = createReaderCore({ model: 'sec1210', slots: [fakeCard(), fakeCard('PSAM')] });
  const items = out(sec.receive(escape(1, [0x06])));
  t.equal(items.length, 1, 'no echo');
  t.ok(items[0]?.kind === 'ack' && new TextDecoder().decode(items[0].msg.slice(10)).startsWith('SEC1210'));
  const refused = last(sec, escape(2, [0x02]));
  t.equal(refused[7]! & 0x40, 0x40, 'firmware escape 02 is not the SEC1210 one');
  const atr1 = last(sec, powerOn(3, 1));
  t.equal(atr1[5], 1, 'slot 1 answers');
  t.equal(hex(data(atr1)), hex(FAKE_ATR));
  const r = last(sec, xfr(4, [0x00, 0xb0, 0x00, 0x00, 0x04], 1));
  t.equal(new TextDecoder().decode(data(r).slice(0, 4)), 'PSAM', 'slot 1 is the PSAM');
  const bad = last(sec, slotStatus(5, 2));
  t.same([bad[7]! & 0x40, bad[8]], [0x40, 0x05], 'slot 2 does not exist: bError 05 (bSlot)');
  const gc = createReaderCore({ model: 'gemcore-sim-pro2', slots: [fakeCard()] });
  t.equal(out(gc.receive(slotStatus(1))).length, 1, 'GemCore SIM Pro 2: no echo');
  t.equal(last(gc, escape(2, [0x01, 0x10, 0x20]))[7]! & 0x40, 0, 'speed switch escape accepted');
  t.equal(last(gc, slotStatus(3, 1))[7], 0x02, 'empty PSAM slot reads absent');
});

t.test('[7816-3 §10.3.3] T=0 TPDU level: case 2, 6Cxx, case 4 → 61xx then GET RESPONSE', async (t) => {
  const card = fakeCard('JOHN');
  const core = createReaderCore({ model: 'gemcore-sim-pro2', slots: [card] });
  t.equal(hex(data(last(core, powerOn(1)))), hex(FAKE_ATR), 'ATR in the DataBlock');
  t.equal(last(core, slotStatus(2))[7], 0x00, 'powered: active');
  const sel = last(core, xfr(3, fromHex('00A4040002 3F00')));
  t.equal(hex(data(sel)), '9000', 'case 3');
  t.equal(hex(data(last(core, xfr(4, fromHex('00B0000004'))))), hex(new TextEncoder().encode('JOHN')) + '9000', 'case 2, right Le');
  t.equal(hex(data(last(core, xfr(5, fromHex('00B0000000'))))), '6C04', 'case 2, Le 00 (256) → 6C04');
  t.equal(hex(data(last(core, xfr(6, fromHex('0088000002 AABB'))))), '6108', 'case 4 without Le → 6108');
  t.equal(hex(data(last(core, xfr(7, fromHex('00C0000010'))))), '6C08', 'GET RESPONSE with a too-long Le → 6C08');
  t.equal(hex(data(last(core, xfr(8, fromHex('00C0000005'))))), '01020304056103', 'partial GET RESPONSE → 6103');
  t.equal(hex(data(last(core, xfr(9, fromHex('00C0000003'))))), '0607089000', 'rest with the card SW');
  t.equal(card.log.filter((a) => a[1] === 0xc0).length, 0, 'GET RESPONSE served by the reader');
  t.equal(hex(data(last(core, xfr(10, fromHex('0088000002 AABB 08'))))), '6108', 'case 4 with Le → 6108 too');
  t.equal(hex(data(last(core, xfr(11, fromHex('0066000000'))))), '6D00', '[7816-3 §10.3.2] INS 6x refused');
  const short = last(core, xfr(12, [0x00, 0xa4]));
  t.same([short[7]! & 0x40, short[8]], [0x40, 0x01], 'TPDU shorter than 5 bytes fails the XfrBlock');
  const off = last(core, frame(ccid(0x63, 0, 13, 0, 0, 0)));
  t.equal(off[7], 0x01, 'power off: present inactive');
  const dead = last(core, xfr(14, fromHex('00B0000004')));
  t.same([dead[7]! & 0x40, dead[8]], [0x40, 0xfe], 'XfrBlock on an unpowered card: ICC mute');
});

t.test('[CCID-SPEC 6.1.7] SetParameters / GetParameters / ResetParameters', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  last(core, powerOn(1));
  const get = last(core, frame(ccid(0x6c, 0, 2, 0, 0, 0)));
  t.same([get[0], get[9], hex(data(get))], [0x82, 0, '1100000A00'], 'T=0 defaults');
  const set = last(core, frame(ccid(0x61, 0, 3, 1, 0, 0, fromHex('11100045 00FE00'))));
  t.same([set[7], set[9], hex(data(set))], [0x00, 1, '1110004500FE00'], 'T=1 parameters echoed');
  t.equal(core.status().slots[0]?.protocol, 1);
  const badLen = last(core, frame(ccid(0x61, 0, 4, 0, 0, 0, [0x11, 0x00])));
  t.equal(badLen[7]! & 0x40, 0x40, 'T=0 structure must be 5 bytes');
  const reset = last(core, frame(ccid(0x6d, 0, 5, 0, 0, 0)));
  t.same([reset[9], hex(data(reset))], [0, '1100000A00']);
});

t.test('[7816-3 §9.3] PPS right after the ATR is echoed', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  last(core, powerOn(1));
  t.equal(hex(data(last(core, xfr(2, fromHex('FF1196 78'))))), 'FF119678');
  // the same bytes later are a TPDU with CLA FF, handed to the card
  t.equal(hex(data(last(core, xfr(3, fromHex('FF11960000'))))), '6D00');
});

t.test('[reader-link §8.2] slot-change notice: immediate in asynchronous mode, inline after the echo in synchronous mode', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin' });
  const ins = core.insert(0, fakeCard());
  t.same(out(ins), [{ kind: 'notify', state: 0x03 }], 'async: 50 03 at once');
  t.same(out(core.remove(0)), [{ kind: 'notify', state: 0x02 }], 'async: 50 02');
  last(core, escape(1, [0x01, 0x01, 0x01]));
  t.same(core.insert(0, fakeCard()).writes, [], 'sync: nothing on the line yet');
  const f = slotStatus(2);
  const items = out(core.receive(f));
  t.same(items.map((i) => i.kind), ['ack', 'notify', 'ack'], 'echo, 50 03, answer');
  t.equal(items[1]?.kind === 'notify' && items[1].state, 0x03);
  const swap = core.swap(0, fakeCard('B'));
  t.same(swap.events.map((e) => e.type), ['card', 'card'], 'swap = removed + inserted');
  const sec = createReaderCore({ model: 'sec1210', slots: [fakeCard()] });
  t.same(out(sec.insert(1, fakeCard())), [{ kind: 'notify', state: 0x01 | 0x04 | 0x08 }], 'two slots: 2 bits per slot');
  t.throws(() => sec.insert(2, fakeCard()), { code: 'SIM_ERR_READER_SLOT' });
});

t.test('[reader-link §8.2] host frame errors: bad LRC and oversize are answered with NAK; garbage skipped; fragments joined', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  const f = slotStatus(1);
  f[f.length - 1] = f[f.length - 1]! ^ 1;
  const s = core.receive(f);
  t.same(out(s), [{ kind: 'nak' }]);
  t.ok(s.events.some((e) => e.type === 'link' && e.problem === 'bad-lrc'));
  const big = Uint8Array.from([0x03, 0x06, 0x6f, 0x00, 0x10, 0x00, 0x00]);
  t.same(out(core.receive(big)), [{ kind: 'nak' }], 'dwLength 4096 above the 548-byte buffer');
  const g = core.receive(Uint8Array.of(0x00, 0x41));
  t.equal(g.events.filter((e) => e.type === 'link').length, 2, 'garbage bytes reported');
  const good = slotStatus(2);
  const parts: Item[] = [];
  for (const b of good) parts.push(...out(core.receive(Uint8Array.of(b))));
  t.equal(parts.length, 2, 'byte-by-byte delivery gives echo + answer');
});

t.test('fault plan: parser', async (t) => {
  t.same(parseFaults('lrc@3,nak@5,drop@7,delay@2:200,timeext@4,wtx@1,remove-before@6,remove-during@6,unplug@9').length, 9);
  t.same(parseFaults('delay@2:200')[0], { kind: 'delay', at: 2, ms: 200 });
  t.same(parseFaults(''), []);
  for (const bad of ['lrc', 'foo@1', 'lrc@0', 'delay@2', 'lrc@2:5', 'lrc@x']) t.throws(() => parseFaults(bad), { code: 'SIM_ERR_READER_FAULT_SPEC' }, bad);
});

t.test('[reader-link §8.2] link faults: nak, lrc, drop, delay, timeext, timereq, unplug', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()], faults: parseFaults('nak@1,lrc@3,drop@4,delay@5:250,timeext@6,timereq@7,unplug@8') });
  const f1 = slotStatus(1);
  t.same(out(core.receive(f1)), [{ kind: 'nak' }], 'nak@1: NAK, no echo');
  const replay = out(core.receive(f1));
  t.same(replay.map((i) => i.kind), ['ack', 'ack'], 'the replayed command (command #2) is answered');
  const l = out(core.receive(slotStatus(2)));
  t.same(l.map((i) => i.kind === 'ack' && i.lrcOk), [true, false], 'lrc@3: echo fine, answer LRC wrong');
  const d = out(core.receive(slotStatus(3)));
  t.equal(d.length, 1, 'drop@4: echo but no answer');
  const dl = core.receive(slotStatus(4));
  t.same(dl.writes.map((w) => w.delayMs), [0, 250], 'delay@5:250 on the answer only');
  const te = out(core.receive(slotStatus(5)));
  t.equal(te.length, 3);
  t.ok(te[1]?.kind === 'ack' && te[1].msg[7] === 0x81 && te[1].msg[8] === 1, 'timeext@6: bmCommandStatus 80, bError 1 first');
  t.ok(te[2]?.kind === 'ack' && te[2].msg[7] === 0x01, 'then the real answer');
  const tr = out(core.receive(slotStatus(6)));
  t.same(tr.map((i) => i.kind), ['ack', 'time', 'ack'], 'timereq@7: a time-request byte before the answer');
  const u = core.receive(slotStatus(7));
  t.equal(u.unplug, true, 'unplug@8');
  t.equal(core.receive(slotStatus(8)).writes.length, 0, 'nothing after the unplug');
  t.same(NAK_FRAME, Uint8Array.of(3, 0x15, 0x16));
});

t.test('card faults: remove before / during / after an APDU', async (t) => {
  const card = fakeCard();
  const core = createReaderCore({ model: 'gempc-twin', slots: [card], faults: parseFaults('remove-before@1') });
  last(core, escape(1, [0x01, 0x01, 0x01]));
  last(core, powerOn(2));
  const r = last(core, xfr(3, fromHex('00A4040000')));
  t.same([r[7], r[8]], [0x42, 0xfe], 'absent + ICC mute');
  t.equal(card.log.length, 0, 'the card never saw it');
  const n = out(core.receive(slotStatus(4)));
  t.same(n.map((i) => i.kind), ['ack', 'notify', 'ack'], 'notice comes with the next command (sync mode)');
  t.equal(n[2]?.kind === 'ack' && n[2].msg[7], 0x02, 'absent');

  const card2 = fakeCard();
  const c2 = createReaderCore({ model: 'gempc-twin', slots: [card2], faults: parseFaults('remove-during@2,remove-after@1') });
  last(c2, powerOn(1));
  const s1 = c2.receive(xfr(2, fromHex('00A4040000')));
  const items = out(s1);
  t.same(items.map((i) => i.kind), ['ack', 'ack', 'notify'], 'remove-after: answer, then 50 02 (async mode)');
  t.equal(items[1]?.kind === 'ack' && hex(data(items[1].msg)), '9000');
  c2.insert(0, card2);
  last(c2, powerOn(3));
  const s2 = last(c2, xfr(4, fromHex('00B0000004')));
  t.same([s2[7], s2[8]], [0x42, 0xfe], 'remove-during: no answer from the card');
  t.equal(card2.log.length, 2, 'but the card processed the command');
});

t.test('a card that throws (mute/torn) fails the XfrBlock with ICC mute, card stays present', async (t) => {
  const core = createReaderCore({ model: 'gempc-twin', slots: [{ reset: () => FAKE_ATR, transmit: () => { throw new Error('torn'); } }] });
  last(core, powerOn(1));
  const r = last(core, xfr(2, fromHex('00A4040000')));
  t.same([r[7], r[8]], [0x41, 0xfe]);
});

function t1Reader(faults = '') {
  const card = fakeCard();
  const t1 = { reset: () => toT1Atr(card.reset()), transmit: (a: Uint8Array) => card.transmit(a) };
  const core = createReaderCore({ model: 'gempc-twin', slots: [t1], faults: parseFaults(faults) });
  return { core, card };
}

t.test('[7816-3 §11] T=1 through the reader: ATR, IFS, chained command and response, R-block retransmission', async (t) => {
  t.equal(hex(toT1Atr(FAKE_ATR)), '3B8301414243' + ((0x83 ^ 0x01 ^ 0x41 ^ 0x42 ^ 0x43).toString(16).toUpperCase()));
  t.ok(atrOffersT1(toT1Atr(FAKE_ATR)));
  t.notOk(atrOffersT1(FAKE_ATR));
  const { core } = t1Reader();
  const atr = data(last(core, powerOn(1)));
  t.equal(core.status().slots[0]?.protocol, 1, 'default protocol from TD1');
  t.ok(atrOffersT1(atr));
  t.equal(hex(data(last(core, xfr(2, t1Block(0, 0xc1, Uint8Array.of(0xfe)))))), hex(t1Block(0, 0xe1, Uint8Array.of(0xfe))), 'S(IFS resp, FE)');
  const sel = data(last(core, xfr(3, t1Block(0, 0x00, fromHex('00A4040000')))));
  t.equal(hex(sel), hex(t1Block(0, 0x00, fromHex('9000'))), 'I(0) → I(0) 9000');
  // chained command: 3 + 3 bytes of a case 3 EE command carrying 1 data byte
  const ack = data(last(core, xfr(4, t1Block(0, 0x60, fromHex('00EE00')))));
  t.equal(hex(ack), hex(t1Block(0, 0x80)), 'R(N(R)=0) acknowledges I(1, M) ');
  const resp = data(last(core, xfr(5, t1Block(0, 0x00, fromHex('000155')))));
  t.equal(hex(resp), hex(t1Block(0, 0x40, fromHex('559000'))), 'I(1) with the response');
  const bad = t1Block(0, 0x40, fromHex('00A4040000'));
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
  t.equal(hex(data(last(core, xfr(6, bad)))), hex(t1Block(0, 0x91)), 'bad EDC → R(N(R)=1, EDC error)');
  t.equal(hex(data(last(core, xfr(7, t1Block(0, 0x90))))), hex(t1Block(0, 0x91)), '[7816-3 rule 7.2] R-block from host → retransmit our last block (the R-block)');
  t.equal(hex(data(last(core, xfr(8, t1Block(0, 0xc0))))), hex(t1Block(0, 0xe0)), 'RESYNCH');
  // long response chained with a small IFSD
  last(core, xfr(9, t1Block(0, 0xc1, Uint8Array.of(0x04))));
  const r1 = data(last(core, xfr(10, t1Block(0, 0x00, fromHex('00EE000006 010203040506')))));
  t.equal(hex(r1), hex(t1Block(0, 0x20, fromHex('01020304'))), 'first chunk, M set');
  const r2 = data(last(core, xfr(11, t1Block(0, 0x90))));
  t.equal(hex(r2), hex(t1Block(0, 0x40, fromHex('05069000'))), 'second chunk after R(1)');
});

t.test('[7816-3 §11.6.2.3] wtx fault: S(WTX req) before the answer (T=1); time-request byte (T=0)', async (t) => {
  const { core } = t1Reader('wtx@1');
  last(core, powerOn(1));
  const w = data(last(core, xfr(2, t1Block(0, 0x00, fromHex('00A4040000')))));
  t.equal(hex(w), hex(t1Block(0, 0xc3, Uint8Array.of(1))));
  const a = data(last(core, xfr(3, t1Block(0, 0xe3, Uint8Array.of(1)))));
  t.equal(hex(a), hex(t1Block(0, 0x00, fromHex('9000'))));
  const c0 = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()], faults: parseFaults('wtx@1') });
  last(c0, powerOn(1));
  t.same(out(c0.receive(xfr(2, fromHex('00A4040000')))).map((i) => i.kind), ['ack', 'time', 'ack']);
});

t.test('bounded random bytes: the core never throws and always stays parseable', async (t) => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
  const core = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  let writes = 0;
  for (let i = 0; i < 20000; i++) {
    const n = 1 + (rnd() % 24);
    const chunk = new Uint8Array(n);
    for (let j = 0; j < n; j++) chunk[j] = rnd() % 4 === 0 ? 0x03 : rnd() % 3 === 0 ? 0x06 : rnd();
    const s = core.receive(chunk);
    writes += s.writes.length;
  }
  t.ok(writes >= 0);
  // after garbage, a clean frame still gets through once any partial frame is flushed
  const fresh = createReaderCore({ model: 'gempc-twin', slots: [fakeCard()] });
  fresh.receive(Uint8Array.of(0x41, 0x42));
  t.equal(out(fresh.receive(slotStatus(1))).length, 2);
  t.throws(() => createReaderCore({ model: 'nope' as 'gempc-twin' }), { code: 'SIM_ERR_READER_MODEL' });
});
