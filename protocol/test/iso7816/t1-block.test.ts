import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import type { T1Block, T1Edc } from '../../src/iso7816/t1-block.ts';
import {
  decodeT1Block, describeT1Block, encodeT1Block, t1BlockLength, t1Crc, t1EdcLength, t1Lrc, t1Pcb,
} from '../../src/iso7816/t1-block.ts';
import { mulberry32 as prng } from '../support/prng.ts';


// [7816-3 §11.3] known blocks with LRC: hex, decoded block
const lrcVectors: ReadonlyArray<readonly [string, T1Block]> = [
  ['00 C1 01 FE 3E', { kind: 'S', nad: 0, type: 'ifs', response: false, value: 254 }],
  ['00 E1 01 FE 1E', { kind: 'S', nad: 0, type: 'ifs', response: true, value: 254 }],
  ['00 C0 00 C0', { kind: 'S', nad: 0, type: 'resynch', response: false }],
  ['00 E0 00 E0', { kind: 'S', nad: 0, type: 'resynch', response: true }],
  ['00 C2 00 C2', { kind: 'S', nad: 0, type: 'abort', response: false }],
  ['00 E2 00 E2', { kind: 'S', nad: 0, type: 'abort', response: true }],
  ['00 C3 01 02 C0', { kind: 'S', nad: 0, type: 'wtx', response: false, value: 2 }],
  ['00 E3 01 02 E0', { kind: 'S', nad: 0, type: 'wtx', response: true, value: 2 }],
  ['00 80 00 80', { kind: 'R', nad: 0, nr: 0, error: 'none' }],
  ['00 90 00 90', { kind: 'R', nad: 0, nr: 1, error: 'none' }],
  ['00 81 00 81', { kind: 'R', nad: 0, nr: 0, error: 'edc' }],
  ['00 92 00 92', { kind: 'R', nad: 0, nr: 1, error: 'other' }],
  ['00 00 02 90 00 92', { kind: 'I', nad: 0, ns: 0, more: false, inf: fromHex('9000') }],
  ['00 40 05 00 84 00 00 08 C9', { kind: 'I', nad: 0, ns: 1, more: false, inf: fromHex('0084000008') }],
  ['00 20 01 AA 8B', { kind: 'I', nad: 0, ns: 0, more: true, inf: fromHex('AA') }],
  ['00 60 00 60', { kind: 'I', nad: 0, ns: 1, more: true, inf: new Uint8Array(0) }],
  ['21 00 00 21', { kind: 'I', nad: 0x21, ns: 0, more: false, inf: new Uint8Array(0) }],
];

t.test('[7816-3 §11.3] LRC vectors decode and encode', async (t) => {
  for (const [hex, block] of lrcVectors) {
    const bytes = fromHex(hex);
    t.same(decodeT1Block(bytes, { edc: 'lrc' }), block, `decode ${hex}`);
    t.equal(toHex(encodeT1Block(block, 'lrc')), toHex(bytes), `encode ${hex}`);
    t.equal(t1Pcb(block), bytes[1], `pcb ${hex}`);
  }
});

t.test('[7816-3 §11.4.4] LRC and CRC check values', async (t) => {
  t.equal(t1Lrc(fromHex('00C101FE')), 0x3e);
  t.equal(t1Lrc(new Uint8Array(0)), 0);
  // CRC-16 of ISO/IEC 13239 computed LSB first, init FFFF, no final XOR: check value over "123456789"
  t.equal(t1Crc(new TextEncoder().encode('123456789')), 0x6f91);
  t.equal(t1Crc(new Uint8Array(0)), 0xffff);
  t.equal(t1EdcLength('lrc'), 1);
  t.equal(t1EdcLength('crc'), 2);
});

t.test('[7816-3 §11.4.4] CRC epilogue is two bytes, high byte first', async (t) => {
  const block: T1Block = { kind: 'I', nad: 0, ns: 0, more: false, inf: fromHex('00A4040002 3F00') };
  const bytes = encodeT1Block(block, 'crc');
  const crc = t1Crc(bytes.subarray(0, bytes.length - 2));
  t.equal(bytes.length, 3 + 7 + 2);
  t.equal(bytes[bytes.length - 2], crc >> 8);
  t.equal(bytes[bytes.length - 1], crc & 0xff);
  t.same(decodeT1Block(bytes, { edc: 'crc' }), block);
  // swapping the two CRC bytes must fail (byte order matters)
  const swapped = bytes.slice();
  swapped[swapped.length - 2] = bytes[bytes.length - 1]!;
  swapped[swapped.length - 1] = bytes[bytes.length - 2]!;
  if (swapped[swapped.length - 1] !== bytes[bytes.length - 1]) t.throws(() => decodeT1Block(swapped, { edc: 'crc' }), { code: 'PROTO_ERR_T1_EDC' });
  t.throws(() => decodeT1Block(bytes, { edc: 'lrc' }), { code: 'PROTO_ERR_T1_TRAILING_BYTES' });
});

t.test('[7816-3 §11.3.2] every valid PCB round-trips with LRC and CRC', async (t) => {
  let checked = 0;
  for (const edc of ['lrc', 'crc'] as const) {
    for (let pcb = 0; pcb < 256; pcb++) {
      for (const inf of [new Uint8Array(0), fromHex('20'), fromHex('0102030405')]) {
        const body = new Uint8Array([0x00, pcb, inf.length, ...inf]);
        const epi = edc === 'lrc' ? [t1Lrc(body)] : [t1Crc(body) >> 8, t1Crc(body) & 0xff];
        const bytes = new Uint8Array([...body, ...epi]);
        let block: T1Block;
        try {
          block = decodeT1Block(bytes, { edc });
        } catch (err) {
          t.ok(isProtocolError(err) && err.code.startsWith('PROTO_ERR_T1_'), `pcb ${pcb} coded error`);
          continue;
        }
        t.equal(toHex(encodeT1Block(block, edc)), toHex(bytes));
        checked++;
      }
    }
  }
  // I-blocks: 4 PCBs × 3 INF; R-blocks: 6 PCBs × empty INF; S: 4 plain × empty + 4 value PCBs × one-byte INF (20)
  t.equal(checked, 2 * (4 * 3 + 6 + 4 + 4));
});

t.test('[7816-3 §11.3] random blocks round-trip', async (t) => {
  const rnd = prng(7);
  for (let i = 0; i < 2000; i++) {
    const edc: T1Edc = rnd() < 0.5 ? 'lrc' : 'crc';
    const nad = Math.floor(rnd() * 256);
    const k = Math.floor(rnd() * 3);
    let block: T1Block;
    if (k === 0) {
      const inf = new Uint8Array(Math.floor(rnd() * 255)).map(() => Math.floor(rnd() * 256));
      block = { kind: 'I', nad, ns: rnd() < 0.5 ? 0 : 1, more: rnd() < 0.5, inf };
    } else if (k === 1) {
      block = { kind: 'R', nad, nr: rnd() < 0.5 ? 0 : 1, error: (['none', 'edc', 'other'] as const)[Math.floor(rnd() * 3)]! };
    } else {
      const type = (['resynch', 'ifs', 'abort', 'wtx'] as const)[Math.floor(rnd() * 4)]!;
      const response = rnd() < 0.5;
      block = type === 'ifs' || type === 'wtx'
        ? { kind: 'S', nad, type, response, value: type === 'ifs' ? 1 + Math.floor(rnd() * 254) : Math.floor(rnd() * 256) }
        : { kind: 'S', nad, type, response };
    }
    const bytes = encodeT1Block(block, edc);
    t.same(decodeT1Block(bytes, { edc }), block);
    t.equal(t1BlockLength(bytes.subarray(0, 3), edc), bytes.length);
  }
});

t.test('[7816-3 §11.3.1] bad blocks fail with their codes', async (t) => {
  const lrc = { edc: 'lrc' } as const;
  const withLrc = (hex: string): Uint8Array => {
    const b = fromHex(hex);
    return new Uint8Array([...b, t1Lrc(b)]);
  };
  t.throws(() => decodeT1Block(fromHex(''), lrc), { code: 'PROTO_ERR_T1_BLOCK_TRUNCATED' });
  t.throws(() => decodeT1Block(fromHex('0000'), lrc), { code: 'PROTO_ERR_T1_BLOCK_TRUNCATED' });
  t.throws(() => decodeT1Block(fromHex('00 00 02 90'), lrc), { code: 'PROTO_ERR_T1_BLOCK_TRUNCATED' });
  t.throws(() => decodeT1Block(fromHex('00 00 02 90 00'), lrc), { code: 'PROTO_ERR_T1_BLOCK_TRUNCATED' }, 'EDC missing');
  t.throws(() => decodeT1Block(fromHex('00 00 02 90 00 92 00'), lrc), { code: 'PROTO_ERR_T1_TRAILING_BYTES' });
  t.throws(() => decodeT1Block(withLrc('00 00 FF'), lrc), { code: 'PROTO_ERR_T1_LEN_RESERVED' }, 'LEN = FF');
  t.throws(() => decodeT1Block(fromHex('00 00 02 90 00 93'), lrc), { code: 'PROTO_ERR_T1_EDC' });
  t.throws(() => decodeT1Block(fromHex('00 00 02 90 00 92 00'), { edc: 'crc' }), { code: 'PROTO_ERR_T1_EDC' });
  const long = encodeT1Block({ kind: 'I', nad: 0, ns: 0, more: false, inf: new Uint8Array(33) }, 'lrc');
  t.throws(() => decodeT1Block(long, { edc: 'lrc', maxInf: 32 }), { code: 'PROTO_ERR_T1_INF_TOO_LONG' }, 'INF over IFSD');
  t.ok(decodeT1Block(long, { edc: 'lrc', maxInf: 33 }));
  t.throws(() => decodeT1Block(withLrc('12 00 00'), { edc: 'lrc', nad: 0x21 }), { code: 'PROTO_ERR_T1_NAD' });
  t.throws(() => decodeT1Block(withLrc('00 01 00'), lrc), { code: 'PROTO_ERR_T1_PCB' }, 'reserved I-block bit');
  t.throws(() => decodeT1Block(withLrc('00 A0 00'), lrc), { code: 'PROTO_ERR_T1_PCB' }, 'R-block bit 20');
  t.throws(() => decodeT1Block(withLrc('00 83 00'), lrc), { code: 'PROTO_ERR_T1_PCB' }, 'R-block error 3');
  t.throws(() => decodeT1Block(withLrc('00 84 00'), lrc), { code: 'PROTO_ERR_T1_PCB' }, 'R-block reserved bit 04');
  t.throws(() => decodeT1Block(withLrc('00 D0 00'), lrc), { code: 'PROTO_ERR_T1_PCB' }, 'S-block bit 10');
  t.throws(() => decodeT1Block(withLrc('00 C5 00'), lrc), { code: 'PROTO_ERR_T1_S_TYPE' });
  t.throws(() => decodeT1Block(withLrc('00 80 01 00'), lrc), { code: 'PROTO_ERR_T1_BLOCK_LEN' }, 'R-block with INF');
  t.throws(() => decodeT1Block(withLrc('00 C0 01 00'), lrc), { code: 'PROTO_ERR_T1_BLOCK_LEN' }, 'RESYNCH with INF');
  t.throws(() => decodeT1Block(withLrc('00 C3 00'), lrc), { code: 'PROTO_ERR_T1_BLOCK_LEN' }, 'WTX without INF');
  t.throws(() => decodeT1Block(withLrc('00 C1 02 20 20'), lrc), { code: 'PROTO_ERR_T1_BLOCK_LEN' });
  t.throws(() => decodeT1Block(withLrc('00 C1 01 00'), lrc), { code: 'PROTO_ERR_T1_IFS_VALUE' });
  t.throws(() => decodeT1Block(withLrc('00 E1 01 FF'), lrc), { code: 'PROTO_ERR_T1_IFS_VALUE' });
});

t.test('encode refuses what cannot be sent', async (t) => {
  t.throws(() => encodeT1Block({ kind: 'I', nad: 0, ns: 0, more: false, inf: new Uint8Array(255) }, 'lrc'), { code: 'PROTO_ERR_T1_INF_TOO_LONG' });
  t.throws(() => encodeT1Block({ kind: 'R', nad: 256, nr: 0, error: 'none' }, 'lrc'), { code: 'PROTO_ERR_T1_PARAM' });
  t.throws(() => encodeT1Block({ kind: 'S', nad: 0, type: 'ifs', response: false, value: 255 }, 'lrc'), { code: 'PROTO_ERR_T1_IFS_VALUE' });
  t.throws(() => encodeT1Block({ kind: 'S', nad: 0, type: 'ifs', response: false, value: 0 }, 'lrc'), { code: 'PROTO_ERR_T1_IFS_VALUE' });
  t.throws(() => encodeT1Block({ kind: 'S', nad: 0, type: 'wtx', response: false, value: 256 }, 'lrc'), { code: 'PROTO_ERR_T1_PARAM' });
});

t.test('[7816-3 §11.3.1] t1BlockLength: need more vs complete vs LEN = FF', async (t) => {
  t.equal(t1BlockLength(fromHex(''), 'lrc'), undefined);
  t.equal(t1BlockLength(fromHex('0000'), 'lrc'), undefined);
  t.equal(t1BlockLength(fromHex('000005'), 'lrc'), 9);
  t.equal(t1BlockLength(fromHex('000005'), 'crc'), 10);
  t.throws(() => t1BlockLength(fromHex('0000FF'), 'lrc'), { code: 'PROTO_ERR_T1_LEN_RESERVED' });
});

t.test('describeT1Block', async (t) => {
  t.equal(describeT1Block({ kind: 'I', nad: 0, ns: 1, more: true, inf: new Uint8Array(3) }), 'I(1,M) 3B');
  t.equal(describeT1Block({ kind: 'R', nad: 0, nr: 0, error: 'edc' }), 'R(0,edc)');
  t.equal(describeT1Block({ kind: 'S', nad: 0, type: 'wtx', response: false, value: 2 }), 'S(wtx req 2)');
  t.equal(describeT1Block({ kind: 'S', nad: 0, type: 'resynch', response: true }), 'S(resynch resp)');
});

t.test('bounded random bytes: no crash, no hang, only coded T=1 errors', async (t) => {
  const rnd = prng(20240611);
  let ok = 0;
  let bad = 0;
  for (let i = 0; i < 20000; i++) {
    const edc: T1Edc = i % 2 ? 'lrc' : 'crc';
    let bytes: Uint8Array;
    if (i % 4 === 0) {
      // plausible prologue, consistent LEN, random epilogue: exercises the checks after the length check
      const len = Math.floor(rnd() * 6);
      bytes = new Uint8Array(3 + len + t1EdcLength(edc)).map(() => Math.floor(rnd() * 256));
      bytes[2] = len;
      if (i % 8 === 0) {
        // with a correct epilogue, so that PCB and LEN checks are reached
        const body = bytes.subarray(0, 3 + len);
        const crc = t1Crc(body);
        bytes.set(edc === 'lrc' ? [t1Lrc(body)] : [crc >> 8, crc & 0xff], 3 + len);
      }
    } else {
      bytes = new Uint8Array(Math.floor(rnd() * 12)).map(() => Math.floor(rnd() * 256));
    }
    try {
      const block = decodeT1Block(bytes, { edc, maxInf: 32 });
      t.equal(toHex(encodeT1Block(block, edc)), toHex(bytes), 'a decoded block re-encodes to the same bytes');
      ok++;
    } catch (err) {
      if (!isProtocolError(err) || !err.code.startsWith('PROTO_ERR_T1_')) {
        t.fail(`uncoded error for ${toHex(bytes)}: ${String(err)}`);
        return;
      }
      bad++;
    }
  }
  t.equal(ok + bad, 20000);
  t.ok(bad > 0, 'some inputs rejected');
  t.ok(ok > 0, 'some inputs accepted');
});
