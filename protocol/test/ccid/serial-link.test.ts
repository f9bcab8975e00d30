import t from 'tap';
import { fromHex, toHex, concat } from '../../src/bytes.ts';
import { encodeCcidMessage, decodeCcidResponse } from '../../src/ccid/messages.ts';
import {
  createSerialDecoder, encodeSerialFrame, encodeSlotChangeNotice, encodeTimeRequest, serialLrc,
  SERIAL_NAK_FRAME, SERIAL_MAX_MESSAGE_LENGTH, SERIAL_BUFFER_SIZE,
} from '../../src/ccid/serial-link.ts';
import type { SerialEvent, SerialDecoderOptions } from '../../src/ccid/serial-link.ts';
import { openProbeCommands, GEMPC_DESCRIPTORS } from '../../src/ccid/gempc-twin.ts';
import { mulberry32 as rng } from '../support/prng.ts';


/** Events as comparable plain data (hex for bytes). */
function show(events: readonly SerialEvent[]): unknown[] {
  return events.map((e) => JSON.parse(JSON.stringify(e, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v))) as unknown);
}

/** The bytes each event stands for, so events + buffered bytes must give back the input. */
function bytesOf(e: SerialEvent): Uint8Array {
  switch (e.type) {
    case 'frame': case 'echo': return e.raw;
    case 'nak': return SERIAL_NAK_FRAME;
    case 'slot-change': return Uint8Array.of(0x50, e.bits);
    case 'time-request': return Uint8Array.of(e.byte);
    case 'garbage': return e.bytes;
  }
}

const GET_SLOT_STATUS = '65 00000000 00 00 00 00 00';
const SLOT_STATUS_OK = '81 00000000 00 00 00 00 00';

t.test('[CCID serial §8.2] frame vectors', async (t) => {
  // LRC = XOR of SYNC, CTRL and the message: 03^06^65 = 60.
  t.equal(toHex(encodeSerialFrame(fromHex(GET_SLOT_STATUS))), '030665000000000000000000' + '60');
  // Firmware probe Escape 02: 03^06^6B^01^02 = 6D.
  const [probe] = openProbeCommands('GemPCTwin');
  t.equal(toHex(encodeSerialFrame(encodeCcidMessage(probe!))), '03066B01000000000000000002' + '6D');
  t.equal(toHex(SERIAL_NAK_FRAME), '031516');
  t.equal(serialLrc(fromHex('0315')), 0x16);
  t.equal(toHex(encodeSlotChangeNotice('present')), '5003');
  t.equal(toHex(encodeSlotChangeNotice('absent')), '5002');
  t.equal(toHex(encodeTimeRequest()), '80');
  t.equal(toHex(encodeTimeRequest(0xff)), 'FF');
});

t.test('[CCID serial §8.2] encoder limits', async (t) => {
  t.equal(SERIAL_BUFFER_SIZE, 548);
  t.equal(SERIAL_MAX_MESSAGE_LENGTH, 545);
  const max = encodeCcidMessage({ type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 0, bBWI: 0, wLevelParameter: 0, abData: new Uint8Array(535) });
  t.equal(encodeSerialFrame(max).length, 548);
  const over = encodeCcidMessage({ type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 0, bBWI: 0, wLevelParameter: 0, abData: new Uint8Array(536) });
  t.throws(() => encodeSerialFrame(over), { code: 'PROTO_ERR_CCID_SERIAL_TOO_LONG' });
  t.throws(() => encodeSerialFrame(fromHex('6500')), { code: 'PROTO_ERR_CCID_TRUNCATED' });
  t.throws(() => encodeTimeRequest(0x7f), { code: 'PROTO_ERR_CCID_SERIAL_BYTE' });
  t.throws(() => encodeSlotChangeNotice(256), { code: 'PROTO_ERR_CCID_SERIAL_BYTE' });
});

t.test('[CCID serial §8.3] host side with echo: echo, inline notice, time request, answer', async (t) => {
  const d = createSerialDecoder({ side: 'host', echo: GEMPC_DESCRIPTORS.GemPCTwin.echo });
  const cmd = encodeSerialFrame(fromHex(GET_SLOT_STATUS));
  const rsp = encodeSerialFrame(fromHex(SLOT_STATUS_OK));
  d.expectEcho();
  t.ok(d.echoPending);
  const ev = d.push(concat(cmd, encodeSlotChangeNotice('present'), encodeTimeRequest(0x80), rsp));
  t.same(show(ev), [
    { type: 'echo', message: toHex(fromHex(GET_SLOT_STATUS)), raw: toHex(cmd), lrcOk: true },
    { type: 'slot-change', bits: 3, present: true },
    { type: 'time-request', byte: 0x80 },
    { type: 'frame', message: toHex(fromHex(SLOT_STATUS_OK)), raw: toHex(rsp), lrcOk: true },
  ]);
  t.notOk(d.echoPending);
  t.equal(d.buffered, 0);
  const frame = ev[3];
  t.same(frame?.type === 'frame' && decodeCcidResponse(frame.message).bStatus, { iccStatus: 'present-active', commandStatus: 'ok' });
});

t.test('[CCID serial §8.3] echo only for the first frame of each read; none when echo is off', async (t) => {
  const rsp = encodeSerialFrame(fromHex(SLOT_STATUS_OK));
  const on = createSerialDecoder({ side: 'host', echo: true });
  t.same(on.push(rsp).map((e) => e.type), ['frame'], 'not armed: a frame');
  on.expectEcho();
  t.same(on.push(concat(rsp, rsp)).map((e) => e.type), ['echo', 'frame']);
  const off = createSerialDecoder({ side: 'host', echo: GEMPC_DESCRIPTORS.GemCoreSIMPro2.echo });
  off.expectEcho();
  t.notOk(off.echoPending);
  t.same(off.push(rsp).map((e) => e.type), ['frame']);
});

t.test('[CCID serial §8.3] NAK ends the read and disarms the echo', async (t) => {
  const d = createSerialDecoder({ side: 'host', echo: true });
  d.expectEcho();
  t.same(show(d.push(SERIAL_NAK_FRAME)), [{ type: 'nak' }]);
  t.notOk(d.echoPending);
  t.same(d.push(fromHex('031517')).map((e) => e.type === 'garbage' && [e.code, toHex(e.bytes)]), [
    ['PROTO_ERR_CCID_SERIAL_NAK_LRC', '0315'], ['PROTO_ERR_CCID_SERIAL_LEAD', '17'],
  ]);
});

t.test('[CCID serial §8.3] need more bytes is silence; split anywhere', async (t) => {
  const d = createSerialDecoder({ side: 'host' });
  const rsp = encodeSerialFrame(fromHex('80 02000000 00 01 00 00 00 9000'));
  for (let i = 0; i < rsp.length - 1; i++) t.same(d.push(rsp.subarray(i, i + 1)), [], `byte ${i}`);
  t.equal(d.buffered, rsp.length - 1);
  t.same(d.push(rsp.subarray(rsp.length - 1)).map((e) => e.type), ['frame']);
  t.same(d.push(fromHex('50')), []);
  t.same(show(d.push(fromHex('02'))), [{ type: 'slot-change', bits: 2, present: false }]);
  t.same(show(d.push(fromHex('5007'))), [{ type: 'slot-change', bits: 7, present: null }]);
  t.same(d.push(fromHex('03')), []);
  d.reset();
  t.equal(d.buffered, 0);
});

t.test('[CCID serial §8.3] garbage and resynchronisation', async (t) => {
  const rsp = encodeSerialFrame(fromHex(SLOT_STATUS_OK));
  const d = createSerialDecoder({ side: 'host' });
  const ev = d.push(concat(fromHex('07 0307'), rsp));
  t.same(ev.map((e) => (e.type === 'garbage' ? [e.code, e.field, toHex(e.bytes)] : e.type)), [
    ['PROTO_ERR_CCID_SERIAL_LEAD', 'sync', '07'],
    ['PROTO_ERR_CCID_SERIAL_CTRL', 'ctrl', '03'],
    ['PROTO_ERR_CCID_SERIAL_LEAD', 'sync', '07'],
    'frame',
  ]);
  // [CCID serial §8.3] frame size above the buffer.
  const big = createSerialDecoder({ side: 'host' });
  const e2 = big.push(fromHex('0306 80 24020000'));
  t.same(e2[0]?.type === 'garbage' && [e2[0].code, e2[0].field, toHex(e2[0].bytes)], ['PROTO_ERR_CCID_SERIAL_FRAME_SIZE', 'dwLength', '0306']);
  const ok = createSerialDecoder({ side: 'host', maxMessageLength: 10 + 0x224 });
  t.same(ok.push(fromHex('0306 80 24020000')), [], 'within a larger configured buffer: waiting for data');
});

t.test('[CCID serial §8.3] wrong LRC: logged in compatible mode, rejected in strict mode', async (t) => {
  const bad = encodeSerialFrame(fromHex(SLOT_STATUS_OK));
  bad[bad.length - 1]! ^= 0x01;
  const compat = createSerialDecoder({ side: 'host' });
  t.same(compat.push(bad).map((e) => e.type === 'frame' && e.lrcOk), [false]);
  const strict = createSerialDecoder({ side: 'host', lrc: 'strict' });
  const ev = strict.push(concat(bad, encodeSerialFrame(fromHex(SLOT_STATUS_OK))));
  t.same(ev.map((e) => (e.type === 'garbage' ? [e.code, e.bytes.length] : e.type)), [['PROTO_ERR_CCID_SERIAL_LRC', bad.length], 'frame']);
  const strictEcho = createSerialDecoder({ side: 'host', lrc: 'strict', echo: true });
  strictEcho.expectEcho();
  t.same(strictEcho.push(bad).map((e) => e.type), ['garbage']);
  t.notOk(strictEcho.echoPending, 'a bad echo still counts as the echo');
});

t.test('[CCID serial §8.3] reader side: the driver only writes SYNC frames', async (t) => {
  const d = createSerialDecoder({ side: 'reader' });
  const cmd = encodeSerialFrame(fromHex(GET_SLOT_STATUS));
  const ev = d.push(concat(fromHex('50 02 80'), cmd));
  t.same(ev.map((e) => (e.type === 'garbage' ? e.code : e.type)), ['PROTO_ERR_CCID_SERIAL_LEAD', 'PROTO_ERR_CCID_SERIAL_LEAD', 'PROTO_ERR_CCID_SERIAL_LEAD', 'frame']);
  const f = ev[3];
  t.equal(f?.type === 'frame' ? toHex(f.raw) : '', toHex(cmd), 'raw bytes to echo back');
  d.expectEcho();
  t.notOk(d.echoPending, 'echo is a host-side notion');
});

/** A stream mixing valid traffic and noise. */
function stream(r: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.35) {
      const data = Uint8Array.from({ length: Math.floor(r() * 30) }, () => Math.floor(r() * 256));
      const f = encodeSerialFrame(encodeCcidMessage({ type: 'RDR_to_PC_DataBlock', bSlot: 0, bSeq: i, bStatus: { iccStatus: 'present-active', commandStatus: 'ok' }, bError: 0, bChainParameter: 0, abData: data }));
      if (r() < 0.1) f[f.length - 1]! ^= 0xff;
      parts.push(f);
    } else if (k < 0.45) parts.push(SERIAL_NAK_FRAME);
    else if (k < 0.55) parts.push(encodeSlotChangeNotice(Math.floor(r() * 256)));
    else if (k < 0.65) parts.push(encodeTimeRequest(0x80 + Math.floor(r() * 128)));
    else parts.push(Uint8Array.from({ length: 1 + Math.floor(r() * 6) }, () => (r() < 0.3 ? 3 : Math.floor(r() * 256))));
  }
  return concat(...parts);
}

function feed(opts: SerialDecoderOptions, bytes: Uint8Array, cuts: readonly number[]): { events: SerialEvent[]; buffered: number } {
  const d = createSerialDecoder(opts);
  d.expectEcho();
  const events: SerialEvent[] = [];
  let p = 0;
  for (const c of [...cuts, bytes.length]) {
    events.push(...d.push(bytes.subarray(p, c)));
    p = c;
  }
  return { events, buffered: d.buffered };
}

t.test('[CCID serial §8.3] random chunking gives the same events; events account for every byte', async (t) => {
  const r = rng(1234);
  let mismatches = 0;
  let unaccounted = 0;
  const sides: SerialDecoderOptions[] = [{ side: 'host', echo: true }, { side: 'host', lrc: 'strict' }, { side: 'reader' }];
  for (let i = 0; i < 3000; i++) {
    const bytes = stream(r);
    const opts = sides[i % sides.length]!;
    const whole = feed(opts, bytes, []);
    const cuts: number[] = [];
    for (let p = 0; p < bytes.length; p += 1 + Math.floor(r() * 9)) if (p > 0) cuts.push(p);
    const split = feed(opts, bytes, cuts);
    if (JSON.stringify(show(whole.events)) !== JSON.stringify(show(split.events)) || whole.buffered !== split.buffered) mismatches++;
    const rebuilt = concat(...whole.events.map(bytesOf));
    if (toHex(rebuilt) !== toHex(bytes.subarray(0, bytes.length - whole.buffered))) unaccounted++;
  }
  t.equal(mismatches, 0);
  t.equal(unaccounted, 0);
});

t.test('[CCID serial §8.3] bounded random bytes: no throw, bounded buffer, only coded garbage', async (t) => {
  const r = rng(99);
  let threw = 0;
  let overBuffered = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const d = createSerialDecoder({ side: i % 2 === 0 ? 'host' : 'reader', echo: true, lrc: i % 3 === 0 ? 'strict' : 'compatible' });
    d.expectEcho();
    const len = Math.floor(r() * 64);
    const b = Uint8Array.from({ length: len }, () => (r() < 0.2 ? 3 : r() < 0.1 ? 6 : Math.floor(r() * 256)));
    try {
      for (const e of d.push(b)) if (e.type === 'garbage') codes.add(e.code);
    } catch {
      threw++;
    }
    if (d.buffered > SERIAL_MAX_MESSAGE_LENGTH + 3) overBuffered++;
  }
  t.equal(threw, 0);
  t.equal(overBuffered, 0);
  for (const c of codes) t.match(c, /^PROTO_ERR_CCID_SERIAL_/);
  t.ok(codes.has('PROTO_ERR_CCID_SERIAL_LEAD') && codes.has('PROTO_ERR_CCID_SERIAL_CTRL'));
});
